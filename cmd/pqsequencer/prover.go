package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
	"github.com/pqbridge/pqbridge/prover/proverpool"
)

// proverFlags are the prover pool's options (-prover and its companions; docs/sequencer.md).
type proverFlags struct {
	urls       string // -prover: comma-separated prover API URLs
	tokenFiles string // -prover-token-file: one file for all, or one per URL
	jobTimeout time.Duration
	attempts   int
}

func (f *proverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.urls, "prover", "", "prover API base URL (pqprover -listen), e.g. http://127.0.0.1:8646, or a comma-separated list of them, a pool: prove batches for validity mode (with -l1)")
	fs.StringVar(&f.tokenFiles, "prover-token-file", "", "file (mode 0600) holding the bearer token of the -prover API (its -token-file), or a comma-separated list of one file per -prover URL; empty: none")
	fs.DurationVar(&f.jobTimeout, "prover-job-timeout", 0, "with -prover: the longest one prover may take for one proof before the job goes to another (0: a minute plus 200ms per slot and tree level)")
	fs.IntVar(&f.attempts, "prover-attempts", proverpool.DefaultAttempts, "with -prover: the provers one proof is tried on, retries after a failure or timeout included")
}

// endpoints pairs each -prover URL with its token.
func (f *proverFlags) endpoints() ([]proverpool.Endpoint, error) {
	urls := strings.Split(f.urls, ",")
	var files []string
	if f.tokenFiles != "" {
		files = strings.Split(f.tokenFiles, ",")
		if len(files) != 1 && len(files) != len(urls) {
			return nil, fmt.Errorf("-prover-token-file: %d files for %d -prover URLs: give one for all, or one per URL", len(files), len(urls))
		}
	}
	eps := make([]proverpool.Endpoint, len(urls))
	for i, u := range urls {
		eps[i].URL = strings.TrimSpace(u)
		if len(files) == 0 {
			continue
		}
		file := strings.TrimSpace(files[min(i, len(files)-1)])
		tok, err := keystore.ReadTokenFile(file)
		if err != nil {
			return nil, fmt.Errorf("-prover-token-file %s: %w", file, err)
		}
		eps[i].Token = tok
	}
	return eps, nil
}

// connectProvers makes the pool of the -prover URLs, refusing (naming it) a prover whose
// proofs the rollup could not use: another tree depth, fewer slots than the batches cut, or a
// verifying key other than the rollup's (L1 would reject every proof). The pool checks the
// same again on every prover it probes after a failure.
func connectProvers(ctx context.Context, f *proverFlags, rc *l1api.RollupConfig, batchSize int, log *slog.Logger) (*proverpool.Pool, error) {
	eps, err := f.endpoints()
	if err != nil {
		return nil, err
	}
	pool, err := proverpool.New(ctx, proverpool.Config{Endpoints: eps, JobTimeout: f.jobTimeout, Attempts: f.attempts, Logger: log,
		Check: func(url string, info *proverapi.Info) error { return checkProver(url, info, rc, batchSize) }})
	if err != nil {
		return nil, fmt.Errorf("-prover: %w", err)
	}
	return pool, nil
}

// logPendingVK says, when a config change to another verifying key is pending, which provers
// of the pool already hold it (they prove under it from the activation height on) or that none
// does (batches then go out optimistically from that height until one does).
func logPendingVK(pool *proverpool.Pool, r *l1api.Rollup, log *slog.Logger) {
	if r.Pending == nil || r.Pending.Config.VKHash == r.Config.VKHash {
		return
	}
	vk := prover.KeyID(r.Pending.Config.VKHash)
	if holders := pool.HoldersOf(vk); len(holders) > 0 {
		log.Info("provers holding the pending verifying key", "vk", vk.String(), "activate_at", r.Pending.ActivateAt, "provers", holders)
		return
	}
	log.Warn("no prover holds the pending verifying key: batches go out optimistically from its activation height until one does",
		"vk", vk.String(), "activate_at", r.Pending.ActivateAt)
}

// checkProver refuses a prover whose proofs the rollup could not use.
func checkProver(url string, info *proverapi.Info, rc *l1api.RollupConfig, batchSize int) error {
	switch {
	case info.Params.Depth != int(rc.TreeDepth):
		return fmt.Errorf("tree depth %d, the prover at %s proves depth %d (%v)", rc.TreeDepth, url, info.Params.Depth, info.Params)
	case info.Params.BatchSize < batchSize:
		return fmt.Errorf("batches of up to %d transactions, the prover at %s proves at most %d (%v): lower -batch-size or use a larger prover",
			batchSize, url, info.Params.BatchSize, info.Params)
	case !slices.Contains(info.KeyIDs, prover.KeyID(rc.VKHash)):
		return fmt.Errorf("verifying key %x, the prover at %s proves under %v: L1 would reject its proofs", rc.VKHash, url, info.KeyIDs)
	}
	return nil
}

// poolMetrics emits the prover pool's figures: per prover (label prover, its URL) and for the
// pool.
func poolMetrics(e *obs.Emitter, pool *proverpool.Pool) {
	st := pool.Stats()
	e.Gauge("pqsequencer_prover_pool_jobs_waiting", "Proof jobs waiting for a free prover of the pool.", float64(st.Waiting))
	e.Counter("pqsequencer_prover_pool_retries_total", "Proof jobs sent to another prover after a failure or a timeout.", float64(st.Retries))
	for _, p := range st.Provers {
		e.Bool("pqsequencer_prover_up", "1 while the prover is in use, 0 while it is marked down after a failure (probed before reuse).", p.Up, "prover", p.URL)
		e.Gauge("pqsequencer_prover_jobs_in_flight", "Proof jobs sent to the prover and not answered yet.", float64(p.InFlight), "prover", p.URL)
		e.Gauge("pqsequencer_prover_workers", "Proofs the prover makes at once (its /v1/info), the most the pool sends it at once.", float64(p.Workers), "prover", p.URL)
		for _, c := range []struct {
			event string
			n     uint64
		}{{"started", p.JobsStarted}, {"succeeded", p.JobsSucceeded}, {"failed", p.JobsFailed}, {"retried_away", p.JobsRetriedAway}} {
			e.Counter("pqsequencer_prover_jobs_total", "Proof jobs of the prover by event: started (sent), succeeded, failed (error, lost connection, timeout), retried_away (failed here, then sent to another prover).",
				float64(c.n), "prover", p.URL, "event", c.event)
		}
		e.Counter("pqsequencer_prover_proof_seconds_total", "Seconds the prover took for the proofs it made (request to checked proof), summed: divide by jobs succeeded for the mean.",
			p.ProofSeconds, "prover", p.URL)
	}
}
