package chain

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

const MaxChunkProofSize = l1api.MaxChunkProofSize

// chunkCount is ⌈n/b⌉ (l2.ChunkCount) for the uint64 counts of a submission, b ≥ 1.
func chunkCount(n, b uint64) uint64 {
	m := n / b
	if n%b != 0 {
		m++
	}
	return m
}

// verifyValidity verifies a validity batch's proof (docs/protocol.md §8.8). A batch of at most
// the rollup's batch size B carries no trace and one proof of its commitment. A larger one
// carries its trace (checked as an optimistic batch's) and, as its proof, the RLP list of the
// proofs of its m = ⌈n/B⌉ chunks: proof k must verify against chunk k's commitment, which L1
// derives from the batch's data, trace and deposit chain (l2.ChunkCommitments), so each proof
// binds its predecessor's new root and deposit chain.
func (x *executor) verifyValidity(r *Rollup, p *SubmitBatch, c *l2.Commitment, txs []l2.Tx) error {
	if x.c.cfg.Verifier == nil {
		return ErrNoVerifier
	}
	b := r.Config.BatchSize
	if p.TxCount <= b {
		if len(p.Trace) != 0 {
			return fmt.Errorf("%w: a validity batch of at most the batch size (%d) carries no trace", ErrTrace, b)
		}
		if err := x.c.cfg.Verifier.Verify(r.Config.VKHash, c.Hash(), p.Proof); err != nil {
			return fmt.Errorf("%w: batch %d: %w", ErrBadProof, p.Number, err)
		}
		return nil
	}
	_, trace, err := checkTrace(p.Trace, c)
	if err != nil {
		return err
	}
	proofs, err := splitChunkProofs(p.Proof, int(chunkCount(p.TxCount, b)))
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrBadProof, p.Number, err)
	}
	chunks, err := l2.ChunkCommitments(c, txs, trace, int(b))
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrChunkedBatch, p.Number, err)
	}
	for k := range chunks {
		if err := x.c.cfg.Verifier.Verify(r.Config.VKHash, chunks[k].Hash(), proofs[k]); err != nil {
			return fmt.Errorf("%w: batch %d chunk %d: %w", ErrBadProof, p.Number, k, err)
		}
	}
	return nil
}

// splitChunkProofs is l1api.SplitChunkProofs.
func splitChunkProofs(b []byte, m int) ([][]byte, error) { return l1api.SplitChunkProofs(b, m) }

// EncodeChunkProofs is l1api.EncodeChunkProofs.
func EncodeChunkProofs(proofs [][]byte) ([]byte, error) { return l1api.EncodeChunkProofs(proofs) }

// checkTrace checks a batch's published trace against its commitment: one canonical root per
// transaction whose list root (§8.1) is the trace root, so that every position beyond the
// transactions is zero and each entry a fraud proof names is the one L1 stores. It returns the
// trace as stored (the roots' 32-byte forms concatenated) and as field elements.
func checkTrace(trace [][32]byte, c *l2.Commitment) ([]byte, []fr.Element, error) {
	if uint64(len(trace)) != c.TxCount {
		return nil, nil, fmt.Errorf("%w: %d roots for %d transactions", ErrTrace, len(trace), c.TxCount)
	}
	roots := make([]fr.Element, len(trace))
	stored := make([]byte, 0, 32*len(trace))
	for k := range trace {
		var err error
		if roots[k], err = fieldElement(trace[k]); err != nil {
			return nil, nil, fmt.Errorf("%w: trace[%d]: %v", ErrTrace, k, err)
		}
		stored = append(stored, trace[k][:]...)
	}
	if got := l2.ListRoot(roots); !got.Equal(&c.TraceRoot) {
		return nil, nil, fmt.Errorf("%w: the trace's list root is %x", ErrTrace, got.Bytes())
	}
	return stored, roots, nil
}
