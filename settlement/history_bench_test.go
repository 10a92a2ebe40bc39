package settlement_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l2"
)

// Parameters of the engine history benchmarks (BenchmarkEngineMemoryFinalBatches,
// BenchmarkEngineRestart): batches of one transfer, so that a history of many batches is cheap
// to make; depth 24, as the rollup runs.
const (
	historyAccounts = 64
	historyChunk    = 256 // transfers sent to the sequencer before the engine and L1 catch up
	historyInFlight = 256 // settlement.Config.MaxInFlight
	historyWindow   = 1   // challenge window, L1 blocks
	defaultBatches  = 10000
	envBatches      = "PQBRIDGE_BENCH_ENGINE_BATCHES" // final batches of history (default 10,000)
)

// historyCheckpoints are the final-batch counts the benchmarks report at: a tenth, half and all
// of PQBRIDGE_BENCH_ENGINE_BATCHES.
func historyCheckpoints(b *testing.B) []int {
	n := defaultBatches
	if v := os.Getenv(envBatches); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 10*historyAccounts {
			b.Fatalf("%s=%q: want a batch count of at least %d", envBatches, v, 10*historyAccounts)
		}
	}
	return []int{n / 10, n / 2, n}
}

// BenchmarkEngineMemoryFinalBatches reports the Go heap in use (after two GCs) and the batches
// the engine's Status lists (records-at-N: its records, or a bounded list once they are pruned)
// once 1,000, 5,000 and 10,000 batches are final (a tenth, half and
// all of PQBRIDGE_BENCH_ENGINE_BATCHES), in a process holding the sequencer (Zig core, depth 24),
// a real L1 node on disk and the engine (on disk; driven by Step, one L1 block per step).
// Batches hold one transfer each. An engine that prunes final records keeps both flat; the heap
// also holds the sequencer's and the node's Go memory, which the records count does not.
func BenchmarkEngineMemoryFinalBatches(b *testing.B) {
	points := historyCheckpoints(b)
	for range b.N {
		r := newHistoryRollup(b)
		r.grow(b, points, func(n int) {
			runtime.GC()
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			b.ReportMetric(float64(ms.HeapAlloc)/(1<<20), fmt.Sprintf("heap-MB-at-%d", n))
			b.ReportMetric(float64(len(r.eng.Status())), fmt.Sprintf("records-at-%d", n))
		})
	}
}

// BenchmarkEngineRestart reports the time a restart of the engine takes to be ready (New
// returns with Err nil: the records loaded and the L2 state restored) and then its first Step
// (reconciling with L1), with 1,000, 5,000 and 10,000 final batches of history (as
// BenchmarkEngineMemoryFinalBatches; the engine is stopped and reopened on its directory at
// each point, and goes on from there).
func BenchmarkEngineRestart(b *testing.B) {
	points := historyCheckpoints(b)
	for range b.N {
		r := newHistoryRollup(b)
		r.grow(b, points, func(n int) {
			if err := r.eng.Stop(); err != nil {
				b.Fatal(err)
			}
			start := time.Now()
			r.openEngine(b)
			if err := r.eng.Err(); err != nil {
				b.Fatal(err)
			}
			ready := time.Since(start)
			if err := r.eng.Step(r.ctx); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(ready.Seconds(), fmt.Sprintf("s-to-ready-at-%d", n))
			b.ReportMetric((time.Since(start) - ready).Seconds(), fmt.Sprintf("s-first-step-at-%d", n))
		})
	}
}

// newHistoryRollup is the fixture of the history benchmarks: batches of one transaction, L1
// blocks and engine steps driven by the benchmark, in process.
func newHistoryRollup(b *testing.B) *benchRollup {
	return newBenchRollup(b, benchOpts{depth: l2.DefaultTreeDepth, batchSize: 1, optimisticTxs: 1, accounts: historyAccounts,
		window: historyWindow, seqInterval: 5 * time.Millisecond, batchAge: time.Nanosecond, maxInFlight: historyInFlight})
}

// grow sends transfers in chunks and settles each (an engine step, then an L1 block, until the
// chunk is final) until the last checkpoint's count of batches is final; it calls at(n) once
// exactly n batches are final and nothing else is built (the deposits' batches count). Chunks end
// at the checkpoints.
func (r *benchRollup) grow(b *testing.B, points []int, at func(n int)) {
	b.Helper()
	sent := 0
	for _, point := range points {
		for final := historyAccounts + sent; final < point; final = historyAccounts + sent {
			n := min(historyChunk, point-final)
			for i, raw := range r.signTransfers(b, sent, n) {
				if _, err := r.seq.SendTransaction(context.Background(), raw); err != nil {
					b.Fatalf("transfer %d: %v", sent+i, err)
				}
			}
			sent += n
			r.settleAll(b, historyAccounts+sent) // every transaction is a batch
		}
		at(point)
	}
}

// settleAll steps the engine and produces L1 blocks until want batches are final on L1 and the
// engine has seen it (nothing unfinal in its lag).
func (r *benchRollup) settleAll(b *testing.B, want int) {
	b.Helper()
	final := func() int {
		rl, err := r.node.Rollup(1)
		if err != nil {
			b.Fatal(err)
		}
		return int(rl.FinalNumber)
	}
	for steps := 0; final() < want || r.eng.Lag().Unfinal > 0; steps++ {
		if steps > 2000 {
			b.Fatalf("%d batches final of %d after %d steps: %+v", final(), want, steps, r.eng.Lag())
		}
		if err := r.eng.Step(r.ctx); err != nil {
			b.Fatal(err)
		}
		r.produce(b)
	}
}
