package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
)

// TestWalletEndToEnd builds pql1node, pqsequencer and pqwallet, starts the two daemons as
// separate processes on loopback with dev settings, and walks the wallet through keys, L1
// balance, an L1 deposit, L2 transfers, a withdrawal and status.
//
// The sequencer runs in -dev mode (not -l1), so the L1 deposit is checked on L1 (included,
// balance debited) and the L2 accounts are funded through rollup_devDeposit; with no settlement
// engine there is no batch on L1 to claim: claim and status batch are checked to say so. The
// settled path (-l1: L1 deposits on L2, batches finalized) is cmd/pqsequencer's
// TestDaemonsSettleOnL1; moving this walk onto it, with a real claim, is the next step.
func TestWalletEndToEnd(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)

	alice := w.key("key", "new", "--l1", "alice")
	bob := w.key("key", "new", "--l2", "bob")
	carol := w.key("key", "new", "--l2", "carol")
	if alice.Address == "" || len(bob.PublicKey) != 128 || len(carol.PublicKey) != 128 {
		t.Fatalf("keys %+v %+v %+v", alice, bob, carol)
	}

	// The L1 node: a validator key the test knows (so it can pin its public key), alice funded,
	// one rollup registered at genesis.
	validator, valKey, valPub := testValidator(t, data)
	l1Addr := startL1(t, bin, data, 3, valKey, fmt.Sprintf(`{"alloc": [{"address": %q, "balance": 1000000}],
		"rollups": [{"l2ChainId": 7, "treeDepth": %d, "batchSize": 64, "challengeWindow": 5, "forcedInclusionWindow": 50,
		"exodusTimeout": 1000, "sequencers": [%q]}]}`, alice.Address, l2.DefaultTreeDepth, validator.Address().Hex()), "200ms")
	seqAddr := proctest.Start(t, filepath.Join(bin, "pqsequencer"), nil, "--dev", "--datadir", filepath.Join(data, "seq"),
		"--listen", "127.0.0.1:0", "--chain-id", "7", "--block-interval", "20ms").Addr(t)
	w.configure(l1Addr, 3, valPub, seqAddr, 7)

	var l1 []balanceJSON
	w.json(&l1, "balance", "--l1")
	if len(l1) != 1 || l1[0].Key != "alice" || l1[0].Balance != 1_000_000 {
		t.Fatalf("L1 balance %+v", l1)
	}

	var dep l1Result
	w.json(&dep, "deposit", "1000", "--to-l2", "bob", "--wait")
	if dep.Height == 0 || dep.Nonce != 0 {
		t.Fatalf("deposit %+v", dep)
	}
	w.json(&l1, "balance", "alice")
	if l1[0].Balance != 1_000_000-1000 || l1[0].Nonce != 1 {
		t.Fatalf("L1 balance after the deposit %+v", l1)
	}

	// Fund L2 the dev way (see above): bob gets account 0, carol account 1.
	seq, err := rpc.DialContext(ctx, "http://"+seqAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer seq.Close()
	for _, d := range []struct {
		pk     string
		amount uint64
	}{{bob.PublicKey, 500}, {carol.PublicKey, 10}} {
		var i hexutil.Uint64
		if err := seq.CallContext(ctx, &i, "rollup_devDeposit", "0x"+d.pk, hexutil.Uint64(d.amount)); err != nil {
			t.Fatal(err)
		}
	}
	var l2b []balanceJSON
	// The deposits are in the sequencer's next block, 20 ms away.
	proctest.WaitFor(t, "the dev deposits credited", proctest.Timeout, func() bool {
		w.json(&l2b, "balance", "--l2")
		return len(l2b) == 2 && l2b[0].Index != nil && l2b[1].Index != nil
	})
	if *l2b[0].Index != 0 || l2b[0].Balance != 500 || *l2b[1].Index != 1 || l2b[1].Balance != 10 {
		t.Fatalf("L2 balances %+v", l2b)
	}

	var tr l2Result
	w.json(&tr, "transfer", "--from", "0", "--to", "1", "100", "--wait")
	if tr.Receipt == nil || tr.Receipt.Status != "ok" || tr.Nonce != 0 {
		t.Fatalf("transfer %+v", tr)
	}
	w.fails("l2 account 0 has nonce 1, transaction says 0", "transfer", "--from", "0", "--to", "1", "5", "--nonce", "0")
	w.fails("l2 account 1 has balance 110, the transfer needs 1000", "transfer", "--from", "1", "--to", "0", "1000")
	w.fails("l2 account 1 belongs to public key", "transfer", "--from", "1", "--to", "0", "1", "--key", "bob")
	w.fails("l2 account 9 does not exist", "transfer", "--from", "0", "--to", "9", "1")

	var wd l2Result
	w.json(&wd, "withdraw", "50", "--to", "alice", "--from", "0", "--wait")
	if wd.Receipt == nil || wd.Receipt.Status != "ok" || !strings.EqualFold(wd.Address, alice.Address) {
		t.Fatalf("withdraw %+v", wd)
	}
	if st := w.txStatus(wd.TxHash.Hex()); st.Status != "ok" || st.Settlement != "soft" {
		t.Fatalf("status %+v", st)
	}
	w.json(&l2b, "balance", "bob")
	if l2b[0].Balance != 500-100-50 || l2b[0].Nonce != 2 {
		t.Fatalf("bob after transfer and withdraw %+v", l2b)
	}

	// No settlement engine runs: nothing reaches L1, and the wallet says so.
	w.fails("rollup 1 has no batch 1 on L1 (head batch 0, final through 0)", "status", "batch", "1")
	w.fails("rollup 1 has no batch 1 on L1", "claim", "--batch", "1", "--index", "0")
	w.fails("rollup 1 is not frozen", "exodus", "--index", "0")

	// Threshold custody through the CLI: 2 of 3 shares give alice's key back.
	var split struct {
		Shares []string `json:"shares"`
	}
	w.json(&split, "key", "split", "alice", "-k", "2", "-n", "3")
	w.fails("too few shares: have 1, need 2", "key", "combine", "alice-again", split.Shares[0])
	w.fails("duplicate share: share 1 given twice", "key", "combine", "alice-again", split.Shares[0], split.Shares[0])
	again := w.key("key", "combine", "alice-again", split.Shares[0], split.Shares[2])
	if again.Address != alice.Address {
		t.Fatalf("recombined %s, want %s", again.Address, alice.Address)
	}
}
