package chain

import (
	"fmt"
	"math"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

var ErrReserves = l1api.ErrReserves

var ErrReservesInvariant = l1api.ErrReservesInvariant

type ReserveTotals = l1api.ReserveTotals

type Reserves = l1api.Reserves

// batchAmounts sums a batch's consumed deposits and committed withdrawals from its transactions.
func batchAmounts(txs []l2.Tx) (deposits, withdrawn uint64, err error) {
	for k := range txs {
		a := txs[k].Amount
		if txs[k].Type.ConsumesDeposit() {
			if deposits > math.MaxUint64-a {
				return 0, 0, fmt.Errorf("%w: batch deposits", ErrOverflow)
			}
			deposits += a
		}
		if txs[k].Type.PaysOut() {
			if withdrawn > math.MaxUint64-a {
				return 0, 0, fmt.Errorf("%w: batch withdrawals", ErrOverflow)
			}
			withdrawn += a
		}
	}
	return deposits, withdrawn, nil
}

// checkReserves refuses a batch whose withdrawals exceed the L2 supply at the head root plus its
// deposits, and records its amounts in rec. It changes nothing of r (submitBatch adds them once
// every check has passed).
func checkReserves(r *Rollup, rec *BatchRecord, txs []l2.Tx) error {
	dep, wd, err := batchAmounts(txs)
	if err != nil {
		return err
	}
	rec.DepositAmount, rec.WithdrawAmount = dep, wd
	if !r.Res.On {
		return nil
	}
	supply := r.Res.HeadDeposits - r.Res.HeadWithdrawn // ≥ 0: every accepted batch passed this check
	if r.Res.HeadDeposits > math.MaxUint64-dep {
		return fmt.Errorf("%w: rollup %d deposits", ErrOverflow, r.ID)
	}
	if wd > supply+dep {
		return fmt.Errorf("%w: batch %d commits withdrawals of %d, L2 holds %d at the head root plus %d deposited by the batch",
			ErrReserves, rec.Number, wd, supply, dep)
	}
	return nil
}

// reservesAccepted, reservesFinal and reservesReverted move a batch's amounts into the head
// totals at submission, into the final totals at finality, and out of the head totals at a revert.
func reservesAccepted(r *Rollup, b *BatchRecord) {
	r.Res.HeadDeposits += b.DepositAmount
	r.Res.HeadWithdrawn += b.WithdrawAmount
}

func reservesFinal(r *Rollup, b *BatchRecord) {
	r.Res.FinalDeposits += b.DepositAmount
	r.Res.FinalWithdrawn += b.WithdrawAmount
}

func reservesReverted(r *Rollup, b *BatchRecord) {
	r.Res.HeadDeposits -= b.DepositAmount
	r.Res.HeadWithdrawn -= b.WithdrawAmount
}

// Reserves returns rollup id's reserve figures with their derivation (ErrNotFound for an
// unknown rollup). A broken equation is reported in the figures (Holds false) and the error.
func (c *Chain) Reserves(id uint64) (*Reserves, error) {
	r, err := c.Rollup(id)
	if err != nil {
		return nil, err
	}
	return r.Reserves()
}
