package keystore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/crypto/cryptobyte"
)

// The "format" field of each kind of file, so that one is never read as the other.
const (
	formatKeystore = "pqbridge-keystore"
	formatShare    = "pqbridge-key-share"
)

// Version is the file format version this build writes and reads (both keystores and shares).
const Version = 1

// maxFileSize bounds what ReadFile reads: a share file with 255 commitments is under 20 KiB.
const maxFileSize = 1 << 20

// keystoreJSON is a keystore file: the public part in clear, the seed sealed.
type keystoreJSON struct {
	Format    string      `json:"format"`
	Version   int         `json:"version"`
	Kind      Kind        `json:"kind"`
	Address   string      `json:"address,omitempty"`
	PublicKey hexBytes    `json:"public_key,omitempty"`
	KeyID     hexBytes    `json:"key_id"`
	Crypto    *sealedJSON `json:"crypto"`
}

// Info is what a keystore or share file tells without a passphrase.
type Info struct {
	Format  string // "pqbridge-keystore" or "pqbridge-key-share"
	Version int
	Public  Public
	KeyID   KeyID
	Params  *Params // KDF costs, nil for a share stored in clear
}

// Encrypt returns a keystore file holding k, sealed under passphrase with Argon2id costs p.
func Encrypt(k Key, passphrase []byte, p Params) ([]byte, error) {
	pub, err := k.Public()
	if err != nil {
		return nil, err
	}
	s, err := seal(keystoreHeader(pub), k.Seed[:], passphrase, p)
	if err != nil {
		return nil, err
	}
	id := pub.ID()
	f := keystoreJSON{Format: formatKeystore, Version: Version, Kind: pub.Kind, KeyID: id[:], Crypto: s}
	f.Address, f.PublicKey = jsonPublic(pub)
	return json.MarshalIndent(f, "", "  ")
}

// Decrypt opens a keystore file. A wrong passphrase and a modified file are the same error,
// ErrWrongPassphrase; a file that does not parse is ErrMalformed or ErrUnsupportedVersion.
func Decrypt(data, passphrase []byte) (Key, error) {
	f, pub, err := decodeKeystore(data)
	if err != nil {
		return Key{}, err
	}
	seed, err := f.Crypto.open(keystoreHeader(pub), passphrase)
	if err != nil {
		return Key{}, err
	}
	defer clear(seed)
	k := Key{Kind: pub.Kind}
	copy(k.Seed[:], seed)
	// The AEAD proves the file is the one its writer made; this proves the writer was right.
	got, err := k.Public()
	if err != nil {
		return Key{}, err
	}
	if got != pub {
		return Key{}, fmt.Errorf("%w: file says %s, seed gives %s", ErrKeyMismatch, pub, got)
	}
	return k, nil
}

// Inspect reads the clear part of a keystore or share file.
func Inspect(data []byte) (Info, error) {
	format, err := peekFormat(data)
	if err != nil {
		return Info{}, err
	}
	if format == formatShare {
		s, err := decodeShare(data)
		if err != nil {
			return Info{}, err
		}
		info := Info{Format: format, Version: Version, Public: s.share.Public, KeyID: s.share.KeyID}
		if s.sealed != nil {
			p := s.sealed.params()
			info.Params = &p
		}
		return info, nil
	}
	f, pub, err := decodeKeystore(data)
	if err != nil {
		return Info{}, err
	}
	p := f.Crypto.params()
	return Info{Format: format, Version: Version, Public: pub, KeyID: pub.ID(), Params: &p}, nil
}

// keystoreHeader is the associated data of a keystore: every clear field but the key ID, which
// is a function of the others.
func keystoreHeader(pub Public) []byte {
	var b cryptobyte.Builder
	addString(&b, formatKeystore)
	b.AddUint16(Version)
	addString(&b, string(pub.Kind))
	addBytes(&b, pub.Bytes())
	return b.BytesOrPanic()
}

// decodeKeystore parses and validates a keystore file without opening it.
func decodeKeystore(data []byte) (*keystoreJSON, Public, error) {
	format, err := peekFormat(data)
	if err != nil {
		return nil, Public{}, err
	}
	if format != formatKeystore {
		return nil, Public{}, fmt.Errorf("%w: format %q, want %q", ErrMalformed, format, formatKeystore)
	}
	var f keystoreJSON
	if err := decodeStrict(data, &f); err != nil {
		return nil, Public{}, err
	}
	pub, err := parsePublic(f.Kind, f.Address, f.PublicKey)
	if err != nil {
		return nil, Public{}, err
	}
	if id := pub.ID(); !bytes.Equal(f.KeyID, id[:]) {
		return nil, Public{}, fmt.Errorf("%w: key_id does not match the public part", ErrMalformed)
	}
	if f.Crypto == nil {
		return nil, Public{}, fmt.Errorf("%w: no crypto section", ErrMalformed)
	}
	if err := f.Crypto.check(SeedSize); err != nil {
		return nil, Public{}, err
	}
	return &f, pub, nil
}

// peekFormat reads the format and version of a file: the two fields that decide how to read
// the rest.
func peekFormat(data []byte) (string, error) {
	var head struct {
		Format  string `json:"format"`
		Version int    `json:"version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if head.Format != formatKeystore && head.Format != formatShare {
		return "", fmt.Errorf("%w: format %q is not a pqbridge keystore or key share", ErrMalformed, head.Format)
	}
	if head.Version != Version {
		return "", fmt.Errorf("%w: %s version %d, this build reads version %d", ErrUnsupportedVersion, head.Format, head.Version, Version)
	}
	return head.Format, nil
}

// decodeStrict decodes one JSON object, refusing unknown fields and trailing data: within a
// version, a field this build does not know is damage, not an extension.
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if _, err := d.Token(); err != io.EOF {
		return fmt.Errorf("%w: data after the JSON object", ErrMalformed)
	}
	return nil
}

// ReadFile reads a keystore or share file, refusing anything larger than any such file.
func ReadFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keystore: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("keystore: reading %s: %w", path, err)
	}
	if len(data) > maxFileSize {
		return nil, fmt.Errorf("%w: %s is larger than %d bytes", ErrMalformed, path, maxFileSize)
	}
	return data, nil
}

// WriteFile writes data to path with mode 0600, atomically: the content goes to a temporary
// file in the same directory, is synced, and is then linked to path, which fails with
// ErrExists if path exists — a key file is never overwritten.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*") // mode 0600
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: writing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("keystore: syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("%w: %s", ErrExists, path)
		}
		return fmt.Errorf("keystore: %w", err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keystore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keystore: syncing %s: %w", dir, err)
	}
	return nil
}

// Save encrypts k under passphrase and writes it to a new file at path.
func Save(path string, k Key, passphrase []byte, p Params) error {
	data, err := Encrypt(k, passphrase, p)
	if err != nil {
		return err
	}
	return WriteFile(path, data)
}

// Load reads and decrypts the keystore file at path.
func Load(path string, passphrase []byte) (Key, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Key{}, err
	}
	k, err := Decrypt(data, passphrase)
	if err != nil {
		return Key{}, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}
