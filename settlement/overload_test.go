package settlement_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/settlement"
)

// Parameters of TestOverloadNeverHaltsFinality.
const (
	overloadForced      = 20 // the forced-inclusion window, L1 blocks
	overloadInFlight    = 4  // settlement.Config.MaxInFlight
	overloadSenders     = 8
	overloadDepositEach = 3 // an L1 deposit every this many L1 blocks
)

// TestOverloadNeverHaltsFinality: a real L1 node (in process, reached over loopback QUIC) with a
// 20-block forced-inclusion window; for 60 s (15 s with -short) each L1 block is offered twice
// the transactions settlement can take per block, and an L1 deposit arrives every third block.
// Settlement's rate follows from its policy: at most MaxInFlight batches of B transactions are
// posted and not final, and a batch is final window+1 blocks after the block that includes it,
// so it settles at most MaxInFlight×B/(window+2) transactions per L1 block. Admission is
// throttled with the documented overloaded error (count > 0), L1 never refuses a batch (no
// forced-inclusion refusal: every deposit consumed within its window), every deposit is consumed
// and every acknowledged transaction ends in a final block.
func TestOverloadNeverHaltsFinality(t *testing.T) {
	load := 60 * time.Second
	if testing.Short() {
		load = 15 * time.Second
	}
	perBlock := overloadInFlight * batchSize / (window + 2) // settlement's rate, transactions per L1 block
	offered := 2 * perBlock
	// The lag admission allows drains in half the window; refusals start at half the window.
	bp := &sequencer.BackpressureConfig{MaxSettlementLag: uint64(perBlock * overloadForced / 2), MinDepositSlack: overloadForced / 2,
		RetryAfter: 50 * time.Millisecond}
	// Optimistic batches of B (not the protocol's 4,096): settlement's rate is then the one above.
	w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyOptimistic, MaxInFlight: overloadInFlight, MaxOptimisticTxs: batchSize},
		worldOpts{depth: depth, batchSize: batchSize, overQUIC: true, forced: overloadForced, backpressure: bp,
			l1RequestsPerSecond: 100_000}) // one connection for the sequencer, the engine and the challenger
	w.deposit(overloadSenders, 100_000)
	t.Logf("settlement takes %d tx per L1 block (MaxInFlight %d, B %d, challenge window %d); offering %d", perBlock,
		overloadInFlight, batchSize, window, offered)

	acked := map[[32]byte]bool{}
	var throttled, rounds, deposits int
	nonces := make([]uint64, overloadSenders)
	end := time.Now().Add(load)
	for time.Now().Before(end) {
		for k := range offered {
			from := uint32((rounds*offered + k) % overloadSenders)
			tx := l2.Tx{Type: l2.TxTransfer, From: from, To: (from + 1) % overloadSenders, Amount: 1, Nonce: nonces[from]}
			if err := l2.SignTx(w.keys[from], l2ChainID, &tx); err != nil {
				t.Fatal(err)
			}
			raw := tx.Encode()
			h, err := w.seq.SendTransaction(w.ctx, raw[:])
			var e *sequencer.Error
			switch {
			case err == nil:
				acked[h], nonces[from] = true, nonces[from]+1
			case errors.As(err, &e) && e.Code == sequencer.CodeOverloaded:
				if e.Reason != "overloaded" || e.ErrorData().(map[string]string)["retry_after_ms"] != "50" {
					t.Fatalf("overloaded refusal %+v data %v", e, e.ErrorData())
				}
				throttled++
			default:
				t.Fatalf("round %d: L2 tx from %d: %v", rounds, from, err)
			}
		}
		if rounds%overloadDepositEach == 0 {
			w.queueDeposit(w.keys[rounds%overloadSenders].Public(), 10)
			deposits++
		}
		w.settle()
		rounds++
		checkNoRefusal(t, w)
	}
	t.Logf("%d L1 blocks of load: %d transactions acknowledged, %d throttled, %d deposits", rounds, len(acked), throttled, deposits)
	if throttled == 0 {
		t.Fatal("admission never throttled: the load did not exceed settlement's rate")
	}
	if st := w.seq.Backpressure(); st.Throttled != uint64(throttled) {
		t.Fatalf("sequencer counts %d throttled, the test saw %d", st.Throttled, throttled)
	}
	if len(acked) < perBlock*rounds/2 {
		t.Fatalf("%d acknowledged in %d blocks: below half of settlement's rate %d", len(acked), rounds, perBlock)
	}

	// Drain: every acknowledged transaction in a block, every block final, every deposit consumed.
	head := w.seq.Head().Number
	w.waitL2(func(h sequencer.Header) bool { return h.Number >= head })
	for i := 0; ; i++ {
		if i > 20*(len(acked)/perBlock+window+overloadForced) {
			t.Fatalf("not final after %d more L1 blocks: %+v", i, w.eng.Lag())
		}
		w.settle()
		checkNoRefusal(t, w)
		r := w.rollupState()
		if l := w.eng.Lag(); l.Unfinal == 0 && w.seq.Stats().Mempool == 0 && r.FinalConsumed == r.QueueLen {
			break
		}
	}
	if r := w.rollupState(); r.QueueLen != uint64(overloadSenders+deposits) {
		t.Fatalf("L1 queued %d deposits, want %d", r.QueueLen, overloadSenders+deposits)
	}
	api := sequencer.NewAPI(w.seq)
	final := map[uint64]bool{}
	for h := range acked {
		rc, err := api.GetReceipt(h)
		if err != nil || rc == nil || !rc.Included || rc.Block == nil {
			t.Fatalf("acknowledged %x: receipt %+v, %v", h, rc, err)
		}
		n := uint64(*rc.Block)
		if final[n] {
			continue
		}
		if got := settlementOf(t, api, hexutil.Uint64(n)); got != "final" {
			t.Fatalf("block %d of acknowledged %x: %q", n, h, got)
		}
		final[n] = true
	}
}

// queueDeposit sends an L1 deposit to pk without producing a block: the next one includes it.
func (w *world) queueDeposit(pk l2.PublicKey, amount uint64) {
	w.t.Helper()
	a := w.user.Address()
	raw, err := chain.SignTx(w.user, chain.TxDeposit, l1ChainID, w.nonces[a],
		&chain.Deposit{RollupID: w.rollup, Amount: amount, PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
	if err != nil {
		w.t.Fatal(err)
	}
	w.nonces[a]++
	if _, err := w.node.SubmitTx(raw); err != nil {
		w.t.Fatal(err)
	}
}

// checkNoRefusal fails on any batch L1 refused (a forced-inclusion refusal above all) or
// reverted.
func checkNoRefusal(t *testing.T, w *world) {
	t.Helper()
	for _, s := range w.eng.Status() {
		if s.Rejects != 0 || s.Reverts != 0 || strings.Contains(s.LastError, "forced-inclusion") {
			t.Fatalf("batch %d refused by L1: %+v", s.Number, s)
		}
	}
	if err := w.eng.Err(); err != nil {
		t.Fatal(err)
	}
}
