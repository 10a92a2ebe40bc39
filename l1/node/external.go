package node

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// Under ExternalConsensus the consensus engine (package l1/abci) orders the blocks: it admits
// transactions with Admit (CheckTx), keeps them while Pooled says so (a recheck), executes
// each decided block with the chain (Chain().Execute) and commits it with CommitExternal. The
// mempool policy is this package's either way.

// SetRelay makes SubmitTx hand every transaction it admits to relay: the consensus engine's
// mempool, which gossips it and whose CheckTx admits it here with Admit. The transactions
// already pooled (those the log brought back at start: acknowledged before a crash, gone from
// the engine's in-memory mempool) are handed to it at once.
func (n *Node) SetRelay(relay func(raw []byte) error) {
	n.mu.Lock()
	n.relay = relay
	pooled := make([][]byte, len(n.pool))
	for i, tx := range n.pool {
		pooled[i] = tx.raw
	}
	n.mu.Unlock()
	for _, raw := range pooled {
		if err := relay(raw); err != nil {
			n.cfg.Logger.Warn("pooled transaction not relayed to the consensus engine", "err", err, "tx", txHashOf(raw))
		}
	}
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
	if err := n.recordView(); err != nil {
		n.cfg.Logger.Warn("releasing an old state view", "err", err, "height", p.Header.Height)
	}
	n.keepSetProof(p.Header.Height)
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

// prefixCert keys the quorum certificates (package l1/qc) the consensus engine keeps beside the
// chain, each written in the batch of the block that carries it: x/qc/<height u64 BE> -> the
// certificate's encoding.
const prefixCert = "x/qc/"

func certKey(height uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixCert), height) }

// PutCertificate adds the certificate of a height to a block's batch (CommitExternal's extra).
func PutCertificate(b *pebble.Batch, height uint64, cert []byte) error {
	return b.Set(certKey(height), cert, nil)
}

// Certificate returns the encoded quorum certificate of a height; chain.ErrNotFound if there is
// none (yet: a height's certificate commits with the block two heights later).
func (n *Node) Certificate(height uint64) ([]byte, error) {
	b, closer, err := n.db.Get(certKey(height))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, fmt.Errorf("%w: certificate of height %d", chain.ErrNotFound, height)
	}
	if err != nil {
		return nil, fmt.Errorf("node: reading the certificate of height %d: %w", height, err)
	}
	v := append([]byte(nil), b...)
	return v, closer.Close()
}

func txHashOf(raw []byte) common.Hash { return crypto.Keccak256Hash(raw) }
