package l2

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
)

// TestRangeCheckOfS shows why VerifyTx checks S < L before the equation: S + L satisfies it
// (S·B depends on S mod L only), so without the check every signature would have a twin.
func TestRangeCheckOfS(t *testing.T) {
	k, err := GenerateKey(rand.NewChaCha8([32]byte{9}))
	if err != nil {
		t.Fatal(err)
	}
	tx := Tx{Type: TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4}
	if err := SignTx(k, 5, &tx); err != nil {
		t.Fatal(err)
	}
	pk := k.Public()
	if !VerifyTx(pk, 5, &tx) {
		t.Fatal("signature does not verify")
	}
	var s, c big.Int
	tx.Sig.S.BigInt(&s)
	s.Add(&s, curveOrder())
	h := HashMD(tx.Sig.RX, tx.Sig.RY, pk.X, pk.Y, SignedMessage(5, &tx))
	h.BigInt(&c)
	a, r := twistededwards.NewPointAffine(pk.X, pk.Y), twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
	if !cofactoredEquation(&a, &r, &s, &c) {
		t.Fatal("S + L does not satisfy the equation")
	}
	tx.Sig.S.SetBigInt(&s) // S + L < 2L < p: stored exactly
	if VerifyTx(pk, 5, &tx) {
		t.Fatal("VerifyTx accepts S + L")
	}
}
