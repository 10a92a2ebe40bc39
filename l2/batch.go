package l2

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// DataHash is the batch data hash of docs §8.5: H over the 5·n words of the batch, in order.
// data must pass every structural check of docs §5.3.
func DataHash(data []byte) (fr.Element, error) {
	n, err := checkBatchSize(data)
	if err != nil {
		return fr.Element{}, err
	}
	var h fr.Element
	for i := range n {
		rec := data[i*TxSize : (i+1)*TxSize]
		if _, err := DecodeTx(rec); err != nil {
			return fr.Element{}, fmt.Errorf("record %d: %w", i, err)
		}
		for j := 0; j < 5; j++ {
			var w fr.Element
			w.SetBytes(rec[32*j : 32*j+32]) // canonical: checked by DecodeTx
			h = Compress(h, w)
		}
	}
	return h, nil
}

// DepositHash is the entry of one deposit in the L1 deposit queue (docs §8.4):
// H(pk.x, pk.y, amount).
func DepositHash(pk PublicKey, amount uint64) fr.Element {
	var a fr.Element
	a.SetUint64(amount)
	return HashMD(pk.X, pk.Y, a)
}

// NextDepositChain extends the deposit queue hash chain (docs §8.4): Compress(prev, d).
func NextDepositChain(prev fr.Element, d fr.Element) fr.Element {
	return Compress(prev, d)
}

// WithdrawalLeaf is the withdrawal tree leaf of an applied withdraw (docs §8.3):
// H(address, amount), the address read as a 160-bit big-endian integer.
func WithdrawalLeaf(addr [20]byte, amount uint64) fr.Element {
	var a, m fr.Element
	a.SetBytes(addr[:])
	m.SetUint64(amount)
	return HashMD(a, m)
}

// Commitment is the batch commitment of docs §8.6.
type Commitment struct {
	ChainID, BatchNumber          uint64
	PrevRoot, NewRoot             fr.Element
	DepositsBefore, DepositsAfter fr.Element // dq_before, dq_after
	WithdrawalRoot                fr.Element
	DataHash                      fr.Element
	TraceRoot                     fr.Element
	TxCount                       uint64
}

// Hash is commitment_hash (docs §8.6), the single public input of the validity circuit.
func (c *Commitment) Hash() fr.Element {
	var chainID, number, count fr.Element
	chainID.SetUint64(c.ChainID)
	number.SetUint64(c.BatchNumber)
	count.SetUint64(c.TxCount)
	return HashMD(TagCommit, chainID, number, c.PrevRoot, c.NewRoot, c.DepositsBefore,
		c.DepositsAfter, c.WithdrawalRoot, c.DataHash, c.TraceRoot, count)
}

// AppliedBatch is a batch whose transactions all applied (status ok), with its trace: what a
// commitment is computed from without executing (settlement takes the trace from the
// executor that built the blocks).
type AppliedBatch struct {
	ChainID, Number uint64
	PrevRoot        fr.Element // the root before the batch
	DepositsBefore  fr.Element // dq_before (docs §8.4)
	Data            []byte     // canonical batch data (docs §5.3)
	Trace           []fr.Element
}

// Commitment computes the batch commitment of docs §8.6 from b: the new root is the last trace
// entry, the trace root list_root(trace), the withdrawal root list_root of the withdrawal
// leaves (H(address, amount) for each withdraw and refund, 0 otherwise: every transaction
// applied), the deposit chain extended by each deposit and refund, and the data hash.
func (b *AppliedBatch) Commitment() (Commitment, error) {
	txs, err := DecodeBatch(b.Data)
	if err != nil {
		return Commitment{}, err
	}
	if len(txs) == 0 || len(txs) != len(b.Trace) {
		return Commitment{}, fmt.Errorf("l2: batch %d: %d transactions, %d trace entries", b.Number, len(txs), len(b.Trace))
	}
	dh, err := DataHash(b.Data)
	if err != nil {
		return Commitment{}, err
	}
	dq := b.DepositsBefore
	wleaves := make([]fr.Element, len(txs))
	for i := range txs {
		tx := &txs[i]
		if tx.Type.ConsumesDeposit() {
			dq = NextDepositChain(dq, DepositHash(tx.PubKey, tx.Amount))
		}
		if tx.Type.PaysOut() {
			wleaves[i] = WithdrawalLeaf(tx.Address, tx.Amount)
		}
	}
	return Commitment{ChainID: b.ChainID, BatchNumber: b.Number, PrevRoot: b.PrevRoot, NewRoot: b.Trace[len(b.Trace)-1],
		DepositsBefore: b.DepositsBefore, DepositsAfter: dq, WithdrawalRoot: ListRoot(wleaves), DataHash: dh,
		TraceRoot: ListRoot(b.Trace), TxCount: uint64(len(txs))}, nil
}
