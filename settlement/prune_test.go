package settlement_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/cockroachdb/pebble"
	"github.com/pqbridge/pqbridge/internal/pebbleguard"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/settlement"
)

// batchRecords counts the batch records in the engine's pebble store (the engine stopped).
func (w *world) batchRecords() int {
	w.t.Helper()
	db, err := pebble.Open(w.engCfg.Dir, &pebble.Options{FS: w.engCfg.FS, Logger: pebbleguard.New(nil, nil)})
	if err != nil {
		w.t.Fatal(err)
	}
	defer db.Close()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte("b/"), UpperBound: []byte("b0")})
	if err != nil {
		w.t.Fatal(err)
	}
	defer it.Close()
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		if !bytes.HasPrefix(it.Key(), []byte("b/")) {
			w.t.Fatalf("key %q", it.Key())
		}
		n++
	}
	return n
}

// TestPruneRestartRevert: batches of one transaction, hundreds of them final (500; 120 under
// -short). The store then holds the records of the pending batches only, and the engine
// reopened on it is ready at once without executing anything (nothing of the Go reference
// runs: the cross-check's counter stays 0), answers for the pruned batches from its summary,
// and posts the pending ones; its cross-check starts from the sequencer's snapshot. A fault injected after the restart (wrong balance: its pre-batch
// state comes from the sequencer's snapshots, not from a replay of the pruned records) is
// proven by the challenger and reverted, and the engine posts the batch again from the last
// valid root; everything ends final with the challenger agreeing.
func TestPruneRestartRevert(t *testing.T) {
	final := 500
	if testing.Short() {
		final = 120
	}
	// A queue for every batch: the cross-check never skips, so that it checks them all.
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, MaxOptimisticTxs: 1, CrossCheckQueue: final + 10},
		worldOpts{depth: depth, batchSize: 1, snapshotEvery: 1})
	w.deposit(2, 10_000)
	for sent := 0; sent < final; {
		var txs []l2.Tx
		for range min(50, final-sent) { // L1 takes 64 pending transactions of one sender
			txs = append(txs, w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(sent % 2), To: uint32(1 - sent%2), Amount: 1}))
			sent++
		}
		w.send(txs...)
		w.settle()
	}
	w.finalizeAll()
	fin := w.eng.LastFinal()
	if fin.Number != uint64(final+2) || fin.Txs != fin.Number || fin.Consumed != 2 {
		t.Fatalf("final summary %+v, want %d batches of one transaction, 2 deposits", fin, final+2)
	}
	if cc := w.eng.CrossCheck(); cc.Checked != fin.Number || cc.Skipped != 0 {
		t.Fatalf("cross-check %+v, want every batch checked", cc)
	}
	// Three pending batches, posted, not final.
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 1}), w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 0, Amount: 1}),
		w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 1}))
	w.settle()
	// Status keeps the last 256 final batches in memory, then the pending ones.
	listed := min(fin.Number, 256)
	if sts := w.eng.Status(); uint64(len(sts)) != listed+3 || sts[0].Number != fin.Number-listed+1 ||
		sts[listed-1].State != settlement.StateFinalized || sts[listed].Number != fin.Number+1 {
		t.Fatalf("status of %d batches from %d, want the last %d final and 3 pending", len(sts), sts[0].Number, listed)
	}
	if err := w.eng.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := w.batchRecords(); n != 3 {
		t.Fatalf("the store holds %d batch records after %d final batches and 3 pending, want 3", n, fin.Number)
	}

	opened := time.Now()
	w.openEngine()
	t.Logf("reopened on %d final batches and 3 pending in %v", fin.Number, time.Since(opened)) // a figure, not asserted
	if got := w.eng.LastFinal(); got != fin {
		t.Fatalf("summary after the restart %+v, want %+v", got, fin)
	}
	if sts := w.eng.Status(); len(sts) != 3 || sts[0].Number != fin.Number+1 || sts[0].State == settlement.StateBuilt {
		t.Fatalf("status after the restart: %+v", sts)
	}
	if got := w.eng.BlockSettlement(1); got.Status != "final" {
		t.Fatalf("block 1 (pruned batches) after the restart: %+v", got)
	}
	w.settle()
	if cc := w.eng.CrossCheck(); cc.Executed != 0 {
		t.Fatalf("the restart executed %d transactions with the Go reference", cc.Executed)
	}

	n, err := w.eng.InjectFault(settlement.Fault{Kind: settlement.FaultWrongBalance})
	if err != nil || n != fin.Number+4 {
		t.Fatalf("InjectFault: batch %d, %v; want %d", n, err, fin.Number+4)
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 0, Amount: 7}))
	w.settle() // posted corrupted; the challenger challenges it
	w.settle() // upheld: reverted on L1
	w.finalizeAll()
	var faulty *settlement.BatchStatus
	for _, s := range w.eng.Status() {
		if s.Number == n {
			faulty = &s
		}
	}
	if faulty == nil || !faulty.FaultPosted || faulty.Reverts != 1 || faulty.State != settlement.StateFinalized {
		t.Fatalf("the faulty batch %d: %+v", n, faulty)
	}
	if cs := w.ch.Status(); cs.Upheld != 1 || cs.Challenges != 1 {
		t.Fatalf("challenger: %+v", cs)
	}
	if got := w.eng.LastFinal(); got.Number != n || got.Reverts != 1 || got.FaultsInjected != 1 {
		t.Fatalf("summary %+v", got)
	}
	// The cross-check took its state for batch n from the sequencer's snapshot (one per block
	// here), not from genesis: it executed a handful of transactions, not the history.
	poll(t, "batch checked", func() bool { return w.eng.CrossCheck().Checked == n })
	if cc := w.eng.CrossCheck(); cc.Executed > 20 || cc.Skipped != 0 {
		t.Fatalf("cross-check after the restart %+v: a replay of the history", cc)
	}
}
