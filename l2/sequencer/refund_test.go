package sequencer

import (
	"math"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
)

// TestDepositIntoFullTreeSequencer: on a depth-2 tree (4 accounts) filled by deposits, a deposit
// for a new key and one for a key whose account cannot take the amount are refunded to their
// depositor (docs/protocol.md §7.6), while one for a key with room is credited; the sequencer
// never stops. After a restart (snapshot and replay of blocks holding refunds) it goes on, and
// refunds the next unplaceable deposit.
func TestDepositIntoFullTreeSequencer(t *testing.T) {
	cfg := testConfig(t)
	cfg.Depth, cfg.SnapshotEvery = 2, 2
	h := start(t, cfg)
	keys := newKeys(t, 6, 42)
	depositor := [20]byte{0xde, 0xad}
	deposit := func(k *l2.PrivateKey, amount uint64) {
		n := h.deps.AddFrom(depositor, k.Public(), amount)
		waitFor(t, "deposit included", func() bool { return h.s.Head().DepositEnd > n })
	}
	for _, k := range keys[:4] {
		deposit(k, 100)
	}
	deposit(keys[4], 7)              // a new key: refunded
	deposit(keys[0], 5)              // key 0 has room: credited
	deposit(keys[1], math.MaxUint64) // key 1's account would overflow: refunded
	if a := h.account(0); !a.Exists || a.Balance != 105 {
		t.Fatalf("account 0: %+v, want key 0's deposits (105)", a)
	}
	h.restart()
	deposit(keys[5], 9) // after the restart, the tree is still full
	if err := h.s.Err(); err != nil {
		t.Fatalf("sequencer error: %v", err)
	}

	var refunds []l2.Tx
	for n := uint64(1); n <= h.s.Head().Number; n++ {
		b, err := h.s.Block(n)
		if err != nil {
			t.Fatal(err)
		}
		txs, err := l2.DecodeBatch(b.Data)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range txs {
			if tx.Type == l2.TxRefund {
				refunds = append(refunds, tx)
			}
		}
	}
	want := []struct {
		key    *l2.PrivateKey
		amount uint64
	}{{keys[4], 7}, {keys[1], math.MaxUint64}, {keys[5], 9}}
	if len(refunds) != len(want) {
		t.Fatalf("%d refunds in the blocks, want %d", len(refunds), len(want))
	}
	for i, w := range want {
		if r := refunds[i]; r.PubKey != w.key.Public() || r.Amount != w.amount || r.Address != depositor {
			t.Fatalf("refund %d: %+v, want %d for key %d to the depositor", i, r, w.amount, i)
		}
	}
}
