package settlement_test

import (
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/settlement"
)

// TestBlockSettlementBatches: three deposits in one L1 block make one L2 block; batches of 2
// (optimistic batches cut at 2 too: MaxOptimisticTxs) split it into batches 1 and 2. BlockSettlement, and rollup_getStatus through it, name both
// once they are committed and again once final, and no batch while a block is soft.
func TestBlockSettlementBatches(t *testing.T) {
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, MaxOptimisticTxs: 2}, worldOpts{depth: depth, batchSize: 2})
	api := sequencer.NewAPI(w.seq)
	for i := range 3 {
		k, err := l2.GenerateKey(constReader(byte(0x40 + i)))
		if err != nil {
			t.Fatal(err)
		}
		pk := k.Public()
		raw, err := chain.SignTx(w.user, chain.TxDeposit, l1ChainID, w.nonces[w.user.Address()],
			&chain.Deposit{RollupID: w.rollup, Amount: 100, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
		if err != nil {
			t.Fatal(err)
		}
		w.nonces[w.user.Address()]++
		if _, err := w.node.SubmitTx(raw); err != nil {
			t.Fatal(err)
		}
	}
	for _, err := range w.block().Errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	w.waitL2(func(h sequencer.Header) bool { return h.DepositEnd >= 3 })
	if h := w.seq.Head(); h.Number != 1 || h.TxCount != 3 {
		t.Fatalf("L2 head %+v, want block 1 holding the three deposits", h)
	}

	check := func(when, status string, first, last uint64) {
		t.Helper()
		want := sequencer.BlockSettlement{Status: status, FirstBatch: first, LastBatch: last}
		if got := w.eng.BlockSettlement(1); got != want {
			t.Fatalf("%s: BlockSettlement(1) = %+v, want %+v (%+v)", when, got, want, w.eng.Status())
		}
		n := hexutil.Uint64(1)
		st, err := api.GetStatus(&n)
		if err != nil {
			t.Fatal(err)
		}
		gotFirst, gotLast := uint64(0), uint64(0)
		if st.Batch != nil {
			gotFirst = uint64(*st.Batch)
		}
		if st.LastBatch != nil {
			gotLast = uint64(*st.LastBatch)
		}
		if st.Settlement != status || gotFirst != first || gotLast != last || (st.Batch == nil) != (st.LastBatch == nil) {
			t.Fatalf("%s: rollup_getStatus(1) settlement %q, batches %v..%v; want %q, %d..%d", when, st.Settlement, st.Batch, st.LastBatch,
				status, first, last)
		}
	}
	check("before any batch", "soft", 0, 0)
	w.settle() // cuts and posts batches 1 and 2, in the L1 block
	if sts := w.eng.Status(); len(sts) != 2 || sts[0].End != (settlement.Position{Block: 1, Offset: 2}) ||
		sts[1].Start != (settlement.Position{Block: 1, Offset: 2}) {
		t.Fatalf("batches %+v, want block 1 split after its second transaction", sts)
	}
	check("posted, not reconciled", "soft", 0, 0)
	if err := w.eng.Step(w.ctx); err != nil { // reconciles: L1 holds both
		t.Fatal(err)
	}
	check("both on L1", "committed", 1, 2)
	w.finalizeAll()
	check("both final", "final", 1, 2)
	if _, err := api.GetStatus(new(hexutil.Uint64(2))); err == nil {
		t.Fatal("rollup_getStatus of block 2, beyond the head: no error")
	}
}

// constReader reads b forever: a deterministic L2 key per byte.
type constReader byte

func (r constReader) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(r)
	}
	return len(p), nil
}
