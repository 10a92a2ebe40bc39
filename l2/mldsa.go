package l2

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// ML-DSA-65 accounts (docs §4.2, §5.4, §6).
const (
	// MLDSAPubSize is the size of an ML-DSA-65 public key (FIPS 204).
	MLDSAPubSize = pqkey.PublicKeySize
	// MLDSASigSize is the size of an ML-DSA-65 signature, which follows each type 5/6 record in
	// batch data.
	MLDSASigSize = pqkey.SignatureSize
	// MaxBatchMLDSATxs bounds the type 5/6 records of one batch (docs §3).
	MaxBatchMLDSATxs = 256
	// MaxBatchDataSize bounds batch data in its interleaved form (docs §3): MaxBatchTxs records
	// and MaxBatchMLDSATxs signatures.
	MaxBatchDataSize = MaxBatchTxs*TxSize + MaxBatchMLDSATxs*MLDSASigSize
)

// Domain prefixes of the two SHA-256 digests that put ML-DSA objects into field elements.
const (
	mldsaKeyDomain = "pqbridge/l2-mldsa-key/v1"
	mldsaSigDomain = "pqbridge/l2-mldsa-sig/v1"
)

// digest248 is SHA-256(domain || b) with its first byte set to 0: a 248-bit integer, hence a
// canonical field element.
func digest248(domain string, b []byte) fr.Element {
	h := sha256.New()
	h.Write([]byte(domain))
	h.Write(b)
	var d [32]byte
	h.Sum(d[:0])
	d[0] = 0
	var e fr.Element
	e.SetBytes(d[:])
	return e
}

// MLDSAKeyHash is kh = SHA-256("pqbridge/l2-mldsa-key/v1" || pub) with its first byte zeroed
// (docs §4.2): the y coordinate of an ML-DSA account's key in its leaf.
func MLDSAKeyHash(pub []byte) fr.Element { return digest248(mldsaKeyDomain, pub) }

// MLDSASigDigest is SHA-256("pqbridge/l2-mldsa-sig/v1" || sig) with its first byte zeroed
// (docs §5.2): w2 of a type 5/6 record, binding the signature that follows it.
func MLDSASigDigest(sig []byte) fr.Element { return digest248(mldsaSigDomain, sig) }

// IsMLDSAKey reports whether pk is the key of an ML-DSA account: pk.x == 0 (docs §4.2). No
// EdDSA key has x = 0 (the two points with x = 0 are of small order and never reach the state).
func IsMLDSAKey(pk PublicKey) bool { return pk.X.IsZero() }

// MLDSAPublicKey is the account key of an ML-DSA-65 public key: (0, MLDSAKeyHash(pub)).
func MLDSAPublicKey(pub []byte) PublicKey { return PublicKey{Y: MLDSAKeyHash(pub)} }

// KeyBook gives the ML-DSA-65 public key whose MLDSAKeyHash is kh, when it is known (L1's key
// registry, a sequencer's cache). The reference execution asks it for the sender's key of a
// type 5/6 transaction.
type KeyBook interface {
	MLDSAKey(kh fr.Element) (pub []byte, ok bool)
}

// KeyMap is an in-memory KeyBook.
type KeyMap map[fr.Element][]byte

// MLDSAKey implements KeyBook.
func (m KeyMap) MLDSAKey(kh fr.Element) ([]byte, bool) {
	pub, ok := m[kh]
	return pub, ok
}

// Add records pub under its key hash and returns its account key.
func (m KeyMap) Add(pub []byte) PublicKey {
	pk := MLDSAPublicKey(pub)
	m[pk.Y] = pub
	return pk
}

// ErrMLDSASignature is returned by VerifyMLDSA for any signature that does not verify.
var ErrMLDSASignature = errors.New("l2: ML-DSA signature does not verify")

// SignMLDSA signs a type 5/6 transaction for chainID (docs §6): ML-DSA-65 under
// pqkey.ContextL2Tx, with the L2 chain ID, the transaction's nonce and the 32-byte big-endian
// form of SignedMessage(chainID, tx). It sets tx.SigDigest (w2) to the signature's digest and
// tx.MLDSASig to the signature, and returns it; it goes after the record in batch data.
func SignMLDSA(key *pqkey.PrivateKey, chainID uint64, tx *Tx) ([]byte, error) {
	return signMLDSA(key.Sign, chainID, tx)
}

// SignMLDSADeterministic is SignMLDSA with FIPS 204's deterministic signing
// (pqkey.PrivateKey.SignDeterministic), for reproducible test vectors.
func SignMLDSADeterministic(key *pqkey.PrivateKey, chainID uint64, tx *Tx) ([]byte, error) {
	return signMLDSA(key.SignDeterministic, chainID, tx)
}

func signMLDSA(sign func(pqkey.Context, uint64, uint64, []byte) ([]byte, error), chainID uint64, tx *Tx) ([]byte, error) {
	if !tx.Type.MLDSA() {
		return nil, fmt.Errorf("l2: a %s is not signed with ML-DSA", tx.Type)
	}
	m := SignedMessage(chainID, tx)
	msg := m.Bytes()
	sig, err := sign(pqkey.ContextL2Tx, chainID, tx.Nonce, msg[:])
	if err != nil {
		return nil, fmt.Errorf("l2: signing %s: %w", tx.Type, err)
	}
	tx.SigDigest = MLDSASigDigest(sig)
	tx.MLDSASig = sig
	return sig, nil
}

// VerifyMLDSA checks sig as the signature of the type 5/6 transaction tx on chainID under the
// ML-DSA-65 public key pub (docs §6): the digest of sig is w2 and ML-DSA-65 verifies. It does
// not check that pub is the sender's: the caller compares MLDSAKeyHash(pub) with the leaf's key.
// Every failure wraps ErrMLDSASignature.
func VerifyMLDSA(pub []byte, chainID uint64, tx *Tx, sig []byte) error {
	if err := checkMLDSASig(tx, sig); err != nil {
		return err
	}
	pk, err := pqkey.ParsePublicKey(pub)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMLDSASignature, err)
	}
	return verifyMLDSA(pk, chainID, tx, SignedMessage(chainID, tx), sig)
}

// VerifyMLDSAKey is VerifyMLDSA under a public key already parsed: decoding an ML-DSA-65 key
// (expanding its matrix) costs more than a verification, so a verifier that sees the same keys
// again (the sequencer's key book) parses each once.
func VerifyMLDSAKey(pk *pqkey.PublicKey, chainID uint64, tx *Tx, sig []byte) error {
	return VerifyMLDSAMessage(pk, chainID, tx, SignedMessage(chainID, tx), sig)
}

// VerifyMLDSAMessage is VerifyMLDSAKey with msg, SignedMessage(chainID, tx), computed by the
// caller: the sequencer hashes the messages of many transactions at once in the core
// (ffi/txchallenge), which costs less than the Poseidon2 of one in Go.
func VerifyMLDSAMessage(pk *pqkey.PublicKey, chainID uint64, tx *Tx, msg fr.Element, sig []byte) error {
	if err := checkMLDSASig(tx, sig); err != nil {
		return err
	}
	return verifyMLDSA(pk, chainID, tx, msg, sig)
}

// checkMLDSASig checks what VerifyMLDSA checks before the key: the type, the signature's size
// and its digest against w2.
func checkMLDSASig(tx *Tx, sig []byte) error {
	if !tx.Type.MLDSA() {
		return fmt.Errorf("%w: a %s is not signed with ML-DSA", ErrMLDSASignature, tx.Type)
	}
	if len(sig) != MLDSASigSize {
		return fmt.Errorf("%w: signature of %d bytes, want %d", ErrMLDSASignature, len(sig), MLDSASigSize)
	}
	if d := MLDSASigDigest(sig); !d.Equal(&tx.SigDigest) {
		return fmt.Errorf("%w: the signature's digest is not w2", ErrMLDSASignature)
	}
	return nil
}

func verifyMLDSA(pk *pqkey.PublicKey, chainID uint64, tx *Tx, m fr.Element, sig []byte) error {
	msg := m.Bytes()
	if err := pk.Verify(pqkey.ContextL2Tx, chainID, tx.Nonce, msg[:], sig); err != nil {
		return fmt.Errorf("%w: %w", ErrMLDSASignature, err)
	}
	return nil
}
