package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
)

// chunkedTxs is how many transfers the gate test sends: four batches' worth of the circuit.
func chunkedTxs(p prover.Params) int { return 4 * p.BatchSize }

// TestChunkedValidityBatch starts pql1node, two pqprover -listen processes and pqsequencer
// -mode validity -prover URL1,URL2 as separate processes, sends 4×B transfers, cut as one batch
// proven as 4 chunk jobs sent at once to the pool, and kills one prover with SIGKILL while it
// proves a chunk: the chunk is retried on the other prover (the pool's retry metric counts it,
// the killed prover's failure too), L1 accepts the batch (and the deposits' before it) as a
// validity batch, it becomes final, and the balances are those of the transfers. Then,
// on a second rollup of the same L1 node, a batch of 4×B transactions proven as 4 chunk proofs
// by the surviving prover is refused with two proofs swapped or reordered and accepted in order
// (checkChunkSwapRefused).
func TestChunkedValidityBatch(t *testing.T) {
	vp, start := validityParams(), time.Now()
	keysDone := make(chan struct{})
	go func() { defer close(keysDone); makeKeys() }() // alongside the build
	bin := daemonBins(t)
	<-keysDone
	keysDir, vkID, _ := proverKeys(t)
	t.Logf("build and dev setup of %v: %v", vp, time.Since(start).Round(time.Millisecond))

	dir := t.TempDir()
	validator, seqKey, user, swapSeq := e2eKey(0), e2eKey(1), e2eKey(2), e2eKey(3)
	valPub := proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	rollup := func(l2Chain uint64, seq common.Address) map[string]any {
		return map[string]any{"l2ChainId": l2Chain, "vkHash": common.Hash(vkID), "treeDepth": vp.Depth,
			"batchSize": vp.BatchSize, "sequencerBond": 1000, "challengeWindow": 2, "forcedInclusionWindow": 100,
			"exodusTimeout": 1000, "sequencers": []common.Address{seq}}
	}
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seqKey.Address(), "balance": 1 << 30}, {"address": user.Address(), "balance": 1 << 30},
			{"address": swapSeq.Address(), "balance": 1 << 30}},
		"rollups": []map[string]any{rollup(e2eL2Chain, seqKey.Address()), rollup(swapL2Chain, swapSeq.Address())},
	})
	if err != nil {
		t.Fatal(err)
	}
	l1, l1Addr, cl := startL1(t, bin, dir, validator, genesis, "-verifying-keys", filepath.Join(prover.KeyDir(keysDir, vp), "verifying.key"))

	provers := make([]*daemon, 2)
	urls := make([]string, 2)
	for i := range provers {
		provers[i] = startDaemon(t, filepath.Join(bin, "pqprover"), nil, "-listen", "127.0.0.1:0", "-keys", keysDir,
			"-depth", fmt.Sprint(vp.Depth), "-batch", fmt.Sprint(vp.BatchSize), "-workers", "1", "-metrics", "127.0.0.1:0")
		urls[i] = "http://" + provers[i].Addr(t)
	}
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), nil,
		"-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain), "-validator-pubkey-file", valPub, "-rollup", "1",
		"-sequencer-key-file", proctest.SeedFile(t, dir, "sequencer.key", seqKey),
		// One batch of exactly 4×B transfers: cut by size, never by age (the deposits' batch is
		// cut when half their forced-inclusion window is spent).
		"-prover", urls[0]+","+urls[1], "-mode", "validity", "-challenge-wait", "30s", "-batch-interval", "1m",
		"-validity-batch-size", fmt.Sprint(chunkedTxs(vp)),
		"-block-interval", "20ms", "-listen", "127.0.0.1:0", "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0")
	rc, err := rpc.Dial("http://" + seq.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	keys := depositKeys(t, cl, user)
	waitDeposited(t, rc)
	// The deposits' batch final first: every proof from now on is of the transfers.
	proctest.WaitFor(t, "the deposits final on L1", proctest.Timeout, func() bool { txs, _ := finalTxs(t, cl); return txs >= 2 })
	t.Logf("deposits final %v after the start", time.Since(start).Round(time.Millisecond))

	// 4×B transfers of 10 from account 0 to account 1, sent at once.
	n := chunkedTxs(vp)
	var last common.Hash
	for nonce := range n {
		tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: 10, Nonce: uint64(nonce)}
		if err := l2.SignTx(keys[0], e2eL2Chain, &tx); err != nil {
			t.Fatal(err)
		}
		raw := tx.Encode()
		if err := rc.Call(&last, "rollup_sendTransaction", hexutil.Bytes(raw[:])); err != nil {
			t.Fatalf("transfer %d: %v", nonce, err)
		}
	}

	// Kill whichever prover is seen proving first, mid-chunk. A chunk's proof takes a fraction
	// of a second at these parameters: the provers are polled every few milliseconds, not at
	// WaitFor's slowing pace.
	killed := -1
	for deadline := time.Now().Add(proctest.Timeout); killed < 0; time.Sleep(3 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no prover seen proving a chunk of the transfers' batch within %v", proctest.Timeout)
		}
		for i, p := range provers {
			if v, ok := metricValue(p.get(t, "/metrics"), `pqprover_jobs{state="proving"}`); ok && v > 0 {
				killed = i
				break
			}
		}
	}
	if err := provers[killed].Kill(); err != nil {
		t.Fatal(err)
	}
	survivor := 1 - killed
	t.Logf("killed prover %d (%s) mid-chunk, %v after the start", killed, urls[killed], time.Since(start).Round(time.Millisecond))

	var rcpt sequencer.RPCReceipt
	proctest.WaitFor(t, "the last transfer in a block", proctest.Timeout, func() bool {
		return rc.Call(&rcpt, "rollup_getReceipt", last) == nil && rcpt.Included
	})
	proctest.WaitFor(t, fmt.Sprintf("block %d final on L1", *rcpt.Block), 2*proctest.Timeout, func() bool {
		var st sequencer.RPCStatus
		return rc.Call(&st, "rollup_getStatus", *rcpt.Block) == nil && st.Settlement == "final"
	})
	if txs, largest := finalTxs(t, cl); txs != uint64(n+2) || largest != uint64(n) {
		t.Fatalf("%d transactions in the final batches, the largest of %d; want %d, and the transfers in one batch of %d (4 chunks)",
			txs, largest, n+2, n)
	}
	for i, want := range []uint64{1000 - 10*uint64(n), 1000 + 10*uint64(n)} {
		var a sequencer.RPCAccount
		if err := rc.Call(&a, "rollup_getAccount", i); err != nil || uint64(a.Balance) != want {
			t.Fatalf("account %d: balance %d, want %d (%v)", i, a.Balance, want, err)
		}
	}

	// The pool retried the killed prover's chunk on the survivor, which proved it.
	m := seq.get(t, "/metrics")
	series := func(name string, i int, labels string) string {
		return fmt.Sprintf(`%s{%sprover="%s"}`, name, labels, urls[i])
	}
	for _, c := range []struct {
		series string
		ok     func(float64) bool
		want   string
	}{
		{"pqsequencer_prover_pool_retries_total", func(v float64) bool { return v > 0 }, "> 0"},
		{series("pqsequencer_prover_jobs_total", killed, `event="failed",`), func(v float64) bool { return v > 0 }, "> 0"},
		{series("pqsequencer_prover_jobs_total", killed, `event="retried_away",`), func(v float64) bool { return v > 0 }, "> 0"},
		{series("pqsequencer_prover_up", killed, ""), func(v float64) bool { return v == 0 }, "0"},
		{series("pqsequencer_prover_jobs_total", survivor, `event="succeeded",`), func(v float64) bool { return v > 0 }, "> 0"},
		{series("pqsequencer_prover_up", survivor, ""), func(v float64) bool { return v == 1 }, "1"},
		{"pqsequencer_prover_pool_jobs_waiting", func(v float64) bool { return v == 0 }, "0"},
	} {
		if v, ok := metricValue(m, c.series); !ok || !c.ok(v) {
			t.Errorf("%s = %v (present %v), want %s", c.series, v, ok, c.want)
		}
	}
	// Its progress log names the chunk retried, the prover it left and why.
	retried := grepLines(seq.Stderr(), "prover job retried")
	if !strings.Contains(retried, "-chunk-") || !strings.Contains(retried, urls[killed]) {
		t.Errorf("no log line of the chunk retried away from %s:\n%s", urls[killed], retried)
	}
	t.Logf("sequencer: %s", retried)
	if t.Failed() {
		t.Logf("pool metrics:\n%s", grepLines(m, "pqsequencer_prover"))
	}
	t.Logf("every batch final in validity mode %v after the start", time.Since(start).Round(time.Millisecond))

	// Chunk proofs swapped or reordered are refused: a batch of rollup 2, sequenced by the test
	// and proven by the surviving prover (the user's L1 nonces 0 and 1 went to depositKeys).
	checkChunkSwapRefused(t, cl, user, swapSeq, 2, vp, urls[survivor])
	t.Logf("swapped chunk proofs refused, in order accepted, %v after the start", time.Since(start).Round(time.Millisecond))
	stopAll(t, seq, provers[survivor], l1)
}

// finalTxs counts the transactions in the final batches of rollup 1, every one of which must
// be a validity batch, and returns the largest batch's count too.
func finalTxs(t *testing.T, cl *l1client.Client) (txs, largest uint64) {
	t.Helper()
	r, err := cl.Rollup(context.Background(), 1)
	if err != nil {
		t.Fatal(err)
	}
	for b := uint64(1); b <= r.FinalNumber; b++ {
		rec, err := cl.Batch(context.Background(), 1, b)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Mode != chain.ModeValidity {
			t.Fatalf("batch %d posted in mode %d under -mode validity", b, rec.Mode)
		}
		txs, largest = txs+rec.TxCount, max(largest, rec.TxCount)
	}
	return txs, largest
}
