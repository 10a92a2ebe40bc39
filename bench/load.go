package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// loadSpec is a step that runs the load generator against a live sequencer: both commands built
// into a temporary directory, pqsequencer -dev on a loopback port it picks, pqload at a fixed
// rate against it, then the sequencer stopped with SIGTERM. pqload's "pqload: key=value ..."
// line is the measurement.
type loadSpec struct {
	rate     int
	duration time.Duration
	wait     time.Duration // pqload -wait: how long to wait for confirmations after the last send
}

// Bounds of the load step's phases besides the run itself.
const (
	loadBuildTimeout  = 5 * time.Minute
	loadListenTimeout = time.Minute
	loadStopTimeout   = 30 * time.Second
)

func (l *loadSpec) seqArgs(datadir string) []string {
	return []string{"-dev", "-listen", "127.0.0.1:0", "-datadir", datadir}
}

func (l *loadSpec) loadArgs(url string) []string {
	return []string{"-url", url, "-rate", strconv.Itoa(l.rate), "-duration", l.duration.String(), "-wait", l.wait.String()}
}

// script is the step as shell commands, run from the repository root after make core.
func (l *loadSpec) script() []string {
	q := func(args []string) string {
		parts := make([]string, len(args))
		for i, a := range args {
			parts[i] = shellQuote(a)
			if strings.Contains(a, "$") { // a shell expansion: double quotes keep it
				parts[i] = `"` + a + `"`
			}
		}
		return strings.Join(parts, " ")
	}
	return []string{
		"d=$(mktemp -d) && go build -o $d ./cmd/pqsequencer ./cmd/pqload",
		"$d/pqsequencer " + q(l.seqArgs("$d/data")) + " >$d/seq.out & sleep 2",
		"$d/pqload " + q(l.loadArgs("ws://$(sed -n 's/^listening on //p' $d/seq.out)")),
		"kill -TERM %1; wait",
	}
}

// runLoad runs a load step, writing everything the three commands print to w, and returns
// pqload's output. Every process it starts is killed on failure or timeout.
func runLoad(ctx context.Context, st step, w io.Writer) (string, error) {
	l := st.load
	w = &lockedWriter{w: w}
	ctx, cancel := context.WithTimeout(ctx, st.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "pqbridge-bench-load-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)

	bctx, bcancel := context.WithTimeout(ctx, loadBuildTimeout)
	defer bcancel()
	build := exec.CommandContext(bctx, "go", "build", "-o", dir, "./cmd/pqsequencer", "./cmd/pqload")
	build.Stdout, build.Stderr = w, w
	group(build)
	fmt.Fprintf(w, "$ go build -o %s ./cmd/pqsequencer ./cmd/pqload\n", dir)
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building: %w", err)
	}

	seq := exec.Command(filepath.Join(dir, "pqsequencer"), l.seqArgs(filepath.Join(dir, "data"))...)
	seq.Stderr = w
	stdout, err := seq.StdoutPipe()
	if err != nil {
		return "", err
	}
	seq.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stopped by stop below, not by a context
	fmt.Fprintf(w, "$ %s\n", strings.Join(seq.Args, " "))
	if err := seq.Start(); err != nil {
		return "", err
	}
	exited := make(chan error, 1)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(w, "pqsequencer: "+line)
			if a, ok := strings.CutPrefix(line, "listening on "); ok {
				select {
				case addr <- strings.TrimSpace(a):
				default:
				}
			}
		}
		exited <- seq.Wait()
	}()
	stopped := false
	stop := func() error { // SIGTERM, then SIGKILL to the group if it does not exit in time
		if stopped {
			return nil
		}
		stopped = true
		_ = seq.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(loadStopTimeout):
			_ = syscall.Kill(-seq.Process.Pid, syscall.SIGKILL)
			<-exited
			return fmt.Errorf("pqsequencer did not stop within %v of SIGTERM; killed", loadStopTimeout)
		}
	}
	defer stop()

	var url string
	select {
	case a := <-addr:
		url = "ws://" + a
	case err := <-exited:
		stopped = true
		return "", fmt.Errorf("pqsequencer exited before listening: %v", err)
	case <-time.After(loadListenTimeout):
		return "", fmt.Errorf("pqsequencer printed no \"listening on\" line within %v", loadListenTimeout)
	case <-ctx.Done():
		return "", ctx.Err()
	}

	var out bytes.Buffer
	load := exec.CommandContext(ctx, filepath.Join(dir, "pqload"), l.loadArgs(url)...)
	load.Stdout = io.MultiWriter(&out, w)
	load.Stderr = load.Stdout
	group(load)
	fmt.Fprintf(w, "$ %s\n", strings.Join(load.Args, " "))
	lerr := load.Run()
	if lerr != nil && ctx.Err() != nil {
		lerr = fmt.Errorf("%w (step timeout %v)", lerr, st.timeout)
	}
	if lerr != nil {
		lerr = fmt.Errorf("pqload: %w: %s", lerr, failureTail(out.String()))
	}
	if serr := stop(); serr != nil {
		lerr = errors.Join(lerr, fmt.Errorf("stopping pqsequencer: %w", serr))
	}
	return out.String(), lerr
}

// group runs cmd in its own process group, killed whole when its context ends.
func group(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
}

// lockedWriter serializes writes from the processes' copying goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// parseLoad reads pqload's output: the last "pqload: key=value ..." line, as one sample of the
// given name whose metrics are the keys.
func parseLoad(r io.Reader, name string) ([]sample, error) {
	var out []sample
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "pqload: ")
		if !ok || !strings.Contains(fields, "=") {
			continue
		}
		s := sample{name: name, iterations: 1, metrics: map[string]float64{}}
		for _, f := range strings.Fields(fields) {
			k, v, ok := strings.Cut(f, "=")
			if !ok {
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return nil, fmt.Errorf("pqload line: %s: %w", f, err)
			}
			s.metrics[k] = x
		}
		if len(s.metrics) > 0 {
			out = []sample{s}
		}
	}
	return out, sc.Err()
}
