// Command bench runs pqbridge's performance suite (`make bench`) and writes bench/results:
// report.md, the PNG plots it embeds, and raw.txt, the go test output every figure comes from.
// Each figure sits next to an in-run baseline as a ratio, because absolute times vary between
// machines while ratios measured in the same run mostly do not.
//
// Usage (from the repository root, after `make core`):
//
//	go run ./bench [-quick] [-out bench/results] [-only settle,engine-history]
//
// BENCH_QUICK=1 selects the quick mode as -quick does: fewer sizes, short bench times, one
// count, and no million-account restart or proving. Every run also saves results.json, from
// which -render redraws the report and plots without measuring again. -only (also BENCH_ONLY)
// runs the named steps only and keeps every other step's result from the output directory's
// results.json of the same mode, so that one section is measured again on its own.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"time"
)

func main() {
	quick := flag.Bool("quick", os.Getenv("BENCH_QUICK") == "1", "quick mode (also BENCH_QUICK=1)")
	out := flag.String("out", filepath.Join("bench", "results"), "output directory")
	verbose := flag.Bool("v", false, "stream the go test output to standard error")
	render := flag.Bool("render", false, "redraw report.md and the plots from results.json without measuring")
	only := flag.String("only", os.Getenv("BENCH_ONLY"), "run only these steps (comma-separated ids, e.g. settle,engine-history; also BENCH_ONLY), keeping the others' results from -out's results.json")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench: ")

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	var err error
	if *render {
		err = rerender(*out)
	} else {
		err = run(ctx, *quick, *out, *verbose, *only)
	}
	if err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, quick bool, out string, verbose bool, only string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	s := newSuite(quick)
	if err := s.setOut(out); err != nil {
		return err
	}
	rawFlags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	var prev *results
	if only != "" {
		if err := s.selectOnly(only); err != nil {
			return err
		}
		// The other steps keep the previous run's results (and raw output) if it ran in this mode.
		if old, err := loadRun(filepath.Join(out, "results.json")); err == nil && old.suite.quick == quick {
			prev, rawFlags = old.results, os.O_WRONLY|os.O_CREATE|os.O_APPEND
		}
	}
	m := probeMachine(ctx)
	raw, err := os.OpenFile(filepath.Join(out, "raw.txt"), rawFlags, 0o644)
	if err != nil {
		return err
	}
	defer raw.Close()
	start := time.Now()
	res := runSuite(ctx, s, raw, verbose)
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("interrupted: %w", err)
	}
	m.LoadAfter = loadAverage()
	r := &report{suite: s, machine: m, results: res, elapsed: time.Since(start)}
	if prev != nil {
		r.kept = keepPrevious(res, prev)
	}
	if err := saveRun(filepath.Join(out, "results.json"), r); err != nil {
		return err
	}
	if err := r.write(out); err != nil {
		return err
	}
	log.Printf("wrote %s in %v (%d of %d steps ok)", filepath.Join(out, "report.md"), r.elapsed.Round(time.Second), res.okSteps(), len(s.steps))
	return nil
}

func rerender(out string) error {
	r, err := loadRun(filepath.Join(out, "results.json"))
	if err != nil {
		return err
	}
	if err := r.suite.setOut(out); err != nil {
		return err
	}
	return r.write(out)
}

// write draws the plots and writes report.md into out.
func (r *report) write(out string) error {
	r.plots = writePlots(r, out)
	return writeFileAtomic(filepath.Join(out, "report.md"), r.markdown())
}

// writeFileAtomic replaces path with data through a temporary file (git-ignored *.tmp).
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
