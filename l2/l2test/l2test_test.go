package l2test_test

import (
	"bytes"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards/eddsa"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

func apply(t *testing.T, s *l2.State, data []byte) l2.BatchResult {
	t.Helper()
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		t.Fatal(err)
	}
	return s.ApplyBatch(txs, l2.ApplyOptions{})
}

func TestWorkloadTransfersSucceed(t *testing.T) {
	for _, tc := range []struct{ depth, accounts int }{{2, 4}, {6, 40}, {20, 300}} {
		w := l2test.NewWorkload(1, tc.depth, tc.accounts)
		s, err := l2.NewState(tc.depth)
		if err != nil {
			t.Fatal(err)
		}
		for _, data := range w.GenesisBatches() {
			if r := apply(t, s, data); r.Rejected != 0 {
				t.Fatalf("depth %d: %d genesis deposits rejected", tc.depth, r.Rejected)
			}
		}
		if s.Len() != tc.accounts {
			t.Fatalf("depth %d: %d accounts, want %d", tc.depth, s.Len(), tc.accounts)
		}
		for range 3 {
			if r := apply(t, s, w.TransferBatch(50)); r.Rejected != 0 {
				t.Fatalf("depth %d: %d transfers rejected: %v", tc.depth, r.Rejected, r.Statuses)
			}
		}
	}
}

func TestWorkloadGenesisBatchSize(t *testing.T) {
	w := l2test.NewWorkload(2, 24, l2.MaxBatchTxs+1)
	batches := w.GenesisBatches()
	if len(batches) != 2 || len(batches[0]) != l2.MaxBatchTxs*l2.TxSize || len(batches[1]) != l2.TxSize {
		t.Fatalf("%d genesis batches", len(batches))
	}
	seen := make(map[uint32]bool)
	for _, data := range batches {
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			if seen[tx.From] {
				t.Fatalf("index %d used twice", tx.From)
			}
			seen[tx.From] = true
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := l2test.NewRandomBatches(9, 6), l2test.NewRandomBatches(9, 6)
	wa, wb := l2test.NewWorkload(9, 10, 100), l2test.NewWorkload(9, 10, 100)
	for range 5 {
		if !bytes.Equal(a.Next(100), b.Next(100)) || !bytes.Equal(wa.TransferBatch(10), wb.TransferBatch(10)) {
			t.Fatal("same seed, different batches")
		}
	}
	if !bytes.Equal(wa.GenesisBatches()[0], wb.GenesisBatches()[0]) {
		t.Fatal("same seed, different genesis")
	}
}

func TestRandomBatchesCoverStatuses(t *testing.T) {
	for _, depth := range []int{5, 8, 16, 32} {
		r := l2test.NewRandomBatches(uint64(depth), depth)
		s, err := l2.NewState(depth)
		if err != nil {
			t.Fatal(err)
		}
		seen := make(map[l2.Status]int)
		for range 10 {
			res := apply(t, s, r.Next(100))
			for _, st := range res.Statuses {
				seen[st]++
			}
		}
		for st := l2.StatusOK; st <= l2.StatusPubkeyMismatch; st++ {
			if seen[st] == 0 && st != l2.StatusNonceExhausted && !(depth == 32 && st == l2.StatusIndexOutOfRange) {
				t.Errorf("depth %d: no %v in %v", depth, st, seen)
			}
		}
	}
}

// BenchmarkRandomBatches is the cost of generating transactions for differential tests.
func BenchmarkRandomBatches(b *testing.B) {
	r := l2test.NewRandomBatches(1, 24)
	for b.Loop() {
		r.Next(l2.MaxBatchTxs)
	}
}

func TestTorsionPoint(t *testing.T) {
	for _, order := range []int{1, 2, 4, 8} {
		p := l2test.TorsionPoint(order)
		if !p.IsOnCurve() || p.IsInSubGroup() != (order == 1) {
			t.Fatalf("order %d: on the curve %v, in the subgroup %v", order, p.IsOnCurve(), p.IsInSubGroup())
		}
		var m twistededwards.PointAffine
		if m.ScalarMultiplication(&p, big.NewInt(int64(order))); !m.IsZero() {
			t.Errorf("order %d: %d·T is not the identity", order, order)
		}
		if m.ScalarMultiplication(&p, big.NewInt(int64(order/2))); order > 1 && m.IsZero() {
			t.Errorf("order %d: %d·T is the identity", order, order/2)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("TorsionPoint(3) did not panic")
		}
	}()
	l2test.TorsionPoint(3)
}

func TestSigner(t *testing.T) {
	s := l2test.NewSigner(big.NewInt(42))
	var want twistededwards.PointAffine
	want.ScalarMultiplicationBase(big.NewInt(42))
	if pk := s.Public(); pk.X != want.X || pk.Y != want.Y {
		t.Fatal("public key is not 42·B")
	}
	for _, order := range []int{1, 2, 4, 8} {
		tx := l2.Tx{Type: l2.TxWithdraw, From: 1, Amount: 2, Nonce: 3, Address: [20]byte{4}}
		s.Sign(9, &tx, l2test.TorsionPoint(order))
		if !l2.VerifyTx(s.Public(), 9, &tx) {
			t.Errorf("order %d: VerifyTx = false", order)
		}
		// gnark-crypto accepts the ordinary signature only.
		sig := eddsa.Signature{R: twistededwards.NewPointAffine(tx.Sig.RX, tx.Sig.RY), S: tx.Sig.S.Bytes()}
		pub := eddsa.PublicKey{A: twistededwards.NewPointAffine(s.Public().X, s.Public().Y)}
		m := l2.SignedMessage(9, &tx)
		msg := m.Bytes()
		ok, err := pub.Verify(sig.Bytes(), msg[:], poseidon2.NewMerkleDamgardHasher())
		if ok != (order == 1) || (err == nil) != (order == 1) {
			t.Errorf("order %d: gnark-crypto Verify = %v, %v", order, ok, err)
		}
	}
	order := twistededwards.GetEdwardsCurve().Order
	for _, k := range []*big.Int{big.NewInt(0), &order} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewSigner(%s) did not panic", k)
				}
			}()
			l2test.NewSigner(k)
		}()
	}
}

func TestValidBatchesAllSucceed(t *testing.T) {
	for _, depth := range []int{2, 5, 24} {
		v := l2test.NewValidBatches(uint64(depth), depth, 7)
		s, err := l2.NewState(depth)
		if err != nil {
			t.Fatal(err)
		}
		counts := map[l2.TxType]int{}
		for range 40 {
			txs, err := l2.DecodeBatch(v.Next(8))
			if err != nil {
				t.Fatal(err)
			}
			for _, tx := range txs {
				counts[tx.Type]++
			}
			r := s.ApplyBatch(txs, l2.ApplyOptions{ChainID: 7, VerifySignatures: true})
			if r.Rejected != 0 {
				t.Fatalf("depth %d: statuses %v", depth, r.Statuses)
			}
		}
		for typ := l2.TxNoop; typ <= l2.TxWithdraw; typ++ {
			if counts[typ] == 0 {
				t.Errorf("depth %d: no %s in 40 batches", depth, typ)
			}
		}
	}
}
