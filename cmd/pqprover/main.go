// Command pqprover is the validity prover as its own process: it loads the Groth16 keys of one
// parameter set and proves batch jobs (prover.EncodeJob's JSON, made by the settlement engine)
// with a prover.Service of N workers.
//
// Three ways to feed it:
//
//	pqprover -keys DIR -depth 24 -batch 16 -listen 127.0.0.1:8646
//	    the prover API over HTTP (prover/proverapi): POST /v1/prove, GET /v1/info; the
//	    sequencer proves through it with -prover http://127.0.0.1:8646. It prints
//	    "listening on HOST:PORT" on standard output once the keys are loaded and it serves;
//	pqprover -keys DIR -depth 24 -batch 16 < jobs.jsonl > results.jsonl
//	    one job per line on standard input, one result (prover.EncodeResult) per line on
//	    standard output, in completion order;
//	pqprover -keys DIR -depth 24 -batch 16 -jobs IN -out OUT [-watch 2s]
//	    proves every IN/<name>.job.json that has no OUT/<name>.proof.json yet, writing the result
//	    there (or OUT/<name>.error.txt); with -watch it keeps polling IN until interrupted.
//
// -dev-setup makes dev keys when DIR has none (devnet only: see prover.DevSetup). Options come
// from flags, PQBRIDGE_<FLAG> variables or a -config file (cmd/internal/cliconf); logs are slog
// on standard error (-log-format, -log-level), with the proving progress lines; -metrics serves
// Prometheus metrics, /healthz and /readyz (cmd/internal/obs). SIGINT or SIGTERM stop it
// gracefully: with -listen, proofs under way are answered (for up to a minute) before it exits.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/consensys/gnark/logger"
	"github.com/rs/zerolog"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// shutdownGrace bounds how long a stopping -listen prover waits for the proofs it accepted.
const shutdownGrace = time.Minute

type config struct {
	keysDir      string
	params       prover.Params
	devSetup     bool
	workers      int
	queue        int
	jobsDir      string
	outDir       string
	watch        time.Duration
	listen       string
	tokenFile    string
	proveTimeout time.Duration
	verbose      bool
	obs          obs.Flags
}

var spec = cliconf.Spec{
	Short: "pqbridge validity prover",
	Long: `pqprover loads the Groth16 keys of one parameter set (--depth, --batch) from --keys and proves
batch jobs with --workers workers: over HTTP with --listen (the prover API the sequencer's
--prover calls), from *.job.json files in --jobs with results in --out, or one JSON job per
line on standard input with one result per line on standard output. --dev-setup makes dev keys
when the key directory has none (devnets only). SIGINT or SIGTERM stop it gracefully.`,
	Example: `  pqprover --keys /var/lib/pqprover/keys --depth 24 --batch 16 --listen 127.0.0.1:8646
  pqprover --keys DIR --depth 24 --batch 16 < jobs.jsonl > results.jsonl
  pqprover --keys DIR --depth 24 --batch 16 --jobs IN --out OUT --watch 2s`,
}

func main() {
	var c config
	fs := flag.NewFlagSet("pqprover", flag.ExitOnError)
	fs.StringVar(&c.keysDir, "keys", "", "key directory root (required): keys of -depth and -batch in DIR/batch-v2-d<D>-b<B>; DIR,DIR2,... serves several key sets (a rotated verifying key), jobs name theirs by VK ID, the first by default")
	fs.IntVar(&c.params.Depth, "depth", 24, "state tree depth D")
	fs.IntVar(&c.params.BatchSize, "batch", 16, "transaction slots B")
	fs.BoolVar(&c.devSetup, "dev-setup", false, "make dev keys if the key directory has none (devnet only)")
	fs.IntVar(&c.workers, "workers", 1, "proofs made at once")
	fs.IntVar(&c.queue, "queue", 16, "jobs waiting for a worker; with -listen, more jobs than -workers + -queue are refused as busy")
	fs.StringVar(&c.listen, "listen", "", "serve the prover API over HTTP on this address (e.g. 127.0.0.1:8646; port 0 picks one; no host, as in :8646, is loopback: name 0.0.0.0 for every interface)")
	fs.StringVar(&c.tokenFile, "token-file", "", "with -listen: file (mode 0600) holding the bearer token every API request needs (Authorization: Bearer TOKEN); empty: none")
	fs.DurationVar(&c.proveTimeout, "prove-timeout", proverapi.DefaultProveTimeout, "with -listen: the longest one request may take, queue wait included")
	fs.StringVar(&c.jobsDir, "jobs", "", "directory of *.job.json files (default: jobs on standard input)")
	fs.StringVar(&c.outDir, "out", "", "directory for results (with -jobs)")
	fs.DurationVar(&c.watch, "watch", 0, "with -jobs: poll the directory at this interval until interrupted")
	fs.BoolVar(&c.verbose, "v", false, "gnark's logs on standard error")
	c.obs.Register(fs)
	obs.Main(spec, fs, &c.obs, func(ctx context.Context, log *slog.Logger) error {
		if c.verbose {
			logger.Set(zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger())
		} else {
			logger.Disable()
		}
		return run(ctx, c, log)
	})
}

func run(ctx context.Context, c config, log *slog.Logger) error {
	switch {
	case c.keysDir == "":
		return errors.New("-keys is required")
	case c.jobsDir != "" && c.outDir == "":
		return errors.New("-jobs needs -out")
	case c.listen != "" && c.jobsDir != "":
		return errors.New("-listen and -jobs exclude each other")
	case c.tokenFile != "" && c.listen == "":
		return errors.New("-token-file needs -listen: it guards the prover API")
	case c.workers < 1 || c.queue < 1:
		return fmt.Errorf("-workers %d and -queue %d must be at least 1", c.workers, c.queue)
	}
	if err := c.params.Validate(); err != nil {
		return err
	}
	dirs := strings.Split(c.keysDir, ",")
	for i, d := range dirs {
		if d == "" || slices.Contains(dirs[:i], d) {
			return fmt.Errorf("-keys %q: want distinct key directories separated by commas", c.keysDir)
		}
	}
	start := c.obs.Start
	if c.listen == "" && c.jobsDir == "" {
		// Jobs on standard input: standard output is the results stream.
		start = c.obs.StartLogged
	}
	ms, err := start(log)
	if err != nil {
		return err
	}
	defer ms.Stop()

	progress := prover.NewProgress(os.Stderr)
	load := prover.LoadKeys
	if c.devSetup {
		load = prover.LoadOrDevSetup
	}
	// -keys DIR[,DIR...]: several key sets of the same parameters (a rotated verifying key
	// loaded during a config change's timelock); jobs name theirs by its VK ID, the first by
	// default.
	var sets []*prover.Keys
	for _, dir := range dirs {
		keys, err := load(dir, c.params, progress)
		if err != nil {
			return fmt.Errorf("-keys %s: %w", dir, err)
		}
		kid, err := prover.VerifyingKeyID(keys.VK)
		if err != nil {
			return err
		}
		log.Info("keys loaded", "dir", dir, "params", keys.Params.String(), "constraints", keys.CS.GetNbConstraints(), "verifying_key_id", kid.String())
		sets = append(sets, keys)
	}
	keys, more := sets[0], sets[1:]
	id, err := prover.VerifyingKeyID(keys.VK)
	if err != nil {
		return err
	}
	cfg := prover.Config{Keys: keys, MoreKeys: more, Workers: c.workers, QueueSize: c.queue, Progress: progress}
	// A listening prover is stopped after its server, so that the proofs it accepted are
	// answered; the other modes stop on the signal.
	svcCtx := ctx
	if c.listen != "" {
		cfg.Progress, svcCtx = nil, context.Background() // the server logs each job
	}
	svc, err := prover.New(cfg)
	if err != nil {
		return err
	}
	if err := svc.Start(svcCtx); err != nil {
		return err
	}
	defer svc.Stop()
	m := newMetrics(ms.Registry, svc, keys, id)
	measured := m.measure(svc)
	ms.Ready.Set(func(context.Context) error { return nil })

	switch {
	case c.listen != "":
		return serveAPI(ctx, c, keys, more, measured, &ms.Ready, log)
	case c.jobsDir == "":
		return serveStdin(ctx, measured, log)
	}
	for {
		if err := serveDir(ctx, measured, c.jobsDir, c.outDir, log); err != nil {
			return err
		}
		if c.watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(c.watch):
		}
	}
}

// serveAPI serves the prover API until ctx ends, then lets the proofs under way finish.
func serveAPI(ctx context.Context, c config, keys *prover.Keys, more []*prover.Keys, p proverapi.Prover, ready *obs.Ready, log *slog.Logger) error {
	var token string
	if c.tokenFile != "" {
		var err error
		if token, err = keystore.ReadTokenFile(c.tokenFile); err != nil {
			return fmt.Errorf("-token-file: %w", err)
		}
	}
	srv, err := proverapi.NewServer(proverapi.ServerConfig{Keys: keys, MoreKeys: more, Prover: p, MaxInFlight: c.workers + c.queue,
		Workers: c.workers, ProveTimeout: c.proveTimeout, ListenAddr: c.listen, Token: token, Logger: log})
	if err != nil {
		return err
	}
	if err := srv.Start(ctx); err != nil {
		return err
	}
	// Tests and scripts read the bound address (the port may be 0) from this line.
	fmt.Printf("listening on %s\n", srv.Addr())
	log.Info("serving the prover API", "addr", srv.Addr().String(), "params", keys.Params.String(), "workers", c.workers, "queue", c.queue)
	<-ctx.Done()
	log.Info("stopping: answering the jobs accepted", "grace", shutdownGrace)
	ready.Set(nil)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Stop(sctx); err != nil {
		log.Warn("jobs abandoned at shutdown", "err", err)
	}
	return nil
}

// serveStdin proves the jobs read line by line and writes each result as soon as it is done.
func serveStdin(ctx context.Context, p proverapi.Prover, log *slog.Logger) error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<28)
	var (
		mu       sync.Mutex // one result line at a time
		wg       sync.WaitGroup
		failures int
	)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		job, err := prover.DecodeJob([]byte(line))
		if err != nil {
			return err
		}
		wg.Go(func() {
			res, err := p.Prove(ctx, job)
			var b []byte
			if err == nil {
				b, err = prover.EncodeResult(res)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				log.Error("job failed", "job", job.ID, "err", err)
				return
			}
			os.Stdout.Write(append(b, '\n'))
		})
	}
	wg.Wait()
	if err := in.Err(); err != nil {
		return err
	}
	if failures > 0 {
		return fmt.Errorf("%d jobs failed", failures)
	}
	return nil
}

// serveDir proves the jobs of dir that have no result in out yet.
func serveDir(ctx context.Context, p proverapi.Prover, dir, out string, log *slog.Logger) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	paths, err := filepath.Glob(filepath.Join(dir, "*.job.json"))
	if err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".job.json")
		proofPath := filepath.Join(out, name+".proof.json")
		errPath := filepath.Join(out, name+".error.txt")
		if exists(proofPath) || exists(errPath) {
			continue
		}
		wg.Go(func() {
			b, err := proveFile(ctx, p, path)
			if ctx.Err() != nil {
				return // interrupted: the job stays pending
			}
			if err != nil {
				log.Error("job failed", "file", path, "err", err)
				writeAtomic(errPath, []byte(err.Error()+"\n"))
				return
			}
			if err := writeAtomic(proofPath, append(b, '\n')); err != nil {
				log.Error("writing the result", "file", proofPath, "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}

func proveFile(ctx context.Context, p proverapi.Prover, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	job, err := prover.DecodeJob(b)
	if err != nil {
		return nil, err
	}
	res, err := p.Prove(ctx, job)
	if err != nil {
		return nil, err
	}
	return prover.EncodeResult(res)
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
