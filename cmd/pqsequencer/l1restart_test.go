package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/rpc"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// l1Restarts is how many times the gate test kills and restarts the L1 node.
const l1Restarts = 5

// TestL1RestartEveryDaemonRecovers runs pql1node, pqsequencer (-devnet, optimistic) and
// pqchallenger as processes with L2 transfers flowing, and kills the L1 node with SIGKILL and
// restarts it (same datadir, same port) l1Restarts times. While it is down L2 blocks go on;
// after each restart the sequencer and the challenger, never restarted, become ready again and a
// new batch finalizes on L1. After the last restart a batch with an injected fraud is posted and
// the challenger's challenge is upheld. Every acknowledged L2 transfer ends up in a block.
func TestL1RestartEveryDaemonRecovers(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBins(t)
	validator, seqKey, user, chKey := e2eKey(0), e2eKey(1), e2eKey(2), e2eKey(3)
	valPub := proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	genesis := restartGenesis(t, seqKey.Address(), user.Address(), chKey.Address())
	l1, l1Addr, cl := startL1(t, bin, dir, validator, genesis)
	// The restarted node: the same datadir, key and genesis, on the same port.
	restartL1 := func() *daemon {
		t.Helper()
		d := startDaemon(t, filepath.Join(bin, "pql1node"), nil, l1Args(t, dir, validator, genesis, l1Addr)...)
		if got := d.Addr(t); got != l1Addr {
			t.Fatalf("restarted L1 node listens on %s, want %s", got, l1Addr)
		}
		return d
	}

	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), nil, "-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain),
		"-validator-pubkey-file", valPub, "-sequencer-key-file", proctest.SeedFile(t, dir, "sequencer.key", seqKey),
		"-rollup", "1", "-mode", "optimistic", "-devnet", "-batch-interval", "200ms", "-block-interval", "20ms",
		"-listen", "127.0.0.1:0", "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0")
	rc, err := rpc.Dial("http://" + seq.Addr(t))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	ch := startChallenger(t, bin, dir, l1Addr, valPub, chKey)
	ch.Line(t, "watching rollup ")

	keys := depositKeys(t, cl, user)
	waitDeposited(t, rc)
	load := startTransfers(t, rc, keys)

	for round := 1; round <= l1Restarts; round++ {
		if err := l1.Kill(); err != nil {
			t.Fatal(err)
		}
		// L2 blocks do not wait on L1: transfers sent now are included while it is down.
		sent := load.acked()
		proctest.WaitFor(t, fmt.Sprintf("round %d: L2 blocks with L1 down", round), proctest.Timeout, func() bool {
			return load.included(t) >= sent+2
		})
		if round == 1 { // readiness names the lost node once the connection is given up
			for _, d := range []*daemon{seq, ch} {
				proctest.WaitFor(t, d.Name()+" not ready with L1 down", proctest.Timeout, func() bool {
					return strings.Contains(d.get(t, "/readyz"), "l1 disconnected: "+l1Addr)
				})
			}
		}
		l1 = restartL1()
		// Each daemon finds the restarted node, redials and is ready again. A request on the old
		// connection draws a stateless reset from the restarted node (the sequencer's settlement
		// steps, the challenger's readiness check); keep-alives are too small to, so a connection
		// that only listens finds out at its idle timeout.
		for _, d := range []*daemon{seq, ch} {
			series := d.Name() + "_l1_reconnects_total"
			proctest.WaitFor(t, fmt.Sprintf("round %d: %s reconnected and ready", round, d.Name()), proctest.Timeout, func() bool {
				ready := strings.HasPrefix(d.get(t, "/readyz"), "ready")
				m := d.get(t, "/metrics")
				n, ok := metricValue(m, series)
				up, _ := metricValue(m, strings.Replace(series, "reconnects_total", "connected", 1))
				return ready && ok && n >= float64(round) && up == 1
			})
		}
		// A batch the sequencer posts after the restart finalizes.
		var head uint64
		proctest.WaitFor(t, fmt.Sprintf("round %d: the rollup's head on the restarted node", round), proctest.Timeout, func() bool {
			var ok bool
			head, _, ok = rollupHead(cl)
			return ok
		})
		proctest.WaitFor(t, fmt.Sprintf("round %d: batch %d final", round, head+1), proctest.Timeout, func() bool {
			_, final, ok := rollupHead(cl)
			return ok && final > head
		})
		t.Logf("round %d: L1 killed and restarted, batch %d posted after it is final", round, head+1)
	}

	// A fraud after the last restart: the challenger proves it, L1 reverts the batch, and the
	// honest repost finalizes.
	var injected InjectFaultResult
	if err := rc.Call(&injected, "devnet_injectFault", "wrong-balance"); err != nil {
		t.Fatal(err)
	}
	proctest.WaitFor(t, fmt.Sprintf("the challenge of batch %d upheld", injected.Batch), proctest.Timeout, func() bool {
		v, ok := metricValue(ch.get(t, "/metrics"), "pqchallenger_challenges_upheld_total")
		return ok && v >= 1
	})
	proctest.WaitFor(t, fmt.Sprintf("batch %d final again, honest", injected.Batch), proctest.Timeout, func() bool {
		_, final, ok := rollupHead(cl)
		return ok && final >= injected.Batch
	})
	if v, ok := metricValue(seq.get(t, "/metrics"), "pqsequencer_settlement_reverts_total"); !ok || v < 1 {
		t.Fatalf("pqsequencer_settlement_reverts_total = %v (present %v), want the fraudulent batch's revert", v, ok)
	}

	acked := load.stop()
	proctest.WaitFor(t, "every acknowledged transfer in a block", proctest.Timeout, func() bool {
		return load.included(t) == acked
	})
	t.Logf("%d L2 transfers acknowledged and included across %d L1 restarts", acked, l1Restarts)
	stopAll(t, ch, seq, l1)
}

// restartGenesis funds the sequencer, a user and the challenger and registers rollup 1 with a
// 20-block (2 s) challenge window: batches finalize within the tests, the challenger has time.
func restartGenesis(t *testing.T, seq, user, ch common.Address) []byte {
	t.Helper()
	genesis, err := json.Marshal(map[string]any{
		"alloc": []map[string]any{{"address": seq, "balance": 1 << 30}, {"address": user, "balance": 1 << 30}, {"address": ch, "balance": 1 << 30}},
		"rollups": []map[string]any{{"l2ChainId": e2eL2Chain, "treeDepth": 8, "batchSize": 16, "sequencerBond": 1000,
			"challengeWindow": 20, "forcedInclusionWindow": 1000, "exodusTimeout": 100000, "sequencers": []common.Address{seq}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return genesis
}

// TestDaemonsWaitForL1: a sequencer and a challenger started while their L1 node is down wait
// for it, saying so in their logs and not ready, and start once it is back.
func TestDaemonsWaitForL1(t *testing.T) {
	dir := t.TempDir()
	bin := daemonBins(t)
	validator, seqKey, user, chKey := e2eKey(0), e2eKey(1), e2eKey(2), e2eKey(3)
	valPub := proctest.WriteFile(t, dir, "validator.pub", hex.EncodeToString(validator.Public().Bytes()))
	genesis := restartGenesis(t, seqKey.Address(), user.Address(), chKey.Address())
	l1, l1Addr, _ := startL1(t, bin, dir, validator, genesis) // the rollup registered, then down
	if err := l1.Stop(); err != nil {
		t.Fatal(err)
	}
	seq := startDaemon(t, filepath.Join(bin, "pqsequencer"), nil, "-l1", l1Addr, "-l1-chain-id", fmt.Sprint(e2eL1Chain),
		"-validator-pubkey-file", valPub, "-sequencer-key-file", proctest.SeedFile(t, dir, "sequencer.key", seqKey),
		"-rollup", "1", "-mode", "optimistic", "-listen", "127.0.0.1:0", "-datadir", filepath.Join(dir, "seq"), "-metrics", "127.0.0.1:0")
	ch := startChallenger(t, bin, dir, l1Addr, valPub, chKey)
	for _, d := range []*daemon{seq, ch} {
		proctest.WaitFor(t, d.Name()+" saying it waits for L1", proctest.Timeout, func() bool {
			return strings.Contains(d.Stderr(), `msg="waiting for the L1 node"`) && strings.Contains(d.Stderr(), "endpoint="+l1Addr)
		})
		if body := d.get(t, "/readyz"); strings.HasPrefix(body, "ready") {
			t.Fatalf("%s ready without L1: %q", d.Name(), body)
		}
	}
	l1 = startDaemon(t, filepath.Join(bin, "pql1node"), nil, l1Args(t, dir, validator, genesis, l1Addr)...)
	seq.Line(t, "listening on ")
	ch.Line(t, "watching rollup ")
	for _, d := range []*daemon{seq, ch} {
		proctest.WaitFor(t, d.Name()+" ready", proctest.Timeout, func() bool { return strings.HasPrefix(d.get(t, "/readyz"), "ready") })
	}
	stopAll(t, ch, seq, l1)
}

// rollupHead is the rollup's last posted and last final batch on L1; ok is false while the
// node cannot be reached.
func rollupHead(cl *l1client.Client) (head, final uint64, ok bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := cl.Rollup(ctx, 1)
	if err != nil {
		return 0, 0, false
	}
	return r.HeadNumber, r.FinalNumber, true
}

// transfers sends L2 transfers of 1 back and forth between accounts 0 and 1, one every 30 ms,
// until stopped; it counts the ones the sequencer acknowledged.
type transfers struct {
	rc   *rpc.Client
	done chan struct{}
	wg   sync.WaitGroup

	mu     sync.Mutex
	nonces [2]uint64 // acknowledged transfers from each account
}

func startTransfers(t *testing.T, rc *rpc.Client, keys []*l2.PrivateKey) *transfers {
	l := &transfers{rc: rc, done: make(chan struct{})}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-l.done:
				return
			case <-time.After(30 * time.Millisecond):
			}
			from := i % 2
			l.mu.Lock()
			tx := l2.Tx{Type: l2.TxTransfer, From: uint32(from), To: uint32(1 - from), Amount: 1, Nonce: l.nonces[from]}
			l.mu.Unlock()
			if err := l2.SignTx(keys[from], e2eL2Chain, &tx); err != nil {
				t.Error(err)
				return
			}
			raw := tx.Encode()
			var hash common.Hash
			if err := rc.Call(&hash, "rollup_sendTransaction", hexutil.Bytes(raw[:])); err != nil {
				t.Errorf("transfer %d refused: %v", i, err)
				return
			}
			l.mu.Lock()
			l.nonces[from]++
			l.mu.Unlock()
		}
	}()
	return l
}

// acked is how many transfers the sequencer acknowledged so far.
func (l *transfers) acked() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nonces[0] + l.nonces[1]
}

// included is how many transfers are in blocks: the accounts' nonces on L2.
func (l *transfers) included(t *testing.T) uint64 {
	t.Helper()
	var n uint64
	for i := range 2 {
		var a sequencer.RPCAccount
		if err := l.rc.Call(&a, "rollup_getAccount", i); err != nil {
			t.Fatalf("rollup_getAccount %d: %v", i, err)
		}
		n += uint64(a.Nonce)
	}
	return n
}

// stop ends the transfers and returns how many were acknowledged.
func (l *transfers) stop() uint64 {
	close(l.done)
	l.wg.Wait()
	return l.acked()
}
