package prover

import (
	"testing"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/l2"
)

// TestCompletenessRandom proves (in the test engine) random valid batches of every type, full
// and partly padded, and checks the commitment against an independent run of the reference.
func TestCompletenessRandom(t *testing.T) {
	p := Params{Depth: 6, BatchSize: 4}
	batches := 8
	if testing.Short() {
		batches = 3
	}
	gen := newValidBatches(t, 1, p.Depth)
	proverState, _ := l2.NewState(p.Depth)
	checkState, _ := l2.NewState(p.Depth)
	src := &ReferenceSource{State: proverState}
	var dq fr.Element
	for b := range batches {
		txs := gen.next(t, 1+b%p.BatchSize)
		tr, err := src.ApplyBatchWitness(txs)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Assign(p, &Batch{ChainID: testChainID, BatchNumber: uint64(b), DepositsBefore: dq, Txs: txs}, tr)
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		res := checkState.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true})
		if res.Rejected != 0 || a.Commitment.NewRoot != res.FinalRoot || a.Commitment.TraceRoot != res.TraceRoot || a.Commitment.WithdrawalRoot != res.WithdrawalRoot {
			t.Fatalf("batch %d: commitment %+v disagrees with the reference %+v", b, a.Commitment, res)
		}
		start := time.Now()
		if err := isSolved(p, a.Circuit); err != nil {
			t.Fatalf("batch %d (%d txs): %v", b, len(txs), err)
		}
		t.Logf("batch %d: %d txs solved in %v", b, len(txs), time.Since(start))
		dq = a.Commitment.DepositsAfter
	}
}
