// Package node is the L1 settlement node: a single validator that takes signed L1 transactions
// into a durable mempool, orders them into blocks on an interval, signs each header with its
// ML-DSA-65 key, applies the blocks with the state machine of package l1/chain, and answers the
// queries and event subscriptions the QUIC layer (l1/quicrpc) serves. Ordering is the only thing
// this package decides; the state machine does not depend on it, so a BFT engine can replace it.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Defaults of the limits (Config fields left zero).
const (
	DefaultMaxMempoolTxs   = 10_000
	DefaultMaxMempoolBytes = 256 << 20 // a few hundred full batches
	DefaultMaxBlockTxs     = 1_000     // ML-DSA verification ≈ 40 µs each: 40 ms of a block
	DefaultMaxBlockBytes   = l1api.DefaultMaxBlockBytes
)

var (
	ErrMempoolFull = l1api.ErrMempoolFull
	ErrKnownTx     = l1api.ErrKnownTx
	ErrStopped     = l1api.ErrStopped
	ErrHalted      = l1api.ErrHalted
	ErrStorage     = l1api.ErrStorage
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
	// MaxSenderPending and MaxNonceGap are the per-sender limits of the mempool policy
	// (DefaultMaxSenderPending, DefaultMaxNonceGap).
	MaxSenderPending int
	MaxNonceGap      int
	// Now is the block producer's clock, read only to stamp headers; time.Now if nil.
	Now func() time.Time
	// Logger gets the store's errors (nil: discarded).
	Logger *slog.Logger
	// ExternalConsensus: a BFT engine orders the blocks (package l1/abci, CommitExternal) and
	// the node makes none; Key is then unused (each validator votes with its own key there).
	ExternalConsensus bool
}

// Node is a single-validator L1 node.
type Node struct {
	cfg   Config
	db    *pebble.DB
	guard *pebbleguard.Guard
	chain *chain.Chain

	produceMu sync.Mutex // one block at a time
	views     views      // the last committed heights, for proven reads (prove.go)

	mu   sync.Mutex
	pool []*poolTx // FIFO of the logged transactions
	// The policy's accounting covers the logged transactions and those reserved, between
	// admission and their synced log write (policy.go).
	senders                  map[common.Address]*senderTxs
	known                    map[common.Hash]bool
	poolTxs, poolBytes       int
	generalTxs, generalBytes int // of them, not rollup operations
	refused                  map[string]uint64
	evicted                  uint64
	inflight                 sync.WaitGroup // reserved submissions, which Stop waits for
	nextSeq                  uint64
	notify                   chan struct{}          // closed and replaced at every committed block
	relay                    func(raw []byte) error // SetRelay
	stopped                  bool

	cancel context.CancelFunc
	wg     sync.WaitGroup
	fatal  error         // why the node halted (ErrHalted wrapping the cause), under mu
	failed chan struct{} // closed when fatal is set
}

// New opens (or creates) the node's store, its chain and its mempool.
func New(cfg Config) (*Node, error) {
	if !cfg.ExternalConsensus {
		if cfg.Key == nil {
			return nil, errors.New("node: no validator key")
		}
		if string(cfg.Key.Public().Bytes()) != string(cfg.Genesis.Validator) {
			return nil, errors.New("node: the key is not the genesis validator")
		}
	}
	setDefault(&cfg.MaxMempoolTxs, DefaultMaxMempoolTxs)
	setDefault(&cfg.MaxMempoolBytes, DefaultMaxMempoolBytes)
	setDefault(&cfg.MaxBlockTxs, DefaultMaxBlockTxs)
	setDefault(&cfg.MaxBlockBytes, DefaultMaxBlockBytes)
	setDefault(&cfg.MaxSenderPending, DefaultMaxSenderPending)
	setDefault(&cfg.MaxNonceGap, DefaultMaxNonceGap)
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, known: map[common.Hash]bool{}, senders: map[common.Address]*senderTxs{},
		refused: map[string]uint64{}, notify: make(chan struct{}), failed: make(chan struct{})}
	// A fault in a background write (a flush's MANIFEST update) halts the node too.
	n.guard = pebbleguard.New(cfg.Logger.With("store", "l1"), func(err error) { n.halt(fmt.Errorf("%w: %w", ErrStorage, err)) })
	db, err := pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS, Logger: n.guard})
	if err != nil {
		return nil, fmt.Errorf("node: opening store %s: %w", cfg.Dir, err)
	}
	n.db = db
	ccfg := chain.Config{Genesis: cfg.Genesis, Verifier: cfg.Verifier, Judge: cfg.Judge, Guard: n.guard,
		ExternalConsensus: cfg.ExternalConsensus}
	if n.chain, err = chain.Open(db, ccfg); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if n.chain.Fees().IsZero() {
		cfg.Logger.Warn("the chain charges no transaction fees: block space is free to spam (docs/security.md)")
	}
	if err := n.loadWAL(); err != nil {
		return nil, errors.Join(err, n.chain.Close(), db.Close())
	}
	if err := n.recordView(); err != nil {
		return nil, errors.Join(err, n.chain.Close(), db.Close())
	}
	return n, nil
}

func setDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

// Chain gives read access to the state machine.
func (n *Node) Chain() *chain.Chain { return n.chain }

// Start produces a block every BlockInterval until ctx ends or Stop is called.
func (n *Node) Start(ctx context.Context) error {
	if n.cfg.BlockInterval <= 0 || n.cfg.ExternalConsensus {
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
						// A chain error (store failure, escrow invariant) halts the node:
						// continuing would build on a state the node cannot vouch for.
						n.halt(err)
					}
					return
				}
			}
		}
	}()
	return nil
}

// Err returns why the node halted (ErrHalted wrapping the cause), or nil while it works.
func (n *Node) Err() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fatal
}

// Failed is closed when the node halts (Err says why).
func (n *Node) Failed() <-chan struct{} { return n.failed }

// halt stops the node for good in this process: it refuses transactions and makes no blocks.
// The first cause is kept (Err).
func (n *Node) halt(cause error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.fatal != nil {
		return
	}
	if !errors.Is(cause, ErrHalted) {
		cause = fmt.Errorf("%w: %w", ErrHalted, cause)
	}
	n.fatal = cause
	close(n.failed)
	n.cfg.Logger.Error("node halted: refusing transactions and making no blocks", "err", cause)
}

// Halt stops the node for good in this process, as a fatal chain error does on a node that
// makes its own blocks: under external consensus the application calls it when a decided block
// cannot be executed or committed (an invariant broken, a state root mismatch, a storage
// fault). The node then refuses transactions and further blocks and keeps serving reads, with
// the cause in Err and l1_status.
func (n *Node) Halt(cause error) { n.halt(cause) }

// storeErr halts the node if err is a storage fault, and returns the error to report.
func (n *Node) storeErr(what string, err error) error {
	if !errors.Is(err, pebbleguard.ErrFault) {
		return err
	}
	n.halt(fmt.Errorf("%w: %s: %w", ErrStorage, what, err))
	return n.Err()
}

// Stop ends block production and closes the store. After a storage fault in one of pebble's
// background writes it leaves the store open and returns the fault: the goroutine that hit it
// is parked (pebbleguard), and closing would wait for it for ever. The process is expected to
// exit then; the WAL holds every acknowledged write.
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
	var f *pebbleguard.Fault
	if err := n.guard.Err(); errors.As(err, &f) && f.Wedged() {
		return fmt.Errorf("node: store left open: %w", err)
	}
	return errors.Join(n.views.closeAll(), n.chain.Close(), n.db.Close())
}

// ProduceBlock orders the mempool into the next block, signs and commits it, and returns its
// result. The included transactions leave the mempool log in the block's own batch.
func (n *Node) ProduceBlock(ctx context.Context) (*chain.Result, error) {
	n.produceMu.Lock()
	defer n.produceMu.Unlock()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if n.cfg.ExternalConsensus {
		return nil, errors.New("node: blocks come from the consensus engine (CommitExternal)")
	}
	if err := n.producible(); err != nil {
		return nil, err
	}
	picked, stale, err := n.selectTxs()
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
	err = n.chain.Commit(p, sig, func(b *pebble.Batch) error { return deleteWAL(b, append(stale, picked...)) })
	if err != nil {
		return nil, n.storeErr(fmt.Sprintf("sealing block %d", p.Header.Height), err)
	}
	if err := n.recordView(); err != nil {
		n.cfg.Logger.Warn("releasing an old state view", "err", err, "height", p.Header.Height)
	}
	n.mu.Lock()
	for _, tx := range picked {
		if s := n.senders[tx.sender]; s != nil {
			s.confirmed = max(s.confirmed, tx.nonce+1)
		}
	}
	n.dropCommitted(append(stale, picked...))
	n.mu.Unlock()
	return &p.Result, nil
}

// producible refuses a block on a stopped or halted node.
func (n *Node) producible() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return ErrStopped
	}
	return n.fatal
}

// dropCommitted takes the transactions a committed block included or made stale out of the
// pool and wakes the subscribers. mu held.
func (n *Node) dropCommitted(txs []*poolTx) {
	gone := make(map[*poolTx]bool, len(txs))
	for _, tx := range txs {
		gone[tx] = true
		n.unaccount(tx)
	}
	kept := n.pool[:0]
	for _, tx := range n.pool {
		if !gone[tx] {
			kept = append(kept, tx)
		}
	}
	clear(n.pool[len(kept):])
	n.pool = kept
	close(n.notify)
	n.notify = make(chan struct{})
}

type Status = l1api.Status

// Status returns the head and mempool size.
func (n *Node) Status() (Status, error) {
	h, hash, ts, root := n.chain.Head()
	count, err := n.chain.RollupCount()
	if err != nil {
		return Status{}, err
	}
	n.mu.Lock()
	size, fatal := len(n.pool), n.fatal
	n.mu.Unlock()
	st := Status{ChainID: n.chain.ChainID(), Height: h, BlockHash: hash, StateRoot: root, Timestamp: ts,
		MempoolTxs: size, RollupCount: count, Fees: n.chain.Fees()}
	if fatal != nil {
		st.Halted = fatal.Error()
	}
	return st, nil
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
func (n *Node) L2Key(id uint64, kh [32]byte) ([]byte, error)      { return n.chain.L2Key(id, kh) }
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
