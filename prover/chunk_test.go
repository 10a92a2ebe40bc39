package prover

import (
	"errors"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
)

// TestAssignChunks: a batch of 7 valid transactions assigned in chunks of 2 gives 4 assignments
// whose commitments are l2.ChunkCommitments' (chained: each starts at its predecessor's new root
// and deposit chain) and which the circuit accepts; a batch of at most B gives the one
// assignment of its commitment; a commitment that does not match the batch is not provable.
func TestAssignChunks(t *testing.T) {
	p := Params{Depth: 6, BatchSize: 2}
	gen := newValidBatches(t, 3, p.Depth)
	txs := gen.next(t, 7)
	pre, err := l2.NewState(p.Depth)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := (&ReferenceSource{State: pre}).ApplyBatchWitness(txs)
	if err != nil {
		t.Fatal(err)
	}
	b := &Batch{ChainID: testChainID, BatchNumber: 5, Txs: txs}
	// The whole batch's commitment (§8.6), from an assignment of a circuit as large as the batch.
	whole, err := Assign(Params{Depth: p.Depth, BatchSize: len(txs)}, b, tr)
	if err != nil {
		t.Fatal(err)
	}
	c := whole.Commitment
	as, err := AssignChunks(p, b, tr, &c)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := l2.ChunkCommitments(&c, txs, tr.PostRoots, p.BatchSize)
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 4 || len(chunks) != 4 {
		t.Fatalf("%d assignments, %d chunk commitments; want 4", len(as), len(chunks))
	}
	for k, a := range as {
		if a.Commitment != chunks[k] {
			t.Fatalf("chunk %d: commitment %+v, want %+v", k, a.Commitment, chunks[k])
		}
		if k > 0 && (a.Commitment.PrevRoot != as[k-1].Commitment.NewRoot || a.Commitment.DepositsBefore != as[k-1].Commitment.DepositsAfter) {
			t.Fatalf("chunk %d does not start where chunk %d ends", k, k-1)
		}
		if err := isSolved(p, a.Circuit); err != nil {
			t.Fatalf("chunk %d: %v", k, err)
		}
	}
	if last := as[3].Commitment; last.TxCount != 1 || last.NewRoot != c.NewRoot || last.DepositsAfter != c.DepositsAfter {
		t.Fatalf("last chunk %+v does not end the batch", last)
	}

	one, err := AssignChunks(Params{Depth: p.Depth, BatchSize: 8}, b, tr, &c)
	if err != nil || len(one) != 1 || one[0].Commitment != c {
		t.Fatalf("a batch within the circuit: %d assignments, %v", len(one), err)
	}
	bad := c
	bad.NewRoot = tr.PostRoots[5]
	if _, err := AssignChunks(p, b, tr, &bad); !errors.Is(err, ErrNotProvable) {
		t.Fatalf("wrong new root: %v, want ErrNotProvable", err)
	}
	bad = c
	bad.DataHash = c.TraceRoot
	if _, err := AssignChunks(Params{Depth: p.Depth, BatchSize: 8}, b, tr, &bad); !errors.Is(err, ErrNotProvable) {
		t.Fatalf("wrong data hash of a one-chunk batch: %v, want ErrNotProvable", err)
	}
}
