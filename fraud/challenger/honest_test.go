package challenger_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/fraudtest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
)

// TestHonestRunOnL1 (issue 6): 1,000 random honest batches (100 under -short) go through L1 —
// transfers, withdraws and L1 deposits, with some transactions that fail by the rules, which the
// sequencer drops — with two real challengers following the node, one per executor. Each batch
// is challenged in its own block with fuzzed fraud proofs: real proofs against it (a step proof
// of a random step, the final root or the withdrawal root proof) with one field mutated (a wrong
// step, batch or index, swapped roots, a flipped bit in a witness, ...) or a byte of their
// encoding changed, now and then one unmutated, now and then naming the previous batch. L1's
// judge must reject every one, and the challengers must agree with every batch and challenge
// none; at the end every batch is final, the bonds are back with the sequencer and nothing was
// burned.
func TestHonestRunOnL1(t *testing.T) {
	batches := 1000
	if testing.Short() {
		batches = 100
	}
	const signers = 6
	w := newWorld(t, signers)
	chs := []*challenger.Challenger{w.challenger(executors[0], 3, ""), w.challenger(executors[1], 4, "")}
	fuzzer := l1Key(5)
	seqBefore := w.balance(w.seqKey.Address())
	rng := rand.New(rand.NewPCG(6, 1000))
	for s := range signers {
		w.deposit(s, 1_000_000+rng.Uint64N(1_000_000))
	}
	w.blockOK()
	challenges, mutated := 0, 0
	verdicts := map[string]int{}
	var prev *batch
	for i := 1; i <= batches; i++ {
		txs := 1 + rng.IntN(batchSize-4)
		b := w.next(rng, func(s *l2.State) (l2.Tx, bool) {
			txs--
			return w.randomTx(rng, s), txs >= 0
		})
		w.post(b)
		deposits := rng.IntN(3) // for the next batch
		for range deposits {
			w.deposit(rng.IntN(signers), 1+rng.Uint64N(100_000))
		}
		proofs, err := fraudtest.HonestProofs(b.pre, &b.c, b.data, b.trace, nil)
		if err != nil {
			t.Fatal(err)
		}
		fuzzed := 2 + rng.IntN(3)
		for range fuzzed {
			target := b
			if prev != nil && rng.IntN(8) == 0 {
				target = prev // a proof of this batch against the one before
			}
			p := proofs[rng.IntN(len(proofs))]
			enc := p.Encode()
			switch x := rng.IntN(8); {
			case x < 5:
				enc = fraudtest.Mutate(rng, p).Encode()
				mutated++
			case x < 7:
				enc = fraudtest.MutateBytes(rng, enc)
				mutated++
			}
			w.send(fuzzer, chain.TxChallenge, &chain.Challenge{RollupID: rollupID, Batch: target.c.BatchNumber, Proof: enc})
		}
		challenges += fuzzed
		r := w.block()
		if r.Errs[0] != nil {
			t.Fatalf("batch %d rejected: %v", i, r.Errs[0])
		}
		if len(r.Errs) != 1+deposits+fuzzed {
			t.Fatalf("batch %d: block of %d transactions, sent %d", i, len(r.Errs), 1+deposits+fuzzed)
		}
		for k, err := range r.Errs[1:] {
			if k < deposits {
				if err != nil {
					t.Fatalf("batch %d: deposit: %v", i, err)
				}
			} else if !errors.Is(err, chain.ErrFraudNotProven) {
				t.Fatalf("batch %d: fuzzed challenge %d: %v, want %v", i, k-deposits, err, chain.ErrFraudNotProven)
			} else {
				verdicts[verdict(err)]++
			}
		}
		for _, e := range r.Events {
			if e.Kind == chain.EventChallengeUpheld || e.Kind == chain.EventBatchReverted {
				t.Fatalf("batch %d: L1 event %+v", i, e)
			}
		}
		if ro, root := w.rollup(), w.state.Root(); ro.HeadNumber != uint64(i) || ro.HeadRoot != root.Bytes() {
			t.Fatalf("after batch %d: rollup head %d %x", i, ro.HeadNumber, ro.HeadRoot)
		}
		for _, ch := range chs {
			if err := ch.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
		prev = b
	}
	for range window {
		w.blockOK()
	}
	root := w.state.Root()
	for _, ch := range chs {
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
		st := ch.Status()
		if st.Challenges != 0 || st.Checked != batches || st.Agreed != uint64(batches) || !st.AgreedRoot.Equal(&root) || len(st.Waiting) != 0 {
			t.Fatalf("%s challenger: %+v", st.Executor, st)
		}
	}
	ro := w.rollup()
	if ro.FinalNumber != uint64(batches) || ro.FinalRoot != root.Bytes() {
		t.Fatalf("final %d %x, want %d %x", ro.FinalNumber, ro.FinalRoot, batches, root.Bytes())
	}
	g, err := w.node.Chain().Global()
	if err != nil {
		t.Fatal(err)
	}
	if g.Bonded != 0 || g.Burned != 0 {
		t.Fatalf("bonds %+v after the run", g)
	}
	if got := w.balance(w.seqKey.Address()); got != seqBefore {
		t.Fatalf("sequencer balance %d, before the run %d", got, seqBefore)
	}
	if a, err := w.node.Account(fuzzer.Address()); err != nil || a.Balance != funds || a.Nonce != uint64(challenges) {
		t.Fatalf("fuzzer %+v (%v) after %d challenges", a, err, challenges)
	}
	if w.stats.deposits == 0 || w.stats.withdraws == 0 || w.stats.dropped == 0 || len(verdicts) != 3 {
		t.Fatalf("the run lacks a case: %+v, verdicts %v", w.stats, verdicts)
	}
	t.Logf("%d honest batches final (%d accounts; %+v); %d fuzzed challenges rejected by L1 (%d mutated, %d unmutated honest proofs): %v",
		batches, w.state.Len(), w.stats, challenges, mutated, challenges-mutated, verdicts)
}

// verdict names why L1's judge rejected a challenge: the proof does not decode, it does not
// match the batch (a witness, a step, another batch), or it is a well-formed proof of a step
// that re-executes as the commitment says.
func verdict(err error) string {
	switch {
	case errors.Is(err, fraud.ErrMalformed):
		return "malformed"
	case errors.Is(err, fraud.ErrMismatch):
		return "mismatch"
	}
	return "not fraud"
}
