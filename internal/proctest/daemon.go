package proctest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Daemon is a binary running for a test. Its standard output is kept line by line (the daemons
// print where they serve there), its standard error for failure messages.
type Daemon struct {
	name   string
	cmd    *exec.Cmd
	stderr Buffer

	mu    sync.Mutex
	lines []string      // standard output so far
	more  chan struct{} // closed, and replaced, when a line is added or standard output ends
	eof   bool
	err   error // the exit error, set before exited is closed

	exited  chan struct{}
	stopped atomic.Bool // by Stop or Kill: nothing left for the test's end
	shown   atomic.Bool // standard error is in a failure message already
}

// Start starts bin with args. Its environment is the test's without PQBRIDGE_ variables (which
// would set its flags), plus env. Unless stopped before, it is stopped when the test ends; if
// the test failed, its standard error is logged then.
func Start(t testing.TB, bin string, env []string, args ...string) *Daemon {
	t.Helper()
	d := &Daemon{name: filepath.Base(bin), cmd: exec.Command(bin, args...), more: make(chan struct{}), exited: make(chan struct{})}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PQBRIDGE_") {
			d.cmd.Env = append(d.cmd.Env, kv)
		}
	}
	d.cmd.Env = append(d.cmd.Env, env...)
	d.cmd.Stderr = &d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go d.read(stdout)
	t.Cleanup(func() {
		if !d.stopped.Load() {
			d.Stop() // how it stops is no part of a test that did not stop it
		}
		if t.Failed() && !d.shown.Load() {
			t.Logf("%s stderr:\n%s", d.name, d.stderr.String())
		}
	})
	return d
}

// read keeps the lines of standard output until it ends, then reaps the process.
func (d *Daemon) read(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		d.mu.Lock()
		d.lines = append(d.lines, sc.Text())
		close(d.more)
		d.more = make(chan struct{})
		d.mu.Unlock()
	}
	io.Copy(io.Discard, stdout) // after a line too long to scan: Wait wants the pipe drained
	d.mu.Lock()
	d.eof = true
	close(d.more)
	d.mu.Unlock()
	err := d.cmd.Wait()
	d.mu.Lock()
	d.err = err
	d.mu.Unlock()
	close(d.exited)
}

// Name is the binary's name, for messages.
func (d *Daemon) Name() string { return d.name }

// Pid is the process ID.
func (d *Daemon) Pid() int { return d.cmd.Process.Pid }

// Stderr is what the daemon wrote to standard error so far.
func (d *Daemon) Stderr() string { return d.stderr.String() }

// Exited is closed once the process has exited; Err says how.
func (d *Daemon) Exited() <-chan struct{} { return d.exited }

// Err is the process's exit error once Exited is closed (nil for status 0), nil before.
func (d *Daemon) Err() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

// Await sends the rest of the first line of standard output that starts with prefix, printed
// before or after the call; it is closed without a value if standard output ends first.
func (d *Daemon) Await(prefix string) <-chan string {
	found := make(chan string, 1)
	go func() {
		defer close(found)
		for i := 0; ; {
			d.mu.Lock()
			for ; i < len(d.lines); i++ {
				if rest, ok := strings.CutPrefix(d.lines[i], prefix); ok {
					d.mu.Unlock()
					found <- rest
					return
				}
			}
			more, eof := d.more, d.eof
			d.mu.Unlock()
			if eof {
				return
			}
			<-more
		}
	}()
	return found
}

// Line waits up to Timeout for a line of standard output that starts with prefix and returns
// the rest of it; a daemon that exits first or stays silent fails the test with its standard
// error.
func (d *Daemon) Line(t testing.TB, prefix string) string {
	t.Helper()
	select {
	case rest, ok := <-d.Await(prefix):
		if ok {
			return rest
		}
		select { // standard output ends as the process exits
		case <-d.exited:
		case <-time.After(Timeout):
		}
		d.fatalf(t, "%s exited before printing %q (%v)", d.name, prefix, d.Err())
	case <-time.After(Timeout):
		d.fatalf(t, "%s printed no %q line in %v", d.name, prefix, Timeout)
	}
	return ""
}

// Addr waits for the daemon's "listening on ADDR" line and returns ADDR.
func (d *Daemon) Addr(t testing.TB) string {
	t.Helper()
	f := strings.Fields(d.Line(t, "listening on "))
	if len(f) == 0 {
		d.fatalf(t, "%s is listening on no address", d.name)
	}
	return f[0]
}

func (d *Daemon) fatalf(t testing.TB, format string, args ...any) {
	t.Helper()
	d.shown.Store(true)
	t.Fatalf(format+"; stderr:\n%s", append(args, d.stderr.String())...)
}

// Stop sends SIGTERM and waits up to Timeout for the daemon to exit, then kills it. It returns
// nil for a clean exit (status 0), else what went wrong.
func (d *Daemon) Stop() error {
	d.stopped.Store(true)
	d.cmd.Process.Signal(syscall.SIGTERM) // fails only if it exited already: Err says how
	select {
	case <-d.exited:
		if err := d.Err(); err != nil {
			return fmt.Errorf("%s after SIGTERM: %w", d.name, err)
		}
		return nil
	case <-time.After(Timeout):
		d.cmd.Process.Kill()
		<-d.exited
		return fmt.Errorf("%s did not stop within %v of SIGTERM", d.name, Timeout)
	}
}

// Kill sends SIGKILL and waits for the process to end. It returns an error if the daemon was
// gone before: it exited, or died otherwise.
func (d *Daemon) Kill() error {
	d.stopped.Store(true)
	d.cmd.Process.Signal(syscall.SIGKILL)
	<-d.exited
	err := d.Err()
	if ee, ok := errors.AsType[*exec.ExitError](err); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			return nil
		}
	}
	if err == nil {
		err = errors.New("exit status 0")
	}
	return fmt.Errorf("%s exited before SIGKILL (%v)", d.name, err)
}
