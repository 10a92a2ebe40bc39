package challenger

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

// ErrBondUnpaid: the challenger's L1 balance does not cover the rollup's challenge bond
// (l1api.RollupConfig.ChallengeBond), so L1 would refuse its challenge. Nothing is signed.
var ErrBondUnpaid = errors.New("challenger: L1 balance below the challenge bond")

// checkBond records in Status.BondShort how far balance is from paying the bond of pending
// challenges in flight plus one more; it returns what those bonds need, and ErrBondUnpaid if balance is short.
func (c *Challenger) checkBond(balance uint64, pending int) (uint64, error) {
	need, ok := c.recordBond(balance, pending)
	if ok {
		return need, nil
	}
	return need, fmt.Errorf("%w: %s has %d, %d challenge(s) need %d (bond %d of rollup %d)", ErrBondUnpaid,
		c.cfg.Key.Address(), balance, pending+1, need, c.bond, c.cfg.RollupID)
}

// recordBond sets Status.BondShort and logs when it changes between zero and not; it returns
// what pending+1 challenges need and whether balance covers it.
func (c *Challenger) recordBond(balance uint64, pending int) (uint64, bool) {
	need := c.bond
	if n := uint64(pending) + 1; c.bond > 0 && n > math.MaxUint64/c.bond {
		need = math.MaxUint64
	} else {
		need *= n
	}
	var short uint64
	if balance < need {
		short = need - balance
	}
	var was uint64
	c.setStatus(func(s *Status) { was, s.BondShort = s.BondShort, short })
	switch {
	case short == 0 && was > 0:
		c.log.Info("challenger can pay the challenge bond again", "balance", balance, "bond", c.bond)
	case short > 0 && was == 0:
		c.log.Error("challenger cannot pay the challenge bond: fund its L1 key", "address", c.cfg.Key.Address(),
			"balance", balance, "needs", need, "bond", c.bond, "in_flight", pending)
	}
	return need, short == 0
}

// watchBond reads the challenger's balance after each block when the rollup asks for a bond, so
// that readiness says a challenge could not be paid before any fraud needs one. A failed read is
// logged and leaves the status as it was: the next block reads again.
func (c *Challenger) watchBond(ctx context.Context) {
	if c.bond == 0 {
		return
	}
	acct, err := c.cfg.Source.Account(ctx, c.cfg.Key.Address())
	if err != nil {
		c.log.Warn("challenger: reading its L1 balance for the challenge bond", "err", err)
		return
	}
	c.recordBond(acct.Balance, len(c.run.txs))
}

// rejected: L1's judge rejected a challenge; if it was ours, its bond was burned.
func (c *Challenger) rejected(ev *l1api.Event) {
	if ev.Address != c.cfg.Key.Address() {
		return
	}
	c.run.lost, c.run.burned = c.run.lost+1, c.run.burned+ev.Amount // counted once the block is written
	c.log.Error("challenge of ours rejected by L1: bond burned", "batch", ev.Number, "bond", ev.Amount)
}
