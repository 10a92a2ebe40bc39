package sequencer

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l2"
)

const benchAccounts = 1024

// benchTxs caches signed transfers across runs: every run starts from a fresh sequencer whose
// deposits land at indices 0..benchAccounts-1, so the same bytes are valid each time.
var benchTxs struct {
	sync.Mutex
	keys []*l2.PrivateKey
	txs  [][]byte
}

// signedTransfers returns n transfers: transaction k is from account k%benchAccounts with nonce
// k/benchAccounts, to the next account, signed in parallel.
func signedTransfers(b *testing.B, n int) ([]*l2.PrivateKey, [][]byte) {
	benchTxs.Lock()
	defer benchTxs.Unlock()
	if benchTxs.keys == nil {
		benchTxs.keys = newKeys(b, benchAccounts, 42)
	}
	if have := len(benchTxs.txs); have < n {
		more := make([][]byte, n-have)
		var wg sync.WaitGroup
		workers := runtime.GOMAXPROCS(0)
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < len(more); j += workers {
					k := have + j
					from := uint32(k % benchAccounts)
					tx := l2.Tx{Type: l2.TxTransfer, From: from, To: (from + 1) % benchAccounts, Amount: 1, Nonce: uint64(k / benchAccounts)}
					more[j] = signed(b, benchTxs.keys[from], tx)
				}
			}()
		}
		wg.Wait()
		benchTxs.txs = append(benchTxs.txs, more...)
	}
	return benchTxs.keys, benchTxs.txs[:n]
}

// BenchmarkSequencerThroughput measures transfers per second end to end through the Go API of a
// running sequencer: decoding, signature check on the worker pool, mempool admission, group
// commit of the log (synced), block execution with the root computed, block stored (synced).
// "core" executes with the native core, "reference" with the Go reference state. ack-p50-ms
// and ack-p99-ms are percentiles of the time SendTransaction takes to acknowledge a transfer.
func BenchmarkSequencerThroughput(b *testing.B) {
	for _, kind := range []string{ExecutorCore, ExecutorReference} {
		b.Run(kind, func(b *testing.B) {
			keys, txs := signedTransfers(b, b.N)
			deps := &MemoryDepositSource{}
			for _, k := range keys {
				deps.Add(k.Public(), 1<<40)
			}
			s, err := New(Config{DataDir: b.TempDir(), ChainID: testChainID, Depth: l2.DefaultTreeDepth, Executor: kind,
				BlockInterval: 10 * time.Millisecond, MaxBlockTxs: 1024, SnapshotEvery: 1 << 30, Deposits: deps,
				CapacityHint: benchAccounts, Mempool: MempoolConfig{MaxTxs: 1 << 20, MaxPerSender: 1 << 20}})
			if err != nil {
				b.Fatal(err)
			}
			events, cancel := s.Subscribe()
			defer cancel()
			if err := s.Start(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer s.Stop()
			for s.Head().DepositEnd < benchAccounts {
				<-events
			}
			b.ResetTimer()
			start := time.Now()
			work := make(chan []byte, 1024)
			var wg sync.WaitGroup
			var mu sync.Mutex
			acks := make([]time.Duration, 0, b.N)
			for range 256 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var mine []time.Duration
					for raw := range work {
						t0 := time.Now()
						if _, err := s.SendTransaction(context.Background(), raw); err != nil {
							b.Error(err)
						}
						mine = append(mine, time.Since(t0))
					}
					mu.Lock()
					acks = append(acks, mine...)
					mu.Unlock()
				}()
			}
			go func() {
				for _, raw := range txs {
					work <- raw
				}
				close(work)
			}()
			included := 0
			for included < b.N {
				ev := <-events
				included += int(ev.Header.TxCount) - int(ev.Header.DepositEnd-ev.Header.DepositStart)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			wg.Wait()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
			b.ReportMetric(float64(s.Head().Number), "blocks")
			// The time from SendTransaction to its durable acknowledgement, under the full load.
			slices.Sort(acks)
			q := func(p float64) float64 { return float64(acks[int(p*float64(len(acks)-1))].Microseconds()) / 1e3 }
			b.ReportMetric(q(0.50), "ack-p50-ms")
			b.ReportMetric(q(0.99), "ack-p99-ms")
		})
	}
}

// BenchmarkVerifierPool is the ceiling of the signature stage alone: transfers per second
// through the worker pool, to compare with BenchmarkSequencerThroughput on the same machine.
func BenchmarkVerifierPool(b *testing.B) {
	keys, txs := signedTransfers(b, b.N)
	decoded := make([]l2.Tx, len(txs))
	for i, raw := range txs {
		decoded[i], _ = l2.DecodeTx(raw)
	}
	v := newVerifier(testChainID, runtime.GOMAXPROCS(0))
	defer v.stop()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(decoded); i += 64 {
				if ok, _ := v.verify(context.Background(), keys[decoded[i].From].Public(), nil, &decoded[i]); !ok {
					b.Error("invalid")
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
}

// BenchmarkChallenges is the batched challenge hashing per transaction (7 Poseidon2 compresses
// in 5 calls into the core per batch), against l2.Challenge in Go.
func BenchmarkChallenges(b *testing.B) {
	keys, txs := signedTransfers(b, 512)
	jobs := make([]*verifyJob, len(txs))
	for i, raw := range txs {
		tx, _ := l2.DecodeTx(raw)
		jobs[i] = &verifyJob{pk: keys[tx.From].Public(), tx: &tx}
	}
	for _, n := range []int{16, 64, 512} {
		b.Run(fmt.Sprintf("core-batch%d", n), func(b *testing.B) {
			h := txchallenge.NewHasher(testChainID)
			var checks []l2.SignatureCheck
			for i := 0; i < b.N; i += n {
				checks = challenges(h, checks, jobs[:n])
			}
		})
	}
	b.Run("go", func(b *testing.B) {
		for i := range b.N {
			j := jobs[i%len(jobs)]
			l2.Challenge(j.pk, testChainID, j.tx)
		}
	})
}
