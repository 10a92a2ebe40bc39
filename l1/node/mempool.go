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

// loadWAL refills the mempool with every acknowledged transaction not yet in a block.
func (n *Node) loadWAL() error {
	it, err := n.db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixWAL), UpperBound: []byte("w0")})
	if err != nil {
		return fmt.Errorf("node: WAL iterator: %w", err)
	}
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()
		if len(k) != len(prefixWAL)+8 {
			return fmt.Errorf("node: corrupt WAL key %x", k)
		}
		seq := binary.BigEndian.Uint64(k[len(prefixWAL):])
		raw := append([]byte(nil), it.Value()...)
		tx, err := chain.DecodeTx(raw, n.chain.ChainID())
		if err != nil {
			return fmt.Errorf("node: WAL entry %d no longer decodes: %w", seq, err)
		}
		n.add(&poolTx{seq: seq, raw: raw, hash: tx.Hash, sender: tx.Sender, nonce: tx.Nonce})
		n.nextSeq = seq + 1
	}
	return it.Error()
}

func (n *Node) add(p *poolTx) {
	n.pool = append(n.pool, p)
	n.known[p.hash] = true
	n.poolBytes += len(p.raw)
}

// SubmitTx checks a raw transaction's envelope (size, encoding, chain ID, signature), writes it
// to the mempool's log with a synced write and only then acknowledges it with its hash: an
// acknowledged transaction survives a crash. Its state rules (nonce, balance, ...) are decided
// when a block includes it; the receipt says how.
func (n *Node) SubmitTx(raw []byte) (common.Hash, error) {
	if len(raw) > chain.MaxTxSize {
		return common.Hash{}, fmt.Errorf("%w: %d bytes", chain.ErrTxTooLarge, len(raw))
	}
	tx, err := chain.DecodeTx(raw, n.chain.ChainID())
	if err != nil {
		return common.Hash{}, err
	}
	n.mu.Lock()
	switch {
	case n.stopped:
		n.mu.Unlock()
		return common.Hash{}, ErrStopped
	case n.fatal != nil:
		err := n.fatal
		n.mu.Unlock()
		return common.Hash{}, err
	case n.known[tx.Hash]:
		n.mu.Unlock()
		return tx.Hash, ErrKnownTx
	case len(n.pool)+n.reserved >= n.cfg.MaxMempoolTxs || n.poolBytes+len(raw) > n.cfg.MaxMempoolBytes:
		n.mu.Unlock()
		return common.Hash{}, fmt.Errorf("%w: %d transactions, %d bytes", ErrMempoolFull, len(n.pool), n.poolBytes)
	}
	// Reserve the slot, then write outside the lock so that concurrent submissions share
	// pebble's group commit instead of queueing for one fsync each.
	seq := n.nextSeq
	n.nextSeq++
	n.known[tx.Hash] = true
	n.poolBytes += len(raw)
	n.reserved++
	n.inflight.Add(1)
	n.mu.Unlock()

	raw = append([]byte(nil), raw...)
	err = n.storeErr("writing the mempool log", n.guard.Do(func() error { return n.db.Set(walKey(seq), raw, pebble.Sync) }))
	n.mu.Lock()
	defer n.mu.Unlock()
	defer n.inflight.Done()
	n.reserved--
	if err != nil {
		delete(n.known, tx.Hash)
		n.poolBytes -= len(raw)
		if errors.Is(err, ErrHalted) {
			return common.Hash{}, err
		}
		return common.Hash{}, fmt.Errorf("node: writing the mempool log: %w", err)
	}
	n.pool = append(n.pool, &poolTx{seq: seq, raw: raw, hash: tx.Hash, sender: tx.Sender, nonce: tx.Nonce})
	return tx.Hash, nil
}

// selectTxs picks the next block's transactions in arrival order. A transaction whose nonce is
// ahead of its sender's waits until the gap fills (a later pass picks it up once the missing
// nonce is in); a nonce behind is included and fails with a receipt, so its submitter learns why.
func (n *Node) selectTxs() ([]*poolTx, error) {
	n.mu.Lock()
	pool := append([]*poolTx(nil), n.pool...)
	n.mu.Unlock()
	next := map[common.Address]uint64{} // lookups only, never iterated
	taken := make([]bool, len(pool))
	var out []*poolTx
	size := 0
	for progress := true; progress; {
		progress = false
		for i, p := range pool {
			if taken[i] {
				continue
			}
			if len(out) >= n.cfg.MaxBlockTxs || size+len(p.raw) > n.cfg.MaxBlockBytes {
				return out, nil
			}
			want, ok := next[p.sender]
			if !ok {
				acct, err := n.chain.Account(p.sender)
				if err != nil {
					return nil, err
				}
				want = acct.Nonce
			}
			if p.nonce > want {
				next[p.sender] = want
				continue
			}
			if p.nonce == want {
				want++
			}
			next[p.sender] = want
			taken[i], progress = true, true
			out = append(out, p)
			size += len(p.raw)
		}
	}
	return out, nil
}
