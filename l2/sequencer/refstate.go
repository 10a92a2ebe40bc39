package sequencer

import (
	"context"
	"errors"
	"fmt"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// ReferenceState returns the Go reference state at the end of block at, for the settlement
// engine's cross-check and fault injection (which must not replay from genesis): the newest
// snapshot at or below at that reads back (the genesis state if none), then the blocks after it
// up to at, replayed on it (each checked against its recorded post root). The snapshot interval
// (Config.SnapshotEvery) bounds the replay while at is no older than the older of the two
// snapshots kept; an older at replays from genesis. It returns replayed, the number of
// transactions it executed. Signatures are not checked (they were at admission). ctx ends a
// replay between blocks.
func (s *Sequencer) ReferenceState(ctx context.Context, at uint64) (st *l2.State, replayed uint64, err error) {
	from, err := s.fromSnapshot(at, func(img []byte) (err error) {
		st, err = referenceState(img)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if st == nil {
		if st, err = l2.NewState(s.cfg.Depth); err != nil {
			return nil, 0, err
		}
	} else {
		root := st.Root()
		if err := s.atPostRoot(from, root.Bytes()); err != nil {
			return nil, 0, err
		}
	}
	for n := from + 1; n <= at; n++ {
		b, err := s.replayBlock(ctx, n)
		if err != nil {
			return nil, 0, err
		}
		txs, err := l2.DecodeBatch(b.Data)
		if err != nil {
			return nil, 0, fmt.Errorf("sequencer: block %d: %w", n, err)
		}
		res := st.ApplyBatch(txs, l2.ApplyOptions{ChainID: s.cfg.ChainID})
		replayed += uint64(len(txs))
		if res.Rejected > 0 || res.FinalRoot.Bytes() != b.Header.PostRoot {
			return nil, 0, fmt.Errorf("sequencer: block %d does not replay to its post root with the Go reference", n)
		}
	}
	return st, replayed, nil
}

// CoreState returns a new core (the caller closes it) at stream position (block, offset): the
// end of block block-1 and the first offset transactions of block block, for the settlement
// engine's prover. It is ReferenceState in the core: the newest snapshot at or below block-1
// restored (ffi.Restore; an empty core if none), then the blocks after it applied in the core
// (one call each, each checked against its recorded post root), then the first offset
// transactions of block block (checked against its trace entry offset-1). applied counts the
// transactions it executed.
func (s *Sequencer) CoreState(ctx context.Context, block, offset uint64) (c *ffi.Core, applied uint64, err error) {
	if block == 0 {
		return nil, 0, fmt.Errorf("sequencer: core state at block 0")
	}
	at := block - 1
	from, err := s.fromSnapshot(at, func(img []byte) (err error) {
		c, err = ffi.Restore(img, s.cfg.CapacityHint)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	if c == nil {
		if c, err = ffi.New(uint32(s.cfg.Depth), s.cfg.CapacityHint); err != nil {
			return nil, 0, err
		}
	}
	if applied, err = s.coreReplay(ctx, c, from, at, offset); err != nil {
		return nil, 0, errors.Join(err, c.Close())
	}
	return c, applied, nil
}

// coreReplay moves core c from the end of block from to the end of block at, then through the
// first offset transactions of block at+1.
func (s *Sequencer) coreReplay(ctx context.Context, c *ffi.Core, from, at, offset uint64) (applied uint64, err error) {
	if from > 0 {
		root, err := c.Root()
		if err != nil {
			return 0, err
		}
		if err := s.atPostRoot(from, root); err != nil {
			return 0, err
		}
	}
	var out ffi.BatchOutput
	last := at
	if offset > 0 {
		last = at + 1
	}
	for n := from + 1; n <= last; n++ {
		b, err := s.replayBlock(ctx, n)
		if err != nil {
			return applied, err
		}
		data, want := b.Data, b.Header.PostRoot
		if n == at+1 {
			if uint64(b.Header.TxCount) < offset || b.Trace == nil {
				return applied, fmt.Errorf("sequencer: block %d: no transaction %d with its trace entry", n, offset)
			}
			data, want = b.Data[:offset*l2.TxSize], b.PostRoot(int(offset)-1)
		}
		if err := c.ApplyBatch(data, &out); err != nil {
			return applied, fmt.Errorf("sequencer: block %d in the core: %w", n, err)
		}
		applied += uint64(out.Len())
		if out.FinalRoot != want {
			return applied, fmt.Errorf("sequencer: block %d does not replay to its recorded root in the core", n)
		}
	}
	return applied, nil
}

// fromSnapshot opens (open) the newest snapshot at or below at that reads back and opens, and
// returns its block (0: none, open never succeeded).
func (s *Sequencer) fromSnapshot(at uint64, open func(img []byte) error) (uint64, error) {
	snaps, err := s.db.snapshots()
	if err != nil {
		return 0, err
	}
	for _, n := range snaps {
		if n > at {
			continue
		}
		img, err := s.db.readSnapshot(n)
		if err != nil { // removed by a newer snapshot meanwhile, or unreadable: an older one
			s.log.Debug("snapshot unusable for a replay", "block", n, "err", err)
			continue
		}
		if err := open(img); err != nil {
			s.log.Warn("snapshot unusable for a replay", "block", n, "err", err)
			continue
		}
		return n, nil
	}
	return 0, nil
}

// atPostRoot checks that root is block n's recorded post root (a snapshot of block n).
func (s *Sequencer) atPostRoot(n uint64, root [32]byte) error {
	b, err := s.db.block(n)
	if err != nil || b == nil {
		return fmt.Errorf("sequencer: block %d of snapshot: %v", n, err)
	}
	if root != b.Header.PostRoot {
		return fmt.Errorf("sequencer: snapshot of block %d is not at its post root", n)
	}
	return nil
}

// replayBlock reads block n for a replay; ctx ends a replay between blocks.
func (s *Sequencer) replayBlock(ctx context.Context, n uint64) (*Block, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b, err := s.db.block(n)
	if err != nil {
		return nil, err
	}
	if b == nil {
		return nil, fmt.Errorf("sequencer: block %d missing", n)
	}
	return b, nil
}
