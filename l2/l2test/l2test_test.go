package l2test_test

import (
	"bytes"
	"testing"

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
