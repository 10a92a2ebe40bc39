package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// e2eWait bounds every single wait of the end-to-end tests (a daemon's start, a condition on
// the daemons); the tests' contexts bound the whole.
const e2eWait = 30 * time.Second

var bins struct {
	once sync.Once
	dir  string
	err  error
}

// walletBins builds pql1node, pqsequencer and pqwallet once per test binary, into a directory
// TestMain removes.
func walletBins(t *testing.T) string {
	t.Helper()
	bins.once.Do(func() {
		if bins.dir, bins.err = os.MkdirTemp("", "pqwallet-test-bin"); bins.err != nil {
			return
		}
		build := exec.Command("go", "build", "-o", bins.dir+string(os.PathSeparator), "../pql1node", "../pqsequencer", ".")
		if out, err := build.CombinedOutput(); err != nil {
			bins.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if bins.err != nil {
		t.Fatal(bins.err)
	}
	return bins.dir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if bins.dir != "" {
		os.RemoveAll(bins.dir)
	}
	os.Exit(code)
}

// wallet runs the pqwallet binary with a home directory and a passphrase file.
type wallet struct {
	t    *testing.T
	ctx  context.Context
	bin  string
	home string
	env  []string
}

// newWallet is a wallet with its home in a new directory; its keystores' passphrase is in
// a file of dir.
func newWallet(t *testing.T, ctx context.Context, bin, dir string) *wallet {
	t.Helper()
	passFile := filepath.Join(dir, "passphrase")
	writeFile(t, passFile, "correct horse battery staple\n")
	home := t.TempDir()
	return &wallet{t: t, ctx: ctx, bin: filepath.Join(bin, "pqwallet"), home: home,
		env: append(os.Environ(), "PQBRIDGE_HOME="+home, "PQBRIDGE_PASSPHRASE_FILE="+passFile)}
}

func (w *wallet) run(args ...string) (string, error) {
	cmd := exec.CommandContext(w.ctx, w.bin, args...)
	cmd.Env = w.env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return string(out), fmt.Errorf("%w: %s", err, stderr.String())
	}
	return string(out), nil
}

func (w *wallet) json(v any, args ...string) {
	w.t.Helper()
	if err := w.tryJSON(v, args...); err != nil {
		w.t.Fatal(err)
	}
}

// tryJSON is json for a command that may fail while the test waits for a condition.
func (w *wallet) tryJSON(v any, args ...string) error {
	out, err := w.run(append(args, "--json")...)
	if err != nil {
		return fmt.Errorf("pqwallet %s: %w", strings.Join(args, " "), err)
	}
	if err := json.Unmarshal([]byte(out), v); err != nil {
		return fmt.Errorf("pqwallet %s: %w\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

func (w *wallet) key(args ...string) keyJSON {
	w.t.Helper()
	var k keyJSON
	w.json(&k, args...)
	return k
}

// fails runs the wallet and wants it to fail with an error containing want; it returns the
// error's text.
func (w *wallet) fails(want string, args ...string) string {
	w.t.Helper()
	_, err := w.run(args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		w.t.Fatalf("pqwallet %s: got %v, want an error containing %q", strings.Join(args, " "), err, want)
	}
	return err.Error()
}

// configure writes the wallet's config.json: the daemons' addresses and chain IDs.
func (w *wallet) configure(l1Addr string, l1Chain uint64, validatorPub, seqAddr string, l2Chain uint64) {
	w.t.Helper()
	writeFile(w.t, filepath.Join(w.home, configFileName), fmt.Sprintf(`{"l1": %q, "l1-chain-id": %d, "validator": %q,
		"sequencer": "http://%s", "l2-chain-id": %d, "timeout": "20s"}`, l1Addr, l1Chain, validatorPub, seqAddr, l2Chain))
}

// testValidator writes a new validator seed (pql1node's --validator-key-file) and its public
// key (pqwallet's --validator) into dir.
func testValidator(t *testing.T, dir string) (validator *pqkey.PrivateKey, keyFile, pubFile string) {
	t.Helper()
	keyFile, pubFile = filepath.Join(dir, "validator.key"), filepath.Join(dir, "validator.pub")
	validator = newSeedFile(t, keyFile)
	writeFile(t, pubFile, hex.EncodeToString(validator.Public().Bytes()))
	return validator, keyFile, pubFile
}

// newSeedFile writes a new ML-DSA-65 seed in hex to path, as the daemons' --validator-key-file
// and --sequencer-key-file read it, and returns its key.
func newSeedFile(t *testing.T, path string) *pqkey.PrivateKey {
	t.Helper()
	var seed [pqkey.SeedSize]byte
	rand.Read(seed[:])
	writeFile(t, path, hex.EncodeToString(seed[:]))
	return pqkey.NewKeyFromSeed(seed)
}

// daemon is a daemon binary running for a test.
type daemon struct {
	name    string
	addr    string // from its "listening on ADDR" line
	cmd     *exec.Cmd
	stderr  *syncBuffer
	exited  chan error
	stopped bool
}

// startDaemon starts a daemon and waits for its "listening on ADDR" line; unless stopped
// before, it is stopped with SIGINT when the test ends.
func startDaemon(t *testing.T, ctx context.Context, bin string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: filepath.Base(bin), cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, exited: make(chan error, 1)}
	d.cmd.Stderr = d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "listening" && f[1] == "on" {
				addr <- f[2]
				break
			}
		}
		close(addr) // exited before serving, if nothing was sent
		io.Copy(io.Discard, stdout)
		d.exited <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if !d.stopped {
			d.cmd.Process.Signal(syscall.SIGINT)
			select {
			case <-d.exited:
			case <-time.After(10 * time.Second):
				d.cmd.Process.Kill()
				<-d.exited
			}
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", d.name, d.stderr.String())
		}
	})
	select {
	case a, ok := <-addr:
		if !ok {
			t.Fatalf("%s exited before serving: %s", d.name, d.stderr.String())
		}
		d.addr = a
		return d
	case <-time.After(e2eWait):
	case <-ctx.Done():
	}
	t.Fatalf("%s did not start: %s", d.name, d.stderr.String())
	return nil
}

// stop sends SIGTERM and wants a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Fatalf("%s after SIGTERM: %v\n%s", d.name, err, d.stderr.String())
		}
	case <-time.After(e2eWait):
		d.cmd.Process.Kill()
		<-d.exited
		t.Fatalf("%s did not stop on SIGTERM", d.name)
	}
}

// waitFor polls cond until it holds, for at most e2eWait: the daemons are other processes,
// with nothing to wait on.
func waitFor(t *testing.T, ctx context.Context, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a daemon's stderr: written by exec's copier, read by the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
