package main

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
)

// TestWalletExodusMLDSA exits an ML-DSA-65 account from a frozen rollup: pql1node and
// pqsequencer (--l1, optimistic, batches of 2) run as processes; deposits to an ML-DSA key (L1
// registers its public key) and to an EdDSA key make batch 1, final on L1; the sequencer
// stops, L1 freezes the rollup, and exodus of the ML-DSA account, signed with ML-DSA-65
// (MLDSASig, verified by L1 under the registered key), pays exactly its 700 to a fresh address;
// the EdDSA key is refused for it and a second exit is refused before anything is sent.
func TestWalletExodusMLDSA(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)

	alice := w.key("key", "new", "--l1", "alice")
	w.key("key", "new", "--l2", "--pq", "pq")
	w.key("key", "new", "--l2", "bob")
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
	start := time.Now()
	l1Addr := startL1(t, bin, data, exodusL1Chain, valKey, string(genesis), "100ms")
	cl := dialRollupL1(t, ctx, l1Addr, exodusL1Chain, validator)
	seq := startOptimisticSequencer(t, bin, data, l1Addr, exodusL1Chain, valPub, seqKeyFile, 2)
	w.configure(l1Addr, exodusL1Chain, valPub, seq.Addr(t), exodusL2Chain)

	var dep l1Result
	w.json(&dep, "deposit", "700", "--to-l2", "pq", "--wait")
	w.json(&dep, "deposit", "300", "--to-l2", "bob", "--wait")
	proctest.WaitFor(t, "batch 1 final on L1", proctest.Timeout, func() bool {
		r, err := cl.Rollup(ctx, 1)
		return err == nil && r.FinalNumber == 1
	})
	if err := seq.Stop(); err != nil {
		t.Fatal(err)
	}
	var r *chain.Rollup
	proctest.WaitFor(t, "L1 to freeze the rollup", proctest.Timeout, func() bool {
		r, err = cl.Rollup(ctx, 1)
		return err == nil && r.Frozen
	})
	t.Logf("rollup frozen at L1 height %d, %v after the L1 node started", r.FrozenAt, time.Since(start).Round(time.Millisecond))

	to := common.HexToAddress("0x00000000000000000000000000000000000f0017")
	w.fails("l2 account 0 belongs to public key 0000000000", "exodus", "--index", "0", "--to", to.Hex(), "--key", "bob", "--wait")
	var ex struct {
		l1Result
		Details struct {
			Balance uint64 `json:"balance"`
		} `json:"details"`
	}
	w.json(&ex, "exodus", "--index", "0", "--to", to.Hex(), "--wait")
	if ex.Type != chain.TxExodusWithdrawal.String() || ex.Height == 0 || ex.Details.Balance != 700 {
		t.Fatalf("exodus of the ML-DSA account: %+v", ex)
	}
	if got := w.l1Balance(to); got != 700 {
		t.Fatalf("exodus of the ML-DSA account paid %s %d, want 700", to.Hex(), got)
	}
	aliceAddr := common.HexToAddress(alice.Address)
	nonce := w.l1Nonce(aliceAddr)
	w.fails("l2 account 0 of rollup 1 has already exited: L1 pays each account once", "exodus", "--index", "0", "--to", to.Hex(), "--wait")
	if got, n := w.l1Balance(to), w.l1Nonce(aliceAddr); got != 700 || n != nonce {
		t.Fatalf("after the refused second exit: %s has %d, alice's nonce %d; want 700 and %d", to.Hex(), got, n, nonce)
	}
}
