package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

const (
	e2eL1Chain = 31
	e2eL2Chain = 7
	e2eWait    = 30 * time.Second // bound of every wait: the whole test stays well under 90 s
)

func e2eKey(i byte) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xe2, 1: i})
}

// TestDaemonsSettleOnL1 starts pql1node, pqsequencer (-l1, optimistic, a 2-block challenge
// window) and pqchallenger as separate processes, all configured as an operator would (flags,
// the environment, a -config file): an L1 deposit appears on L2, an L2 transfer is batched,
// posted, checked and finalized, every daemon answers /metrics and /readyz, and every daemon
// stops cleanly on SIGTERM.
func TestDaemonsSettleOnL1(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBins(t)
	validator, seqKey, user, chKey := e2eKey(0), e2eKey(1), e2eKey(2), e2eKey(3)
	file := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	seedHex := func(k *pqkey.PrivateKey) string { s := k.Seed(); return hex.EncodeToString(s[:]) }
	valPub := file("validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seqKey.Address(), "balance": 1 << 30}, {"address": user.Address(), "balance": 1 << 30},
			{"address": chKey.Address(), "balance": 1 << 30}},
		"rollups": []map[string]any{{"l2ChainId": e2eL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 1000,
			"challengeWindow": 2, "forcedInclusionWindow": 100, "exodusTimeout": 1000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}

	l1 := startDaemon(t, filepath.Join(bin, "pql1node"), nil, "-datadir", filepath.Join(dir, "l1"), "-listen", "127.0.0.1:0",
		"-chain-id", fmt.Sprint(e2eL1Chain), "-validator-key-file", file("validator.key", seedHex(validator)),
		"-genesis", file("genesis.json", string(genesis)), "-block-interval", "100ms", "-metrics", "127.0.0.1:0", "-log-format", "json")
	l1Addr := l1.line(t, "listening on ")
	l1Addr = strings.Fields(l1Addr)[0]
	cl, err := l1client.Dial(context.Background(), l1client.Config{Addr: l1Addr, ChainID: e2eL1Chain, Validator: validator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	waitFor(t, "the rollup registered on L1", func() bool { _, err := cl.Rollup(context.Background(), 1); return err == nil })

	// The sequencer takes its L1 options from a -config file and the environment.
	seqConfig := file("sequencer.json", fmt.Sprintf(`{"l1": %q, "l1-chain-id": %d, "rollup": 1, "mode": "optimistic",
		"batch-interval": "200ms", "block-interval": "20ms", "listen": "127.0.0.1:0"}`, l1Addr, e2eL1Chain))
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), []string{
		"PQBRIDGE_VALIDATOR_PUBKEY_FILE=" + valPub, "PQBRIDGE_SEQUENCER_KEY_FILE=" + file("sequencer.key", seedHex(seqKey))},
		"-config", seqConfig, "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0")
	rc, err := rpc.Dial("http://" + seq.line(t, "listening on "))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ch := startDaemon(t, filepath.Join(bin, "pqchallenger"), nil, "-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain),
		"-validator-pubkey-file", valPub, "-key-file", file("challenger.key", seedHex(chKey)), "-rollup", "1",
		"-datadir", filepath.Join(dir, "ch"), "-metrics", "127.0.0.1:0")
	ch.line(t, "watching rollup ")

	// Two L1 deposits: accounts 0 and 1 on L2.
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
	for i := range 2 {
		waitFor(t, fmt.Sprintf("L2 account %d from its L1 deposit", i), func() bool {
			var a sequencer.RPCAccount
			return rc.Call(&a, "rollup_getAccount", i) == nil && a.Exists && a.Balance == 1000
		})
	}

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
	waitFor(t, "the transfer in a block", func() bool {
		return rc.Call(&rcpt, "rollup_getReceipt", hash) == nil && rcpt.Included
	})
	start := time.Now()
	waitFor(t, "the transfer's block final on L1", func() bool {
		var st sequencer.RPCStatus
		return rc.Call(&st, "rollup_getStatus", *rcpt.Block) == nil && st.Settlement == "final"
	})
	t.Logf("block %d final %v after its soft confirmation", *rcpt.Block, time.Since(start).Round(time.Millisecond))

	for _, c := range []struct {
		d      *daemon
		series []string // each must be present with a value > 0
	}{
		{l1, []string{"pql1node_block_height", `pql1node_rollup_escrow_invariant_ok{rollup="1"}`, `pql1node_rollup_escrow{rollup="1"}`,
			`pql1node_rollup_batches{rollup="1",status="final"}`, `pql1node_events_total{kind="batch_finalized"}`,
			`pql1node_events_total{kind="deposit"}`, "pql1node_block_txs_count"}},
		{seq, []string{"pqsequencer_block_height", "pqsequencer_txs_admitted_total", `pqsequencer_settlement_batches{state="finalized"}`,
			"pqsequencer_block_build_seconds_count", "pqsequencer_deposit_cursor"}},
		{ch, []string{"pqchallenger_batches_checked_total", "pqchallenger_cursor_height", "pqchallenger_agreed_batch"}},
	} {
		metrics := c.d.get(t, "/metrics")
		for _, s := range c.series {
			if v, ok := metricValue(metrics, s); !ok || v <= 0 {
				t.Errorf("%s: %s = %v (present %v)", c.d.name, s, v, ok)
			}
		}
		if body := c.d.get(t, "/readyz"); !strings.HasPrefix(body, "ready") {
			t.Errorf("%s /readyz: %q", c.d.name, body)
		}
		if body := c.d.get(t, "/healthz"); !strings.HasPrefix(body, "ok") {
			t.Errorf("%s /healthz: %q", c.d.name, body)
		}
	}
	metrics := seq.get(t, "/metrics")
	if !strings.Contains(metrics, `pqsequencer_txs_rejected_total{reason="nonce_taken"}`) &&
		!strings.Contains(metrics, `pqsequencer_txs_rejected_total{reason="bad_nonce"}`) {
		t.Errorf("the refused transaction is not counted:\n%s", grepLines(metrics, "pqsequencer_txs_rejected"))
	}
	if v, _ := metricValue(metrics, `pqsequencer_batch_lag_blocks{stage="final"}`); v > 2 {
		t.Logf("final lag %v blocks (blocks after the transfer's may be unbatched)", v)
	}

	for _, d := range []*daemon{ch, seq, l1} { // the L1 node last: the others talk to it
		d.stop(t)
	}
}

var (
	binsOnce sync.Once
	binsDir  string
	binsErr  error
)

// daemonBins builds the daemons the tests run, once per test binary, into a directory TestMain
// removes.
func daemonBins(t *testing.T) string {
	t.Helper()
	binsOnce.Do(func() {
		if binsDir, binsErr = os.MkdirTemp("", "pqsequencer-test-bin"); binsErr != nil {
			return
		}
		build := exec.Command("go", "build", "-o", binsDir+"/", "../pql1node", "../pqchallenger", "../pqprover", ".")
		if out, err := build.CombinedOutput(); err != nil {
			binsErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binsErr != nil {
		t.Fatal(binsErr)
	}
	return binsDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{binsDir, keysRoot} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// isMethodNotFound reports a JSON-RPC "method not found" (-32601).
func isMethodNotFound(err error) bool {
	e, ok := errors.AsType[rpc.Error](err)
	return ok && e.ErrorCode() == -32601
}

// daemon is one running binary; its stdout lines are matched by line.
type daemon struct {
	name    string
	cmd     *exec.Cmd
	stderr  *syncBuffer
	lines   chan string
	metrics string
	exited  chan error
	stopped bool
}

func startDaemon(t *testing.T, bin string, env []string, args ...string) *daemon {
	t.Helper()
	d := &daemon{name: filepath.Base(bin), cmd: exec.Command(bin, args...), stderr: &syncBuffer{}, lines: make(chan string, 16),
		exited: make(chan error, 1)}
	d.cmd.Env = append(os.Environ(), env...)
	d.cmd.Stderr = d.stderr
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case d.lines <- sc.Text():
			default: // nobody waits for this line
			}
		}
		close(d.lines)
		d.exited <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if !d.stopped {
			d.cmd.Process.Kill()
			<-d.exited
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", d.name, d.stderr.String())
		}
	})
	d.metrics = d.line(t, "metrics on ")
	return d
}

// line waits for the stdout line starting with prefix and returns the rest of it.
func (d *daemon) line(t *testing.T, prefix string) string {
	t.Helper()
	timeout := time.After(e2eWait)
	for {
		select {
		case l, ok := <-d.lines:
			if !ok {
				t.Fatalf("%s exited before printing %q:\n%s", d.name, prefix, d.stderr.String())
			}
			if rest, found := strings.CutPrefix(l, prefix); found {
				return rest
			}
		case <-timeout:
			t.Fatalf("%s never printed %q:\n%s", d.name, prefix, d.stderr.String())
		}
	}
}

func (d *daemon) get(t *testing.T, path string) string {
	t.Helper()
	resp, err := http.Get("http://" + d.metrics + path)
	if err != nil {
		t.Fatalf("%s %s: %v", d.name, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stop sends SIGTERM and expects a clean exit.
func (d *daemon) stop(t *testing.T) {
	t.Helper()
	d.stopped = true
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.exited:
		if err != nil {
			t.Errorf("%s after SIGTERM: %v\n%s", d.name, err, d.stderr.String())
		}
	case <-time.After(e2eWait):
		t.Errorf("%s did not stop on SIGTERM", d.name)
	}
}

// waitFor polls cond until it holds: the daemons are other processes, with nothing to wait on.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(e2eWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
