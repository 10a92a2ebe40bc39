package prover

import (
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
)

// Chunk is the trace of transactions [lo, hi) of the batch, a chunk of a validity batch (docs
// §8.8): it starts from trace[lo-1] (the batch's previous root for lo = 0). A transaction's
// witnesses are in the state before it, so they do not depend on the chunking.
func (t *BatchTrace) Chunk(lo, hi int) *BatchTrace {
	prev := t.PrevRoot
	if lo > 0 {
		prev = t.PostRoots[lo-1]
	}
	return &BatchTrace{PrevRoot: prev, Statuses: t.Statuses[lo:hi], PostRoots: t.PostRoots[lo:hi],
		Witnesses: t.Witnesses[lo:hi]}
}

// AssignChunks builds the assignments of the m = ⌈n/B⌉ chunks of the validity batch b (docs
// §8.8) whose commitment is c, from the one execution trace t of the whole batch: chunk k is
// Assign of txs [k·B, min(n, (k+1)·B)) with dq_before the deposit chain after the earlier
// chunks, and its commitment must be l2.ChunkCommitments' chunk k, which L1 verifies its proof
// against. For n ≤ B it is the one assignment of the batch, whose commitment must be c.
func AssignChunks(p Params, b *Batch, t *BatchTrace, c *l2.Commitment) ([]*Assignment, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if len(t.PostRoots) != len(b.Txs) {
		return nil, fmt.Errorf("%w: trace of %d entries for %d transactions", ErrNotProvable, len(t.PostRoots), len(b.Txs))
	}
	chunks, err := l2.ChunkCommitments(c, b.Txs, t.PostRoots, p.BatchSize)
	if err != nil {
		return nil, fmt.Errorf("%w: batch %d: %w", ErrNotProvable, c.BatchNumber, err)
	}
	out := make([]*Assignment, len(chunks))
	for k := range chunks {
		lo, hi := k*p.BatchSize, min(len(b.Txs), (k+1)*p.BatchSize)
		chunk := &Batch{ChainID: b.ChainID, BatchNumber: b.BatchNumber, DepositsBefore: chunks[k].DepositsBefore,
			Txs: b.Txs[lo:hi]}
		a, err := Assign(p, chunk, t.Chunk(lo, hi))
		if err != nil {
			return nil, fmt.Errorf("batch %d chunk %d: %w", c.BatchNumber, k, err)
		}
		if a.Commitment != chunks[k] || (len(chunks) == 1 && a.Commitment != *c) {
			return nil, fmt.Errorf("%w: batch %d chunk %d: the assignment's commitment is not the chunk's", ErrNotProvable, c.BatchNumber, k)
		}
		out[k] = a
	}
	return out, nil
}
