package settlement

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// Lag is the settlement lag as of the last step, for the sequencer's admission
// (sequencer.SetLagSource) and metrics. It never waits for a step.
func (e *Engine) Lag() sequencer.Lag {
	if l := e.lag.Load(); l != nil {
		return *l
	}
	return sequencer.Lag{}
}

// The engine is the lag source of the sequencer's backpressure.
var _ sequencer.LagSource = (*Engine)(nil)

// publishLag counts the transactions read from the sequencer and not yet posted (pending or in
// built batches) and not yet final, with L1's height and the deadline of its oldest deposit no
// accepted batch consumes (h, from the target's head at the start of the step).
func (e *Engine) publishLag(h TargetHead) {
	l := sequencer.Lag{Unposted: uint64(len(e.pending)), L1Height: h.Height, DepositDeadline: h.DepositDeadline,
		HasDeposit: h.HasDeposit}
	for _, r := range e.recs {
		switch State(r.State) {
		case StateBuilt:
			l.Unposted += r.Commitment.TxCount
		case StateFinalized:
			continue
		}
		l.Unfinal += r.Commitment.TxCount
	}
	l.Unfinal += uint64(len(e.pending))
	if head := e.cfg.Blocks.Head().Number; head >= e.next.Block {
		l.Unposted++ // blocks not read yet: at least one transaction behind (the next step reads them)
		l.Unfinal++
	}
	e.lag.Store(&l)
}

// depositDue reports whether a pending transaction consumes an L1 deposit while the target's
// oldest deposit has spent half its forced-inclusion window (or the target does not say): the
// batch is then cut at once, without waiting MaxBatchAge, so that the deposit's clock runs out
// only if posting itself stalls (docs/settlement.md, Backpressure). Earlier, deposits wait for
// the batch like any transaction: cutting every deposit at once would make a batch per deposit.
func (e *Engine) depositDue(h TargetHead) bool {
	pending := false
	for i := range e.pending {
		if e.pending[i].deposit {
			pending = true
			break
		}
	}
	if !pending {
		return false
	}
	if !h.HasDeposit || h.DepositWindow == 0 {
		return true // the target's head predates the deposit or has no window: do not wait
	}
	return h.DepositDeadline <= h.Height+h.DepositWindow/2
}

// isDeposit reports whether raw (a 160-byte record the sequencer wrote) consumes a deposit: the
// type is byte 7 of w0 (docs/protocol.md §5.3).
func isDeposit(raw []byte) bool { return len(raw) == l2.TxSize && l2.TxType(raw[7]).ConsumesDeposit() }

// depositDeadline is the L1 height at which L1 refuses a batch that leaves the rollup's oldest
// unconsumed deposit (index consumed) unconsumed: its queueing height plus the window.
func (t *NativeTarget) depositDeadline(ctx context.Context, consumed, window uint64) (uint64, error) {
	d, err := t.l1.Deposit(ctx, t.rollupID, consumed)
	if err != nil {
		return 0, fmt.Errorf("settlement: L1 deposit %d: %w", consumed, err)
	}
	return d.Height + window, nil
}
