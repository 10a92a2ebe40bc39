package sequencer

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/pqbridge/pqbridge/l2"
)

// injectedLag is a LagSource whose lag the test sets: fault injection of an overloaded
// settlement (the real source, settlement.Engine, is exercised by TestOverloadNeverHaltsFinality).
type injectedLag struct {
	mu  sync.Mutex
	lag Lag
}

func (f *injectedLag) Lag() Lag {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lag
}

func (f *injectedLag) set(l Lag) {
	f.mu.Lock()
	f.lag = l
	f.mu.Unlock()
}

// TestAdmissionOverloaded: over JSON-RPC, a send is refused with -32024 overloaded, its reason
// and retry hint, while the settlement lag passes MaxSettlementLag or a deposit is within
// MinDepositSlack of its deadline; a resend of an acknowledged transaction is still
// acknowledged; admission resumes by itself when the lag falls; the refusals are counted.
func TestAdmissionOverloaded(t *testing.T) {
	cfg := testConfig(t)
	cfg.Backpressure = BackpressureConfig{MaxSettlementLag: 100, MinDepositSlack: 5, RetryAfter: 250 * time.Millisecond}
	h := start(t, cfg)
	keys := newKeys(t, 2, 9)
	idx := h.fund(keys, 100)
	lag := &injectedLag{}
	h.s.SetLagSource(lag)
	tx := func(n uint64) []byte {
		return signed(t, keys[0], l2.Tx{Type: l2.TxTransfer, From: idx[0], To: idx[1], Amount: 1, Nonce: n})
	}
	first := tx(0)
	h.waitReceipt(h.mustSend(first))

	refused := func(what string, raw []byte) {
		t.Helper()
		_, err := h.send(raw)
		var e rpc.Error
		var d rpc.DataError
		if !errors.As(err, &e) || e.ErrorCode() != CodeOverloaded || !errors.As(err, &d) {
			t.Fatalf("%s: %v, want overloaded", what, err)
		}
		m, _ := d.ErrorData().(map[string]any)
		if m["reason"] != "overloaded" || m["retry_after_ms"] != "250" {
			t.Fatalf("%s: data %v", what, m)
		}
	}
	lag.set(Lag{Unposted: 101})
	refused("lag 101 of 100", tx(1))
	h.mustSend(first) // acknowledged before: still acknowledged
	lag.set(Lag{Unposted: 10, HasDeposit: true, L1Height: 95, DepositDeadline: 100})
	refused("deposit 5 blocks from its deadline", tx(1))
	lag.set(Lag{Unposted: 100, HasDeposit: true, L1Height: 94, DepositDeadline: 100})
	h.waitReceipt(h.mustSend(tx(1))) // resumes: lag 100 and 6 blocks of slack pass

	if bp := h.s.Backpressure(); bp.Throttled != 2 || bp.Lag.Unposted != 100 {
		t.Fatalf("backpressure %+v", bp)
	}
	if st := h.s.Stats(); st.Rejected["overloaded"] != 2 {
		t.Fatalf("stats %+v", st)
	}
	h.s.SetLagSource(nil)
	lag.set(Lag{Unposted: 1000})
	h.waitReceipt(h.mustSend(tx(2))) // detached: no backpressure
}
