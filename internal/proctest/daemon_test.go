package proctest

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// sh starts a shell script as the daemon.
func sh(t *testing.T, script string, env ...string) *Daemon {
	t.Helper()
	return Start(t, "/bin/sh", env, "-c", script)
}

func TestDaemonLines(t *testing.T) {
	d := sh(t, `echo "metrics on 127.0.0.1:9"; echo "listening on 127.0.0.1:7 validator 0xab"; exec sleep 60`)
	if got := d.Addr(t); got != "127.0.0.1:7" {
		t.Fatalf("Addr %q", got)
	}
	// A line printed before the call, and before a line already read.
	if got := d.Line(t, "metrics on "); got != "127.0.0.1:9" {
		t.Fatalf("Line %q", got)
	}
	if err := d.Kill(); err != nil {
		t.Fatal(err)
	}
	if _, ok := <-d.Await("never printed"); ok {
		t.Fatal("Await sent a line after the daemon's end")
	}
}

func TestDaemonExits(t *testing.T) {
	d := sh(t, `echo "no flag -x" >&2; exit 3`)
	select {
	case <-d.Exited():
	case <-time.After(Timeout):
		t.Fatal("still running")
	}
	var ee *exec.ExitError
	if err := d.Err(); !errors.As(err, &ee) || ee.ExitCode() != 3 || d.Stderr() != "no flag -x\n" {
		t.Fatalf("exit %v, stderr %q", err, d.Stderr())
	}
	if err := d.Kill(); err == nil || !strings.Contains(err.Error(), "exited before SIGKILL") {
		t.Fatalf("Kill of an exited daemon: %v", err)
	}
}

func TestDaemonStop(t *testing.T) {
	for _, tc := range []struct {
		name, script, err string
	}{
		{"clean", `trap 'exit 0' TERM; echo "listening on x"; while :; do sleep 0.01; done`, ""},
		{"status 1", `trap 'exit 1' TERM; echo "listening on x"; while :; do sleep 0.01; done`, "sh after SIGTERM: exit status 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := sh(t, tc.script)
			d.Line(t, "listening on ") // the trap is set
			err := d.Stop()
			if tc.err == "" && err != nil || tc.err != "" && (err == nil || err.Error() != tc.err) {
				t.Fatalf("Stop: %v, want %q", err, tc.err)
			}
		})
	}
}

// TestDaemonEnv: the test's PQBRIDGE_ variables do not reach a daemon; its own do.
func TestDaemonEnv(t *testing.T) {
	t.Setenv("PQBRIDGE_FROM_TEST", "leaked")
	d := sh(t, `echo "env ${PQBRIDGE_FROM_TEST:-unset} $PQBRIDGE_GIVEN"`, "PQBRIDGE_GIVEN=given")
	if got := d.Line(t, "env "); got != "unset given" {
		t.Fatalf("env %q", got)
	}
}

func TestWriteFile(t *testing.T) {
	path := WriteFile(t, t.TempDir(), "key", "secret")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode())
	}
}
