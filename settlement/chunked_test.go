package settlement_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/provertest"
	"github.com/pqbridge/pqbridge/settlement"
)

// jobLog is a JobProver that passes every job to the real one and records the job IDs it saw.
type jobLog struct {
	real settlement.JobProver
	mu   sync.Mutex
	ids  []string
}

func (j *jobLog) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	j.mu.Lock()
	j.ids = append(j.ids, job.ID)
	j.mu.Unlock()
	return j.real.Prove(ctx, job)
}

// TestChunkedValidityBatchSettles: under PolicyValidity with validity batches cut at 4·B, a batch
// of 4·B transactions (transfers, and a deposit in a chunk after the first) is proven by the in-process
// prover.Service as 4 chunk jobs (real Groth16 proofs, dev setup), posted with its trace, verified
// by L1 (prover.Verifier) and final at once; the batches of at most B keep one proof. The
// witnesses come from the core (as in cmd/pqsequencer): one core state follows the batches, and
// the Go reference executes nothing.
func TestChunkedValidityBatchSettles(t *testing.T) {
	p := prover.Params{Depth: 4, BatchSize: 2}
	if testing.Short() { // -race: the smallest circuit, 4 chunks of 1
		p = prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	}
	n := 4 * p.BatchSize
	keys := provertest.Keys(t, p) // one dev setup per parameters and test binary
	vk, err := prover.VerifyingKeyBytes(keys.VK)
	if err != nil {
		t.Fatal(err)
	}
	ver := prover.NewVerifier()
	vkID, err := ver.Add(vk)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := prover.New(prover.Config{Keys: keys, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	jobs := &jobLog{real: svc}
	pre := &corePreStates{}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyValidity, MaxValidityTxs: n, NoCrossCheck: true,
		Prover: &settlement.ServiceProver{Service: jobs, Params: p, ChainID: l2ChainID}, ProofDeadline: time.Minute},
		worldOpts{depth: p.Depth, batchSize: p.BatchSize, verifier: ver, vkHash: vkID,
			preStates: func(s *sequencer.Sequencer) settlement.PreStates { pre.seq = s; return pre }})
	w.deposit(2, 1000)
	w.settle()
	want := []string{"batch-1"} // 2 deposits: one proof, or 2 chunks of 1 (-short)
	if p.BatchSize == 1 {
		want = []string{"batch-1-chunk-0", "batch-1-chunk-1"}
	}
	if got := slices.Sorted(slices.Values(jobs.ids)); !slices.Equal(got, want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}

	for i := range p.BatchSize + 1 {
		w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(i % 2), To: uint32(1 - i%2), Amount: 5}))
	}
	w.deposit(1, 300) // transaction B+1: a chunk after the first consumes a deposit
	for i := range n - p.BatchSize - 2 {
		w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(i % 3), To: uint32((i + 1) % 3), Amount: 3}))
	}
	w.settle()
	w.finalizeAll()

	sts := w.eng.Status()
	if len(sts) != 2 {
		t.Fatalf("%d batches, want 2: %+v", len(sts), sts)
	}
	if s := sts[1]; s.Mode != settlement.ModeValidity || s.TxCount != uint64(n) || s.State != settlement.StateFinalized {
		t.Fatalf("batch 2: %+v, want a final validity batch of %d transactions", s, n)
	}
	want = append(want, "batch-2-chunk-0", "batch-2-chunk-1", "batch-2-chunk-2", "batch-2-chunk-3")
	if got := slices.Sorted(slices.Values(jobs.ids)); !slices.Equal(got, want) {
		t.Fatalf("jobs %v, want %v", got, want)
	}
	rec, err := w.node.Batch(w.rollup, 2)
	if err != nil {
		t.Fatal(err)
	}
	r := w.rollupState()
	if rec.Mode != chain.ModeValidity || rec.TxCount != uint64(n) || r.FinalNumber != 2 || r.FinalConsumed != 3 || r.FinalRoot != rec.NewRoot {
		t.Fatalf("L1 batch 2 %+v, rollup final %d consumed %d", rec, r.FinalNumber, r.FinalConsumed)
	} // Each proven transaction was executed once, in the core, for its witness, on one core state
	// that followed batch 1 to batch 2; the Go reference executed none (the cross-check off).
	if got, want := pre.witnessed.Load(), uint64(2+n); got != want || pre.built.Load() != 1 {
		t.Fatalf("%d transactions witnessed in the core on %d states, want %d on 1", got, pre.built.Load(), want)
	}
	if got := w.eng.ReferenceTxs(); got != 0 {
		t.Fatalf("the engine executed %d transactions with the Go reference, want 0", got)
	}
}
