package challenger

import (
	"bytes"
	"errors"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// TestExecutorsMaxBatch: an optimistic batch may hold l2.MaxBatchTxs (4,096) transactions
// (docs/l1.md §5). Both executors pass the honest one and, with its last trace entry corrupted,
// give fraud.Build's proof byte for byte, a step proof at 4,095 that fits fraud.MaxProofSize.
func TestExecutorsMaxBatch(t *testing.T) {
	const depth = 6
	valid := l2test.NewValidBatches(1, depth, testChainID)
	agreed, _ := l2.NewState(depth)
	var data []byte // a prefix of the valid stream, so valid itself
	for len(data) < l2.MaxBatchTxs*l2.TxSize {
		data = append(data, valid.Next(l2.MaxBatchTxs)...)
	}
	txs, err := l2.DecodeBatch(data[:l2.MaxBatchTxs*l2.TxSize])
	if err != nil {
		t.Fatal(err)
	}
	if len(txs) != l2.MaxBatchTxs {
		t.Fatalf("%d transactions, want %d", len(txs), l2.MaxBatchTxs)
	}
	honest := post(agreed, 1, txs, signOpts)
	bad := post(agreed, 1, txs, signOpts)
	last := l2.MaxBatchTxs - 1
	bad.trace[last].SetUint64(1) // a root no state has
	bad.c.TraceRoot, bad.c.NewRoot = l2.ListRoot(bad.trace), bad.trace[last]
	want, err := fraud.Build(agreed.Clone(), &bad.c, bad.data, bad.trace, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want.Kind != fraud.KindStep || want.Step != uint64(last) {
		t.Fatalf("fraud.Build: %s at step %d, want a step proof at %d", want.Kind, want.Step, last)
	}
	if n := len(want.Encode()); n > fraud.MaxProofSize {
		t.Fatalf("proof of %d bytes, at most %d", n, fraud.MaxProofSize)
	}
	for _, kind := range []string{ExecutorCore, ExecutorReference} {
		x := open(t, kind, agreed)
		got, err := x.check(&bad.c, bad.data, txs, bad.trace, nil)
		if err != nil || !bytes.Equal(got.Encode(), want.Encode()) {
			t.Fatalf("%s on the corrupted batch: %+v %v, want %+v", kind, got, err, want)
		}
		y := open(t, kind, agreed)
		if _, err := y.check(&honest.c, honest.data, txs, honest.trace, nil); !errors.Is(err, fraud.ErrNoFraud) {
			t.Fatalf("%s on the honest batch: %v, want no fraud", kind, err)
		}
	}
}
