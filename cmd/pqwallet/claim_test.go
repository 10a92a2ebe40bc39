package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
)

const (
	claimL1Chain = 6
	claimL2Chain = 11
)

// claimStatus is the part of pqwallet status tx's answer that locates a withdrawal on L1.
type claimStatus struct {
	Status          string  `json:"status"`
	Settlement      string  `json:"settlement"`
	Batch           *uint64 `json:"batch"`
	WithdrawalIndex *int    `json:"withdrawalIndex"`
	Claimed         *bool   `json:"claimed"`
}

// TestWalletClaimByTx claims a withdrawal knowing only its L2 transaction hash: pql1node and
// pqsequencer (--l1, optimistic, batches of 2, challenge window 2 blocks of 100 ms) run as
// processes; an L1 deposit and a withdraw make batch 1 (the withdraw is its entry 1). Once the
// batch is final, status tx names the batch, the entry and the exact claim command; claim --tx
// pays exactly the amount on L1; status tx then says claimed, and a second claim, by hash or by
// batch and index, is refused before anything is signed. Then claim --tx of a withdraw in no
// batch yet is refused without --wait and, with it, waits for the batch and claims.
func TestWalletClaimByTx(t *testing.T) {
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
	start := time.Now()
	l1Addr := startL1(t, bin, data, claimL1Chain, valKey, string(genesis), "100ms")
	dialRollupL1(t, ctx, l1Addr, claimL1Chain, validator)
	// Batches of exactly 2: the deposit and the withdraw, whatever the blocks they land in.
	seq := startOptimisticSequencer(t, bin, data, l1Addr, claimL1Chain, valPub, seqKeyFile, 2)
	w.configure(l1Addr, claimL1Chain, valPub, seq.Addr(t), claimL2Chain)

	// Flags: one form or the other, checked before anything is read.
	w.fails("at least one of the flags in the group [tx batch] is required", "claim")
	w.fails("if any flags in the group [tx batch] are set none of the others can be", "claim", "--tx", "0x01", "--batch", "1", "--index", "0")
	w.fails(`transaction hash "0x01": want 32 bytes in hex`, "claim", "--tx", "0x01")

	var dep l1Result
	w.json(&dep, "deposit", "1000", "--to-l2", "bob", "--wait")
	var l2b []balanceJSON
	proctest.WaitFor(t, "the L1 deposit credited on L2", proctest.Timeout, func() bool {
		return w.tryJSON(&l2b, "balance", "--l2") == nil && len(l2b) == 1 && l2b[0].Index != nil
	})
	if *l2b[0].Index != 0 || l2b[0].Balance != 1000 {
		t.Fatalf("L2 balance after the deposit %+v", l2b)
	}
	dest := common.HexToAddress("0x00000000000000000000000000000000000d0d01")
	var wd l2Result
	w.json(&wd, "withdraw", "300", "--to", dest.Hex(), "--from", "0", "--wait")
	if wd.Receipt == nil || wd.Receipt.Status != "ok" {
		t.Fatalf("withdraw %+v", wd)
	}
	hash := wd.TxHash.Hex()

	var st claimStatus
	// claimed is known once L1 has finalized the batch; the sequencer's settlement follows
	// when its engine next reads L1.
	proctest.WaitFor(t, "the withdraw's batch final on L1 and at the sequencer", proctest.Timeout, func() bool {
		return w.tryJSON(&st, "status", "tx", hash) == nil && st.Claimed != nil && st.Settlement == "final"
	})
	if st.Status != "ok" || st.Settlement != "final" || st.Batch == nil || *st.Batch != 1 || st.WithdrawalIndex == nil ||
		*st.WithdrawalIndex != 1 || *st.Claimed {
		t.Fatalf("status tx of the final withdraw: %+v, want batch 1, withdrawal 1, not claimed", st)
	}
	t.Logf("batch 1 final %v after the L1 node started", time.Since(start).Round(time.Millisecond))
	out, err := w.run("status", "tx", hash)
	if err != nil {
		t.Fatal(err)
	}
	if want := "withdrawal 1 of batch 1 (300 to " + dest.Hex() + "): not claimed; claim it with: pqwallet claim --batch 1 --index 1\n"; !strings.Contains(out, want) {
		t.Fatalf("status tx:\n%s\nwant a line %q", out, want)
	}

	w.fails("withdrawal 1 of batch 1 of rollup 1 is not claimed: claim it first", "release", "--tx", hash)
	var cr struct {
		l1Result
		Details struct {
			Batch   uint64         `json:"batch"`
			Index   int            `json:"index"`
			Address common.Address `json:"address"`
			Amount  uint64         `json:"amount"`
		} `json:"details"`
	}
	w.json(&cr, "claim", "--tx", hash, "--wait")
	if cr.Type != chain.TxClaimWithdrawal.String() || cr.Height == 0 || cr.Details.Batch != 1 || cr.Details.Index != 1 ||
		cr.Details.Address != dest || cr.Details.Amount != 300 {
		t.Fatalf("claim --tx: %+v", cr)
	}
	if got := w.l1Balance(dest); got != 300 {
		t.Fatalf("claim paid %s %d on L1, want 300", dest.Hex(), got)
	}
	w.json(&st, "status", "tx", hash)
	if st.Claimed == nil || !*st.Claimed || *st.Batch != 1 || *st.WithdrawalIndex != 1 {
		t.Fatalf("status tx after the claim: %+v", st)
	}
	if out, err = w.run("status", "tx", hash); err != nil || !strings.Contains(out, "withdrawal 1 of batch 1 (300 to "+dest.Hex()+"): claimed\n") {
		t.Fatalf("status tx after the claim: %v\n%s", err, out)
	}
	w.fails("withdrawal 1 of batch 1 of rollup 1 was paid by its claim; it was never delayed", "release", "--batch", "1", "--index", "1")

	// Without an L1 validator key, status tx shows the sequencer's part only.
	var soft claimStatus
	w.json(&soft, "status", "tx", hash, "--validator", "")
	if soft.Status != "ok" || soft.Settlement != "final" || soft.Batch != nil || soft.WithdrawalIndex != nil || soft.Claimed != nil {
		t.Fatalf("status tx without L1: %+v, want the receipt and settlement only", soft)
	}

	// A second claim, in either form, is refused before it is signed: alice's nonce stays.
	aliceAddr := common.HexToAddress(alice.Address)
	nonce := w.l1Nonce(aliceAddr)
	refused := "withdrawal 1 of batch 1 of rollup 1 was already claimed: 300 to " + dest.Hex() + "; L1 pays each withdrawal once"
	w.fails(refused, "claim", "--tx", hash, "--wait")
	w.fails(refused, "claim", "--batch", "1", "--index", "1", "--wait")
	if got, n := w.l1Balance(dest), w.l1Nonce(aliceAddr); got != 300 || n != nonce {
		t.Fatalf("after the refused claims: %s has %d, alice's nonce %d; want 300 and %d", dest.Hex(), got, n, nonce)
	}
	// The deposit is entry 0 of the same batch: no withdrawal to claim.
	w.fails("entry 0 of batch 1 is not a withdrawal; its withdrawals are 1 (300 to "+dest.Hex()+")", "claim", "--batch", "1", "--index", "0")

	// claim --tx --wait of a withdraw in no batch yet: a lone withdraw stays soft (batches of 2);
	// without --wait that is the answer, with --wait the claim follows the next withdraw's batch.
	dest2 := common.HexToAddress("0x00000000000000000000000000000000000d0d02")
	var wd2, wd3 l2Result
	w.json(&wd2, "withdraw", "100", "--to", dest2.Hex(), "--from", "0", "--wait")
	w.fails(fmt.Sprintf("l2 transaction %s is in l2 block %d, which is in no batch on L1 yet (settlement soft); run again with --wait to wait for it",
		wd2.TxHash.Hex(), uint64(*wd2.Receipt.Block)), "claim", "--tx", wd2.TxHash.Hex())
	w.json(&wd3, "withdraw", "50", "--to", dest2.Hex(), "--from", "0", "--wait")
	w.json(&cr, "claim", "--tx", wd3.TxHash.Hex(), "--wait")
	if cr.Height == 0 || cr.Details.Batch != 2 || cr.Details.Index != 1 || cr.Details.Address != dest2 || cr.Details.Amount != 50 {
		t.Fatalf("claim --tx --wait of the third withdraw: %+v", cr)
	}
	if got := w.l1Balance(dest2); got != 50 {
		t.Fatalf("claim paid %s %d on L1, want 50", dest2.Hex(), got)
	}
	w.json(&st, "status", "tx", wd2.TxHash.Hex())
	if st.Batch == nil || *st.Batch != 2 || st.WithdrawalIndex == nil || *st.WithdrawalIndex != 0 || st.Claimed == nil || *st.Claimed {
		t.Fatalf("status tx of the second withdraw, in final batch 2 and not claimed: %+v", st)
	}
	t.Logf("done %v after the L1 node started", time.Since(start).Round(time.Millisecond))
}
