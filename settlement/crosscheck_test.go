package settlement_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/settlement"
)

// traceFaultBlocks is fault injection: the sequencer's blocks as the engine reads them, with
// trace entry 0 of block faultBlock changed (a sequencer whose executor got a root wrong).
type traceFaultBlocks struct {
	settlement.BlockSource
	faultBlock uint64
}

func (f traceFaultBlocks) Block(n uint64) (*sequencer.Block, error) {
	b, err := f.BlockSource.Block(n)
	if err != nil || b == nil || n != f.faultBlock {
		return b, err
	}
	c := *b
	c.Trace = append([]byte(nil), b.Trace...)
	c.Trace[31] ^= 1
	return &c, nil
}

// TestCrossCheckHaltsOnMismatch: three deposits cut into one batch whose first trace entry the
// (fault-injected) sequencer got wrong: the engine builds and posts it from the trace, and the
// asynchronous cross-check halts it with an error naming the batch and the trace entry. An
// honest batch before it is checked.
func TestCrossCheckHaltsOnMismatch(t *testing.T) {
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic}, worldOpts{depth: depth, batchSize: batchSize,
		blocks: func(s settlement.BlockSource) settlement.BlockSource { return traceFaultBlocks{s, 2} }})
	w.deposit(1, 100)
	w.settle() // batch 1: block 1, honest
	poll(t, "batch 1 checked", func() bool { return w.eng.CrossCheck().Checked == 1 })
	w.deposit(3, 100) // blocks 2.. : one batch, whose first entry (block 2's first) is wrong
	if err := w.eng.Step(w.ctx); err != nil {
		t.Fatal(err)
	}
	poll(t, "the engine halted", func() bool { return w.eng.Err() != nil })
	err := w.eng.Err()
	if !errors.Is(err, settlement.ErrHalted) || !errors.Is(err, settlement.ErrCrossCheck) ||
		!strings.Contains(err.Error(), "batch 2: trace entry 0 (L2 block 2, transaction 0)") {
		t.Fatalf("engine error %v, want a cross-check halt naming batch 2, trace entry 0", err)
	}
	if err := w.eng.Step(w.ctx); !errors.Is(err, settlement.ErrCrossCheck) {
		t.Fatalf("a step after the halt: %v", err)
	}
	if st := w.eng.CrossCheck(); !st.On || st.Checked != 1 || st.Skipped != 0 {
		t.Fatalf("cross-check status %+v", st)
	}
}

// poll waits (bounded) until cond holds.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// stalledReference is fault injection: the sequencer as the engine reads it, whose reference
// states (the cross-check's starting points) wait until released: a cross-check that falls
// behind.
type stalledReference struct {
	settlement.BlockSource
	entered chan struct{} // closed at the first call
	release chan struct{}
	once    sync.Once
}

func (s *stalledReference) ReferenceState(ctx context.Context, n uint64) (*l2.State, uint64, error) {
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
	case <-ctx.Done():
		return nil, 0, ctx.Err()
	}
	return s.BlockSource.ReferenceState(ctx, n)
}

// TestCrossCheckSkipsAhead: a cross-check that falls behind (its first state stalls) never holds
// up cutting or posting: with a queue of one batch, the batches offered while it is full are
// skipped and counted, and the check resumes at a later batch from a state taken from the
// sequencer's snapshots.
func TestCrossCheckSkipsAhead(t *testing.T) {
	st := &stalledReference{entered: make(chan struct{}), release: make(chan struct{})}
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, MaxOptimisticTxs: 1, CrossCheckQueue: 1},
		worldOpts{depth: depth, batchSize: 1, blocks: func(s settlement.BlockSource) settlement.BlockSource { st.BlockSource = s; return st }})
	w.deposit(1, 1000)
	w.settle() // batch 1: the cross-check takes it and stalls on its state
	<-st.entered
	w.deposit(1, 1000)
	w.settle() // batch 2 waits in the queue
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 1}), w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 0, Amount: 1}))
	w.settle() // batches 3 and 4: the queue is full, both skipped; posting goes on
	if sts := w.eng.Status(); len(sts) != 4 || sts[3].State == settlement.StateBuilt {
		t.Fatalf("batches %+v, want 4 posted while the cross-check stalls", sts)
	}
	if cc := w.eng.CrossCheck(); cc.Skipped != 2 || cc.Checked != 0 || cc.Lag != 4 {
		t.Fatalf("cross-check while stalled %+v, want 2 skipped, lag 4", cc)
	}
	close(st.release)
	poll(t, "batches 1 and 2 checked", func() bool { return w.eng.CrossCheck().Checked == 2 })
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 2}))
	w.settle() // batch 5: resumed from a reference state at its start
	poll(t, "batch 5 checked", func() bool { return w.eng.CrossCheck().Checked == 5 })
	w.finalizeAll()
	if cc := w.eng.CrossCheck(); cc.Skipped != 2 || cc.Lag != 0 || w.eng.Err() != nil {
		t.Fatalf("cross-check at the end %+v, engine %v", cc, w.eng.Err())
	}
}
