package settlement_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/settlement"
)

// errInjectedSend is the failure failingSubmit injects.
var errInjectedSend = errors.New("fault injection: L1 send refused")

// failingSubmit is fault injection: the native target whose first fails Submits fail.
type failingSubmit struct {
	settlement.Target
	fails atomic.Int32 // Submits left to fail
	calls atomic.Int32
}

func (f *failingSubmit) Submit(ctx context.Context, s *settlement.Submission) (settlement.TxRef, error) {
	f.calls.Add(1)
	if f.fails.Add(-1) >= 0 {
		return settlement.TxRef{}, errInjectedSend
	}
	return f.Target.Submit(ctx, s)
}

// stepClock is a clock the test moves; each reading moves it 1 ns (MaxBatchAge is 1 ns).
type stepClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *stepClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Nanosecond)
	return c.now
}

func (c *stepClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// TestSettlementRetries: a target that refuses the first 5 sends of batch 1 (fault injection).
// Each failure draws a wait in [0, ceiling], the ceiling doubling from RetryBase to RetryCap;
// before the wait is over the batch is not sent again; at the 3rd failure (RetryBudget) the
// batch is counted over budget once and still retried; once the target recovers it is posted,
// no longer over budget, and finalizes.
func TestSettlementRetries(t *testing.T) {
	const failures, budget = 5, 3
	base, ceil := 200*time.Millisecond, 800*time.Millisecond
	if got := []time.Duration{settlement.RetryCeiling(base, ceil, 1), settlement.RetryCeiling(base, ceil, 2),
		settlement.RetryCeiling(base, ceil, 3), settlement.RetryCeiling(base, ceil, 40)}; got[0] != base ||
		got[1] != 2*base || got[2] != ceil || got[3] != ceil {
		t.Fatalf("ceilings %v; want 200ms 400ms 800ms 800ms", got)
	}
	clock := &stepClock{now: time.Unix(1_000_000, 0)}
	fs := &failingSubmit{}
	fs.fails.Store(failures)
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, Now: clock.Now, RetryBase: base, RetryCap: ceil,
		RetryBudget: budget}, worldOpts{depth: depth, batchSize: batchSize,
		target: func(tg settlement.Target) settlement.Target { fs.Target = tg; return fs }})
	w.deposit(2, 1000)
	wantCeil := []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond, 800 * time.Millisecond}
	for k := 1; k <= failures; k++ {
		err := w.eng.Step(w.ctx)
		if !errors.Is(err, errInjectedSend) {
			t.Fatalf("attempt %d: step %v; want the injected send failure", k, err)
		}
		r := w.eng.Retries()
		over := uint64(0)
		if k >= budget {
			over = 1
		}
		if r.Batch != 1 || r.Attempts != k || r.Retries != uint64(k) || r.Ceiling != wantCeil[k-1] || r.Wait > r.Ceiling ||
			r.Exhausted != over || r.OverBudget != over || !strings.Contains(r.LastError, errInjectedSend.Error()) {
			t.Fatalf("after failure %d: %+v; want batch 1, ceiling %s, over budget %d", k, r, wantCeil[k-1], over)
		}
		if int(fs.calls.Load()) != k {
			t.Fatalf("after failure %d: %d sends", k, fs.calls.Load())
		}
		if r.Wait > time.Millisecond { // not due yet: no send
			err := w.eng.Step(w.ctx)
			if !errors.Is(err, errInjectedSend) || !strings.Contains(err.Error(), "posting retried after") || int(fs.calls.Load()) != k {
				t.Fatalf("step before the wait is over: %v, %d sends; want the wait reported and no send", err, fs.calls.Load())
			}
		}
		clock.advance(r.Ceiling)
	}
	w.settle() // the target has recovered: batch 1 posted
	r := w.eng.Retries()
	if r.Batch != 0 || r.Retries != failures || r.Exhausted != 1 || r.OverBudget != 0 || fs.calls.Load() != failures+1 {
		t.Fatalf("after recovery: %+v, %d sends; want %d retries, 1 exhausted, none over budget", r, fs.calls.Load(), failures)
	}
	w.finalizeAll()
	if fin := w.eng.LastFinal(); fin.Number != 1 || w.rollupState().FinalNumber != 1 {
		t.Fatalf("final batch %d (L1 %d); want 1", fin.Number, w.rollupState().FinalNumber)
	}
}
