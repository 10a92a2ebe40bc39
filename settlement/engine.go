package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// BlockSource is the sequencer as the engine reads it (*sequencer.Sequencer).
type BlockSource interface {
	Head() sequencer.Header
	Block(n uint64) (*sequencer.Block, error)
}

// ModePolicy chooses the mode of each batch.
type ModePolicy uint8

// Mode policies.
const (
	// PolicyAuto: validity when the Prover returns a proof within ProofDeadline, otherwise
	// optimistic.
	PolicyAuto ModePolicy = iota
	PolicyOptimistic
	// PolicyValidity: always validity; a batch waits for its proof, unless it can never have
	// one (a refund, prover.ErrNotProvable): then it is posted optimistically.
	PolicyValidity
)

var policyNames = [...]string{"auto", "optimistic", "validity"}

func (p ModePolicy) String() string {
	if int(p) < len(policyNames) {
		return policyNames[p]
	}
	return fmt.Sprintf("policy(%d)", uint8(p))
}

// Defaults of Config fields left zero.
const (
	DefaultMaxBatchAge   = 2 * time.Second
	DefaultMaxInFlight   = 16 // batches posted and not final; bounds bonds locked at once
	DefaultProofDeadline = 30 * time.Second
	DefaultPollInterval  = 200 * time.Millisecond
)

// Config configures an Engine.
type Config struct {
	Dir     string // pebble directory of the batch records
	FS      vfs.FS // nil: the OS file system
	ChainID uint64 // the L2 chain ID
	Depth   int    // the L2 state tree depth
	Blocks  BlockSource
	Target  Target
	// MaxBatchTxs cuts a batch at this many transactions: the rollup's batch size on L1
	// (≤ l2.MaxBatchTxs).
	MaxBatchTxs int
	// MaxBatchAge cuts a batch when its oldest transaction has waited this long.
	MaxBatchAge   time.Duration
	MaxInFlight   int
	Policy        ModePolicy // the initial policy; SetPolicy changes it
	Prover        Prover     // nil: optimistic only (PolicyValidity then fails)
	ProofDeadline time.Duration
	PollInterval  time.Duration // Start's loop: also woken by Kick
	// Fault corrupts one posted batch; refused unless AllowFaultInjection (tests, devnets),
	// which also allows InjectFault.
	Fault               *Fault
	AllowFaultInjection bool
	Now                 func() time.Time
	Logger              *slog.Logger
}

// State is where a batch is in its life.
type State uint8

// Batch states.
const (
	StateBuilt     State = iota // built, not (or no longer) on the target
	StatePosted                 // sent, outcome unknown
	StateInWindow               // accepted optimistic batch, in its challenge window
	StateProven                 // accepted validity batch, waiting for its predecessors
	StateFinalized              // final on the target
)

var stateNames = [...]string{"built", "posted", "in window", "proven", "finalized"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Position is a place in the sequencer's transaction stream: transaction Offset of block Block.
type Position struct{ Block, Offset uint64 }

// BatchStatus is what Status reports of one batch.
type BatchStatus struct {
	Number      uint64
	State       State
	Mode        Mode
	Start, End  Position // [Start, End) of the stream
	TxCount     uint64
	Reverts     uint64 // times the target reverted or rejected it
	LastError   string
	FaultPosted bool // a fault was injected in one of its postings
}

// Engine is the settlement engine: New, Start, Stop; or Step driven by the caller.
type Engine struct {
	cfg Config
	log *slog.Logger
	db  *pebble.DB

	mu      sync.Mutex // guards everything below; Step holds it
	recs    []*record  // recs[n-1] is batch n
	state   *l2.State  // at the last built batch's new root
	pre     *l2.State  // the Prover's: at the start of batch preNext (nil: not built yet)
	preNext uint64
	genesis fr.Element
	pending []pendingTx
	next    Position // next transaction of the stream to ingest
	since   time.Time
	fault   *Fault // armed, not posted yet (nil: none)

	policy atomic.Uint32 // ModePolicy; read at each posting, so SetPolicy need not wait for a step

	kick   chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

type pendingTx struct {
	pos Position
	raw []byte
}

// New opens the engine's store and restores its batches and L2 state.
func New(cfg Config) (*Engine, error) {
	if cfg.Fault != nil && cfg.Fault.Kind != FaultNone && !cfg.AllowFaultInjection {
		return nil, errors.New("settlement: fault injection needs AllowFaultInjection (tests and devnets only)")
	}
	if cfg.Blocks == nil || cfg.Target == nil {
		return nil, errors.New("settlement: Blocks and Target are required")
	}
	if cfg.MaxBatchTxs <= 0 || cfg.MaxBatchTxs > l2.MaxBatchTxs {
		return nil, fmt.Errorf("settlement: MaxBatchTxs %d outside [1, %d]", cfg.MaxBatchTxs, l2.MaxBatchTxs)
	}
	if cfg.Policy == PolicyValidity && cfg.Prover == nil {
		return nil, errors.New("settlement: PolicyValidity needs a Prover")
	}
	if cfg.MaxBatchAge <= 0 {
		cfg.MaxBatchAge = DefaultMaxBatchAge
	}
	if cfg.MaxInFlight <= 0 {
		cfg.MaxInFlight = DefaultMaxInFlight
	}
	if cfg.ProofDeadline <= 0 {
		cfg.ProofDeadline = DefaultProofDeadline
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	st, err := l2.NewState(cfg.Depth)
	if err != nil {
		return nil, err
	}
	db, err := pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS})
	if err != nil {
		return nil, fmt.Errorf("settlement: opening store: %w", err)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, db: db, state: st, genesis: st.Root(), next: Position{Block: 1},
		kick: make(chan struct{}, 1)}
	if err := e.restore(); err != nil {
		db.Close()
		return nil, err
	}
	e.policy.Store(uint32(cfg.Policy))
	if f := cfg.Fault; f != nil && f.Kind != FaultNone && f.Batch > 0 {
		// Armed unless posted before a restart: a fault corrupts one posting only.
		if n := f.Batch; n > uint64(len(e.recs)) || !e.recs[n-1].FaultPosted {
			e.fault = f
		}
	}
	return e, nil
}

// ErrFaultInjectionDisabled is InjectFault's refusal without Config.AllowFaultInjection.
var ErrFaultInjectionDisabled = errors.New("settlement: fault injection needs AllowFaultInjection (tests and devnets only)")

// InjectFault arms f for the first batch not yet posted (the next one the engine posts; f.Batch
// is ignored) and returns that batch's number: a built batch waiting to be posted, or else the
// next one to be cut. It is for devnets and tests: refused unless Config.AllowFaultInjection,
// refused while another fault waits to be posted, and not persisted (a restart forgets it). It
// waits for a step in progress, which may be proving a batch (bounded by ProofDeadline). Like
// Config.Fault, the corruption goes into that batch's first posting only; it is posted
// optimistically whatever the policy, and a fault the batch gives no hold to is dropped (Fault).
func (e *Engine) InjectFault(f Fault) (uint64, error) {
	if !e.cfg.AllowFaultInjection {
		return 0, ErrFaultInjectionDisabled
	}
	switch {
	case f.Kind == FaultNone || int(f.Kind) >= len(faultNames):
		return 0, fmt.Errorf("settlement: cannot inject %s", f.Kind)
	case f.Kind == FaultAmountOverflow && f.Make == nil:
		return 0, fmt.Errorf("settlement: %s (%s) needs Fault.Make, a signed transaction beyond its sender's balance", f.Kind.Name(), f.Kind)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if p := e.fault; p != nil {
		return 0, fmt.Errorf("settlement: a fault (%s) is already armed for batch %d", p.Kind.Name(), p.Batch)
	}
	f.Batch = uint64(len(e.recs)) + 1
	for _, r := range e.recs {
		if State(r.State) == StateBuilt {
			f.Batch = r.Number
			break
		}
	}
	e.fault = &f
	e.Kick()
	return f.Batch, nil
}

// SetPolicy changes the mode policy for every batch posted from now on (built batches not
// posted yet included: one waiting for its proof under PolicyValidity goes out optimistically
// after SetPolicy(PolicyOptimistic)). PolicyValidity needs a Prover. The change is not
// persisted: a restart returns to Config.Policy.
func (e *Engine) SetPolicy(p ModePolicy) error {
	switch p {
	case PolicyAuto, PolicyOptimistic:
	case PolicyValidity:
		if e.cfg.Prover == nil {
			return errors.New("settlement: PolicyValidity needs a Prover")
		}
	default:
		return fmt.Errorf("settlement: unknown policy %d", p)
	}
	e.policy.Store(uint32(p))
	e.Kick()
	return nil
}

// Policy is the current mode policy.
func (e *Engine) Policy() ModePolicy { return ModePolicy(e.policy.Load()) }

// restore loads the batch records and re-executes their (honest) data to rebuild the L2 state.
func (e *Engine) restore() error {
	recs, err := loadRecords(e.db)
	if err != nil {
		return err
	}
	for _, r := range recs {
		b, err := r.built()
		if err != nil {
			return err
		}
		if err := e.execute(b.Data, &b.Commitment); err != nil {
			return fmt.Errorf("settlement: restoring batch %d: %w", r.Number, err)
		}
		e.next = Position{Block: r.EndBlock, Offset: r.EndOffset}
	}
	e.recs = recs
	return nil
}

// execute applies honest batch data to the engine's state and checks it gives c.
func (e *Engine) execute(data []byte, c *l2.Commitment) error {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return err
	}
	res := e.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	if res.Rejected > 0 || !res.FinalRoot.Equal(&c.NewRoot) {
		return fmt.Errorf("settlement: batch %d re-executes to another root", c.BatchNumber)
	}
	return nil
}

// Start runs Step every PollInterval and whenever Kick is called, until Stop.
func (e *Engine) Start(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.cfg.PollInterval)
		defer t.Stop()
		for {
			if err := e.Step(ctx); err != nil && ctx.Err() == nil {
				e.log.Warn("settlement step", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-e.kick:
			}
		}
	}()
	return nil
}

// Kick asks the running loop for a step now (a new L2 block, a new L1 block).
func (e *Engine) Kick() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// Stop ends the loop and closes the store.
func (e *Engine) Stop() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	return e.db.Close()
}

// Step does one pass: follows the target (accepted, finalized, reverted, rejected batches),
// ingests new L2 blocks and cuts batches, then posts what is due.
func (e *Engine) Step(ctx context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	h, err := e.cfg.Target.Head(ctx)
	if err != nil {
		return fmt.Errorf("settlement: target head: %w", err)
	}
	if err := e.reconcile(ctx, h); err != nil {
		return err
	}
	if err := e.ingest(); err != nil {
		return err
	}
	return e.post(ctx)
}

// reconcile moves each batch on the target to the state the target gives it.
func (e *Engine) reconcile(ctx context.Context, h TargetHead) error {
	for _, r := range e.recs {
		st := State(r.State)
		if st == StateBuilt || st == StateFinalized {
			continue
		}
		if r.Number > h.HeadNumber {
			if st == StatePosted {
				out, err := e.cfg.Target.Outcome(ctx, r.ref())
				if err != nil {
					return err
				}
				if !out.Done {
					continue
				}
				if !out.OK {
					e.log.Info("batch rejected", "batch", r.Number, "err", out.Error)
					if err := e.reset(r, out.Error); err != nil {
						return err
					}
					continue
				}
			}
			e.log.Info("batch reverted", "batch", r.Number)
			if err := e.reset(r, "reverted on the target"); err != nil {
				return err
			}
			continue
		}
		pb, err := e.cfg.Target.Batch(ctx, r.Number)
		if err != nil {
			return err
		}
		posted, err := r.posted()
		if err != nil {
			return err
		}
		if !sameCommitment(&pb.Commitment, &posted) {
			if err := e.reset(r, "the target holds another batch"); err != nil {
				return err
			}
			continue
		}
		next := StateInWindow
		if pb.Mode == ModeValidity {
			next = StateProven
		}
		if r.Number <= h.FinalNumber {
			next = StateFinalized
		}
		if next != st {
			r.State = uint8(next)
			e.log.Info("batch "+next.String(), "batch", r.Number)
			if err := e.save(r); err != nil {
				return err
			}
		}
	}
	return nil
}

// reset returns a batch the target no longer holds to built: it is posted again, honestly,
// from the last valid root. The L2 chain it commits to is the sequencer's, which never held the
// corruption (faults are injected into postings only), so the batch as built is the correct
// one.
func (e *Engine) reset(r *record, why string) error {
	r.State, r.Reverts, r.LastError = uint8(StateBuilt), r.Reverts+1, why
	r.Posted, r.TxHash, r.TxNonce, r.TxHeight = wireCommitment{}, [32]byte{}, 0, 0
	return e.save(r)
}

func sameCommitment(a, b *l2.Commitment) bool {
	return a.BatchNumber == b.BatchNumber && a.PrevRoot.Equal(&b.PrevRoot) && a.NewRoot.Equal(&b.NewRoot) &&
		a.DataHash.Equal(&b.DataHash) && a.TraceRoot.Equal(&b.TraceRoot) && a.WithdrawalRoot.Equal(&b.WithdrawalRoot) &&
		a.DepositsBefore.Equal(&b.DepositsBefore) && a.DepositsAfter.Equal(&b.DepositsAfter) && a.TxCount == b.TxCount
}

// ingest reads the sequencer's new blocks into the pending transactions and cuts batches.
func (e *Engine) ingest() error {
	head := e.cfg.Blocks.Head().Number
	for ; e.next.Block <= head; e.next = (Position{Block: e.next.Block + 1}) {
		b, err := e.cfg.Blocks.Block(e.next.Block)
		if err != nil || b == nil {
			return fmt.Errorf("settlement: L2 block %d: %v", e.next.Block, err)
		}
		n := uint64(len(b.Data) / l2.TxSize)
		if len(e.pending) == 0 && e.next.Offset < n {
			e.since = e.cfg.Now()
		}
		for k := e.next.Offset; k < n; k++ {
			e.pending = append(e.pending, pendingTx{pos: Position{b.Header.Number, k}, raw: b.Data[k*l2.TxSize : (k+1)*l2.TxSize]})
		}
		for len(e.pending) >= e.cfg.MaxBatchTxs {
			if err := e.cut(e.cfg.MaxBatchTxs, &b.Header); err != nil {
				return err
			}
		}
	}
	if len(e.pending) > 0 && e.cfg.Now().Sub(e.since) >= e.cfg.MaxBatchAge {
		return e.cut(len(e.pending), nil)
	}
	return nil
}

// cut builds a batch of the first k pending transactions. When it ends at the end of block
// last, its new root must be that block's post root.
func (e *Engine) cut(k int, last *sequencer.Header) error {
	txs := e.pending[:k]
	data := make([]byte, 0, k*l2.TxSize)
	for _, p := range txs {
		data = append(data, p.raw...)
	}
	number := uint64(len(e.recs)) + 1
	b, err := e.build(number, data)
	if err != nil {
		return err
	}
	endPos := Position{txs[k-1].pos.Block, txs[k-1].pos.Offset + 1}
	if k == len(e.pending) && last != nil && last.Number == endPos.Block && uint64(last.TxCount) == endPos.Offset {
		if root := b.Commitment.NewRoot.Bytes(); root != last.PostRoot {
			return fmt.Errorf("settlement: batch %d ends at block %d but its root differs from the block's", number, last.Number)
		}
	}
	r := newRecord(b, txs[0].pos, endPos)
	if err := e.save(r); err != nil {
		return err
	}
	e.recs = append(e.recs, r)
	e.pending = append(e.pending[:0:0], e.pending[k:]...)
	e.since = e.cfg.Now()
	e.log.Info("batch built", "batch", number, "txs", k, "blocks", fmt.Sprintf("%d..%d", txs[0].pos.Block, endPos.Block))
	return nil
}

// built is a batch as the engine builds it: honest commitment, data and trace.
type built struct {
	Commitment l2.Commitment
	Data       []byte
	Trace      []fr.Element
}

// build executes data on the engine's state (signatures were checked by the sequencer) and
// returns the batch with its commitment (docs/protocol.md §8).
func (e *Engine) build(number uint64, data []byte) (*built, error) {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return nil, fmt.Errorf("settlement: batch %d: %w", number, err)
	}
	dh, err := l2.DataHash(data)
	if err != nil {
		return nil, err
	}
	prev := e.state.Root()
	var dqBefore fr.Element // dq[0] = 0
	if len(e.recs) > 0 {
		if dqBefore, err = element(e.recs[len(e.recs)-1].Commitment.DepositsAfter); err != nil {
			return nil, err
		}
	}
	dq := dqBefore
	for i := range txs {
		if txs[i].Type.ConsumesDeposit() {
			dq = l2.NextDepositChain(dq, l2.DepositHash(txs[i].PubKey, txs[i].Amount))
		}
	}
	res := e.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	if res.Rejected > 0 {
		return nil, fmt.Errorf("settlement: batch %d: %d transactions of the sequencer's blocks fail", number, res.Rejected)
	}
	return &built{Commitment: l2.Commitment{ChainID: e.cfg.ChainID, BatchNumber: number, PrevRoot: prev, NewRoot: res.FinalRoot,
		DepositsBefore: dqBefore, DepositsAfter: dq, WithdrawalRoot: res.WithdrawalRoot, DataHash: dh,
		TraceRoot: res.TraceRoot, TxCount: uint64(len(txs))}, Data: data, Trace: res.PostRoots}, nil
}

// post sends the batches that are due, in order.
func (e *Engine) post(ctx context.Context) error {
	prevRoot := e.genesis
	inFlight := 0
	for _, r := range e.recs {
		if st := State(r.State); st != StateBuilt {
			if st != StateFinalized {
				inFlight++
			}
			p, err := r.posted()
			if err != nil {
				return err
			}
			prevRoot = p.NewRoot
			continue
		}
		if inFlight >= e.cfg.MaxInFlight {
			return nil
		}
		if err := e.postOne(ctx, r, prevRoot); err != nil {
			return err
		}
		if State(r.State) == StateBuilt {
			return nil // not sent (waiting for a proof)
		}
		p, _ := r.posted()
		prevRoot = p.NewRoot
		inFlight++
	}
	return nil
}

func (e *Engine) postOne(ctx context.Context, r *record, prevRoot fr.Element) error {
	b, err := r.built()
	if err != nil {
		return err
	}
	sub := &Submission{Mode: ModeOptimistic, Commitment: b.Commitment, Trace: b.Trace}
	sub.Commitment.PrevRoot = prevRoot // the root on the target: a corrupted predecessor's, until reverted
	if sub.Frame, err = compress(b.Data); err != nil {
		return err
	}
	// Idempotency: the target may hold it already (a restart after sending, or a lost reply).
	if pb, err := e.cfg.Target.Batch(ctx, r.Number); err == nil {
		if !sameCommitment(&pb.Commitment, &sub.Commitment) {
			return fmt.Errorf("settlement: the target holds another batch %d", r.Number)
		}
		r.Posted, r.State = toWire(&sub.Commitment), uint8(StatePosted)
		return e.save(r) // reconcile gives it its state on the next step
	} else if !errors.Is(err, ErrNotPosted) {
		return err
	}
	f := e.fault
	faulty := f != nil && f.Batch == r.Number
	if faulty {
		pre, err := e.stateBefore(r.Number)
		if err != nil {
			return err
		}
		switch err := corrupt(f, b, pre, sub); {
		case errors.Is(err, errFaultNotApplicable):
			// Dropped: a fault that cannot corrupt this batch must not hold up settlement.
			faulty, e.fault = false, nil
			r.LastError = fmt.Sprintf("fault %s dropped: %v", f.Kind.Name(), err)
			e.log.Warn("fault not applicable: batch posted honestly", "batch", r.Number, "fault", f.Kind.Name(), "err", err)
		case err != nil:
			return err
		}
	}
	policy := e.Policy()
	if !faulty && e.cfg.Prover != nil && policy != PolicyOptimistic {
		var proof []byte
		pre, err := e.proverState(r.Number)
		if err == nil {
			if root := pre.Root(); !root.Equal(&sub.Commitment.PrevRoot) {
				// The target holds a corrupted predecessor: no proof can build on its root.
				err = errors.New("settlement: the target's root is not the batch's pre-state root")
			}
		}
		if err == nil {
			pctx, cancel := context.WithTimeout(ctx, e.cfg.ProofDeadline)
			proof, err = e.cfg.Prover.Prove(pctx, &sub.Commitment, b.Data, pre)
			cancel()
		}
		switch {
		case err == nil:
			sub.Mode, sub.Proof, sub.Trace = ModeValidity, proof, nil
		case policy == PolicyValidity && !neverProvable(err):
			e.log.Info("batch waits for its proof", "batch", r.Number, "err", err)
			return nil
		default:
			e.log.Info("no proof within the deadline: optimistic", "batch", r.Number, "err", err)
		}
	}
	ref, err := e.cfg.Target.Submit(ctx, sub)
	if err != nil {
		return err
	}
	if faulty {
		r.FaultPosted, e.fault = true, nil
		e.log.Warn("FAULT INJECTED", "batch", r.Number, "fault", f.Kind.String())
	}
	r.State, r.Mode, r.Posted = uint8(StatePosted), uint8(sub.Mode), toWire(&sub.Commitment)
	r.TxHash, r.TxNonce, r.TxHeight = ref.Hash, ref.Nonce, ref.Height
	if e.cfg.Prover != nil {
		e.advanceProverState(r.Number, b.Data)
	}
	e.log.Info("batch posted", "batch", r.Number, "mode", sub.Mode.String(), "txs", sub.Commitment.TxCount)
	return e.save(r)
}

// proverState returns the L2 state at the start of batch n, for the Prover: a cached state
// that follows the batches as they are posted in order, rebuilt (stateBefore) after a revert or
// a restart.
func (e *Engine) proverState(n uint64) (*l2.State, error) {
	if e.pre == nil || e.preNext != n {
		st, err := e.stateBefore(n)
		if err != nil {
			return nil, err
		}
		e.pre, e.preNext = st, n
	}
	return e.pre, nil
}

// advanceProverState moves the Prover's cached state past batch n, if it is at its start.
func (e *Engine) advanceProverState(n uint64, data []byte) {
	if e.pre == nil || e.preNext != n {
		return
	}
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		e.pre = nil
		return
	}
	e.pre.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	e.preNext = n + 1
}

// stateBefore rebuilds the L2 state at the start of batch n (fault injection, the Prover).
func (e *Engine) stateBefore(n uint64) (*l2.State, error) {
	st, err := l2.NewState(e.cfg.Depth)
	if err != nil {
		return nil, err
	}
	for _, r := range e.recs[:n-1] {
		txs, err := l2.DecodeBatch(r.Data)
		if err != nil {
			return nil, err
		}
		st.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	}
	return st, nil
}

// Status returns every batch's status, oldest first.
func (e *Engine) Status() []BatchStatus {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]BatchStatus, len(e.recs))
	for i, r := range e.recs {
		out[i] = BatchStatus{Number: r.Number, State: State(r.State), Mode: Mode(r.Mode), Start: Position{r.StartBlock, r.StartOffset},
			End: Position{r.EndBlock, r.EndOffset}, TxCount: r.Commitment.TxCount, Reverts: r.Reverts, LastError: r.LastError,
			FaultPosted: r.FaultPosted}
	}
	return out
}

// BlockSettlement is the settlement of L2 block n for the sequencer's API: "final" once every
// batch holding it is final, "committed" once they are all accepted by the target, else "soft";
// with the first and last of those batches once committed.
func (e *Engine) BlockSettlement(n uint64) sequencer.BlockSettlement {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := sequencer.BlockSettlement{Status: "final"}
	for _, r := range e.recs {
		end := r.EndBlock
		if r.EndOffset == 0 {
			end--
		}
		if r.StartBlock > n || end < n {
			continue
		}
		if out.FirstBatch == 0 {
			out.FirstBatch = r.Number
		}
		out.LastBatch = r.Number
		switch State(r.State) {
		case StateBuilt, StatePosted:
			return sequencer.BlockSettlement{Status: "soft"}
		case StateInWindow, StateProven:
			out.Status = "committed"
		}
	}
	if out.FirstBatch == 0 {
		return sequencer.BlockSettlement{Status: "soft"}
	}
	return out
}

// The engine is the settlement status rollup_getStatus reports.
var _ sequencer.SettlementStatus = (*Engine)(nil)

func compress(data []byte) ([]byte, error) { return chain.CompressBatch(data) }
