package l1api

import (
	"errors"
	"fmt"
)

// ErrReserves refuses a batch whose committed withdrawals exceed the L2 supply available to it:
// the supply at the head root plus the deposits the batch consumes (docs/l1.md, "Proof of
// reserves").
var ErrReserves = errors.New("batch withdraws more than L2 holds")

// ErrReservesInvariant is the fatal break of the reserves equation after a block.
var ErrReservesInvariant = errors.New("FATAL: reserves invariant violated")

// ReserveTotals are the running totals L1 keeps per rollup for proof of reserves, from data it
// verifies. Amounts of batches count at finality (Final*) and, for the submission check, at
// submission (Head*, taken back when a fraud proof reverts the batch).
type ReserveTotals struct {
	On             bool   // tracked since registration (rollups registered before have none)
	FinalDeposits  uint64 // deposit amounts consumed (deposits and refunds) by final batches
	FinalWithdrawn uint64 // withdrawal amounts committed (withdraws and refunds) by final batches
	HeadDeposits   uint64 // the same through the head batch, pending ones included
	HeadWithdrawn  uint64
	Claimed        uint64 // claims accepted: paid at once or queued by the governor
	ExodusPaid     uint64 // exodus payouts of L2 balances at the last final root
	ExodusRefunded uint64 // exodus refunds of deposits no final batch consumed
}

// Reserves are a rollup's reserve figures and the equation they satisfy after every block:
//
//	Escrow = Unconsumed + Supply + Unclaimed + Delayed
//
// Unconsumed = Deposited − FinalDeposits − ExodusRefunded (queued, not consumed by a final batch
// nor refunded), Supply = FinalDeposits − FinalWithdrawn − ExodusPaid (L2's balances at the last
// final root: L2 has no fees, only deposits add and withdraws remove), Unclaimed = FinalWithdrawn
// − Claimed, Delayed = the governor's delay queue (claimed, not released yet).
type Reserves struct {
	RollupID                                uint64
	On                                      bool // false: a rollup registered before tracking
	FinalNumber, HeadNumber                 uint64
	Escrow, Deposited, Paid                 uint64
	Unconsumed, Supply, Unclaimed, Delayed  uint64
	HeadSupply                              uint64 // L2's balances at the head root (pending batches included)
	Totals                                  ReserveTotals
	Holds                                   bool   // the equation holds (always, on a running chain)
	Derivation                              string // the equation with the figures
	DelayedPending, FinalConsumed, QueueLen uint64
}

// Reserves computes the rollup's reserve figures; err says what broke if the equation does not
// hold (a figure that would be negative, or the sum not the escrow).
func (r *Rollup) Reserves() (*Reserves, error) {
	t := r.Res
	v := &Reserves{RollupID: r.ID, On: t.On, FinalNumber: r.FinalNumber, HeadNumber: r.HeadNumber, Escrow: r.Escrow,
		Deposited: r.Deposited, Paid: r.Paid, Delayed: r.DelayedAmount, Totals: t, DelayedPending: r.DelayedPending,
		FinalConsumed: r.FinalConsumed, QueueLen: r.QueueLen}
	if !t.On {
		v.Derivation = "not tracked: the rollup was registered before proof of reserves"
		return v, nil
	}
	var err error
	sub := func(name string, a, b uint64) uint64 {
		if b > a {
			err = errors.Join(err, fmt.Errorf("%s negative (%d − %d)", name, a, b))
			return 0
		}
		return a - b
	}
	v.Unconsumed = sub("unconsumed deposits", sub("deposited − final deposits", r.Deposited, t.FinalDeposits), t.ExodusRefunded)
	v.Supply = sub("L2 supply", sub("final deposits − final withdrawals", t.FinalDeposits, t.FinalWithdrawn), t.ExodusPaid)
	v.Unclaimed = sub("unclaimed withdrawals", t.FinalWithdrawn, t.Claimed)
	v.HeadSupply = sub("head L2 supply", t.HeadDeposits, t.HeadWithdrawn)
	sum := v.Unconsumed + v.Supply + v.Unclaimed + v.Delayed // each ≤ its source total: no overflow below 2^64 each
	if err == nil && sum != r.Escrow {
		err = fmt.Errorf("escrow %d, figures sum to %d", r.Escrow, sum)
	}
	v.Holds = err == nil
	v.Derivation = fmt.Sprintf("escrow %d = unconsumed deposits %d (deposited %d − consumed by final batches %d − refunded by exodus %d)"+
		" + L2 supply at final batch %d %d (consumed %d − withdrawals committed %d − exodus payouts %d)"+
		" + unclaimed withdrawals %d (committed %d − claimed %d) + delay queue %d (%d withdrawals)",
		r.Escrow, v.Unconsumed, r.Deposited, t.FinalDeposits, t.ExodusRefunded, r.FinalNumber, v.Supply, t.FinalDeposits,
		t.FinalWithdrawn, t.ExodusPaid, v.Unclaimed, t.FinalWithdrawn, t.Claimed, v.Delayed, r.DelayedPending)
	if err != nil {
		return v, fmt.Errorf("%w: rollup %d: %w (%s)", ErrReservesInvariant, r.ID, err, v.Derivation)
	}
	return v, nil
}
