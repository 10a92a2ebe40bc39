package l2_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
)

func testKey(t testing.TB, n uint8) *l2.PrivateKey {
	t.Helper()
	k, err := l2.GenerateKey(rand.NewChaCha8([32]byte{n}))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSignedMessage(t *testing.T) {
	tx := l2.Tx{Type: l2.TxWithdraw, From: 1, Amount: 2, Nonce: 3, Address: [20]byte{4}}
	w := tx.Words()
	got, want := l2.SignedMessage(9, &tx), l2.HashMD(l2.TagTx, elem(9), w[0], w[1])
	if !got.Equal(&want) {
		t.Fatalf("SignedMessage = %s, want H(TAG_TX, chain_id, w0, w1) = %s", got.String(), want.String())
	}
}

func TestSignVerify(t *testing.T) {
	k, other := testKey(t, 1), testKey(t, 2)
	const chainID = 7
	signed := func(tx l2.Tx) l2.Tx {
		t.Helper()
		if err := l2.SignTx(k, chainID, &tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	transfer := signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4})
	withdraw := signed(l2.Tx{Type: l2.TxWithdraw, From: 1, Amount: 3, Nonce: 4, Address: [20]byte{19: 5}})
	order := twistededwards.GetEdwardsCurve().Order
	var bigS, torsionY fr.Element
	bigS.SetBigInt(&order)
	torsionY.SetOne()
	torsionY.Neg(&torsionY) // (0, -1) is on the curve, of order 2

	tests := []struct {
		name    string
		pk      l2.PublicKey
		chainID uint64
		tx      l2.Tx
		edit    func(*l2.Tx)
		want    bool
	}{
		{name: "transfer", pk: k.Public(), chainID: chainID, tx: transfer, want: true},
		{name: "withdraw", pk: k.Public(), chainID: chainID, tx: withdraw, want: true},
		{name: "wrong chain ID", pk: k.Public(), chainID: chainID + 1, tx: transfer},
		{name: "wrong key", pk: other.Public(), chainID: chainID, tx: transfer},
		{name: "nonce", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Nonce++ }},
		{name: "amount", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Amount-- }},
		{name: "from", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.From = 0 }},
		{name: "to", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.To = 1 }},
		{name: "type", pk: k.Public(), chainID: chainID, tx: withdraw, edit: func(tx *l2.Tx) { tx.Type = l2.TxTransfer; tx.Address = [20]byte{} }},
		{name: "address", pk: k.Public(), chainID: chainID, tx: withdraw, edit: func(tx *l2.Tx) { tx.Address[0] = 1 }},
		{name: "S+1", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { one := elem(1); tx.Sig.S.Add(&tx.Sig.S, &one) }},
		{name: "S = order", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S = bigS }},
		{name: "S = p-1", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S = torsionY }},
		{name: "S = 0", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S = fr.Element{} }},
		{name: "R off the curve", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX.SetUint64(5) }},
		{name: "R = -R", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX.Neg(&tx.Sig.RX) }},
		{name: "R of order 2", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX, tx.Sig.RY = fr.Element{}, torsionY }},
		{name: "zero signature", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig = l2.Signature{} }},
		{name: "zero key", chainID: chainID, tx: transfer},
		{name: "identity key", pk: l2.PublicKey{Y: elem(1)}, chainID: chainID, tx: transfer},
		{name: "key of order 2", pk: l2.PublicKey{Y: torsionY}, chainID: chainID, tx: transfer},
		{name: "key off the curve", pk: l2.PublicKey{X: elem(1), Y: elem(2)}, chainID: chainID, tx: transfer},
	}
	for _, tc := range tests {
		tx := tc.tx
		if tc.edit != nil {
			tc.edit(&tx)
		}
		if got := l2.VerifyTx(tc.pk, tc.chainID, &tx); got != tc.want {
			t.Errorf("%s: VerifyTx = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestSignTxRejectsUnsignedTypes(t *testing.T) {
	k := testKey(t, 1)
	for _, typ := range []l2.TxType{l2.TxNoop, l2.TxDeposit} {
		tx := l2.Tx{Type: typ}
		if err := l2.SignTx(k, 1, &tx); err == nil {
			t.Errorf("SignTx of a %s succeeded", typ)
		}
	}
}

func TestSignatureIsCanonical(t *testing.T) {
	k := testKey(t, 3)
	order := twistededwards.GetEdwardsCurve().Order
	for n := range uint64(8) {
		tx := l2.Tx{Type: l2.TxTransfer, Nonce: n}
		if err := l2.SignTx(k, 1, &tx); err != nil {
			t.Fatal(err)
		}
		var s big.Int
		tx.Sig.S.BigInt(&s)
		r := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
		if s.Cmp(&order) >= 0 || !r.IsOnCurve() {
			t.Fatalf("signature (R on curve: %v, S < order: %v)", r.IsOnCurve(), s.Cmp(&order) < 0)
		}
	}
}

func TestGenerateKeyShortReader(t *testing.T) {
	if _, err := l2.GenerateKey(&oneByteReader{}); err != nil {
		t.Fatalf("GenerateKey with a reader of one byte per call: %v", err)
	}
}

type oneByteReader struct{}

func (oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	p[0] = 7
	return 1, nil
}

// FuzzVerifyTx feeds VerifyTx keys and R built from arbitrary scalars, optionally moved out of
// the prime-order subgroup by a point of order 2, and arbitrary S: it must never panic, and
// must accept nothing but real signatures.
func FuzzVerifyTx(f *testing.F) {
	f.Add([]byte{1}, []byte{2}, []byte{3}, false, false)
	f.Add([]byte{}, []byte{}, []byte{}, true, true)
	f.Add([]byte{5}, []byte{0xff, 0xff}, bytes32(0xff), false, true)
	curve := twistededwards.GetEdwardsCurve()
	var minusOne fr.Element
	minusOne.SetOne()
	minusOne.Neg(&minusOne)
	torsion := twistededwards.NewPointAffine(fr.Element{}, minusOne) // (0, -1), of order 2
	point := func(scalar []byte, twist bool) twistededwards.PointAffine {
		var p twistededwards.PointAffine
		p.ScalarMultiplication(&curve.Base, new(big.Int).SetBytes(scalar))
		if twist {
			p.Add(&p, &torsion)
		}
		return p
	}
	f.Fuzz(func(t *testing.T, a, r, s []byte, twistA, twistR bool) {
		pk, rp := point(a, twistA), point(r, twistR)
		tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3}
		tx.Sig.RX, tx.Sig.RY = rp.X, rp.Y
		tx.Sig.S.SetBytes(s)
		if l2.VerifyTx(l2.PublicKey{X: pk.X, Y: pk.Y}, 1, &tx) {
			t.Fatalf("VerifyTx accepted a signature made of arbitrary values")
		}
	})
}

func bytes32(b byte) []byte {
	out := make([]byte, 32)
	for i := range out {
		out[i] = b
	}
	return out
}
