// Package pqkey is the L1 identity of pqbridge: ML-DSA-65 keys (FIPS 204, circl), the addresses
// derived from them, and domain-separated signatures.
//
// Every signature binds three things besides its payload, so that no signature is valid in
// another place, chain or time: a Context naming the message type and version (passed to ML-DSA
// as its FIPS 204 context string), the chain ID, and a per-signer nonce. The signed message is
//
//	"pqbridge" || chain ID (u64 BE) || nonce (u64 BE) || payload
//
// and the context string is the Context. Callers choose the payload encoding (RLP for everything
// L1 hashes or stores); this package never parses payloads.
package pqkey

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// Sizes of the encodings, fixed by FIPS 204 for ML-DSA-65.
const (
	PublicKeySize = mldsa65.PublicKeySize // 1952
	SignatureSize = mldsa65.SignatureSize // 3309
	SeedSize      = mldsa65.SeedSize      // 32
)

// Context names what a signature is for. It is the FIPS 204 context string, at most 255 bytes.
type Context string

// The contexts in use. A new message type gets a new context; a changed encoding gets a new
// version.
const (
	ContextL1Tx          Context = "pqbridge/l1-tx/v1"
	ContextBlockHeader   Context = "pqbridge/l1-block-header/v1"
	ContextRequest       Context = "pqbridge/quic-request/v1"
	ContextResponse      Context = "pqbridge/quic-response/v1"
	ContextEvent         Context = "pqbridge/quic-event/v1" // server-pushed subscription events
	ContextGuardianPause Context = "pqbridge/guardian-pause/v1"
	// ContextGuardianConfig: a guardian's signature of a rollup config change (l1/chain).
	ContextGuardianConfig Context = "pqbridge/guardian-config-change/v1"
	// ContextQuorumCert: a validator's vote on a committed L1 height (package l1/qc).
	ContextQuorumCert Context = "pqbridge/l1-quorum-cert/v1"
	// ContextL2Tx: an ML-DSA L2 transfer or withdraw (types 5 and 6, docs/protocol.md §6); the
	// chain ID is the L2 chain's, the nonce the transaction's, the payload its 32-byte message.
	ContextL2Tx Context = "pqbridge/l2-tx/v1"
	// ContextL2Exodus: an ML-DSA L2 account's exodus withdrawal (docs/protocol.md §10).
	ContextL2Exodus Context = "pqbridge/l2-exodus/v1"

	// One context per L1 transaction type (package l1/chain), so that a signature made for one
	// type is never a valid signature of another, whatever the payload bytes are.
	ContextTxTransfer         Context = "pqbridge/l1-tx/transfer/v1"
	ContextTxRegisterRollup   Context = "pqbridge/l1-tx/register-rollup/v1"
	ContextTxDeposit          Context = "pqbridge/l1-tx/deposit/v1"
	ContextTxSubmitBatch      Context = "pqbridge/l1-tx/submit-batch/v1"
	ContextTxClaimWithdrawal  Context = "pqbridge/l1-tx/claim-withdrawal/v1"
	ContextTxChallenge        Context = "pqbridge/l1-tx/challenge/v1"
	ContextTxExodusWithdrawal Context = "pqbridge/l1-tx/exodus-withdrawal/v1"
	ContextTxExodusRefund     Context = "pqbridge/l1-tx/exodus-refund/v1"
	ContextTxGuardianAction   Context = "pqbridge/l1-tx/guardian-action/v1"
	ContextTxReleaseDelayed   Context = "pqbridge/l1-tx/release-delayed/v1"
	ContextTxConfigChange     Context = "pqbridge/l1-tx/config-change/v1"
	ContextTxValidatorJoin    Context = "pqbridge/l1-tx/validator-join/v1"
	ContextTxValidatorStake   Context = "pqbridge/l1-tx/validator-stake/v1"
	ContextTxValidatorLeave   Context = "pqbridge/l1-tx/validator-leave/v1"
)

const maxContextLen = 255 // FIPS 204 limit on the context string

var messagePrefix = []byte("pqbridge")

// Errors returned by this package; errors.Is works on wrapped forms.
var (
	ErrBadSignature = errors.New("pqkey: signature does not verify")
	ErrBadKey       = errors.New("pqkey: malformed public key")
	ErrBadContext   = errors.New("pqkey: invalid context")
)

// PrivateKey is an ML-DSA-65 signing key. It is kept as its 32-byte seed on disk (the key is
// derived from the seed), and the seed is what keystores encrypt or split.
type PrivateKey struct {
	sk   *mldsa65.PrivateKey
	seed [SeedSize]byte
	pub  *PublicKey
}

// PublicKey is an ML-DSA-65 verification key with its address.
type PublicKey struct {
	pk      *mldsa65.PublicKey
	encoded []byte
	addr    common.Address
}

// GenerateKey returns a new key from rand (crypto/rand if nil).
func GenerateKey(r io.Reader) (*PrivateKey, error) {
	if r == nil {
		r = rand.Reader
	}
	var seed [SeedSize]byte
	if _, err := io.ReadFull(r, seed[:]); err != nil {
		return nil, fmt.Errorf("pqkey: reading randomness: %w", err)
	}
	return NewKeyFromSeed(seed), nil
}

// NewKeyFromSeed derives the key of a seed.
func NewKeyFromSeed(seed [SeedSize]byte) *PrivateKey {
	pk, sk := mldsa65.NewKeyFromSeed(&seed)
	return &PrivateKey{sk: sk, seed: seed, pub: newPublicKey(pk)}
}

func newPublicKey(pk *mldsa65.PublicKey) *PublicKey {
	encoded := pk.Bytes()
	return &PublicKey{pk: pk, encoded: encoded, addr: common.BytesToAddress(crypto.Keccak256(encoded)[12:])}
}

// Seed returns the seed the key derives from: the secret to store.
func (k *PrivateKey) Seed() [SeedSize]byte { return k.seed }

// Public returns the verification key.
func (k *PrivateKey) Public() *PublicKey { return k.pub }

// Address is keccak256(public key)[12:].
func (k *PrivateKey) Address() common.Address { return k.pub.addr }

// Sign signs payload for ctx on chain chainID with the signer's nonce. Signing is hedged
// (randomized), as FIPS 204 recommends.
func (k *PrivateKey) Sign(ctx Context, chainID, nonce uint64, payload []byte) ([]byte, error) {
	if err := ctx.check(); err != nil {
		return nil, err
	}
	sig := make([]byte, SignatureSize)
	if err := mldsa65.SignTo(k.sk, message(chainID, nonce, payload), []byte(ctx), true, sig); err != nil {
		return nil, fmt.Errorf("pqkey: sign %s: %w", ctx, err)
	}
	return sig, nil
}

// SignDeterministic is Sign with FIPS 204's deterministic variant: the same inputs give the
// same signature. It exists for reproducible test vectors; everything else signs with Sign.
func (k *PrivateKey) SignDeterministic(ctx Context, chainID, nonce uint64, payload []byte) ([]byte, error) {
	if err := ctx.check(); err != nil {
		return nil, err
	}
	sig := make([]byte, SignatureSize)
	if err := mldsa65.SignTo(k.sk, message(chainID, nonce, payload), []byte(ctx), false, sig); err != nil {
		return nil, fmt.Errorf("pqkey: sign %s: %w", ctx, err)
	}
	return sig, nil
}

// ParsePublicKey decodes a public key; the size is checked before decoding.
func ParsePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrBadKey, len(b), PublicKeySize)
	}
	var pk mldsa65.PublicKey
	if err := pk.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return newPublicKey(&pk), nil
}

// Bytes returns the FIPS 204 encoding of the key. The caller must not modify it.
func (p *PublicKey) Bytes() []byte { return p.encoded }

// Address is keccak256(public key)[12:].
func (p *PublicKey) Address() common.Address { return p.addr }

// Verify checks sig over payload for ctx, chainID and nonce. Any mismatch — another context,
// chain, nonce, payload or key — is ErrBadSignature.
func (p *PublicKey) Verify(ctx Context, chainID, nonce uint64, payload, sig []byte) error {
	if err := ctx.check(); err != nil {
		return err
	}
	if len(sig) != SignatureSize {
		return fmt.Errorf("%w: %d bytes, want %d", ErrBadSignature, len(sig), SignatureSize)
	}
	if !mldsa65.Verify(p.pk, message(chainID, nonce, payload), []byte(ctx), sig) {
		return fmt.Errorf("%w (context %s, chain %d, nonce %d, signer %s)", ErrBadSignature, ctx, chainID, nonce, p.addr)
	}
	return nil
}

func (c Context) check() error {
	if len(c) == 0 || len(c) > maxContextLen {
		return fmt.Errorf("%w: %d bytes", ErrBadContext, len(c))
	}
	return nil
}

func message(chainID, nonce uint64, payload []byte) []byte {
	m := make([]byte, 0, len(messagePrefix)+16+len(payload))
	m = append(m, messagePrefix...)
	m = binary.BigEndian.AppendUint64(m, chainID)
	m = binary.BigEndian.AppendUint64(m, nonce)
	return append(m, payload...)
}
