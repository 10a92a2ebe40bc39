package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
)

const (
	exodusL1Chain = 5
	exodusL2Chain = 9
	// exodusTimeout is the rollup's exodus timeout in L1 blocks of 100 ms. The first batch must
	// finalize within it of genesis (two deposits, a transfer, the batch posted and its 2-block
	// challenge window: 1.5 s here, 1.8 s with both cores busy), and after batch 1 the test waits
	// it out once.
	exodusTimeout = 50
)

// TestWalletExodus runs pqwallet exodus against a rollup that L1 really froze: pql1node and
// pqsequencer (--l1, optimistic) run as processes; two L1 deposits and a transfer make batch 1,
// final on L1; a second transfer and a third deposit are soft-confirmed only (the sequencer
// cuts batches of 3 and is stopped before a batch 2). With no batch finalizing for the exodus
// timeout, L1 freezes the rollup, and each account of batch 1's root exits with its balance
// there, rebuilt by the wallet from L1 data alone with the sequencer gone; an account that
// root lacks, and a second exit of the same account, are refused. The third deposit, which no
// finalized batch consumed, is refunded to its depositor with pqwallet exodus refund, once.
func TestWalletExodus(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)

	alice := w.key("key", "new", "--l1", "alice")
	w.key("key", "new", "--l2", "bob")
	w.key("key", "new", "--l2", "carol")
	w.key("key", "new", "--l2", "dave")
	validator, valKey, valPub := testValidator(t, data)
	seqKey, seqKeyFile := newSeedFile(t, data, "sequencer.key")
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": alice.Address, "balance": 1_000_000}, {"address": seqKey.Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": exodusL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 50, "exodusTimeout": exodusTimeout, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The exodus clock starts with the L1 node's first block, which registers the rollup.
	start := time.Now()
	l1Addr := startL1(t, bin, data, exodusL1Chain, valKey, string(genesis), "100ms")
	cl := dialRollupL1(t, ctx, l1Addr, exodusL1Chain, validator)
	// Batches of exactly 3 transactions: the age cut is beyond the test, so the second transfer
	// stays in no batch.
	seq := startOptimisticSequencer(t, bin, data, l1Addr, exodusL1Chain, valPub, seqKeyFile, 3)
	w.configure(l1Addr, exodusL1Chain, valPub, seq.Addr(t), exodusL2Chain)

	var dep l1Result
	w.json(&dep, "deposit", "1000", "--to-l2", "bob", "--wait")
	w.json(&dep, "deposit", "500", "--to-l2", "carol", "--wait")
	var l2b []balanceJSON
	proctest.WaitFor(t, "both L1 deposits credited on L2", proctest.Timeout, func() bool {
		return w.tryJSON(&l2b, "balance", "--l2") == nil && len(l2b) == 3 && l2b[0].Index != nil && l2b[1].Index != nil
	})
	if l2b[0].Key != "bob" || *l2b[0].Index != 0 || l2b[0].Balance != 1000 || l2b[1].Key != "carol" || *l2b[1].Index != 1 ||
		l2b[1].Balance != 500 || l2b[2].Index != nil {
		t.Fatalf("L2 balances after the deposits %+v", l2b)
	}
	var final l2Result
	w.json(&final, "transfer", "--from", "0", "--to", "1", "100", "--wait")

	type batchStatus struct {
		Number  uint64 `json:"number"`
		Mode    string `json:"mode"`
		Final   bool   `json:"final"`
		TxCount uint64 `json:"txCount"`
	}
	var b1 batchStatus
	proctest.WaitFor(t, "batch 1 final on L1", proctest.Timeout, func() bool {
		return w.tryJSON(&b1, "status", "batch", "1") == nil && b1.Final
	})
	if b1.Number != 1 || b1.Mode != "optimistic" || b1.TxCount != 3 {
		t.Fatalf("batch 1 %+v, want the two deposits and the transfer, optimistic", b1)
	}
	t.Logf("batch 1 final %v after the L1 node started", time.Since(start).Round(time.Millisecond))
	r, err := cl.Rollup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Frozen {
		t.Fatalf("rollup frozen at height %d before the test could check exodus refuses to run: raise exodusTimeout", r.FrozenAt)
	}
	notFrozen := fmt.Sprintf("rollup 1 is not frozen: exodus opens after %d L1 blocks without a finalized batch", exodusTimeout)
	w.fails(notFrozen, "exodus", "--index", "0", "--wait")
	w.fails(notFrozen, "exodus", "refund", "0", "--wait")

	// Soft-confirmed, never settled: a transfer (bob 907, carol 593 on L2; batch 1's root says
	// 900 and 600) and a deposit crediting dave with account 2, which batch 1's root lacks.
	var soft l2Result
	w.json(&soft, "transfer", "--from", "1", "--to", "0", "7", "--wait")
	w.json(&dep, "deposit", "50", "--to-l2", "dave", "--wait")
	proctest.WaitFor(t, "dave's deposit credited on L2", proctest.Timeout, func() bool {
		return w.tryJSON(&l2b, "balance", "--l2") == nil && len(l2b) == 3 && l2b[2].Index != nil
	})
	for i, want := range []struct {
		key     string
		balance uint64
	}{{"bob", 907}, {"carol", 593}, {"dave", 50}} {
		if b := l2b[i]; b.Key != want.key || *b.Index != uint32(i) || b.Balance != want.balance {
			t.Fatalf("soft L2 balances %+v, want %s at index %d with %d", l2b, want.key, i, want.balance)
		}
	}
	if st := w.txStatus(final.TxHash.Hex()); st.Status != "ok" || st.Settlement != "final" {
		t.Fatalf("status of the batched transfer %+v", st)
	}
	if st := w.txStatus(soft.TxHash.Hex()); st.Status != "ok" || st.Settlement != "soft" {
		t.Fatalf("status of the unbatched transfer %+v", st)
	}
	if err := seq.Stop(); err != nil {
		t.Fatal(err)
	}
	w.fails("rollup 1 has no batch 2 on L1 (head batch 1, final through 1)", "status", "batch", "2")

	proctest.WaitFor(t, "L1 to freeze the rollup", proctest.Timeout, func() bool {
		r, err = cl.Rollup(ctx, 1)
		return err == nil && r.Frozen
	})
	if r.FinalNumber != 1 || r.HeadNumber != 1 || r.FrozenAt != r.FinalHeight+exodusTimeout || r.FinalConsumed != 2 || r.QueueLen != 3 {
		t.Fatalf("frozen rollup: final %d, head %d, frozen at %d, last finalization at %d, deposits consumed %d of %d",
			r.FinalNumber, r.HeadNumber, r.FrozenAt, r.FinalHeight, r.FinalConsumed, r.QueueLen)
	}
	t.Logf("rollup frozen at L1 height %d, %v after the L1 node started", r.FrozenAt, time.Since(start).Round(time.Millisecond))

	// Each account exits to its own fresh L1 address with its balance at batch 1's root.
	for _, c := range []struct {
		index   string
		to      common.Address
		balance uint64
	}{
		{"0", common.HexToAddress("0x00000000000000000000000000000000000b0b01"), 900},
		{"1", common.HexToAddress("0x00000000000000000000000000000000000ca401"), 600},
	} {
		before := w.l1Balance(c.to)
		var ex struct {
			l1Result
			Details struct {
				Balance   uint64         `json:"balance"`
				Recipient common.Address `json:"recipient"`
			} `json:"details"`
		}
		w.json(&ex, "exodus", "--index", c.index, "--to", c.to.Hex(), "--wait")
		if ex.Type != chain.TxExodusWithdrawal.String() || ex.Height == 0 || ex.Details.Balance != c.balance || ex.Details.Recipient != c.to {
			t.Fatalf("exodus of l2 account %s: %+v", c.index, ex)
		}
		if got := w.l1Balance(c.to); got != before+c.balance {
			t.Fatalf("exodus of l2 account %s: %s has %d on L1, had %d, want +%d", c.index, c.to.Hex(), got, before, c.balance)
		}
	}
	w.fails("l2 account 2 is not in the last finalized state (batch 1)", "exodus", "--index", "2", "--wait")
	// A second exit is refused by the wallet before it signs anything: alice's L1 nonce stays.
	other := common.HexToAddress("0x00000000000000000000000000000000000b0b02")
	aliceAddr := common.HexToAddress(alice.Address)
	nonce := w.l1Nonce(aliceAddr)
	w.fails("l2 account 0 of rollup 1 has already exited: L1 pays each account once", "exodus", "--index", "0", "--to", other.Hex(), "--wait")
	if got := w.l1Balance(other); got != 0 {
		t.Fatalf("the refused second exodus paid %d", got)
	}
	if got := w.l1Nonce(aliceAddr); got != nonce {
		t.Fatalf("the refused second exodus was sent: alice's L1 nonce %d, was %d", got, nonce)
	}
	// What stays in escrow is dave's deposit, which no finalized batch consumed.
	r, err = cl.Rollup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Escrow != 50 || r.Paid != 1500 {
		t.Fatalf("rollup after both exits: escrow %d, paid %d, want 50 and 1500", r.Escrow, r.Paid)
	}

	// That deposit is the one refundable deposit of the wallet's L1 key; consumed ones are
	// refused, and the refund pays alice, who deposited it, exactly its 50.
	var refundable []refundJSON
	w.json(&refundable, "exodus", "refund")
	if len(refundable) != 1 || refundable[0].QueueIndex != 2 || refundable[0].Amount != 50 || refundable[0].Depositor != aliceAddr ||
		refundable[0].Key != "alice" || refundable[0].L2PublicKey != l2b[2].PublicKey {
		t.Fatalf("refundable deposits %+v, want dave's 50 from alice at queue index 2", refundable)
	}
	w.fails("deposit 0 of rollup 1 was consumed by a finalized batch (they consumed deposits 0..1)", "exodus", "refund", "0", "--wait")
	w.fails("rollup 1 has no deposit 3: its queue holds 3", "exodus", "refund", "3", "--wait")
	before := w.l1Balance(aliceAddr)
	var rf struct {
		l1Result
		Details struct {
			QueueIndex uint64         `json:"queueIndex"`
			Depositor  common.Address `json:"depositor"`
			Amount     uint64         `json:"amount"`
		} `json:"details"`
	}
	w.json(&rf, "exodus", "refund", "2", "--wait")
	if rf.Type != chain.TxExodusRefund.String() || rf.Height == 0 || rf.From != aliceAddr || rf.Details.QueueIndex != 2 ||
		rf.Details.Depositor != aliceAddr || rf.Details.Amount != 50 {
		t.Fatalf("exodus refund of deposit 2: %+v", rf)
	}
	if got := w.l1Balance(aliceAddr); got != before+50 {
		t.Fatalf("exodus refund: alice has %d on L1, had %d, want +50", got, before)
	}
	nonce = w.l1Nonce(aliceAddr)
	w.fails("deposit 2 of rollup 1 was already refunded: 50 to "+aliceAddr.Hex(), "exodus", "refund", "2", "--wait")
	if got, n := w.l1Balance(aliceAddr), w.l1Nonce(aliceAddr); got != before+50 || n != nonce {
		t.Fatalf("the refused second refund: alice has %d (nonce %d), want %d (nonce %d)", got, n, before+50, nonce)
	}
	w.json(&refundable, "exodus", "refund")
	if len(refundable) != 0 {
		t.Fatalf("refundable deposits after the refund: %+v", refundable)
	}
	r, err = cl.Rollup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if r.Escrow != 0 || r.Paid != 1550 {
		t.Fatalf("rollup after the refund: escrow %d, paid %d, want 0 and 1550", r.Escrow, r.Paid)
	}
}

// l1Balance is an L1 address's balance, read with pqwallet balance.
func (w *wallet) l1Balance(a common.Address) uint64 {
	w.t.Helper()
	return w.l1Account(a).Balance
}

// l1Nonce is an L1 address's nonce, read with pqwallet balance.
func (w *wallet) l1Nonce(a common.Address) uint64 {
	w.t.Helper()
	return w.l1Account(a).Nonce
}

func (w *wallet) l1Account(a common.Address) balanceJSON {
	w.t.Helper()
	var b []balanceJSON
	w.json(&b, "balance", "--address", a.Hex())
	if len(b) != 1 {
		w.t.Fatalf("balance --address %s: %+v", a.Hex(), b)
	}
	return b[0]
}
