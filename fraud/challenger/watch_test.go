package challenger_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// faultySource is fault injection over a real Source: its BatchData calls fail while fail > 0.
type faultySource struct {
	challenger.Source
	fail atomic.Int32
}

var errInjectedL1 = errors.New("injected L1 failure")

func (s *faultySource) BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error) {
	if s.fail.Add(-1) >= 0 {
		return nil, errInjectedL1
	}
	s.fail.Store(0)
	return s.Source.BatchData(ctx, rollupID, number)
}

// TestChallengerLoudWhileL1CallsFail: while reading a fraudulent batch's data from L1 fails, the
// challenger counts the failures, turns stuck and not ready at the third in a row; once the call
// works it is ready again and the fraud is still upheld within the window.
func TestChallengerLoudWhileL1CallsFail(t *testing.T) {
	w := fundedWorld(t)
	src := &faultySource{Source: nodesource.New(w.node)}
	ch, err := challenger.New(w.ctx, challenger.Config{FS: vfs.NewMem(), Source: src, Key: l1Key(3), L1ChainID: l1ChainID,
		RollupID: rollupID})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ch.Stop() })
	step := func() {
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	honest := w.honestTxs()
	bad := fraudKinds[0].lie(w, honest) // wrong-balance
	w.post(bad)
	w.blockOK()
	src.fail.Store(3)
	for i := 1; i <= 3; i++ {
		err := ch.Step(w.ctx)
		st := ch.Status()
		if !errors.Is(err, errInjectedL1) || st.Failures != i || st.Errors != i || st.Stuck() != (i == 3) || (ch.Ready() == nil) != (i < 3) {
			t.Fatalf("failure %d: err %v, status %+v, ready %v", i, err, st, ch.Ready())
		}
	}
	w.challengeRound(fraudKinds[0].name, bad, honest, func() *challenger.Challenger { return ch }, 3, step)
	if st := ch.Status(); st.Failures != 0 || st.Errors != 3 || st.Upheld != 1 {
		t.Fatalf("after L1 answers again: %+v", st)
	}
}

// TestChallengerAfterAFraudFinalizedWhileItWasDown: a middle-root fraud finalizes while no
// challenger runs (L1's history is then the rollup's). A challenger started later applies it as
// final and goes on checking: the next fraud is upheld.
func TestChallengerAfterAFraudFinalizedWhileItWasDown(t *testing.T) {
	w := fundedWorld(t)
	bad := fraudKinds[len(fraudKinds)-1].lie(w, w.honestTxs())
	w.post(bad)
	w.blockOK()
	for range window {
		w.blockOK()
	}
	if r := w.rollup(); r.FinalNumber != bad.c.BatchNumber {
		t.Fatalf("final through batch %d, want %d", r.FinalNumber, bad.c.BatchNumber)
	}
	ch := w.challenger(challenger.ExecutorCore, 3, "")
	if err := ch.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	if st := ch.Status(); st.Agreed != bad.c.BatchNumber || ch.Ready() != nil {
		t.Fatalf("after the final fraud: %+v, ready %v", st, ch.Ready())
	}
	w.fraudRound(0, func() *challenger.Challenger { return ch }, 3, func() {
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// buggyJudge is fault injection: an L1 judge with a bug that upholds the first challenge of
// batch bad whatever its proof, and otherwise judges as fraud.Judge.
type buggyJudge struct {
	bad   uint64
	fired atomic.Bool
}

func (j *buggyJudge) Judge(c *fraud.Case) (bool, error) {
	if c.Commitment.BatchNumber == j.bad && j.fired.CompareAndSwap(false, true) {
		return true, nil
	}
	return fraud.Judge{}.Judge(c)
}

// TestChallengerFollowsL1RevertingAnAgreedBatch: L1 reverts a batch the challenger agreed with
// (its judge upheld a bogus challenge). L1 decides the rollup's history, so the challenger reads
// the event log again from its start: it skips the reverted batch, agrees with its repost and
// gets the next fraud upheld, never stuck.
func TestChallengerFollowsL1RevertingAnAgreedBatch(t *testing.T) {
	w := fundedWorldJudged(t, &buggyJudge{bad: 2})
	ch := w.challenger(challenger.ExecutorCore, 3, "")
	step := func() {
		t.Helper()
		if err := ch.Step(w.ctx); err != nil {
			t.Fatal(err)
		}
	}
	step()
	honest := w.honestTxs()
	good := w.lie(honest, checked)
	w.post(good)
	w.blockOK()
	step()
	if st := ch.Status(); st.Agreed != 2 {
		t.Fatalf("agreed %d, want 2", st.Agreed)
	}
	w.send(l1Key(6), chain.TxChallenge, &chain.Challenge{RollupID: rollupID, Batch: 2, Proof: []byte{1}})
	w.blockOK()
	step()
	if st := ch.Status(); st.Agreed != 1 || st.Errors != 0 || ch.Ready() != nil {
		t.Fatalf("after L1 reverted the agreed batch: %+v, ready %v", st, ch.Ready())
	}
	w.revert(good)
	w.post(w.lie(honest, checked))
	w.blockOK()
	step()
	if st := ch.Status(); st.Agreed != 2 || st.Errors != 0 {
		t.Fatalf("after the repost: %+v", st)
	}
	w.fraudRound(0, func() *challenger.Challenger { return ch }, 3, step)
}
