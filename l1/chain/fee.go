package chain

import (
	"fmt"
	"math/bits"
	"strings"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

type Fees = l1api.Fees

// chargeFee takes the fee from acct (the sender's, stored by the caller) and burns it.
func (x *executor) chargeFee(tx *DecodedTx, acct *Account) error {
	fee, err := x.c.fees.TxFee(tx)
	if err != nil {
		return err
	}
	if acct.Balance < fee {
		return fmt.Errorf("%w: %s has %d, the fee is %d", ErrInsufficientFunds, tx.Sender, acct.Balance, fee)
	}
	acct.Balance -= fee
	return x.burn(fee)
}

// burn takes amount out of the supply: the caller has already debited it from a balance (a
// fee) or from the locked bonds, and Global.Burned counts it for the supply invariant.
func (x *executor) burn(amount uint64) error {
	if amount == 0 {
		return nil
	}
	g, err := x.global()
	if err != nil {
		return err
	}
	if g.Burned > g.Burned+amount {
		return fatal(fmt.Errorf("%w: burned total", ErrOverflow))
	}
	g.Burned += amount
	x.o.putRLP(keyGlobal(), &g)
	return nil
}

// checkSupply checks the supply invariant after the block: value only moved between balances,
// escrows, locked bonds and the burned total, so their sum over every state entry the block
// wrote is the same before and after it (and so equals the genesis allocation). A violation is
// fatal, like the escrow invariant's.
func (x *executor) checkSupply() error {
	var before, after u128
	for k, e := range x.o.block { // sums commute: the order does not matter
		old, existed, err := dbGet(x.o.db, []byte(k))
		if err != nil {
			return fatal(err)
		}
		if existed {
			v, err := supplyOf(k, old)
			if err != nil {
				return fatal(err)
			}
			before.plus(v)
		}
		if !e.deleted {
			v, err := supplyOf(k, e.value)
			if err != nil {
				return fatal(err)
			}
			after.plus(v)
		}
	}
	if before != after {
		return fatal(fmt.Errorf("%w: block %d changes the supply (%d:%d before, %d:%d after)",
			ErrSupplyInvariant, x.height, before.hi, before.lo, after.hi, after.lo))
	}
	return nil
}

// supplyOf is the part of the supply a state entry holds.
func supplyOf(key string, value []byte) (u128, error) {
	var v u128
	switch {
	case strings.HasPrefix(key, prefixState+"acct/"):
		var a Account
		if err := decodeEntry(key, value, &a); err != nil {
			return v, err
		}
		v.add(a.Balance)
	case strings.HasPrefix(key, prefixState+"rollup/"):
		var r Rollup
		if err := decodeEntry(key, value, &r); err != nil {
			return v, err
		}
		v.add(r.Escrow)
	case key == keyGlobal():
		var g Global
		if err := decodeEntry(key, value, &g); err != nil {
			return v, err
		}
		v.add(g.Bonded)
		v.add(g.Burned)
	}
	return v, nil
}

// u128 sums u64 amounts without overflow.
type u128 struct{ hi, lo uint64 }

func (s *u128) add(v uint64) {
	var c uint64
	s.lo, c = bits.Add64(s.lo, v, 0)
	s.hi += c
}

func (s *u128) plus(o u128) {
	s.add(o.lo)
	s.hi += o.hi
}
