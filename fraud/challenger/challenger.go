// Package challenger is the fraud-proof challenger: it follows an L1 node's event log, re-executes
// every batch of one rollup on its own copy of the L2 state (the Go reference rules, signatures
// checked: the rules the L1 judge applies), and on the first fault of an optimistic batch builds
// the fraud proof (fraud.Build) and sends the challenge that reverts it and pays half the bond.
// Its cursor and the agreed state are kept in pebble, so a restart misses no batch.
package challenger

import (
	"context"
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
}

// Status is what the challenger is watching.
type Status struct {
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
	state     *l2.State
	agreed    uint64
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

var (
	keyCursor = []byte("m/cursor") // RLP cursor
	keyState  = []byte("m/state")  // RLP persisted: agreed batch and its accounts
)

type persisted struct {
	Agreed   uint64
	Accounts []wireAccount
}

type wireAccount struct {
	Index          uint32
	PKX, PKY       [32]byte
	Balance, Nonce uint64
}

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
	c := &Challenger{cfg: cfg, log: cfg.Logger, db: db, depth: int(r.Config.TreeDepth), l2ChainID: r.Config.L2ChainID}
	if err := c.restore(); err != nil {
		db.Close()
		return nil, err
	}
	return c, nil
}

func (c *Challenger) restore() error {
	if b, closer, err := c.db.Get(keyCursor); err == nil {
		err = rlp.DecodeBytes(b, &c.cursor)
		closer.Close()
		if err != nil {
			return fmt.Errorf("challenger: corrupt cursor: %w", err)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	var p persisted
	if b, closer, err := c.db.Get(keyState); err == nil {
		err = rlp.DecodeBytes(b, &p)
		closer.Close()
		if err != nil {
			return fmt.Errorf("challenger: corrupt state: %w", err)
		}
	} else if !errors.Is(err, pebble.ErrNotFound) {
		return err
	}
	accs := make([]l2.IndexedAccount, len(p.Accounts))
	for i, a := range p.Accounts {
		accs[i].Index, accs[i].Account.Balance, accs[i].Account.Nonce = a.Index, a.Balance, a.Nonce
		accs[i].Account.PubKey.X.SetBytes(a.PKX[:])
		accs[i].Account.PubKey.Y.SetBytes(a.PKY[:])
	}
	st, err := l2.NewStateFromAccounts(c.depth, accs)
	if err != nil {
		return err
	}
	c.state, c.agreed = st, p.Agreed
	c.status.Cursor, c.status.Agreed, c.status.AgreedRoot = c.cursor.Height, c.agreed, st.Root()
	return nil
}

// save writes the cursor, and the agreed state if it moved, in one synced batch.
func (c *Challenger) save(stateMoved bool) error {
	b := c.db.NewBatch()
	defer b.Close()
	enc, err := rlp.EncodeToBytes(&c.cursor)
	if err != nil {
		return err
	}
	if err := b.Set(keyCursor, enc, nil); err != nil {
		return err
	}
	if stateMoved {
		p := persisted{Agreed: c.agreed}
		for _, a := range c.state.Accounts() {
			p.Accounts = append(p.Accounts, wireAccount{Index: a.Index, PKX: a.Account.PubKey.X.Bytes(),
				PKY: a.Account.PubKey.Y.Bytes(), Balance: a.Account.Balance, Nonce: a.Account.Nonce})
		}
		if enc, err = rlp.EncodeToBytes(&p); err != nil {
			return err
		}
		if err := b.Set(keyState, enc, nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.Sync)
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

// Stop ends the loop and closes the store.
func (c *Challenger) Stop() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return c.db.Close()
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
	moved, err := c.handle(ctx, ev)
	if err != nil {
		return err
	}
	c.cursor = cursor{ev.Height, ev.Index + 1}
	if ev.Kind == chain.EventBlock { // the last event of a block
		c.cursor = cursor{ev.Height + 1, 0}
	}
	if err := c.save(moved); err != nil {
		return err
	}
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
	if root := c.state.Root(); !root.Equal(&com.PrevRoot) {
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
	start := time.Now()
	if rec.Mode == chain.ModeValidity {
		return c.advance(n, data, &com, "validity")
	}
	stored, err := c.cfg.Source.BatchTrace(ctx, c.cfg.RollupID, n)
	if errors.Is(err, chain.ErrNotFound) {
		return c.advance(n, data, &com, "final") // finalized before we read it: L1 agreed
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
	work := c.state.Clone()
	proof, err := fraud.Build(work, &com, data, trace)
	c.status.Checked++
	c.status.LastBatchTime = time.Since(start)
	switch {
	case errors.Is(err, fraud.ErrNoFraud):
		c.state, c.agreed = work, n
		c.status.Agreed, c.status.AgreedRoot = n, work.Root()
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
func (c *Challenger) advance(n uint64, data []byte, com *l2.Commitment, why string) (bool, error) {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return false, err
	}
	res := c.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: c.l2ChainID, VerifySignatures: true})
	if !res.FinalRoot.Equal(&com.NewRoot) || res.Rejected > 0 {
		return false, fmt.Errorf("challenger: %s batch %d does not re-execute to its root", why, n)
	}
	c.agreed = n
	c.status.Agreed, c.status.AgreedRoot = n, res.FinalRoot
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
