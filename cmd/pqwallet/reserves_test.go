package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// TestReservesWallet: pql1node and pqsequencer (--l1, optimistic, batches of 2) as processes; an
// L1 deposit of 1,000 and an L2 withdraw of 300 make batch 1. pqwallet reserves (l1_reserves)
// shows, once it is final, escrow 1,000 = L2 supply 700 + unclaimed 300; after the claim, escrow
// 700 = supply 700; the human form names the figures and the derivation.
func TestReservesWallet(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)
	alice := w.key("key", "new", "--l1", "alice")
	w.key("key", "new", "--l2", "bob")
	validator, valKey, valPub := testValidator(t, data)
	seqKey, seqKeyFile := newSeedFile(t, data, "sequencer.key")
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": alice.Address, "balance": 1_000_000}, {"address": seqKey.Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": claimL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 50, "exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1Addr := startL1(t, bin, data, claimL1Chain, valKey, string(genesis), "100ms")
	dialRollupL1(t, ctx, l1Addr, claimL1Chain, validator)
	seq := startOptimisticSequencer(t, bin, data, l1Addr, claimL1Chain, valPub, seqKeyFile, 2)
	w.configure(l1Addr, claimL1Chain, valPub, seq.Addr(t), claimL2Chain)

	var v chain.Reserves
	w.json(&v, "reserves")
	if !v.On || !v.Holds || v.Escrow != 0 || v.Supply != 0 {
		t.Fatalf("reserves of a new rollup: %+v", v)
	}
	var dep l1Result
	w.json(&dep, "deposit", "1000", "--to-l2", "bob", "--wait")
	w.json(&v, "reserves")
	if v.Escrow != 1000 || v.Unconsumed != 1000 || v.Supply != 0 || !v.Holds {
		t.Fatalf("reserves after the deposit: %+v; want 1000 unconsumed", v)
	}
	var l2b []balanceJSON
	proctest.WaitFor(t, "the L1 deposit credited on L2", proctest.Timeout, func() bool {
		return w.tryJSON(&l2b, "balance", "--l2") == nil && len(l2b) == 1 && l2b[0].Index != nil
	})
	dest := common.HexToAddress("0x00000000000000000000000000000000000d0d02")
	var wd l2Result
	w.json(&wd, "withdraw", "300", "--to", dest.Hex(), "--from", "0", "--wait")
	proctest.WaitFor(t, "batch 1 final on L1", proctest.Timeout, func() bool {
		return w.tryJSON(&v, "reserves") == nil && v.FinalNumber >= 1
	})
	if v.Escrow != 1000 || v.Unconsumed != 0 || v.Supply != 700 || v.Unclaimed != 300 || v.Delayed != 0 || !v.Holds {
		t.Fatalf("reserves with batch 1 final: %+v; want supply 700, unclaimed 300", v)
	}
	var cr l1Result
	w.json(&cr, "claim", "--tx", wd.TxHash.Hex(), "--wait")
	w.json(&v, "reserves")
	if v.Escrow != 700 || v.Supply != 700 || v.Unclaimed != 0 || v.Totals.Claimed != 300 || !v.Holds {
		t.Fatalf("reserves after the claim: %+v; want escrow 700 = supply 700", v)
	}
	out, err := w.run("reserves")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"the equation holds", "L2 supply at final root   700", "unclaimed withdrawals     0",
		"escrow 700 = unconsumed deposits 0"} {
		if !strings.Contains(out, want) {
			t.Fatalf("pqwallet reserves:\n%s\nwant %q", out, want)
		}
	}
}
