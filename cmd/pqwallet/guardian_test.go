package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const guardianL1Chain = 8

// TestWalletGuardian: pql1node runs a rollup with guardians g1, g2, g3 (threshold 2). Offline
// sign steps write signature files; one signature (1 of 3) and a non-guardian's are refused by
// submit, two combined pause the rollup and deposits are refused; the same files sent again (a
// replay of the used nonce) are refused; g2 and g3 (g3 recombined from key shares) unpause it and
// a deposit passes. A watcher holding g1 and g2 pauses on an upheld fraud of its rollup and on
// nothing else; one holding a single key refuses to start. guardian unpause with g1 and g3's
// shares signs and sends in one step.
func TestWalletGuardian(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)
	validator, valKey, valPub := testValidator(t, data)
	keys := map[string]*pqkey.PrivateKey{}
	for _, name := range []string{"alice", "g1", "g2", "g3", "eve"} {
		k, seed := newSeedFile(t, data, name+".seed")
		keys[name] = k
		w.key("key", "import", "--l1", name, "--seed-file", seed)
	}
	w.key("key", "new", "--l2", "bob")
	var guardians []string
	for _, g := range []string{"g1", "g2", "g3"} {
		guardians = append(guardians, "0x"+hex.EncodeToString(keys[g].Public().Bytes()))
	}
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": keys["alice"].Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": claimL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 50, "exodusTimeout": 1000, "sequencers": []common.Address{{1}},
			"guardians": guardians, "guardianThreshold": 2}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1Addr := startL1(t, bin, data, guardianL1Chain, valKey, string(genesis), "100ms")
	cl := dialRollupL1(t, ctx, l1Addr, guardianL1Chain, validator)
	w.configure(l1Addr, guardianL1Chain, valPub, "127.0.0.1:1", claimL2Chain)

	var st guardianStatusJSON
	w.json(&st, "guardian", "status")
	if st.Paused || st.Threshold != 2 || len(st.Guardians) != 3 || st.GuardianNonce != 0 || st.Guardians[2].Address != keys["g3"].Address() {
		t.Fatalf("guardian status %+v", st)
	}
	file := func(name string) string { return filepath.Join(data, name) }
	for _, g := range []string{"g1", "g2", "eve"} {
		if _, err := w.run("guardian", "sign", "pause", "--guardian-key", g, "--nonce", "0", "--out", file(g+".pause")); err != nil {
			t.Fatal(err)
		}
	}
	w.fails("1 guardian signatures, rollup 1 needs 2 of its 3 guardians", "guardian", "submit", file("g1.pause"), "--l1-key", "alice")
	w.fails(keys["eve"].Address().Hex()+" is not a guardian of rollup 1", "guardian", "submit", file("g1.pause"), file("eve.pause"), "--l1-key", "alice")
	if _, err := w.run("guardian", "combine", file("g1.pause"), file("g2.pause"), file("g1.pause"), "--out", file("pause.action")); err != nil {
		t.Fatal(err)
	}
	var res l1Result
	w.json(&res, "guardian", "submit", file("pause.action"), "--l1-key", "alice", "--wait")
	if res.Type != chain.TxGuardianAction.String() || res.Height == 0 {
		t.Fatalf("pause: %+v", res)
	}
	w.json(&st, "guardian", "status")
	if !st.Paused || st.GuardianNonce != 1 {
		t.Fatalf("after the pause: %+v", st)
	}
	w.fails("rollup paused", "deposit", "100", "--to-l2", "bob", "--l1-key", "alice", "--wait")
	w.fails("replay is refused", "guardian", "submit", file("pause.action"), "--l1-key", "alice")

	// Unpause with g2's keystore and g3 recombined from two of its shares.
	if _, err := w.run("key", "split", "g3", "-k", "2", "-n", "3", "--out", file("g3shares")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.run("guardian", "sign", "unpause", "--guardian-key", "g2", "--out", file("g2.unpause")); err != nil {
		t.Fatal(err)
	}
	w.fails("every file must sign the same action", "guardian", "combine", file("g1.pause"), file("g2.unpause"), "--out", file("x"))
	shares := file("g3shares/g3-share-1-of-3.json") + "," + file("g3shares/g3-share-3-of-3.json")
	if _, err := w.run("guardian", "sign", "unpause", "--guardian-shares", shares, "--nonce", "1", "--out", file("g3.unpause")); err != nil {
		t.Fatal(err)
	}
	w.json(&res, "guardian", "submit", file("g2.unpause"), file("g3.unpause"), "--l1-key", "alice", "--wait")
	w.json(&st, "guardian", "status")
	if st.Paused || st.GuardianNonce != 2 {
		t.Fatalf("after the unpause: %+v", st)
	}
	w.json(&res, "deposit", "100", "--to-l2", "bob", "--l1-key", "alice", "--wait")
	if res.Height == 0 {
		t.Fatalf("deposit after the unpause: %+v", res)
	}

	w.fails("1 guardian keys held, rollup 1 needs 2 to pause", "guardian", "watch", "--guardian-key", "g1", "--l1-key", "alice")
	testWatchPausesOnFraud(t, ctx, w, l1Addr, validator, keys)
	if r, err := cl.Rollup(ctx, 1); err != nil || !r.Paused || r.GuardianNonce != 3 {
		t.Fatalf("rollup after the watcher: %+v, %v", r, err)
	}
	// One machine holding two guardians (a keystore and a share set) signs and sends at once.
	w.json(&res, "guardian", "unpause", "--guardian-key", "g1", "--guardian-shares", shares, "--l1-key", "alice", "--wait")
	w.json(&st, "guardian", "status")
	if st.Paused || st.GuardianNonce != 4 || res.Height == 0 {
		t.Fatalf("after guardian unpause: %+v (%+v)", st, res)
	}
}

// testWatchPausesOnFraud runs a watcher in process against the node: events of other kinds or
// rollups give no reason; an upheld fraud of its rollup (the event as L1 logs it) pauses it.
func testWatchPausesOnFraud(t *testing.T, ctx context.Context, w *wallet, l1Addr string, validator *pqkey.PrivateKey, keys map[string]*pqkey.PrivateKey) {
	t.Helper()
	c, err := l1client.Dial(ctx, l1client.Config{Addr: l1Addr, ChainID: guardianL1Chain, Validator: validator.Public(), Key: keys["alice"]})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := &app{cfg: config{l1ChainID: guardianL1Chain, rollupID: 1, json: true}, out: io.Discard, errOut: io.Discard}
	wt := &watcher{a: a, c: c, rollupID: 1, keys: []*pqkey.PrivateKey{keys["g1"], keys["g2"]}, payer: keys["alice"],
		on: []string{condFraud, condInvariant}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, ev := range []chain.Event{{Kind: chain.EventChallengeRejected, RollupID: 1}, {Kind: chain.EventChallengeUpheld, RollupID: 2},
		{Kind: chain.EventBatchReverted, RollupID: 1}} {
		if reason := wt.onEvent(ev); reason != "" {
			t.Fatalf("event %v of rollup %d: reason %q, want none", ev.Kind, ev.RollupID, reason)
		}
	}
	r, err := c.Rollup(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if reason := wt.onState(r, ""); reason != "" {
		t.Fatalf("a sound rollup gives reason %q", reason)
	}
	broken := *r
	broken.Escrow++
	if reason := wt.onState(&broken, ""); !strings.Contains(reason, "escrow invariant broken") {
		t.Fatalf("escrow %d of deposited %d paid %d: reason %q", broken.Escrow, broken.Deposited, broken.Paid, reason)
	}
	if reason := wt.onState(r, "FATAL: escrow invariant violated: rollup 1"); !strings.Contains(reason, "the L1 node halted") {
		t.Fatalf("a node halted on an invariant: reason %q", reason)
	}
	queued := *r
	queued.DelayedPending, queued.DelayedAmount = 3, 900
	if reason := wt.onState(&queued, ""); reason != "" {
		t.Fatalf("delay-queue not watched: reason %q", reason)
	}
	wt.on, wt.maxDelayed = append(wt.on, condDelayQueue), 2
	if reason := wt.onState(&queued, ""); reason != "3 withdrawals wait in the delay queue of rollup 1 (900 in all), above --max-delayed 2" {
		t.Fatalf("3 delayed, at most 2: reason %q", reason)
	}
	queued.DelayedPending = 2
	if reason := wt.onState(&queued, ""); reason != "" {
		t.Fatalf("2 delayed, at most 2: reason %q", reason)
	}
	reason := wt.onEvent(chain.Event{Kind: chain.EventChallengeUpheld, RollupID: 1, Number: 4, Height: 9})
	if reason != "fraud proof upheld against batch 4 of rollup 1 at L1 height 9" {
		t.Fatalf("upheld fraud: reason %q", reason)
	}
	if paused, err := wt.pause(ctx, reason); err != nil || !paused {
		t.Fatalf("pause: %v, %v", paused, err)
	}
	if paused, err := wt.pause(ctx, reason); err != nil || !paused { // already paused: nothing sent
		t.Fatalf("second pause: %v, %v", paused, err)
	}
}
