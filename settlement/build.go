package settlement

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// pendingTx is a transaction of the stream read from its block and not in a batch yet.
type pendingTx struct {
	pos Position
	raw []byte
	// blockEnd is the block's post root when this is the block's last transaction: a batch
	// ending here must have it as its new root.
	blockEnd *[32]byte
	deposit  bool // it consumes an L1 deposit (a deposit or a refund)
}

// restore loads the batch records and re-executes their (honest) data to rebuild the L2 state.
func (e *Engine) restore() error {
	recs, err := loadRecords(e.db)
	if err != nil {
		return err
	}
	for _, r := range recs {
		b, err := r.built()
		if err != nil {
			return err
		}
		if err := e.execute(b.Data, &b.Commitment); err != nil {
			return fmt.Errorf("settlement: restoring batch %d: %w", r.Number, err)
		}
		e.next = Position{Block: r.EndBlock, Offset: r.EndOffset}
	}
	e.recs = recs
	return nil
}

// execute applies honest batch data to the engine's state and checks it gives c.
func (e *Engine) execute(data []byte, c *l2.Commitment) error {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return err
	}
	res := e.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	if res.Rejected > 0 || !res.FinalRoot.Equal(&c.NewRoot) {
		return fmt.Errorf("settlement: batch %d re-executes to another root", c.BatchNumber)
	}
	return nil
}

// ingest reads the sequencer's new blocks into the pending transactions and cuts batches. A
// block's transactions enter pending and the position moves past the block together, so a cut
// that fails leaves them pending once: the next step cuts them without reading the block again.
func (e *Engine) ingest(h TargetHead) error {
	if err := e.cutFull(); err != nil {
		return err
	}
	head := e.cfg.Blocks.Head().Number
	for e.next.Block <= head {
		b, err := e.cfg.Blocks.Block(e.next.Block)
		if err != nil {
			return fmt.Errorf("settlement: L2 block %d: %w", e.next.Block, err)
		}
		if b == nil {
			return fmt.Errorf("settlement: L2 block %d: the sequencer does not have it", e.next.Block)
		}
		n := uint64(len(b.Data) / l2.TxSize)
		if len(e.pending) == 0 && e.next.Offset < n {
			e.since = e.cfg.Now()
		}
		for k := e.next.Offset; k < n; k++ {
			raw := b.Data[k*l2.TxSize : (k+1)*l2.TxSize]
			p := pendingTx{pos: Position{b.Header.Number, k}, raw: raw, deposit: isDeposit(raw)}
			if k == n-1 {
				root := b.Header.PostRoot
				p.blockEnd = &root
			}
			e.pending = append(e.pending, p)
		}
		e.next = Position{Block: e.next.Block + 1}
		if err := e.cutFull(); err != nil {
			return err
		}
	}
	if len(e.pending) > 0 && (e.cfg.Now().Sub(e.since) >= e.cfg.MaxBatchAge || e.depositDue(h)) {
		return e.cut(len(e.pending))
	}
	return nil
}

// cutFull cuts full batches (of cutSize) while pending holds one.
func (e *Engine) cutFull() error {
	for n := e.cutSize(); len(e.pending) >= n; n = e.cutSize() {
		if err := e.cut(n); err != nil {
			return err
		}
	}
	return nil
}

// cut builds a batch of the first k pending transactions and stores its record; only then are
// the transactions taken out of pending. Every failure halts the engine: the sequencer's blocks
// do not re-execute as the sequencer says (a disagreement no retry fixes), or the record cannot
// be stored. The L2 state the build moved past the batch is dropped with it.
func (e *Engine) cut(k int) error {
	txs := e.pending[:k]
	data := make([]byte, 0, k*l2.TxSize)
	for _, p := range txs {
		data = append(data, p.raw...)
	}
	number := uint64(len(e.recs)) + 1
	if e.state == nil {
		st, err := e.stateBefore(number)
		if err != nil {
			return e.halt(fmt.Errorf("rebuilding the L2 state before batch %d: %w", number, err))
		}
		e.state = st
	}
	b, err := e.build(number, data)
	if err == nil {
		if end := txs[k-1].blockEnd; end != nil && b.Commitment.NewRoot.Bytes() != *end {
			err = fmt.Errorf("batch %d ends at block %d but its root differs from the block's", number, txs[k-1].pos.Block)
		}
	}
	if err != nil {
		e.state = nil
		return e.halt(err)
	}
	endPos := Position{txs[k-1].pos.Block, txs[k-1].pos.Offset + 1}
	if err := e.put(newRecord(b, txs[0].pos, endPos)); err != nil {
		e.state = nil
		return err
	}
	e.pending = append(e.pending[:0:0], e.pending[k:]...)
	e.since = e.cfg.Now()
	e.log.Info("batch built", "batch", number, "txs", k, "first_block", txs[0].pos.Block, "last_block", endPos.Block)
	return nil
}

// built is a batch as the engine builds it: honest commitment, data and trace.
type built struct {
	Commitment l2.Commitment
	Data       []byte
	Trace      []fr.Element
}

// build executes data on the engine's state (signatures were checked by the sequencer) and
// returns the batch with its commitment (docs/protocol.md §8). The state has moved past the
// batch even when it fails.
func (e *Engine) build(number uint64, data []byte) (*built, error) {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return nil, fmt.Errorf("settlement: batch %d: %w", number, err)
	}
	dh, err := l2.DataHash(data)
	if err != nil {
		return nil, err
	}
	prev := e.state.Root()
	var dqBefore fr.Element // dq[0] = 0
	if len(e.recs) > 0 {
		if dqBefore, err = element(e.recs[len(e.recs)-1].Commitment.DepositsAfter); err != nil {
			return nil, err
		}
	}
	dq := dqBefore
	for i := range txs {
		if txs[i].Type.ConsumesDeposit() {
			dq = l2.NextDepositChain(dq, l2.DepositHash(txs[i].PubKey, txs[i].Amount))
		}
	}
	res := e.state.ApplyBatch(txs, l2.ApplyOptions{ChainID: e.cfg.ChainID})
	if res.Rejected > 0 {
		return nil, fmt.Errorf("settlement: batch %d: %d transactions of the sequencer's blocks fail", number, res.Rejected)
	}
	return &built{Commitment: l2.Commitment{ChainID: e.cfg.ChainID, BatchNumber: number, PrevRoot: prev, NewRoot: res.FinalRoot,
		DepositsBefore: dqBefore, DepositsAfter: dq, WithdrawalRoot: res.WithdrawalRoot, DataHash: dh,
		TraceRoot: res.TraceRoot, TxCount: uint64(len(txs))}, Data: data, Trace: res.PostRoots}, nil
}
