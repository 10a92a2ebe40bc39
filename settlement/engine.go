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
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// BlockSource is the sequencer as the engine reads it (*sequencer.Sequencer).
type BlockSource interface {
	Head() sequencer.Header
	Block(n uint64) (*sequencer.Block, error)
	// ReferenceState is the Go reference state at the end of block n (0: genesis), from the
	// sequencer's snapshots and the blocks after the newest one at or below n; replayed counts
	// the transactions it executed. For the cross-check and fault injection only (the Prover
	// takes its states from Config.PreStates).
	ReferenceState(ctx context.Context, n uint64) (st *l2.State, replayed uint64, err error)
}

// Defaults of Config fields left zero.
const (
	DefaultMaxBatchAge = 2 * time.Second
	// DefaultMaxInFlight caps the batches posted and not final, for memory and L1 state: the
	// rollup's one sequencer stake backs them all, so bonds no longer bound them (docs/settlement.md).
	DefaultMaxInFlight   = 1024
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
	// MaxBatchTxs is the rollup's batch size on L1, the circuit's B (≤ l2.MaxBatchTxs), or
	// less: the least of the cut sizes.
	MaxBatchTxs int
	// MaxOptimisticTxs cuts a batch at this many transactions under PolicyOptimistic (0:
	// l2.MaxBatchTxs, the most L1 takes in an optimistic batch; at least MaxBatchTxs).
	MaxOptimisticTxs int
	// MaxValidityTxs cuts a batch at this many transactions under PolicyAuto and PolicyValidity
	// (0: min(MaxOptimisticTxs, l2.MaxChunks·MaxBatchTxs); in [MaxBatchTxs, that]): a batch of
	// more than B is proven in ⌈n/B⌉ chunks (docs/protocol.md §8.8).
	MaxValidityTxs int
	// MaxBatchAge cuts a batch when its oldest transaction has waited this long.
	MaxBatchAge time.Duration
	MaxInFlight int
	Policy      ModePolicy // the initial policy; SetPolicy changes it
	Prover      Prover     // nil: optimistic only (PolicyValidity then fails)
	// ProverVK is the verifying key the Prover's proofs verify under (zero: not checked). While
	// the target's key in force (TargetHead.VKHash, which a guardian config change rotates)
	// differs, batches are not proven and go out optimistically, whatever the policy, with a
	// warning naming both keys (docs/settlement.md, key rotation).
	ProverVK [32]byte
	// PreStates gives the Prover its pre-batch states (the core's in cmd/pqsequencer); required
	// with a Prover.
	PreStates     PreStates
	ProofDeadline time.Duration
	PollInterval  time.Duration // Start's loop: also woken by Kick
	// A failed posting of a batch is retried after a wait drawn in [0, min(RetryCap,
	// RetryBase·2^(k−1))] after its k-th failure (0: DefaultRetryBase, DefaultRetryCap); after
	// RetryBudget failures (0: DefaultRetryBudget) it is logged once and counted over budget
	// (Retries), and retried at the cap for as long as it takes.
	RetryBase, RetryCap time.Duration
	RetryBudget         int
	// NoCrossCheck turns off the asynchronous cross-check: the Go reference re-executing each
	// built batch behind the hot path (one CPU at ≈300 µs per transaction while it keeps up; it
	// skips batches rather than hold up cutting), fatal on a disagreement (ErrCrossCheck).
	NoCrossCheck bool
	// CrossCheckQueue is how many built batches the cross-check holds before it skips
	// (0: DefaultCrossCheckQueue).
	CrossCheckQueue int
	// Keys gives the cross-check the ML-DSA-65 keys of the accounts (the sequencer's key book,
	// *sequencer.Sequencer): it verifies the signature of each type 5/6 it knows the key of
	// (nil: none verified).
	Keys l2.KeyBook
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
	Reverts     uint64 // times the target reverted it after accepting it (an upheld challenge)
	Rejects     uint64 // times the target refused a posting of it (receipt failed)
	LastError   string
	FaultPosted bool // a fault was injected in one of its postings
}

// Errors of a halted engine: Step and Err return ErrHalted, wrapping why.
var (
	// ErrHalted: the engine refuses further steps; reopening it (New on the same Dir) resumes
	// from its stored batch records once the cause is gone.
	ErrHalted = errors.New("settlement engine halted")
	// ErrStore: a batch record could not be stored (a full disk, a failed sync, a read-only
	// datadir): pebble cannot take further writes in this process.
	ErrStore = errors.New("settlement store failed")
)

// Engine is the settlement engine: New, Start, Stop; or Step driven by the caller.
//
// Its only durable state is the records of the batches not final and the summary of the final
// ones; the pending transactions and the stream position follow from them (New rebuilds them
// without executing), and a step changes them in memory only once the record that implies them
// is stored. A record that
// cannot be stored halts the engine (Err, ErrHalted wrapping ErrStore): it never goes on from a
// memory the store does not hold.
type Engine struct {
	cfg   Config
	log   *slog.Logger
	db    *pebble.DB
	guard *pebbleguard.Guard

	// stepMu serialises Step and guards the working set below, which only a step touches. It
	// is held across L1 calls and proving, so nothing else takes it: Status, BlockSettlement,
	// Lag, LastFinal, CrossCheck and Err read published snapshots, SetPolicy an atomic, and
	// InjectFault the fault slot under faultMu (held for memory operations only).
	stepMu  sync.Mutex
	pre     PreState // the Prover's: at the start of batch preNext (nil: not built yet)
	preNext uint64
	genesis fr.Element
	pending []pendingTx
	next    Position // next transaction of the stream to read into pending
	since   time.Time
	// vkMismatch: the target's verifying key in force is not Config.ProverVK (checkProverVK,
	// published for ProverKeyMismatch); vkSeen is the target key last logged.
	vkMismatch atomic.Bool
	vkSeen     [32]byte
	// retrying holds the failed postings' retry state by batch number (retry.go).
	retrying map[uint64]*retrying
	retry    retryCounters

	faultMu sync.Mutex
	fault   *Fault // armed, not posted yet (nil: none)
	posting uint64 // the batch a step is posting (proving, sending) now (0: none)

	// The working set of records, the step's only: the summary of the final batches (their
	// records pruned) and the records of the batches not final, recs[i] being batch
	// last.Number+1+i. Each change is published as an immutable view (status.go).
	last FinalSummary
	recs []*record
	view atomic.Pointer[view]

	mu     sync.Mutex // guards halted
	halted error

	refTxs atomic.Uint64                 // transactions fault injection executed with the Go reference (stateBefore)
	policy atomic.Uint32                 // ModePolicy; read at each posting, so SetPolicy need not wait for a step
	lag    atomic.Pointer[sequencer.Lag] // published by each step (lag.go)

	check     *crossCheck // nil: Config.NoCrossCheck
	checkStop context.CancelFunc
	kick      chan struct{}
	cancel    context.CancelFunc
	wg        sync.WaitGroup
}

// New opens the engine's store and restores its batches and L2 state.
func New(cfg Config) (*Engine, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Depth < l2.MinTreeDepth || cfg.Depth > l2.MaxTreeDepth {
		return nil, fmt.Errorf("settlement: depth %d outside [%d, %d]", cfg.Depth, l2.MinTreeDepth, l2.MaxTreeDepth)
	}
	guard := pebbleguard.New(cfg.Logger.With("store", "settlement"), nil)
	db, err := pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS, Logger: guard})
	if err != nil {
		return nil, fmt.Errorf("settlement: opening store %s: %w", cfg.Dir, err)
	}
	e := &Engine{cfg: cfg, log: cfg.Logger, db: db, guard: guard, genesis: l2.EmptySubtree(cfg.Depth), next: Position{Block: 1},
		kick: make(chan struct{}, 1), retrying: map[uint64]*retrying{}}
	if err := e.restore(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	e.policy.Store(uint32(cfg.Policy))
	if !cfg.NoCrossCheck {
		var ctx context.Context
		ctx, e.checkStop = context.WithCancel(context.Background())
		e.check = newCrossCheck(cfg.Blocks, cfg.Keys, cfg.ChainID, cfg.CrossCheckQueue, cfg.Logger.With("component", "cross-check"),
			func(err error) { e.halt(err) })
		e.check.run(ctx)
	}
	if f := cfg.Fault; f != nil && f.Kind != FaultNone && f.Batch > 0 {
		// Armed unless posted before a restart: a fault corrupts one posting only.
		if n := f.Batch; n > uint64(len(e.recs)) || !e.recs[n-1].FaultPosted {
			e.fault = f
		}
	}
	return e, nil
}

// check validates cfg and fills in the defaults.
func (cfg *Config) check() error {
	if cfg.Fault != nil && cfg.Fault.Kind != FaultNone && !cfg.AllowFaultInjection {
		return errors.New("settlement: fault injection needs AllowFaultInjection (tests and devnets only)")
	}
	if cfg.Blocks == nil || cfg.Target == nil {
		return errors.New("settlement: Blocks and Target are required")
	}
	if cfg.MaxBatchTxs <= 0 || cfg.MaxBatchTxs > l2.MaxBatchTxs {
		return fmt.Errorf("settlement: MaxBatchTxs %d outside [1, %d]", cfg.MaxBatchTxs, l2.MaxBatchTxs)
	}
	if cfg.MaxOptimisticTxs == 0 {
		cfg.MaxOptimisticTxs = l2.MaxBatchTxs
	}
	if cfg.MaxOptimisticTxs < cfg.MaxBatchTxs || cfg.MaxOptimisticTxs > l2.MaxBatchTxs {
		return fmt.Errorf("settlement: MaxOptimisticTxs %d outside [MaxBatchTxs %d, %d]", cfg.MaxOptimisticTxs, cfg.MaxBatchTxs, l2.MaxBatchTxs)
	}
	if most := min(cfg.MaxOptimisticTxs, l2.MaxChunks*cfg.MaxBatchTxs); cfg.MaxValidityTxs == 0 {
		cfg.MaxValidityTxs = most
	} else if cfg.MaxValidityTxs < cfg.MaxBatchTxs || cfg.MaxValidityTxs > most {
		return fmt.Errorf("settlement: MaxValidityTxs %d outside [MaxBatchTxs %d, %d]", cfg.MaxValidityTxs, cfg.MaxBatchTxs, most)
	}
	if cfg.Prover != nil && cfg.PreStates == nil {
		return errors.New("settlement: a Prover needs PreStates")
	}
	if cfg.Policy == PolicyValidity && cfg.Prover == nil {
		return errors.New("settlement: PolicyValidity needs a Prover")
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
	if cfg.CrossCheckQueue <= 0 {
		cfg.CrossCheckQueue = DefaultCrossCheckQueue
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.RetryBase <= 0 {
		cfg.RetryBase = DefaultRetryBase
	}
	if cfg.RetryCap <= 0 {
		cfg.RetryCap = DefaultRetryCap
	}
	if cfg.RetryCap < cfg.RetryBase {
		return fmt.Errorf("settlement: RetryCap %s below RetryBase %s", cfg.RetryCap, cfg.RetryBase)
	}
	if cfg.RetryBudget <= 0 {
		cfg.RetryBudget = DefaultRetryBudget
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Start runs Step every PollInterval and whenever Kick is called, until Stop or until the
// engine halts (Err says why).
func (e *Engine) Start(ctx context.Context) error {
	ctx, e.cancel = context.WithCancel(ctx)
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		t := time.NewTicker(e.cfg.PollInterval)
		defer t.Stop()
		var fails stepFailures
		for {
			err := e.Step(ctx)
			if errors.Is(err, ErrHalted) {
				return // logged once, by halt
			}
			if ctx.Err() == nil {
				fails.report(e.log, err, e.cfg.Now())
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

// Stop ends the loop and closes the store. After a storage fault in one of pebble's
// background writes it leaves the store open and returns the fault: the goroutine that hit it
// is parked (pebbleguard), and closing would wait for it for ever.
func (e *Engine) Stop() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	if e.check != nil {
		e.checkStop()
		e.check.wg.Wait()
	}
	e.stepMu.Lock()
	e.dropProverState()
	e.stepMu.Unlock()
	var f *pebbleguard.Fault
	if err := e.guard.Err(); errors.As(err, &f) && f.Wedged() {
		return fmt.Errorf("settlement: store left open: %w", err)
	}
	return e.db.Close()
}

// Err is nil while the engine works, and ErrHalted wrapping the cause once it has halted: for
// readiness. It does not wait for a step.
func (e *Engine) Err() error {
	e.mu.Lock()
	err := e.halted
	e.mu.Unlock()
	if err != nil {
		return err
	}
	if err := e.guard.Err(); err != nil { // a fault in one of pebble's background writes
		return fmt.Errorf("%w: %w: %w", ErrHalted, ErrStore, err)
	}
	return nil
}

// halt stops the engine for good (in this process) because of cause, and returns the error
// Step reports from now on.
func (e *Engine) halt(cause error) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.halted == nil {
		e.halted = fmt.Errorf("%w: %w", ErrHalted, cause)
		e.log.Error("settlement halted: reopen the engine once the cause is fixed", "err", cause)
	}
	return e.halted
}

// Step does one pass: follows the target (accepted, finalized, reverted, rejected batches),
// ingests new L2 blocks and cuts batches, then posts what is due. A halted engine refuses.
func (e *Engine) Step(ctx context.Context) error {
	e.stepMu.Lock()
	defer e.stepMu.Unlock()
	if err := e.Err(); err != nil {
		return err
	}
	h, err := e.cfg.Target.Head(ctx)
	if err != nil {
		return fmt.Errorf("settlement: target head: %w", err)
	}
	defer e.publishLag(h) // also after a failed reconcile, cut or post: the lag admission reads
	e.checkProverVK(h.VKHash)
	if err := e.reconcile(ctx, h); err != nil {
		return err
	}
	if err := e.ingest(h); err != nil {
		return err
	}
	return e.post(ctx)
}

// The engine is the settlement status rollup_getStatus reports.
var _ sequencer.SettlementStatus = (*Engine)(nil)

func compress(data []byte) ([]byte, error) { return l1api.CompressBatch(data) }
