package sequencer

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/vfs"

	"github.com/pqbridge/pqbridge/internal/backoff"
)

// Snapshot retries: a failed snapshot is tried again after a backoff that doubles up to a
// minute, at the next block after it (a full disk is not hammered every block).
const (
	snapshotRetryMin = time.Second
	snapshotRetryMax = time.Minute
)

// snapshotter writes state snapshots (docs/protocol.md §9) to files in the background. A failed
// write is logged, counted and retried, never a halt: the blocks in pebble are the durable
// record, a snapshot only shortens the replay of a restart (and an older one, or genesis, still
// works), so it never threatens what was acknowledged.
type snapshotter struct {
	db       *store
	log      *slog.Logger
	every    uint64        // K: a snapshot every K blocks
	pin      atomic.Uint64 // keep the newest snapshot at or below this block too (KeepSnapshotAtOrBelow)
	busy     atomic.Bool
	failures atomic.Uint64

	mu      sync.Mutex // guards retryAt and streak
	retryAt time.Time  // zero: no failed snapshot waiting for a retry
	streak  int        // failed snapshots in a row
}

// due reports whether the block just stored should be snapshotted: every K blocks, or a retry.
func (p *snapshotter) due(number uint64, now time.Time) bool {
	if number%p.every == 0 {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.retryAt.IsZero() && !now.Before(p.retryAt)
}

// take exports the state now (the caller keeps it from changing during the export) and writes
// the file in the background, on wg; it skips a snapshot while the previous one is being written.
func (p *snapshotter) take(exec Executor, number uint64, wg *sync.WaitGroup) {
	if !p.busy.CompareAndSwap(false, true) {
		return
	}
	img, err := exec.Snapshot()
	if err != nil {
		p.busy.Store(false)
		p.done(number, err)
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer p.busy.Store(false)
		p.done(number, p.db.writeSnapshot(number, img, p.pin.Load()))
	}()
}

// done records the outcome of the snapshot of block number.
func (p *snapshotter) done(number uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err == nil {
		p.retryAt, p.streak = time.Time{}, 0
		return
	}
	p.streak++
	wait := backoff.Ceiling(snapshotRetryMin, snapshotRetryMax, p.streak)
	p.retryAt = time.Now().Add(wait)
	n := p.failures.Add(1)
	p.log.Warn("snapshot failed, will retry", "block", number, "err", err, "failures", n, "retry_in", wait)
}

func snapshotName(number uint64) string { return fmt.Sprintf("snapshot-%d.bin", number) }

// writeSnapshot writes snapshot-<block number>.bin: a temporary file, synced, renamed, the
// directory synced. The newest two are kept (the older one is a fallback if the newest turns out
// unreadable), and the newest at or below pin: the state the settlement engine may have to
// rebuild, at the start of its oldest batch not final (Sequencer.KeepSnapshotAtOrBelow).
func (s *store) writeSnapshot(number uint64, img []byte, pin uint64) error {
	name := s.fs.PathJoin(s.dir, snapshotName(number))
	tmp := name + ".tmp"
	if err := writeSynced(s.fs, tmp, img); err != nil {
		return errors.Join(fmt.Errorf("sequencer: snapshot of block %d: %w", number, err), removeIfThere(s.fs, tmp))
	}
	if err := s.fs.Rename(tmp, name); err != nil {
		return errors.Join(fmt.Errorf("sequencer: snapshot of block %d: %w", number, err), removeIfThere(s.fs, tmp))
	}
	if err := syncDir(s.fs, s.dir); err != nil {
		return fmt.Errorf("sequencer: snapshot of block %d: %w", number, err)
	}
	nums, err := s.snapshots()
	if err != nil {
		return err
	}
	var errs []error
	for i, n := range nums { // newest first
		if i < 2 {
			continue
		}
		if n <= pin {
			if pinned := nums[i-1] <= pin; !pinned { // the newest at or below pin: keep it
				continue
			}
		}
		errs = append(errs, removeIfThere(s.fs, s.fs.PathJoin(s.dir, snapshotName(n))))
	}
	return errors.Join(errs...)
}

func writeSynced(fs vfs.FS, name string, data []byte) error {
	f, err := fs.Create(name)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return errors.Join(err, f.Close())
	}
	if err := f.Sync(); err != nil {
		return errors.Join(err, f.Close())
	}
	return f.Close()
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}

func removeIfThere(fs vfs.FS, name string) error {
	if err := fs.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// snapshots lists the block numbers of the snapshot files, newest first.
func (s *store) snapshots() ([]uint64, error) {
	names, err := s.fs.List(s.dir)
	if err != nil {
		return nil, err
	}
	var nums []uint64
	for _, name := range names {
		n, ok := strings.CutPrefix(name, "snapshot-")
		if !ok || !strings.HasSuffix(n, ".bin") {
			continue
		}
		if v, err := strconv.ParseUint(strings.TrimSuffix(n, ".bin"), 10, 64); err == nil {
			nums = append(nums, v)
		}
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] > nums[j] })
	return nums, nil
}

func (s *store) readSnapshot(number uint64) ([]byte, error) {
	f, err := s.fs.Open(s.fs.PathJoin(s.dir, snapshotName(number)))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, errors.Join(err, f.Close())
	}
	img := make([]byte, st.Size()) // one allocation: an image is tens of MB for a large state
	_, err = io.ReadFull(f, img)
	return img, errors.Join(err, f.Close())
}

// KeepSnapshotAtOrBelow asks the sequencer to keep, besides its newest two snapshots, the newest
// one at or below block: the settlement engine sets it to the block before its oldest batch not
// final, so that rebuilding the state at that batch's start after a revert or a restart
// (CoreState, ReferenceState) replays from a snapshot, not from genesis, however long the
// challenge window. It takes effect when the next snapshot is written.
func (s *Sequencer) KeepSnapshotAtOrBelow(block uint64) { s.snaps.pin.Store(block) }
