package sequencer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// chainState is the state blocks are built on. mu orders block execution (write) against reads
// of the state by admission and the API (read), so that an admission decision sees one state
// and the mempool that goes with it; it is taken before txPool's lock.
type chainState struct {
	mu   sync.RWMutex
	exec Executor

	// Written by the builder only (and recovery before Start).
	depositCursor uint64
	place         placement // deposit placement (placement.go)
	genesisRoot   [32]byte  // set by recovery, then read-only
}

// headState is the latest durable block (Number 0: none yet), written by the builder only.
type headState struct {
	mu sync.RWMutex
	h  Header
}

func (h *headState) get() Header {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.h
}

func (h *headState) set(hd Header) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.h = hd
}

// headRoot is the state root at the head: the genesis root before the first block.
func (s *Sequencer) headRoot() [32]byte {
	if h := s.head.get(); h.Number != 0 {
		return h.PostRoot
	}
	return s.chain.genesisRoot
}

func (s *Sequencer) buildLoop(ctx context.Context) {
	defer s.run.wg.Done()
	t := time.NewTicker(s.cfg.BlockInterval)
	defer t.Stop()
	lastEvict := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.run.kick:
		}
		if s.Err() != nil { // stopped by a fault elsewhere (the log committer, pebble)
			return
		}
		for {
			n, err := s.buildBlock(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.stop(err, s.db.Fault() != nil)
				}
				return
			}
			if n < s.cfg.MaxBlockTxs { // a full block: more may be ready right away
				break
			}
		}
		if now := time.Now(); now.Sub(lastEvict) > time.Second {
			lastEvict = now
			s.evict(now)
		}
	}
}

// buildBlock builds, executes and stores one block, and returns its transaction count (0: there
// was nothing to do). An error stops block production: the state in memory may no longer be
// the one on disk (a storage fault), or the block could not be executed (a halt).
func (s *Sequencer) buildBlock(ctx context.Context) (int, error) {
	c := &s.chain
	var deps []Deposit
	if s.deposits != nil {
		var err error
		if deps, err = s.deposits.Deposits(ctx, c.depositCursor, s.cfg.MaxBlockTxs); err != nil {
			s.log.Warn("deposit source", "err", err) // L1 unreachable must not stop L2 transactions
			deps = nil
		}
	}
	start := time.Now()
	parent := s.head.get()
	c.mu.Lock()
	s.txs.mu.Lock()
	entries := s.txs.pool.selectReady(s.cfg.MaxBlockTxs-len(deps), nil)
	s.txs.mu.Unlock()
	if len(deps)+len(entries) == 0 {
		c.mu.Unlock()
		return 0, nil
	}
	blk, failed, err := s.execute(&parent, deps, entries)
	if err != nil {
		c.mu.Unlock()
		return 0, err
	}
	s.txs.mu.Lock()
	for _, e := range entries {
		if _, bad := failed[e]; bad {
			s.txs.pool.remove(e) // its nonce is free again
		} else {
			s.txs.pool.included(e)
			s.txs.landing[e.hash] = struct{}{}
		}
	}
	s.txs.mu.Unlock()
	c.mu.Unlock()
	defer func() {
		s.txs.mu.Lock()
		for _, e := range entries {
			delete(s.txs.landing, e.hash)
		}
		s.txs.mu.Unlock()
	}()

	if err := s.storeBlock(blk, deps, entries, failed); err != nil {
		return 0, err
	}
	h := blk.Header
	if h.TxCount == 0 { // every transaction failed: receipts only, no block
		return 0, nil
	}
	c.depositCursor = h.DepositEnd
	s.head.set(h)
	s.feed.publish(&h, blk.Data, time.Since(start))
	if s.snaps.due(h.Number, time.Now()) {
		s.snaps.take(c.exec, h.Number, &s.run.wg)
	}
	return len(deps) + len(entries), nil
}

// execute places the deposits, runs the block in one call into the executor and drops the
// failing transactions: it returns the block (header without TxCount and TxsHash; its records,
// their signatures and its trace: the post root of each kept transaction, what settlement
// commits to without executing again) and the failed entries with their statuses. The caller
// holds chainState.mu.
func (s *Sequencer) execute(parent *Header, deps []Deposit, entries []*entry) (*Block, map[*entry]l2.Status, error) {
	c := &s.chain
	data, err := s.placeDeposits(deps, make([]byte, 0, (len(deps)+len(entries))*l2.TxSize))
	if err != nil {
		return nil, nil, err
	}
	var sigs [][]byte // nil while no entry is of type 5/6
	for k, e := range entries {
		data = append(data, e.raw...)
		if e.sig != nil && sigs == nil {
			sigs = make([][]byte, len(deps)+len(entries))
		}
		if sigs != nil {
			sigs[len(deps)+k] = e.sig
		}
	}
	res, err := c.exec.Apply(data)
	if err != nil {
		return nil, nil, fmt.Errorf("sequencer: executing block %d: %w", parent.Number+1, err)
	}
	for k := range deps {
		if res.Statuses[k] != l2.StatusOK {
			return nil, nil, fmt.Errorf("sequencer: deposit %d placed at a failing index: %s", deps[k].QueueIndex, res.Statuses[k])
		}
	}
	h := Header{Number: parent.Number + 1, ParentHash: parent.Hash(), PrevRoot: s.headRoot(), PostRoot: res.FinalRoot,
		DepositStart: c.depositCursor, DepositEnd: c.depositCursor + uint64(len(deps)), Time: uint64(time.Now().UnixMilli())}
	if parent.Number == 0 {
		h.ParentHash = [32]byte{}
	}
	failed := make(map[*entry]l2.Status)
	for k, e := range entries {
		if st := res.Statuses[len(deps)+k]; st != l2.StatusOK {
			failed[e] = st
		}
	}
	if len(failed) == 0 {
		h.TraceRoot, h.WithdrawalRoot = res.TraceRoot, res.WithdrawalRoot
		// PostRoots is the executor's until its next Apply.
		return &Block{Header: h, Data: data, Sigs: sigs, Trace: append([]byte(nil), res.PostRoots...)}, failed, nil
	}
	// Failing transactions never reach a block. They left the state unchanged, so dropping them
	// keeps the final root; the trace and withdrawal lists lose their positions.
	b := &Block{Header: h, Data: data[:0:0]}
	var keptSigs [][]byte
	var trace, wleaves []fr.Element
	for k, st := range res.Statuses {
		if st != l2.StatusOK {
			continue
		}
		b.Data = append(b.Data, data[k*l2.TxSize:(k+1)*l2.TxSize]...)
		if sigs != nil {
			keptSigs = append(keptSigs, sigs[k])
		}
		b.Trace = append(b.Trace, res.PostRoots[32*k:32*k+32]...)
		var p, w fr.Element
		p.SetBytes(res.PostRoots[32*k : 32*k+32])
		w.SetBytes(res.WithdrawalLeaves[32*k : 32*k+32])
		trace, wleaves = append(trace, p), append(wleaves, w)
	}
	if slices.ContainsFunc(keptSigs, func(sig []byte) bool { return sig != nil }) {
		b.Sigs = keptSigs
	}
	if len(trace) > 0 {
		tr, wr := l2.ListRoot(trace), l2.ListRoot(wleaves)
		b.Header.TraceRoot, b.Header.WithdrawalRoot = tr.Bytes(), wr.Bytes()
	}
	return b, failed, nil
}

// storeBlock writes the block (if any transaction succeeded) with its trace, the ML-DSA keys its
// deposits carry (keyBook.learn), the receipts of its user transactions and the deletion of
// their log records in one synced batch, and sets its TxCount and TxsHash.
func (s *Sequencer) storeBlock(blk *Block, deps []Deposit, entries []*entry, failed map[*entry]l2.Status) error {
	h := &blk.Header
	b := s.db.db.NewBatch()
	var errs []error
	pos := uint32(len(deps))
	for _, e := range entries {
		r := receipt{Block: h.Number}
		if st, bad := failed[e]; bad {
			r.Status = st.String()
		} else {
			r.Included, r.Position, r.Status = true, pos, l2.StatusOK.String()
			pos++
		}
		errs = append(errs, b.Set(rcptKey(e.hash), r.encode(), nil), b.Delete(u64Key(prefixWAL, e.seq), nil))
	}
	keys, err := s.keys.learn(b, deps)
	errs = append(errs, err)
	if n := len(blk.Data) / l2.TxSize; n > 0 {
		h.TxCount = uint32(n)
		h.TxsHash = keccak(blk.Data) // the records: they bind each ML-DSA signature by its digest (w2)
		errs = append(errs, b.Set(u64Key(prefixBlock, h.Number), encodeBlock(h, blk.Data, blk.Sigs, blk.Trace), nil))
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(fmt.Errorf("sequencer: block %d: %w", h.Number, err), b.Close())
	}
	if err := errors.Join(s.db.commit(b, pebble.Sync), b.Close()); err != nil {
		return fmt.Errorf("sequencer: storing block %d: %w", h.Number, err)
	}
	s.keys.remember(keys)
	return nil
}
