// Command pqprover is the validity prover as its own process: it loads the Groth16 keys of one
// parameter set and proves batch jobs (prover.EncodeJob's JSON, made by the settlement engine)
// with a prover.Service of N workers.
//
// Two ways to feed it:
//
//	pqprover -keys DIR -depth 24 -batch 16 < jobs.jsonl > results.jsonl
//	    one job per line on standard input, one result (prover.EncodeResult) per line on
//	    standard output, in completion order;
//	pqprover -keys DIR -depth 24 -batch 16 -jobs IN -out OUT [-watch 2s]
//	    proves every IN/<name>.job.json that has no OUT/<name>.proof.json yet, writing the result
//	    there (or OUT/<name>.error.txt); with -watch it keeps polling IN until interrupted.
//
// -dev-setup makes dev keys when DIR has none (devnet only: see prover.DevSetup). Progress and
// errors go to standard error.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/consensys/gnark/logger"
	"github.com/rs/zerolog"

	"github.com/pqbridge/pqbridge/prover"
)

func main() {
	keysDir := flag.String("keys", "", "key directory root (required)")
	depth := flag.Int("depth", 24, "state tree depth D")
	batch := flag.Int("batch", 16, "transaction slots B")
	devSetup := flag.Bool("dev-setup", false, "make dev keys if the key directory has none (devnet only)")
	workers := flag.Int("workers", 1, "proofs made at once")
	jobsDir := flag.String("jobs", "", "directory of *.job.json files (default: jobs on standard input)")
	outDir := flag.String("out", "", "directory for results (with -jobs)")
	watch := flag.Duration("watch", 0, "with -jobs: poll the directory at this interval until interrupted")
	verbose := flag.Bool("v", false, "gnark's logs on standard error")
	flag.Parse()
	if *verbose {
		logger.Set(zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05"}).With().Timestamp().Logger())
	} else {
		logger.Disable()
	}
	if err := run(*keysDir, prover.Params{Depth: *depth, BatchSize: *batch}, *devSetup, *workers, *jobsDir, *outDir, *watch); err != nil {
		fmt.Fprintln(os.Stderr, "pqprover:", err)
		os.Exit(1)
	}
}

func run(keysDir string, p prover.Params, devSetup bool, workers int, jobsDir, outDir string, watch time.Duration) error {
	if keysDir == "" {
		return errors.New("-keys is required")
	}
	if jobsDir != "" && outDir == "" {
		return errors.New("-jobs needs -out")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	progress := prover.NewProgress(os.Stderr)
	load := prover.LoadKeys
	if devSetup {
		load = prover.LoadOrDevSetup
	}
	keys, err := load(keysDir, p, progress)
	if err != nil {
		return err
	}
	svc, err := prover.New(prover.Config{Keys: keys, Workers: workers, Progress: progress})
	if err != nil {
		return err
	}
	if err := svc.Start(ctx); err != nil {
		return err
	}
	defer svc.Stop()
	if jobsDir == "" {
		return serveStdin(ctx, svc)
	}
	for {
		if err := serveDir(ctx, svc, jobsDir, outDir); err != nil {
			return err
		}
		if watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(watch):
		}
	}
}

// serveStdin proves the jobs read line by line and writes each result as soon as it is done.
func serveStdin(ctx context.Context, svc *prover.Service) error {
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := svc.Prove(ctx, job)
			var b []byte
			if err == nil {
				b, err = prover.EncodeResult(res)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures++
				fmt.Fprintf(os.Stderr, "pqprover: job %s: %v\n", job.ID, err)
				return
			}
			os.Stdout.Write(append(b, '\n'))
		}()
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
func serveDir(ctx context.Context, svc *prover.Service, dir, out string) error {
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
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, err := proveFile(ctx, svc, path)
			if ctx.Err() != nil {
				return // interrupted: the job stays pending
			}
			if err != nil {
				fmt.Fprintf(os.Stderr, "pqprover: %s: %v\n", path, err)
				writeAtomic(errPath, []byte(err.Error()+"\n"))
				return
			}
			if err := writeAtomic(proofPath, append(b, '\n')); err != nil {
				fmt.Fprintf(os.Stderr, "pqprover: %v\n", err)
			}
		}()
	}
	wg.Wait()
	return nil
}

func proveFile(ctx context.Context, svc *prover.Service, path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	job, err := prover.DecodeJob(b)
	if err != nil {
		return nil, err
	}
	res, err := svc.Prove(ctx, job)
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
