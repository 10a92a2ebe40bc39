package settlement_test

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/settlement"
)

// TestQUICFinalizes: the engine posts through NativeTarget over loopback QUIC, the sequencer takes
// its deposits from the same client, the challenger follows the node over it; every batch
// finalizes, and rollup_getStatus goes from "soft" to "final".
func TestQUICFinalizes(t *testing.T) {
	w := newWorldOver(t, settlement.Config{Policy: settlement.PolicyOptimistic}, true)
	api := sequencer.NewAPI(w.seq)
	w.deposit(2, 1000)
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 5}))
	block := hexutil.Uint64(w.seq.Head().Number)
	if got := settlementOf(t, api, block); got != "soft" {
		t.Fatalf("block %d before settlement: %q", block, got)
	}
	w.settle()
	if err := w.eng.Step(w.ctx); err != nil { // reconciles: L1 holds the batch
		t.Fatal(err)
	}
	if got := settlementOf(t, api, block); got != "committed" {
		t.Fatalf("block %d posted: %q (%+v)", block, got, w.eng.Status())
	}
	w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: 1, To: 0, Amount: 2}))
	w.finalizeAll()
	for _, s := range w.eng.Status() {
		if s.Mode != settlement.ModeOptimistic || s.Reverts != 0 {
			t.Fatalf("batch %+v", s)
		}
	}
	if got := settlementOf(t, api, block); got != "final" {
		t.Fatalf("block %d after finalization: %q", block, got)
	}
	if st := w.ch.Status(); st.Challenges != 0 || st.Checked == 0 {
		t.Fatalf("challenger %+v", st)
	}
}

func settlementOf(t *testing.T, api *sequencer.API, n hexutil.Uint64) string {
	t.Helper()
	st, err := api.GetStatus(&n)
	if err != nil {
		t.Fatal(err)
	}
	return st.Settlement
}

// TestQUICChallengerCatchesFraud: the fraud scenario of one class with the challenger, the
// engine and the sequencer on the node's QUIC API, with each of the challenger's executors.
func TestQUICChallengerCatchesFraud(t *testing.T) {
	for _, exec := range executors {
		t.Run(exec, func(t *testing.T) { fraudScenario(t, fraudCases[0], true, exec) })
	}
}

// TestQUICChallengerRestart: a challenger running on its own (Start) over QUIC is stopped in the
// middle of a stream of batches and restarted from its pebble directory; it agrees with every
// batch, each exactly once, none missed. It runs with each executor, and once with the restart
// opening the store with the other executor.
func TestQUICChallengerRestart(t *testing.T) {
	for _, tc := range []struct{ before, after string }{
		{executors[0], executors[0]},
		{executors[1], executors[1]},
		{executors[1], executors[0]},
	} {
		t.Run(tc.before+"-then-"+tc.after, func(t *testing.T) { challengerRestart(t, tc.before, tc.after) })
	}
}

func challengerRestart(t *testing.T, before, after string) {
	w := newWorldOver(t, settlement.Config{Policy: settlement.PolicyOptimistic}, true)
	dir := filepath.Join(t.TempDir(), "challenger")
	var logs proctest.Buffer
	executor := before
	start := func() *challenger.Challenger {
		ch, err := challenger.New(w.ctx, challenger.Config{Dir: dir, Source: challenger.ClientSource(w.l1c), Key: l1Key(4),
			L1ChainID: l1ChainID, RollupID: w.rollup, Logger: slog.New(slog.NewTextHandler(&logs, nil)), Executor: executor})
		if err != nil {
			t.Fatal(err)
		}
		if err := ch.Start(w.ctx); err != nil {
			t.Fatal(err)
		}
		return ch
	}
	w.deposit(3, 1000)
	batch := func(i int) {
		w.send(w.signed(l2.Tx{Type: l2.TxTransfer, From: uint32(i % 3), To: uint32((i + 1) % 3), Amount: 1}))
		w.settle()
	}
	ch := start()
	batches := 6
	for i := range batches {
		batch(i)
		if i == 2 {
			waitAgreed(t, ch, 2)
			if err := ch.Stop(); err != nil {
				t.Fatal(err)
			}
		}
	}
	executor = after
	ch = start() // batches 4.. were posted (some may be final) while it was down
	defer ch.Stop()
	last := w.eng.Status()[len(w.eng.Status())-1].Number
	waitAgreed(t, ch, last)
	if st := ch.Status(); st.Challenges != 0 || len(st.Waiting) != 0 {
		t.Fatalf("challenger after restart %+v", st)
	}
	out := logs.String()
	for n := uint64(1); n <= last; n++ {
		// "batch honest" or, for a batch final before it was read, "batch final".
		if c := strings.Count(out, fmt.Sprintf("batch=%d ", n)); c != 1 {
			t.Fatalf("batch %d logged %d times:\n%s", n, c, out)
		}
	}
}

// waitAgreed waits (bounded) until the challenger agrees with batch n.
func waitAgreed(t *testing.T, ch *challenger.Challenger, n uint64) {
	t.Helper()
	proctest.WaitFor(t, fmt.Sprintf("the challenger to agree with batch %d", n), 20*time.Second, func() bool {
		return ch.Status().Agreed >= n
	})
}
