package sequencer

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/bloom"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
)

// store is the sequencer's durable state: a pebble database for blocks, receipts, the
// transaction write-ahead log and the dev deposit queue, plus snapshot files next to it (a
// snapshot of a large state is tens of MB: a file written once is cheaper than a pebble value),
// all on one vfs.FS.
//
// Every write goes through write, which turns a storage fault into an error instead of a crash:
// pebble's fatal commit error (through pebbleguard) and the plain panic pebble raises when it
// cannot create the next WAL file (a full or read-only datadir at a memtable rotation). After
// the first fault the store refuses every write without touching pebble: the caller stops
// acknowledging and the process restarts on the same data dir (docs/sequencer.md).
type store struct {
	dir   string
	fs    vfs.FS
	db    *pebble.DB
	guard *pebbleguard.Guard

	// writeMu serialises the writers (the log committer, the block builder, recovery, dev
	// deposits). It is held across a commit and its sync, which pebble's commit pipeline would
	// otherwise merge, because a failed WAL rotation panics with pebble's own locks held: a
	// second writer inside pebble then would block for ever, while behind writeMu it sees the
	// fault and is refused.
	writeMu sync.Mutex
	fault   atomic.Pointer[storeFault]
	onFault func(error) // called once, with the first fault; must not block
}

// storeFault is the first storage fault. wedged: pebble was left holding its locks (a failed
// WAL rotation, a parked background goroutine), so the database cannot even be closed.
type storeFault struct {
	err    error
	wedged bool
}

// openStore opens the data dir on fs (nil: the disk); onFault hears of the first storage fault.
func openStore(dir string, fs vfs.FS, log *slog.Logger, onFault func(error)) (*store, error) {
	if fs == nil {
		fs = vfs.Default
	}
	if err := fs.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sequencer: data dir: %w", err)
	}
	s := &store{dir: dir, fs: fs, onFault: onFault}
	s.guard = pebbleguard.New(log.With("component", "pebble"), func(err error) {
		var f *pebbleguard.Fault
		s.setFault(err, errors.As(err, &f) && f.Wedged())
	})
	// Bloom filters on every level: each new transaction's receipt lookup (known) is a miss, and
	// without them a miss reads a block of every sstable it may be in.
	opts := &pebble.Options{FS: fs, Logger: s.guard, Levels: []pebble.LevelOptions{{FilterPolicy: bloom.FilterPolicy(10)}}}
	db, err := pebble.Open(fs.PathJoin(dir, "db"), opts)
	if err != nil {
		return nil, fmt.Errorf("sequencer: open pebble: %w", err)
	}
	s.db = db
	return s, nil
}

// write runs fn, which writes to the database, and returns a storage fault raised inside it as
// an error matching pebbleguard.ErrFault. After a fault it refuses without running fn.
func (s *store) write(fn func() error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	if err := s.Fault(); err != nil {
		return err
	}
	return s.guarded(fn)
}

// guarded runs fn through the guard, which also turns pebble's plain panic on a failed WAL
// rotation into a wedged fault (reported through the guard's callback, setFault).
func (s *store) guarded(fn func() error) error {
	err := s.guard.Do(fn)
	if errors.Is(err, pebbleguard.ErrFault) {
		var f *pebbleguard.Fault
		return s.setFault(err, errors.As(err, &f) && f.Wedged())
	}
	return err
}

// setFault records err as the store's fault if it is the first, and returns err.
func (s *store) setFault(err error, wedged bool) error {
	if s.fault.CompareAndSwap(nil, &storeFault{err: err, wedged: wedged}) && s.onFault != nil {
		s.onFault(err)
	}
	return err
}

// Fault returns the first storage fault, or nil.
func (s *store) Fault() error {
	if f := s.fault.Load(); f != nil {
		return f.err
	}
	return nil
}

// commit commits b, synced or not, through write.
func (s *store) commit(b *pebble.Batch, o *pebble.WriteOptions) error {
	return s.write(func() error { return b.Commit(o) })
}

// close closes the database, unless a fault left pebble holding its locks: then Close would
// never return, and only the end of the process releases the data dir.
func (s *store) close() error {
	if f := s.fault.Load(); f != nil && f.wedged {
		return fmt.Errorf("sequencer: database left open after %w (the process must exit to release it)", f.err)
	}
	return s.db.Close()
}

func (s *store) get(key []byte) ([]byte, bool, error) {
	v, c, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	out := append([]byte(nil), v...)
	return out, true, c.Close()
}

// checkGenesis records the chain ID and depth on first use and refuses a data dir made for
// another chain.
func (s *store) checkGenesis(chainID uint64, depth int) error {
	want := append(binary.BigEndian.AppendUint64(nil, chainID), byte(depth))
	got, ok, err := s.get(keyGenesis)
	if err != nil {
		return err
	}
	if !ok {
		return s.write(func() error { return s.db.Set(keyGenesis, want, pebble.Sync) })
	}
	if string(got) != string(want) {
		return fmt.Errorf("sequencer: data dir belongs to chain %d depth %d, configured chain %d depth %d",
			binary.BigEndian.Uint64(got), got[8], chainID, depth)
	}
	return nil
}

func (s *store) block(n uint64) (*Block, error) {
	v, ok, err := s.get(u64Key(prefixBlock, n))
	if err != nil || !ok {
		return nil, err
	}
	return decodeBlock(v)
}

// lastBlock returns the highest stored block number (0: none).
func (s *store) lastBlock() (uint64, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixBlock, UpperBound: prefixEnd(prefixBlock)})
	if err != nil {
		return 0, err
	}
	defer it.Close()
	if !it.Last() {
		return 0, it.Error()
	}
	return binary.BigEndian.Uint64(it.Key()[len(prefixBlock):]), nil
}

func (s *store) receipt(hash [32]byte) (*receipt, error) {
	v, ok, err := s.get(rcptKey(hash))
	if err != nil || !ok {
		return nil, err
	}
	r, err := decodeReceipt(v)
	return &r, err
}

func rcptKey(hash [32]byte) []byte { return append(append([]byte(nil), prefixRcpt...), hash[:]...) }

// walEntries calls each for every WAL record in sequence order.
func (s *store) walEntries(each func(seq uint64, raw []byte) error) error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: prefixWAL, UpperBound: prefixEnd(prefixWAL)})
	if err != nil {
		return err
	}
	defer it.Close()
	for it.First(); it.Valid(); it.Next() {
		if err := each(binary.BigEndian.Uint64(it.Key()[len(prefixWAL):]), append([]byte(nil), it.Value()...)); err != nil {
			return err
		}
	}
	return it.Error()
}

func prefixEnd(p []byte) []byte {
	e := append([]byte(nil), p...)
	e[len(e)-1]++
	return e
}
