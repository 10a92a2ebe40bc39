package chain

import (
	"testing"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// chunkedParams are tiny circuit parameters (the test config's tree depth, 2 slots), so that the
// dev setup and each proof take well under a second.
var chunkedParams = prover.Params{Depth: 4, BatchSize: 2}

// proveOnL2 executes txs on a clone of pre with witnesses (the Go reference), proves the validity
// submission p with real Groth16 proofs (one, or one per chunk, docs §8.8) and sets its proof, and
// its trace for a chunked batch. It returns the chunk proofs.
func proveOnL2(t *testing.T, keys *prover.Keys, pre *l2.State, p *SubmitBatch, txs []l2.Tx, chainID uint64) [][]byte {
	t.Helper()
	src := &prover.ReferenceSource{State: pre.Clone(), Options: l2.ApplyOptions{ChainID: chainID}}
	trace, err := src.ApplyBatchWitness(txs)
	if err != nil {
		t.Fatal(err)
	}
	rec := BatchRecord{Number: p.Number, PrevRoot: p.PrevRoot, NewRoot: p.NewRoot, DepositsBefore: p.DepositsBefore,
		DepositsAfter: p.DepositsAfter, WithdrawalRoot: p.WithdrawalRoot, DataHash: p.DataHash, TraceRoot: p.TraceRoot,
		TxCount: p.TxCount}
	c, err := rec.Commitment(chainID)
	if err != nil {
		t.Fatal(err)
	}
	assigns, err := prover.AssignChunks(chunkedParams, &prover.Batch{ChainID: chainID, BatchNumber: p.Number,
		DepositsBefore: c.DepositsBefore, Txs: txs}, trace, &c)
	if err != nil {
		t.Fatal(err)
	}
	proofs := make([][]byte, len(assigns))
	for k, a := range assigns {
		proof, err := prover.Prove(keys, a, nil)
		if err != nil {
			t.Fatalf("chunk %d: %v", k, err)
		}
		if proofs[k], err = prover.MarshalProof(proof); err != nil {
			t.Fatal(err)
		}
	}
	if len(proofs) == 1 {
		p.Proof = proofs[0]
		return proofs
	}
	p.Trace = nil
	for _, root := range trace.PostRoots {
		p.Trace = append(p.Trace, root.Bytes())
	}
	if p.Proof, err = EncodeChunkProofs(proofs); err != nil {
		t.Fatal(err)
	}
	return proofs
}

// TestChunkedValidityBatchProofsOnL1: real Groth16 chunk proofs (dev setup of chunkedParams) of
// a batch of 4·B transactions verify on L1 with prover.Verifier, and the submission with two of
// them swapped is refused naming the first wrong chunk.
func TestChunkedValidityBatchProofsOnL1(t *testing.T) {
	keys, err := prover.DevSetup(chunkedParams, nil)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := prover.VerifyingKeyBytes(keys.VK)
	if err != nil {
		t.Fatal(err)
	}
	ver := prover.NewVerifier()
	vkID, err := ver.Add(vk)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarnessWith(t, 3, faultInjectionJudge{}, ver)
	seq, user := h.users[0], h.users[1]
	cfg := testConfig(h, seq, 7, nil, 0)
	cfg.BatchSize, cfg.VKHash = uint64(chunkedParams.BatchSize), vkID
	s := h.register(seq, cfg)
	k, k2 := l2Key(t, 1), l2Key(t, 2)
	h.mustOK(h.tx(user, TxDeposit, depositPayload(s.id, k.Public(), 10_000)),
		h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)),
		h.tx(user, TxDeposit, depositPayload(s.id, k2.Public(), 500)))

	fund := []l2.Tx{s.depositTx(t, h, 0, 1)}
	pre := s.state.Clone()
	p, _ := s.batch(t, h, ModeValidity, fund)
	proveOnL2(t, keys, pre, p, fund, 7)
	h.mustOK(h.tx(seq, TxSubmitBatch, p))

	txs := chunkedTxs(t, h, s, k)
	pre = s.state.Clone()
	p, _ = s.batch(t, h, ModeValidity, txs)
	proofs := proveOnL2(t, keys, pre, p, txs, 7)
	if len(proofs) != 4 {
		t.Fatalf("%d chunk proofs, want 4", len(proofs))
	}
	swapped := *p
	if swapped.Proof, err = EncodeChunkProofs([][]byte{proofs[0], proofs[2], proofs[1], proofs[3]}); err != nil {
		t.Fatal(err)
	}
	h.mustFailWith(h.tx(seq, TxSubmitBatch, &swapped), ErrBadProof, "batch 2 chunk 1")
	h.mustOK(h.tx(seq, TxSubmitBatch, p))
	if r := h.rollup(s.id); r.FinalNumber != 2 || r.FinalConsumed != 3 || r.FinalRoot != p.NewRoot {
		t.Fatalf("chunked validity batch not final: final %d consumed %d", r.FinalNumber, r.FinalConsumed)
	}
}
