// Package node is the L1 settlement node: a single validator that takes signed L1 transactions
// into a durable mempool, orders them into blocks on an interval, signs each header with its
// ML-DSA-65 key, applies the blocks with the state machine of package l1/chain, and answers the
// queries and event subscriptions the QUIC layer (l1/quicrpc) serves. Ordering is the only thing
// this package decides; the state machine does not depend on it, so a BFT engine can replace it.
package node

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Defaults of the limits (Config fields left zero).
const (
	DefaultMaxMempoolTxs   = 10_000
	DefaultMaxMempoolBytes = 256 << 20 // a few hundred full batches
	DefaultMaxBlockTxs     = 1_000     // ML-DSA verification ≈ 40 µs each: 40 ms of a block
	DefaultMaxBlockBytes   = 16 << 20
)

// Errors of SubmitTx; the chain's envelope errors (chain.ErrBadSignature, ...) pass through.
var (
	ErrMempoolFull = errors.New("mempool full")
	ErrKnownTx     = errors.New("transaction already in the mempool")
	ErrStopped     = errors.New("node stopped")
)

// prefixWAL keys the mempool's write-ahead log: w/<seq> -> raw transaction. Entries are
// deleted in the same pebble batch as the block that includes them.
const prefixWAL = "w/"

// Config configures a Node.
type Config struct {
	Dir      string // pebble directory
	FS       vfs.FS // nil: the OS file system; vfs.NewMem() for tests
	Genesis  chain.Genesis
	Key      *pqkey.PrivateKey // validator key; its public key must be Genesis.Validator
	Verifier chain.ProofVerifier
	Judge    chain.FraudJudge
	// BlockInterval is the time between blocks; 0 produces blocks only on ProduceBlock.
	BlockInterval   time.Duration
	MaxMempoolTxs   int
	MaxMempoolBytes int
	MaxBlockTxs     int
	MaxBlockBytes   int
	// Now is the block producer's clock, read only to stamp headers; time.Now if nil.
	Now func() time.Time
}

type poolTx struct {
	seq    uint64
	raw    []byte
	hash   common.Hash
	sender common.Address
	nonce  uint64
}

// Node is a single-validator L1 node.
type Node struct {
	cfg   Config
	db    *pebble.DB
	chain *chain.Chain

	produceMu sync.Mutex // one block at a time

	mu        sync.Mutex
	pool      []*poolTx // FIFO
	known     map[common.Hash]bool
	poolBytes int
	reserved  int            // submissions between reservation and their synced log write
	inflight  sync.WaitGroup // those submissions, which Stop waits for
	nextSeq   uint64
	notify    chan struct{} // closed and replaced at every committed block
	stopped   bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	fatal  error // why block production halted, under mu
}

// New opens (or creates) the node's store, its chain and its mempool.
func New(cfg Config) (*Node, error) {
	if cfg.Key == nil {
		return nil, errors.New("node: no validator key")
	}
	if string(cfg.Key.Public().Bytes()) != string(cfg.Genesis.Validator) {
		return nil, errors.New("node: the key is not the genesis validator")
	}
	setDefault(&cfg.MaxMempoolTxs, DefaultMaxMempoolTxs)
	setDefault(&cfg.MaxMempoolBytes, DefaultMaxMempoolBytes)
	setDefault(&cfg.MaxBlockTxs, DefaultMaxBlockTxs)
	setDefault(&cfg.MaxBlockBytes, DefaultMaxBlockBytes)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	db, err := pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS})
	if err != nil {
		return nil, fmt.Errorf("node: opening store: %w", err)
	}
	c, err := chain.Open(db, chain.Config{Genesis: cfg.Genesis, Verifier: cfg.Verifier, Judge: cfg.Judge})
	if err != nil {
		db.Close()
		return nil, err
	}
	n := &Node{cfg: cfg, db: db, chain: c, known: map[common.Hash]bool{}, notify: make(chan struct{})}
	if err := n.loadWAL(); err != nil {
		db.Close()
		return nil, err
	}
	return n, nil
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

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

// Chain gives read access to the state machine.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Start produces a block every BlockInterval until ctx ends or Stop is called.
func (n *Node) Start(ctx context.Context) error {
	if n.cfg.BlockInterval <= 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	n.cancel = cancel
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(n.cfg.BlockInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if _, err := n.ProduceBlock(ctx); err != nil {
					if !errors.Is(err, ErrStopped) && ctx.Err() == nil {
						// A chain error (store failure, escrow invariant) halts production:
						// continuing would build on a state the node cannot vouch for.
						n.mu.Lock()
						n.fatal = err
						n.mu.Unlock()
					}
					return
				}
			}
		}
	}()
	return nil
}

// Err returns the error that halted block production, if any.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}

// Stop ends block production and closes the store.
func (n *Node) Stop() error {
	if n.cancel != nil {
		n.cancel()
	}
	n.wg.Wait()
	n.produceMu.Lock()
	defer n.produceMu.Unlock()
	n.mu.Lock()
	if n.stopped {
		n.mu.Unlock()
		return nil
	}
	n.stopped = true
	n.mu.Unlock()
	n.inflight.Wait()
	return n.db.Close()
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
	err = n.db.Set(walKey(seq), raw, pebble.Sync)
	n.mu.Lock()
	defer n.mu.Unlock()
	defer n.inflight.Done()
	n.reserved--
	if err != nil {
		delete(n.known, tx.Hash)
		n.poolBytes -= len(raw)
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

// ProduceBlock orders the mempool into the next block, signs and commits it, and returns its
// result. The included transactions leave the mempool log in the block's own batch.
func (n *Node) ProduceBlock(ctx context.Context) (*chain.Result, error) {
	n.produceMu.Lock()
	defer n.produceMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	stopped := n.stopped
	n.mu.Unlock()
	if stopped {
		return nil, ErrStopped
	}
	picked, err := n.selectTxs()
	if err != nil {
		return nil, err
	}
	raws := make([][]byte, len(picked))
	for i, p := range picked {
		raws[i] = p.raw
	}
	p, err := n.chain.Execute(uint64(n.cfg.Now().UnixMilli()), raws)
	if err != nil {
		return nil, err
	}
	sig, err := chain.SignHeader(n.cfg.Key, &p.Header)
	if err != nil {
		return nil, err
	}
	err = n.chain.Commit(p, sig, func(b *pebble.Batch) error {
		for _, tx := range picked {
			if err := b.Delete(walKey(tx.seq), nil); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	included := make(map[common.Hash]bool, len(picked))
	for _, tx := range picked {
		included[tx.hash] = true
		delete(n.known, tx.hash)
		n.poolBytes -= len(tx.raw)
	}
	kept := n.pool[:0]
	for _, tx := range n.pool {
		if !included[tx.hash] {
			kept = append(kept, tx)
		}
	}
	clear(n.pool[len(kept):])
	n.pool = kept
	close(n.notify)
	n.notify = make(chan struct{})
	n.mu.Unlock()
	return &p.Result, nil
}

// Status is the node's head and mempool.
type Status struct {
	ChainID     uint64
	Height      uint64
	BlockHash   common.Hash
	StateRoot   common.Hash
	Timestamp   uint64
	MempoolTxs  int
	RollupCount uint64
}

// Status returns the head and mempool size.
func (n *Node) Status() (Status, error) {
	h, hash, ts, root := n.chain.Head()
	count, err := n.chain.RollupCount()
	if err != nil {
		return Status{}, err
	}
	n.mu.Lock()
	size := len(n.pool)
	n.mu.Unlock()
	return Status{ChainID: n.chain.ChainID(), Height: h, BlockHash: hash, StateRoot: root, Timestamp: ts,
		MempoolTxs: size, RollupCount: count}, nil
}

// Account, Rollup, Batch, BatchData, Deposit and Block read committed state.
func (n *Node) Account(a common.Address) (chain.Account, error) { return n.chain.Account(a) }
func (n *Node) Rollup(id uint64) (*chain.Rollup, error)         { return n.chain.Rollup(id) }
func (n *Node) Batch(id, number uint64) (*chain.BatchRecord, error) {
	return n.chain.Batch(id, number)
}
func (n *Node) BatchData(id, number uint64) ([]byte, error) { return n.chain.BatchData(id, number) }

// BatchTrace returns the trace of a pending optimistic batch, which a challenger proves
// against (chain.Chain.BatchTrace).
func (n *Node) BatchTrace(id, number uint64) ([][32]byte, error) {
	return n.chain.BatchTrace(id, number)
}
func (n *Node) Deposit(id, j uint64) (*chain.DepositEntry, error) { return n.chain.Deposit(id, j) }
func (n *Node) Exited(id uint64, index uint32) (bool, error)      { return n.chain.Exited(id, index) }
func (n *Node) Refunded(id, j uint64) (bool, error)               { return n.chain.Refunded(id, j) }
func (n *Node) Claimed(id, number, k uint64) (bool, error)        { return n.chain.Claimed(id, number, k) }
func (n *Node) Block(height uint64) (*chain.SealedBlock, error)   { return n.chain.Block(height) }
func (n *Node) Receipts(height uint64) ([]chain.Receipt, error)   { return n.chain.Receipts(height) }

// Events returns up to limit events of the log from fromHeight on.
func (n *Node) Events(fromHeight uint64, limit int) ([]chain.Event, error) {
	return n.chain.Events(fromHeight, limit)
}

// NewBlock returns a channel closed when the next block commits: a subscriber reads Events
// from its position, and waits on NewBlock when it has caught up.
func (n *Node) NewBlock() <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.notify
}
