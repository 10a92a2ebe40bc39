// Package challenger is the fraud-proof challenger: it follows an L1 node's event log, fetches
// each batch of one rollup from L1 and re-executes it on its own copy of the L2 state by the
// rules the L1 judge applies (docs/protocol.md §7, signatures checked), comparing every step with
// the trace L1 stores and the result with the commitment. On the first fault of an optimistic
// batch it builds the fraud proof (fraud.Build) and sends the challenge that reverts the batch
// and pays half the bond.
//
// A batch is identified by its number and its submission height, never by a root: a reverted
// batch is done, and the batch posted again under its number is another batch. The events of an
// L1 block are handled together, so a batch submitted and reverted in one block is never read.
//
// The state lives in the native core (package ffi), which applies a batch in one call; the
// challenger checks the signatures the core does not, and runs the Go reference only to build a
// proof, on a partial state made of the core's witnesses of the accounts the batch touches
// (Config.Executor "reference" re-executes every batch with the Go reference instead, on a clone
// of the whole state, as a slower comparison). Its cursor, the agreed state and its signed
// challenge transactions are kept in pebble (through internal/pebbleguard, so a failed write is
// an error, not a crash): a challenge is stored with the cursor of its block before it is sent,
// so a restart sends the same transaction again instead of signing a second one on its nonce.
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
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Source is the L1 node as the challenger reads it: ClientSource (over QUIC) or
// nodesource.New (in process; a separate package, so that the challenger links no L1 node).
type Source interface {
	Status(ctx context.Context) (l1api.Status, error)
	Rollup(ctx context.Context, id uint64) (*l1api.Rollup, error)
	Batch(ctx context.Context, rollupID, number uint64) (*l1api.BatchRecord, error)
	BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error)
	BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error)
	// L2Key is the ML-DSA-65 key L1 registered for an L2 key hash (l1api.ErrNotFound: none).
	L2Key(ctx context.Context, rollupID uint64, kh [32]byte) ([]byte, error)
	Account(ctx context.Context, a common.Address) (l1api.Account, error)
	SubmitTx(ctx context.Context, raw []byte) (common.Hash, error)
	// Events follows the event log from the first event of fromHeight: the stored events, then
	// each block's as it commits, every block's ending with its l1api.EventBlock.
	Events(ctx context.Context, fromHeight uint64) (Events, error)
}

// Events is a subscription to the event log (*l1client.Events, *node.Subscription).
type Events interface {
	Next() (l1api.Event, error)
	Close()
}

// ClientSource is the Source of an L1 node reached over QUIC.
func ClientSource(c *l1client.Client) Source { return clientSource{c} }

// clientSource only gives Events its interface result.
type clientSource struct{ *l1client.Client }

func (s clientSource) Events(ctx context.Context, fromHeight uint64) (Events, error) {
	e, err := s.Client.Events(ctx, fromHeight)
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
	// KillAt is fault injection for tests: when it returns true at a point, the run ends there
	// with ErrKilled as if the process died, writing and sending nothing more. nil: never.
	KillAt func(KillPoint) bool
}

// Status is what the challenger is watching, and whether it makes progress.
type Status struct {
	Executor      string     // ExecutorCore or ExecutorReference
	Cursor        uint64     // next L1 height of the event log to read
	Agreed        uint64     // last batch checked honest (or final): the state is at its root
	AgreedRoot    fr.Element //
	Waiting       []uint64   // batches seen that build on a batch not agreed (a challenged one)
	Challenged    uint64     // batch with a challenge in flight (0: none)
	Challenges    int        // challenges sent (first sends; a restart counts again)
	Upheld        int        // challenges of ours L1 upheld
	Rewards       uint64     // L1 units received for them
	BondReturned  uint64     // challenge bond returned with them (L1 units)
	BondsLost     int        // challenges of ours L1's judge rejected: each burned its bond
	BondBurned    uint64     // L1 units of bond burned with them
	BondShort     uint64     // how far the L1 balance was from the challenge bond at the last read (0: it covers it)
	Checked       int        // optimistic batches re-executed
	Withheld      int        // blocks after which the proven rollup head showed batches the events withheld (ProvenSource)
	LastProof     fraud.Kind // kind of the last fraud proof sent
	LastStep      uint64     // and its step
	DetectSubmit  time.Duration
	LastBatchTime time.Duration // re-execution time of the last batch

	Failures  int    // runs of the follow loop that failed in a row (0 after a block handled)
	Errors    int    // failed runs in all
	LastError string // the last failure's error
	Fault     error  // the storage fault that halted the challenger (nil: none)
}

// Stuck reports that the challenger cannot make progress: its store failed, or the follow loop
// failed stuckAfter times in a row.
func (s *Status) Stuck() bool { return s.Fault != nil || s.Failures >= stuckAfter }

// stuckAfter failures in a row (a second apart) make a challenger stuck: one failure is a
// blip (a node restarting), three mean nobody is watching the rollup.
const stuckAfter = 3

// Challenger watches one rollup. Start runs its follow loop in a goroutine; Step runs it in the
// caller's. They must not run at the same time.
type Challenger struct {
	cfg       Config
	log       *slog.Logger
	db        *pebble.DB
	guard     *pebbleguard.Guard
	depth     int
	l2ChainID uint64
	bond      uint64 // the rollup's challenge bond (l1api.RollupConfig.ChallengeBond)
	keys      *keyCache
	from      uint64 // the cursor at New: batches submitted before it were announced to an earlier run

	run runState // owned by the follow loop: no lock

	mu     sync.Mutex // guards status only: never held across an L1 call
	status Status

	cancel context.CancelFunc
	wg     sync.WaitGroup
	done   chan struct{} // closed when Start's loop ends
}

// runState is what the follow loop works on; restore reads it back from the store.
type runState struct {
	cursor  uint64 // next L1 height to read
	exec    executor
	agreed  batchID
	changed []uint32       // accounts the agreed batch changed, written with the next save
	waiting []uint64       // status only
	seen    uint64         // last batch the event stream announced (checkHead; memory only)
	txs     []*challengeTx // challenge transactions not known to be used, by increasing nonce

	storedTxs int    // len(txs) at the last write
	upheld    int    // our challenges upheld in the block being handled
	rewards   uint64 // and their rewards
	lost      int    // our challenges rejected in the block being handled
	burned    uint64 // and their bonds
}

// batchID identifies a batch: its number and its submission height.
type batchID struct{ Number, SubmittedAt uint64 }

// KillPoint is a point of the handling of a fraud where Config.KillAt can end the run.
type KillPoint int

// Kill points, in the order a fraud meets them.
const (
	KillAfterDetect       KillPoint = iota + 1 // the proof is built and signed; nothing stored
	KillBeforeCursorWrite                      // the block is handled in memory; nothing stored
	KillAfterCursorWrite                       // the block's cursor and the challenge are stored, not sent
	KillAfterSend                              // the challenge is in the L1 mempool
	KillAfterUpheld                            // L1's upheld event for our challenge is handled in memory
)

// ErrKilled ends a run at a kill point (Config.KillAt).
var ErrKilled = errors.New("challenger: killed at an injected kill point")

func (c *Challenger) killed(p KillPoint) error {
	if c.cfg.KillAt != nil && c.cfg.KillAt(p) {
		return ErrKilled
	}
	return nil
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
	if cfg.Executor == "" {
		cfg.Executor = ExecutorCore
	}
	c := &Challenger{cfg: cfg, log: cfg.Logger, depth: int(r.Config.TreeDepth), l2ChainID: r.Config.L2ChainID,
		bond: r.Config.ChallengeBond, keys: newKeyCache(cfg.Source, cfg.RollupID), done: make(chan struct{})}
	c.guard = pebbleguard.New(cfg.Logger, func(err error) { c.setStatus(func(s *Status) { s.Fault = err }) })
	if c.db, err = pebble.Open(cfg.Dir, &pebble.Options{FS: cfg.FS, Logger: c.guard}); err != nil {
		return nil, fmt.Errorf("challenger: opening store %s: %w", cfg.Dir, err)
	}
	c.status.Executor = cfg.Executor
	if err := c.restore(); err != nil {
		return nil, errors.Join(err, c.db.Close())
	}
	c.from = c.run.cursor
	c.watchBond(ctx)
	return c, nil
}

// Stop ends the loop and closes the store. It is idempotent.
func (c *Challenger) Stop() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	if c.db == nil {
		return nil
	}
	var err error
	if c.run.exec != nil {
		err = c.run.exec.close()
		c.run.exec = nil
	}
	var f *pebbleguard.Fault
	if ferr := c.guard.Err(); errors.As(ferr, &f) && f.Wedged() {
		// pebble may hold its locks (a parked background goroutine, a failed WAL rotation):
		// Close could wait for ever, and the process is about to exit anyway.
		c.db = nil
		return errors.Join(err, fmt.Errorf("challenger: store left open: %w", ferr))
	}
	err = errors.Join(err, c.db.Close())
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

// Ready is nil while the challenger makes progress; otherwise it says why not (readiness).
func (c *Challenger) Ready() error {
	st := c.Status()
	switch {
	case st.Fault != nil:
		return fmt.Errorf("challenger halted: %w", st.Fault)
	case st.BondShort > 0:
		return fmt.Errorf("challenger cannot pay the challenge bond: L1 balance short by %d", st.BondShort)
	case st.Stuck():
		return fmt.Errorf("challenger stuck: %d failures in a row, last: %s", st.Failures, st.LastError)
	}
	return nil
}

// Done is closed when Start's loop has ended: after Stop, or on a storage fault (Status().Fault).
func (c *Challenger) Done() <-chan struct{} { return c.done }

func (c *Challenger) setStatus(f func(*Status)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f(&c.status)
}
