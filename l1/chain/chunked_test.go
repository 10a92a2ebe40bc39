package chain

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l2"
)

// chunkedTxs is a batch of 8 valid transactions for a rollup funded by setupFunded (account 1
// holds key k), consuming queue entries 1 and 2 (deposits of 500 into account 2, queued by the
// caller): with a batch size of 2 it makes 4 chunks, with deposits in chunks 0 and 2.
func chunkedTxs(t *testing.T, h *harness, s *l2Side, k *l2.PrivateKey) []l2.Tx {
	t.Helper()
	signed := func(tx l2.Tx) l2.Tx {
		if err := l2.SignTx(k, s.cfg.L2ChainID, &tx); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	transfer := func(nonce uint64) l2.Tx {
		return signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 2, Amount: 10, Nonce: nonce})
	}
	dest := common.Address{0xc4}
	return []l2.Tx{
		s.depositTx(t, h, 1, 2), transfer(0),
		withdrawTx(t, k, s.cfg.L2ChainID, 1, 1, 30, dest), transfer(2),
		s.depositTx(t, h, 2, 2), withdrawTx(t, k, s.cfg.L2ChainID, 1, 3, 40, dest),
		transfer(4), withdrawTx(t, k, s.cfg.L2ChainID, 1, 5, 50, dest),
	}
}

// chunked turns a validity submission of more than batch size b transactions into a chunked one:
// its trace and the RLP list of proofs bound to its chunks' commitments (docs §8.8).
func chunked(t *testing.T, p *SubmitBatch, res l2.BatchResult, txs []l2.Tx, chainID uint64, b int) ([]l2.Commitment, [][]byte) {
	t.Helper()
	p.Trace = nil
	for _, root := range res.PostRoots {
		p.Trace = append(p.Trace, root.Bytes())
	}
	rec := BatchRecord{Number: p.Number, PrevRoot: p.PrevRoot, NewRoot: p.NewRoot, DepositsBefore: p.DepositsBefore,
		DepositsAfter: p.DepositsAfter, WithdrawalRoot: p.WithdrawalRoot, DataHash: p.DataHash, TraceRoot: p.TraceRoot,
		TxCount: p.TxCount}
	c, err := rec.Commitment(chainID)
	if err != nil {
		t.Fatal(err)
	}
	chunks, err := l2.ChunkCommitments(&c, txs, res.PostRoots, b)
	if err != nil {
		t.Fatal(err)
	}
	proofs := make([][]byte, len(chunks))
	for k := range chunks {
		proofs[k] = fakeProof(chunks[k].Hash())
	}
	if p.Proof, err = EncodeChunkProofs(proofs); err != nil {
		t.Fatal(err)
	}
	return chunks, proofs
}

// mustFailWith produces a block with one transaction and checks it failed with want, its
// message naming what.
func (h *harness) mustFailWith(raw []byte, want error, what string) {
	h.t.Helper()
	r := h.block(raw)
	if !errors.Is(r.Errs[0], want) || !strings.Contains(r.Errs[0].Error(), what) {
		h.t.Fatalf("got error %v, want %v naming %q", r.Errs[0], want, what)
	}
}

func TestChunkedValidityBatch(t *testing.T) {
	h := newHarness(t, 3)
	seq, user := h.users[0], h.users[1]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.BatchSize = 2
	s, k := setupFunded(t, h, cfg)
	k2 := l2Key(t, 2)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)),
		h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)))
	txs := chunkedTxs(t, h, s, k)
	p, res := s.batch(t, h, ModeValidity, txs)
	chunks, proofs := chunked(t, p, res, txs, 7, 2)
	if len(chunks) != 4 {
		t.Fatalf("%d chunks, want 4", len(chunks))
	}
	variant := func(edit func(q *SubmitBatch)) []byte {
		q := *p
		q.Trace = slices.Clone(p.Trace)
		edit(&q)
		return h.tx(seq, TxSubmitBatch, &q)
	}
	withProofs := func(ps ...[]byte) func(q *SubmitBatch) {
		return func(q *SubmitBatch) {
			var err error
			if q.Proof, err = EncodeChunkProofs(ps); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A wrong root at the end of chunk 0, with the trace root of that trace: chunk 0's statement
	// (new root) and chunk 1's (prev root) change, so the honest proofs no longer verify.
	wrongBoundary := func(q *SubmitBatch) {
		q.Trace[1] = res.PostRoots[0].Bytes()
		roots := slices.Clone(res.PostRoots)
		roots[1] = res.PostRoots[0]
		root := l2.ListRoot(roots)
		q.TraceRoot = root.Bytes()
	}
	for _, tc := range []struct {
		name string
		edit func(q *SubmitBatch)
		want error
		what string
	}{
		{"swapped", withProofs(proofs[0], proofs[2], proofs[1], proofs[3]), ErrBadProof, "batch 2 chunk 1"},
		{"reordered", withProofs(proofs[3], proofs[2], proofs[1], proofs[0]), ErrBadProof, "batch 2 chunk 0"},
		{"one missing", withProofs(proofs[:3]...), ErrBadProof, "batch 2: 3 chunk proofs for 4 chunks"},
		{"one extra", withProofs(append(slices.Clone(proofs), proofs[3])...), ErrBadProof, "batch 2: 5 chunk proofs for 4 chunks"},
		{"single proof", func(q *SubmitBatch) { q.Proof = []byte("valid") }, ErrBadProof, "not an RLP list of chunk proofs"},
		{"oversized chunk proof", withProofs(proofs[0], proofs[1], make([]byte, MaxChunkProofSize+1), proofs[3]), ErrBadProof, "chunk 2: proof is a list or more than 1024 bytes"},
		{"no trace", func(q *SubmitBatch) { q.Trace = nil }, ErrTrace, "0 roots for 8 transactions"},
		{"wrong trace entry at a chunk boundary", wrongBoundary, ErrBadProof, "batch 2 chunk 0"},
		{"new root not the trace's last", func(q *SubmitBatch) { q.NewRoot = q.Trace[6] }, ErrChunkedBatch, "new root"},
		{"withdrawal root", func(q *SubmitBatch) { q.WithdrawalRoot = [32]byte{} }, ErrChunkedBatch, "withdrawal root"},
	} {
		t.Run(tc.name, func(t *testing.T) { h.mustFailWith(variant(tc.edit), tc.want, tc.what) })
	}

	before := len(h.verifier.inputs)
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.FinalNumber != 2 || r.FinalConsumed != 3 {
		t.Fatalf("chunked validity batch not final at once: final %d, consumed %d", r.FinalNumber, r.FinalConsumed)
	}
	got := h.verifier.inputs[before:]
	if len(got) != len(chunks) {
		t.Fatalf("the verifier was asked %d times, want once per chunk (%d)", len(got), len(chunks))
	}
	for k := range chunks {
		if want := chunks[k].Hash(); !got[k].Equal(&want) {
			t.Fatalf("chunk %d verified against %s, want its commitment hash %s", k, got[k].String(), want.String())
		}
	}
	// The batch's withdrawal tree is the whole batch's (docs §8.6): withdrawal 7 is claimable.
	dest := common.Address{0xc4}
	h.mustOK(h.tx(h.users[2], TxClaimWithdrawal, &ClaimWithdrawal{RollupID: s.id, Batch: 2, Index: 7, Address: dest,
		Amount: 50, Siblings: ListWitness(res.WithdrawalLeaves, 7)}))
	if got := h.balance(dest); got != 50 {
		t.Fatalf("claimed %d, want 50", got)
	}
}

func TestChunkedValidityBatchTooLarge(t *testing.T) {
	h := newHarness(t, 2)
	seq := h.users[0]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.BatchSize = 2
	s, _ := setupFunded(t, h, cfg)
	noops := make([]l2.Tx, 2*l2.MaxChunks+1)
	p, res := s.batch(t, h, ModeValidity, noops)
	p.Trace = nil
	for _, root := range res.PostRoots {
		p.Trace = append(p.Trace, root.Bytes())
	}
	h.mustFailWith(h.tx(seq, TxSubmitBatch, p), ErrTxCount, "validity batch of 129 transactions, at most 64 chunks of the rollup's batch size 2")
}
