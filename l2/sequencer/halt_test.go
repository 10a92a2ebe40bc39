package sequencer

import (
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
)

// faultyExecutor is a fake for fault injection: the real executor, whose Apply fails with the
// native core's out-of-memory error once armed.
type faultyExecutor struct {
	Executor
	armed atomic.Bool
}

func (f *faultyExecutor) Apply(data []byte) (*ExecResult, error) {
	if f.armed.Load() {
		return nil, ffi.ErrOutOfMemory
	}
	return f.Executor.Apply(data)
}

// TestBlockApplyErrorHalts: when the core refuses a block, block production halts: no panic,
// readiness false naming the error, one error line, sends refused with unavailable, the process
// kept (Failed stays open: a restart would meet the same block). A restart keeps every
// acknowledged transaction.
func TestBlockApplyErrorHalts(t *testing.T) {
	logs := &logRecorder{}
	cfg := testConfig(t)
	cfg.Logger = slog.New(logs)
	cfg.BlockInterval = time.Hour // blocks only when kicked
	h := &harness{t: t, cfg: cfg, deps: &MemoryDepositSource{}}
	h.cfg.Deposits = h.deps
	h.open()
	t.Cleanup(h.close)
	fx := &faultyExecutor{Executor: h.s.chain.exec}
	h.s.chain.mu.Lock()
	h.s.chain.exec = fx
	h.s.chain.mu.Unlock()

	kickUntil := func(what string, cond func() bool) {
		waitFor(t, what, func() bool {
			select {
			case h.s.run.kick <- struct{}{}:
			default:
			}
			return cond()
		})
	}
	keys := newKeys(t, 2, 9)
	for _, k := range keys {
		h.deps.Add(k.Public(), 1000)
	}
	kickUntil("deposits", func() bool { return h.status().DepositCursor == 2 })
	idx := h.depositIndices(0, 2)
	var acked []common.Hash
	for n := range uint64(3) {
		acked = append(acked, h.mustSend(signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 1, Nonce: n})))
	}
	fx.armed.Store(true)
	kickUntil("the halt", func() bool { return h.s.Err() != nil })
	if err := h.s.Err(); !errors.Is(err, ffi.ErrOutOfMemory) {
		t.Fatalf("Err() = %v, want the core's error", err)
	}
	select {
	case <-h.s.Failed():
		t.Fatal("a halt closed Failed: the process would restart into the same block")
	case <-time.After(50 * time.Millisecond):
	}
	_, err := h.send(signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 1, Nonce: 3}))
	if code, _ := rpcCode(err); code != CodeUnavailable || !strings.Contains(err.Error(), ffi.ErrOutOfMemory.Error()) {
		t.Fatalf("send after the halt: %v, want unavailable naming the core's error", err)
	}
	if errs := logs.at(slog.LevelError); len(errs) != 1 || !strings.Contains(errs[0], "block production halted") {
		t.Fatalf("want one error line, got %q", errs)
	}

	h.cfg.BlockInterval = 5 * time.Millisecond
	h.restart() // the core is the real one again
	for _, x := range acked {
		if r := h.waitReceipt(x); !r.Included || r.Status != "ok" {
			t.Fatalf("acknowledged %x after restart: %+v", x, r)
		}
	}
}
