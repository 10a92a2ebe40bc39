// Package proctest is for tests that run the module's commands as processes: it builds them once
// per test binary, starts daemons and reads the lines they print on standard output, stops them,
// and writes the key files they read. A daemon is another process with nothing to wait on but
// its output, so every wait here is bounded and fails the test with what the daemon said.
package proctest

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// module is the import path the command names of Build are under.
const module = "github.com/pqbridge/pqbridge"

// Timeout bounds each single wait on a daemon: for a line of its output, for its exit after
// SIGTERM. A daemon on loopback prints its address in well under a second.
const Timeout = 30 * time.Second

// builds are the binaries built for this test binary: one directory per set of commands, all
// under root, which Run removes.
var builds struct {
	mu   sync.Mutex
	root string
	sets map[string]build
}

type build struct {
	dir string
	err error
}

// Build builds the named commands of cmd/ (all of them when none is named) once per test binary
// and returns the directory of the binaries. A package that calls it runs its tests with Run.
func Build(t testing.TB, cmds ...string) string {
	t.Helper()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	key := strings.Join(cmds, " ")
	b, ok := builds.sets[key]
	if !ok {
		b = buildSet(cmds)
		if builds.sets == nil {
			builds.sets = map[string]build{}
		}
		builds.sets[key] = b // a failed build fails every test that needs it, built once
	}
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.dir
}

func buildSet(cmds []string) build {
	if builds.root == "" {
		root, err := os.MkdirTemp("", "proctest-bin-")
		if err != nil {
			return build{err: err}
		}
		builds.root = root
	}
	dir, err := os.MkdirTemp(builds.root, "")
	if err != nil {
		return build{err: err}
	}
	pkgs := []string{module + "/cmd/..."}
	if len(cmds) > 0 {
		pkgs = pkgs[:0]
		for _, c := range cmds {
			pkgs = append(pkgs, module+"/cmd/"+c)
		}
	}
	args := append([]string{"build", "-o", dir + string(os.PathSeparator)}, pkgs...)
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		return build{err: fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)}
	}
	return build{dir: dir}
}

// Run is TestMain's body for a package that calls Build: it runs the tests, removes the built
// binaries and returns the exit code.
func Run(m *testing.M) int {
	code := m.Run()
	builds.mu.Lock()
	defer builds.mu.Unlock()
	if builds.root != "" {
		os.RemoveAll(builds.root)
	}
	return code
}

// WaitFor polls cond until it holds and fails the test after timeout: what it waits on (another
// process, another goroutine's progress) has no event to wait for. The polls start a few
// milliseconds apart and slow down to 50 ms.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for pause := 2 * time.Millisecond; !cond(); pause = min(2*pause, 50*time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(pause)
	}
}

// WriteFile writes content to the file name of dir, readable by its owner only (the daemons
// refuse key files others can read), and returns its path.
func WriteFile(t testing.TB, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// SeedFile writes k's seed in hex to the file name of dir, as the daemons' -validator-key-file,
// -sequencer-key-file and -key-file read it, and returns its path.
func SeedFile(t testing.TB, dir, name string, k *pqkey.PrivateKey) string {
	t.Helper()
	seed := k.Seed()
	return WriteFile(t, dir, name, hex.EncodeToString(seed[:]))
}

// Buffer is output written by one goroutine (exec's copier, a logger) and read by the test.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
