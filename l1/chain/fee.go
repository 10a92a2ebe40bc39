package chain

import (
	"fmt"
	"math/bits"
	"strings"
)

// Fees are the chain's transaction fees, fixed at genesis and stored in the state (docs/l1.md
// §5.1). Every transaction a block includes pays its Fee from the sender's balance, also when
// it fails after the envelope checks, and the fee is burned: a flat price of the block space
// spam takes, with no share of the value moved (a percentage fee is a business choice, not a
// defence). The zero value charges nothing (a genesis without fees).
type Fees struct {
	Base        uint64 // per transaction
	PerByte     uint64 // per byte of the raw signed transaction
	BatchPerKiB uint64 // on top, per started KiB of a submitted batch's data frame and trace
}

// IsZero reports whether the chain charges no fees.
func (f Fees) IsZero() bool { return f == Fees{} }

// Fee is the fee of a raw transaction of size bytes that carries batchData bytes of batch
// data and trace (0 for every type but SubmitBatch). A fee beyond 2^64−1 is ErrOverflow.
func (f Fees) Fee(size, batchData int) (uint64, error) {
	kib := (uint64(batchData) + 1023) / 1024
	hi1, perByte := bits.Mul64(f.PerByte, uint64(size))
	hi2, perKiB := bits.Mul64(f.BatchPerKiB, kib)
	sum, c1 := bits.Add64(f.Base, perByte, 0)
	sum, c2 := bits.Add64(sum, perKiB, 0)
	if hi1|hi2|c1|c2 != 0 {
		return 0, fmt.Errorf("%w: fee of a %d-byte transaction with %d bytes of batch data", ErrOverflow, size, batchData)
	}
	return sum, nil
}

// TxFee is the fee tx pays.
func (f Fees) TxFee(tx *DecodedTx) (uint64, error) {
	n := 0
	if p, ok := tx.payload.(*SubmitBatch); ok {
		n = len(p.Data) + 32*len(p.Trace)
	}
	return f.Fee(tx.Size, n)
}

// Value is what tx moves out of its sender's balance besides the fee when it applies: the
// amount of a transfer or a deposit. A sequencer's bond, locked by the batch, is not counted:
// it depends on the rollup's config at inclusion.
func (tx *DecodedTx) Value() uint64 {
	switch p := tx.payload.(type) {
	case *Transfer:
		return p.Amount
	case *Deposit:
		return p.Amount
	}
	return 0
}

// IsRollupOp reports whether tx operates a rollup (every type but a transfer and a rollup
// registration): the mempool keeps room for these (docs/l1.md §6).
func (tx *DecodedTx) IsRollupOp() bool { return tx.Type != TxTransfer && tx.Type != TxRegisterRollup }

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
