package challenger_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/pqbridge/pqbridge/fraud/challenger"
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
	src := &faultySource{Source: challenger.NodeSource(w.node)}
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
