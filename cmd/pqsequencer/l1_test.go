package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

const (
	e2eL1Chain = 31
	e2eL2Chain = 7
)

func e2eKey(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xe2, 1: i})
}

// TestDaemonsSettleOnL1 starts pql1node, pqsequencer (-l1, optimistic, a 2-block challenge
// window) and pqchallenger as separate processes, all configured as an operator would (flags,
// the environment, a -config file): an L1 deposit appears on L2, an L2 transfer is batched,
// posted, checked and finalized, then so is a transfer from an ML-DSA account (its key
// registered by its L1 deposit), every daemon answers /metrics and /readyz, and every daemon
// stops cleanly on SIGTERM.
func TestDaemonsSettleOnL1(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBins(t)
	validator, seqKey, user, chKey := e2eKey(0), e2eKey(1), e2eKey(2), e2eKey(3)
	valPub := proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seqKey.Address(), "balance": 1 << 30}, {"address": user.Address(), "balance": 1 << 30},
			{"address": chKey.Address(), "balance": 1 << 30}},
		"rollups": []map[string]any{{"l2ChainId": e2eL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 1000,
			"challengeWindow": 2, "forcedInclusionWindow": 100, "exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1, l1Addr, cl := startL1(t, bin, dir, validator, genesis, "-log-format", "json")

	// The sequencer takes its L1 options from a -config file and the environment.
	seqConfig := proctest.WriteFile(t, dir, "sequencer.json", fmt.Sprintf(`{"l1": %q, "l1-chain-id": %d, "rollup": 1, "mode": "optimistic",
		"batch-interval": "200ms", "block-interval": "20ms", "listen": "127.0.0.1:0"}`, l1Addr, e2eL1Chain))
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), []string{
		"PQBRIDGE_VALIDATOR_PUBKEY_FILE=" + valPub, "PQBRIDGE_SEQUENCER_KEY_FILE=" + proctest.SeedFile(t, dir, "sequencer.key", seqKey)},
		"-config", seqConfig, "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0")
	rc, err := rpc.Dial("http://" + seq.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ch := startChallenger(t, bin, dir, l1Addr, valPub, chKey)
	ch.Line(t, "watching rollup ")

	keys := depositKeys(t, cl, user)
	waitDeposited(t, rc)

	tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 25}
	if err := l2.SignTx(keys[0], e2eL2Chain, &tx); err != nil {
		t.Fatal(err)
	}
	raw := tx.Encode()
	var hash common.Hash
	if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(raw[:])); err != nil {
		t.Fatal(err)
	}
	stale := tx // nonce 0 again, other amount: refused (nonce_taken or bad_nonce), counted by reason
	stale.Amount = 1
	if err := l2.SignTx(keys[0], e2eL2Chain, &stale); err != nil {
		t.Fatal(err)
	}
	rawStale := stale.Encode()
	if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(rawStale[:])); err == nil {
		t.Fatal("a second transaction with nonce 0 was accepted")
	}
	// Without -devnet the devnet namespace does not exist.
	var injected map[string]any
	if err := rc.Call(&injected, "devnet_injectFault", "wrong-balance"); err == nil || !isMethodNotFound(err) {
		t.Fatalf("devnet_injectFault without -devnet: %v", err)
	}
	hash = sequencer.TxHash(raw[:])
	var rcpt sequencer.RPCReceipt
	proctest.WaitFor(t, "the transfer in a block", proctest.Timeout, func() bool {
		return rc.Call(&rcpt, "rollup_getReceipt", hash) == nil && rcpt.Included
	})
	start := time.Now()
	proctest.WaitFor(t, "the transfer's block final on L1", proctest.Timeout, func() bool {
		var st sequencer.RPCStatus
		return rc.Call(&st, "rollup_getStatus", *rcpt.Block) == nil && st.Settlement == "final"
	})
	t.Logf("block %d final %v after its soft confirmation", *rcpt.Block, time.Since(start).Round(time.Millisecond))

	// An ML-DSA account (issue 17): its L1 deposit registers the key, which the sequencer reads
	// from L1 with the deposit (l1_l2Key over QUIC); its transfer is verified, posted with its
	// signature, checked by the challenger and final.
	pq := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x17, 0xc})
	dep, err := chain.SignTx(user, chain.TxDeposit, e2eL1Chain, 2, &chain.Deposit{RollupID: 1, Amount: 500, MLDSAKey: pq.Public().Bytes()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SubmitTx(context.Background(), dep); err != nil {
		t.Fatal(err)
	}
	proctest.WaitFor(t, "the ML-DSA account from its L1 deposit", proctest.Timeout, func() bool {
		var a sequencer.RPCAccount
		return rc.Call(&a, "rollup_getAccount", 2) == nil && a.Exists && a.Balance == 500 && a.PubKeyX == (common.Hash{})
	})
	pqtx := l2.Tx{Type: l2.TxTransferMLDSA, From: 2, To: 0, Amount: 7}
	sig, err := l2.SignMLDSA(pq, e2eL2Chain, &pqtx)
	if err != nil {
		t.Fatal(err)
	}
	pqrec := pqtx.Encode()
	if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(append(pqrec[:], sig...))); err != nil {
		t.Fatalf("ML-DSA transfer: %v", err)
	}
	proctest.WaitFor(t, "the ML-DSA transfer in a block", proctest.Timeout, func() bool {
		return rc.Call(&rcpt, "rollup_getReceipt", hash) == nil && rcpt.Included
	})
	proctest.WaitFor(t, "the ML-DSA transfer's block final on L1", proctest.Timeout, func() bool {
		var st sequencer.RPCStatus
		return rc.Call(&st, "rollup_getStatus", *rcpt.Block) == nil && st.Settlement == "final"
	})

	for _, c := range []struct {
		d      *daemon
		series []string // each must be present with a value > 0
	}{
		{l1, []string{"pql1node_block_height", `pql1node_rollup_escrow_invariant_ok{rollup="1"}`, `pql1node_rollup_reserves_ok{rollup="1"}`, `pql1node_rollup_escrow{rollup="1"}`,
			`pql1node_rollup_batches{rollup="1",status="final"}`, `pql1node_events_total{kind="batch_finalized"}`,
			`pql1node_events_total{kind="deposit"}`, "pql1node_block_txs_count"}},
		{seq, []string{"pqsequencer_block_height", "pqsequencer_txs_admitted_total", `pqsequencer_settlement_batches{state="finalized"}`,
			"pqsequencer_block_build_seconds_count", "pqsequencer_deposit_cursor"}},
		{ch, []string{"pqchallenger_batches_checked_total", "pqchallenger_cursor_height", "pqchallenger_agreed_batch"}},
	} {
		checkServes(t, c.d, c.series)
		if body := c.d.get(t, "/healthz"); !strings.HasPrefix(body, "ok") {
			t.Errorf("%s /healthz: %q", c.d.Name(), body)
		}
	}
	metrics := seq.get(t, "/metrics")
	if !strings.Contains(metrics, `pqsequencer_txs_rejected_total{reason="nonce_taken"}`) &&
		!strings.Contains(metrics, `pqsequencer_txs_rejected_total{reason="bad_nonce"}`) {
		t.Errorf("the refused transaction is not counted:\n%s", grepLines(metrics, "pqsequencer_txs_rejected"))
	}
	if v, ok := metricValue(metrics, "pqsequencer_admission_throttled_total"); !ok || v != 0 { // far under the default bounds
		t.Errorf("pqsequencer_admission_throttled_total = %v (exported: %v), want 0", v, ok)
	}
	for _, series := range []string{`pqsequencer_settlement_lag_txs{stage="posted"}`, `pqsequencer_settlement_lag_txs{stage="final"}`} {
		if _, ok := metricValue(metrics, series); !ok {
			t.Errorf("%s not exported:\n%s", series, grepLines(metrics, "pqsequencer_settlement_lag"))
		}
	}
	if v, _ := metricValue(metrics, `pqsequencer_batch_lag_blocks{stage="final"}`); v > 2 {
		t.Logf("final lag %v blocks (blocks after the transfer's may be unbatched)", v)
	}

	stopAll(t, ch, seq, l1) // the L1 node last: the others talk to it
}

// daemonBins builds the daemons the tests run, once per test binary.
func daemonBins(t *testing.T) string {
	t.Helper()
	return proctest.Build(t, "pql1node", "pqchallenger", "pqprover", "pqsequencer")
}

func TestMain(m *testing.M) {
	code := proctest.Run(m)
	if keysRoot != "" {
		os.RemoveAll(keysRoot)
	}
	os.Exit(code)
}

// startL1 starts pql1node with genesis, validator's key, a block every 100 ms, -metrics and the
// extra flags, dials it pinning the key and waits for the genesis rollup's registration.
func startL1(t *testing.T, bin, dir string, validator *pqkey.PrivateKey, genesis []byte, extra ...string) (*daemon, string, *l1client.Client) {
	t.Helper()
	l1 := startDaemon(t, filepath.Join(bin, "pql1node"), nil, append(l1Args(t, dir, validator, genesis, "127.0.0.1:0"), extra...)...)
	addr := l1.Addr(t)
	cl, err := l1client.Dial(context.Background(), l1client.Config{Addr: addr, ChainID: e2eL1Chain, Validator: validator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	proctest.WaitFor(t, "the rollup registered on L1", proctest.Timeout, func() bool {
		_, err := cl.Rollup(context.Background(), 1)
		return err == nil
	})
	return l1, addr, cl
}

// l1Args are the flags of pql1node in these tests: a datadir in dir, validator's key, genesis,
// a block every 100 ms, -metrics, QUIC on listen.
func l1Args(t *testing.T, dir string, validator *pqkey.PrivateKey, genesis []byte, listen string) []string {
	t.Helper()
	return []string{"-datadir", filepath.Join(dir, "l1"), "-listen", listen, "-chain-id", fmt.Sprint(e2eL1Chain),
		"-validator-key-file", proctest.SeedFile(t, dir, "validator.key", validator),
		"-genesis", proctest.WriteFile(t, dir, "genesis.json", string(genesis)), "-block-interval", "100ms", "-metrics", "127.0.0.1:0"}
}

// depositKeys makes two L2 keys and deposits 1000 for each on L1, from user: accounts 0 and 1 on
// L2.
func depositKeys(t *testing.T, cl *l1client.Client, user *pqkey.PrivateKey) []*l2.PrivateKey {
	t.Helper()
	var keys []*l2.PrivateKey
	for i := range 2 {
		k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 64)))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		pk := k.Public()
		raw, err := chain.SignTx(user, chain.TxDeposit, e2eL1Chain, uint64(i), &chain.Deposit{RollupID: 1, Amount: 1000,
			PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cl.SubmitTx(context.Background(), raw); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// waitDeposited waits for the two deposits of depositKeys on L2: accounts 0 and 1 holding 1000.
func waitDeposited(t *testing.T, rc *rpc.Client) {
	t.Helper()
	for i := range 2 {
		proctest.WaitFor(t, fmt.Sprintf("L2 account %d from its L1 deposit", i), proctest.Timeout, func() bool {
			var a sequencer.RPCAccount
			return rc.Call(&a, "rollup_getAccount", i) == nil && a.Exists && a.Balance == 1000
		})
	}
}

// startChallenger starts pqchallenger on rollup 1 of the L1 at l1Addr, with its datadir in dir.
func startChallenger(t *testing.T, bin, dir, l1Addr, valPub string, key *pqkey.PrivateKey) *daemon {
	t.Helper()
	return startDaemon(t, filepath.Join(bin, "pqchallenger"), nil, "-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain),
		"-validator-pubkey-file", valPub, "-key-file", proctest.SeedFile(t, dir, "challenger.key", key), "-rollup", "1",
		"-datadir", filepath.Join(dir, "ch"), "-metrics", "127.0.0.1:0")
}

// isMethodNotFound reports a JSON-RPC "method not found" (-32601).
func isMethodNotFound(err error) bool {
	e, ok := errors.AsType[rpc.Error](err)
	return ok && e.ErrorCode() == -32601
}

// daemon is a daemon of these tests: each serves -metrics.
type daemon struct {
	*proctest.Daemon
	metrics string // from its "metrics on ADDR" line
}

func startDaemon(t *testing.T, bin string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{Daemon: proctest.Start(t, bin, env, args...)}
	d.metrics = d.Line(t, "metrics on ")
	return d
}

func (d *daemon) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + d.metrics + path)
	if err != nil {
		t.Fatalf("%s %s: %v", d.Name(), path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// checkServes wants each of series on d's /metrics with a value > 0, and d ready.
func checkServes(t *testing.T, d *daemon, series []string) {
	t.Helper()
	metrics := d.get(t, "/metrics")
	for _, s := range series {
		if v, ok := metricValue(metrics, s); !ok || v <= 0 {
			t.Errorf("%s: %s = %v (present %v)", d.Name(), s, v, ok)
		}
	}
	if body := d.get(t, "/readyz"); !strings.HasPrefix(body, "ready") {
		t.Errorf("%s /readyz: %q", d.Name(), body)
	}
}

// stopAll stops the daemons in order, each with SIGTERM, and wants each to exit cleanly.
func stopAll(t *testing.T, ds ...*daemon) {
	t.Helper()
	for _, d := range ds {
		if err := d.Stop(); err != nil {
			t.Error(err)
		}
	}
}

// metricValue finds the sample of series (name and labels exactly as exposed) in a text
// exposition.
func metricValue(text, series string) (float64, bool) {
	for l := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}

func grepLines(text, substr string) string {
	var b strings.Builder
	for l := range strings.Lines(text) {
		if strings.Contains(l, substr) {
			b.WriteString(l)
		}
	}
	return b.String()
}
