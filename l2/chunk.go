package l2

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// MaxChunks bounds the chunk proofs of one validity batch (docs §8.8): L1 verifies at most this
// many Groth16 proofs for one submission, so a validity batch holds at most MaxChunks·B
// transactions for a circuit of B slots (and never more than MaxBatchTxs).
const MaxChunks = 64

// ChunkCount is m = ⌈n/b⌉, the number of chunk proofs of a validity batch of n transactions for a
// circuit of b slots (docs §8.8). It is 1 for n ≤ b.
func ChunkCount(n, b int) int { return (n + b - 1) / b }

// WithdrawalLeaves returns wleaf[k] of docs §8.3 for a batch in which every transaction has status
// ok: the leaf of each withdraw and refund, 0 for every other transaction.
func WithdrawalLeaves(txs []Tx) []fr.Element {
	leaves := make([]fr.Element, len(txs))
	for k := range txs {
		if txs[k].Type.PaysOut() {
			leaves[k] = WithdrawalLeaf(txs[k].Address, txs[k].Amount)
		}
	}
	return leaves
}

// ChunkCommitments returns the commitments of the m = ⌈n/b⌉ chunks of the validity batch whose
// commitment is c, whose n transactions are txs (every one with status ok) and whose trace is
// trace (docs §8.8). Chunk k holds txs[k·b : min(n, (k+1)·b)]; its commitment is the §8.6
// commitment of that sub-list applied to trace[k·b-1] (c.PrevRoot for k = 0), with the deposit
// chain after the earlier chunks' deposits as its dq_before, so chunk k's prev_root and dq_before
// are chunk k-1's new_root and dq_after.
//
// It fails if the counts do not fit (len(txs) = len(trace) = c.TxCount ≥ 1, b ≥ 1, m ≤
// MaxChunks) or if c's new_root, dq_after or withdrawal_root is not the one txs and trace give.
// c's data_hash and trace_root are the caller's to check (L1 checks both for every batch).
func ChunkCommitments(c *Commitment, txs []Tx, trace []fr.Element, b int) ([]Commitment, error) {
	n := len(txs)
	switch {
	case b < 1:
		return nil, fmt.Errorf("l2: chunks of circuit batch size %d", b)
	case n == 0 || n > MaxBatchTxs || uint64(n) != c.TxCount || len(trace) != n:
		return nil, fmt.Errorf("l2: chunks of %d transactions with a trace of %d, commitment counts %d", n, len(trace), c.TxCount)
	case ChunkCount(n, b) > MaxChunks:
		return nil, fmt.Errorf("l2: %d transactions make %d chunks of %d, at most %d", n, ChunkCount(n, b), b, MaxChunks)
	}
	if !trace[n-1].Equal(&c.NewRoot) {
		return nil, fmt.Errorf("l2: new root is not the trace's last entry")
	}
	wleaves := WithdrawalLeaves(txs)
	if root := ListRoot(wleaves); !root.Equal(&c.WithdrawalRoot) {
		return nil, fmt.Errorf("l2: withdrawal root is not the root of the transactions' withdrawal leaves")
	}
	chunks := make([]Commitment, 0, ChunkCount(n, b))
	prev, dq := c.PrevRoot, c.DepositsBefore
	for lo := 0; lo < n; lo += b {
		hi := min(n, lo+b)
		ch := appliedCommitment(c.ChainID, c.BatchNumber, prev, dq, txs[lo:hi], trace[lo:hi])
		chunks = append(chunks, ch)
		prev, dq = ch.NewRoot, ch.DepositsAfter
	}
	if !dq.Equal(&c.DepositsAfter) {
		return nil, fmt.Errorf("l2: dq_after is not the deposit chain after the transactions' deposits")
	}
	return chunks, nil
}
