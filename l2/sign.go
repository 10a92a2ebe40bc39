package l2

import (
	"bytes"
	"fmt"
	"io"
	"math/big"
	"sync"

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

// curveOrder is L, the order of the prime-order subgroup of the curve.
var curveOrder = sync.OnceValue(func() *big.Int {
	order := twistededwards.GetEdwardsCurve().Order
	return &order
})

// VerifyTx reports whether tx.Sig = (R, S) is a valid signature of SignedMessage(chainID, tx)
// under pk, by the rule of docs §6: R is a point of the curve, S < L, and
// 8·S·B = 8·(R + c·pk) with c = H(R.x, R.y, pk.x, pk.y, msg) read as an integer.
//
// This is the cofactored check of gnark's in-circuit std/signature/eddsa, deliberately not
// gnark-crypto's eddsa Verify: an R outside the prime-order subgroup is accepted when its
// small-order component is all that separates it from a valid signature, since the
// multiplication by the cofactor 8 clears it. Signatures made by SignTx satisfy both rules.
//
// The key is not validated (docs §4.1: L1 admits only keys of the prime-order subgroup other
// than the identity), with one exception: a key that is not a point of the curve verifies
// nothing, as c·pk is not defined for it (the formulas would give an arbitrary value that
// depends on how c·pk is computed). Any point of the curve is used as it is and the equation
// decides; for a key of small order, the identity included, c·pk vanishes after the
// multiplication by 8, so any (R, S) with 8·S·B = 8·R verifies: such keys must never reach
// the state.
//
// VerifyTx never panics: any values give true or false.
func VerifyTx(pk PublicKey, chainID uint64, tx *Tx) bool {
	return VerifyTxChallenge(pk, tx, Challenge(pk, chainID, tx))
}

// Challenge is the challenge c = H(R.x, R.y, pk.x, pk.y, msg) of docs §6 for tx's signature,
// msg = SignedMessage(chainID, tx).
func Challenge(pk PublicKey, chainID uint64, tx *Tx) fr.Element {
	return HashMD(tx.Sig.RX, tx.Sig.RY, pk.X, pk.Y, SignedMessage(chainID, tx))
}

// VerifyTxChallenge is VerifyTx with the challenge c = Challenge(pk, chainID, tx) supplied by
// the caller, who may compute the Poseidon2 hashes of many signatures at once (the sequencer
// batches them through the native core). It applies every other check of VerifyTx; with any
// other c it verifies nothing meaningful.
func VerifyTxChallenge(pk PublicKey, tx *Tx, c fr.Element) bool {
	r := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
	a := twistededwards.NewPointAffine(pk.X, pk.Y)
	if !r.IsOnCurve() || !a.IsOnCurve() {
		return false
	}
	var s big.Int
	tx.Sig.S.BigInt(&s)
	if s.Cmp(curveOrder()) >= 0 {
		return false
	}
	var cInt big.Int
	c.BigInt(&cInt)
	return cofactoredEquation(&a, &r, &s, &cInt)
}

// cofactoredEquation reports whether 8·s·B = 8·(r + c·a), for points a and r of the curve.
// The arithmetic is gnark-crypto's, in extended coordinates; its formulas are complete on this
// curve (a = -1 is a square, d is not), so every point, of any order, is handled and no Z
// coordinate is ever zero. c is used as it is, not reduced mod L (after the multiplication by
// 8 that would not change the result). s·B reduces s mod L, which is why VerifyTx checks
// s < L first.
func cofactoredEquation(a, r *twistededwards.PointAffine, s, c *big.Int) bool {
	var sb twistededwards.PointAffine
	sb.ScalarMultiplicationBase(s)
	var lhs, rhs twistededwards.PointExtended
	lhs.FromAffine(&sb)
	rhs.FromAffine(a)
	rhs.ScalarMultiplication(&rhs, c)
	rhs.MixedAdd(&rhs, r)
	for range 3 { // the cofactor
		lhs.Double(&lhs)
		rhs.Double(&rhs)
	}
	// Projective equality: X1·Z2 = X2·Z1 and Y1·Z2 = Y2·Z1.
	var u, v fr.Element
	if u.Mul(&lhs.X, &rhs.Z); !u.Equal(v.Mul(&rhs.X, &lhs.Z)) {
		return false
	}
	u.Mul(&lhs.Y, &rhs.Z)
	return u.Equal(v.Mul(&rhs.Y, &lhs.Z))
}
