package settlement

import (
	"encoding/binary"
	"errors"
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
	Data                                         []byte         // the batch's records
	Trace                                        [][32]byte
	Posted                                       wireCommitment // as last posted (differs under a fault)
	TxHash                                       [32]byte
	TxNonce, TxHeight                            uint64
	Reverts                                      uint64
	LastError                                    string
	FaultPosted                                  bool
	Rejects                                      uint64 `rlp:"optional"` // records before it: 0
	// Sigs holds the signature of each type 5/6 record of Data and an empty one for the others
	// (rlp has no nil); empty when the batch has none (records before it: always).
	Sigs [][]byte `rlp:"optional"`
}

func newRecord(b *built, start, end Position) *record {
	r := &record{Number: b.Commitment.BatchNumber, StartBlock: start.Block, StartOffset: start.Offset, EndBlock: end.Block,
		EndOffset: end.Offset, Data: b.Data, Mode: uint8(ModeOptimistic), Commitment: toWire(&b.Commitment)}
	if b.Sigs != nil {
		r.Sigs = make([][]byte, len(b.Sigs))
		for k, sig := range b.Sigs {
			r.Sigs[k] = append([]byte{}, sig...) // never nil: rlp decodes an empty one as empty
		}
	}
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
	if len(r.Sigs) > 0 {
		b.Sigs = make([][]byte, len(r.Sigs))
		for k, sig := range r.Sigs {
			if len(sig) > 0 {
				b.Sigs[k] = sig
			}
		}
	}
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
	if i := r.Number - e.last.Number - 1; i < uint64(len(e.recs)) {
		e.recs[i] = r
	} else {
		e.recs = append(e.recs, r)
	}
	e.publish(nil)
	return nil
}

// rec is batch n's record while it is not final (nil otherwise).
func (e *Engine) rec(n uint64) *record {
	if n <= e.last.Number || n-e.last.Number > uint64(len(e.recs)) {
		return nil
	}
	return e.recs[n-e.last.Number-1]
}

// keySummary holds the summary of the last final batch (FinalSummary, RLP).
var keySummary = []byte("s/final")

// FinalSummary is what the engine keeps of its final batches once their records are pruned:
// the last one's number, root, deposit chain and stream end, and counts over all of them.
type FinalSummary struct {
	Number         uint64   // the last final batch (0: none)
	Root           [32]byte // its new root (the genesis root while Number is 0)
	DepositsAfter  [32]byte // its dq_after
	EndBlock       uint64   // the stream position after it: Position{EndBlock, EndOffset}
	EndOffset      uint64
	Consumed       uint64 // L1 deposits consumed (deposits and refunds) by the final batches
	Txs            uint64 // transactions in the final batches
	Reverts        uint64 // reverts of the final batches, summed
	Rejects        uint64
	FaultsInjected uint64 // final batches a fault was injected into (one posting each)
}

// End is the stream position after the last final batch.
func (s *FinalSummary) End() Position { return Position{s.EndBlock, s.EndOffset} }

// finalize prunes batch r, the oldest not final, now final on the target: one synced write
// deletes its record and stores the summary it folds into; then it leaves memory.
func (e *Engine) finalize(r *record) error {
	if r.Number != e.last.Number+1 {
		return e.halt(fmt.Errorf("batch %d final before batch %d", r.Number, e.last.Number+1))
	}
	sum := fold(e.last, r)
	enc, err := rlp.EncodeToBytes(&sum)
	if err != nil {
		return e.halt(fmt.Errorf("encoding the final summary: %w", err))
	}
	b := e.db.NewBatch()
	if err := errors.Join(b.Delete(batchKey(r.Number), nil), b.Set(keySummary, enc, nil)); err != nil {
		return e.halt(errors.Join(fmt.Errorf("pruning batch %d: %w", r.Number, err), b.Close()))
	}
	if err := errors.Join(e.guard.Commit(b, pebble.Sync), b.Close()); err != nil {
		return e.halt(fmt.Errorf("%w: pruning final batch %d: %w", ErrStore, r.Number, err))
	}
	e.last = sum
	e.recs = e.recs[1:]
	if cap(e.recs) > 2*len(e.recs)+64 { // give the pruned prefix back
		e.recs = append([]*record(nil), e.recs...)
	}
	fin := *r
	fin.State = uint8(StateFinalized)
	e.publish(&fin)
	e.log.Info("batch state changed", "batch", r.Number, "state", StateFinalized.String())
	return nil
}

// fold is s with final batch r added.
func fold(s FinalSummary, r *record) FinalSummary {
	s.Number, s.Root, s.DepositsAfter = r.Number, r.Commitment.NewRoot, r.Commitment.DepositsAfter
	s.EndBlock, s.EndOffset = r.EndBlock, r.EndOffset
	for k := 0; k+l2.TxSize <= len(r.Data); k += l2.TxSize {
		if isDeposit(r.Data[k : k+l2.TxSize]) {
			s.Consumed++
		}
	}
	s.Txs += r.Commitment.TxCount
	s.Reverts, s.Rejects = s.Reverts+r.Reverts, s.Rejects+r.Rejects
	if r.FaultPosted {
		s.FaultsInjected++
	}
	return s
}

// loadState reads the final summary and the records of the batches not final (records of
// final batches left by an engine that did not prune are folded into the summary and deleted).
func (e *Engine) loadState() error {
	v, c, err := e.db.Get(keySummary)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		e.last = FinalSummary{Root: e.genesis.Bytes(), EndBlock: 1}
	case err != nil:
		return err
	default:
		err = rlp.DecodeBytes(v, &e.last)
		if err = errors.Join(err, c.Close()); err != nil {
			return fmt.Errorf("settlement: corrupt final summary: %w", err)
		}
	}
	recs, err := loadRecords(e.db, e.last.Number)
	if err != nil {
		return err
	}
	e.recs = recs
	for len(e.recs) > 0 && State(e.recs[0].State) == StateFinalized {
		if err := e.finalize(e.recs[0]); err != nil {
			return err
		}
	}
	return nil
}

func loadRecords(db *pebble.DB, final uint64) ([]*record, error) {
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
		if want := final + uint64(len(recs)) + 1; r.Number != want {
			return nil, fmt.Errorf("settlement: batch record %d where %d was expected", r.Number, want)
		}
		recs = append(recs, r)
	}
	return recs, it.Error()
}
