package l2_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
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
	plusTorsion := func(order int) func(*l2.Tx) {
		return func(tx *l2.Tx) {
			r, t := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY), l2test.TorsionPoint(order)
			r.Add(&r, &t)
			tx.Sig.RX, tx.Sig.RY = r.X, r.Y
		}
	}

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
		// S+L passes the equation (S·B only depends on S mod L): only the range check rejects it.
		{name: "S + order", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S.Add(&tx.Sig.S, &bigS) }},
		{name: "S = p-1", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S = torsionY }},
		{name: "S = 0", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.S = fr.Element{} }},
		{name: "R off the curve", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX.SetUint64(5) }},
		{name: "R = -R", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX.Neg(&tx.Sig.RX) }},
		{name: "R of order 2", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig.RX, tx.Sig.RY = fr.Element{}, torsionY }},
		// R+T with the same S: the multiplication by 8 clears T, but c = H(R, pk, msg) changes
		// with R, so S no longer matches. l2test.Signer makes the valid ones (TestSmallOrderR).
		{name: "R + T2, same S", pk: k.Public(), chainID: chainID, tx: transfer, edit: plusTorsion(2)},
		{name: "R + T4, same S", pk: k.Public(), chainID: chainID, tx: transfer, edit: plusTorsion(4)},
		{name: "R + T8, same S", pk: k.Public(), chainID: chainID, tx: withdraw, edit: plusTorsion(8)},
		{name: "zero signature", pk: k.Public(), chainID: chainID, tx: transfer, edit: func(tx *l2.Tx) { tx.Sig = l2.Signature{} }},
		{name: "zero key (off the curve)", chainID: chainID, tx: transfer},
		{name: "identity key", pk: l2.PublicKey{Y: elem(1)}, chainID: chainID, tx: transfer},
		{name: "key of order 2", pk: l2.PublicKey{Y: torsionY}, chainID: chainID, tx: transfer},
		{name: "key off the curve", pk: l2.PublicKey{X: elem(1), Y: elem(2)}, chainID: chainID, tx: transfer},
		{name: "key = pk + T2", pk: addPoint(k.Public(), l2test.TorsionPoint(2)), chainID: chainID, tx: transfer},
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

func addPoint(pk l2.PublicKey, t twistededwards.PointAffine) l2.PublicKey {
	p := twistededwards.NewPointAffine(pk.X, pk.Y)
	p.Add(&p, &t)
	return l2.PublicKey{X: p.X, Y: p.Y}
}

// gnarkKeyAndSig converts a key and a stored signature to gnark-crypto's eddsa types; R must be
// on the curve (its serialisation keeps only y and the sign of x).
func gnarkKeyAndSig(pk l2.PublicKey, tx *l2.Tx) (eddsa.PublicKey, []byte) {
	sig := eddsa.Signature{R: twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY), S: tx.Sig.S.Bytes()}
	return eddsa.PublicKey{A: twistededwards.NewPointAffine(pk.X, pk.Y)}, sig.Bytes()
}

// gnarkVerify is gnark-crypto's eddsa Verify of tx.Sig under the protocol's message and hasher.
func gnarkVerify(pk l2.PublicKey, chainID uint64, tx *l2.Tx) bool {
	pub, sig := gnarkKeyAndSig(pk, tx)
	m := l2.SignedMessage(chainID, tx)
	msg := m.Bytes()
	ok, err := pub.Verify(sig, msg[:], poseidon2.NewMerkleDamgardHasher())
	return ok && err == nil
}

// TestSmallOrderR checks the one deliberate difference from gnark-crypto's Verify (docs §6): a
// signature whose R has a component of order 2, 4 or 8, made by the key's owner, is valid.
func TestSmallOrderR(t *testing.T) {
	const chainID = 3
	signer := l2test.NewSigner(big.NewInt(123456789))
	for _, order := range []int{1, 2, 4, 8} {
		for _, tx := range []l2.Tx{
			{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4},
			{Type: l2.TxWithdraw, From: 1, Amount: 3, Nonce: 4, Address: [20]byte{19: 5}},
		} {
			signer.Sign(chainID, &tx, l2test.TorsionPoint(order))
			r := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
			if r.IsInSubGroup() != (order == 1) {
				t.Fatalf("order %d: R in the subgroup: %v", order, r.IsInSubGroup())
			}
			if !l2.VerifyTx(signer.Public(), chainID, &tx) {
				t.Errorf("%s, R with a component of order %d: VerifyTx = false, want true", tx.Type, order)
			}
			if got := gnarkVerify(signer.Public(), chainID, &tx); got != (order == 1) {
				t.Errorf("%s, R with a component of order %d: gnark-crypto Verify = %v", tx.Type, order, got)
			}
			tampered := tx
			tampered.Amount++
			if l2.VerifyTx(signer.Public(), chainID, &tampered) || l2.VerifyTx(signer.Public(), chainID+1, &tx) {
				t.Errorf("%s, order %d: a tampered transaction verifies", tx.Type, order)
			}
		}
	}
}

// TestSmallOrderKey documents what the equation decides for keys L1 never admits (docs §4.1):
// under a key of small order anything with 8·S·B = 8·R verifies, so anyone can sign for it;
// a key off the curve verifies nothing.
func TestSmallOrderKey(t *testing.T) {
	tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3, Nonce: 4}
	var r twistededwards.PointAffine
	r.ScalarMultiplicationBase(big.NewInt(99))
	tx.Sig.RX, tx.Sig.RY, tx.Sig.S = r.X, r.Y, elem(99)
	for _, order := range []int{1, 2, 4, 8} {
		p := l2test.TorsionPoint(order)
		if !l2.VerifyTx(l2.PublicKey{X: p.X, Y: p.Y}, 1, &tx) {
			t.Errorf("key of order %d: a forgery with R = S·B does not verify", order)
		}
	}
	for _, pk := range []l2.PublicKey{{}, {X: elem(1), Y: elem(1)}, {X: r.X, Y: r.X}} {
		if l2.VerifyTx(pk, 1, &tx) {
			t.Errorf("key (%s, %s) off the curve: VerifyTx = true", pk.X.String(), pk.Y.String())
		}
	}
}

// TestVerifyMatchesGnark compares VerifyTx with gnark-crypto's Verify on honest signatures of
// random transactions under random keys, and on tampered copies of them.
func TestVerifyMatchesGnark(t *testing.T) {
	r := testRand(t)
	base := twistededwards.GetEdwardsCurve().Base
	one := elem(1)
	tampers := []struct {
		name string
		edit func(pk *l2.PublicKey, chainID *uint64, tx *l2.Tx)
	}{
		{"amount", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) { tx.Amount ^= 1 }},
		{"nonce", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) { tx.Nonce ^= 1 << 63 }},
		{"from", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) { tx.From++ }},
		{"chain", func(_ *l2.PublicKey, c *uint64, _ *l2.Tx) { *c++ }},
		{"S+1", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) { tx.Sig.S.Add(&tx.Sig.S, &one) }},
		{"R+B", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) {
			p := twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY)
			p.Add(&p, &base)
			tx.Sig.RX, tx.Sig.RY = p.X, p.Y
		}},
		{"-R", func(_ *l2.PublicKey, _ *uint64, tx *l2.Tx) { tx.Sig.RX.Neg(&tx.Sig.RX) }},
		{"pk+B", func(pk *l2.PublicKey, _ *uint64, _ *l2.Tx) {
			p := twistededwards.NewPointAffine(pk.X, pk.Y)
			p.Add(&p, &base)
			pk.X, pk.Y = p.X, p.Y
		}},
	}
	for i := range 200 {
		var seed [32]byte
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		k, err := l2.GenerateKey(rand.NewChaCha8(seed))
		if err != nil {
			t.Fatal(err)
		}
		chainID := r.Uint64()
		tx := l2.Tx{Type: l2.TxTransfer, From: r.Uint32(), To: r.Uint32(), Amount: r.Uint64(), Nonce: r.Uint64()}
		if i%2 == 1 {
			tx = l2.Tx{Type: l2.TxWithdraw, From: r.Uint32(), Amount: r.Uint64(), Nonce: r.Uint64(), Address: [20]byte{0: byte(i), 19: 1}}
		}
		if err := l2.SignTx(k, chainID, &tx); err != nil {
			t.Fatal(err)
		}
		pk := k.Public()
		if !l2.VerifyTx(pk, chainID, &tx) || !gnarkVerify(pk, chainID, &tx) {
			t.Fatalf("signature %d: VerifyTx %v, gnark-crypto %v; want both true", i,
				l2.VerifyTx(pk, chainID, &tx), gnarkVerify(pk, chainID, &tx))
		}
		tm := tampers[i%len(tampers)]
		tpk, tchain, ttx := pk, chainID, tx
		tm.edit(&tpk, &tchain, &ttx)
		if l2.VerifyTx(tpk, tchain, &ttx) || gnarkVerify(tpk, tchain, &ttx) {
			t.Fatalf("signature %d, tampered %s: VerifyTx %v, gnark-crypto %v; want both false", i, tm.name,
				l2.VerifyTx(tpk, tchain, &ttx), gnarkVerify(tpk, tchain, &ttx))
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

// FuzzVerifyTx feeds VerifyTx keys a·B and nonce points r·B from arbitrary scalars, optionally
// moved out of the prime-order subgroup by a point of order 2, 4 or 8, and an arbitrary S (empty:
// the S that makes the equation hold). VerifyTx must never panic, and must agree with the same
// rule computed on scalars: S < L and S = r + c·a mod L. Keys of small order (a = 0 mod L) and
// R of any order are included.
func FuzzVerifyTx(f *testing.F) {
	f.Add([]byte{1}, []byte{2}, []byte{3}, false, false)
	f.Add([]byte{1}, []byte{2}, []byte{}, false, false)
	f.Add([]byte{7}, []byte{9}, []byte{}, false, true)
	f.Add([]byte{}, []byte{}, []byte{}, true, true)
	f.Add([]byte{5}, []byte{0xff, 0xff}, bytes32(0xff), false, true)
	curve := twistededwards.GetEdwardsCurve()
	orders := []int{2, 4, 8}
	point := func(scalar []byte, twist bool) twistededwards.PointAffine {
		var p twistededwards.PointAffine
		p.ScalarMultiplication(&curve.Base, new(big.Int).SetBytes(scalar))
		if twist {
			t := l2test.TorsionPoint(orders[len(scalar)%len(orders)])
			p.Add(&p, &t)
		}
		return p
	}
	f.Fuzz(func(t *testing.T, a, r, s []byte, twistA, twistR bool) {
		pk, rp := point(a, twistA), point(r, twistR)
		key := l2.PublicKey{X: pk.X, Y: pk.Y}
		tx := l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 3}
		tx.Sig.RX, tx.Sig.RY = rp.X, rp.Y
		c := l2.HashMD(rp.X, rp.Y, pk.X, pk.Y, l2.SignedMessage(1, &tx))
		var want big.Int // r + c·a mod L
		c.BigInt(&want)
		want.Mul(&want, new(big.Int).SetBytes(a))
		want.Add(&want, new(big.Int).SetBytes(r))
		want.Mod(&want, &curve.Order)
		if len(s) == 0 {
			tx.Sig.S.SetBigInt(&want)
		} else {
			tx.Sig.S.SetBytes(s)
		}
		var got big.Int
		tx.Sig.S.BigInt(&got)
		if v := l2.VerifyTx(key, 1, &tx); v != (got.Cmp(&want) == 0) {
			t.Fatalf("VerifyTx = %v for S = %s, r + c·a mod L = %s", v, &got, &want)
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
