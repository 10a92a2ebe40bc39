package settlement_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l2"
)

// Parameters of BenchmarkSettledThroughput.
const (
	tputAccounts   = 1024
	tputSenders    = 256 // concurrent SendTransaction callers, as BenchmarkSequencerThroughput
	tputCircuit    = 16  // the rollup's circuit batch size (optimistic batches are 4,096)
	tputWindow     = 2   // challenge window, L1 blocks
	tputL1Interval = 100 * time.Millisecond
	tputEvery      = 250 * time.Millisecond
	tputDeadline   = 15 * time.Minute // one iteration's bound: all of it final by then
	defaultTxs     = 65536            // transfers per iteration (PQBRIDGE_BENCH_SETTLE_TXS)
)

// Environment of BenchmarkSettledThroughput.
const (
	envSettleTxs    = "PQBRIDGE_BENCH_SETTLE_TXS"    // transfers per iteration
	envSettleSeries = "PQBRIDGE_BENCH_SETTLE_SERIES" // path of the time series CSV
	// envNoCrossCheck=1 turns the engine's asynchronous Go reference cross-check off
	// (settlement.Config.NoCrossCheck), to see what it costs.
	envNoCrossCheck = "PQBRIDGE_BENCH_NO_CROSSCHECK"
)

// BenchmarkSettledThroughput: a sequencer executing with the Zig core (depth 24, 1,024 accounts
// funded by L1 deposits) and a settlement engine posting optimistic batches of up to 4,096
// transactions to a real L1 node (on disk, a block every 100 ms, a 2-block challenge window)
// over loopback QUIC, both reaching L1 through one client. Each iteration sends a fixed number
// of transfers (PQBRIDGE_BENCH_SETTLE_TXS, default 65,536), signed before the timer starts, at
// full speed from 256 goroutines through the sequencer's Go API, and waits until every one is
// in a final batch on L1. Without backpressure: admission runs at the sequencer's own speed.
//
// admitted-tx/s is the transfers over the time from the first send to the last
// acknowledgement; settled-tx/s the same transfers over the time from the first send until the
// last is final on L1; settled/admitted their ratio. PQBRIDGE_BENCH_SETTLE_SERIES names a CSV
// written with the cumulative admitted, posted and final counts every 250 ms;
// PQBRIDGE_BENCH_NO_CROSSCHECK=1 runs the engine without its Go reference cross-check.
func BenchmarkSettledThroughput(b *testing.B) {
	txs := defaultTxs
	if v := os.Getenv(envSettleTxs); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			b.Fatalf("%s=%q: want a positive transfer count", envSettleTxs, v)
		}
		txs = n
	}
	r := newBenchRollup(b, benchOpts{depth: l2.DefaultTreeDepth, batchSize: tputCircuit, accounts: tputAccounts, window: tputWindow,
		l1Interval: tputL1Interval, engineEvery: 20 * time.Millisecond, seqInterval: 20 * time.Millisecond,
		batchAge: 250 * time.Millisecond, overQUIC: true, noCrossCheck: os.Getenv(envNoCrossCheck) == "1"})
	// The deposits' batches settle before the timed part: the counts below start from them.
	counts := &l1Counts{node: r.node}
	proctest.WaitFor(b, "the deposits' batches to be final", 2*time.Minute, func() bool {
		_, f, _ := counts.read(b)
		return f >= tputAccounts
	})
	basePosted, baseFinal, _ := counts.read(b)

	var series []tputSample
	var admittedSpan, settledSpan time.Duration
	sent := 0
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		raws := r.signTransfers(b, sent, txs)
		b.StartTimer()
		sent += txs
		a, s := r.sendAndSettle(b, counts, raws, uint64(sent), baseFinal, basePosted, &series)
		admittedSpan += a
		settledSpan += s
	}
	b.StopTimer()
	admitted := float64(sent) / admittedSpan.Seconds()
	settled := float64(sent) / settledSpan.Seconds()
	b.ReportMetric(admitted, "admitted-tx/s")
	b.ReportMetric(settled, "settled-tx/s")
	b.ReportMetric(settled/admitted, "settled/admitted")
	_, _, batches := counts.read(b)
	b.ReportMetric(float64(batches), "batches")
	if path := os.Getenv(envSettleSeries); path != "" {
		if err := writeSeries(path, series); err != nil {
			b.Fatal(err)
		}
	}
}

// tputSample is one row of the time series: seconds since the iteration's first send and the
// cumulative transfer counts of the whole run.
type tputSample struct {
	at                      float64
	admitted, posted, final uint64
}

// sendAndSettle sends raws from tputSenders goroutines and waits until want transfers (the
// run's total) are final; it returns the time from the first send to the last acknowledgement
// and to the last transfer final, and appends its samples to series.
func (r *benchRollup) sendAndSettle(b *testing.B, counts *l1Counts, raws [][]byte, want, baseFinal, basePosted uint64, series *[]tputSample) (time.Duration, time.Duration) {
	offset := float64(0)
	var admittedBefore uint64
	if n := len(*series); n > 0 {
		offset, admittedBefore = (*series)[n-1].at, (*series)[n-1].admitted
	}
	var admitted atomic.Uint64
	work := make(chan []byte, 1024)
	var wg sync.WaitGroup
	var lastAck atomic.Int64
	start := time.Now()
	for range tputSenders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for raw := range work {
				if _, err := r.seq.SendTransaction(context.Background(), raw); err != nil {
					b.Error(err)
					continue
				}
				admitted.Add(1)
				lastAck.Store(int64(time.Since(start)))
			}
		}()
	}
	go func() {
		for _, raw := range raws {
			work <- raw
		}
		close(work)
	}()
	deadline := time.Now().Add(tputDeadline)
	tick := time.NewTicker(tputEvery)
	defer tick.Stop()
	for {
		posted, final, _ := counts.read(b)
		*series = append(*series, tputSample{at: offset + time.Since(start).Seconds(), admitted: admittedBefore + admitted.Load(),
			posted: posted - basePosted, final: final - baseFinal})
		if final-baseFinal >= want {
			break
		}
		if err := r.eng.Err(); err != nil {
			b.Fatal(err)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d transfers final after %v (%d admitted, %d posted); lag %+v", final-baseFinal, want, tputDeadline,
				admittedBefore+admitted.Load(), posted-basePosted, r.eng.Lag())
		}
		<-tick.C
	}
	settled := time.Since(start)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return time.Duration(lastAck.Load()), settled
}

// writeSeries writes the samples as CSV: second, admitted, posted, final (cumulative).
func writeSeries(path string, series []tputSample) error {
	var w strings.Builder
	w.WriteString("second,admitted,posted,final\n")
	for _, s := range series {
		fmt.Fprintf(&w, "%.3f,%d,%d,%d\n", s.at, s.admitted, s.posted, s.final)
	}
	return os.WriteFile(path, []byte(w.String()), 0o644)
}
