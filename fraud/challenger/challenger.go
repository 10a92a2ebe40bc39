// Package challenger is the fraud-proof challenger: it follows an L1 node's event log, fetches
// each batch of one rollup from L1 and re-executes it on its own copy of the L2 state by the
// rules the L1 judge applies (docs/protocol.md §7, signatures checked), comparing every step with
// the trace L1 stores and the result with the commitment. On the first fault of an optimistic
// batch it builds the fraud proof (fraud.Build) and sends the challenge that reverts the batch
// and pays half the bond.
//
// The state lives in the native core (package ffi), which applies a batch in one call; the
// challenger checks the signatures the core does not, and runs the Go reference only to build a
// proof, on a partial state made of the core's witnesses of the accounts the batch touches
// (Config.Executor "reference" re-executes every batch with the Go reference instead, on a clone
// of the whole state, as a slower comparison). Its cursor and the agreed state are kept in
// pebble, the accounts a batch changes written with the cursor in one synced batch, so a restart
// misses no batch.
package challenger

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// Source is the L1 node as the challenger reads it: ClientSource (over QUIC) or NodeSource (in
// process).
type Source interface {
	Status(ctx context.Context) (node.Status, error)
	Rollup(ctx context.Context, id uint64) (*chain.Rollup, error)
	Batch(ctx context.Context, rollupID, number uint64) (*chain.BatchRecord, error)
	BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error)
	BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error)
	Account(ctx context.Context, a common.Address) (chain.Account, error)
	SubmitTx(ctx context.Context, raw []byte) (common.Hash, error)
	// Events follows the event log from the first event of fromHeight: the stored events, then
	// each block's as it commits, every block's ending with its chain.EventBlock.
	Events(ctx context.Context, fromHeight uint64) (Events, error)
}

// Events is a subscription to the event log (*l1client.Events, *node.Subscription).
type Events interface {
	Next() (chain.Event, error)
	Close()
}

// ClientSource is the Source of an L1 node reached over QUIC.
func ClientSource(c *l1client.Client) Source { return clientSource{c} }

// NodeSource is the Source of an L1 node in process.
func NodeSource(n *node.Node) Source { return nodeSource{n.Local()} }

// clientSource and nodeSource only give Events its interface result.
type clientSource struct{ *l1client.Client }

func (s clientSource) Events(ctx context.Context, fromHeight uint64) (Events, error) {
	e, err := s.Client.Events(ctx, fromHeight)
	if err != nil {
		return nil, err
	}
	return e, nil
}

type nodeSource struct{ node.Local }

func (s nodeSource) Events(ctx context.Context, fromHeight uint64) (Events, error) {
	e, err := s.Local.Events(ctx, fromHeight)
	if err != nil {
		return nil, err
	}
	return e, nil
}

// Config configures a Challenger.
type Config struct {
	Dir       string
	FS        vfs.FS // nil: the OS file system
	Source    Source
	Key       *pqkey.PrivateKey // pays the challenge transactions and receives the rewards
	L1ChainID uint64
	RollupID  uint64
	Logger    *slog.Logger
	// Executor is ExecutorCore ("" too) or ExecutorReference. A store written with one opens
	// with the other: both keep the same accounts.
	Executor string
}

// Status is what the challenger is watching.
type Status struct {
	Executor      string     // ExecutorCore or ExecutorReference
	Cursor        uint64     // next L1 height of the event log to read
	Agreed        uint64     // last batch checked honest (or final): the state is at its root
	AgreedRoot    fr.Element //
	Waiting       []uint64   // batches seen that build on a batch not agreed (a challenged one)
	Challenged    uint64     // batch with a challenge in flight (0: none)
	Challenges    int        // challenges sent
	Upheld        int        // challenges of ours L1 upheld
	Rewards       uint64     // L1 units received for them
	Checked       int        // optimistic batches re-executed
	LastProof     fraud.Kind // kind of the last fraud proof sent
	LastStep      uint64     // and its step
	DetectSubmit  time.Duration
	LastBatchTime time.Duration // re-execution time of the last batch
}

// Challenger watches one rollup.
type Challenger struct {
	cfg Config
	log *slog.Logger
	db  *pebble.DB

	mu        sync.Mutex
	depth     int
	l2ChainID uint64
	cursor    cursor
	exec      executor // nil after a failure to open it from the store: apply opens it again
	agreed    uint64
	changed   []uint32   // accounts the agreed batch changed, written with the next save
	pending   *challenge // in flight
	status    Status

	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// cursor is the next event to read: (Height, Index).
type cursor struct{ Height, Index uint64 }

type challenge struct {
	batch uint64
	proof []byte
	nonce uint64
}

// The store: the cursor, the agreed batch with its root, and the agreed state's accounts, one
// key each, so that agreeing with a batch writes only the accounts it changed.
var (
	keyCursor     = []byte("m/cursor") // RLP cursor
	keyAgreed     = []byte("m/agreed") // RLP agreedRecord
	prefixAccount = []byte("a/")       // + index (u32 big-endian): RLP storedAccount
	// keyWholeState held the whole agreed state in one value before the store kept it account
	// by account; such a store is refused rather than read as an empty state.
	keyWholeState = []byte("m/state")
)

type agreedRecord struct {
	Agreed uint64
	Root   [32]byte
}

type storedAccount struct {
	PKX, PKY       [32]byte
	Balance, Nonce uint64
}

func accountKey(i uint32) []byte { return binary.BigEndian.AppendUint32(bytes.Clone(prefixAccount), i) }

// New opens the challenger's store and restores its cursor and state.
func New(ctx context.Context, cfg Config) (*Challenger, error) {
	if cfg.Source == nil || cfg.Key == nil {
		return nil, errors.New("challenger: Source and Key are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r, err := cfg.Source.Rollup(ctx, cfg.RollupID)
	if err != nil {
		return nil, fmt.Errorf("challenger: rollup %d: %w", cfg.RollupID, err)
	}
	db, err := pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS})
	if err != nil {
		return nil, fmt.Errorf("challenger: opening store: %w", err)
	}
	if cfg.Executor == "" {
		cfg.Executor = ExecutorCore
	}
	c := &Challenger{cfg: cfg, log: cfg.Logger, db: db, depth: int(r.Config.TreeDepth), l2ChainID: r.Config.L2ChainID}
	c.status.Executor = cfg.Executor
	if err := c.restore(); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

// restore reads the cursor and the agreed state from the store and opens the executor on it.
func (c *Challenger) restore() error {
	if _, closer, err := c.db.Get(keyWholeState); err == nil {
		closer.Close()
		return errors.New("challenger: the store was written by an older challenger (whole state in m/state): start from an empty directory")
	}
	c.cursor = cursor{}
	if err := c.get(keyCursor, &c.cursor); err != nil {
		return fmt.Errorf("challenger: corrupt cursor: %w", err)
	}
	var a agreedRecord
	root := l2.EmptySubtree(c.depth)
	if err := c.get(keyAgreed, &a); err != nil {
		return fmt.Errorf("challenger: corrupt agreed state: %w", err)
	}
	if a.Agreed > 0 {
		var err error
		if root, err = element(a.Root); err != nil {
			return err
		}
	}
	accounts, err := c.storedAccounts()
	if err != nil {
		return err
	}
	exec, err := openExecutor(c.cfg.Executor, c.depth, c.l2ChainID, accounts, root)
	if err != nil {
		return err
	}
	c.exec, c.agreed, c.changed = exec, a.Agreed, nil
	c.status.Cursor, c.status.Agreed, c.status.AgreedRoot = c.cursor.Height, c.agreed, root
	return nil
}

// get decodes the value of key into v; a missing key leaves v as it is.
func (c *Challenger) get(key []byte, v any) error {
	b, closer, err := c.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	defer closer.Close()
	return rlp.DecodeBytes(b, v)
}

// storedAccounts reads the agreed state's accounts, by increasing index.
func (c *Challenger) storedAccounts() ([]l2.IndexedAccount, error) {
	it, err := c.db.NewIter(&pebble.IterOptions{LowerBound: prefixAccount, UpperBound: []byte("a0")}) // '0' follows '/'
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []l2.IndexedAccount
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		var s storedAccount
		if len(k) != len(prefixAccount)+4 || rlp.DecodeBytes(it.Value(), &s) != nil {
			return nil, fmt.Errorf("challenger: corrupt account %x in the store", k)
		}
		var a l2.IndexedAccount
		a.Index = binary.BigEndian.Uint32(k[len(prefixAccount):])
		if a.Account.PubKey.X, err = element(s.PKX); err != nil {
			return nil, err
		}
		if a.Account.PubKey.Y, err = element(s.PKY); err != nil {
			return nil, err
		}
		a.Account.Balance, a.Account.Nonce = s.Balance, s.Nonce
		out = append(out, a)
	}
	return out, it.Error()
}

// element reads a word of the store (the core's words are read by ffi.Element).
func element(b [32]byte) (fr.Element, error) {
	var e fr.Element
	if err := e.SetBytesCanonical(b[:]); err != nil {
		return e, fmt.Errorf("challenger: non-canonical field element: %w", err)
	}
	return e, nil
}

// reopen closes the executor and opens it again from the store: after the core applied a batch
// the challenger does not agree with, or a failed save left memory ahead of the store.
func (c *Challenger) reopen() error {
	if c.exec != nil {
		c.exec.close()
		c.exec = nil
	}
	return c.restore()
}

// save writes the cursor next, and the agreed state if it moved (the agreed batch, its root and
// the accounts it changed), in one synced batch.
func (c *Challenger) save(next cursor, stateMoved bool) error {
	b := c.db.NewBatch()
	defer b.Close()
	enc, err := rlp.EncodeToBytes(&next)
	if err != nil {
		return err
	}
	if err := b.Set(keyCursor, enc, nil); err != nil {
		return err
	}
	if stateMoved {
		root, err := c.exec.root()
		if err != nil {
			return err
		}
		if enc, err = rlp.EncodeToBytes(&agreedRecord{Agreed: c.agreed, Root: root.Bytes()}); err != nil {
			return err
		}
		if err := b.Set(keyAgreed, enc, nil); err != nil {
			return err
		}
		for _, i := range c.changed {
			a, ok, err := c.exec.account(i)
			if err != nil {
				return err
			}
			if !ok {
				continue // never written: accounts are never removed (docs §7)
			}
			enc, err := rlp.EncodeToBytes(&storedAccount{PKX: a.PubKey.X.Bytes(), PKY: a.PubKey.Y.Bytes(),
				Balance: a.Balance, Nonce: a.Nonce})
			if err != nil {
				return err
			}
			if err := b.Set(accountKey(i), enc, nil); err != nil {
				return err
			}
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return err
	}
	c.changed = nil
	return nil
}

// Start follows the event log until Stop; after an error it resumes from the cursor.
func (c *Challenger) Start(ctx context.Context) error {
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			err := c.follow(ctx)
			if ctx.Err() != nil {
				return
			}
			c.log.Warn("challenger: following the L1 event log", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryDelay):
			}
		}
	}()
	return nil
}

// retryDelay is the pause before a new subscription after an error (the node restarting, a
// network error): short enough to keep well inside a challenge window.
const retryDelay = time.Second

// follow acts on every event from the cursor on, as the node sends them, until an error.
func (c *Challenger) follow(ctx context.Context) error {
	c.mu.Lock()
	from := c.cursor.Height
	c.mu.Unlock()
	evs, err := c.cfg.Source.Events(ctx, from)
	if err != nil {
		return err
	}
	defer evs.Close()
	for {
		ev, err := evs.Next()
		if err != nil {
			return err
		}
		if err := c.apply(ctx, &ev); err != nil {
			return err
		}
		if ev.Kind == chain.EventBlock {
			if err := c.retryChallenge(ctx); err != nil {
				return err
			}
		}
	}
}

// Stop ends the loop and closes the store. It is idempotent.
func (c *Challenger) Stop() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.db == nil {
		return nil
	}
	if c.exec != nil {
		c.exec.close()
		c.exec = nil
	}
	err := c.db.Close()
	c.db = nil
	return err
}

// Status reports what the challenger is watching.
func (c *Challenger) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Waiting = append([]uint64(nil), s.Waiting...)
	return s
}

// Step acts on the events from the cursor through the L1 head block as of the call (tests drive
// the challenger with it instead of Start).
func (c *Challenger) Step(ctx context.Context) error {
	st, err := c.cfg.Source.Status(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	from := c.cursor.Height
	c.mu.Unlock()
	if from <= st.Height && st.Height > 0 { // blocks from 1 on have events, each ending with EventBlock
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		evs, err := c.cfg.Source.Events(ctx, from)
		if err != nil {
			return err
		}
		defer evs.Close()
		for {
			ev, err := evs.Next()
			if err != nil {
				return err
			}
			if err := c.apply(ctx, &ev); err != nil {
				return err
			}
			if ev.Kind == chain.EventBlock && ev.Height >= st.Height {
				break
			}
		}
	}
	return c.retryChallenge(ctx)
}

// apply acts on one event past the cursor, and moves the cursor past it with the agreed state in
// one synced write.
func (c *Challenger) apply(ctx context.Context, ev *chain.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ev.Height < c.cursor.Height || (ev.Height == c.cursor.Height && ev.Index < c.cursor.Index) {
		return nil
	}
	if c.exec == nil {
		if err := c.restore(); err != nil {
			return err
		}
	}
	moved, err := c.handle(ctx, ev)
	if c.exec.dirty() { // the core applied a batch we do not agree with: back to the stored state
		if rerr := c.reopen(); rerr != nil {
			return errors.Join(err, rerr)
		}
	}
	if err != nil {
		return err
	}
	next := cursor{ev.Height, ev.Index + 1}
	if ev.Kind == chain.EventBlock { // the last event of a block
		next = cursor{ev.Height + 1, 0}
	}
	if err := c.save(next, moved); err != nil {
		if rerr := c.reopen(); rerr != nil {
			return errors.Join(err, rerr)
		}
		return err
	}
	c.cursor = next
	c.status.Cursor = c.cursor.Height
	return nil
}

// handle acts on one event; it reports whether the agreed state moved.
func (c *Challenger) handle(ctx context.Context, ev *chain.Event) (bool, error) {
	if ev.RollupID != c.cfg.RollupID || ev.Kind == chain.EventBlock {
		return false, nil
	}
	switch ev.Kind {
	case chain.EventBatchSubmitted:
		return c.check(ctx, ev)
	case chain.EventBatchReverted:
		if ev.Number <= c.agreed {
			// Only a batch built on fraud or fraudulent itself is reverted; we agreed to
			// neither. A judge that reverts an honest batch is a bug we must not follow.
			return false, fmt.Errorf("challenger: L1 reverted batch %d, which re-executes honestly", ev.Number)
		}
		c.dropWaiting(ev.Number)
		if c.pending != nil && c.pending.batch == ev.Number {
			c.pending = nil
			c.status.Challenged = 0
		}
	case chain.EventChallengeUpheld:
		if ev.Address == c.cfg.Key.Address() {
			c.status.Upheld++
			c.status.Rewards += ev.Amount
			c.log.Info("challenge upheld", "batch", ev.Number, "reward", ev.Amount)
		}
	}
	return false, nil
}

func (c *Challenger) dropWaiting(n uint64) {
	w := c.status.Waiting[:0]
	for _, x := range c.status.Waiting {
		if x != n {
			w = append(w, x)
		}
	}
	c.status.Waiting = w
}

// check re-executes a submitted batch.
func (c *Challenger) check(ctx context.Context, ev *chain.Event) (bool, error) {
	start := time.Now()
	n := ev.Number
	if n != c.agreed+1 {
		c.status.Waiting = append(c.status.Waiting, n)
		c.log.Info("batch builds on a batch not agreed: waiting for its revert", "batch", n, "agreed", c.agreed)
		return false, nil
	}
	rec, err := c.cfg.Source.Batch(ctx, c.cfg.RollupID, n)
	if errors.Is(err, chain.ErrNotFound) || (err == nil && common.Hash(rec.NewRoot) != ev.Root) {
		return false, nil // reverted (or replaced) since: later events say so
	}
	if err != nil {
		return false, err
	}
	com, err := rec.Commitment(c.l2ChainID)
	if err != nil {
		return false, err
	}
	root, err := c.exec.root()
	if err != nil {
		return false, err
	}
	if !root.Equal(&com.PrevRoot) {
		c.status.Waiting = append(c.status.Waiting, n)
		return false, nil
	}
	frame, err := c.cfg.Source.BatchData(ctx, c.cfg.RollupID, n)
	if err != nil {
		return false, err
	}
	data, err := chain.DecompressBatch(frame)
	if err != nil {
		return false, err
	}
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return false, err // L1 checked it at submission
	}
	if rec.Mode == chain.ModeValidity {
		return c.advance(n, data, txs, &com, "validity")
	}
	stored, err := c.cfg.Source.BatchTrace(ctx, c.cfg.RollupID, n)
	if errors.Is(err, chain.ErrNotFound) {
		return c.advance(n, data, txs, &com, "final") // finalized before we read it: L1 agreed
	}
	if err != nil {
		return false, err
	}
	trace := make([]fr.Element, len(stored))
	for k := range stored {
		if err := trace[k].SetBytesCanonical(stored[k][:]); err != nil {
			return false, err
		}
	}
	exec := time.Now()
	proof, err := c.exec.check(&com, data, txs, trace)
	c.status.Checked++
	c.status.LastBatchTime = time.Since(exec)
	switch {
	case errors.Is(err, fraud.ErrNoFraud):
		c.agreed, c.changed = n, touches(txs, c.depth)
		c.status.Agreed, c.status.AgreedRoot = n, com.NewRoot
		c.log.Info("batch honest", "batch", n, "txs", com.TxCount, "took", c.status.LastBatchTime)
		return true, nil
	case err != nil:
		c.log.Warn("batch cannot be checked", "batch", n, "err", err)
		c.status.Waiting = append(c.status.Waiting, n)
		return false, nil
	}
	c.log.Warn("FRAUD", "batch", n, "kind", proof.Kind.String(), "step", proof.Step)
	c.pending = &challenge{batch: n, proof: proof.Encode()}
	c.status.LastProof, c.status.LastStep = proof.Kind, proof.Step
	if err := c.send(ctx); err != nil {
		return false, err
	}
	c.status.DetectSubmit = time.Since(start)
	c.log.Info("challenge sent", "batch", n, "detect_to_submit", c.status.DetectSubmit)
	return false, nil
}

// advance applies a batch L1 will not revert (proven, or final) to the agreed state.
func (c *Challenger) advance(n uint64, data []byte, txs []l2.Tx, com *l2.Commitment, why string) (bool, error) {
	if err := c.exec.advance(com, data); err != nil {
		return false, fmt.Errorf("challenger: %s batch %d: %w", why, n, err)
	}
	c.agreed, c.changed = n, touches(txs, c.depth)
	c.status.Agreed, c.status.AgreedRoot = n, com.NewRoot
	c.log.Info("batch "+why, "batch", n)
	return true, nil
}

// send signs and sends the pending challenge.
func (c *Challenger) send(ctx context.Context) error {
	acct, err := c.cfg.Source.Account(ctx, c.cfg.Key.Address())
	if err != nil {
		return err
	}
	c.pending.nonce = acct.Nonce
	raw, err := chain.SignTx(c.cfg.Key, chain.TxChallenge, c.cfg.L1ChainID, acct.Nonce,
		&chain.Challenge{RollupID: c.cfg.RollupID, Batch: c.pending.batch, Proof: c.pending.proof})
	if err != nil {
		return err
	}
	if _, err := c.cfg.Source.SubmitTx(ctx, raw); err != nil {
		return fmt.Errorf("challenger: sending the challenge of batch %d: %w", c.pending.batch, err)
	}
	c.status.Challenges++
	c.status.Challenged = c.pending.batch
	return nil
}

// retryChallenge sends the challenge again if its transaction was used up without reverting the
// batch (it lost a race, or a restart reused its nonce) while the batch is still pending.
func (c *Challenger) retryChallenge(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.pending == nil {
		return nil
	}
	acct, err := c.cfg.Source.Account(ctx, c.cfg.Key.Address())
	if err != nil || acct.Nonce <= c.pending.nonce {
		return err
	}
	r, err := c.cfg.Source.Rollup(ctx, c.cfg.RollupID)
	if err != nil {
		return err
	}
	if r.HeadNumber < c.pending.batch || r.FinalNumber >= c.pending.batch {
		return nil // reverted (its event will come) or, too late, final
	}
	return c.send(ctx)
}
