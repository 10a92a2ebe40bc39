package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// DefaultCrossCheckQueue is how many built batches the cross-check holds before it skips.
const DefaultCrossCheckQueue = 16

// ErrCrossCheck: the Go reference re-executing a built batch does not give the trace the
// sequencer's executor recorded. The engine halts: the batch may already be on L1, where a
// challenger would prove it.
var ErrCrossCheck = errors.New("settlement cross-check: the Go reference disagrees with the sequencer's trace")

// CrossCheckStatus is the asynchronous cross-check's progress (Engine.CrossCheck).
type CrossCheckStatus struct {
	On      bool
	Checked uint64 // the last batch checked (0: none)
	Lag     uint64 // batches built and not checked yet (queued, or skipped since the last check)
	Skipped uint64 // batches never checked: the queue was full (it skips ahead rather than hold up a cut)
	// Executed counts the transactions the Go reference executed (checks and rebuilt states).
	Executed uint64
}

// checkJob is a built batch for the cross-check: its data, trace and stream range.
type checkJob struct {
	number     uint64
	start, end Position
	data       []byte   // records
	sigs       [][]byte // of each type 5/6 record (nil: none in the batch)
	trace      []fr.Element
	pos        []Position // of each transaction
}

// crossCheck re-executes built batches with the Go reference l2.State behind the hot path. It
// keeps a state at the end of the last batch it checked; a batch that does not start there
// (the first after a restart, or after batches it skipped) gets a state from the sequencer's
// snapshots (BlockSource.ReferenceState) and the blocks after it, never a genesis replay of
// the engine's records.
type crossCheck struct {
	src     BlockSource
	keys    l2.KeyBook                      // Config.Keys: the ML-DSA signatures are verified when it knows the key
	pks     map[fr.Element]*pqkey.PublicKey // parsed keys by hash, at most maxCheckKeys (the checker's only)
	chainID uint64
	log     *slog.Logger
	fail    func(error) // halts the engine

	queue   chan *checkJob
	state   *l2.State // at the end of batch last (nil: none)
	at      Position
	built   atomic.Uint64 // the last batch offered
	checked atomic.Uint64
	skipped atomic.Uint64
	txs     atomic.Uint64 // transactions executed with the Go reference, resynchronisations included
	wg      sync.WaitGroup
	ctx     context.Context // ends a state rebuild at Stop
}

func newCrossCheck(src BlockSource, keys l2.KeyBook, chainID uint64, size int, log *slog.Logger, fail func(error)) *crossCheck {
	return &crossCheck{src: src, keys: keys, chainID: chainID, log: log, fail: fail, queue: make(chan *checkJob, size),
		pks: make(map[fr.Element]*pqkey.PublicKey)}
}

// offer queues j without blocking: with the queue full, j is skipped (counted) and the check
// resumes from a snapshot at a later batch.
func (c *crossCheck) offer(j *checkJob) {
	c.built.Store(j.number)
	select {
	case c.queue <- j:
	default:
		c.skipped.Add(1)
	}
}

func (c *crossCheck) run(ctx context.Context) {
	c.ctx = ctx
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case j := <-c.queue:
				if err := c.check(j); err != nil {
					c.fail(err)
					return
				}
			}
		}
	}()
}

func (c *crossCheck) status() CrossCheckStatus {
	st := CrossCheckStatus{On: true, Checked: c.checked.Load(), Skipped: c.skipped.Load(), Executed: c.txs.Load()}
	if b := c.built.Load(); b > st.Checked {
		st.Lag = b - st.Checked
	}
	return st
}

// check re-executes j and compares each post root with its trace entry.
func (c *crossCheck) check(j *checkJob) error {
	if c.state == nil || c.at != j.start {
		st, err := c.stateAt(j.start)
		if err != nil {
			// Not a disagreement: the batch stays unchecked, and so does every batch until one
			// starts where a state can be had.
			c.log.Warn("cross-check skips a batch: no reference state at its start", "batch", j.number, "err", err)
			c.state = nil
			c.skipped.Add(1)
			return nil
		}
		c.state, c.at = st, j.start
	}
	txs, err := l2.DecodeBatch(j.data)
	if err != nil {
		return fmt.Errorf("%w: batch %d: %w", ErrCrossCheck, j.number, err)
	}
	res := c.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: c.chainID})
	c.txs.Add(uint64(len(txs)))
	for k := range txs {
		p := j.pos[k]
		if res.Statuses[k] != l2.StatusOK {
			c.state = nil
			return fmt.Errorf("%w: batch %d: transaction %d (L2 block %d, transaction %d) fails with %s", ErrCrossCheck, j.number, k,
				p.Block, p.Offset, res.Statuses[k])
		}
		if !res.PostRoots[k].Equal(&j.trace[k]) {
			c.state = nil
			got, want := j.trace[k].Bytes(), res.PostRoots[k].Bytes()
			return fmt.Errorf("%w: batch %d: trace entry %d (L2 block %d, transaction %d) is %x, the Go reference gives %x", ErrCrossCheck,
				j.number, k, p.Block, p.Offset, got, want)
		}
	}
	if err := c.checkMLDSA(j, txs); err != nil {
		c.state = nil
		return err
	}
	c.at = j.end
	c.checked.Store(j.number)
	return nil
}

// maxCheckKeys bounds the cross-check's parsed ML-DSA keys (≈37 KB each).
const maxCheckKeys = 1024

// key returns the parsed ML-DSA key of hash kh (nil: Config.Keys does not know it), decoding it
// once (decoding costs ≈2× a verification).
func (c *crossCheck) key(kh fr.Element) (*pqkey.PublicKey, error) {
	if pk := c.pks[kh]; pk != nil {
		return pk, nil
	}
	pub, ok := c.keys.MLDSAKey(kh)
	if !ok {
		return nil, nil
	}
	pk, err := pqkey.ParsePublicKey(pub)
	if err != nil {
		return nil, err
	}
	if len(c.pks) >= maxCheckKeys {
		for x := range c.pks {
			delete(c.pks, x)
			break
		}
	}
	c.pks[kh] = pk
	return pk, nil
}

// checkMLDSA verifies the ML-DSA-65 signature of each type 5/6 of j (txs, executed on c.state:
// the sender's account holds its key hash) under the key Config.Keys gives; one it does not
// know is logged and left unverified, never a disagreement (the sequencer verified it at
// admission). A signature that does not verify is: the batch would be proven a fraud on L1.
func (c *crossCheck) checkMLDSA(j *checkJob, txs []l2.Tx) error {
	if j.sigs == nil || c.keys == nil {
		return nil
	}
	unknown := 0
	for k := range txs {
		if j.sigs[k] == nil {
			continue
		}
		acc, _ := c.state.Account(txs[k].From)
		pk, err := c.key(acc.PubKey.Y)
		if pk == nil && err == nil {
			unknown++
			continue
		}
		if err == nil {
			err = l2.VerifyMLDSAKey(pk, c.chainID, &txs[k], j.sigs[k])
		}
		if err != nil {
			p := j.pos[k]
			return fmt.Errorf("%w: batch %d: transaction %d (L2 block %d, transaction %d): %w", ErrCrossCheck, j.number, k, p.Block, p.Offset, err)
		}
	}
	if unknown > 0 {
		c.log.Warn("cross-check: ML-DSA signatures not verified: key not known", "batch", j.number, "count", unknown)
	}
	return nil
}

// stateAt is the Go reference state at stream position p (referenceStateAt).
func (c *crossCheck) stateAt(p Position) (*l2.State, error) {
	st, executed, err := referenceStateAt(c.ctx, c.src, c.chainID, p)
	c.txs.Add(executed)
	c.log.Info("cross-check state rebuilt from the sequencer's snapshot", "block", p.Block, "offset", p.Offset, "executed_txs", executed, "err", err)
	return st, err
}

// referenceStateAt is the Go reference state at stream position p: the sequencer's state at the
// end of block p.Block-1 (BlockSource.ReferenceState: its newest snapshot at or below, then the
// blocks after it), then p.Offset transactions of block p.Block. executed counts the
// transactions it executed beyond the snapshot.
func referenceStateAt(ctx context.Context, src BlockSource, chainID uint64, p Position) (st *l2.State, executed uint64, err error) {
	st, replayed, err := src.ReferenceState(ctx, p.Block-1)
	if err != nil || p.Offset == 0 {
		return st, replayed, err
	}
	b, err := src.Block(p.Block)
	if err != nil {
		return nil, replayed, err
	}
	if b == nil || uint64(len(b.Data)) < p.Offset*l2.TxSize {
		return nil, replayed, fmt.Errorf("settlement: L2 block %d: no transaction %d", p.Block, p.Offset)
	}
	txs, err := l2.DecodeBatch(b.Data[:p.Offset*l2.TxSize])
	if err != nil {
		return nil, replayed, err
	}
	st.ApplyBatch(txs, l2.ApplyOptions{ChainID: chainID})
	return st, replayed + uint64(len(txs)), nil
}
