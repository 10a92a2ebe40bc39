// Package sequencer is the L2 operator: it admits signed transactions into a mempool after
// checking them against the state (signatures verified in Go by a worker pool), acknowledges
// them once they are synced to a write-ahead log, and every BlockInterval (or MaxBlockTxs
// transactions) builds a block of pending L1 deposits then mempool transactions, executed in
// one call into the native core. Blocks, receipts and the log live in pebble, state snapshots in
// files next to it; a restart restores the newest snapshot, replays the later blocks checking
// every recorded root, and re-admits the logged transactions not yet in a block. A storage
// fault stops acknowledging (Failed: the process restarts); nothing acknowledged is lost. It
// serves the rollup_ JSON-RPC namespace over HTTP and WebSocket. docs/sequencer.md describes
// the design.
package sequencer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/pqbridge/pqbridge/internal/rpcguard"
	"github.com/pqbridge/pqbridge/l2"
)

// Config configures a Sequencer. Zero values take the defaults in brackets.
type Config struct {
	DataDir       string        // required
	ChainID       uint64        // signed into every transaction (docs §6)
	Depth         int           // state tree depth, fixed at genesis [l2.DefaultTreeDepth]
	BlockInterval time.Duration // T: a block at least this often when there is work [50ms]
	MaxBlockTxs   int           // N: a block as soon as N transactions are ready [1024, <= 4096]
	SnapshotEvery uint64        // K: a state snapshot every K blocks [100]
	Executor      string        // ExecutorCore or ExecutorReference [core]
	CapacityHint  uint64        // accounts the core reserves memory for up front
	Mempool       MempoolConfig
	Verifiers     int // signature workers [GOMAXPROCS]
	// Deposits is the L1 deposit queue. Nil: the dev queue fed by rollup_devDeposit if Dev,
	// otherwise no deposits.
	Deposits DepositSource
	// Dev enables rollup_devDeposit, which lets anyone mint L2 funds: never in production.
	Dev bool
	// ListenAddr serves JSON-RPC over HTTP and WebSocket (same port) if not empty.
	ListenAddr string
	// RPC bounds what a JSON-RPC client can hold: timeouts, connections, rates, sizes, TLS and
	// the admin token (rpcguard.Config; zero: its defaults, no per-IP caps or rates).
	RPC    rpcguard.Config
	Logger *slog.Logger
	// FS holds the data dir: pebble and the snapshot files (nil: the disk). Tests put a
	// fault-injecting one here (internal/storefault).
	FS vfs.FS
	// Backpressure bounds admission ahead of settlement (SetLagSource; backpressure.go).
	Backpressure BackpressureConfig
	// Keys resolves the ML-DSA-65 public keys of accounts the sequencer has not seen a deposit
	// for (L1's key registry, l1_l2Key); nil: only the keys of the deposits it executed.
	Keys l2.KeyBook
	// NoMLDSA refuses ML-DSA transactions (types 5 and 6) at admission: a validity-only rollup
	// (-mode validity) cannot prove them (docs/settlement.md).
	NoMLDSA bool
}

func (c *Config) defaults() error {
	if c.DataDir == "" {
		return errors.New("sequencer: DataDir is required")
	}
	if c.Depth == 0 {
		c.Depth = l2.DefaultTreeDepth
	}
	if c.Depth < l2.MinTreeDepth || c.Depth > l2.MaxTreeDepth {
		return fmt.Errorf("sequencer: depth %d outside [%d, %d]", c.Depth, l2.MinTreeDepth, l2.MaxTreeDepth)
	}
	if c.BlockInterval <= 0 {
		c.BlockInterval = 50 * time.Millisecond
	}
	if c.MaxBlockTxs <= 0 {
		c.MaxBlockTxs = 1024
	}
	c.MaxBlockTxs = min(c.MaxBlockTxs, l2.MaxBatchTxs)
	if c.SnapshotEvery == 0 {
		c.SnapshotEvery = 100
	}
	if c.Verifiers <= 0 {
		c.Verifiers = runtime.GOMAXPROCS(0)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Mempool.defaults()
	c.Backpressure.defaults()
	return nil
}

// Sequencer is the L2 sequencer daemon: New, then Start, then Stop. Each part owns its lock:
// the transaction pool (admission.go), the chain state blocks are built on (block.go), the head,
// the log committer (wal.go), snapshots (snapshot.go), subscriptions (feed.go) and health.
type Sequencer struct {
	cfg      Config
	log      *slog.Logger
	db       *store
	deposits DepositSource
	dev      *devDeposits
	verifier *verifier
	keys     *keyBook

	wal    *walLog
	txs    txPool
	chain  chainState
	head   headState
	snaps  *snapshotter
	feed   feed
	health *health
	stats  counters

	settlement attached[SettlementStatus] // SetSettlement
	lag        attached[LagSource]        // SetLagSource
	throttled  atomic.Uint64              // overloaded refusals
	run        lifecycle
	srv        rpcServer
}

// lifecycle is what Start and Stop coordinate.
type lifecycle struct {
	kick     chan struct{} // a block now: MaxBlockTxs transactions are ready
	closing  atomic.Bool   // sends refused: not started, stopping, or stopped on an error
	inflight sync.WaitGroup
	cancel   context.CancelFunc
	wg       sync.WaitGroup // builder, log committer, snapshot writer
	started  bool
	stopOnce sync.Once
	stopErr  error
}

// New opens (or creates) the data dir and recovers the state: newest valid snapshot, then the
// blocks after it re-executed and checked against their recorded roots, then the logged
// transactions not yet in a block back into the mempool. It fails if a replayed root differs.
func New(cfg Config) (*Sequencer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	s := &Sequencer{cfg: cfg, log: cfg.Logger, txs: newTxPool(cfg.Mempool), health: newHealth(cfg.Logger)}
	s.run.kick = make(chan struct{}, 1)
	s.feed.subs = make(map[chan *BlockEvent]struct{})
	db, err := openStore(cfg.DataDir, cfg.FS, cfg.Logger, func(err error) { s.stop(err, true) })
	if err != nil {
		return nil, err
	}
	s.db = db
	s.keys = newKeyBook(db, cfg.Keys)
	s.wal = &walLog{db: db, ch: make(chan walReq, 1024)}
	s.snaps = &snapshotter{db: db, log: cfg.Logger, every: cfg.SnapshotEvery}
	if err := s.recover(); err != nil {
		if s.chain.exec != nil {
			err = errors.Join(err, s.chain.exec.Close())
		}
		return nil, errors.Join(err, db.close())
	}
	s.run.closing.Store(true) // until Start
	s.deposits = cfg.Deposits
	if s.deposits == nil && cfg.Dev {
		s.deposits = s.dev
	}
	s.verifier = newVerifier(cfg.ChainID, cfg.Verifiers)
	return s, nil
}

// Start starts block production, the log committer and, if configured, the JSON-RPC server.
func (s *Sequencer) Start(ctx context.Context) error {
	if s.run.started {
		return errors.New("sequencer: already started")
	}
	s.run.started = true
	ctx, s.run.cancel = context.WithCancel(ctx)
	s.run.wg.Add(2)
	go func() {
		defer s.run.wg.Done()
		s.wal.loop()
	}()
	go s.buildLoop(ctx)
	s.run.closing.Store(s.health.Err() != nil) // sends are refused until the log committer runs
	if s.cfg.ListenAddr != "" {
		if err := s.serve(); err != nil {
			return errors.Join(err, s.Stop())
		}
	}
	return nil
}

// Addr returns the JSON-RPC listen address (nil without ListenAddr).
func (s *Sequencer) Addr() net.Addr { return s.srv.addr }

// Err returns why the sequencer stopped acknowledging and building (a storage fault or a halt of
// block production), or nil while it is healthy: readiness is Err() == nil.
func (s *Sequencer) Err() error { return s.health.Err() }

// Failed is closed on a storage fault: the data dir took no more writes, the database cannot be
// used again in this process, and the process should exit for a supervisor to restart it (the
// restart recovers every acknowledged transaction). A halt of block production does not close
// it: a restart would meet the same inputs.
func (s *Sequencer) Failed() <-chan struct{} { return s.health.failed }

// stop stops acknowledging and building for cause (storage: a storage fault, see Failed).
func (s *Sequencer) stop(cause error, storage bool) {
	s.health.stop(cause, storage)
	s.run.closing.Store(true)
}

// Stop stops serving, waits for acknowledgements in progress, builds no more blocks, writes a
// snapshot of the head so the next start replays nothing, and closes the data dir.
// Later calls return the first call's result.
func (s *Sequencer) Stop() error {
	s.run.stopOnce.Do(func() { s.run.stopErr = s.shutdown() })
	return s.run.stopErr
}

func (s *Sequencer) shutdown() error {
	s.run.closing.Store(true)
	var errs []error
	if s.srv.guard != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := s.srv.guard.HTTP().Shutdown(ctx); err != nil { // requests still open are cut: not a failure to stop
			s.log.Warn("JSON-RPC server: requests still open at shutdown", "err", err)
		}
		cancel()
		s.srv.guard.Stop()
	}
	s.run.inflight.Wait()
	if s.run.started {
		close(s.wal.ch)
		s.run.cancel()
		s.run.wg.Wait()
	}
	s.verifier.stop()
	if head := s.Head(); s.Err() == nil && head.Number > 0 {
		if img, err := s.chain.exec.Snapshot(); err == nil {
			errs = append(errs, s.db.writeSnapshot(head.Number, img, s.snaps.pin.Load()))
		} else {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.chain.exec.Close(), s.db.close())
	s.feed.closeAll()
	return errors.Join(errs...)
}

// enter registers an API call that may write; it refuses once stopping or stopped, naming why.
func (s *Sequencer) enter() *Error {
	s.run.inflight.Add(1)
	if s.run.closing.Load() {
		s.run.inflight.Done()
		if err := s.health.Err(); err != nil {
			return newError(CodeUnavailable, "unavailable", "sequencer stopped: %v", err)
		}
		return ErrStopped
	}
	return nil
}

// Head returns the latest durable block header (Number 0 before the first block).
func (s *Sequencer) Head() Header { return s.head.get() }

// Block returns stored block n, or nil.
func (s *Sequencer) Block(n uint64) (*Block, error) { return s.db.block(n) }

// DevDeposit appends a deposit to the dev queue (Config.Dev only) and returns its queue index.
func (s *Sequencer) DevDeposit(pk l2.PublicKey, amount uint64) (uint64, error) {
	return s.devDeposit(Deposit{PubKey: pk, Amount: amount})
}

// DevDepositMLDSA appends a deposit to the ML-DSA-65 account of pub (1,952 bytes) to the dev
// queue (Config.Dev only) and returns its queue index.
func (s *Sequencer) DevDepositMLDSA(pub []byte, amount uint64) (uint64, error) {
	return s.devDeposit(Deposit{PubKey: l2.MLDSAPublicKey(pub), Amount: amount, MLDSAKey: pub})
}

func (s *Sequencer) devDeposit(d Deposit) (uint64, error) {
	if !s.cfg.Dev || s.cfg.Deposits != nil {
		return 0, newError(CodeDevDisabled, "dev_disabled", "rollup_devDeposit needs a sequencer started with --dev and no L1 deposit source")
	}
	if e := s.enter(); e != nil {
		return 0, e
	}
	defer s.run.inflight.Done()
	var i uint64
	err := s.db.write(func() (err error) {
		i, err = s.dev.add(d)
		return err
	})
	if err != nil {
		return 0, newError(CodeDurability, "durability", "dev deposit not stored: %v", err)
	}
	return i, nil
}
