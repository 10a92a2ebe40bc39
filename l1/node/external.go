package node

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// Under ExternalConsensus the consensus engine (package l1/abci) orders the blocks: it admits
// transactions with Admit (CheckTx), keeps them while Pooled says so (a recheck), executes
// each decided block with the chain (Chain().Execute) and commits it with CommitExternal. The
// mempool policy is this package's either way.

// SetRelay makes SubmitTx hand every transaction it admits to relay: the consensus engine's
// mempool, which gossips it and whose CheckTx admits it here with Admit.
func (n *Node) SetRelay(relay func(raw []byte) error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.relay = relay
}

// Pooled reports whether a transaction is in the mempool (admitted, not yet in a block nor
// evicted nor stale).
func (n *Node) Pooled(h common.Hash) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.known[h]
}

// CommitExternal commits p, a block the consensus engine decided and the caller executed, with
// extra's writes in the same batch (nil: none), and takes its transactions out of the mempool:
// those the block included leave the log in the block's batch, and those it made stale (a
// nonce now taken) leave it right after (a crash in between only leaves them to the start-up
// re-validation, which drops them).
func (n *Node) CommitExternal(p *chain.Pending, extra func(*pebble.Batch) error) error {
	n.produceMu.Lock()
	defer n.produceMu.Unlock()
	if !n.cfg.ExternalConsensus {
		return errors.New("node: CommitExternal on a node that makes its own blocks")
	}
	if err := n.producible(); err != nil {
		return err
	}
	inBlock := make(map[common.Hash]bool, len(p.Receipts))
	for _, r := range p.Receipts {
		inBlock[r.TxHash] = true
	}
	n.mu.Lock()
	var included []*poolTx
	for _, tx := range n.pool {
		if inBlock[tx.hash] {
			included = append(included, tx)
		}
	}
	n.mu.Unlock()
	err := n.chain.Commit(p, nil, func(b *pebble.Batch) error {
		if err := deleteWAL(b, included); err != nil {
			return err
		}
		if extra == nil {
			return nil
		}
		return extra(b)
	})
	if err != nil {
		return n.storeErr(fmt.Sprintf("committing block %d", p.Header.Height), err)
	}
	stale, err := n.staleTxs(inBlock)
	if err != nil {
		return err
	}
	if len(stale) > 0 {
		b := n.db.NewBatch()
		defer b.Close()
		if err := deleteWAL(b, stale); err != nil {
			return err
		}
		if err := n.guard.Commit(b, pebble.Sync); err != nil {
			return n.storeErr("dropping stale mempool entries", err)
		}
	}
	n.mu.Lock()
	n.dropCommitted(append(included, stale...))
	n.mu.Unlock()
	return nil
}

// staleTxs returns the pooled transactions not in the block whose nonce the committed state
// has passed, and records each sender's new nonce.
func (n *Node) staleTxs(inBlock map[common.Hash]bool) ([]*poolTx, error) {
	n.mu.Lock()
	pool := append([]*poolTx(nil), n.pool...)
	n.mu.Unlock()
	nonces := map[common.Address]uint64{} // lookups only, never iterated
	var stale []*poolTx
	for _, tx := range pool {
		if inBlock[tx.hash] {
			continue
		}
		nonce, ok := nonces[tx.sender]
		if !ok {
			acct, err := n.chain.Account(tx.sender)
			if err != nil {
				return nil, err
			}
			nonce = acct.Nonce
			nonces[tx.sender] = nonce
			n.mu.Lock()
			if s := n.senders[tx.sender]; s != nil {
				s.confirmed = max(s.confirmed, nonce)
			}
			n.mu.Unlock()
		}
		if tx.nonce < nonce {
			stale = append(stale, tx)
		}
	}
	return stale, nil
}

func deleteWAL(b *pebble.Batch, txs []*poolTx) error {
	for _, tx := range txs {
		if err := b.Delete(walKey(tx.seq), nil); err != nil {
			return err
		}
	}
	return nil
}

// prefixAux keys what the consensus engine keeps beside the chain (its quorum certificates),
// written in the blocks' own batches through CommitExternal's extra: x/<name>.
const prefixAux = "x/"

// AuxKey is the store key of the consensus engine's entry name.
func AuxKey(name []byte) []byte { return append([]byte(prefixAux), name...) }

// Aux reads the consensus engine's entry name; ok is false if there is none.
func (n *Node) Aux(name []byte) (v []byte, ok bool, err error) {
	b, closer, err := n.db.Get(AuxKey(name))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("node: reading %q: %w", AuxKey(name), err)
	}
	v = append([]byte(nil), b...)
	return v, true, closer.Close()
}
