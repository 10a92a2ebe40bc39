package settlement

import (
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/pqbridge/pqbridge/internal/backoff"
)

// Defaults of the posting retries (Config.RetryBase, RetryCap, RetryBudget left zero).
const (
	DefaultRetryBase   = 200 * time.Millisecond
	DefaultRetryCap    = 30 * time.Second
	DefaultRetryBudget = 20 // failed attempts of one batch before it is reported over budget
)

// RetryCeiling is the most a posting waits after its attempt-th failure (attempt ≥ 1): base·2^(attempt−1),
// capped at cap. The wait itself is drawn uniformly in [0, RetryCeiling] ("full jitter").
func RetryCeiling(base, cap time.Duration, attempt int) time.Duration {
	return backoff.Ceiling(base, cap, attempt)
}

// RetryStats is what the engine reports of its posting retries (metrics, Engine.Retries).
type RetryStats struct {
	Retries    uint64 // failed postings, over all batches (each one retried)
	Exhausted  uint64 // batches that went over the retry budget (each counted once)
	OverBudget uint64 // batches over the budget now (not yet posted)
	// The batch waiting for a retry now (0: none): its failed attempts, the wait drawn after the
	// last one and its ceiling, and the last error.
	Batch     uint64
	Attempts  int
	Wait      time.Duration
	Ceiling   time.Duration
	LastError string
}

// retrying is the step's retry state of one batch (memory only: a restart posts at once).
type retrying struct {
	attempts  int
	next      time.Time
	wait      time.Duration
	ceiling   time.Duration
	lastErr   error
	exhausted bool
}

// retryCounters are the engine's published retry figures (read without the step lock).
type retryCounters struct {
	retries, exhausted, overBudget atomic.Uint64
	current                        atomic.Pointer[RetryStats]
}

// Retries reports the posting retries. It does not wait for a step.
func (e *Engine) Retries() RetryStats {
	var s RetryStats
	if c := e.retry.current.Load(); c != nil {
		s = *c
	}
	s.Retries, s.Exhausted, s.OverBudget = e.retry.retries.Load(), e.retry.exhausted.Load(), e.retry.overBudget.Load()
	return s
}

// retryDue says whether batch n may be posted now; if not, the error the step reports.
func (e *Engine) retryDue(n uint64) error {
	r := e.retrying[n]
	if r == nil || !e.cfg.Now().Before(r.next) {
		return nil
	}
	return fmt.Errorf("settlement: batch %d: posting retried after %s (%d failed attempts): %w", n, r.wait, r.attempts, r.lastErr)
}

// retryFailed records a failed posting of batch n and draws the wait before the next attempt:
// full jitter under a capped exponential ceiling. Past the budget it logs once and counts the
// batch over budget, and keeps retrying at the cap: settlement never gives a batch up.
func (e *Engine) retryFailed(n uint64, err error) {
	r := e.retrying[n]
	if r == nil {
		r = &retrying{}
		e.retrying[n] = r
	}
	r.attempts++
	r.lastErr = err
	r.ceiling = RetryCeiling(e.cfg.RetryBase, e.cfg.RetryCap, r.attempts)
	r.wait = backoff.Full(r.ceiling)
	r.next = e.cfg.Now().Add(r.wait)
	e.retry.retries.Add(1)
	if r.attempts >= e.cfg.RetryBudget && !r.exhausted {
		r.exhausted = true
		e.retry.exhausted.Add(1)
		e.retry.overBudget.Add(1)
		e.log.Error("settlement retry budget exhausted: still retrying at the cap", "batch", n, "attempts", r.attempts, "err", err,
			"cap", e.cfg.RetryCap)
	}
	e.retry.current.Store(&RetryStats{Batch: n, Attempts: r.attempts, Wait: r.wait, Ceiling: r.ceiling, LastError: err.Error()})
}

// retryPosted forgets batch n's retries once it is posted.
func (e *Engine) retryPosted(n uint64) {
	r := e.retrying[n]
	if r == nil {
		return
	}
	delete(e.retrying, n)
	if r.exhausted {
		e.retry.overBudget.Add(^uint64(0))
		e.log.Info("batch posted after exhausting its retry budget", "batch", n, "attempts", r.attempts)
	}
	if c := e.retry.current.Load(); c != nil && c.Batch == n {
		e.retry.current.Store(nil)
	}
}

// stepFailureLogEvery is how often a step failing again and again (L1 down) is logged.
const stepFailureLogEvery = 30 * time.Second

// stepFailures keeps a failing step from logging at every poll: the first failure is logged, then
// one line per stepFailureLogEvery with the count, and one line when a step succeeds again.
type stepFailures struct {
	n      int
	logged time.Time
}

func (f *stepFailures) report(log *slog.Logger, err error, now time.Time) {
	if err == nil {
		if f.n > 0 {
			log.Info("settlement step succeeds again", "failed_steps", f.n)
		}
		*f = stepFailures{}
		return
	}
	f.n++
	if f.n == 1 || now.Sub(f.logged) >= stepFailureLogEvery {
		log.Warn("settlement step failed", "err", err, "failed_in_a_row", f.n)
		f.logged = now
	}
}
