package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// TestWalletDepositRefund: pql1node and pqsequencer (--l1, optimistic, batches of 2) run as
// processes on a rollup of tree depth 2 (4 accounts). Alice deposits for four L2 keys, which fill
// the tree, then for two more: the sequencer refunds those (docs/protocol.md §7.6) in batch 3.
// pqwallet refunds lists both as alice's, not claimed once final; claim --batch 3 --index K pays
// each back to alice on L1, and refunds then says claimed.
func TestWalletDepositRefund(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)
	alice := w.key("key", "new", "--l1", "alice")
	names := []string{"k1", "k2", "k3", "k4", "k5", "k6"}
	for _, n := range names {
		w.key("key", "new", "--l2", n)
	}
	validator, valKey, valPub := testValidator(t, data)
	seqKey, seqKeyFile := newSeedFile(t, data, "sequencer.key")
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": alice.Address, "balance": 1_000_000}, {"address": seqKey.Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": claimL2Chain, "treeDepth": 2, "batchSize": 2, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 50, "exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1Addr := startL1(t, bin, data, claimL1Chain, valKey, string(genesis), "100ms")
	dialRollupL1(t, ctx, l1Addr, claimL1Chain, validator)
	seq := startOptimisticSequencer(t, bin, data, l1Addr, claimL1Chain, valPub, seqKeyFile, 2)
	w.configure(l1Addr, claimL1Chain, valPub, seq.Addr(t), claimL2Chain)

	aliceAddr := common.HexToAddress(alice.Address)
	for i, n := range names {
		var dep l1Result
		w.json(&dep, "deposit", fmt.Sprint(100+i), "--to-l2", n, "--wait")
	}
	afterDeposits := w.l1Balance(aliceAddr)

	var refunds []depositRefundJSON
	proctest.WaitFor(t, "the two refunds in a final batch", proctest.Timeout, func() bool {
		return w.tryJSON(&refunds, "refunds") == nil && len(refunds) == 2 && refunds[0].Final && refunds[1].Final
	})
	for k, r := range refunds {
		if r.Batch != 3 || r.Index != k || r.Depositor != aliceAddr || r.Key != "alice" || r.Amount != uint64(104+k) || r.Claimed {
			t.Fatalf("refund %d: %+v, want entry %d of batch 3, %d to alice, not claimed", k, r, k, 104+k)
		}
	}
	out, err := w.run("refunds")
	if err != nil {
		t.Fatal(err)
	}
	if want := "not claimed; claim it with: pqwallet claim --batch 3 --index 1"; !strings.Contains(out, want) {
		t.Fatalf("refunds:\n%s\nwant %q", out, want)
	}
	for k := range refunds {
		var cr l1Result
		w.json(&cr, "claim", "--batch", "3", "--index", fmt.Sprint(k), "--wait")
		if cr.Type != chain.TxClaimWithdrawal.String() || cr.Height == 0 {
			t.Fatalf("claim of refund %d: %+v", k, cr)
		}
	}
	if got, want := w.l1Balance(aliceAddr), afterDeposits+104+105; got != want {
		t.Fatalf("alice's L1 balance %d after claiming her refunds, want %d", got, want)
	}
	w.json(&refunds, "refunds", "--from-batch", "3")
	if len(refunds) != 2 || !refunds[0].Claimed || !refunds[1].Claimed {
		t.Fatalf("refunds after the claims: %+v", refunds)
	}
}
