package proverpool

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pqbridge/pqbridge/internal/backoff"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// member is one prover of the pool. Everything below client is guarded by Pool.mu.
type member struct {
	url     string
	client  *proverapi.Client
	workers int            // jobs sent at once at most (Info.Workers)
	vks     []prover.KeyID // the verifying keys it holds (Info.KeyIDs, refreshed at probes)

	inFlight int  // jobs sent now
	up       bool // false: marked down, a probe is scheduled
	fails    int  // failures in a row (jobs and probes): the down time doubles with each
	lastErr  error
	probe    *time.Timer // the next probe while down
	probeAt  time.Time   // when it is due

	jobsStarted, jobsSucceeded, jobsFailed, jobsRetriedAway uint64
	proofSeconds                                            float64
}

// errAllDown is an attempt that found no prover up.
var errAllDown = errors.New("no prover is up")

// acquire waits for a prover to send the job to: among those up with a free slot, the one the
// job has not failed on yet, of fewest failures in a row, lowest load, and fewest jobs
// started. It fails at once when every prover is down (errAllDown, with each one's last
// error), and when ctx ends. Only provers holding the job's verifying key vk (zero: the
// pool's) are considered; it fails with prover.ErrNotProvable if none does.
func (p *Pool) acquire(ctx context.Context, tried []attempt, vk prover.KeyID) (*member, error) {
	failedOn := make(map[string]bool, len(tried))
	for _, a := range tried {
		failedOn[a.url] = true
	}
	p.mu.Lock()
	p.waiting++
	defer func() {
		p.waiting--
		p.mu.Unlock()
	}()
	for {
		var best *member
		anyUp, anyHas := false, false
		for _, c := range p.members {
			if !c.has(vk) {
				continue
			}
			anyUp, anyHas = anyUp || c.up, true
			if c.up && c.inFlight < c.workers && (best == nil || better(c, best, failedOn)) {
				best = c
			}
		}
		if best != nil {
			best.inFlight++
			return best, nil
		}
		if !anyHas {
			return nil, fmt.Errorf("%w: no prover of the pool holds verifying key %v", prover.ErrNotProvable, vk)
		}
		if !anyUp {
			var b strings.Builder
			for _, c := range p.members {
				fmt.Fprintf(&b, "; %s down after %d failures in a row: %v", c.url, c.fails, c.lastErr)
			}
			return nil, fmt.Errorf("%w%s", errAllDown, b.String())
		}
		changed := p.changed
		p.mu.Unlock()
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-changed:
		}
		p.mu.Lock()
		if err != nil {
			return nil, err
		}
	}
}

// has reports whether m holds verifying key vk (zero: the pool's, which every member holds).
func (m *member) has(vk prover.KeyID) bool {
	return vk == (prover.KeyID{}) || slices.Contains(m.vks, vk)
}

// HasVK reports whether a prover of the pool holds verifying key vk (as its last Info said).
func (p *Pool) HasVK(vk prover.KeyID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range p.members {
		if slices.Contains(m.vks, vk) {
			return true
		}
	}
	return false
}

// HoldersOf lists the URLs of the provers holding verifying key vk.
func (p *Pool) HoldersOf(vk prover.KeyID) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, m := range p.members {
		if slices.Contains(m.vks, vk) {
			out = append(out, m.url)
		}
	}
	return out
}

// better reports whether a is a better prover for the job than b.
func better(a, b *member, failedOn map[string]bool) bool {
	if failedOn[a.url] != failedOn[b.url] {
		return !failedOn[a.url]
	}
	if a.fails != b.fails {
		return a.fails < b.fails
	}
	// Load as a fraction of the workers: a*/aw < b*/bw.
	if la, lb := a.inFlight*b.workers, b.inFlight*a.workers; la != lb {
		return la < lb
	}
	return a.jobsStarted < b.jobsStarted
}

// started counts a job sent to m.
func (p *Pool) started(m *member) {
	p.mu.Lock()
	m.jobsStarted++
	p.mu.Unlock()
}

// retriedAway counts a job that failed on m and goes to another prover.
func (p *Pool) retriedAway(m *member) {
	p.mu.Lock()
	m.jobsRetriedAway++
	p.retries++
	p.mu.Unlock()
}

// release frees m's slot after an attempt: a success clears m's failures; a failure that is
// the prover's (not the job's, nor the caller's who left) marks it down (markDown).
func (p *Pool) release(ctx context.Context, m *member, d time.Duration, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m.inFlight--
	switch {
	case err == nil:
		m.jobsSucceeded++
		m.proofSeconds += d.Seconds()
		m.fails, m.lastErr = 0, nil
	case ctx.Err() != nil && !errors.Is(err, errJobTimeout):
		// The caller left: nothing is known about the prover.
	case jobFault(err):
		m.jobsFailed++
	default:
		m.jobsFailed++
		if m.up {
			p.markDown(m, err)
		}
	}
	p.notify()
}

// markDown takes m out of use for DownMin, doubled for each failure in a row, at most
// DownMax, and schedules its probe. p.mu is held.
func (p *Pool) markDown(m *member, err error) {
	m.up, m.lastErr = false, err
	m.fails++
	down := backoff.Ceiling(p.cfg.DownMin, p.cfg.DownMax, m.fails)
	p.log.Warn("prover marked down", "prover", m.url, "for", down, "failures_in_a_row", m.fails, "err", err)
	if p.closed {
		return
	}
	m.probeAt = time.Now().Add(down)
	m.probe = time.AfterFunc(down, func() { p.probe(m) })
}

// nextProbe is when the first probe of a prover that is down is due, and the channel closed when
// a prover comes up (or a slot frees) before.
func (p *Pool) nextProbe() (time.Time, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var first time.Time
	for _, m := range p.members {
		if !m.up && (first.IsZero() || m.probeAt.Before(first)) {
			first = m.probeAt
		}
	}
	return first, p.changed
}

// probe asks a prover that is down what it proves: if it answers with the pool's parameters
// and key (and Check's consent) it is up again, else down for longer.
func (p *Pool) probe(m *member) {
	info, err := m.client.Info(context.Background()) // bounded by the client's InfoTimeout
	if err == nil {
		err = p.check(m.url, info)
	}
	if err == nil && info.Workers != m.workers {
		p.log.Info("prover workers changed", "prover", m.url, "workers", info.Workers, "before", m.workers)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if err != nil {
		p.markDown(m, fmt.Errorf("probe: %w", err))
		return
	}
	m.up, m.workers, m.vks = true, info.Workers, info.KeyIDs
	p.log.Info("prover up again", "prover", m.url, "after_failures", m.fails)
	p.notify()
}

// notify wakes the jobs waiting for a prover. p.mu is held.
func (p *Pool) notify() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// Close stops probing the provers that are down. Jobs under way go on; Prove still works
// with the provers up.
func (p *Pool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, m := range p.members {
		if m.probe != nil {
			m.probe.Stop()
		}
	}
}

// ProverStats are one prover's figures (cmd/pqsequencer's metrics).
type ProverStats struct {
	URL                                                     string
	Up                                                      bool // not marked down
	Workers, InFlight                                       int
	JobsStarted, JobsSucceeded, JobsFailed, JobsRetriedAway uint64
	ProofSeconds                                            float64 // summed over the jobs proven
	LastError                                               string  // its last failure, until a job succeeds on it
}

// Stats are the pool's figures.
type Stats struct {
	Waiting int    // jobs waiting for a free prover
	Retries uint64 // jobs sent to another prover after a failure, in total
	Provers []ProverStats
}

// Stats returns the pool's figures now.
func (p *Pool) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := Stats{Waiting: p.waiting, Retries: p.retries, Provers: make([]ProverStats, len(p.members))}
	for i, m := range p.members {
		s.Provers[i] = ProverStats{URL: m.url, Up: m.up, Workers: m.workers, InFlight: m.inFlight,
			JobsStarted: m.jobsStarted, JobsSucceeded: m.jobsSucceeded, JobsFailed: m.jobsFailed,
			JobsRetriedAway: m.jobsRetriedAway, ProofSeconds: m.proofSeconds}
		if m.lastErr != nil {
			s.Provers[i].LastError = m.lastErr.Error()
		}
	}
	return s
}

// String names the pool's provers, for logs.
func (p *Pool) String() string {
	urls := make([]string, len(p.members))
	for i, m := range p.members {
		urls[i] = m.url
	}
	return fmt.Sprintf("prover pool %v of %v", urls, p.params)
}
