// Package proverpool proves batch jobs on several provers (pqprover -listen endpoints of
// prover/proverapi): each job goes to the healthiest, least-loaded prover; a job that fails
// there (connection lost, the process died, 5xx, busy) or outlives the per-job timeout is
// retried on another prover, a bounded number of times with backoff. A prover that fails is
// marked down for a while (exponential, capped) and probed (GET /v1/info, its parameters and
// key checked again) before it gets another job. Pool is the settlement engine's JobProver of
// the sequencer's -prover URL,URL,...; docs/prover.md describes it.
package proverpool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// Defaults of Config.
const (
	DefaultAttempts = 4
	DefaultBackoff  = 100 * time.Millisecond
	DefaultDownMin  = time.Second
	DefaultDownMax  = time.Minute
)

// DefaultJobTimeout is the bound of one attempt at a job of p when Config.JobTimeout is zero:
// generous, a minute plus 200 ms per slot and tree level (≈15 ms is measured on 2 cores), so
// that only a prover that hangs reaches it: 2m17s at depth 24, B = 16.
func DefaultJobTimeout(p prover.Params) time.Duration {
	return time.Minute + time.Duration(p.BatchSize*p.Depth)*200*time.Millisecond
}

// clientProveTimeout is the clients' own bound of a proof, never the one reached: the pool's
// JobTimeout (a context) bounds each attempt.
const clientProveTimeout = 24 * time.Hour

// Endpoint is one prover of the pool.
type Endpoint struct {
	URL   string // the prover API's base URL, e.g. http://127.0.0.1:8646
	Token string // its bearer token (pqprover -token-file), if any
}

// Config configures a Pool.
type Config struct {
	Endpoints []Endpoint
	// Check, if set, is run on every endpoint's Info at start and at every probe: an error
	// refuses the endpoint (the sequencer checks the rollup's tree depth, batch size and key).
	Check func(url string, info *proverapi.Info) error
	// JobTimeout bounds one attempt at one job (the prover's queue and the network included)
	// [DefaultJobTimeout of the provers' parameters].
	JobTimeout time.Duration
	// Attempts bounds the provers one job is tried on, retries included [DefaultAttempts];
	// finding every prover down counts as an attempt, after which the job waits for the
	// first probe (a prover that comes up ends the wait).
	Attempts int
	// Backoff is the wait before the first retry, doubling for each next one (at most
	// DownMax) [DefaultBackoff].
	Backoff time.Duration
	// A failed prover is down for DownMin, doubling with each failure in a row, at most
	// DownMax [DefaultDownMin, DefaultDownMax].
	DownMin, DownMax time.Duration
	HTTP             *http.Client // nil: proverapi's default
	Logger           *slog.Logger
}

// Pool proves jobs on several provers; it implements settlement.JobProver. It is safe for
// concurrent use: up to each prover's worker count (its Info) of jobs run on it at once, the
// others wait.
type Pool struct {
	cfg     Config
	log     *slog.Logger
	params  prover.Params
	keyID   prover.KeyID
	members []*member

	mu      sync.Mutex
	changed chan struct{} // closed (and replaced) when a slot frees or a prover's state changes
	waiting int           // jobs waiting for a prover
	retries uint64        // jobs sent to another prover after a failure
	closed  bool          // Close was called: no more probes
}

// New asks every endpoint what it proves and refuses, naming it, one that does not answer, one
// that Check refuses, and one whose parameters or verifying key differ from the first's: a
// pool serves one parameter set and one key.
func New(ctx context.Context, cfg Config) (*Pool, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("proverpool: no prover endpoints")
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.DownMin <= 0 {
		cfg.DownMin = DefaultDownMin
	}
	if cfg.DownMax < cfg.DownMin {
		cfg.DownMax = max(DefaultDownMax, cfg.DownMin)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &Pool{cfg: cfg, log: cfg.Logger, changed: make(chan struct{})}
	seen := map[string]bool{}
	for i, e := range cfg.Endpoints {
		// The pool retries on other provers: the client itself never retries a job, and the
		// pool's per-job timeout bounds each attempt.
		c, err := proverapi.NewClient(proverapi.ClientConfig{URL: e.URL, Token: e.Token, HTTP: cfg.HTTP, Retries: -1,
			ProveTimeout: clientProveTimeout})
		if err != nil {
			return nil, err
		}
		if seen[c.URL()] {
			return nil, fmt.Errorf("proverpool: prover %s given twice", c.URL())
		}
		seen[c.URL()] = true
		info, err := startInfo(ctx, c)
		if err != nil {
			return nil, fmt.Errorf("proverpool: prover %s: %w", c.URL(), err)
		}
		if i == 0 {
			p.params, p.keyID = info.Params, info.KeyID
		}
		if err := p.check(c.URL(), info); err != nil {
			return nil, err
		}
		p.members = append(p.members, &member{url: c.URL(), client: c, workers: info.Workers, vks: info.KeyIDs, up: true})
	}
	if p.cfg.JobTimeout <= 0 {
		p.cfg.JobTimeout = DefaultJobTimeout(p.params)
	}
	return p, nil
}

// startInfo asks for a prover's Info at start, a few times: provers and the sequencer may be
// started together.
func startInfo(ctx context.Context, c *proverapi.Client) (*proverapi.Info, error) {
	wait := proverapi.DefaultRetryBackoff
	for attempt := 0; ; attempt++ {
		info, err := c.Info(ctx)
		if err == nil || attempt >= proverapi.DefaultRetries {
			return info, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// check refuses a prover whose Info is not the pool's parameters and key, or that Check refuses.
func (p *Pool) check(url string, info *proverapi.Info) error {
	switch {
	case info.Params != p.params:
		return fmt.Errorf("proverpool: prover %s proves %v, the pool's first prover (%s) %v: every prover of a pool needs the same keys",
			url, info.Params, p.cfg.Endpoints[0].URL, p.params)
	case !slices.Contains(info.KeyIDs, p.keyID):
		return fmt.Errorf("proverpool: prover %s proves under keys %v, the pool's first prover (%s) under %s: every prover of a pool needs its keys",
			url, info.KeyIDs, p.cfg.Endpoints[0].URL, p.keyID)
	}
	if p.cfg.Check != nil {
		if err := p.cfg.Check(url, info); err != nil {
			return fmt.Errorf("proverpool: prover %s: %w", url, err)
		}
	}
	return nil
}

// Params are the parameters every prover of the pool proves.
func (p *Pool) Params() prover.Params { return p.params }

// KeyID is the verifying key every prover of the pool proves under.
func (p *Pool) KeyID() prover.KeyID { return p.keyID }

// JobTimeout is the bound of one attempt at one job.
func (p *Pool) JobTimeout() time.Duration { return p.cfg.JobTimeout }

// attempt is one try of a job on one prover, for the error after the last.
type attempt struct {
	url string
	err error
}

// Prove proves the job on the best prover free, and on another one after a failure, until it
// is proven, Attempts provers have failed (the error names each attempt), the failure is the
// job's own (not provable, malformed: no prover would do better), or ctx ends.
func (p *Pool) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	if job.Params != p.params {
		return nil, fmt.Errorf("%w: job %s is for %v; the prover pool proves %v", prover.ErrNotProvable, job.ID, job.Params, p.params)
	}
	var (
		tried []attempt
		wait  = p.cfg.Backoff
	)
	for len(tried) < p.cfg.Attempts {
		m, err := p.acquire(ctx, tried, job.VK)
		if errors.Is(err, errAllDown) {
			tried = append(tried, attempt{"the pool", err})
			if len(tried) == p.cfg.Attempts {
				break
			}
			// Wait for the first probe (and as long again for its answer): a prover that
			// comes up ends the wait at once.
			probeAt, changed := p.nextProbe()
			d := max(wait, time.Until(probeAt)+p.cfg.DownMin)
			p.log.Warn("prover job waits: every prover is down", "job", job.ID, "attempt", len(tried), "wait", d)
			wait = min(2*wait, p.cfg.DownMax)
			if !p.waitUp(ctx, d, changed) {
				return nil, failed(job, tried, ctx.Err())
			}
			continue
		}
		if err != nil {
			return nil, failed(job, tried, err)
		}
		if len(tried) > 0 {
			last := tried[len(tried)-1]
			p.log.Info("prover job retried", "job", job.ID, "prover", m.url, "from", last.url, "why", last.err, "attempt", len(tried)+1)
		}
		start := time.Now()
		res, err := p.attempt(ctx, m, job, len(tried)+1)
		p.release(ctx, m, time.Since(start), err)
		switch {
		case err == nil:
			p.log.Info("prover job done", "job", job.ID, "prover", m.url, "seconds", time.Since(start).Seconds(), "attempts", len(tried)+1)
			return res, nil
		case ctx.Err() != nil:
			return nil, failed(job, append(tried, attempt{m.url, err}), ctx.Err())
		case jobFault(err):
			return nil, fmt.Errorf("proverpool: job %s refused by %s, as it would be by any prover: %w", job.ID, m.url, err)
		}
		tried = append(tried, attempt{m.url, err})
		if len(tried) == p.cfg.Attempts {
			break
		}
		p.retriedAway(m)
		p.log.Warn("prover job failed, retrying on another prover", "job", job.ID, "prover", m.url, "err", err,
			"attempt", len(tried), "backoff", wait)
		if !p.sleep(ctx, &wait) {
			return nil, failed(job, tried, ctx.Err())
		}
	}
	return nil, failed(job, tried, nil)
}

// waitUp waits d, or until changed is closed; it returns false if ctx ended first.
func (p *Pool) waitUp(ctx context.Context, d time.Duration, changed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-changed:
	case <-t.C:
	}
	return true
}

// sleep waits *wait, then doubles it (at most DownMax); it returns false if ctx ended first.
func (p *Pool) sleep(ctx context.Context, wait *time.Duration) bool {
	t := time.NewTimer(*wait)
	defer t.Stop()
	*wait = min(2**wait, p.cfg.DownMax)
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// attempt runs the job on m within the per-job timeout.
func (p *Pool) attempt(ctx context.Context, m *member, job *prover.Job, n int) (*prover.Result, error) {
	p.started(m)
	p.log.Info("prover job started", "job", job.ID, "batch", job.Commitment.BatchNumber, "prover", m.url, "attempt", n)
	jctx, cancel := context.WithTimeoutCause(ctx, p.cfg.JobTimeout, errJobTimeout)
	defer cancel()
	res, err := m.client.Prove(jctx, job)
	if err != nil && ctx.Err() == nil && errors.Is(context.Cause(jctx), errJobTimeout) {
		return nil, fmt.Errorf("no answer within %v: %w", p.cfg.JobTimeout, errJobTimeout)
	}
	return res, err
}

// errJobTimeout is an attempt that outlived Config.JobTimeout.
var errJobTimeout = errors.New("per-job timeout")

// jobFault reports whether err is the job's own fault: no prover would prove it.
func jobFault(err error) bool {
	if errors.Is(err, prover.ErrNotProvable) {
		return true
	}
	if e, ok := errors.AsType[*proverapi.Error](err); ok {
		switch e.Code {
		case proverapi.CodeBadJob, proverapi.CodeTooLarge, proverapi.CodeNotProvable:
			return true
		}
	}
	return false
}

// failed is the error of a job that no prover proved: every attempt, and why it stopped.
func failed(job *prover.Job, tried []attempt, cause error) error {
	var b strings.Builder
	for i, a := range tried {
		fmt.Fprintf(&b, "; attempt %d on %s: %v", i+1, a.url, a.err)
	}
	if cause != nil {
		return fmt.Errorf("proverpool: job %s not proven after %d attempts: %w%s", job.ID, len(tried), cause, b.String())
	}
	return fmt.Errorf("proverpool: job %s failed on every attempt (%d)%s", job.ID, len(tried), b.String())
}
