package chain

import (
	"errors"

	"github.com/ethereum/go-ethereum/common"
)

// bondForfeit is the error of a challenge the judge rejected (not fraud, malformed, another
// batch). The transaction rolls back like any failed one; applyTx then burns the bond
// (forfeitBond), so the rejection costs the challenger its bond and nothing else changes.
type bondForfeit struct {
	rollupID, batch, bond uint64
	err                   error
}

func (e *bondForfeit) Error() string { return e.err.Error() }
func (e *bondForfeit) Unwrap() error { return e.err }

func forfeit(rollupID, batch, bond uint64, err error) error {
	return &bondForfeit{rollupID: rollupID, batch: batch, bond: bond, err: err}
}

// forfeitBond runs after a failed transaction of from has been rolled back: if err is a rejected
// challenge, it burns the challenger's bond and records EventChallengeRejected (Amount: what was
// burned; the transaction's only event). The challenge took the bond before the judge ran, so
// from can pay it; should anything charged between the rollback and this (a fee) leave less,
// the balance is burned whole rather than the chain halted.
func (x *executor) forfeitBond(from common.Address, err error) error {
	var f *bondForfeit
	if !errors.As(err, &f) {
		return nil
	}
	acct, aerr := x.account(from)
	if aerr != nil {
		return aerr
	}
	burned := min(f.bond, acct.Balance)
	acct.Balance -= burned
	x.setAccount(from, &acct)
	if err := x.burn(burned); err != nil {
		return err
	}
	x.emit(Event{Kind: EventChallengeRejected, RollupID: f.rollupID, Number: f.batch, Amount: burned, Address: from})
	return nil
}
