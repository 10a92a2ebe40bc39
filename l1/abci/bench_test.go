package abci

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// The L1 consensus benchmark's sizes (make bench, step l1consensus): commits timed one by one
// for the latency, and transfers sent at once for the throughput, each from its own account (a
// proposal takes CometBFT's mempool in its order, so one sender's later nonces could reach a
// proposer first and fail: docs/l1.md §9).
const (
	envBenchCommits = "PQBRIDGE_BENCH_L1_COMMITS" // default 30
	envBenchBurst   = "PQBRIDGE_BENCH_L1_TXS"     // default 1024
	burstPerSender  = 1
	benchInterval   = 150 * time.Millisecond // CometBFT's timeout_commit, the single node's block interval
)

// commitTarget is an L1 under benchmark: where transactions are submitted and the nodes on
// which a transaction counts as committed once all of them hold it.
type commitTarget struct {
	submit func(raw []byte) error
	nodes  []*node.Node
}

// BenchmarkConsensusCommit measures L1 commit latency (a transfer submitted to one validator →
// included on every validator; p50 and p90 over sequential transfers) and throughput (a burst
// of transfers from many senders, submitted concurrently, → all included on every validator) for
// 4 and 1 in-process CometBFT validators on loopback (timeout_commit 150 ms) and for the
// single-validator node (a block every 150 ms), in the same run. b.N is not used: each
// sub-benchmark measures once (run it with -benchtime 1x).
func BenchmarkConsensusCommit(b *testing.B) {
	commits, burst := envInt(b, envBenchCommits, 30), envInt(b, envBenchBurst, 1024)
	senders := make([]*pqkey.PrivateKey, max(1, burst/burstPerSender))
	var alloc []chain.Alloc
	for i := range senders {
		senders[i] = pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xb0, byte(i >> 8), byte(i)})
		alloc = append(alloc, chain.Alloc{Address: senders[i].Address(), Balance: 1_000_000})
	}
	user := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xee}) // the harness's funded user
	for _, size := range []int{4, 1} {
		b.Run(fmt.Sprintf("validators=%d", size), func(b *testing.B) {
			tn := newTestNetAlloc(b, size, alloc)
			tn.waitHeight(2, time.Minute)
			target := commitTarget{submit: func(raw []byte) error { _, err := tn.nodes[size-1].n.SubmitTx(raw); return err }}
			for _, v := range tn.nodes {
				target.nodes = append(target.nodes, v.n)
			}
			benchCommits(b, target, user, senders, commits)
		})
	}
	b.Run("single-node", func(b *testing.B) {
		g := chain.Genesis{ChainID: testChainID, Validator: user.Public().Bytes(), Timestamp: 1_700_000_000_000,
			Alloc: append([]chain.Alloc{{Address: user.Address(), Balance: 1_000_000}}, alloc...)}
		n, err := node.New(node.Config{Dir: b.TempDir(), Genesis: g, Key: user, BlockInterval: benchInterval})
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		if err := n.Start(ctx); err != nil {
			b.Fatal(err)
		}
		defer func() {
			if err := n.Stop(); err != nil {
				b.Error(err)
			}
		}()
		benchCommits(b, commitTarget{submit: func(raw []byte) error { _, err := n.SubmitTx(raw); return err }, nodes: []*node.Node{n}},
			user, senders, commits)
	})
}

// benchCommits times commits sequential transfers of user, then a burst of burstPerSender
// transfers from each sender (signed before the clock starts), and reports p50-ms, p90-ms and
// tx/s.
func benchCommits(b *testing.B, target commitTarget, user *pqkey.PrivateKey, senders []*pqkey.PrivateKey, commits int) {
	to := common.HexToAddress("0xbe4c")
	sign := func(k *pqkey.PrivateKey, nonce uint64) []byte {
		raw, err := chain.SignTx(k, chain.TxTransfer, testChainID, nonce, &chain.Transfer{To: to, Amount: 1})
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	var lat []time.Duration
	b.ResetTimer()
	for i := range commits {
		raw := sign(user, uint64(i))
		start := time.Now()
		if err := target.submit(raw); err != nil {
			b.Fatalf("transfer %d: %v", i, err)
		}
		waitNonces(b, target.nodes, []*pqkey.PrivateKey{user}, uint64(i+1))
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*9/10].Microseconds())/1000, "p90-ms")

	b.StopTimer()
	raws := make([][][]byte, len(senders))
	for i, k := range senders {
		for nonce := range uint64(burstPerSender) {
			raws[i] = append(raws[i], sign(k, nonce))
		}
	}
	b.StartTimer()
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, len(senders))
	const submitters = 16
	for w := range submitters {
		wg.Go(func() {
			for i := w; i < len(senders); i += submitters {
				for nonce, raw := range raws[i] {
					if err := target.submit(raw); err != nil {
						errs <- fmt.Errorf("sender %d, nonce %d: %w", i, nonce, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	waitNonces(b, target.nodes, senders, burstPerSender)
	b.ReportMetric(float64(len(senders)*burstPerSender)/time.Since(start).Seconds(), "tx/s")
}

// waitNonces polls until every key's account has nonce on every node.
func waitNonces(b *testing.B, nodes []*node.Node, keys []*pqkey.PrivateKey, nonce uint64) {
	deadline := time.Now().Add(2 * time.Minute)
	for next := 0; next < len(keys); {
		done := true
		for _, n := range nodes {
			a, err := n.Account(keys[next].Address())
			if err != nil {
				b.Fatal(err)
			}
			done = done && a.Nonce >= nonce
		}
		if done {
			next++
			continue
		}
		if time.Now().After(deadline) {
			b.Fatalf("account %s has not reached nonce %d on every node within 2 minutes", keys[next].Address(), nonce)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// envInt reads a positive integer from the environment, def if unset.
func envInt(b *testing.B, name string, def int) int {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := strconv.Atoi(s)
	if err != nil || v <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return v
}
