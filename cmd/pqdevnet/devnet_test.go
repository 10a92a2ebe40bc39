package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
)

// TestDevnetDemo is `make devnet-demo` with small circuit parameters: it builds every binary,
// and pqdevnet starts 4 pql1node -consensus cometbft validators, pqprover, pqsequencer and
// pqchallenger as separate processes and walks the demo through pqwallet (deposit, transfers, a
// Groth16-proven batch, an optimistic batch, a claimed withdrawal, an injected fraud reverted, a
// guardian pause and unpause, a withdrawal delayed by the governor and released once, a quorum
// certificate verified against the pinned set, the sequencer's validator SIGKILLed while a
// transfer becomes final through another and restarted, every daemon's metrics). The demo
// checks each step's values itself and exits non-zero naming the first step that fails; this
// test checks the exit status, that every step reported success, and that the daemons are gone.
func TestDevnetDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	bin := proctest.Build(t)
	dir := filepath.Join(t.TempDir(), "devnet")
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(bin, "pqdevnet"), devnetArgs(bin, dir)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("pqdevnet --exit ran %v", time.Since(start).Round(time.Second))
	text := out.String()
	if err != nil {
		t.Fatalf("pqdevnet --exit: %v\n%s\nlogs:\n%s", err, text, logs(dir))
	}
	for _, want := range []string{
		"[1/12] Deposit on L1, credited on L2", "[3/12] A batch proven with Groth16, final on L1 at once",
		"[6/12] An injected fraud: caught by the challenger, reverted on L1",
		"[7/12] Guardians: paused on the upheld fraud, deposit and claim refused, 2 of 3 unpause",
		"[8/12] A large withdrawal delayed by the governor, released after the delay, paid once", "[11/12] An ML-DSA-65 (post-quantum) L2 account: transfer, withdrawal, optimistic batch, claim on L1",
		"[12/12] Metrics of every daemon", "$ pqwallet key new --l2 --pq quinn", "key kind mldsa", "per ML-DSA one",
		"fraud proof for batch", "reverted", "$ pqwallet claim --tx", "Summary",
		"$ pqwallet guardian watch --on fraud", "rollup paused", "$ pqwallet guardian submit", "delayed until height",
		"$ pqwallet release --tx", "already released",
		"[9/12] A quorum certificate of L1, verified against the pinned validator set", "(more than 2/3 needed): verified against the pinned set",
		"The same certificate against another app hash is refused",
		"[10/12] A validator SIGKILLed: settlement goes on, it restarts and catches up", "$ kill -KILL", "the transfer final on L1 with 3 validators",
		"pql1node-4 restarted on its datadir", "as on pql1node", "the sequencer posted through another validator",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	for i := 1; i <= 12; i++ {
		if !regexp.MustCompile(`✓ ` + strconv.Itoa(i) + `\. `).MatchString(text) {
			t.Errorf("summary lacks a passed step %d", i)
		}
	}
	if m := regexp.MustCompile(`✓ 4\. [^\n]*`).FindString(text); !strings.Contains(m, "stake") {
		t.Errorf("step 4 does not report the sequencer's stake: %q", m)
	} else {
		t.Logf("%s", m)
	}
	m := regexp.MustCompile(`First batch final on L1 ([0-9.]+) s after the daemons were up`).FindStringSubmatch(text)
	if m == nil {
		t.Errorf("no first-batch figure in the output")
	} else if s, _ := strconv.ParseFloat(m[1], 64); s <= 0 {
		t.Errorf("first batch final after %v s", s)
	} else {
		t.Logf("first batch final %s s after the daemons were up", m[1])
	}
	if t.Failed() {
		t.Logf("output:\n%s", text)
	}
	// Every daemon stopped: their stores can be opened again, which pebble refuses while a
	// process holds the lock; the log of each ends with its shutdown (pql1node-4's after its
	// restart).
	for _, d := range []string{"pql1node", "pql1node-2", "pql1node-3", "pql1node-4", "pqsequencer", "pqprover", "pqchallenger"} {
		b, err := os.ReadFile(filepath.Join(dir, "logs", d+".log"))
		if err != nil {
			t.Errorf("%s log: %v", d, err)
			continue
		}
		if !strings.Contains(string(b), "stopping") && !strings.Contains(string(b), "stopped") {
			t.Errorf("%s's log does not show a graceful stop:\n%s", d, tail(filepath.Join(dir, "logs", d+".log"), 5))
		}
	}
}

// TestDevnetNamesDeadDaemon: a daemon that dies is named with the end of its log, and the
// others are stopped. The sequencer here is a fake (fault injection): a script that fails at
// start the way a misconfigured daemon does.
func TestDevnetNamesDeadDaemon(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	real := proctest.Build(t)
	bin := t.TempDir()
	for _, b := range []string{"pqdevnet", "pql1node", "pqprover", "pqchallenger", "pqwallet"} {
		if err := os.Symlink(filepath.Join(real, b), filepath.Join(bin, b)); err != nil {
			t.Fatal(err)
		}
	}
	fake := "#!/bin/sh\necho 'pqsequencer: fake for TestDevnetNamesDeadDaemon: rollup 1 on L1: not a sequencer' >&2\nexit 1\n"
	if err := os.WriteFile(filepath.Join(bin, "pqsequencer"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "devnet")
	out, err := exec.CommandContext(ctx, filepath.Join(bin, "pqdevnet"), devnetArgs(bin, dir)...).CombinedOutput()
	if err == nil {
		t.Fatalf("pqdevnet succeeded with a sequencer that cannot start:\n%s", out)
	}
	for _, want := range []string{"pqsequencer exited (exit status 1)", "rollup 1 on L1: not a sequencer", filepath.Join(dir, "logs", "pqsequencer.log")} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The daemons started before it were stopped gracefully.
	for _, d := range []string{"pql1node", "pqprover"} {
		b, err := os.ReadFile(filepath.Join(dir, "logs", d+".log"))
		if err != nil || !strings.Contains(string(b), "stopping") {
			t.Errorf("%s was not stopped gracefully (%v):\n%s", d, err, tail(filepath.Join(dir, "logs", d+".log"), 5))
		}
	}
}

// TestDevnetRefusesForeignDir: --dir is removed on every run, so a directory pqdevnet did not
// make is refused.
func TestDevnetRefusesForeignDir(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := freshDir(dir)
	if err == nil || !strings.Contains(err.Error(), "is not a devnet directory") {
		t.Fatalf("freshDir on a foreign directory: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "precious.txt")); err != nil || string(b) != "keep" {
		t.Fatalf("the foreign directory was touched: %q %v", b, err)
	}
	// A devnet directory is emptied and marked again.
	dev := filepath.Join(t.TempDir(), "dev")
	if err := freshDir(dev); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dev, "old.log"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := freshDir(dev); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dev, "old.log")); !os.IsNotExist(err) {
		t.Fatalf("old file survived: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dev, marker)); err != nil {
		t.Fatalf("marker: %v", err)
	}
}

// logs returns the end of every daemon log under dir.
func logs(dir string) string {
	var b strings.Builder
	paths, _ := filepath.Glob(filepath.Join(dir, "logs", "*.log"))
	for _, p := range paths {
		b.WriteString("== " + p + "\n" + tail(p, 30) + "\n")
	}
	return b.String()
}

func TestMain(m *testing.M) { os.Exit(proctest.Run(m)) }

// devnetArgs are the flags of a small, fast devnet: depth 8, 2 transactions per batch, the keys
// cached in the repository's .cache (made once, by whichever test runs first).
func devnetArgs(bin, dir string) []string {
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	return []string{"--exit", "--ports", "random", "--bin", bin, "--dir", dir,
		"--keys-cache", filepath.Join(root, ".cache", "devnet-keys"), "--depth", "8", "--batch", "2",
		"--l1-block-interval", "200ms", "--challenge-window", "10", "--step-timeout", "90s"}
}
