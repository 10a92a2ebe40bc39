package l2test

import (
	"fmt"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
)

// torsion8 is a point of order 8: the cofactor-free part L·P of the first point P of the curve
// (by increasing y) that has one.
var torsion8 = sync.OnceValue(func() twistededwards.PointAffine {
	curve := twistededwards.GetEdwardsCurve()
	var one fr.Element
	one.SetOne()
	for y := uint64(2); ; y++ {
		// a·x² + y² = 1 + d·x²·y²  <=>  x² = (1 - y²) / (a - d·y²)
		var p twistededwards.PointAffine
		p.Y.SetUint64(y)
		var y2, num, den fr.Element
		y2.Square(&p.Y)
		num.Sub(&one, &y2)
		den.Mul(&curve.D, &y2)
		den.Sub(&curve.A, &den)
		num.Div(&num, &den)
		if p.X.Sqrt(&num) == nil {
			continue
		}
		var t, t4 twistededwards.PointAffine
		t.ScalarMultiplication(&p, &curve.Order)
		t4.Double(&t)
		t4.Double(&t4)
		if !t4.IsZero() {
			return t
		}
	}
})

// TorsionPoint returns a point of the given order, 1, 2, 4 or 8: a divisor of the cofactor of
// gnark-crypto's BN254 twisted Edwards curve. Such a point is in the prime-order subgroup only
// for order 1 (the identity), and vanishes when multiplied by the cofactor. It panics for any
// other order.
func TorsionPoint(order int) twistededwards.PointAffine {
	t := torsion8()
	switch order {
	case 8:
	case 4:
		t.Double(&t)
	case 2:
		t.Double(&t)
		t.Double(&t)
	case 1:
		t = twistededwards.NewPointAffine(fr.Element{}, fr.One())
	default:
		panic(fmt.Sprintf("l2test: no point of order %d", order))
	}
	return t
}

// Signer is an EdDSA key whose scalar is known, for the signatures l2.SignTx cannot make: with
// a nonce point R that has a small-order component. Such a signature is valid by the cofactored
// rule of docs §6 (l2.VerifyTx) but rejected by gnark-crypto's eddsa Verify, which requires R in
// the prime-order subgroup.
type Signer struct {
	scalar big.Int
	pub    l2.PublicKey
}

// NewSigner returns the key with the given secret scalar, reduced mod L. It panics if the
// scalar is 0 mod L.
func NewSigner(scalar *big.Int) *Signer {
	curve := twistededwards.GetEdwardsCurve()
	s := &Signer{}
	s.scalar.Mod(scalar, &curve.Order)
	if s.scalar.Sign() == 0 {
		panic("l2test: signer scalar is 0 mod L")
	}
	var a twistededwards.PointAffine
	a.ScalarMultiplicationBase(&s.scalar)
	s.pub = l2.PublicKey{X: a.X, Y: a.Y}
	return s
}

// Public returns the signer's key, scalar·B.
func (s *Signer) Public() l2.PublicKey { return s.pub }

// Sign signs tx for chainID and stores the signature in tx.Sig, with the nonce point
// R = r·B + torsion: r is derived from the key and the message, and S = r + c·scalar mod L with
// c = H(R.x, R.y, pk.x, pk.y, msg). Then 8·S·B = 8·(R + c·pk) since 8·torsion is the identity.
// With the identity as torsion (TorsionPoint(1)) it is an ordinary EdDSA signature.
func (s *Signer) Sign(chainID uint64, tx *l2.Tx, torsion twistededwards.PointAffine) {
	curve := twistededwards.GetEdwardsCurve()
	msg := l2.SignedMessage(chainID, tx)
	var k fr.Element
	k.SetBigInt(&s.scalar)
	nonce := l2.HashMD(k, msg)
	var r big.Int
	nonce.BigInt(&r)
	r.Mod(&r, &curve.Order)
	var rp twistededwards.PointAffine
	rp.ScalarMultiplicationBase(&r)
	rp.Add(&rp, &torsion)
	c := l2.HashMD(rp.X, rp.Y, s.pub.X, s.pub.Y, msg)
	var sig big.Int
	c.BigInt(&sig)
	sig.Mul(&sig, &s.scalar)
	sig.Add(&sig, &r)
	sig.Mod(&sig, &curve.Order)
	tx.Sig.RX, tx.Sig.RY = rp.X, rp.Y
	tx.Sig.S.SetBigInt(&sig)
}
