package settlement

import (
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// pendingTx is a transaction of the stream read from its block and not in a batch yet.
type pendingTx struct {
	pos  Position
	raw  []byte
	sig  []byte   // its ML-DSA-65 signature (types 5, 6), else nil
	post [32]byte // its trace entry: the state root after it, as the sequencer's executor computed it
	// blockEnd is the block's post root when this is the block's last transaction: a batch
	// ending here must have it as its new root.
	blockEnd *[32]byte
	deposit  bool // it consumes an L1 deposit (a deposit or a refund)
}

// restore loads the final summary and the records of the batches not final, and the stream
// position after the last batch: nothing is executed (a batch's trace is in its record), and
// nothing of the final batches but their summary is read.
func (e *Engine) restore() error {
	if err := e.loadState(); err != nil {
		return err
	}
	e.next = e.last.End()
	if n := len(e.recs); n > 0 {
		e.next = Position{Block: e.recs[n-1].EndBlock, Offset: e.recs[n-1].EndOffset}
	}
	e.publish(nil)
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
		if uint64(len(b.Trace)) != 32*n {
			// No retry fixes it: a block stored before the sequencer kept traces.
			return e.halt(fmt.Errorf("L2 block %d has no trace (stored by an older sequencer): settle its batches with that release first", b.Header.Number))
		}
		if len(e.pending) == 0 && e.next.Offset < n {
			e.since = e.cfg.Now()
		}
		for k := e.next.Offset; k < n; k++ {
			raw := b.Data[k*l2.TxSize : (k+1)*l2.TxSize]
			p := pendingTx{pos: Position{b.Header.Number, k}, raw: raw, sig: b.Sig(int(k)), post: b.PostRoot(int(k)), deposit: isDeposit(raw)}
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
		return e.cut(e.batchEnd())
	}
	return nil
}

// cutFull cuts full batches while pending holds one: cutSize transactions, or fewer when
// l2.MaxBatchMLDSATxs ML-DSA transactions fill it first (batchEnd).
func (e *Engine) cutFull() error {
	for {
		n, k := e.cutSize(), e.batchEnd()
		if len(e.pending) < n && k == len(e.pending) {
			return nil
		}
		if err := e.cut(k); err != nil {
			return err
		}
	}
}

// batchEnd is how many pending transactions the next batch takes at most: cutSize, and no more
// than l2.MaxBatchMLDSATxs of types 5/6 (docs/protocol.md §3: L1 refuses a batch with more).
func (e *Engine) batchEnd() int {
	n, pq := min(e.cutSize(), len(e.pending)), 0
	for i := range n {
		if e.pending[i].sig == nil {
			continue
		}
		if pq++; pq > l2.MaxBatchMLDSATxs {
			return i
		}
	}
	return n
}

// cut builds a batch of the first k pending transactions and stores its record; only then are
// the transactions taken out of pending. Every failure halts the engine: the sequencer's blocks
// do not give a batch (a disagreement no retry fixes), or the record cannot be stored.
func (e *Engine) cut(k int) error {
	txs := e.pending[:k]
	data := make([]byte, 0, k*l2.TxSize)
	trace := make([]fr.Element, k)
	var sigs [][]byte // nil while no transaction is of type 5/6
	for i, p := range txs {
		data = append(data, p.raw...)
		if p.sig != nil && sigs == nil {
			sigs = make([][]byte, k)
		}
		if sigs != nil {
			sigs[i] = p.sig
		}
		if err := trace[i].SetBytesCanonical(p.post[:]); err != nil {
			return e.halt(fmt.Errorf("L2 block %d transaction %d: trace entry: %w", p.pos.Block, p.pos.Offset, err))
		}
	}
	number := e.nextNumber()
	b, err := e.build(number, data, sigs, trace)
	if err == nil {
		if end := txs[k-1].blockEnd; end != nil && b.Commitment.NewRoot.Bytes() != *end {
			err = fmt.Errorf("batch %d ends at block %d but its root differs from the block's", number, txs[k-1].pos.Block)
		}
	}
	if err != nil {
		return e.halt(err)
	}
	endPos := Position{txs[k-1].pos.Block, txs[k-1].pos.Offset + 1}
	if txs[k-1].blockEnd != nil {
		endPos = Position{Block: endPos.Block + 1} // the block is wholly in batches: End.Block-1 is the last
	}
	if err := e.put(newRecord(b, txs[0].pos, endPos)); err != nil {
		return err
	}
	if e.check != nil {
		j := &checkJob{number: number, start: txs[0].pos, end: endPos, data: data, sigs: sigs, trace: trace, pos: make([]Position, k)}
		for i := range txs {
			j.pos[i] = txs[i].pos
		}
		e.check.offer(j)
	}
	e.pending = append(e.pending[:0:0], e.pending[k:]...)
	e.since = e.cfg.Now()
	e.log.Info("batch built", "batch", number, "txs", k, "first_block", txs[0].pos.Block, "last_block", endPos.Block)
	return nil
}

// built is a batch as the engine builds it: honest commitment, data and trace.
type built struct {
	Commitment l2.Commitment
	Data       []byte   // the records: what the commitment covers (docs/protocol.md §8.5)
	Sigs       [][]byte // the signature of each type 5/6 record, nil for the others; nil if none
	Trace      []fr.Element
}

// batchData is the batch data L1 receives (docs §5.4): the records, each type 5/6 followed by
// its signature.
func (b *built) batchData() ([]byte, error) {
	if b.Sigs == nil {
		return b.Data, nil
	}
	return l2.JoinBatchData(b.Data, b.Sigs)
}

// mldsa reports whether the batch holds an ML-DSA transaction: it is then optimistic only.
func (b *built) mldsa() bool { return b.Sigs != nil }

// build returns the batch of data (records) and sigs with its commitment (docs/protocol.md §8),
// computed from the sequencer's trace without executing: the previous root and deposit chain
// are the last built batch's. The commitment covers the records only; each signature is bound
// by its digest in w2.
func (e *Engine) build(number uint64, data []byte, sigs [][]byte, trace []fr.Element) (*built, error) {
	prev, dq, err := e.lastBuilt()
	if err != nil {
		return nil, err
	}
	b := &built{Data: data, Sigs: sigs, Trace: trace}
	bd, err := b.batchData()
	if err != nil {
		return nil, fmt.Errorf("settlement: batch %d: %w", number, err)
	}
	ab := l2.AppliedBatch{ChainID: e.cfg.ChainID, Number: number, PrevRoot: prev, DepositsBefore: dq, Data: bd, Trace: trace}
	if b.Commitment, err = ab.Commitment(); err != nil {
		return nil, fmt.Errorf("settlement: batch %d: %w", number, err)
	}
	return b, nil
}

// nextNumber is the number of the next batch to build.
func (e *Engine) nextNumber() uint64 { return e.last.Number + uint64(len(e.recs)) + 1 }

// lastBuilt returns the new root and deposit chain after the last built batch (the last final
// one's when none is pending; the genesis root and 0 before the first).
func (e *Engine) lastBuilt() (root, dq fr.Element, err error) {
	rw, dw := e.last.Root, e.last.DepositsAfter
	if n := len(e.recs); n > 0 {
		rw, dw = e.recs[n-1].Commitment.NewRoot, e.recs[n-1].Commitment.DepositsAfter
	}
	if root, err = element(rw); err != nil {
		return root, dq, err
	}
	dq, err = element(dw)
	return root, dq, err
}
