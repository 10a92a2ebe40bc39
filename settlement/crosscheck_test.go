package settlement_test

import (
	"errors"
	"strings"
	"testing"
	"time"

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
