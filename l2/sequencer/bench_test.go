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
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
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
			acked := sendAll(b, s, txs)
			included := 0
			for included < b.N {
				ev := <-events
				included += int(ev.Header.TxCount) - int(ev.Header.DepositEnd-ev.Header.DepositStart)
			}
			elapsed := time.Since(start)
			b.StopTimer()
			acks := <-acked
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
			b.ReportMetric(float64(s.Head().Number), "blocks")
			// The time from SendTransaction to its durable acknowledgement, under the full load.
			reportAcks(b, acks)
		})
	}
}

// sendAll sends txs to s from 256 goroutines at once and returns, once every one is answered,
// the time each took to be acknowledged.
func sendAll(b *testing.B, s *Sequencer, txs [][]byte) <-chan []time.Duration {
	work := make(chan []byte, 1024)
	var wg sync.WaitGroup
	var mu sync.Mutex
	acks := make([]time.Duration, 0, len(txs))
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
	done := make(chan []time.Duration, 1)
	go func() {
		wg.Wait()
		done <- acks
	}()
	return done
}

// reportAcks reports the 50th and 99th percentiles of the acknowledgement times.
func reportAcks(b *testing.B, acks []time.Duration) {
	slices.Sort(acks)
	q := func(p float64) float64 { return float64(acks[int(p*float64(len(acks)-1))].Microseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "ack-p50-ms")
	b.ReportMetric(q(0.99), "ack-p99-ms")
}

// BenchmarkVerifierPool is the ceiling of the signature stage alone: transfers per second
// through the worker pool, to compare with BenchmarkSequencerThroughput on the same machine;
// "eddsa" with EdDSA transfers (batched challenges and batch equations), "mldsa" with ML-DSA-65
// ones (each verified on its own, circl).
func BenchmarkVerifierPool(b *testing.B) {
	for _, kind := range []string{"eddsa", "mldsa"} {
		b.Run(kind, func(b *testing.B) {
			var txs [][]byte
			var pks []l2.PublicKey
			var pubs []*pqkey.PublicKey
			if kind == "mldsa" {
				var keys []*pqkey.PrivateKey
				keys, txs = signedMLDSATransfers(b, b.N)
				for _, k := range keys {
					pubs = append(pubs, k.Public())
					pks = append(pks, l2.MLDSAPublicKey(k.Public().Bytes()))
				}
			} else {
				var keys []*l2.PrivateKey
				keys, txs = signedTransfers(b, b.N)
				for _, k := range keys {
					pubs, pks = append(pubs, nil), append(pks, k.Public())
				}
			}
			decoded := make([]l2.Tx, len(txs))
			for i, raw := range txs {
				tx, err := l2.DecodeTx(raw[:l2.TxSize])
				if err != nil {
					b.Fatal(err)
				}
				if tx.Type.MLDSA() {
					tx.MLDSASig = raw[l2.TxSize:]
				}
				decoded[i] = tx
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
						from := decoded[i].From
						if ok, _ := v.verify(context.Background(), pks[from], pubs[from], &decoded[i]); !ok {
							b.Error("invalid")
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "tx/s")
		})
	}
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
			var hb hashBufs
			for i := 0; i < b.N; i += n {
				hb.hash(h, jobs[:n])
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

// benchPQ caches pre-signed ML-DSA-65 transfers, as benchTxs the EdDSA ones.
var benchPQ struct {
	sync.Mutex
	keys []*pqkey.PrivateKey
	txs  [][]byte
}

// signedMLDSATransfers returns n type 5 transfers laid out as signedTransfers' (transaction k
// from account k%benchAccounts, nonce k/benchAccounts, to the next account), each the record
// and its signature as rollup_sendTransaction takes it, signed in parallel.
func signedMLDSATransfers(b *testing.B, n int) ([]*pqkey.PrivateKey, [][]byte) {
	benchPQ.Lock()
	defer benchPQ.Unlock()
	if benchPQ.keys == nil {
		for i := range benchAccounts {
			var seed [pqkey.SeedSize]byte
			seed[0], seed[1], seed[2] = byte(i), byte(i>>8), 0x17
			benchPQ.keys = append(benchPQ.keys, pqkey.NewKeyFromSeed(seed))
		}
	}
	if have := len(benchPQ.txs); have < n {
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
					tx := l2.Tx{Type: l2.TxTransferMLDSA, From: from, To: (from + 1) % benchAccounts, Amount: 1, Nonce: uint64(k / benchAccounts)}
					more[j] = signedMLDSA(b, benchPQ.keys[from], testChainID, tx)
				}
			}()
		}
		wg.Wait()
		benchPQ.txs = append(benchPQ.txs, more...)
	}
	return benchPQ.keys, benchPQ.txs[:n]
}

// kindsExecutor is BenchmarkAdmissionKinds' executor.
const kindsExecutor = ExecutorCore

// BenchmarkAdmissionKinds compares the sequencer's admission of 100% EdDSA transfers with 100%
// ML-DSA-65 transfers in the same run (issue 17's target: ML-DSA ≥ 1× EdDSA). Pre-signed
// transfers go from 256 goroutines into a running sequencer through its Go API, timed from the
// first send to the last acknowledgement: decoding, the sender's key (and for ML-DSA its
// public key from the key book), the signature check on the worker pool, the mempool and the
// synced log. Once every transfer is in a block (untimed), batch-bytes/tx is the batch data
// per transfer as the blocks hold it (record, and signature for ML-DSA) and zstd-bytes/tx the
// same compressed as L1 receives it (l1api.CompressBatch, block by block).
func BenchmarkAdmissionKinds(b *testing.B) {
	for _, kind := range []string{"eddsa", "mldsa"} {
		b.Run(kind, func(b *testing.B) {
			deps := &MemoryDepositSource{}
			var txs [][]byte
			if kind == "mldsa" {
				var keys []*pqkey.PrivateKey
				keys, txs = signedMLDSATransfers(b, b.N)
				for _, k := range keys {
					deps.AddMLDSA(k.Public().Bytes(), 1<<40)
				}
			} else {
				var keys []*l2.PrivateKey
				keys, txs = signedTransfers(b, b.N)
				for _, k := range keys {
					deps.Add(k.Public(), 1<<40)
				}
			}
			s, err := New(Config{DataDir: b.TempDir(), ChainID: testChainID, Depth: l2.DefaultTreeDepth, Executor: kindsExecutor,
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
			acks := <-sendAll(b, s, txs)
			elapsed := time.Since(start)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "tx/s")
			reportAcks(b, acks)
			waitFor(b, "every transfer in a block", func() bool {
				s.txs.mu.Lock()
				defer s.txs.mu.Unlock()
				return s.txs.pool.len() == 0 && len(s.txs.landing) == 0
			})
			raw, packed, n := userBatchBytes(b, s)
			if n != b.N {
				b.Fatalf("%d transfers in blocks, %d sent", n, b.N)
			}
			b.ReportMetric(float64(raw)/float64(n), "batch-bytes/tx")
			b.ReportMetric(float64(packed)/float64(n), "zstd-bytes/tx")
		})
	}
}

// userBatchBytes sums the batch data of the user transactions of s's blocks (deposits left
// out), as stored and compressed block by block, and counts them.
func userBatchBytes(b *testing.B, s *Sequencer) (raw, packed, n int) {
	for h := uint64(1); h <= s.Head().Number; h++ {
		blk, err := s.Block(h)
		if err != nil || blk == nil {
			b.Fatalf("block %d: %v", h, err)
		}
		d := int(blk.Header.DepositEnd - blk.Header.DepositStart)
		user := &Block{Data: blk.Data[d*l2.TxSize:]}
		if blk.Sigs != nil {
			user.Sigs = blk.Sigs[d:]
		}
		if len(user.Data) == 0 {
			continue
		}
		data := user.BatchData()
		frame, err := l1api.CompressBatch(data)
		if err != nil {
			b.Fatal(err)
		}
		raw, packed, n = raw+len(data), packed+len(frame), n+len(user.Data)/l2.TxSize
	}
	return raw, packed, n
}
