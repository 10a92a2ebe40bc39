package l2

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
)

// DataHash is the batch data hash of docs §8.5: H over the 5·n words of the batch's records,
// in order (the ML-DSA signatures are bound by their digests in w2, not hashed). data is batch
// data in its interleaved form (docs §5.4; without type 5/6 records, the records alone) and must
// pass every structural check of docs §5.3 and §5.4.
func DataHash(data []byte) (fr.Element, error) {
	txs, _, err := DecodeBatchData(data)
	if err != nil {
		return fr.Element{}, err
	}
	return TxsDataHash(txs), nil
}

// TxsDataHash is the data hash of docs §8.5 of decoded transactions: H over their 5·n words.
func TxsDataHash(txs []Tx) fr.Element {
	var h fr.Element
	for k := range txs {
		for _, w := range txs[k].Words() {
			h = Compress(h, w)
		}
	}
	return h
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
	Data            []byte     // canonical batch data, interleaved (docs §5.3, §5.4)
	Trace           []fr.Element
}

// Commitment computes the batch commitment of docs §8.6 from b: the new root is the last trace
// entry, the trace root list_root(trace), the withdrawal root list_root of the withdrawal
// leaves (WithdrawalLeaves: every transaction applied), the deposit chain extended by each
// deposit and refund, and the data hash.
func (b *AppliedBatch) Commitment() (Commitment, error) {
	txs, _, err := DecodeBatchData(b.Data)
	if err != nil {
		return Commitment{}, err
	}
	if len(txs) == 0 || len(txs) != len(b.Trace) {
		return Commitment{}, fmt.Errorf("l2: batch %d: %d transactions, %d trace entries", b.Number, len(txs), len(b.Trace))
	}
	return appliedCommitment(b.ChainID, b.Number, b.PrevRoot, b.DepositsBefore, txs, b.Trace), nil
}

// appliedCommitment is the §8.6 commitment of txs (at least one, every one with status ok)
// applied on prev with the given trace and dq_before: the one computation of a commitment from
// a trace, for a batch (AppliedBatch) and for each chunk of one (ChunkCommitments).
func appliedCommitment(chainID, number uint64, prev, dqBefore fr.Element, txs []Tx, trace []fr.Element) Commitment {
	dq := dqBefore
	for k := range txs {
		if txs[k].Type.ConsumesDeposit() {
			dq = NextDepositChain(dq, DepositHash(txs[k].PubKey, txs[k].Amount))
		}
	}
	return Commitment{ChainID: chainID, BatchNumber: number, PrevRoot: prev, NewRoot: trace[len(trace)-1],
		DepositsBefore: dqBefore, DepositsAfter: dq, WithdrawalRoot: ListRoot(WithdrawalLeaves(txs)), DataHash: TxsDataHash(txs),
		TraceRoot: ListRoot(trace), TxCount: uint64(len(txs))}
}
