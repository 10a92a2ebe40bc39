package main

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// TestRotationWallet: guardian g1 proposes a new sequencer set (sign rotate, reading the config
// in force from L1), g2 signs the same proposal offline (--from); one signature and a
// non-guardian's are refused by submit, two are queued on L1 with the timelock (forced-inclusion
// + challenge window), status shows the pending change, a replay is refused, and at the
// activation height the new sequencer set is in force.
func TestRotationWallet(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)
	validator, valKey, valPub := testValidator(t, data)
	keys := map[string]*pqkey.PrivateKey{}
	for _, name := range []string{"alice", "g1", "g2", "g3", "eve"} {
		k, seed := newSeedFile(t, data, name+".seed")
		keys[name] = k
		w.key("key", "import", "--l1", name, "--seed-file", seed)
	}
	var guardians []string
	for _, g := range []string{"g1", "g2", "g3"} {
		guardians = append(guardians, "0x"+hex.EncodeToString(keys[g].Public().Bytes()))
	}
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": keys["alice"].Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": claimL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 20, "exodusTimeout": 1000, "sequencers": []common.Address{{1}},
			"guardians": guardians, "guardianThreshold": 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1Addr := startL1(t, bin, data, guardianL1Chain, valKey, string(genesis), "100ms")
	cl := dialRollupL1(t, ctx, l1Addr, guardianL1Chain, validator)
	w.configure(l1Addr, guardianL1Chain, valPub, "127.0.0.1:1", claimL2Chain)

	file := func(name string) string { return filepath.Join(data, name) }
	next := common.Address{2}
	if _, err := w.run("guardian", "sign", "rotate", "--guardian-key", "g1", "--sequencer", next.Hex(), "--out", file("g1.rotate")); err != nil {
		t.Fatal(err)
	}
	for _, g := range []string{"g2", "eve"} {
		if _, err := w.run("guardian", "sign", "rotate", "--guardian-key", g, "--from", file("g1.rotate"), "--out", file(g+".rotate")); err != nil {
			t.Fatal(err)
		}
	}
	w.fails("rotate: nothing changes", "guardian", "sign", "rotate", "--guardian-key", "g3", "--out", file("g3.rotate"))
	w.fails("1 guardian signatures, rollup 1 needs 2 of its 3 guardians", "guardian", "submit", file("g1.rotate"), "--l1-key", "alice")
	w.fails(keys["eve"].Address().Hex()+" is not a guardian of rollup 1", "guardian", "submit", file("g1.rotate"), file("eve.rotate"), "--l1-key", "alice")
	var res l1Result
	w.json(&res, "guardian", "submit", file("g1.rotate"), file("g2.rotate"), "--l1-key", "alice", "--wait")
	if res.Type != chain.TxConfigChange.String() || res.Height == 0 {
		t.Fatalf("rotate: %+v", res)
	}
	var st guardianStatusJSON
	w.json(&st, "guardian", "status")
	if want := res.Height + 22; st.PendingActivateAt != want || st.GuardianNonce != 1 {
		t.Fatalf("status after the rotate: %+v; want the change pending until %d", st, want)
	}
	r, err := cl.Rollup(ctx, 1)
	if err != nil || r.Pending == nil || !slices.Equal(r.Pending.Config.Sequencers, []common.Address{next}) ||
		!slices.Equal(r.Config.Sequencers, []common.Address{{1}}) {
		t.Fatalf("rollup after the rotate: %+v, %v", r, err)
	}
	w.fails("replay is refused", "guardian", "submit", file("g1.rotate"), file("g2.rotate"), "--l1-key", "alice")

	deadline := time.Now().Add(60 * time.Second)
	for r.Pending != nil && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond) // L1 produces a block every 100 ms: poll for the activation
		if r, err = cl.Rollup(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	if r.Pending != nil || !slices.Equal(r.Config.Sequencers, []common.Address{next}) {
		t.Fatalf("rollup after the activation height: pending %+v, sequencers %v", r.Pending, r.Config.Sequencers)
	}
}
