package pebbleguard_test

import (
	"errors"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/internal/storefault"
)

// TestStorageFaultsGuard: a full disk under a synced commit is a *Fault naming the cause, not the
// end of the process; later writes are refused without touching pebble; what was committed before
// the fault is there after a reopen once the disk has room again.
func TestStorageFaultsGuard(t *testing.T) {
	for _, fault := range []storefault.Fault{storefault.Full, storefault.SyncFails} {
		t.Run(fault.String(), func(t *testing.T) {
			dir := t.TempDir()
			fs := storefault.New(nil)
			var reported atomic.Int32
			g := pebbleguard.New(nil, func(error) { reported.Add(1) })
			db, err := pebble.Open(dir, &pebble.Options{FS: fs, Logger: g})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Do(func() error { return db.Set([]byte("k1"), []byte("v1"), pebble.Sync) }); err != nil {
				t.Fatalf("healthy write: %v", err)
			}
			fs.Set(fault)
			b := db.NewBatch()
			if err := b.Set([]byte("k2"), []byte("v2"), nil); err != nil {
				t.Fatal(err)
			}
			err = g.Commit(b, pebble.Sync)
			if !errors.Is(err, pebbleguard.ErrFault) {
				t.Fatalf("commit under %s: got %v, want a storage fault", fault, err)
			}
			want := syscall.ENOSPC.Error()
			if fault == storefault.SyncFails {
				want = syscall.EIO.Error()
			}
			if !strings.Contains(err.Error(), want) {
				t.Fatalf("fault %q does not name the cause %q", err, want)
			}
			if g.Err() == nil || reported.Load() != 1 {
				t.Fatalf("Err = %v, reported %d times; want the fault, reported once", g.Err(), reported.Load())
			}
			fs.Set(storefault.None)
			ran := false
			if err := g.Do(func() error { ran = true; return nil }); !errors.Is(err, pebbleguard.ErrFault) || ran {
				t.Fatalf("write after the fault: err %v, ran %v; want refused without running", err, ran)
			}
			if fs.Injected() == 0 {
				t.Fatal("no fault was injected")
			}
			closed := make(chan error, 1)
			go func() { closed <- db.Close() }()
			select {
			case err := <-closed:
				t.Logf("close after fault: %v", err)
			case <-time.After(5 * time.Second):
				t.Fatal("close hangs")
			}
			db2, err := pebble.Open(dir, &pebble.Options{FS: storefault.New(nil), Logger: pebbleguard.New(nil, nil)})
			if err != nil {
				t.Fatalf("reopen after close: %v", err)
			}
			defer db2.Close()
			v, closer, err := db2.Get([]byte("k1"))
			if err != nil {
				t.Fatalf("acknowledged write lost: %v", err)
			}
			defer closer.Close()
			if string(v) != "v1" {
				t.Fatalf("k1 = %q, want v1", v)
			}
		})
	}
}

// TestStorageFaultsGuardPanic: pebble's plain panic(err) on a failed WAL rotation is a wedged
// fault, reported once; a runtime error inside a write is a bug and is raised again.
func TestStorageFaultsGuardPanic(t *testing.T) {
	var reported atomic.Int32
	g := pebbleguard.New(nil, func(error) { reported.Add(1) })
	rotation := errors.New("open /data/000007.log: permission denied")
	err := g.Do(func() error { panic(rotation) })
	var f *pebbleguard.Fault
	if !errors.As(err, &f) || !f.Wedged() || !strings.Contains(err.Error(), "permission denied") || reported.Load() != 1 {
		t.Fatalf("Do after panic(err): %v (reported %d), want a wedged fault naming the cause, reported once", err, reported.Load())
	}
	g2 := pebbleguard.New(nil, nil)
	defer func() {
		if r := recover(); r == nil {
			t.Fatal("a nil dereference inside Do was hidden")
		}
		if g2.Err() != nil {
			t.Fatalf("a bug was recorded as a storage fault: %v", g2.Err())
		}
	}()
	var m map[string]int
	err = g2.Do(func() error { m["x"]++; return nil })
	t.Fatalf("Do returned %v instead of raising the bug", err)
}
