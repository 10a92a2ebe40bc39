package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/rollupapi"
)

// haltObservation is how long the two validators left after two SIGKILLs are watched for a
// commit that must not come: with timeout_commit 150 ms a running set commits several blocks a
// second.
const haltObservation = 3 * time.Second

// TestValidatorSetSettle (issue 15's TestValidatorSet gate, with processes): 4 pql1node
// -consensus cometbft validators, a rollup registered at genesis and a real pqsequencer
// (optimistic, a 2-block challenge window) given all 4 endpoints in -l1 and the set in
// -l1-validators. Deposits and a transfer flow; validator 0 — the first in -l1, the one the
// sequencer is connected to — SIGKILLed → blocks go on, the sequencer moves to another
// validator, and a batch it posts after the kill finalizes, read from two surviving validators.
// Validator 1 SIGKILLed too (2 of 4 down): the two left commit nothing for haltObservation
// (heights still, no certificate above the last, the same block at every height on both); a
// transfer sent meanwhile waits. Both restarted on their datadirs: the chain resumes, the waiting
// transfer's batch finalizes, and all four hold identical blocks (so state roots) at every
// height, read over QUIC.
func TestValidatorSetSettle(t *testing.T) {
	dir := t.TempDir()
	bins := setBins(t)
	seqKey, user := testKey(210), testKey(211)
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seqKey.Address(), "balance": 1 << 30}, {"address": user.Address(), "balance": 1 << 30}},
		"rollups": []map[string]any{{"l2ChainId": 7, "treeDepth": 8, "batchSize": 16, "sequencerBond": 1000,
			"challengeWindow": 2, "forcedInclusionWindow": 1000, "exodusTimeout": 10000, "sequencers": []common.Address{seqKey.Address()}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	set := startValidatorSet(t, filepath.Join(bins, "pql1node"), dir, 4, "-genesis", proctest.WriteFile(t, dir, "genesis.json", string(genesis)))
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	proctest.WaitFor(t, "the genesis rollup registered on the set", 60*time.Second, func() bool {
		_, err := set[1].c.Rollup(ctx, 1)
		return err == nil
	})

	var addrs []string
	for _, v := range set {
		addrs = append(addrs, v.p.Addr(t))
	}
	seq := proctest.Start(t, filepath.Join(bins, "pqsequencer"), nil, "-l1", strings.Join(addrs, ","),
		"-l1-chain-id", fmt.Sprint(setChainID), "-l1-validators", filepath.Join(dir, "validators.json"),
		"-sequencer-key-file", proctest.SeedFile(t, dir, "sequencer.key", seqKey), "-rollup", "1", "-mode", "optimistic",
		"-batch-interval", "200ms", "-block-interval", "20ms", "-listen", "127.0.0.1:0", "-datadir", filepath.Join(dir, "seq"))
	rc, err := rpc.Dial("http://" + seq.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	keys := setDeposits(ctx, t, set[1].c, user)
	for i := range 2 {
		waitL2Balance(t, rc, uint32(i), 1000)
	}

	// (a) One validator SIGKILLed, the sequencer's: blocks go on and a batch posted after the
	// kill, so through another validator, finalizes.
	if err := set[0].p.Kill(); err != nil {
		t.Fatal(err)
	}
	set[0].c.Close()
	set[0].c = nil
	killed := waitSetHeight(ctx, t, set, 0)
	tx := sendL2Transfer(t, rc, keys[0], 0, 25) // sent after the kill: its batch goes to another validator
	waitL2Balance(t, rc, 1, 1025)
	waitL2Final(t, rc, tx)
	n := waitFinalAfter(ctx, t, set[1].c, killed)
	t.Logf("validator 0 down from height %d: batch %d posted after it is final on validator 1", killed, n)
	if b, err := set[2].c.Batch(ctx, 1, n); err != nil || b.SubmittedAt <= killed {
		t.Fatalf("batch %d on validator 2: %+v, %v", n, b, err)
	}

	// (b) A second one SIGKILLed: 2 of 4 hold no more than 2/3 of the stake; nothing commits.
	if err := set[1].p.Kill(); err != nil {
		t.Fatal(err)
	}
	set[1].c.Close()
	set[1].c = nil
	halted := waitHalted(ctx, t, set[2:])
	tx = sendL2Transfer(t, rc, keys[0], 1, 5) // posted by the sequencer, included only after the restart
	waitL2Balance(t, rc, 1, 1030)
	deadline := time.Now().Add(haltObservation)
	for time.Now().Before(deadline) {
		for i, v := range set[2:] {
			st, err := v.c.Status(ctx)
			if err != nil {
				t.Fatalf("validator %d while halted: %v", i, err)
			}
			if st.Height != halted {
				t.Fatalf("validator %d committed height %d with 2 of 4 validators down (halted at %d)", i, st.Height, halted)
			}
		}
		time.Sleep(200 * time.Millisecond) // sampling the heights, not synchronising
	}
	for i, v := range set[2:] {
		// Height h's certificate is in block h+2: the last one is of halted-2.
		if _, err := v.c.Certificate(ctx, halted-2); err != nil {
			t.Fatalf("validator %d: certificate of height %d: %v", i, halted-2, err)
		}
		for h := halted - 1; h <= halted+1; h++ {
			if _, err := v.c.Certificate(ctx, h); !errors.Is(err, chain.ErrNotFound) {
				t.Fatalf("validator %d while halted: certificate of height %d: %v, want chain.ErrNotFound", i, h, err)
			}
		}
	}
	compareBlocks(ctx, t, set[2:], halted)
	t.Logf("halted at height %d for %v with validators 0 and 1 down", halted, haltObservation)

	for _, i := range []int{0, 1} {
		set[i].p = proctest.Start(t, filepath.Join(bins, "pql1node"), nil, set[i].args...)
		set[i].c = dialValidator(ctx, t, set[i])
	}
	resumed := waitSetHeight(ctx, t, set, halted+3)
	waitL2Final(t, rc, tx)
	n = waitFinalAfter(ctx, t, set[0].c, halted)
	t.Logf("resumed: every validator at height %d or more; batch %d posted during the halt final", resumed, n)
	compareBlocks(ctx, t, set, waitSetHeight(ctx, t, set, 0))

	if err := seq.Stop(); err != nil {
		t.Error(err)
	}
	for i, v := range set {
		v.c.Close()
		if err := v.p.Stop(); err != nil {
			t.Errorf("validator %d: %v", i, err)
		}
	}
}

// setDeposits makes two L2 keys and deposits 1000 for each on L1 from user, through c: L2
// accounts 0 and 1.
func setDeposits(ctx context.Context, t *testing.T, c *l1client.Client, user *pqkey.PrivateKey) []*l2.PrivateKey {
	t.Helper()
	var keys []*l2.PrivateKey
	for i := range 2 {
		k, err := l2.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{byte(i + 1)}, 64)))
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
		pk := k.Public()
		raw, err := chain.SignTx(user, chain.TxDeposit, setChainID, uint64(i), &chain.Deposit{RollupID: 1, Amount: 1000,
			PKX: pk.X.Bytes(), PKY: pk.Y.Bytes()})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SubmitTx(ctx, raw); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

// sendL2Transfer sends amount from L2 account 0 to account 1 with nonce and returns its hash.
func sendL2Transfer(t *testing.T, rc *rpc.Client, key *l2.PrivateKey, nonce uint64, amount uint64) common.Hash {
	t.Helper()
	tx := l2.Tx{Type: l2.TxTransfer, From: 0, To: 1, Amount: amount, Nonce: nonce}
	if err := l2.SignTx(key, 7, &tx); err != nil {
		t.Fatal(err)
	}
	raw := tx.Encode()
	var hash common.Hash
	if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(raw[:])); err != nil {
		t.Fatalf("L2 transfer %d: %v", nonce, err)
	}
	return hash
}

// waitL2Final waits until the L2 block holding transaction hash is final on L1 (the sequencer's
// settlement status, which it reads from L1).
func waitL2Final(t *testing.T, rc *rpc.Client, hash common.Hash) {
	t.Helper()
	proctest.WaitFor(t, fmt.Sprintf("L2 transaction %s final on L1", hash), 60*time.Second, func() bool {
		var r rollupapi.Receipt
		if err := rc.Call(&r, "rollup_getReceipt", hash); err != nil || !r.Included || r.Block == nil {
			return false
		}
		var st rollupapi.Status
		return rc.Call(&st, "rollup_getStatus", *r.Block) == nil && st.Settlement == "final"
	})
}

// waitL2Balance waits for L2 account i to hold balance at the sequencer.
func waitL2Balance(t *testing.T, rc *rpc.Client, i uint32, balance uint64) {
	t.Helper()
	proctest.WaitFor(t, fmt.Sprintf("L2 account %d holding %d", i, balance), 60*time.Second, func() bool {
		var a rollupapi.Account
		return rc.Call(&a, "rollup_getAccount", i) == nil && a.Exists && uint64(a.Balance) == balance
	})
}

// waitFinalAfter waits until rollup 1's last final batch, read through c, was submitted after
// height, and returns its number.
func waitFinalAfter(ctx context.Context, t *testing.T, c *l1client.Client, height uint64) uint64 {
	t.Helper()
	var n uint64
	proctest.WaitFor(t, fmt.Sprintf("a batch submitted after height %d final on L1", height), 60*time.Second, func() bool {
		r, err := c.Rollup(ctx, 1)
		if err != nil || r.FinalNumber == 0 {
			return false
		}
		b, err := c.Batch(ctx, 1, r.FinalNumber)
		n = r.FinalNumber
		return err == nil && b.SubmittedAt > height
	})
	return n
}

// waitHalted waits until the validators of set agree on a height that then stays for a second
// (a height in flight at the kill may still commit), and returns it.
func waitHalted(ctx context.Context, t *testing.T, set []*setValidator) uint64 {
	t.Helper()
	var h uint64
	var since time.Time
	proctest.WaitFor(t, "the validators left on one height", 30*time.Second, func() bool {
		var hs []uint64
		for _, v := range set {
			st, err := v.c.Status(ctx)
			if err != nil {
				return false
			}
			hs = append(hs, st.Height)
		}
		for _, x := range hs[1:] {
			if x != hs[0] {
				return false
			}
		}
		if hs[0] != h {
			h, since = hs[0], time.Now()
			return false
		}
		return time.Since(since) >= time.Second
	})
	return h
}

// compareBlocks wants every validator of set to hold the same block, so the same state root, at
// every height from 1 to h.
func compareBlocks(ctx context.Context, t *testing.T, set []*setValidator, h uint64) {
	t.Helper()
	for height := uint64(1); height <= h; height++ {
		var want *chain.SealedBlock
		for i, v := range set {
			b, err := v.c.Block(ctx, height)
			if err != nil {
				t.Fatalf("validator %d, block %d: %v", i, height, err)
			}
			if i == 0 {
				want = b
			} else if b.Header.Hash() != want.Header.Hash() || b.Header.StateRoot != want.Header.StateRoot {
				t.Fatalf("validator %d holds block %d %s (state root %x), validator 0 %s (%x)", i, height,
					b.Header.Hash(), b.Header.StateRoot, want.Header.Hash(), want.Header.StateRoot)
			}
		}
	}
}
