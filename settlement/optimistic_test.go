package settlement_test

import (
	"testing"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/settlement"
)

// TestOptimisticBatchAboveCircuitSize: under PolicyOptimistic the engine cuts a batch beyond the
// rollup's batch size (the circuit's, 8 here; up to 4,096), L1 takes it on the sequencer's one
// stake, and once it is final the stake is back: nothing stays locked.
func TestOptimisticBatchAboveCircuitSize(t *testing.T) {
	const n = 5 * batchSize
	w := newWorld(t, settlement.Config{Policy: settlement.PolicyOptimistic})
	w.deposit(4, 10_000)
	w.settle() // the deposits' batch
	head := w.rollupState().HeadNumber
	var txs []l2.Tx
	for i := range n {
		txs = append(txs, w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(i % 4), To: uint32((i + 1) % 4), Amount: 1}))
	}
	w.send(txs...)
	w.settle()
	r := w.rollupState()
	if r.HeadNumber != head+1 {
		t.Fatalf("head %d, want one batch after %d for the %d transactions", r.HeadNumber, head, n)
	}
	b, err := w.node.Batch(w.rollup, r.HeadNumber)
	if err != nil {
		t.Fatal(err)
	}
	if b.Mode != chain.ModeOptimistic || b.TxCount != n {
		t.Fatalf("batch %d: mode %d, %d transactions, want one optimistic batch of %d (> batch size %d)", b.Number, b.Mode, b.TxCount, n, batchSize)
	}
	if r.Stake != bond || r.Staker != w.seqKey.Address() {
		t.Fatalf("stake %d of %s while batches are pending, want %d of the sequencer", r.Stake, r.Staker, bond)
	}
	w.finalizeAll()
	if r := w.rollupState(); r.Stake != 0 {
		t.Fatalf("stake %d still locked with every batch final", r.Stake)
	}
	if g := mustGlobal(t, w); g.Bonded != 0 {
		t.Fatalf("%d bonded with every batch final", g.Bonded)
	}
}
