// Package pebbleguard turns pebble's fatal errors into errors a daemon can act on.
//
// pebble reports a failed commit (a WAL write or sync that did not reach the disk: a full disk, a
// read-only datadir, a failed WAL rotation) by calling its Logger's Fatalf, whose default ends the
// process. A daemon wants to refuse new work with a clear error instead, flip its readiness and
// keep what it acknowledged. A Guard is the Logger to open pebble with:
//
//   - a fatal commit error, raised in the committing goroutine, becomes a *Fault returned by
//     Commit or Do, which the caller maps to its documented durability error;
//   - any other fatal error is raised in one of pebble's background goroutines (a MANIFEST write
//     in a flush or compaction), where no caller can receive it: the Guard parks that goroutine
//     (the database is not usable after it anyway) and reports the fault to OnFatal.
//
// Either way the Guard remembers the first fault: Commit and Do refuse every later write with it
// without touching pebble again, and Err reports it for readiness. Nothing is retried inside the
// same process: pebble's commit pipeline is not usable after a fatal commit error, so the owner
// either halts (readiness false, refusing writes) or exits and lets recovery reopen the datadir.
package pebbleguard

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble"
)

// ErrFault is what every *Fault matches with errors.Is.
var ErrFault = errors.New("storage fault")

// Fault is a fatal pebble error: Detail is pebble's own message, which names the cause (for
// example `pebble: fatal commit error: write /data/000012.log: no space left on device`).
type Fault struct {
	Detail     string
	Background bool // raised by a pebble background goroutine, not by a write call
	Panicked   bool // a plain panic(err) inside a write (pebble v1.1.5's failed WAL rotation)
}

// Wedged reports whether pebble may still hold its locks (a parked background goroutine, or a
// panic that unwound through them): Close could wait for ever, so the owner leaves the store open
// and the process exits.
func (f *Fault) Wedged() bool { return f.Background || f.Panicked }

func (f *Fault) Error() string { return "storage fault: " + f.Detail }

// Unwrap makes errors.Is(f, ErrFault) hold.
func (f *Fault) Unwrap() error { return ErrFault }

// commitPrefix starts the one fatal message pebble raises in the caller's goroutine (DB.Apply,
// which Batch.Commit, Set and Delete go through).
const commitPrefix = "pebble: fatal commit error"

// Guard is a pebble.Logger that keeps pebble's fatal errors from ending the process. The zero
// value is not usable; use New.
type Guard struct {
	log     *slog.Logger
	onFatal func(error)

	mu    sync.Mutex
	fault *Fault
}

var _ pebble.Logger = (*Guard)(nil)

// New returns a Guard that logs pebble's errors to log (nil: discarded) and calls onFatal (nil:
// nothing) once, with the first fault, from whichever goroutine raised it. onFatal must not block
// and must not call into the database.
func New(log *slog.Logger, onFatal func(error)) *Guard {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Guard{log: log, onFatal: onFatal}
}

// Infof drops pebble's informational messages (flushes, compactions): they are not for operators.
func (g *Guard) Infof(string, ...any) {}

// Errorf logs a pebble error that pebble itself recovers from.
func (g *Guard) Errorf(format string, args ...any) {
	g.log.Warn("storage engine error", "detail", fmt.Sprintf(format, args...))
}

// Fatalf records the fault, reports it, then panics with it in a committing goroutine (Commit and
// Do recover it) or parks a background goroutine for good.
func (g *Guard) Fatalf(format string, args ...any) {
	f := &Fault{Detail: fmt.Sprintf(format, args...), Background: !strings.HasPrefix(format, commitPrefix)}
	g.raise(f)
	if !f.Background {
		panic(f)
	}
	select {} // a background goroutine of a database that can no longer write: park it
}

// raise records f and, if it is the first fault, logs and reports it.
func (g *Guard) raise(f *Fault) {
	if !g.record(f) {
		return
	}
	g.log.Error("storage fault: refusing further writes", "detail", f.Detail, "background", f.Background, "panicked", f.Panicked)
	if g.onFatal != nil {
		g.onFatal(f)
	}
}

// record keeps the first fault and reports whether f is it.
func (g *Guard) record(f *Fault) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fault != nil {
		return false
	}
	g.fault = f
	return true
}

// Err returns the first fault, or nil while pebble is healthy.
func (g *Guard) Err() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.fault == nil {
		return nil
	}
	return g.fault
}

// Commit commits b, returning a fatal commit error as a *Fault instead of ending the process.
// After any fault it refuses without calling pebble.
func (g *Guard) Commit(b *pebble.Batch, o *pebble.WriteOptions) error {
	return g.Do(func() error { return b.Commit(o) })
}

// Do runs fn, which writes to the database (Set, Delete, Apply, Commit), and returns a fatal
// commit error raised inside it as a *Fault. pebble v1.1.5 also raises a failed WAL rotation as a
// plain panic of the I/O error: Do returns that as a Panicked fault too. A runtime error (a bug)
// and any non-error panic are raised again, never hidden. After any fault Do refuses without
// running fn.
func (g *Guard) Do(fn func() error) (err error) {
	if err := g.Err(); err != nil {
		return err
	}
	defer func() {
		r := recover()
		if r == nil {
			return
		}
		if f, ok := r.(*Fault); ok {
			err = f
			return
		}
		perr, ok := r.(error)
		if _, bug := r.(runtime.Error); !ok || bug {
			panic(r)
		}
		f := &Fault{Detail: "pebble panicked: " + perr.Error(), Panicked: true}
		g.raise(f)
		err = g.Err()
	}()
	return fn()
}
