package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
)

func walKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixWAL), seq) }

// loadWAL refills the mempool with the acknowledged transactions not yet in a block that the
// policy still admits against the committed state: an entry that no longer decodes, whose
// nonce is taken or too far ahead, whose sender cannot pay, or that does not fit is deleted
// from the log, so junk does not come back with a restart.
func (n *Node) loadWAL() error {
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixWAL), UpperBound: []byte("w0")})
	if err != nil {
		return fmt.Errorf("node: WAL iterator: %w", err)
	}
	defer it.Close()
	drop := n.db.NewBatch()
	defer drop.Close()
	dropped := 0
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefixWAL)+8 {
			return fmt.Errorf("node: corrupt WAL key %x", k)
		}
		seq := binary.BigEndian.Uint64(k[len(prefixWAL):])
		n.nextSeq = seq + 1
		p, err := n.revalidate(seq, append([]byte(nil), it.Value()...))
		if err != nil {
			n.cfg.Logger.Debug("mempool log entry dropped at start", "seq", seq, "err", err)
			if err := drop.Delete(walKey(seq), nil); err != nil {
				return fmt.Errorf("node: dropping WAL entry %d: %w", seq, err)
			}
			dropped++
			continue
		}
		n.pool = append(n.pool, p)
	}
	if err := it.Error(); err != nil {
		return fmt.Errorf("node: reading the WAL: %w", err)
	}
	if dropped > 0 {
		n.cfg.Logger.Info("mempool log re-validated at start", "kept", len(n.pool), "dropped", dropped)
		if err := n.guard.Commit(drop, pebble.Sync); err != nil {
			return fmt.Errorf("node: dropping %d WAL entries: %w", dropped, err)
		}
	}
	return nil
}

// revalidate admits a logged transaction again at start; whatever it would evict is already
// admitted, so it must fit as it is.
func (n *Node) revalidate(seq uint64, raw []byte) (*poolTx, error) {
	tx, err := chain.DecodeTx(raw, n.chain.ChainID())
	if err != nil {
		return nil, err
	}
	p, err := n.newPoolTx(tx, raw)
	if err != nil {
		return nil, err
	}
	p.seq = seq
	if n.known[p.hash] {
		return nil, ErrKnownTx
	}
	acct, err := n.chain.Account(p.sender)
	if err != nil {
		return nil, err
	}
	victims, err := n.admit(p, acct)
	if err != nil {
		return nil, err
	}
	if len(victims) > 0 {
		return nil, fmt.Errorf("%w: at start", ErrMempoolFull)
	}
	n.insert(p, acct.Nonce)
	return p, nil
}

// SubmitTx checks a raw transaction's envelope (size, encoding, chain ID, signature) and the
// mempool policy against the committed state (nonce, per-sender caps, the balance paying every
// pending fee and value, room: docs/l1.md §6.1), writes it to the mempool's log with a synced
// write, together with the deletion of what it evicts, and only then acknowledges it with its
// hash: an acknowledged transaction survives a crash. The state rules are decided again when a
// block includes it; the receipt says how.
//
// Under ExternalConsensus with a relay set (SetRelay), the transaction is then handed to the
// consensus engine's mempool, also when the node already holds it (a retry relays again).
func (n *Node) SubmitTx(raw []byte) (common.Hash, error) {
	h, err := n.Admit(raw)
	n.mu.Lock()
	relay := n.relay
	n.mu.Unlock()
	if relay != nil && (err == nil || errors.Is(err, ErrKnownTx)) {
		if err := relay(raw); err != nil {
			return common.Hash{}, fmt.Errorf("node: handing transaction %s to the consensus engine: %w", h, err)
		}
	}
	return h, err
}

// Admit is SubmitTx without the relay: how the consensus engine's CheckTx admits a transaction.
func (n *Node) Admit(raw []byte) (common.Hash, error) {
	h, err := n.submit(raw)
	if err != nil && !errors.Is(err, ErrStopped) && !errors.Is(err, ErrHalted) {
		n.mu.Lock()
		n.refused[reasonOf(err)]++
		n.mu.Unlock()
	}
	return h, err
}

func (n *Node) submit(raw []byte) (common.Hash, error) {
	if len(raw) > chain.MaxTxSize {
		return common.Hash{}, fmt.Errorf("%w: %d bytes", chain.ErrTxTooLarge, len(raw))
	}
	tx, err := chain.DecodeTx(raw, n.chain.ChainID())
	if err != nil {
		return common.Hash{}, err
	}
	p, err := n.newPoolTx(tx, append([]byte(nil), raw...))
	if err != nil {
		return common.Hash{}, err
	}
	// Stop waits for the submissions it let in: the store stays open for their reads and writes.
	n.mu.Lock()
	if err := n.usable(); err != nil {
		n.mu.Unlock()
		return common.Hash{}, err
	}
	n.inflight.Add(1)
	n.mu.Unlock()
	defer n.inflight.Done()
	acct, err := n.chain.Account(tx.Sender)
	if err != nil {
		return common.Hash{}, err
	}
	n.mu.Lock()
	if n.known[tx.Hash] {
		n.mu.Unlock()
		return tx.Hash, ErrKnownTx
	}
	victims, err := n.admit(p, acct)
	if err != nil {
		n.mu.Unlock()
		return common.Hash{}, err
	}
	// Reserve the slot, then write outside the lock so that concurrent submissions share
	// pebble's group commit instead of queueing for one fsync each.
	for _, v := range victims {
		n.remove(v)
		n.evicted++
	}
	p.seq, p.inflight = n.nextSeq, true
	n.nextSeq++
	n.insert(p, acct.Nonce)
	n.mu.Unlock()

	err = n.storeErr("writing the mempool log", n.guard.Do(func() error { return n.writeWAL(p, victims) }))
	n.mu.Lock()
	defer n.mu.Unlock()
	p.inflight = false
	if err != nil {
		n.unaccount(p)
		if errors.Is(err, ErrHalted) {
			return common.Hash{}, err
		}
		return common.Hash{}, fmt.Errorf("node: writing the mempool log: %w", err)
	}
	n.pool = append(n.pool, p)
	return tx.Hash, nil
}

// usable refuses submissions to a stopped or halted node. mu held.
func (n *Node) usable() error {
	if n.stopped {
		return ErrStopped
	}
	return n.fatal
}

// writeWAL logs p and deletes its victims' entries in one synced batch.
func (n *Node) writeWAL(p *poolTx, victims []*poolTx) error {
	b := n.db.NewBatch()
	defer b.Close()
	if err := b.Set(walKey(p.seq), p.raw, nil); err != nil {
		return err
	}
	for _, v := range victims {
		if err := b.Delete(walKey(v.seq), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
}

// selectTxs picks the next block's transactions in arrival order. A transaction whose nonce is
// ahead of its sender's waits until the gap fills (a later pass picks it up once the missing
// nonce is in), and one whose sender's balance cannot pay it (after the sender's earlier picks)
// waits too. A nonce behind the sender's is stale (another transaction took it): it is returned
// in stale, to leave the pool with the block.
func (n *Node) selectTxs() (picked, stale []*poolTx, err error) {
	n.mu.Lock()
	pool := append([]*poolTx(nil), n.pool...)
	n.mu.Unlock()
	type sender struct{ next, balance uint64 }
	senders := map[common.Address]*sender{} // lookups only, never iterated
	taken := make([]bool, len(pool))
	size := 0
	for progress := true; progress; {
		progress = false
		for i, p := range pool {
			if taken[i] {
				continue
			}
			if len(picked) >= n.cfg.MaxBlockTxs || size+len(p.raw) > n.cfg.MaxBlockBytes {
				return picked, stale, nil
			}
			s := senders[p.sender]
			if s == nil {
				acct, err := n.chain.Account(p.sender)
				if err != nil {
					return nil, nil, err
				}
				s = &sender{next: acct.Nonce, balance: acct.Balance}
				senders[p.sender] = s
			}
			switch {
			case p.nonce < s.next:
				taken[i] = true
				stale = append(stale, p)
			case p.nonce == s.next && p.cost <= s.balance:
				s.next++
				s.balance -= p.cost
				taken[i], progress = true, true
				picked = append(picked, p)
				size += len(p.raw)
			}
		}
	}
	return picked, stale, nil
}
