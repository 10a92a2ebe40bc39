package proverpool_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
	"github.com/pqbridge/pqbridge/prover/proverpool"
	"github.com/pqbridge/pqbridge/prover/provertest"
)

const chainID = 11

// endpoint is a prover API server on loopback: a real prover.Service of the keys, or p.
type endpoint struct {
	srv *proverapi.Server
	url string
}

func startEndpoint(t *testing.T, keys *prover.Keys, p proverapi.Prover) *endpoint {
	t.Helper()
	return startEndpointAt(t, keys, p, "127.0.0.1:0")
}

// startEndpointAt starts the endpoint on addr (a restarted prover: the same address).
func startEndpointAt(t *testing.T, keys *prover.Keys, p proverapi.Prover, addr string) *endpoint {
	t.Helper()
	if p == nil {
		svc, err := prover.New(prover.Config{Keys: keys, Workers: 1, QueueSize: 4})
		if err != nil {
			t.Fatal(err)
		}
		if err := svc.Start(context.Background()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(svc.Stop)
		p = svc
	}
	srv, err := proverapi.NewServer(proverapi.ServerConfig{Keys: keys, Prover: p, MaxInFlight: 5, Workers: 1, ListenAddr: addr})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &endpoint{srv: srv, url: "http://" + srv.Addr().String()}
	t.Cleanup(e.kill)
	return e
}

// kill stops the server at once: connections under way are closed, as when the process dies.
func (e *endpoint) kill() {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	e.srv.Stop(ctx)
}

// hangingProver is a fault: it takes every job and never answers until the request ends.
type hangingProver struct{ took chan string }

func (h hangingProver) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	h.took <- job.ID
	<-ctx.Done()
	return nil, ctx.Err()
}

func newPool(t *testing.T, cfg proverpool.Config, eps ...*endpoint) *proverpool.Pool {
	t.Helper()
	for _, e := range eps {
		cfg.Endpoints = append(cfg.Endpoints, proverpool.Endpoint{URL: e.url})
	}
	if cfg.DownMin == 0 {
		cfg.DownMin = 50 * time.Millisecond
	}
	if cfg.Backoff == 0 {
		cfg.Backoff = 10 * time.Millisecond
	}
	cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	p, err := proverpool.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

func proverStats(t *testing.T, p *proverpool.Pool, url string) proverpool.ProverStats {
	t.Helper()
	for _, s := range p.Stats().Provers {
		if s.URL == url {
			return s
		}
	}
	t.Fatalf("no prover %s in the pool's stats", url)
	return proverpool.ProverStats{}
}

// proveAll proves the jobs concurrently on the pool and checks every result (the client
// checks each proof under the announced key; here: the job it answers).
func proveAll(t *testing.T, p *proverpool.Pool, jobs []*prover.Job) {
	t.Helper()
	var wg sync.WaitGroup
	for _, job := range jobs {
		wg.Go(func() {
			res, err := p.Prove(context.Background(), job)
			if err != nil {
				t.Errorf("job %s: %v", job.ID, err)
				return
			}
			h := job.Commitment.Hash()
			if res.ID != job.ID || !res.CommitmentHash.Equal(&h) {
				t.Errorf("job %s: result %s", job.ID, res.ID)
			}
		})
	}
	wg.Wait()
}

// TestSpread: jobs sent at once go to both provers, one each at a time (one worker each), and
// all are proven with no retry.
func TestSpread(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	a, b := startEndpoint(t, keys, nil), startEndpoint(t, keys, nil)
	p := newPool(t, proverpool.Config{}, a, b)
	if p.Params() != keys.Params || p.JobTimeout() != proverpool.DefaultJobTimeout(keys.Params) {
		t.Fatalf("pool of %v, timeout %v", p.Params(), p.JobTimeout())
	}
	jobs := provertest.Jobs(t, keys.Params, chainID, 2) // one each: both take one at once
	proveAll(t, p, jobs)
	st := p.Stats()
	if st.Retries != 0 || st.Waiting != 0 {
		t.Fatalf("stats %+v", st)
	}
	var total uint64
	for _, s := range st.Provers {
		if !s.Up || s.Workers != 1 || s.InFlight != 0 || s.JobsSucceeded == 0 || s.JobsFailed != 0 || s.JobsStarted != s.JobsSucceeded || s.ProofSeconds <= 0 {
			t.Errorf("prover %+v: want up, idle, some jobs proven, none failed", s)
		}
		total += s.JobsSucceeded
	}
	if total != uint64(len(jobs)) {
		t.Fatalf("%d jobs proven, want %d", total, len(jobs))
	}
}

// TestProverDiesMidJob: the prover holding a job dies (its connections close); the job is
// proven on the other one, and the dead one is down, then probed and refused while it stays
// dead.
func TestProverDiesMidJob(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	hang := hangingProver{took: make(chan string, 1)}
	a, b := startEndpoint(t, keys, hang), startEndpoint(t, keys, nil)
	p := newPool(t, proverpool.Config{}, a, b)
	jobs := provertest.Jobs(t, keys.Params, chainID, 2)
	go func() {
		<-hang.took // the first job is on a (first in the list, both idle)
		a.kill()
	}()
	proveAll(t, p, jobs[:1])
	st := p.Stats()
	sa, sb := proverStats(t, p, a.url), proverStats(t, p, b.url)
	if st.Retries != 1 || sa.Up || sa.JobsFailed != 1 || sa.JobsRetriedAway != 1 || sa.LastError == "" || sb.JobsSucceeded != 1 {
		t.Fatalf("after a's death: %+v", st)
	}
	// a stays dead: a later job goes to b, or to a probe of a that fails and moves it on.
	proveAll(t, p, jobs[1:])
	if sb = proverStats(t, p, b.url); sb.JobsSucceeded != 2 {
		t.Fatalf("b proved %d jobs, want 2", sb.JobsSucceeded)
	}
	if sa = proverStats(t, p, a.url); sa.JobsSucceeded != 0 || sa.Up {
		t.Fatalf("dead prover a: %+v", sa)
	}
}

// TestTimeoutRetried: a prover that takes a job and never answers loses it after the per-job
// timeout, to the other prover.
func TestTimeoutRetried(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	hang := hangingProver{took: make(chan string, 4)}
	a, b := startEndpoint(t, keys, hang), startEndpoint(t, keys, nil)
	job := provertest.Jobs(t, keys.Params, chainID, 1)[0]
	// A per-job timeout well above what b takes for this job here (a proof under -race is slow).
	t0 := time.Now()
	if _, err := newPool(t, proverpool.Config{}, b).Prove(context.Background(), job); err != nil {
		t.Fatal(err)
	}
	p := newPool(t, proverpool.Config{JobTimeout: 3*time.Since(t0) + time.Second}, a, b)
	res, err := p.Prove(context.Background(), job)
	if err != nil || res.ID != job.ID {
		t.Fatalf("job after a timeout: %v", err)
	}
	sa := proverStats(t, p, a.url)
	if sa.JobsFailed != 1 || sa.JobsRetriedAway != 1 || !strings.Contains(sa.LastError, "per-job timeout") {
		t.Fatalf("hanging prover: %+v", sa)
	}
	if <-hang.took != job.ID {
		t.Fatal("the hanging prover never had the job")
	}
	// Its API still answers: the probe brings it up again.
	deadline := time.Now().Add(30 * time.Second)
	for !proverStats(t, p, a.url).Up {
		if time.Now().After(deadline) {
			t.Fatalf("prover a never up again: %+v", proverStats(t, p, a.url))
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The caller's context ends the wait for a prover and the job: its error, not a retry.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	p2 := newPool(t, proverpool.Config{}, a)
	if _, err := p2.Prove(ctx, job); !errors.Is(err, context.DeadlineExceeded) || p2.Stats().Retries != 0 {
		t.Fatalf("cancelled job: %v, stats %+v", err, p2.Stats())
	}
}

// TestProverBack: the only prover of a pool dies; a job finds it down and waits for its probe;
// the prover restarted on its address is probed up, and the job is proven there.
func TestProverBack(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	a := startEndpoint(t, keys, nil)
	p := newPool(t, proverpool.Config{DownMin: 500 * time.Millisecond}, a)
	a.kill()
	job := provertest.Jobs(t, keys.Params, chainID, 1)[0]
	done := make(chan error, 1)
	go func() {
		_, err := p.Prove(context.Background(), job)
		done <- err
	}()
	deadline := time.Now().Add(30 * time.Second)
	for proverStats(t, p, a.url).JobsFailed == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the job never failed on the dead prover")
		}
		time.Sleep(5 * time.Millisecond)
	}
	startEndpointAt(t, keys, nil, strings.TrimPrefix(a.url, "http://"))
	if err := <-done; err != nil {
		t.Fatalf("job after the prover's restart: %v", err)
	}
	if s := proverStats(t, p, a.url); !s.Up || s.JobsSucceeded != 1 || s.JobsFailed != 1 || s.LastError != "" {
		t.Fatalf("restarted prover: %+v", s)
	}
}

// TestAllDown: with every prover dead, the job fails after Attempts attempts with an error
// naming each attempt and its prover; probes keep failing and the provers stay down.
func TestAllDown(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	a, b := startEndpoint(t, keys, nil), startEndpoint(t, keys, nil)
	// Down for a minute: no probe runs before the third attempt (on a loaded machine one could,
	// adding a failure to a's count in the error).
	p := newPool(t, proverpool.Config{Attempts: 3, DownMin: time.Minute}, a, b)
	a.kill()
	b.kill()
	job := provertest.Jobs(t, keys.Params, chainID, 1)[0]
	_, err := p.Prove(context.Background(), job)
	if err == nil {
		t.Fatal("a job proven with every prover dead")
	}
	msg := err.Error()
	for _, want := range []string{"job batch-1 failed on every attempt (3)", "attempt 1 on " + a.url, "attempt 2 on " + b.url,
		"attempt 3 on the pool: no prover is up; " + a.url + " down after 1 failures in a row", "connection refused"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not say %q", msg, want)
		}
	}
	if st := p.Stats(); st.Retries != 2 || st.Provers[0].Up || st.Provers[1].Up {
		t.Fatalf("stats %+v", st)
	}
}

// TestRefusals: a pool refuses, naming it, a prover with other parameters than the first's,
// one its Check refuses, one that does not answer, the same prover twice; and jobs of other
// parameters.
func TestRefusals(t *testing.T) {
	keys := provertest.Keys(t, provertest.Params())
	otherParams := prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	if otherParams == keys.Params {
		otherParams.Depth++
	}
	// A fault: a prover announcing otherParams (its keys are labelled with them; it is refused
	// from its info alone, so it needs no setup of its own and never proves).
	otherKeys := &prover.Keys{Params: otherParams, CS: keys.CS, PK: keys.PK, VK: keys.VK}
	other := startEndpoint(t, otherKeys, hangingProver{took: make(chan string, 1)})
	a := startEndpoint(t, keys, nil)
	dead := startEndpoint(t, keys, nil)
	dead.kill()
	for _, tc := range []struct {
		name  string
		eps   []*endpoint
		check func(string, *proverapi.Info) error
		want  string
	}{
		{"other params", []*endpoint{a, other}, nil, fmt.Sprintf("prover %s proves %v, the pool's first prover (%s) %v", other.url, otherParams, a.url, keys.Params)},
		{"check", []*endpoint{a}, func(url string, info *proverapi.Info) error { return fmt.Errorf("not the rollup's key %s", info.KeyID) },
			"prover " + a.url + ": not the rollup's key"},
		{"unreachable", []*endpoint{a, dead}, nil, "prover " + dead.url + ": "},
		{"twice", []*endpoint{a, a}, nil, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := proverpool.Config{Check: tc.check}
			for _, e := range tc.eps {
				cfg.Endpoints = append(cfg.Endpoints, proverpool.Endpoint{URL: e.url})
			}
			if _, err := proverpool.New(context.Background(), cfg); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
	if _, err := proverpool.New(context.Background(), proverpool.Config{}); err == nil {
		t.Fatal("a pool of no provers")
	}
	p := newPool(t, proverpool.Config{}, a)
	job := provertest.Jobs(t, otherParams, chainID, 1)[0]
	if _, err := p.Prove(context.Background(), job); !errors.Is(err, prover.ErrNotProvable) || !strings.Contains(err.Error(), "the prover pool proves") {
		t.Fatalf("job of other parameters: %v", err)
	}
	// A job whose witness does not prove its commitment: the prover's 422 not_provable is the
	// job's fault, returned at once, and the prover stays up.
	bad := *provertest.Jobs(t, keys.Params, chainID, 1)[0]
	bad.Commitment.TxCount++
	_, err := p.Prove(context.Background(), &bad)
	if !errors.Is(err, prover.ErrNotProvable) || !strings.Contains(err.Error(), "as it would be by any prover") {
		t.Fatalf("job not provable: %v", err)
	}
	if st := p.Stats(); st.Retries != 0 || !st.Provers[0].Up || st.Provers[0].JobsFailed != 1 {
		t.Fatalf("after a job not provable: %+v", st)
	}
}
