// Package keystore keeps pqbridge's signing keys at rest: passphrase-encrypted keystore files
// (Argon2id and XChaCha20-Poly1305) and threshold custody, in which a key is split into K-of-N
// Shamir shares and recombined in memory when a daemon starts, so that the whole key never has
// to be written to disk. Every kind of key, the L1 ML-DSA-65 identity, the L2 EdDSA account key
// and the L2 ML-DSA-65 account key, is stored as the 32-byte seed it derives from. docs/keys.md describes the formats and
// the threat model; the binaries in cmd/ call this package and nothing else touches key files.
package keystore

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"golang.org/x/crypto/cryptobyte"

	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// SeedSize is the size of the secret of either kind of key.
const SeedSize = 32

// Kind names what a seed is the seed of. It is stored in every file and bound to its
// ciphertext or share commitments.
type Kind string

// The kinds of key.
const (
	KindL1      Kind = "l1-mldsa65" // pqkey.NewKeyFromSeed(seed)
	KindL2      Kind = "l2-eddsa"   // l2.GenerateKey(bytes.NewReader(seed))
	KindL2MLDSA Kind = "l2-mldsa"   // pqkey.NewKeyFromSeed(seed): an ML-DSA-65 L2 account (docs/protocol.md §4.2)
)

// IsL2 reports whether k is the kind of an L2 account key (EdDSA or ML-DSA-65).
func (k Kind) IsL2() bool { return k == KindL2 || k == KindL2MLDSA }

// Errors returned by this package; errors.Is works on wrapped forms. Errors never contain a
// passphrase, a seed or a share value.
var (
	ErrWrongPassphrase    = errors.New("keystore: wrong passphrase or corrupted keystore")
	ErrUnsupportedVersion = errors.New("keystore: unsupported version")
	ErrWrongKind          = errors.New("keystore: wrong kind of key")
	ErrMalformed          = errors.New("keystore: malformed file")
	ErrKeyMismatch        = errors.New("keystore: key does not derive to its public part")
	ErrBadParams          = errors.New("keystore: bad parameters")
	ErrNoPassphrase       = errors.New("keystore: no passphrase")
	ErrExists             = errors.New("keystore: file exists")

	ErrTooFewShares       = errors.New("keystore: too few shares")
	ErrTamperedShare      = errors.New("keystore: tampered or corrupted share")
	ErrMismatchedShares   = errors.New("keystore: shares do not belong together")
	ErrDuplicateShare     = errors.New("keystore: duplicate share")
	ErrRecombinedMismatch = errors.New("keystore: recombined key does not match the shares' key ID")
)

// Key is a secret seed and the kind of key it derives.
type Key struct {
	Kind Kind
	Seed [SeedSize]byte
}

// String and GoString keep the seed out of logs and error messages: %v, %+v and %#v of a Key
// print its kind only.
func (k Key) String() string   { return "keystore.Key{" + string(k.Kind) + "}" }
func (k Key) GoString() string { return k.String() }

// Generate returns a new key of kind k with a seed read from r (crypto/rand if nil).
func Generate(kind Kind, r io.Reader) (Key, error) {
	if err := kind.check(); err != nil {
		return Key{}, err
	}
	if r == nil {
		r = rand.Reader
	}
	k := Key{Kind: kind}
	if _, err := io.ReadFull(r, k.Seed[:]); err != nil {
		return Key{}, fmt.Errorf("keystore: reading randomness: %w", err)
	}
	return k, nil
}

// FromL1 is the key of an L1 private key: its seed.
func FromL1(k *pqkey.PrivateKey) Key { return Key{Kind: KindL1, Seed: k.Seed()} }

// L1 derives the ML-DSA-65 key; ErrWrongKind if k is not an L1 key.
func (k Key) L1() (*pqkey.PrivateKey, error) {
	if k.Kind != KindL1 {
		return nil, fmt.Errorf("%w: have %s, want %s", ErrWrongKind, k.Kind, KindL1)
	}
	return pqkey.NewKeyFromSeed(k.Seed), nil
}

// L2 derives the EdDSA key; ErrWrongKind if k is not an L2 key. l2.PrivateKey does not keep
// its seed, which is why an L2 key must be created here (Generate) to be stored at all.
func (k Key) L2() (*l2.PrivateKey, error) {
	if k.Kind != KindL2 {
		return nil, fmt.Errorf("%w: have %s, want %s", ErrWrongKind, k.Kind, KindL2)
	}
	key, err := l2.GenerateKey(bytes.NewReader(k.Seed[:]))
	if err != nil {
		return nil, fmt.Errorf("keystore: deriving L2 key: %w", err)
	}
	return key, nil
}

// L2MLDSA derives the ML-DSA-65 key of an L2 ML-DSA account; ErrWrongKind if k is not one.
func (k Key) L2MLDSA() (*pqkey.PrivateKey, error) {
	if k.Kind != KindL2MLDSA {
		return nil, fmt.Errorf("%w: have %s, want %s", ErrWrongKind, k.Kind, KindL2MLDSA)
	}
	return pqkey.NewKeyFromSeed(k.Seed), nil
}

// Public derives the public part of k.
func (k Key) Public() (Public, error) {
	switch k.Kind {
	case KindL1:
		sk, _ := k.L1()
		return Public{Kind: KindL1, Address: sk.Address()}, nil
	case KindL2MLDSA:
		sk, _ := k.L2MLDSA()
		return publicMLDSA(sk.Public().Bytes()), nil
	case KindL2:
		sk, err := k.L2()
		if err != nil {
			return Public{}, err
		}
		return Public{Kind: KindL2, L2: sk.Public()}, nil
	}
	return Public{}, k.Kind.check()
}

// Public is what a key shows without its secret, kept in clear in every file for listing: the
// address of an L1 key, the public key of an L2 key.
type Public struct {
	Kind    Kind
	Address common.Address // KindL1
	// L2 is the account key of an L2 key: the EdDSA public key (KindL2), or (0, kh) with kh =
	// l2.MLDSAKeyHash(MLDSA) (KindL2MLDSA), as the account's leaf holds it.
	L2    l2.PublicKey
	MLDSA [l2.MLDSAPubSize]byte // KindL2MLDSA: the ML-DSA-65 public key, which deposits register on L1
}

func publicMLDSA(pub []byte) Public {
	p := Public{Kind: KindL2MLDSA, L2: l2.MLDSAPublicKey(pub)}
	copy(p.MLDSA[:], pub)
	return p
}

// Bytes is the encoding bound into files and key IDs: the 20-byte address (L1), pk.x || pk.y,
// 32 bytes each, big-endian (L2 EdDSA), or the ML-DSA-65 public key (L2 ML-DSA).
func (p Public) Bytes() []byte {
	switch p.Kind {
	case KindL1:
		return p.Address.Bytes()
	case KindL2MLDSA:
		return p.MLDSA[:]
	}
	return accountKeyBytes(p.L2)
}

func accountKeyBytes(pk l2.PublicKey) []byte {
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	return append(x[:], y[:]...)
}

// String is the address in EIP-55 form (L1), or the hex of the account key pk.x || pk.y (L2 of
// either kind: an ML-DSA account's is 32 zero bytes and kh).
func (p Public) String() string {
	if p.Kind == KindL1 {
		return p.Address.Hex()
	}
	return hex.EncodeToString(accountKeyBytes(p.L2))
}

// ID is the key ID of p.
func (p Public) ID() KeyID {
	var b cryptobyte.Builder
	addString(&b, "pqbridge/keystore/key-id/v1")
	addString(&b, string(p.Kind))
	addBytes(&b, p.Bytes())
	return sha256.Sum256(b.BytesOrPanic())
}

// KeyID names a key in share files: SHA-256 over a domain tag, the kind and Public.Bytes.
type KeyID [32]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// short is enough of the ID to tell keys apart in an error message.
func (id KeyID) short() string { return hex.EncodeToString(id[:6]) }

func (k Kind) check() error {
	switch k {
	case KindL1, KindL2, KindL2MLDSA:
		return nil
	}
	return fmt.Errorf("%w: unknown kind %q", ErrWrongKind, string(k))
}

// parsePublic reads the public part of a file: an address for L1, a hex public key for L2 (the
// ML-DSA-65 public key for an L2 ML-DSA key).
func parsePublic(kind Kind, address string, publicKey []byte) (Public, error) {
	switch kind {
	case KindL1:
		if !common.IsHexAddress(address) || len(publicKey) != 0 {
			return Public{}, fmt.Errorf("%w: %s needs an address and no public_key", ErrMalformed, kind)
		}
		return Public{Kind: kind, Address: common.HexToAddress(address)}, nil
	case KindL2:
		if address != "" || len(publicKey) != 2*fr.Bytes {
			return Public{}, fmt.Errorf("%w: %s needs a %d-byte public_key and no address", ErrMalformed, kind, 2*fr.Bytes)
		}
		p := Public{Kind: kind}
		if p.L2.X.SetBytesCanonical(publicKey[:fr.Bytes]) != nil || p.L2.Y.SetBytesCanonical(publicKey[fr.Bytes:]) != nil {
			return Public{}, fmt.Errorf("%w: public_key is not two canonical field elements", ErrMalformed)
		}
		return p, nil
	case KindL2MLDSA:
		if address != "" || len(publicKey) != l2.MLDSAPubSize {
			return Public{}, fmt.Errorf("%w: %s needs a %d-byte public_key (ML-DSA-65) and no address", ErrMalformed, kind, l2.MLDSAPubSize)
		}
		if _, err := pqkey.ParsePublicKey(publicKey); err != nil {
			return Public{}, fmt.Errorf("%w: public_key: %v", ErrMalformed, err)
		}
		return publicMLDSA(publicKey), nil
	}
	return Public{}, fmt.Errorf("%w: %w", ErrMalformed, kind.check())
}

// jsonPublic is the inverse of parsePublic.
func jsonPublic(p Public) (address string, publicKey hexBytes) {
	if p.Kind == KindL1 {
		return p.Address.Hex(), nil
	}
	return "", p.Bytes()
}

// hexBytes is a byte string written as lowercase hex without a prefix.
type hexBytes []byte

func (h hexBytes) MarshalText() ([]byte, error) { return []byte(hex.EncodeToString(h)), nil }

func (h *hexBytes) UnmarshalText(text []byte) error {
	b, err := hex.DecodeString(string(text))
	if err != nil {
		return fmt.Errorf("bad hex: %w", err)
	}
	*h = b
	return nil
}

func addString(b *cryptobyte.Builder, s string) { addBytes(b, []byte(s)) }

func addBytes(b *cryptobyte.Builder, v []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}
