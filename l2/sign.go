package l2

import (
	"bytes"
	"fmt"
	"io"
	"math/big"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"
)

// SignedMessage is the message of a transfer or withdraw (docs §6): H(TAG_TX, chain_id, w0, w1).
func SignedMessage(chainID uint64, tx *Tx) fr.Element {
	w := tx.Words()
	var c fr.Element
	c.SetUint64(chainID)
	return HashMD(TagTx, c, w[0], w[1])
}

// PrivateKey is an L2 signing key: a gnark-crypto BN254 twisted Edwards EdDSA key.
type PrivateKey struct {
	key *eddsa.PrivateKey
}

// GenerateKey returns a new key whose 32-byte seed is read from rand.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	var seed [32]byte
	if _, err := io.ReadFull(rand, seed[:]); err != nil {
		return nil, fmt.Errorf("l2: reading key seed: %w", err)
	}
	// eddsa.GenerateKey issues a single Read; hand it a reader that cannot return short.
	k, err := eddsa.GenerateKey(bytes.NewReader(seed[:]))
	if err != nil {
		return nil, fmt.Errorf("l2: generating key: %w", err)
	}
	return &PrivateKey{key: k}, nil
}

// Public returns the public key of k.
func (k *PrivateKey) Public() PublicKey {
	a := k.key.PublicKey.A
	return PublicKey{X: a.X, Y: a.Y}
}

// SignTx signs a transfer or withdraw for chainID and stores the signature in tx.Sig.
func SignTx(k *PrivateKey, chainID uint64, tx *Tx) error {
	if tx.Type != TxTransfer && tx.Type != TxWithdraw {
		return fmt.Errorf("l2: a %s is not signed", tx.Type)
	}
	m := SignedMessage(chainID, tx)
	msg := m.Bytes()
	sigBytes, err := k.key.Sign(msg[:], poseidon2.NewMerkleDamgardHasher())
	if err != nil {
		return fmt.Errorf("l2: signing: %w", err)
	}
	var sig eddsa.Signature
	if _, err := sig.SetBytes(sigBytes); err != nil {
		return fmt.Errorf("l2: reading own signature: %w", err)
	}
	tx.Sig.RX, tx.Sig.RY = sig.R.X, sig.R.Y
	if err := tx.Sig.S.SetBytesCanonical(sig.S[:]); err != nil {
		return fmt.Errorf("l2: reading own signature: %w", err)
	}
	return nil
}

// VerifyTx reports whether tx.Sig is a valid signature of SignedMessage(chainID, tx) under pk.
// It is false, never a panic, for any garbage: a key or R that is not a point of the curve or
// not in its prime-order subgroup, the identity as key, S = 0 or S >= the subgroup order.
func VerifyTx(pk PublicKey, chainID uint64, tx *Tx) bool {
	pub := eddsa.PublicKey{A: twistededwards.NewPointAffine(pk.X, pk.Y)}
	r := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
	// gnark-crypto serialises R compressed (y and the sign of x): an off-curve (x, y) would be
	// replaced by another point instead of being rejected, so check both points here.
	if !pub.A.IsOnCurve() || !r.IsOnCurve() {
		return false
	}
	sig := eddsa.Signature{R: r, S: tx.Sig.S.Bytes()}
	var s big.Int
	tx.Sig.S.BigInt(&s)
	order := twistededwards.GetEdwardsCurve().Order
	if s.Cmp(&order) >= 0 {
		return false // also rejected by gnark-crypto; checked here so the reason is explicit
	}
	m := SignedMessage(chainID, tx)
	msg := m.Bytes()
	ok, err := pub.Verify(sig.Bytes(), msg[:], poseidon2.NewMerkleDamgardHasher())
	return err == nil && ok
}
