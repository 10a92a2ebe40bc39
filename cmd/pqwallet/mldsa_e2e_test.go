package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

const (
	mldsaL1Chain = 7
	mldsaL2Chain = 13
)

// l2Balances is pqwallet balance --l2 --json by key name, once every named key has an account.
func (w *wallet) l2Balances(names ...string) (map[string]balanceJSON, bool) {
	var bs []balanceJSON
	if w.tryJSON(&bs, "balance", "--l2") != nil {
		return nil, false
	}
	out := make(map[string]balanceJSON, len(bs))
	for _, b := range bs {
		out[b.Key] = b
	}
	for _, n := range names {
		if b, ok := out[n]; !ok || b.Index == nil {
			return out, false
		}
	}
	return out, true
}

// TestWalletMLDSA walks an ML-DSA-65 L2 account through the real daemons: pql1node and
// pqsequencer (--l1, optimistic, batches cut every 300 ms, challenge window 2 blocks of 100 ms) run as
// processes. key new --l2 --pq makes the key; deposit registers its public key on L1 and
// creates the account (key kind mldsa); a transfer to an EdDSA account and a withdraw from it
// go out as types 5 and 6 with their signatures; the batch holding the withdraw is optimistic
// and final on L1, its data holds the signatures, and claim --tx pays the withdrawal from L1
// data. Then migrate
// moves bob's EdDSA balance to a second ML-DSA key that has no account: it deposits 1 from
// alice, waits for the account and transfers everything (balances asserted); the new account
// signs a transfer back. Refusals: a migrate with nothing to move, from an ML-DSA key or to an
// EdDSA key; an EdDSA key for the ML-DSA account; a deposit naming an ML-DSA account key
// without its public key.
func TestWalletMLDSA(t *testing.T) {
	ctx, bin, data, w := e2eSetup(t)

	alice := w.key("key", "new", "--l1", "alice")
	w.key("key", "new", "--l2", "bob")
	w.key("key", "new", "--l2", "carol")
	pq := w.key("key", "new", "--l2", "--pq", "pq")
	w.key("key", "new", "--l2", "--pq", "pq2")
	if pq.Kind != "l2-mldsa" || pq.KeyHash == "" {
		t.Fatalf("key new --l2 --pq: %+v", pq)
	}
	validator, valKey, valPub := testValidator(t, data)
	seqKey, seqKeyFile := newSeedFile(t, data, "sequencer.key")
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": alice.Address, "balance": 1_000_000}, {"address": seqKey.Address(), "balance": 1_000_000}},
		"rollups": []map[string]any{{"l2ChainId": mldsaL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 100,
			"challengeWindow": 2, "forcedInclusionWindow": 50, "exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l1Addr := startL1(t, bin, data, mldsaL1Chain, valKey, string(genesis), "100ms")
	cl := dialRollupL1(t, ctx, l1Addr, mldsaL1Chain, validator)
	// Optimistic batches cut every 300 ms (or at 16 transactions): whichever batch holds the
	// ML-DSA transactions, it must be optimistic and final before the claim.
	seq := proctest.Start(t, filepath.Join(bin, "pqsequencer"), nil, "--l1", l1Addr, "--l1-chain-id", fmt.Sprint(mldsaL1Chain),
		"--validator-pubkey-file", valPub, "--sequencer-key-file", seqKeyFile, "--mode", "optimistic",
		"--batch-size", "16", "--optimistic-batch-size", "16", "--batch-interval", "300ms",
		"--block-interval", "20ms", "--datadir", filepath.Join(data, "seq"), "--listen", "127.0.0.1:0")
	w.configure(l1Addr, mldsaL1Chain, valPub, seq.Addr(t), mldsaL2Chain)

	// A deposit to an ML-DSA account must carry the ML-DSA public key, not just (0, kh).
	w.fails("has x = 0, the key of an ML-DSA account", "deposit", "10", "--to-l2", pq.PublicKey)
	var dep struct {
		l1Result
		Details struct {
			KeyKind string `json:"keyKind"`
		} `json:"details"`
	}
	w.json(&dep, "deposit", "1000", "--to-l2", "bob", "--wait")
	w.json(&dep, "deposit", "500", "--to-l2", "pq", "--wait")
	if dep.Details.KeyKind != "mldsa" || dep.Height == 0 {
		t.Fatalf("deposit to the ML-DSA key: %+v", dep)
	}
	var bs map[string]balanceJSON
	proctest.WaitFor(t, "both deposits credited on L2", proctest.Timeout, func() (ok bool) {
		bs, ok = w.l2Balances("bob", "pq")
		return ok
	})
	if b := bs["pq"]; *b.Index != 1 || b.Balance != 500 || b.KeyKind != "mldsa" || b.PublicKey != pq.PublicKey || bs["bob"].KeyKind != "eddsa" {
		t.Fatalf("L2 balances after the deposits: %+v", bs)
	}

	// An EdDSA key cannot sign for the ML-DSA account.
	w.fails("l2 account 1 belongs to public key 0000000000", "transfer", "--from", "1", "--to", "0", "5", "--key", "bob")
	var tr, wd l2Result
	w.json(&tr, "transfer", "--from", "1", "--to", "0", "120", "--wait")
	if tr.Type != "transfer_mldsa" || tr.Receipt == nil || tr.Receipt.Status != "ok" {
		t.Fatalf("transfer from the ML-DSA account: %+v", tr)
	}
	dest := common.HexToAddress("0x00000000000000000000000000000000000d0d17")
	w.json(&wd, "withdraw", "80", "--to", dest.Hex(), "--from", "1", "--wait")
	if wd.Type != "withdraw_mldsa" || wd.Receipt == nil || wd.Receipt.Status != "ok" || wd.Nonce != 1 {
		t.Fatalf("withdraw from the ML-DSA account: %+v", wd)
	}
	bs, _ = w.l2Balances()
	if bs["bob"].Balance != 1120 || bs["pq"].Balance != 300 || bs["pq"].Nonce != 2 {
		t.Fatalf("L2 balances after the ML-DSA transfer and withdraw: %+v", bs)
	}

	// Once its batch is final, the withdrawal is claimed from L1 data (the batch data holds the
	// signatures after their records).
	var cr struct {
		l1Result
		Details struct {
			Batch  uint64 `json:"batch"`
			Index  int    `json:"index"`
			Amount uint64 `json:"amount"`
		} `json:"details"`
	}
	w.json(&cr, "claim", "--tx", wd.TxHash.Hex(), "--wait")
	if cr.Height == 0 || cr.Details.Batch == 0 || cr.Details.Amount != 80 {
		t.Fatalf("claim of the ML-DSA withdrawal: %+v", cr)
	}
	if got := w.l1Balance(dest); got != 80 {
		t.Fatalf("claim paid %s %d on L1, want 80", dest.Hex(), got)
	}
	var b1 struct {
		Mode    string `json:"mode"`
		Final   bool   `json:"final"`
		TxCount uint64 `json:"txCount"`
	}
	w.json(&b1, "status", "batch", fmt.Sprint(cr.Details.Batch))
	if b1.Mode != "optimistic" || !b1.Final || b1.TxCount == 0 {
		t.Fatalf("batch %d of the ML-DSA withdrawal: %+v, want optimistic and final", cr.Details.Batch, b1)
	}
	frame, err := cl.BatchData(ctx, 1, cr.Details.Batch)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := l1api.DecompressBatch(frame)
	if err != nil {
		t.Fatal(err)
	}
	txs, sigs, err := l2.DecodeBatchData(raw)
	if err != nil {
		t.Fatal(err)
	}
	if k := cr.Details.Index; k >= len(txs) || txs[k].Type != l2.TxWithdrawMLDSA || txs[k].Amount != 80 || len(sigs[k]) != l2.MLDSASigSize {
		t.Fatalf("entry %d of batch %d on L1: %d transactions, want the withdraw_mldsa of 80 with its signature", k, cr.Details.Batch, len(txs))
	}
	t.Logf("ML-DSA withdrawal claimed %v after the L1 node started", time.Since(start).Round(time.Millisecond))

	// migrate: refusals first, then bob's whole balance to pq2, which has no account yet.
	w.fails("--from pq is an l2-mldsa key: migrate moves the account of an EdDSA L2 key", "migrate", "--from", "pq", "--to", "pq2")
	w.fails("--to carol is an l2-eddsa key: migrate moves to an ML-DSA-65 L2 key", "migrate", "--from", "bob", "--to", "carol")
	w.fails("--from carol: no l2 account holds public key", "migrate", "--from", "carol", "--to", "pq2")
	aliceAddr := common.HexToAddress(alice.Address)
	aliceBefore := w.l1Balance(aliceAddr)
	var mg migrateResult
	w.json(&mg, "migrate", "--from", "bob", "--to", "pq2", "--wait")
	if mg.Deposit == nil || mg.Deposit.Height == 0 || mg.Transfer == nil || mg.Transfer.Amount != 1120 || mg.Transfer.Type != "transfer" ||
		mg.From.Index != 0 || mg.From.Balance != 0 || mg.To.Index != 2 || mg.To.Balance != 1121 {
		t.Fatalf("migrate bob -> pq2: %+v", mg)
	}
	if got, want := w.l1Balance(aliceAddr), aliceBefore-1-mg.Deposit.Fee; got != want {
		t.Fatalf("alice's L1 balance after migrate's deposit: %d, want %d (1 and the fee %d)", got, want, mg.Deposit.Fee)
	}
	bs, _ = w.l2Balances()
	if bs["bob"].Balance != 0 || bs["pq2"].Balance != 1121 || bs["pq2"].KeyKind != "mldsa" || bs["pq"].Balance != 300 {
		t.Fatalf("L2 balances after migrate: %+v", bs)
	}
	w.fails("l2 account 0 of key bob has balance 0: nothing to migrate", "migrate", "--from", "bob", "--to", "pq2")
	// A second migrate into an account that exists makes no deposit.
	w.json(&tr, "transfer", "--from", "2", "--to", "0", "21", "--wait")
	if tr.Type != "transfer_mldsa" || tr.Receipt.Status != "ok" {
		t.Fatalf("transfer from the migrated account: %+v", tr)
	}
	out, err := w.run("migrate", "--from", "bob", "--to", "pq", "--wait")
	if err != nil || !strings.Contains(out, "transfer 21 from l2 account 0 (bob, EdDSA) to 1 (pq, ML-DSA-65)") ||
		!strings.Contains(out, "l2 account 0 now has 0, l2 account 1 has 321") || strings.Contains(out, "deposit") {
		t.Fatalf("migrate into an existing account: %v\n%s", err, out)
	}
	t.Logf("done %v after the L1 node started", time.Since(start).Round(time.Millisecond))
}
