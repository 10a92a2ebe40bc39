package sequencer

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
)

// ReferenceState returns the Go reference state at the end of block at, for the settlement
// engine's cross-check and prover (which must not replay from genesis): the newest snapshot at
// or below at that reads back (the genesis state if none), then the blocks after it up to at,
// replayed on it (each checked against its recorded post root). The snapshot interval
// (Config.SnapshotEvery) bounds the replay while at is no older than the older of the two
// snapshots kept; an older at replays from genesis. It returns replayed, the number of
// transactions it executed. Signatures are not checked (they were at admission). ctx ends a
// replay between blocks.
func (s *Sequencer) ReferenceState(ctx context.Context, at uint64) (st *l2.State, replayed uint64, err error) {
	snaps, err := s.db.snapshots()
	if err != nil {
		return nil, 0, err
	}
	from := uint64(0)
	for _, n := range snaps {
		if n > at {
			continue
		}
		img, err := s.db.readSnapshot(n)
		if err != nil { // removed by a newer snapshot meanwhile, or unreadable: an older one
			s.log.Debug("snapshot unusable for a reference state", "block", n, "err", err)
			continue
		}
		if st, err = referenceState(img); err != nil {
			s.log.Warn("snapshot unusable for a reference state", "block", n, "err", err)
			continue
		}
		from = n
		break
	}
	if st == nil {
		if st, err = l2.NewState(s.cfg.Depth); err != nil {
			return nil, 0, err
		}
	} else if b, err := s.db.block(from); err != nil || b == nil {
		return nil, 0, fmt.Errorf("sequencer: block %d of snapshot: %v", from, err)
	} else if r := st.Root(); r.Bytes() != b.Header.PostRoot {
		return nil, 0, fmt.Errorf("sequencer: snapshot of block %d is not at its post root", from)
	}
	for n := from + 1; n <= at; n++ {
		if err := ctx.Err(); err != nil {
			return nil, 0, err
		}
		b, err := s.db.block(n)
		if err != nil {
			return nil, 0, err
		}
		if b == nil {
			return nil, 0, fmt.Errorf("sequencer: block %d missing", n)
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
