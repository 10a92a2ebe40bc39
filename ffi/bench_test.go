package ffi

import (
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l2/l2test"
)

// Benchmarks of the core through the binding. Signatures are not checked (the core never does).
//
//	go test ./ffi -run '^$' -bench . -benchmem

const (
	benchDepth    = 24
	benchAccounts = 100_000
	benchSeed     = 1
)

// benchCore is the depth-24 state with 100k accounts shared by the ApplyBatch benchmarks,
// built once per process. Every benchmark run then draws fresh transfer batches from the same
// workload, which follows nonces and balances, so every transaction of every batch applies.
var benchCore = sync.OnceValues(func() (*benchState, error) {
	w := l2test.NewWorkload(benchSeed, benchDepth, benchAccounts)
	c, err := New(benchDepth, benchAccounts)
	if err != nil {
		return nil, err
	}
	var out BatchOutput
	for i, data := range w.GenesisBatches() {
		if err := c.ApplyBatch(data, &out); err != nil {
			return nil, fmt.Errorf("genesis batch %d: %w", i, err)
		}
		if out.Rejected != 0 {
			return nil, fmt.Errorf("genesis batch %d: %d deposits rejected", i, out.Rejected)
		}
	}
	return &benchState{core: c, workload: w}, nil
})

type benchState struct {
	core     *Core
	workload *l2test.Workload
}

func benchSetup(b *testing.B) *benchState {
	b.Helper()
	s, err := benchCore()
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// applyTransferBatches applies b.N pre-generated batches of size transfers each (generation not
// timed) with ApplyBatch and reports throughput.
func applyTransferBatches(b *testing.B, s *benchState, size int) {
	applyTransferBatchesWith(b, s, size, s.core.ApplyBatch)
}

// applyTransferBatchesWith is applyTransferBatches with another way to apply a batch.
func applyTransferBatchesWith(b *testing.B, s *benchState, size int, apply func(txs []byte, out *BatchOutput) error) {
	batches := make([][]byte, b.N)
	for i := range batches {
		batches[i] = s.workload.TransferBatch(size)
	}
	var out BatchOutput
	out.resize(size) // the steady state: a reused output already large enough
	rejected := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range batches {
		if err := apply(batches[i], &out); err != nil {
			b.Fatal(err)
		}
		rejected += out.Rejected
	}
	b.StopTimer()
	if rejected != 0 {
		b.Fatalf("%d transfers rejected: the benchmark state is out of step with its workload", rejected)
	}
	txs := float64(b.N * size)
	b.ReportMetric(txs/b.Elapsed().Seconds(), "tx/s")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/txs, "ns/tx")
}

// BenchmarkCoreApplyBatch applies one batch of 1,024 valid transfers per op to a depth-24 state
// of 100k accounts.
func BenchmarkCoreApplyBatch(b *testing.B) {
	s := benchSetup(b)
	applyTransferBatches(b, s, 1024)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
}

// BenchmarkCoreApplyBatchWitness applies batches of valid transfers with Merkle witnesses, as the
// validity prover does, to the depth-24 state of 100k accounts: 16 transfers (the smallest
// proving batch) and 256.
func BenchmarkCoreApplyBatchWitness(b *testing.B) {
	s := benchSetup(b)
	for _, size := range []int{16, 256} {
		b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
			var w BatchWitness
			w.resize(size, benchDepth) // the steady state, as for the output
			applyTransferBatchesWith(b, s, size, func(txs []byte, out *BatchOutput) error {
				return s.core.ApplyBatchWitness(txs, out, &w)
			})
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/op")
		})
	}
}

// BenchmarkCoreApplyBatchSizes shows how the fixed cost of a call (the cgo transition, the
// lock, the trace and withdrawal list roots) spreads over the batch: cgo_share_% is the
// measured cost of a no-op cgo call (BenchmarkCgoOverhead) as a share of the batch's time.
func BenchmarkCoreApplyBatchSizes(b *testing.B) {
	s := benchSetup(b)
	noop := cgoNoopNanos()
	for _, size := range []int{1, 4, 16, 64, 256, 1024, 4096} {
		b.Run(fmt.Sprintf("txs=%d", size), func(b *testing.B) {
			applyTransferBatches(b, s, size)
			perOp := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
			b.ReportMetric(100*noop/perOp, "cgo_share_%")
		})
	}
}

// cgoNoopNanos measures the cost of the cheapest call into the core, as BenchmarkCgoOverhead
// does, for the share metric of BenchmarkCoreApplyBatchSizes.
var cgoNoopNanos = sync.OnceValue(func() float64 {
	c, err := New(8, 0)
	if err != nil {
		panic(err)
	}
	defer c.Close()
	const calls = 1_000_000
	start := time.Now()
	for range calls {
		if _, err := c.coreDepth(); err != nil {
			panic(err)
		}
	}
	return float64(time.Since(start).Nanoseconds()) / calls
})

// BenchmarkCgoOverhead measures the fixed cost of one call into the core: pq_core_depth through
// the binding (read lock, cgo transition, handle check, status check), and for comparison
// pq_poseidon2_impl, which takes no handle and no lock.
func BenchmarkCgoOverhead(b *testing.B) {
	c := newTestCore(b, 8)
	b.Run("core_depth", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.coreDepth(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("poseidon2_impl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if Poseidon2Impl() == "" {
				b.Fatal("no implementation name")
			}
		}
	})
}

// BenchmarkPoseidon2CompressCore compresses independent pairs in calls of 1,024 pairs; ns/op
// is the time of one hash (b.N hashes in total), for each implementation.
func BenchmarkPoseidon2CompressCore(b *testing.B) {
	const pairs = 1024
	lefts, rights, out := make([]byte, 32*pairs), make([]byte, 32*pairs), make([]byte, 32*pairs)
	for i := 0; i < pairs; i++ {
		lefts[32*i+31], rights[32*i+30], rights[32*i+31] = byte(i), byte(i>>8), byte(i)
	}
	for _, portable := range []bool{false, true} {
		ForcePortablePoseidon2(portable)
		name := Poseidon2Impl()
		ForcePortablePoseidon2(false)
		if !portable && name == "portable" {
			continue // no faster path on this CPU: the second run measures it
		}
		b.Run(name, func(b *testing.B) {
			ForcePortablePoseidon2(portable)
			defer ForcePortablePoseidon2(false)
			b.ReportAllocs()
			b.ResetTimer()
			for done := 0; done < b.N; done += pairs {
				n := min(pairs, b.N-done)
				if err := Poseidon2CompressBatch(lefts[:32*n], rights[:32*n], out[:32*n]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// restoreSeed is the seed of l2's BenchmarkReferenceRestore: both restore the same accounts.
const restoreSeed = 42

// BenchmarkCoreRestore is the core side of a restart: Restore of a depth-24 snapshot of n
// accounts (the image checked, every hash recomputed). The snapshot is made once per size, by
// deposits, and not timed. rss_MB is the resident memory the restored core adds to the process
// (the core maps its memory directly, so RSS sees it), snapshot_MB the image size.
func BenchmarkCoreRestore(b *testing.B) {
	for _, n := range []int{1 << 14, 1 << 17, 1 << 20} {
		b.Run(fmt.Sprintf("accounts=%d", n), func(b *testing.B) {
			img := restoreImage(b, n)
			var rss float64
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				before := residentBytes(b)
				b.StartTimer()
				c, err := Restore(img, uint64(n))
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				rss = max(rss, residentBytes(b)-before)
				if err := c.Close(); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			b.ReportMetric(rss/(1<<20), "rss_MB")
			b.ReportMetric(float64(len(img))/(1<<20), "snapshot_MB")
		})
	}
}

var restoreImages sync.Map // accounts -> snapshot image

// restoreImage returns the snapshot of the restoreSeed workload's genesis of n accounts.
func restoreImage(b *testing.B, n int) []byte {
	b.Helper()
	if img, ok := restoreImages.Load(n); ok {
		return img.([]byte)
	}
	c, err := New(benchDepth, uint64(n))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var out BatchOutput
	for _, data := range l2test.NewWorkload(restoreSeed, benchDepth, n).GenesisBatches() {
		if err := c.ApplyBatch(data, &out); err != nil {
			b.Fatal(err)
		}
	}
	img, err := c.Snapshot()
	if err != nil {
		b.Fatal(err)
	}
	restoreImages.Store(n, img)
	return img
}

// residentBytes is the process's resident set size (VmRSS of /proc/self/status).
func residentBytes(b *testing.B) float64 {
	b.Helper()
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Skip("no /proc/self/status: ", err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kB float64
			if _, err := fmt.Sscanf(strings.TrimSpace(v), "%f kB", &kB); err != nil {
				b.Fatal(err)
			}
			return kB * 1024
		}
	}
	b.Fatal("no VmRSS in /proc/self/status")
	return 0
}
