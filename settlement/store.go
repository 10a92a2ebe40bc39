package settlement

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l2"
)

// prefixBatch keys the batch records: b/<number big-endian> -> RLP record.
const prefixBatch = "b/"

// wireCommitment is a commitment's stored form: field elements as canonical 32-byte words.
type wireCommitment struct {
	ChainID, BatchNumber                                                                  uint64
	PrevRoot, NewRoot, DepositsBefore, DepositsAfter, WithdrawalRoot, DataHash, TraceRoot [32]byte
	TxCount                                                                               uint64
}

func toWire(c *l2.Commitment) wireCommitment {
	return wireCommitment{ChainID: c.ChainID, BatchNumber: c.BatchNumber, PrevRoot: c.PrevRoot.Bytes(), NewRoot: c.NewRoot.Bytes(),
		DepositsBefore: c.DepositsBefore.Bytes(), DepositsAfter: c.DepositsAfter.Bytes(), WithdrawalRoot: c.WithdrawalRoot.Bytes(),
		DataHash: c.DataHash.Bytes(), TraceRoot: c.TraceRoot.Bytes(), TxCount: c.TxCount}
}

func (w *wireCommitment) commitment() (l2.Commitment, error) {
	c := l2.Commitment{ChainID: w.ChainID, BatchNumber: w.BatchNumber, TxCount: w.TxCount}
	for _, f := range []struct {
		src [32]byte
		dst *fr.Element
	}{{w.PrevRoot, &c.PrevRoot}, {w.NewRoot, &c.NewRoot}, {w.DepositsBefore, &c.DepositsBefore}, {w.DepositsAfter, &c.DepositsAfter},
		{w.WithdrawalRoot, &c.WithdrawalRoot}, {w.DataHash, &c.DataHash}, {w.TraceRoot, &c.TraceRoot}} {
		var err error
		if *f.dst, err = element(f.src); err != nil {
			return c, err
		}
	}
	return c, nil
}

// record is a batch as the engine stores it: the honest build, and the last posting.
type record struct {
	Number                                       uint64
	State, Mode                                  uint8
	StartBlock, StartOffset, EndBlock, EndOffset uint64
	Commitment                                   wireCommitment // as built (honest)
	Data                                         []byte         // raw batch data
	Trace                                        [][32]byte
	Posted                                       wireCommitment // as last posted (differs under a fault)
	TxHash                                       [32]byte
	TxNonce, TxHeight                            uint64
	Reverts                                      uint64
	LastError                                    string
	FaultPosted                                  bool
	Rejects                                      uint64 `rlp:"optional"` // records before it: 0
}

func newRecord(b *built, start, end Position) *record {
	r := &record{Number: b.Commitment.BatchNumber, StartBlock: start.Block, StartOffset: start.Offset, EndBlock: end.Block,
		EndOffset: end.Offset, Data: b.Data, Mode: uint8(ModeOptimistic), Commitment: toWire(&b.Commitment)}
	for k := range b.Trace {
		r.Trace = append(r.Trace, b.Trace[k].Bytes())
	}
	return r
}

func (r *record) built() (*built, error) {
	c, err := r.Commitment.commitment()
	if err != nil {
		return nil, err
	}
	b := &built{Commitment: c, Data: r.Data, Trace: make([]fr.Element, len(r.Trace))}
	for k := range r.Trace {
		if b.Trace[k], err = element(r.Trace[k]); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (r *record) posted() (l2.Commitment, error) { return r.Posted.commitment() }

func (r *record) ref() TxRef { return TxRef{Hash: r.TxHash, Nonce: r.TxNonce, Height: r.TxHeight} }

func batchKey(n uint64) []byte { return binary.BigEndian.AppendUint64([]byte(prefixBatch), n) }

// put stores r with a synced write, then publishes it: it replaces batch r.Number, or is the
// next batch. A batch is never sent before its record says so. A record that cannot be stored
// halts the engine (ErrStore): pebble takes no further writes after a failed commit.
func (e *Engine) put(r *record) error {
	b, err := rlp.EncodeToBytes(r)
	if err != nil {
		return e.halt(fmt.Errorf("encoding batch %d: %w", r.Number, err))
	}
	if err := e.guard.Do(func() error { return e.db.Set(batchKey(r.Number), b, pebble.Sync) }); err != nil {
		return e.halt(fmt.Errorf("%w: storing batch %d: %w", ErrStore, r.Number, err))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if n := r.Number; n <= uint64(len(e.recs)) {
		e.recs[n-1] = r
	} else {
		e.recs = append(e.recs, r)
	}
	return nil
}

func loadRecords(db *pebble.DB) ([]*record, error) {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixBatch), UpperBound: []byte("b0")})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var recs []*record
	for ok := it.First(); ok; ok = it.Next() {
		r := new(record)
		if err := rlp.DecodeBytes(it.Value(), r); err != nil {
			return nil, fmt.Errorf("settlement: corrupt batch record %x: %w", it.Key(), err)
		}
		if r.Number != uint64(len(recs))+1 {
			return nil, fmt.Errorf("settlement: batch record %d where %d was expected", r.Number, len(recs)+1)
		}
		recs = append(recs, r)
	}
	return recs, it.Error()
}
