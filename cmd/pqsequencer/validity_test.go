package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// validityParams are the circuit parameters of the validity tests: the smallest that still
// batch two transactions, so that the dev setup takes seconds and a proof well under one;
// under -short (the race run) the smallest the protocol allows.
func validityParams() prover.Params {
	if testing.Short() {
		return prover.Params{Depth: l2.MinTreeDepth, BatchSize: 1}
	}
	return prover.Params{Depth: 4, BatchSize: 2}
}

var (
	keysOnce sync.Once
	keysRoot string
	keysID   prover.KeyID
	keysVal  *prover.Keys
	keysErr  error
)

// proverKeys makes dev keys of validityParams once per test binary and saves them under a
// directory TestMain removes, as pqsetup dev does; it returns the root and the key ID (the
// rollup's vkHash).
func proverKeys(t *testing.T) (string, prover.KeyID, *prover.Keys) {
	t.Helper()
	makeKeys()
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return keysRoot, keysID, keysVal
}

func makeKeys() {
	keysOnce.Do(func() {
		if keysRoot, keysErr = os.MkdirTemp("", "pqsequencer-test-keys"); keysErr != nil {
			return
		}
		if keysVal, keysErr = prover.DevSetup(validityParams(), nil); keysErr != nil {
			return
		}
		if keysErr = keysVal.Save(keysRoot, "dev"); keysErr != nil {
			return
		}
		keysID, keysErr = prover.VerifyingKeyID(keysVal.VK)
	})
}

// TestDaemonsSettleValidity starts pql1node (the rollup's vkHash is the dev keys' ID, which
// -verifying-keys loads), pqprover -listen and pqsequencer -l1 -prover -mode validity -devnet
// as separate processes: deposits and a transfer are batched, proven by the prover over HTTP,
// accepted by L1 as validity batches and final at once; devnet_setPolicy("optimistic") makes
// the next batch optimistic, final after its challenge window. Both daemons count their proofs.
func TestDaemonsSettleValidity(t *testing.T) {
	vp, start := validityParams(), time.Now()
	keysDone := make(chan struct{})
	go func() { defer close(keysDone); makeKeys() }() // alongside the build
	bin := daemonBins(t)
	<-keysDone
	keysDir, vkID, _ := proverKeys(t)
	t.Logf("build and dev setup of %v: %v", vp, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	validator, seqKey, user := e2eKey(0), e2eKey(1), e2eKey(2)
	valPub := proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seqKey.Address(), "balance": 1 << 30}, {"address": user.Address(), "balance": 1 << 30}},
		"rollups": []map[string]any{{"l2ChainId": e2eL2Chain, "vkHash": common.Hash(vkID), "treeDepth": vp.Depth,
			"batchSize": vp.BatchSize, "sequencerBond": 1000, "challengeWindow": 2, "forcedInclusionWindow": 100,
			"exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1, l1Addr, cl := startL1(t, bin, dir, validator, genesis, "-verifying-keys", filepath.Join(prover.KeyDir(keysDir, vp), "verifying.key"))

	pr := startDaemon(t, filepath.Join(bin, "pqprover"), nil, "-listen", "127.0.0.1:0", "-keys", keysDir,
		"-depth", fmt.Sprint(vp.Depth), "-batch", fmt.Sprint(vp.BatchSize), "-metrics", "127.0.0.1:0",
		"-log-format", "json")
	proverURL := "http://" + pr.Addr(t)

	seqKeyFile := proctest.SeedFile(t, dir, "sequencer.key", seqKey)
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), []string{"PQBRIDGE_SEQUENCER_KEY_FILE=" + seqKeyFile},
		"-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain), "-validator-pubkey-file", valPub, "-rollup", "1",
		"-prover", proverURL, "-mode", "validity", "-devnet", "-challenge-wait", "20s", "-batch-interval", "200ms",
		"-block-interval", "20ms", "-listen", "127.0.0.1:0", "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0",
		"-cross-check=false") // nothing else runs the Go reference: the prover's witness is the core's
	rc, err := rpc.Dial("http://" + seq.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()

	keys := depositKeys(t, cl, user)
	// transfer sends a signed transfer from account 0 and waits until its block is final on L1;
	// it returns the L1 batch holding it.
	transfer := func(nonce uint64) *chain.BatchRecord {
		t.Helper()
		tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 10, Nonce: nonce}
		if err := l2.SignTx(keys[0], e2eL2Chain, &tx); err != nil {
			t.Fatal(err)
		}
		raw := tx.Encode()
		var hash common.Hash
		if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(raw[:])); err != nil {
			t.Fatal(err)
		}
		var rcpt sequencer.RPCReceipt
		proctest.WaitFor(t, "the transfer in a block", proctest.Timeout, func() bool {
			return rc.Call(&rcpt, "rollup_getReceipt", hash) == nil && rcpt.Included
		})
		proctest.WaitFor(t, fmt.Sprintf("block %d final on L1", *rcpt.Block), proctest.Timeout, func() bool {
			var st sequencer.RPCStatus
			return rc.Call(&st, "rollup_getStatus", *rcpt.Block) == nil && st.Settlement == "final"
		})
		r, err := cl.Rollup(context.Background(), 1)
		if err != nil {
			t.Fatal(err)
		}
		b, err := cl.Batch(context.Background(), 1, r.FinalNumber)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	proctest.WaitFor(t, "the deposits on L2", proctest.Timeout, func() bool {
		var a sequencer.RPCAccount
		return rc.Call(&a, "rollup_getAccount", 1) == nil && a.Exists
	})
	b := transfer(0)
	// A validity-only sequencer refuses ML-DSA transactions at admission (issue 17): no circuit
	// proves them.
	pqtx := l2.Tx{Type: l2.TxTransferMLDSA, From: 0, To: 1, Amount: 1}
	sig, err := l2.SignMLDSA(pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x17}), e2eL2Chain, &pqtx)
	if err != nil {
		t.Fatal(err)
	}
	pqrec := pqtx.Encode()
	var pqhash common.Hash
	var re rpc.Error
	if err := rc.Call(&pqhash, "rollup_sendTransaction", hexutil.Bytes(append(pqrec[:], sig...))); !errors.As(err, &re) || re.ErrorCode() != sequencer.CodeMLDSARefused {
		t.Fatalf("ML-DSA transfer to a -mode validity sequencer: %v, want code %d (mldsa_refused)", err, sequencer.CodeMLDSARefused)
	}
	proven := 0.0
	for n := uint64(1); n <= b.Number; n++ {
		rec, err := cl.Batch(context.Background(), 1, n)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Mode != chain.ModeValidity {
			t.Fatalf("batch %d posted in mode %d under -mode validity", n, rec.Mode)
		}
		proven += float64(rec.TxCount)
	}
	t.Logf("%d validity batches final, %v after the start", b.Number, time.Since(start).Round(time.Millisecond))
	// Every proven transaction's witness came from the core, and the Go reference executed none.
	m := seq.get(t, "/metrics")
	if v, ok := metricValue(m, "pqsequencer_prover_witness_txs_total"); !ok || v < proven {
		t.Errorf("pqsequencer_prover_witness_txs_total = %v (present %v), want at least the %v transactions proven", v, ok, proven)
	}
	if v, ok := metricValue(m, "pqsequencer_settlement_reference_txs_total"); !ok || v != 0 {
		t.Errorf("pqsequencer_settlement_reference_txs_total = %v (present %v), want 0 with -cross-check=false", v, ok)
	}
	for _, name := range []string{"pqsequencer_settlement_retries_exhausted_total", "pqsequencer_settlement_batches_over_retry_budget"} {
		if v, ok := metricValue(m, name); !ok || v != 0 {
			t.Errorf("%s = %v (present %v), want 0: no posting went over its retry budget", name, v, ok)
		}
	}

	var set SetPolicyResult
	if err := rc.Call(&set, "devnet_setPolicy", "optimistic"); err != nil || set.Policy != "optimistic" || set.Previous != "validity" {
		t.Fatalf("devnet_setPolicy: %+v, %v", set, err)
	}
	ob := transfer(1)
	if ob.Mode != chain.ModeOptimistic || ob.Number <= b.Number {
		t.Fatalf("batch %d after devnet_setPolicy(optimistic): mode %d", ob.Number, ob.Mode)
	}
	for _, c := range []struct{ kind, want string }{
		{"bogus", "unknown fault kind \"bogus\": want one of wrong-balance"},
		{"amount-overflow", "cannot be injected at run time"},
		{"deposit-skipped", "cannot be injected at run time"},
	} {
		var res map[string]any
		if err := rc.Call(&res, "devnet_injectFault", c.kind); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("devnet_injectFault(%q): %v, want %q", c.kind, err, c.want)
		}
	}
	if err := rc.Call(&set, "devnet_setPolicy", "fast"); err == nil || !strings.Contains(err.Error(), "want auto, optimistic or validity") {
		t.Errorf("devnet_setPolicy(fast): %v", err)
	}

	for _, c := range []struct {
		d      *daemon
		series []string // each must be present with a value > 0
	}{
		{pr, []string{`pqprover_proofs_total{outcome="ok"}`, "pqprover_proof_seconds_count", "pqprover_params_depth",
			`pqprover_keys_info{params="` + vp.String() + `",verifying_key_id="` + vkID.String() + `"}`}},
		{seq, []string{`pqsequencer_proofs_total{outcome="ok"}`, "pqsequencer_proof_seconds_count",
			`pqsequencer_settlement_batches{state="finalized"}`}},
	} {
		checkServes(t, c.d, c.series)
	}
	if v, ok := metricValue(pr.get(t, "/metrics"), `pqprover_jobs{state="queued"}`); !ok || v != 0 {
		t.Errorf("pqprover_jobs{state=queued} = %v (present %v)", v, ok)
	}
	stopAll(t, seq, pr, l1)
	t.Logf("whole test %v", time.Since(start).Round(time.Millisecond))
}

// TestConnectProverRefuses: a prover whose proofs the rollup could not use is refused at start,
// with the reason, and so is a pool with one such prover among good ones.
func TestConnectProverRefuses(t *testing.T) {
	_, vkID, keys := proverKeys(t)
	vp := validityParams()
	srv, err := proverapi.NewServer(proverapi.ServerConfig{Keys: keys, Prover: noProver{}, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts, ts2 := httptest.NewServer(srv.Handler()), httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer ts2.Close()
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)
	good := chain.RollupConfig{TreeDepth: uint8(vp.Depth), BatchSize: uint64(vp.BatchSize), VKHash: vkID}
	pool, err := connectProvers(ctx, &proverFlags{urls: ts.URL + "," + ts2.URL}, &good, vp.BatchSize, log)
	if err != nil || pool.Params() != vp || len(pool.Stats().Provers) != 2 {
		t.Fatalf("matching provers: %v", err)
	}
	pool.Close()
	otherKey := good
	otherKey.VKHash[0] ^= 1
	otherDepth := good
	otherDepth.TreeDepth++
	for _, tc := range []struct {
		name      string
		rc        chain.RollupConfig
		batchSize int
		f         proverFlags
		want      string
	}{
		{"other key", otherKey, vp.BatchSize, proverFlags{urls: ts.URL}, "L1 would reject its proofs"},
		{"other depth", otherDepth, vp.BatchSize, proverFlags{urls: ts.URL + "," + ts2.URL}, fmt.Sprintf("proves depth %d", vp.Depth)},
		{"batches too large", good, vp.BatchSize + 1, proverFlags{urls: ts.URL}, fmt.Sprintf("proves at most %d", vp.BatchSize)},
		{"not a URL", good, 1, proverFlags{urls: ts.URL + ",127.0.0.1:1"}, "want http://HOST:PORT"},
		{"token files", good, 1, proverFlags{urls: ts.URL + "," + ts2.URL + "," + ts.URL, tokenFiles: "a,b"}, "2 files for 3 -prover URLs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := connectProvers(ctx, &tc.f, &tc.rc, tc.batchSize, log); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

type noProver struct{}

func (noProver) Prove(context.Context, *prover.Job) (*prover.Result, error) {
	return nil, fmt.Errorf("%w: not in this test", prover.ErrNotProvable)
}
