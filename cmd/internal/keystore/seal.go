package keystore

import (
	"crypto/cipher"
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/cryptobyte"
)

// The algorithms; a file naming any other is malformed for this version.
const (
	kdfArgon2id   = "argon2id"
	cipherXChaCha = "xchacha20-poly1305"
)

const (
	saltSize = 32 // Argon2 salt: random per file, so equal passphrases give unrelated keys
	keySize  = chacha20poly1305.KeySize

	// Limits on the KDF parameters a file may ask for, checked before any work: a file is
	// input, and Argon2id allocates MemoryKiB and runs Time passes for whoever opens it.
	maxKDFMemoryKiB = 4 << 20 // 4 GiB, 64 times the default
	maxKDFTime      = 64      // about 20 times the default cost per MiB
	maxKDFThreads   = 64
	minKDFSaltSize  = 16 // RFC 9106 §3.1
	maxKDFSaltSize  = 64
)

// Params are the Argon2id costs of a new file; they are stored in the file, so a file always
// opens with the costs it was made with.
type Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32
	Threads   uint8
}

// DefaultParams are the costs for files on disk: RFC 9106's second recommended option
// (t=3, m=64 MiB) with 2 lanes, about 0.17 s per guess on two cores (BenchmarkDecryptDefault).
func DefaultParams() Params { return Params{Time: 3, MemoryKiB: 64 << 10, Threads: 2} }

func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > maxKDFTime:
		return fmt.Errorf("%w: argon2id time %d, want 1..%d", ErrBadParams, p.Time, maxKDFTime)
	case p.Threads < 1 || p.Threads > maxKDFThreads:
		return fmt.Errorf("%w: argon2id threads %d, want 1..%d", ErrBadParams, p.Threads, maxKDFThreads)
	case p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > maxKDFMemoryKiB:
		return fmt.Errorf("%w: argon2id memory %d KiB, want %d..%d", ErrBadParams, p.MemoryKiB, 8*uint32(p.Threads), maxKDFMemoryKiB)
	}
	return nil
}

// sealedJSON is a passphrase-encrypted secret, the "crypto" object of keystore and share files.
type sealedJSON struct {
	KDF        string   `json:"kdf"`
	KDFParams  kdfJSON  `json:"kdf_params"`
	Cipher     string   `json:"cipher"`
	Nonce      hexBytes `json:"nonce"`
	Ciphertext hexBytes `json:"ciphertext"`
}

type kdfJSON struct {
	Time      uint32   `json:"time"`
	MemoryKiB uint32   `json:"memory_kib"`
	Threads   uint8    `json:"threads"`
	Salt      hexBytes `json:"salt"`
}

func (s *sealedJSON) params() Params {
	return Params{Time: s.KDFParams.Time, MemoryKiB: s.KDFParams.MemoryKiB, Threads: s.KDFParams.Threads}
}

// check validates everything open reads before it derives a key; size is the plaintext size the
// caller expects.
func (s *sealedJSON) check(size int) error {
	if s.KDF != kdfArgon2id || s.Cipher != cipherXChaCha {
		return fmt.Errorf("%w: kdf %q, cipher %q, want %s and %s", ErrMalformed, s.KDF, s.Cipher, kdfArgon2id, cipherXChaCha)
	}
	if err := s.params().check(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	if n := len(s.KDFParams.Salt); n < minKDFSaltSize || n > maxKDFSaltSize {
		return fmt.Errorf("%w: %d-byte salt", ErrMalformed, n)
	}
	if len(s.Nonce) != chacha20poly1305.NonceSizeX {
		return fmt.Errorf("%w: %d-byte nonce, want %d", ErrMalformed, len(s.Nonce), chacha20poly1305.NonceSizeX)
	}
	if want := size + chacha20poly1305.Overhead; len(s.Ciphertext) != want {
		return fmt.Errorf("%w: %d-byte ciphertext, want %d", ErrMalformed, len(s.Ciphertext), want)
	}
	return nil
}

// aad is the associated data: the caller's header (everything else in the file) followed by the
// KDF and cipher fields, so that no byte of the file can change without failing to open.
func (s *sealedJSON) aad(header []byte) []byte {
	var b cryptobyte.Builder
	b.AddBytes(header)
	addString(&b, s.KDF)
	b.AddUint32(s.KDFParams.Time)
	b.AddUint32(s.KDFParams.MemoryKiB)
	b.AddUint8(s.KDFParams.Threads)
	addBytes(&b, s.KDFParams.Salt)
	addString(&b, s.Cipher)
	addBytes(&b, s.Nonce)
	return b.BytesOrPanic()
}

// seal encrypts plaintext under passphrase, binding header.
func seal(header, plaintext, passphrase []byte, p Params) (*sealedJSON, error) {
	if len(passphrase) == 0 {
		return nil, fmt.Errorf("%w: empty passphrase", ErrNoPassphrase)
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	s := &sealedJSON{
		KDF:       kdfArgon2id,
		KDFParams: kdfJSON{Time: p.Time, MemoryKiB: p.MemoryKiB, Threads: p.Threads, Salt: make([]byte, saltSize)},
		Cipher:    cipherXChaCha,
		Nonce:     make([]byte, chacha20poly1305.NonceSizeX),
	}
	if _, err := rand.Read(s.KDFParams.Salt); err != nil {
		return nil, fmt.Errorf("keystore: reading randomness: %w", err)
	}
	if _, err := rand.Read(s.Nonce); err != nil {
		return nil, fmt.Errorf("keystore: reading randomness: %w", err)
	}
	aead, err := s.aead(passphrase)
	if err != nil {
		return nil, err
	}
	s.Ciphertext = aead.Seal(nil, s.Nonce, plaintext, s.aad(header))
	return s, nil
}

// open decrypts a checked sealedJSON; the caller owns (and should clear) the plaintext.
func (s *sealedJSON) open(header, passphrase []byte) ([]byte, error) {
	aead, err := s.aead(passphrase)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, s.Nonce, s.Ciphertext, s.aad(header))
	if err != nil {
		return nil, ErrWrongPassphrase
	}
	return plaintext, nil
}

func (s *sealedJSON) aead(passphrase []byte) (cipher.AEAD, error) {
	key := argon2.IDKey(passphrase, s.KDFParams.Salt, s.KDFParams.Time, s.KDFParams.MemoryKiB, s.KDFParams.Threads, keySize)
	defer clear(key)
	aead, err := chacha20poly1305.NewX(key)
	if err != nil {
		return nil, fmt.Errorf("keystore: cipher: %w", err)
	}
	return aead, nil
}
