package sequencer

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l2"
)

// A storage fault case: which fault, injected at which point of the sequencer's work.
type faultCase struct {
	name  string
	fault storefault.Fault
	point func(fc *faultChild) // injects the fault and drives the sequencer into it
	cause string               // what the error, readiness and the log line name
	halts bool                 // the sequencer stops acknowledging (false: the snapshot case)
}

var faultCases = []faultCase{
	{"admission/sync-fails", storefault.SyncFails, (*faultChild).atAdmission, "input/output error", true},
	{"admission/disk-full", storefault.Full, (*faultChild).atAdmission, "no space left on device", true},
	{"block-commit/disk-full", storefault.Full, (*faultChild).atBlockCommit, "no space left on device", true},
	{"block-commit/sync-fails", storefault.SyncFails, (*faultChild).atBlockCommit, "input/output error", true},
	{"wal-rotation/read-only", storefault.ReadOnly, (*faultChild).atWALRotation, "permission denied", true},
	{"snapshot/read-only", storefault.ReadOnly, (*faultChild).atSnapshot, "permission denied", false},
	{"background/manifest-sync", storefault.None, (*faultChild).atBackground, "MANIFEST sync failed", true},
}

const (
	faultCaseEnv = "PQ_TEST_STORAGE_FAULT_CASE" // set: this process is a case's sequencer process
	faultDirEnv  = "PQ_TEST_STORAGE_FAULT_DIR"
	ackedFile    = "acked.txt" // the hashes the child's sequencer acknowledged, one a line
)

// TestStorageFaults injects storage faults (internal/storefault over the real disk) into a
// sequencer at several points: while a transaction is being logged, while a block is being
// stored, at a WAL rotation, while a snapshot is written. Each case runs the sequencer in a
// process of its own (this test binary again), because after a fault the daemon's way out is to
// exit (Failed) and be restarted: the process checks that nothing panics, that the client gets
// `durability` for the transaction in flight and `unavailable` naming the cause after, that
// readiness (Err) is false with the cause and that one error line is logged. Then, the fault
// gone, a new sequencer on the same data dir must hold every acknowledged transaction in a
// block, and the chain must replay under the Go reference.
func TestStorageFaults(t *testing.T) {
	if name := os.Getenv(faultCaseEnv); name != "" {
		for _, fc := range faultCases {
			if fc.name == name {
				runFaultChild(t, fc, os.Getenv(faultDirEnv))
				return
			}
		}
		t.Fatalf("no storage fault case %q", name)
	}
	for _, fc := range faultCases {
		t.Run(fc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			cmd := exec.Command(os.Args[0], "-test.run", "^TestStorageFaults$", "-test.count", "1", "-test.v", "-test.timeout", "2m")
			cmd.Env = append(os.Environ(), faultCaseEnv+"="+fc.name, faultDirEnv+"="+dir)
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "\nPASS") {
				t.Fatalf("sequencer process: %v\n%s", err, out)
			}
			acked, err := os.ReadFile(filepath.Join(dir, ackedFile))
			if err != nil {
				t.Fatal(err)
			}
			checkRecovered(t, dir, strings.Fields(string(acked)))
		})
	}
}

// checkRecovered opens a sequencer on dir, on the plain disk, and waits for every acknowledged
// transaction to be in a block with status ok.
func checkRecovered(t *testing.T, dir string, acked []string) {
	t.Helper()
	cfg := testConfig(t)
	cfg.DataDir = dir
	h := start(t, cfg)
	for _, x := range acked {
		if r := h.waitReceipt(common.HexToHash(x)); !r.Included || r.Status != "ok" {
			t.Fatalf("acknowledged transaction %s after recovery: %+v", x, r)
		}
	}
	replayReference(t, cfg.Depth, h.blocks())
	t.Logf("%d acknowledged transactions recovered, head %d", len(acked), h.status().Head)
}

// faultChild is one case's sequencer, in the child process.
type faultChild struct {
	t      *testing.T
	h      *harness
	fs     *storefault.FS
	fault  storefault.Fault
	logs   *logRecorder
	keys   []*l2.PrivateKey
	idx    []uint32
	nonce  uint64
	acked  []common.Hash
	kicked bool // blocks only when the test kicks the builder
}

func runFaultChild(t *testing.T, fc faultCase, dir string) {
	c := &faultChild{t: t, fs: storefault.New(nil), fault: fc.fault, logs: &logRecorder{}}
	cfg := testConfig(t)
	cfg.DataDir, cfg.FS, cfg.Logger = dir, c.fs, slog.New(c.logs)
	c.kicked = strings.HasPrefix(fc.name, "block-commit/")
	if c.kicked {
		cfg.BlockInterval = time.Hour
	}
	c.h = &harness{t: t, cfg: cfg, deps: &MemoryDepositSource{}}
	c.h.cfg.Deposits = c.h.deps
	c.h.open()
	c.keys = newKeys(t, 2, 3)
	for _, k := range c.keys {
		c.h.deps.Add(k.Public(), 1_000_000_000)
	}
	c.waitBlocks("funding", func() bool { return c.h.status().DepositCursor == 2 })
	c.idx = c.h.depositIndices(0, 2)
	for range 5 {
		c.acked = append(c.acked, c.h.mustSend(c.transfer()))
	}
	// Stored, not only taken by a block: then no write is in progress when the fault is set.
	c.waitBlocks("the first transfers", func() bool {
		for _, x := range c.acked {
			if r := c.h.receipt(x); r == nil || r.Status == "pending" {
				return false
			}
		}
		return true
	})

	fc.point(c)

	s := c.h.s
	if !fc.halts {
		if err := s.Err(); err != nil {
			t.Fatalf("a failed snapshot stopped the sequencer: %v", err)
		}
	} else {
		if err := s.Err(); err == nil || !strings.Contains(err.Error(), fc.cause) {
			t.Fatalf("readiness: Err() = %v, want the cause %q", err, fc.cause)
		}
		select {
		case <-s.Failed():
		case <-time.After(10 * time.Second):
			t.Fatal("Failed() not closed after a storage fault")
		}
		_, err := c.h.send(c.transfer())
		if code, reason := rpcCode(err); code != CodeUnavailable || reason != "unavailable" || !strings.Contains(err.Error(), fc.cause) {
			t.Fatalf("send after the fault: %v (code %d, reason %q), want unavailable naming %q", err, code, reason, fc.cause)
		}
		if errs := c.logs.at(slog.LevelError); len(errs) != 1 || !strings.Contains(errs[0], fc.cause) {
			t.Fatalf("want one error line naming %q, got %q", fc.cause, errs)
		}
	}
	c.h.c.Close()
	stopErr := s.Stop() // must return, whatever the fault left behind
	c.h.s = nil
	if !fc.halts && stopErr != nil {
		t.Fatalf("stop: %v", stopErr)
	}
	t.Logf("%d acknowledged; %d injected failures; stop: %v", len(c.acked), c.fs.Injected(), stopErr)
	var b strings.Builder
	for _, x := range c.acked {
		fmt.Fprintln(&b, x.Hex())
	}
	if err := os.WriteFile(filepath.Join(dir, ackedFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// transfer signs the next transfer of 1 from the first account to the second.
func (c *faultChild) transfer() []byte {
	raw := signed(c.t, c.keys[0], l2.Tx{Type: l2.TxTransfer, From: c.idx[0], To: c.idx[1], Amount: 1, Nonce: c.nonce})
	c.nonce++
	return raw
}

// waitBlocks waits for cond, kicking the builder if blocks are only built on a kick.
func (c *faultChild) waitBlocks(what string, cond func() bool) {
	waitFor(c.t, what, func() bool {
		if c.kicked {
			select {
			case c.h.s.run.kick <- struct{}{}:
			default:
			}
		}
		return cond()
	})
}

// atAdmission: the fault hits the log commit of a send, with no block to build: that send gets
// durability, it was not acknowledged.
func (c *faultChild) atAdmission() {
	c.fs.Set(c.fault)
	_, err := c.h.send(c.transfer())
	if code, reason := rpcCode(err); code != CodeDurability || reason != "durability" {
		c.t.Fatalf("send in flight at the fault: %v (code %d, reason %q), want durability", err, code, reason)
	}
	c.fs.Set(storefault.None) // the cause is gone; the process still refuses until restarted
}

// atBlockCommit: acknowledged transactions wait for a block; the fault hits its commit.
func (c *faultChild) atBlockCommit() {
	for range 5 {
		c.acked = append(c.acked, c.h.mustSend(c.transfer()))
	}
	c.fs.Set(c.fault)
	c.waitBlocks("the block commit to fail", func() bool { return c.h.s.Err() != nil })
	c.fs.Set(storefault.None)
}

// atWALRotation: a read-only data dir lets the open WAL file take writes, so sends are still
// acknowledged, until pebble rotates the WAL (a full memtable) and cannot create the next file.
// The send in flight then gets durability, or unavailable if the block builder met it first.
func (c *faultChild) atWALRotation() {
	c.fs.Set(storefault.ReadOnly)
	for range 20000 {
		hash, err := c.h.send(c.transfer())
		if err == nil {
			c.acked = append(c.acked, hash)
			continue
		}
		if code, _ := rpcCode(err); code != CodeDurability && code != CodeUnavailable {
			c.t.Fatalf("send at the WAL rotation: %v, want durability or unavailable", err)
		}
		c.fs.Set(storefault.None)
		return
	}
	c.t.Fatal("no WAL rotation after 20000 transactions")
}

// atBackground: a fatal error in one of pebble's background goroutines reaches the sequencer
// through pebbleguard's OnFatal.
func (c *faultChild) atBackground() {
	// What pebble does when a flush or compaction cannot sync the MANIFEST: Fatalf from its own
	// goroutine, which the guard parks for good.
	go c.h.s.db.guard.Fatalf("MANIFEST sync failed: %v", syscall.EIO)
	waitFor(c.t, "the background fault", func() bool { return c.h.s.Err() != nil })
}

// atSnapshot: snapshot files cannot be created; blocks go on, the failure is counted and logged,
// and once the fault is gone the retry writes one.
func (c *faultChild) atSnapshot() {
	before, err := c.h.s.db.snapshots()
	if err != nil {
		c.t.Fatal(err)
	}
	c.fs.Set(storefault.ReadOnly)
	waitFor(c.t, "a failed snapshot", func() bool {
		c.acked = append(c.acked, c.h.mustSend(c.transfer()))
		return c.h.s.Stats().SnapshotFailures > 0
	})
	if warns := c.logs.at(slog.LevelWarn); len(warns) == 0 || !strings.Contains(strings.Join(warns, "\n"), "permission denied") {
		c.t.Fatalf("no warning naming the cause: %q", warns)
	}
	c.fs.Set(storefault.None)
	waitFor(c.t, "a snapshot written by the retry", func() bool {
		c.acked = append(c.acked, c.h.mustSend(c.transfer()))
		after, err := c.h.s.db.snapshots()
		return err == nil && len(after) > 0 && (len(before) == 0 || after[0] > before[0])
	})
	if errs := c.logs.at(slog.LevelError); len(errs) != 0 {
		c.t.Fatalf("error lines for a failed snapshot: %q", errs)
	}
}

// logRecorder is a slog.Handler that keeps every record as one line of text.
type logRecorder struct {
	mu    sync.Mutex
	lines map[slog.Level][]string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }

func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	b.WriteString(rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lines == nil {
		r.lines = make(map[slog.Level][]string)
	}
	r.lines[rec.Level] = append(r.lines[rec.Level], b.String())
	return nil
}

// at returns the lines logged at level.
func (r *logRecorder) at(level slog.Level) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.lines[level]...)
}
