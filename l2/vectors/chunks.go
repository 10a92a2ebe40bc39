package vectors

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// Chunking is a known answer of l2.ChunkCommitments (docs/protocol.md §8.8): a validity batch
// (its transactions, all with status ok, its trace and its commitment) cut in chunks of
// BatchSize transactions, and each chunk's commitment.
type Chunking struct {
	Name       string       `json:"name"`
	BatchSize  int          `json:"batch_size"`
	Txs        Bytes        `json:"txs"`
	Trace      []Element    `json:"trace"`
	Commitment Commitment   `json:"commitment"`
	Chunks     []Commitment `json:"chunks"`
}

// Commitment is a commitment of docs §8.6 with its commitment_hash.
type Commitment struct {
	ChainID        U64     `json:"chain_id"`
	BatchNumber    U64     `json:"batch_number"`
	PrevRoot       Element `json:"prev_root"`
	NewRoot        Element `json:"new_root"`
	DepositsBefore Element `json:"dq_before"`
	DepositsAfter  Element `json:"dq_after"`
	WithdrawalRoot Element `json:"withdrawal_root"`
	DataHash       Element `json:"data_hash"`
	TraceRoot      Element `json:"trace_root"`
	TxCount        U64     `json:"tx_count"`
	Hash           Element `json:"commitment_hash"`
}

// NewCommitment is the vectors form of c.
func NewCommitment(c *l2.Commitment) Commitment {
	return Commitment{ChainID: U64(c.ChainID), BatchNumber: U64(c.BatchNumber), PrevRoot: Element(c.PrevRoot),
		NewRoot: Element(c.NewRoot), DepositsBefore: Element(c.DepositsBefore), DepositsAfter: Element(c.DepositsAfter),
		WithdrawalRoot: Element(c.WithdrawalRoot), DataHash: Element(c.DataHash), TraceRoot: Element(c.TraceRoot),
		TxCount: U64(c.TxCount), Hash: Element(c.Hash())}
}

// L2 is the commitment without its hash.
func (c *Commitment) L2() l2.Commitment {
	return l2.Commitment{ChainID: uint64(c.ChainID), BatchNumber: uint64(c.BatchNumber), PrevRoot: fr.Element(c.PrevRoot),
		NewRoot: fr.Element(c.NewRoot), DepositsBefore: fr.Element(c.DepositsBefore), DepositsAfter: fr.Element(c.DepositsAfter),
		WithdrawalRoot: fr.Element(c.WithdrawalRoot), DataHash: fr.Element(c.DataHash), TraceRoot: fr.Element(c.TraceRoot),
		TxCount: uint64(c.TxCount)}
}

// chunkings builds one validity batch of 7 signed transactions (deposits in its first and
// fourth positions, transfers, withdraws) on a state with one account and a deposit chain that
// has one entry, and cuts it in chunks of 1, 2, 3 and 7 (one chunk: the batch's own commitment).
func (g *generator) chunkings() ([]Chunking, error) {
	const number = 9
	b := newCase("chunks", 8, chainID, true)
	k0, k1, k2 := g.keys[0], g.keys[1], g.keys[2]
	first := deposit(k0, 0, 1000)
	pre, err := l2.NewState(b.c.Depth)
	if err != nil {
		return nil, err
	}
	if st, _ := pre.Apply(&first, b.opts); st != l2.StatusOK {
		return nil, fmt.Errorf("vectors: chunks: pre-state deposit: %v", st)
	}
	dq := l2.NextDepositChain(fr.Element{}, l2.DepositHash(k0.Public(), 1000))
	txs := []l2.Tx{deposit(k1, 1, 500), b.transfer(k0, 0, 1, 40, 0), b.withdraw(k1, 1, 0x40, 25, 0),
		deposit(k2, 2, 70), b.transfer(k1, 1, 2, 15, 1), b.withdraw(k0, 0, 0x60, 100, 1), b.transfer(k2, 2, 0, 5, 0)}
	if b.err != nil {
		return nil, b.err
	}
	c := l2.Commitment{ChainID: chainID, BatchNumber: number, PrevRoot: pre.Root(), DepositsBefore: dq,
		TxCount: uint64(len(txs)), DataHash: l2.TxsDataHash(txs)}
	res := pre.ApplyBatch(txs, b.opts)
	for k, st := range res.Statuses {
		if st != l2.StatusOK {
			return nil, fmt.Errorf("vectors: chunks: transaction %d: %v", k, st)
		}
		if txs[k].Type.ConsumesDeposit() {
			dq = l2.NextDepositChain(dq, l2.DepositHash(txs[k].PubKey, txs[k].Amount))
		}
	}
	c.NewRoot, c.DepositsAfter, c.WithdrawalRoot, c.TraceRoot = res.FinalRoot, dq, res.WithdrawalRoot, res.TraceRoot
	trace := make([]Element, len(res.PostRoots))
	for k := range trace {
		trace[k] = Element(res.PostRoots[k])
	}
	var out []Chunking
	for _, size := range []int{1, 2, 3, 7} {
		chunks, err := l2.ChunkCommitments(&c, txs, res.PostRoots, size)
		if err != nil {
			return nil, err
		}
		v := Chunking{Name: fmt.Sprintf("7 transactions in chunks of %d", size), BatchSize: size,
			Txs: l2.EncodeBatch(txs), Trace: trace, Commitment: NewCommitment(&c)}
		for k := range chunks {
			v.Chunks = append(v.Chunks, NewCommitment(&chunks[k]))
		}
		out = append(out, v)
	}
	return out, nil
}
