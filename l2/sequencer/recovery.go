package sequencer

import (
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// recover rebuilds the state from the data dir before Start: the newest usable snapshot, the
// later blocks replayed and checked, the logged transactions back into the mempool.
func (s *Sequencer) recover() error {
	c := &s.chain
	if err := s.db.checkGenesis(s.cfg.ChainID, s.cfg.Depth); err != nil {
		return err
	}
	dev, err := newDevDeposits(s.db.db)
	if err != nil {
		return err
	}
	s.dev = dev
	last, err := s.db.lastBlock()
	if err != nil {
		return err
	}
	// The genesis root, for block 1's PrevRoot.
	g, err := l2.NewState(s.cfg.Depth)
	if err != nil {
		return err
	}
	gr := g.Root()
	c.genesisRoot = gr.Bytes()

	from := uint64(0) // the block the restored state is at
	restoreStart := time.Now()
	snaps, err := s.db.snapshots()
	if err != nil {
		return err
	}
	for _, n := range snaps {
		if n > last {
			continue
		}
		if err := s.restoreSnapshot(n); err != nil {
			s.log.Warn("snapshot unusable, trying an older one", "block", n, "err", err)
			continue
		}
		from = n
		break
	}
	if c.exec == nil {
		if c.exec, err = newExecutor(s.cfg.Executor, s.cfg.Depth, s.cfg.CapacityHint, nil); err != nil {
			return err
		}
		c.place = newPlacement()
	}
	restored := time.Since(restoreStart)
	// The snapshot image (88 bytes per account) is garbage now: give it back to the OS rather
	// than carry it in the resident set until the heap grows into it.
	debug.FreeOSMemory()
	start := time.Now()
	for n := from + 1; n <= last; n++ {
		b, err := s.db.block(n)
		if err != nil {
			return err
		}
		if b == nil {
			return fmt.Errorf("sequencer: block %d missing below head %d", n, last)
		}
		if err := s.replay(b); err != nil {
			return err
		}
	}
	if last > 0 {
		b, err := s.db.block(last)
		if err != nil {
			return err
		}
		s.head.set(b.Header)
		c.depositCursor = b.Header.DepositEnd
	}
	root, err := c.exec.Root()
	if err != nil {
		return err
	}
	if want := s.headRoot(); root != want {
		return fmt.Errorf("sequencer: recovered root %x, head block %d records %x", root, last, want)
	}
	readmitted, dropped, err := s.readmitLog()
	if err != nil {
		return err
	}
	s.log.Info("recovered", "snapshot", from, "restore", restored, "head", last, "replayed", last-from, "replay", time.Since(start),
		"readmitted", readmitted, "dropped", dropped)
	return nil
}

// restoreSnapshot loads the snapshot taken at block n, after checking it against block n's
// recorded root, and rebuilds the deposit placement index from it.
func (s *Sequencer) restoreSnapshot(n uint64) error {
	img, err := s.db.readSnapshot(n)
	if err != nil {
		return err
	}
	b, err := s.db.block(n)
	if err != nil || b == nil {
		return fmt.Errorf("block %d: %v", n, err)
	}
	// The deposit placement index is rebuilt from the entries while the core imports the image
	// (which checks it entirely, root included) on another thread.
	place := newPlacement()
	var root [32]byte
	walked := make(chan error, 1)
	go func() {
		var werr error
		_, root, werr = ffi.WalkSnapshot(img, func(a *ffi.IndexedAccount) {
			place.created(digest(a.PubKeyX[:], a.PubKeyY[:]), a.Index)
		})
		walked <- werr
	}()
	exec, err := newExecutor(s.cfg.Executor, s.cfg.Depth, s.cfg.CapacityHint, img)
	werr := <-walked
	if err == nil && werr == nil && root != b.Header.PostRoot {
		err = fmt.Errorf("snapshot root %x is not block %d's root %x", root, n, b.Header.PostRoot)
	}
	if err != nil || werr != nil {
		if exec != nil {
			err = errors.Join(err, exec.Close())
		}
		return errors.Join(err, werr)
	}
	s.chain.exec, s.chain.place = exec, place
	return nil
}

// replay re-executes a stored block: every transaction must succeed and every root must be the
// recorded one, or the data dir does not describe this chain and the sequencer refuses to run.
func (s *Sequencer) replay(b *Block) error {
	c := &s.chain
	h := &b.Header
	prev, err := c.exec.Root()
	if err != nil {
		return err
	}
	if prev != h.PrevRoot {
		return fmt.Errorf("sequencer: replay of block %d: state root %x, block's previous root %x", h.Number, prev, h.PrevRoot)
	}
	res, err := c.exec.Apply(b.Data)
	if err != nil {
		return fmt.Errorf("sequencer: replay of block %d: %w", h.Number, err)
	}
	for k, st := range res.Statuses {
		if st != l2.StatusOK {
			return fmt.Errorf("sequencer: replay of block %d: transaction %d has status %s", h.Number, k, st)
		}
	}
	if res.FinalRoot != h.PostRoot || res.TraceRoot != h.TraceRoot || res.WithdrawalRoot != h.WithdrawalRoot {
		return fmt.Errorf("sequencer: replay of block %d gave root %x trace %x withdrawals %x, recorded %x %x %x",
			h.Number, res.FinalRoot, res.TraceRoot, res.WithdrawalRoot, h.PostRoot, h.TraceRoot, h.WithdrawalRoot)
	}
	return c.place.replayed(b)
}

// readmitLog puts the logged transactions that no block consumed back into the mempool, in log
// order, without checking signatures again (they were checked before being logged). One whose
// (sender, nonce) the state has consumed is deleted: it, or a transaction with the same nonce,
// already ran, and no transaction runs twice.
func (s *Sequencer) readmitLog() (readmitted, dropped int, err error) {
	p := &s.txs
	del := s.db.db.NewBatch()
	defer del.Close()
	err = s.db.walEntries(func(seq uint64, raw []byte) error {
		p.walSeq = max(p.walSeq, seq+1)
		rec, sig, tx, derr := decodeLogRecord(raw)
		var acc l2.Account
		ok := false
		if derr == nil {
			var aerr error
			if acc, ok, aerr = s.chain.exec.Account(tx.From); aerr != nil {
				s.log.Warn("log record of an unreadable sender: dropped", "seq", seq, "from", tx.From, "err", aerr)
			}
		} else {
			s.log.Warn("unreadable log record: dropped", "seq", seq, "err", derr)
		}
		if ok && tx.Nonce >= acc.Nonce {
			e := &entry{hash: TxHash(rec), raw: rec, sig: sig, tx: tx, seq: seq, done: make(chan struct{}), added: time.Now()}
			if p.pool.byHash[e.hash] == nil && p.pool.admit(e, acc, nil, true) == nil {
				p.pool.markDurable(e)
				readmitted++
				return nil
			}
		}
		dropped++
		return del.Delete(u64Key(prefixWAL, seq), nil)
	})
	if err != nil {
		return 0, 0, err
	}
	return readmitted, dropped, s.db.commit(del, pebble.Sync)
}

// decodeLogRecord reads a write-ahead log record: one record, followed by its signature for a
// type 5/6 (the interleaved form, l2.SplitBatchData).
func decodeLogRecord(raw []byte) (rec, sig []byte, tx l2.Tx, err error) {
	recs, sigs, err := l2.SplitBatchData(raw)
	if err == nil && len(sigs) != 1 {
		err = fmt.Errorf("sequencer: log record of %d transactions", len(sigs))
	}
	if err != nil {
		return nil, nil, tx, err
	}
	if tx, err = l2.DecodeTx(recs); err != nil {
		return nil, nil, tx, err
	}
	tx.MLDSASig = sigs[0]
	return recs, sigs[0], tx, nil
}
