package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// stepResult is what one step gave.
type stepResult struct {
	status  string // statusOK, statusFailed or statusSkipped
	reason  string // why it was skipped, or the end of its output when it failed
	elapsed time.Duration
	samples []sample
}

const (
	statusOK      = "ok"
	statusFailed  = "failed"
	statusSkipped = "skipped"
)

// results holds every step's result by step id.
type results struct {
	steps map[string]*stepResult
}

func (r *results) okSteps() int {
	n := 0
	for _, s := range r.steps {
		if s.status == statusOK {
			n++
		}
	}
	return n
}

// values returns every sample's value of unit for the benchmark name of step id (one per -count).
func (r *results) values(id, name, unit string) []float64 {
	s := r.steps[id]
	if s == nil {
		return nil
	}
	var vs []float64
	for _, smp := range s.samples {
		if v, ok := smp.metrics[unit]; ok && smp.name == name {
			vs = append(vs, v)
		}
	}
	return vs
}

// median returns the median of the values of unit for name in step id, and whether there are any.
func (r *results) median(id, name, unit string) (float64, bool) {
	vs := r.values(id, name, unit)
	if len(vs) == 0 {
		return 0, false
	}
	return stats(vs).median, true
}

type summary struct{ median, min, max float64 }

func stats(vs []float64) summary {
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return summary{median: m, min: s[0], max: s[len(s)-1]}
}

// runSuite runs every step of s in order, appending all output to raw. A failed step is
// recorded and the suite goes on: the report says what is missing and why.
func runSuite(ctx context.Context, s *suite, raw io.Writer, verbose bool) *results {
	res := &results{steps: map[string]*stepResult{}}
	for i, st := range s.steps {
		if ctx.Err() != nil {
			break
		}
		if st.skip != "" {
			res.steps[st.id] = &stepResult{status: statusSkipped, reason: st.skip}
			fmt.Fprintf(raw, "==> %s: %s\n(%s)\n\n", st.id, st.shell(), st.skip)
			continue
		}
		log.Printf("[%d/%d] %s: %s", i+1, len(s.steps), st.id, st.shell())
		r := runStep(ctx, st, raw, verbose)
		res.steps[st.id] = r
		if r.status == statusOK {
			log.Printf("       ok in %v (%d results)", r.elapsed.Round(100*time.Millisecond), len(r.samples))
		} else {
			log.Printf("       FAILED in %v: %s", r.elapsed.Round(100*time.Millisecond), r.reason)
		}
	}
	return res
}

func runStep(ctx context.Context, st step, raw io.Writer, verbose bool) *stepResult {
	fmt.Fprintf(raw, "==> %s: %s\n", st.id, st.shell())
	var buf bytes.Buffer
	w := io.MultiWriter(&buf, raw)
	if verbose {
		w = io.MultiWriter(w, os.Stderr)
	}
	if st.load != nil {
		start := time.Now()
		out, err := runLoad(ctx, st, w)
		r := &stepResult{status: statusOK, elapsed: time.Since(start)}
		fmt.Fprintf(raw, "(%s in %v)\n\n", st.id, r.elapsed.Round(time.Millisecond))
		var perr error
		r.samples, perr = parseLoad(strings.NewReader(out), st.sample)
		r.status, r.reason = outcome(err, perr, len(r.samples), out)
		return r
	}
	argv := st.argv()
	ctx, cancel := context.WithTimeout(ctx, st.timeout+time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), st.env...)
	cmd.Stdout, cmd.Stderr = w, w
	// go test runs the test binary as its child: stop the whole group, not only go.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	start := time.Now()
	err := cmd.Run()
	r := &stepResult{status: statusOK, elapsed: time.Since(start)}
	fmt.Fprintf(raw, "(%s in %v)\n\n", st.id, r.elapsed.Round(time.Millisecond))

	var perr error
	if st.bench != "" {
		r.samples, perr = parseBench(bytes.NewReader(buf.Bytes()), runtime.GOMAXPROCS(0))
	} else {
		r.samples, perr = parseKeyValues(bytes.NewReader(buf.Bytes()), st.sample)
	}
	if err != nil {
		err = fmt.Errorf("%v: %s", err, failureTail(buf.String()))
	}
	r.status, r.reason = outcome(err, perr, len(r.samples), buf.String())
	return r
}

// outcome is a step's status and, when it failed, why: the run's error, a parse error, or no results.
func outcome(err, perr error, samples int, out string) (string, string) {
	switch {
	case err != nil:
		return statusFailed, err.Error()
	case perr != nil:
		return statusFailed, "parsing the output: " + perr.Error()
	case samples == 0:
		return statusFailed, "no results in the output: " + failureTail(out)
	}
	return statusOK, ""
}

// failureTail picks the lines of a failed run that say why: test failures and errors, else
// the last lines.
func failureTail(out string) string {
	var why []string
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "--- FAIL") && i+1 < len(lines) {
			why = append(why, l+" "+strings.TrimSpace(lines[i+1]))
		} else if strings.Contains(l, ".go:") && (strings.Contains(l, "error") || strings.Contains(l, "undefined") || strings.Contains(l, "cannot")) {
			why = append(why, l)
		} else if strings.HasPrefix(l, "panic:") {
			why = append(why, l)
		}
	}
	if len(why) == 0 {
		why = lines[max(0, len(lines)-3):]
	}
	if len(why) > 3 {
		why = why[:3]
	}
	s := strings.Join(why, "; ")
	if len(s) > 400 {
		s = s[:400] + "…"
	}
	return s
}
