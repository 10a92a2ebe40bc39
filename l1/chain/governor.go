package chain

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

type GovernorState = l1api.GovernorState

// maxEmptyWindows bounds the catch-up loop over windows without withdrawals: after this many
// halvings (EWMAShift ≥ 1) the baseline has decayed as far as it matters.
const maxEmptyWindows = 128

// ewma moves baseline 1/2^shift of the way to outflow. The baseline's share is rounded up so
// that empty windows decay it to zero instead of stalling at 2^shift − 1.
func ewma(baseline, outflow uint64, shift uint8) uint64 {
	dec := baseline >> shift
	if baseline&(1<<shift-1) != 0 {
		dec++
	}
	return baseline - dec + outflow>>shift
}

// roll closes the windows that ended before height.
func roll(g *GovernorState, cfg *GovernorConfig, height uint64) {
	w := height / cfg.WindowBlocks
	if w <= g.Window {
		return
	}
	shift := max(cfg.EWMAShift, 1)
	g.Baseline = ewma(g.Baseline, g.Outflow, shift)
	g.Windows++
	for i := g.Window + 1; i < w && i-g.Window < maxEmptyWindows; i++ {
		g.Baseline = ewma(g.Baseline, 0, shift)
		g.Windows++
	}
	g.Window, g.Outflow = w, 0
}

// delayReason returns why a withdrawal of amount must wait, or "" if it may be paid now.
func delayReason(g *GovernorState, cfg *GovernorConfig, amount uint64) string {
	if cfg.LargeWithdrawal > 0 && amount >= cfg.LargeWithdrawal {
		return "large"
	}
	if cfg.WindowBlocks == 0 {
		return ""
	}
	total := g.Outflow + amount
	if total < amount {
		total = math.MaxUint64
	}
	if cfg.WindowCap > 0 && total > cfg.WindowCap {
		return "window cap"
	}
	if cfg.AnomalyFactor > 0 && g.Windows >= cfg.WarmupWindows {
		hi, limit := bits.Mul64(cfg.AnomalyFactor, max(g.Baseline, 1))
		if hi == 0 && total > limit {
			return "anomaly"
		}
	}
	return ""
}

// withdraw pays amount from r's escrow to to, or queues it for DelayBlocks when the governor
// says so and returns the queued withdrawal. The caller stores r.
func (x *executor) withdraw(r *Rollup, to common.Address, amount uint64) (*DelayedWithdrawal, error) {
	cfg := &r.Config.Governor
	if cfg.WindowBlocks > 0 {
		roll(&r.Gov, cfg, x.height)
	}
	reason := delayReason(&r.Gov, cfg, amount)
	if reason == "" {
		if err := x.pay(r, to, amount); err != nil {
			return nil, err
		}
		r.Gov.Outflow += amount // ≤ escrow, cannot overflow
		x.emit(Event{Kind: EventWithdrawalPaid, RollupID: r.ID, Amount: amount, Address: to})
		return nil, nil
	}
	if cfg.DelayBlocks > math.MaxUint64-x.height {
		return nil, fmt.Errorf("%w: delay", ErrOverflow)
	}
	d := DelayedWithdrawal{ID: r.DelayedCount, Recipient: to, Amount: amount, ReleaseAt: x.height + cfg.DelayBlocks, Reason: reason}
	r.DelayedCount++
	r.DelayedPending++
	r.DelayedAmount += amount // ≤ escrow, cannot overflow
	x.o.putRLP(keyDelayed(r.ID, d.ID), &d)
	x.emit(Event{Kind: EventWithdrawalDelayed, RollupID: r.ID, Number: d.ID, Amount: amount, Address: to})
	return &d, nil
}

func (x *executor) releaseDelayed(p *ReleaseDelayed) error {
	r, err := x.rollup(p.RollupID)
	if err != nil {
		return err
	}
	if r.Paused {
		return fmt.Errorf("%w: %d", ErrPaused, r.ID)
	}
	var d DelayedWithdrawal
	if ok, err := x.load(keyDelayed(r.ID, p.ID), &d); err != nil {
		return err
	} else if !ok {
		return fmt.Errorf("%w: rollup %d id %d (%d queued so far)", ErrUnknownDelayed, r.ID, p.ID, r.DelayedCount)
	}
	if d.Released {
		return fmt.Errorf("%w: rollup %d id %d (%d to %s) was paid at height %d", ErrAlreadyReleased, r.ID, p.ID, d.Amount, d.Recipient.Hex(), d.ReleasedAt)
	}
	if x.height < d.ReleaseAt {
		return fmt.Errorf("%w: id %d releases at height %d, now %d", ErrNotDue, p.ID, d.ReleaseAt, x.height)
	}
	if err := x.pay(r, d.Recipient, d.Amount); err != nil {
		return err
	}
	d.Released, d.ReleasedAt = true, x.height // kept, so that a second release names what happened
	x.o.putRLP(keyDelayed(r.ID, p.ID), &d)
	r.DelayedPending--
	r.DelayedAmount -= d.Amount
	x.setRollup(r)
	x.emit(Event{Kind: EventWithdrawalPaid, RollupID: r.ID, Number: d.ID, Amount: d.Amount, Address: d.Recipient})
	return nil
}
