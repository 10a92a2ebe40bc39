// Package sequencer is the L2 operator: it admits signed transactions into a mempool after
// checking them against the state (signatures verified in Go by a worker pool), acknowledges
// them once they are synced to a write-ahead log, and every BlockInterval (or MaxBlockTxs
// transactions) builds a block of pending L1 deposits then mempool transactions, executed in
// one call into the native core. Blocks, receipts and the log live in pebble, state snapshots in
// files next to it; a restart restores the newest snapshot, replays the later blocks checking
// every recorded root, and re-admits the logged transactions not yet in a block. It serves the
// rollup_ JSON-RPC namespace over HTTP and WebSocket. docs/sequencer.md describes the design.
package sequencer

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rpc"
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
	Logger     *slog.Logger
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
	return nil
}

// BlockEvent announces a durable block: its header and the hashes of its transactions (deposits
// included), in block order.
type BlockEvent struct {
	Header   Header
	Hash     [32]byte
	TxHashes [][32]byte
	// BuildTime is how long executing and storing the block took (deposits already fetched).
	BuildTime time.Duration
}

// Sequencer is the L2 sequencer daemon: New, then Start, then Stop.
type Sequencer struct {
	cfg      Config
	log      *slog.Logger
	db       *store
	exec     Executor
	deposits DepositSource
	dev      *devDeposits
	verifier *verifier

	// stateMu orders block execution (write) against reads of the state by admission and the
	// API (read), so that an admission decision sees one state and the mempool that goes with it.
	stateMu sync.RWMutex
	poolMu  sync.Mutex // guards pool, landing and walSeq; taken after stateMu
	// landing holds the transactions a block has taken from the pool whose receipts are not yet
	// stored: a resend of one of them is acknowledged, never refused as a used nonce.
	landing map[[32]byte]struct{}
	keys    sync.Map // account index -> l2.PublicKey, see pubKey
	pool    *mempool
	walSeq  uint64

	// Written by the builder only (and recovery before Start).
	depositCursor uint64
	place         placement // deposit placement (deposits.go)
	genesisRoot   [32]byte

	headMu sync.RWMutex
	head   Header // the latest durable block (Number 0: none yet)

	settlement atomic.Pointer[settlementBox] // SetSettlement
	stats      counters

	subMu sync.Mutex
	subs  map[chan *BlockEvent]struct{}

	walCh    chan walReq
	kick     chan struct{}
	closing  atomic.Bool
	inflight sync.WaitGroup
	fatal    atomic.Pointer[error]
	failed   chan struct{} // closed on the fatal error

	stopOnce sync.Once
	stopErr  error
	cancel   context.CancelFunc
	wg       sync.WaitGroup // builder, log committer, snapshot writer
	snapBusy atomic.Bool
	http     *http.Server
	rpc      *rpc.Server
	addr     net.Addr
	started  bool
}

// New opens (or creates) the data dir and recovers the state: newest valid snapshot, then the
// blocks after it re-executed and checked against their recorded roots, then the logged
// transactions not yet in a block back into the mempool. It fails if a replayed root differs.
func New(cfg Config) (*Sequencer, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	db, err := openStore(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	s := &Sequencer{cfg: cfg, log: cfg.Logger, db: db, pool: newMempool(cfg.Mempool), landing: make(map[[32]byte]struct{}), place: newPlacement(),
		subs: make(map[chan *BlockEvent]struct{}), failed: make(chan struct{}), walCh: make(chan walReq, 1024), kick: make(chan struct{}, 1)}
	if err := s.recover(); err != nil {
		if s.exec != nil {
			s.exec.Close()
		}
		db.close()
		return nil, err
	}
	s.closing.Store(true) // until Start
	s.deposits = cfg.Deposits
	if s.deposits == nil && cfg.Dev {
		s.deposits = s.dev
	}
	s.verifier = newVerifier(cfg.ChainID, cfg.Verifiers)
	return s, nil
}

func (s *Sequencer) recover() error {
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
	s.genesisRoot = gr.Bytes()

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
	if s.exec == nil {
		if s.exec, err = newExecutor(s.cfg.Executor, s.cfg.Depth, s.cfg.CapacityHint, nil); err != nil {
			return err
		}
		s.place = newPlacement()
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
		s.head = b.Header
		s.depositCursor = b.Header.DepositEnd
	}
	root, err := s.exec.Root()
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

func (s *Sequencer) headRoot() [32]byte {
	if s.head.Number == 0 {
		return s.genesisRoot
	}
	return s.head.PostRoot
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
	if len(img) < snapHeader+32 || [32]byte(img[len(img)-32:]) != b.Header.PostRoot {
		return fmt.Errorf("snapshot root is not block %d's root %x", n, b.Header.PostRoot)
	}
	// The deposit placement index is rebuilt from the raw entries while the core imports the
	// image (which checks it entirely, root included) on another thread.
	place := newPlacement()
	walked := make(chan struct{})
	go func() {
		defer close(walked)
		for off := snapHeader; off+snapEntry <= len(img)-32; off += snapEntry {
			e := img[off : off+snapEntry]
			place.created(digest(e[4:36], e[36:68]), binary.BigEndian.Uint32(e[0:4]))
		}
	}()
	exec, err := newExecutor(s.cfg.Executor, s.cfg.Depth, s.cfg.CapacityHint, img)
	<-walked
	if err != nil {
		return err
	}
	s.exec, s.place = exec, place
	return nil
}

// replay re-executes a stored block: every transaction must succeed and every root must be the
// recorded one, or the data dir does not describe this chain and the sequencer refuses to run.
func (s *Sequencer) replay(b *Block) error {
	h := &b.Header
	prev, err := s.exec.Root()
	if err != nil {
		return err
	}
	if prev != h.PrevRoot {
		return fmt.Errorf("sequencer: replay of block %d: state root %x, block's previous root %x", h.Number, prev, h.PrevRoot)
	}
	res, err := s.exec.Apply(b.Data)
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
	return s.place.replayed(b)
}

// readmitLog puts the logged transactions that no block consumed back into the mempool, in log
// order, without checking signatures again (they were checked before being logged). One whose
// (sender, nonce) the state has consumed is deleted: it, or a transaction with the same nonce,
// already ran, and no transaction runs twice.
func (s *Sequencer) readmitLog() (readmitted, dropped int, err error) {
	del := s.db.db.NewBatch()
	defer del.Close()
	err = s.db.walEntries(func(seq uint64, raw []byte) error {
		s.walSeq = max(s.walSeq, seq+1)
		tx, derr := l2.DecodeTx(raw)
		var acc l2.Account
		ok := false
		if derr == nil {
			acc, ok, _ = s.exec.Account(tx.From)
		}
		if ok && tx.Nonce >= acc.Nonce {
			e := &entry{hash: TxHash(raw), raw: raw, tx: tx, seq: seq, done: make(chan struct{}), added: time.Now()}
			if s.pool.byHash[e.hash] == nil && s.pool.admit(e, acc, nil, true) == nil {
				s.pool.markDurable(e)
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
	return readmitted, dropped, del.Commit(pebble.Sync)
}

// Start starts block production, the log committer and, if configured, the JSON-RPC server.
func (s *Sequencer) Start(ctx context.Context) error {
	if s.started {
		return errors.New("sequencer: already started")
	}
	s.started = true
	ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Add(2)
	go s.walLoop()
	go s.buildLoop(ctx)
	s.closing.Store(false) // sends are refused until the log committer runs
	if s.cfg.ListenAddr != "" {
		if err := s.serve(); err != nil {
			s.Stop()
			return err
		}
	}
	return nil
}

// Addr returns the JSON-RPC listen address (nil without ListenAddr).
func (s *Sequencer) Addr() net.Addr { return s.addr }

// Err returns the fatal error that stopped block production, if any.
func (s *Sequencer) Err() error {
	if p := s.fatal.Load(); p != nil {
		return *p
	}
	return nil
}

// Failed is closed when a fatal error (Err) stops block production: the process should stop.
func (s *Sequencer) Failed() <-chan struct{} { return s.failed }

// Stop stops serving, waits for acknowledgements in progress, builds no more blocks, writes a
// snapshot of the head so the next start replays nothing, and closes the data dir.
// Later calls return the first call's result.
func (s *Sequencer) Stop() error {
	s.stopOnce.Do(func() { s.stopErr = s.stop() })
	return s.stopErr
}

func (s *Sequencer) stop() error {
	s.closing.Store(true)
	if s.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		s.http.Shutdown(ctx)
		cancel()
		s.rpc.Stop()
	}
	s.inflight.Wait()
	if s.started {
		close(s.walCh)
		s.cancel()
		s.wg.Wait()
	}
	s.verifier.stop()
	var errs []error
	if s.Err() == nil && s.head.Number > 0 {
		if img, err := s.exec.Snapshot(); err == nil {
			errs = append(errs, s.db.writeSnapshot(s.head.Number, img))
		} else {
			errs = append(errs, err)
		}
	}
	errs = append(errs, s.exec.Close(), s.db.close())
	s.subMu.Lock()
	for ch := range s.subs {
		close(ch)
		delete(s.subs, ch)
	}
	s.subMu.Unlock()
	return errors.Join(errs...)
}

func (s *Sequencer) setFatal(err error) {
	s.log.Error("block production stopped", "err", err)
	if s.fatal.CompareAndSwap(nil, &err) {
		close(s.failed)
	}
	s.closing.Store(true)
}

// enter registers an API call that may write; false once stopping.
func (s *Sequencer) enter() bool {
	s.inflight.Add(1)
	if s.closing.Load() {
		s.inflight.Done()
		return false
	}
	return true
}

type walReq struct {
	seq  uint64
	raw  []byte
	done chan error
}

// walLoop is the group commit of the transaction log: it writes every request waiting at the
// moment into one pebble batch and syncs it once, so concurrent sends share one fsync.
func (s *Sequencer) walLoop() {
	defer s.wg.Done()
	reqs := make([]walReq, 0, 4096)
	for r := range s.walCh {
		reqs = append(reqs[:0], r)
	drain:
		for len(reqs) < cap(reqs) {
			select {
			case r, ok := <-s.walCh:
				if !ok {
					break drain
				}
				reqs = append(reqs, r)
			default:
				break drain
			}
		}
		b := s.db.db.NewBatch()
		for _, r := range reqs {
			b.Set(u64Key(prefixWAL, r.seq), r.raw, nil)
		}
		err := b.Commit(pebble.Sync)
		b.Close()
		for _, r := range reqs {
			r.done <- err
		}
	}
}

// SendTransaction admits a transfer or withdraw (its canonical 160 bytes) and returns its hash
// once it is durable. Every rejection is an *Error with its own code.
func (s *Sequencer) SendTransaction(ctx context.Context, raw []byte) ([32]byte, error) {
	hash, err := s.sendTransaction(ctx, raw)
	s.stats.count(err)
	return hash, err
}

func (s *Sequencer) sendTransaction(ctx context.Context, raw []byte) ([32]byte, error) {
	var hash [32]byte
	if !s.enter() {
		return hash, ErrStopped
	}
	defer s.inflight.Done()
	if len(raw) != l2.TxSize {
		return hash, newError(CodeTxSize, "tx_size", "transaction of %d bytes, want %d", len(raw), l2.TxSize)
	}
	tx, err := l2.DecodeTx(raw)
	if err != nil {
		return hash, structuralError(err)
	}
	if tx.Type != l2.TxTransfer && tx.Type != l2.TxWithdraw {
		return hash, newError(CodeTypeNotAllowed, "type_not_allowed", "a %s cannot be sent: deposits come from the L1 queue", tx.Type)
	}
	hash = TxHash(raw)
	if done, ok := s.known(hash); ok {
		return hash, done(ctx)
	}
	size := uint64(1) << s.cfg.Depth
	if uint64(tx.From) >= size || (tx.Type == l2.TxTransfer && uint64(tx.To) >= size) {
		return hash, errStatus(l2.StatusIndexOutOfRange, "index %d (from) or %d (to) >= 2^%d", tx.From, tx.To, s.cfg.Depth)
	}
	pk, ok, err := s.pubKey(tx.From)
	if err != nil {
		return hash, newError(CodeUnavailable, "unavailable", "%v", err)
	}
	if !ok {
		return hash, errStatus(l2.StatusSenderNotFound, "account %d is empty", tx.From)
	}
	valid, err := s.verifier.verify(ctx, pk, &tx)
	if err != nil {
		return hash, err
	}
	if !valid {
		return hash, errStatus(l2.StatusBadSignature, "signature does not verify under account %d's key for chain %d", tx.From, s.cfg.ChainID)
	}

	e := &entry{hash: hash, raw: raw, tx: tx, done: make(chan struct{}), added: time.Now()}
	s.stateMu.RLock()
	sender, _, _ := s.exec.Account(tx.From)
	var recipient *l2.Account
	if tx.Type == l2.TxTransfer {
		if r, ok, _ := s.exec.Account(tx.To); ok {
			recipient = &r
		}
	}
	s.poolMu.Lock()
	if old := s.pool.byHash[hash]; old != nil { // the same bytes raced in
		s.poolMu.Unlock()
		s.stateMu.RUnlock()
		return hash, waitDurable(ctx, old)
	}
	if _, ok := s.landing[hash]; ok { // taken by a block since known() looked
		s.poolMu.Unlock()
		s.stateMu.RUnlock()
		return hash, nil
	}
	e.seq = s.walSeq
	s.walSeq++
	rerr := s.pool.admit(e, sender, recipient, false)
	s.poolMu.Unlock()
	s.stateMu.RUnlock()
	if rerr != nil {
		return hash, rerr
	}

	done := make(chan error, 1)
	s.walCh <- walReq{seq: e.seq, raw: raw, done: done}
	werr := <-done
	s.poolMu.Lock()
	if werr != nil {
		s.pool.remove(e)
		e.err = newError(CodeDurability, "durability", "write-ahead log: %v", werr)
	}
	s.pool.markDurable(e)
	ready := s.pool.ready
	s.poolMu.Unlock()
	if werr != nil {
		return hash, e.err
	}
	if ready >= s.cfg.MaxBlockTxs {
		select {
		case s.kick <- struct{}{}:
		default:
		}
	}
	return hash, nil
}

// pubKey returns the key of account i. A key never changes once an account exists, so keys are
// cached: signature checks then never wait for a block being executed.
func (s *Sequencer) pubKey(i uint32) (l2.PublicKey, bool, error) {
	if pk, ok := s.keys.Load(i); ok {
		return pk.(l2.PublicKey), true, nil
	}
	s.stateMu.RLock()
	acc, ok, err := s.exec.Account(i)
	s.stateMu.RUnlock()
	if err != nil || !ok {
		return l2.PublicKey{}, false, err
	}
	s.keys.Store(i, acc.PubKey)
	return acc.PubKey, true, nil
}

// known reports whether hash is pending or already in a block, with a function that waits until
// the pending copy is durable.
func (s *Sequencer) known(hash [32]byte) (func(context.Context) error, bool) {
	s.poolMu.Lock()
	e := s.pool.byHash[hash]
	_, landing := s.landing[hash]
	s.poolMu.Unlock()
	if e != nil {
		return func(ctx context.Context) error { return waitDurable(ctx, e) }, true
	}
	// A landing transaction is durable (its WAL record goes in the same batch as its receipt);
	// once landing is cleared the receipt is stored.
	if landing {
		return func(context.Context) error { return nil }, true
	}
	if r, _ := s.db.receipt(hash); r != nil && r.Included {
		return func(context.Context) error { return nil }, true
	}
	return nil, false // unknown, or dropped or evicted: admitted again like a new transaction
}

func waitDurable(ctx context.Context, e *entry) error {
	select {
	case <-e.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return e.err // written before done was closed
}

func (s *Sequencer) buildLoop(ctx context.Context) {
	defer s.wg.Done()
	t := time.NewTicker(s.cfg.BlockInterval)
	defer t.Stop()
	lastEvict := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-s.kick:
		}
		for {
			n, err := s.buildBlock(ctx)
			if err != nil {
				if ctx.Err() == nil {
					s.setFatal(err)
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

// pkDigest keys the deposit placement index; a collision only sends a deposit to a fresh index
// (the placement checks the account's key).
func pkDigest(pk l2.PublicKey) uint64 {
	x, y := pk.X.Bytes(), pk.Y.Bytes()
	return digest(x[:], y[:])
}

// digest mixes the low 8 bytes of the canonical forms of pk.x and pk.y.
func digest(x, y []byte) uint64 {
	return binary.BigEndian.Uint64(x[24:32]) ^ binary.BigEndian.Uint64(y[24:32])<<1
}

// buildBlock builds, executes and stores one block, and returns its transaction count (0: there
// was nothing to do). An error is fatal: the state may no longer match the disk.
func (s *Sequencer) buildBlock(ctx context.Context) (int, error) {
	var deps []Deposit
	if s.deposits != nil {
		var err error
		if deps, err = s.deposits.Deposits(ctx, s.depositCursor, s.cfg.MaxBlockTxs); err != nil {
			s.log.Warn("deposit source", "err", err) // L1 unreachable must not stop L2 transactions
			deps = nil
		}
	}
	start := time.Now()
	s.stateMu.Lock()
	s.poolMu.Lock()
	entries := s.pool.selectReady(s.cfg.MaxBlockTxs-len(deps), nil)
	s.poolMu.Unlock()
	if len(deps)+len(entries) == 0 {
		s.stateMu.Unlock()
		return 0, nil
	}
	data, err := s.placeDeposits(deps, make([]byte, 0, (len(deps)+len(entries))*l2.TxSize))
	if err != nil {
		s.stateMu.Unlock()
		return 0, err
	}
	for _, e := range entries {
		data = append(data, e.raw...)
	}
	prev := s.headRoot()
	res, err := s.exec.Apply(data)
	if err != nil {
		s.stateMu.Unlock()
		return 0, fmt.Errorf("sequencer: executing block %d: %w", s.head.Number+1, err)
	}
	for k := range deps {
		if res.Statuses[k] != l2.StatusOK {
			s.stateMu.Unlock()
			return 0, fmt.Errorf("sequencer: deposit %d placed at a failing index: %s", deps[k].QueueIndex, res.Statuses[k])
		}
	}
	h := Header{Number: s.head.Number + 1, ParentHash: s.head.Hash(), PrevRoot: prev, PostRoot: res.FinalRoot,
		DepositStart: s.depositCursor, DepositEnd: s.depositCursor + uint64(len(deps)), Time: uint64(time.Now().UnixMilli())}
	if s.head.Number == 0 {
		h.ParentHash = [32]byte{}
	}
	var failed []*entry
	var failedStatus []l2.Status
	for k, e := range entries {
		if st := res.Statuses[len(deps)+k]; st != l2.StatusOK {
			failed = append(failed, e)
			failedStatus = append(failedStatus, st)
		}
	}
	if len(failed) == 0 {
		h.TraceRoot, h.WithdrawalRoot = res.TraceRoot, res.WithdrawalRoot
	} else {
		// Failing transactions never reach a block. They left the state unchanged, so dropping
		// them keeps the final root; the trace and withdrawal lists lose their positions.
		kept := data[:0:0]
		var trace, wleaves []fr.Element
		for k, st := range res.Statuses {
			if st != l2.StatusOK {
				continue
			}
			kept = append(kept, data[k*l2.TxSize:(k+1)*l2.TxSize]...)
			var p, w fr.Element
			p.SetBytes(res.PostRoots[32*k : 32*k+32])
			w.SetBytes(res.WithdrawalLeaves[32*k : 32*k+32])
			trace, wleaves = append(trace, p), append(wleaves, w)
		}
		data = kept
		if len(trace) > 0 {
			tr, wr := l2.ListRoot(trace), l2.ListRoot(wleaves)
			h.TraceRoot, h.WithdrawalRoot = tr.Bytes(), wr.Bytes()
		}
	}
	failedSet := make(map[*entry]l2.Status, len(failed))
	for i, e := range failed {
		failedSet[e] = failedStatus[i]
	}
	s.poolMu.Lock()
	for _, e := range entries {
		if _, bad := failedSet[e]; bad {
			s.pool.remove(e) // its nonce is free again
		} else {
			s.pool.included(e)
			s.landing[e.hash] = struct{}{}
		}
	}
	s.poolMu.Unlock()
	s.stateMu.Unlock()
	defer func() {
		s.poolMu.Lock()
		for _, e := range entries {
			delete(s.landing, e.hash)
		}
		s.poolMu.Unlock()
	}()

	n := len(data) / l2.TxSize
	b := s.db.db.NewBatch()
	defer b.Close()
	pos := uint32(len(deps))
	for _, e := range entries {
		r := receipt{Block: h.Number}
		if st, bad := failedSet[e]; bad {
			r.Status = st.String()
		} else {
			r.Included, r.Position, r.Status = true, pos, l2.StatusOK.String()
			pos++
		}
		b.Set(rcptKey(e.hash), r.encode(), nil)
		b.Delete(u64Key(prefixWAL, e.seq), nil)
	}
	if n > 0 {
		h.TxCount = uint32(n)
		h.TxsHash = keccak(data)
		b.Set(u64Key(prefixBlock, h.Number), append(h.encode(), data...), nil)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return 0, fmt.Errorf("sequencer: storing block %d: %w", h.Number, err)
	}
	if n == 0 { // every transaction failed: receipts only, no block
		return 0, nil
	}
	s.depositCursor = h.DepositEnd
	s.headMu.Lock()
	s.head = h
	s.headMu.Unlock()
	s.publish(&h, data, time.Since(start))
	if h.Number%s.cfg.SnapshotEvery == 0 {
		s.snapshot(h.Number)
	}
	return len(deps) + len(entries), nil
}

// snapshot exports the state now (the builder is the only writer) and writes the file in the
// background; it skips a snapshot while the previous one is still being written.
func (s *Sequencer) snapshot(number uint64) {
	if !s.snapBusy.CompareAndSwap(false, true) {
		return
	}
	img, err := s.exec.Snapshot()
	if err != nil {
		s.snapBusy.Store(false)
		s.log.Warn("snapshot", "block", number, "err", err)
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.snapBusy.Store(false)
		if err := s.db.writeSnapshot(number, img); err != nil {
			s.log.Warn("snapshot", "block", number, "err", err)
		}
	}()
}

// evict drops transactions stuck behind a nonce gap for longer than MaxAge: they get an
// "evicted" receipt and leave the log.
func (s *Sequencer) evict(now time.Time) {
	s.poolMu.Lock()
	ev := s.pool.evictable(now)
	for _, e := range ev {
		s.pool.remove(e)
	}
	s.poolMu.Unlock()
	if len(ev) == 0 {
		return
	}
	b := s.db.db.NewBatch()
	defer b.Close()
	for _, e := range ev {
		r := receipt{Block: s.head.Number, Status: "evicted"}
		b.Set(rcptKey(e.hash), r.encode(), nil)
		b.Delete(u64Key(prefixWAL, e.seq), nil)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		s.log.Warn("eviction", "err", err)
	}
}

// Subscribe returns a channel of durable blocks. A subscriber that falls 256 blocks behind is
// dropped (its channel closed). cancel unsubscribes.
func (s *Sequencer) Subscribe() (<-chan *BlockEvent, func()) {
	ch := make(chan *BlockEvent, 256)
	s.subMu.Lock()
	s.subs[ch] = struct{}{}
	s.subMu.Unlock()
	return ch, func() {
		s.subMu.Lock()
		if _, ok := s.subs[ch]; ok {
			delete(s.subs, ch)
			close(ch)
		}
		s.subMu.Unlock()
	}
}

func (s *Sequencer) publish(h *Header, data []byte, buildTime time.Duration) {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if len(s.subs) == 0 {
		return
	}
	ev := &BlockEvent{Header: *h, Hash: h.Hash(), TxHashes: make([][32]byte, len(data)/l2.TxSize), BuildTime: buildTime}
	for k := range ev.TxHashes {
		ev.TxHashes[k] = TxHash(data[k*l2.TxSize : (k+1)*l2.TxSize])
	}
	for ch := range s.subs {
		select {
		case ch <- ev:
		default:
			delete(s.subs, ch)
			close(ch)
		}
	}
}

// Head returns the latest durable block header (Number 0 before the first block).
func (s *Sequencer) Head() Header {
	s.headMu.RLock()
	defer s.headMu.RUnlock()
	return s.head
}

// Block returns stored block n, or nil.
func (s *Sequencer) Block(n uint64) (*Block, error) { return s.db.block(n) }

// DevDeposit appends a deposit to the dev queue (Config.Dev only) and returns its queue index.
func (s *Sequencer) DevDeposit(pk l2.PublicKey, amount uint64) (uint64, error) {
	if !s.cfg.Dev || s.cfg.Deposits != nil {
		return 0, newError(CodeDevDisabled, "dev_disabled", "rollup_devDeposit needs a sequencer started with --dev and no L1 deposit source")
	}
	if !s.enter() {
		return 0, ErrStopped
	}
	defer s.inflight.Done()
	return s.dev.add(pk, amount)
}
