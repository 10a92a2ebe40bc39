package l1api

import (
	"fmt"
	"math/bits"
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
