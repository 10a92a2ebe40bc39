package challenger

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

// retryDelay is the pause before a new subscription after an error (the node restarting, a
// network error): short enough to keep well inside a challenge window.
const retryDelay = time.Second

// errResync ends a run after the store was reset to read the event log again from its start.
var errResync = errors.New("challenger: reading the event log again from its start")

// Start follows the event log in a goroutine until Stop. After an error it resumes from the
// cursor a second later; after a storage fault it halts (Done is closed, Status().Fault and Ready
// say why): pebble cannot write again in this process, and a restart on the same directory
// resumes from the last block written.
func (c *Challenger) Start(ctx context.Context) error {
	ctx, c.cancel = context.WithCancel(ctx)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(c.done)
		for {
			err := c.follow(ctx, forever)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, pebbleguard.ErrFault) || errors.Is(err, ErrKilled) {
				return // the guard logged the fault, once
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(retryDelay):
			}
		}
	}()
	return nil
}

// Step acts on the events from the cursor through the L1 head block as of the call, then sends
// the challenges not yet in a block (tests drive the challenger with it instead of Start).
func (c *Challenger) Step(ctx context.Context) error {
	st, err := c.cfg.Source.Status(ctx)
	if err != nil {
		c.note(err)
		return fmt.Errorf("challenger: L1 status: %w", err)
	}
	if st.Height == 0 { // blocks from 1 on have events, each ending with EventBlock
		return nil
	}
	return c.follow(ctx, st.Height)
}

// forever is the height follow never reaches.
const forever = math.MaxUint64

// follow is the follow loop of Start and Step: it reads the event log from the cursor and handles
// it block by block until an error or through the block at height until (forever: no end). It
// records the outcome in the status.
func (c *Challenger) follow(ctx context.Context, until uint64) error {
	for resynced := false; ; resynced = true {
		err := c.followOnce(ctx, until)
		if errors.Is(err, errResync) && !resynced {
			continue // once: L1 reverting agreed batches again and again is a failure to count
		}
		if ctx.Err() == nil && !errors.Is(err, ErrKilled) {
			c.note(err)
		}
		return err
	}
}

func (c *Challenger) followOnce(ctx context.Context, until uint64) error {
	if err := c.guard.Err(); err != nil {
		return err // halted: after a failed commit pebble's reads may show what never reached the disk
	}
	if c.run.exec == nil {
		if err := c.restore(); err != nil {
			return err
		}
	}
	if c.run.cursor > until {
		return c.afterBlock(ctx)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	evs, err := c.cfg.Source.Events(ctx, c.run.cursor)
	if err != nil {
		return fmt.Errorf("challenger: subscribing to the L1 event log from height %d: %w", c.run.cursor, err)
	}
	defer evs.Close()
	var block []l1api.Event
	for {
		ev, err := evs.Next()
		if err != nil {
			return fmt.Errorf("challenger: reading the L1 event log at height %d: %w", c.run.cursor, err)
		}
		if ev.Height < c.run.cursor {
			continue
		}
		block = append(block, ev)
		if ev.Kind != l1api.EventBlock {
			continue
		}
		if err := c.block(ctx, block); err != nil {
			return err
		}
		block = block[:0]
		c.note(nil)
		if ev.Height >= until {
			return nil
		}
	}
}

// stuckLogEvery: a stuck challenger says so again every stuckLogEvery failures (a minute at one a
// second), not at each; the metrics and readiness say it all along.
const stuckLogEvery = 60

// note records the outcome of a run (nil: a block handled) for Status, Ready and the metrics.
func (c *Challenger) note(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := &c.status
	if err == nil {
		if s.Failures >= stuckAfter {
			c.log.Info("challenger unstuck", "cursor", s.Cursor)
		}
		s.Failures = 0
		return
	}
	s.Failures++
	s.Errors++
	s.LastError = err.Error()
	if errors.Is(err, pebbleguard.ErrFault) {
		s.Fault = err // the guard has logged it
		return
	}
	switch {
	case s.Failures == stuckAfter || s.Failures%stuckLogEvery == 0:
		c.log.Error("challenger stuck: nobody is checking the rollup's batches", "failures", s.Failures, "err", err,
			"cursor", s.Cursor, "agreed", s.Agreed)
	case s.Failures < stuckAfter:
		c.log.Warn("challenger: following the L1 event log", "err", err, "failures", s.Failures)
	}
}

// block handles the events of one L1 block (ending with its EventBlock), then moves the cursor
// past it with the challenges signed on the way in one synced write, and sends them. On an error
// memory goes back to the store, and the block is read again.
func (c *Challenger) block(ctx context.Context, evs []l1api.Event) error {
	err := c.handleBlock(ctx, evs)
	if err == nil {
		if err = c.killed(KillBeforeCursorWrite); err != nil {
			return err
		}
		if err = c.save(evs[len(evs)-1].Height+1, false); err == nil {
			up, rewards, lost, burned := c.run.upheld, c.run.rewards, c.run.lost, c.run.burned
			c.run.upheld, c.run.rewards, c.run.lost, c.run.burned = 0, 0, 0, 0
			c.setStatus(func(s *Status) {
				s.Upheld, s.Rewards, s.BondReturned = s.Upheld+up, s.Rewards+rewards, s.BondReturned+uint64(up)*c.bond
				s.BondsLost, s.BondBurned = s.BondsLost+lost, s.BondBurned+burned
			})
			if err = c.killed(KillAfterCursorWrite); err != nil {
				return err
			}
			if err = c.afterBlock(ctx); err == nil {
				err = c.reopenIfDirty()
			}
			if err == nil {
				c.watchBond(ctx)
			}
		}
	}
	if err == nil || errors.Is(err, ErrKilled) || errors.Is(err, pebbleguard.ErrFault) {
		return err // a storage fault halts the challenger: its memory and store are not read again
	}
	if rerr := c.restore(); rerr != nil {
		return errors.Join(err, rerr)
	}
	return err
}

// handleBlock acts on the events of one block, then (with a ProvenSource) on the batches the
// proven rollup head shows the events withheld.
func (c *Challenger) handleBlock(ctx context.Context, evs []l1api.Event) error {
	height := evs[len(evs)-1].Height
	c.atLeast(height)
	for i := range evs {
		ev := &evs[i]
		if ev.RollupID != c.cfg.RollupID || ev.Kind == l1api.EventBlock {
			continue
		}
		var err error
		switch ev.Kind {
		case l1api.EventBatchSubmitted:
			c.run.seen = ev.Number
			if revertedIn(evs[i+1:], ev.Number) {
				c.log.Info("batch reverted in the block that submitted it", "batch", ev.Number, "height", ev.Height)
				continue
			}
			err = c.submitted(ctx, ev)
		case l1api.EventBatchReverted:
			if ev.Number > 0 {
				c.run.seen = min(c.run.seen, ev.Number-1)
			}
			err = c.reverted(ev)
		case l1api.EventBatchFinalized:
			err = c.finalized(ctx, ev)
		case l1api.EventChallengeUpheld:
			err = c.upheld(ev)
		case l1api.EventChallengeRejected:
			c.rejected(ev)
		}
		if err != nil {
			return err
		}
	}
	return c.checkHead(ctx, height)
}

// revertedIn reports whether evs (the rest of a block) revert batch n: an upheld challenge
// reverts the batch it proves and every later one, so any revert at or below n does.
func revertedIn(evs []l1api.Event, n uint64) bool {
	for i := range evs {
		if evs[i].Kind == l1api.EventBatchReverted && evs[i].Number <= n {
			return true
		}
	}
	return false
}

// reverted: L1 reverted batch n (a challenge was upheld against it or a batch before it).
func (c *Challenger) reverted(ev *l1api.Event) error {
	n := ev.Number
	if n <= c.run.agreed.Number {
		return c.resync(n)
	}
	c.dropWaiting(func(w uint64) bool { return w >= n })
	for _, tx := range c.run.txs {
		if tx.Live && tx.Batch >= n {
			tx.Live = false // done, whoever's challenge it was
		}
	}
	c.setStatus(func(s *Status) { s.Challenged = c.run.liveBatch() })
	return nil
}

// resync: L1 reverted a batch this challenger agreed with, so its judge upheld a proof against a
// batch that re-executes honestly by our rules. L1 decides the rollup's history: the agreed
// state is dropped and the event log read again from its start, where the reverted batch is
// skipped (its number is another batch's by then) and its repost checked.
func (c *Challenger) resync(n uint64) error {
	c.log.Error("L1 reverted a batch the challenger agreed with: reading the event log again from its start",
		"batch", n, "agreed", c.run.agreed.Number)
	b := c.db.NewBatch()
	defer b.Close()
	if err := b.DeleteRange(prefixAccount, upperBound(prefixAccount), nil); err != nil {
		return err
	}
	if err := b.Delete(keyAgreed, nil); err != nil {
		return err
	}
	if err := setRLP(b, keyCursor, &cursor{}); err != nil {
		return err
	}
	if err := c.guard.Commit(b, pebble.Sync); err != nil {
		return fmt.Errorf("challenger: resetting the store: %w", err)
	}
	c.run.seen = 0 // the log is read again from its start
	return errResync
}

// finalized: L1 finalized batch n. Normally the challenger agreed with it long before; if not, it
// built on a batch the challenger could not agree with (a fraud nobody proved in time, a batch it
// could not check), and L1's history is now the rollup's: the final batches are applied.
func (c *Challenger) finalized(ctx context.Context, ev *l1api.Event) error {
	n := ev.Number
	for _, tx := range c.run.txs {
		if tx.Live && tx.Batch <= n {
			tx.Live = false
			c.log.Error("batch finalized with our challenge unanswered", "batch", tx.Batch, "nonce", tx.Nonce)
		}
	}
	c.setStatus(func(s *Status) { s.Challenged = c.run.liveBatch() })
	for c.run.agreed.Number < n {
		if err := c.applyFinal(ctx, c.run.agreed.Number+1); err != nil {
			return err
		}
	}
	return nil
}

func (c *Challenger) upheld(ev *l1api.Event) error {
	if ev.Address != c.cfg.Key.Address() {
		return nil
	}
	c.run.upheld, c.run.rewards = c.run.upheld+1, c.run.rewards+ev.Amount // counted once the block is written
	c.log.Info("challenge upheld", "batch", ev.Number, "reward", ev.Amount)
	return c.killed(KillAfterUpheld)
}

func (c *Challenger) wait(n uint64, why string) {
	c.run.waiting = append(c.run.waiting, n)
	c.setStatus(func(s *Status) { s.Waiting = append([]uint64(nil), c.run.waiting...) })
	c.log.Info(why, "batch", n, "agreed", c.run.agreed.Number)
}

func (c *Challenger) dropWaiting(drop func(uint64) bool) {
	w := c.run.waiting[:0]
	for _, x := range c.run.waiting {
		if !drop(x) {
			w = append(w, x)
		}
	}
	c.run.waiting = w
	c.setStatus(func(s *Status) { s.Waiting = append([]uint64(nil), w...) })
}
