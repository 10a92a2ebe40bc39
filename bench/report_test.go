package main

import (
	"strings"
	"testing"
	"time"
)

// cannedFFI is go test output as the core-apply and p2-core steps print it at GOMAXPROCS=2,
// with a benchmark that wrote to stderr between its name and its result, and a log line.
const cannedFFI = `goos: linux
goarch: amd64
pkg: github.com/pqbridge/pqbridge/ffi
cpu: AMD EPYC
BenchmarkCoreApplyBatchSizes/txs=1-2         	     754	    333148 ns/op	         0.01206 cgo_share_%	    333148 ns/tx	      3002 tx/s	       0 B/op	       0 allocs/op
BenchmarkCoreApplyBatchSizes/txs=1024-2      	       5	  48011055 ns/op	         0.0000837 cgo_share_%	     46886 ns/tx	     21328 tx/s	       0 B/op	       0 allocs/op
BenchmarkCoreApplyBatchSizes/txs=1024-2      	       5	  50000000 ns/op	         0.0000800 cgo_share_%	     48828 ns/tx	     20480 tx/s	       0 B/op	       0 allocs/op
BenchmarkCoreApplyBatchSizes/txs=1024-2      	       5	  46000000 ns/op	         0.0000870 cgo_share_%	     44922 ns/tx	     22260 tx/s	       0 B/op	       0 allocs/op
BenchmarkProveBatch-2   	compile batch-v1-d24-b16: done in 2s
    logged: 12 constraints	in 3 s
       1	25000000000 ns/op	      1.5625 s/tx	         0.64 tx/s	    453039 constraints
BenchmarkSettleRoundTrip/ML-DSA-65-2         	   10000	    412000 ns/op	       401.0 p50-µs	       902.0 p99-µs
BenchmarkPoseidon2CompressCore/avx512ifma-2   	  265113	       890.7 ns/op	       0 B/op	       0 allocs/op
--- BENCH: BenchmarkPoseidon2CompressCore/avx512ifma-2
    bench_test.go:1: 7 runs	in 2 s
PASS
ok  	github.com/pqbridge/pqbridge/ffi	5.578s
`

func TestParseBench(t *testing.T) {
	samples, err := parseBench(strings.NewReader(cannedFFI), 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 7 {
		t.Fatalf("%d samples, want 7: %+v", len(samples), samples)
	}
	for _, w := range []struct {
		index      int
		name       string
		iterations int
		unit       string
		value      float64
	}{
		{0, "CoreApplyBatchSizes/txs=1", 754, "cgo_share_%", 0.01206},
		{1, "CoreApplyBatchSizes/txs=1024", 5, "ns/tx", 46886},
		{2, "CoreApplyBatchSizes/txs=1024", 5, "ns/tx", 48828},
		{3, "CoreApplyBatchSizes/txs=1024", 5, "allocs/op", 0},
		{4, "ProveBatch", 1, "constraints", 453039}, // its result came lines after its name
		{5, "SettleRoundTrip/ML-DSA-65", 10000, "p99-µs", 902},
		{6, "Poseidon2CompressCore/avx512ifma", 265113, "ns/op", 890.7},
	} {
		s := samples[w.index]
		if s.name != w.name || s.iterations != w.iterations {
			t.Errorf("sample %d: %q x%d, want %q x%d", w.index, s.name, s.iterations, w.name, w.iterations)
		}
		if got, ok := s.metrics[w.unit]; !ok || got != w.value {
			t.Errorf("sample %d %s: %s = %v (%v), want %v", w.index, s.name, w.unit, got, ok, w.value)
		}
	}
}

func TestTrimProcs(t *testing.T) {
	for _, c := range []struct {
		name  string
		procs int
		want  string
	}{
		{"SettleRoundTrip/ML-DSA-65-2", 2, "SettleRoundTrip/ML-DSA-65"},
		{"SettleRoundTrip/ML-DSA-65", 1, "SettleRoundTrip/ML-DSA-65"},
		{"CoreApplyBatchSizes/txs=4096-16", 16, "CoreApplyBatchSizes/txs=4096"},
	} {
		if got := trimProcs(c.name, c.procs); got != c.want {
			t.Errorf("trimProcs(%q, %d) = %q, want %q", c.name, c.procs, got, c.want)
		}
	}
}

func TestParseKeyValues(t *testing.T) {
	samples, err := parseKeyValues(strings.NewReader("compile: done\nconstraints_per_tx=28315\n"), "circuitstats")
	if err != nil || len(samples) != 1 || samples[0].metrics["constraints_per_tx"] != 28315 {
		t.Fatalf("%+v %v", samples, err)
	}
}

// cannedLoad is pqload's output as the load step sees it: the human lines, then the
// machine-readable one the step parses.
const cannedLoad = `funded 256 accounts in 1.2s
signed 2500 transfers in 800ms
sent 2500 in 5s (target 500/s, achieved 500/s), acknowledged 2500, confirmed 2500
confirmed throughput 497 tx/s
ack latency         : p50 2.1ms  p90 4ms  p99 9.8ms  max 20ms
soft-confirm latency: p50 38ms  p90 61ms  p99 95.5ms  max 120ms
pqload: sent=2500 acked=2500 confirmed=2500 rate=500 send_rate=499.9 tps=497.3 ack_p50_ms=2.100 ack_p90_ms=4.000 ack_p99_ms=9.800 soft_p50_ms=38.000 soft_p90_ms=61.000 soft_p99_ms=95.500
`

func TestParseLoad(t *testing.T) {
	samples, err := parseLoad(strings.NewReader(cannedLoad), "pqload")
	if err != nil || len(samples) != 1 {
		t.Fatalf("%+v %v", samples, err)
	}
	for k, want := range map[string]float64{"sent": 2500, "confirmed": 2500, "rate": 500, "tps": 497.3,
		"soft_p50_ms": 38, "soft_p99_ms": 95.5, "ack_p99_ms": 9.8} {
		if got, ok := samples[0].metrics[k]; !ok || got != want {
			t.Errorf("%s = %v (%v), want %v", k, got, ok, want)
		}
	}
	if _, ok := samples[0].metrics["confirmed throughput 497 tx/s"]; ok || len(samples[0].metrics) != 12 {
		t.Errorf("metrics %v", samples[0].metrics)
	}
	if s, err := parseLoad(strings.NewReader("pqload: dial tcp: connection refused\n"), "pqload"); err != nil || len(s) != 0 {
		t.Errorf("error line parsed as %+v %v", s, err)
	}
	if _, err := parseLoad(strings.NewReader("pqload: sent=x\n"), "pqload"); err == nil {
		t.Error("bad value accepted")
	}
}

// TestReport feeds canned output through the report writer and checks the figures it derives:
// the median of three runs with its spread, the ratio against a baseline from another step,
// the reason a skipped figure is missing, and the reproduction command.
func TestReport(t *testing.T) {
	s := newSuite(false)
	ffi, err := parseBench(strings.NewReader(cannedFFI), 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := parseBench(strings.NewReader(
		"BenchmarkReferenceApplyBatchSizes/txs=1024-2   \t       4\t 313770200 ns/op\t 306416 ns/tx\t 3264 tx/s\n"), 2)
	if err != nil {
		t.Fatal(err)
	}
	load, err := parseLoad(strings.NewReader(cannedLoad), "pqload")
	if err != nil {
		t.Fatal(err)
	}
	res := &results{steps: map[string]*stepResult{
		"core-apply": {status: statusOK, samples: ffi},
		"ref-apply":  {status: statusOK, samples: ref},
		"restart-1m": {status: statusSkipped, reason: "skipped in quick mode"},
		"quic":       {status: statusFailed, reason: "exit status 1: --- FAIL: BenchmarkSettleRoundTrip"},
		"load":       {status: statusOK, samples: load},
	}}
	r := &report{suite: s, results: res, machine: machine{CPU: "AMD EPYC", Cores: 2, IFMA: true, Commit: "abc", Dirty: 3,
		Date: time.Date(2026, 11, 25, 13, 0, 0, 0, time.UTC)}, plots: map[string]error{"apply_per_tx.png": nil, "cgo_share.png": errNoData}}

	// median 46886 of 44922, 46886, 48828: spread (48828-44922)/2/46886 = 4.2%
	if got := r.cell(m("core-apply", "CoreApplyBatchSizes/txs=1024", "ns/tx")); got != "46.9 µs/tx ±4%" {
		t.Errorf("cell = %q", got)
	}
	rw := row{value: m("core-apply", "CoreApplyBatchSizes/txs=1024", "ns/tx"),
		baseline: base("ref-apply", "ReferenceApplyBatchSizes/txs=1024", "ns/tx")}
	if x, ok := r.ratio(rw); !ok || formatRatio(x) != "6.54×" {
		t.Errorf("ratio = %v %v (%s), want 306416/46886 = 6.54×", x, ok, formatRatio(x))
	}
	// a throughput ratio goes the other way; different units of time still compare
	thr := row{value: m("core-apply", "CoreApplyBatchSizes/txs=1024", "tx/s"), higherBetter: true,
		baseline: base("ref-apply", "ReferenceApplyBatchSizes/txs=1024", "tx/s")}
	if x, _ := r.ratio(thr); formatRatio(x) != "6.53×" {
		t.Errorf("throughput ratio = %s, want 21328/3264 = 6.53×", formatRatio(x))
	}
	if got := formatQuantity(1.5625, "s/tx"); got != "1.56 s/tx" {
		t.Errorf("formatQuantity = %q", got)
	}
	if got := formatQuantity(0.0000221, "cgo_share_%"); got != "0.0000221%" {
		t.Errorf("formatQuantity = %q", got)
	}

	md := string(r.markdown())
	for _, want := range []string{
		"| CPU | AMD EPYC",
		"| AVX-512 IFMA | yes |",
		"`abc` plus uncommitted changes (3 paths",
		"| batch of 1024 | 46.9 µs/tx ±4% | 306 µs/tx (Go reference) | **6.54×** |",
		"![Batch apply: Zig core vs Go reference](apply_per_tx.png)",
		"*Plot `cgo_share.png` not drawn: no data in this run.*",
		"| pqsequencer restart to serving, 2^20 accounts | — (skipped) |",
		"| round trip p50 | — (step quic failed) |",
		"go test ./ffi -run '^$' -bench '^BenchmarkCoreApplyBatch(Sizes|Witness)$/^txs=(1|4|16|64|256|1024|4096)$' -benchtime 1s -count 3 -benchmem -timeout 20m0s",
		"| core-apply | ProveBatch | 1 | 453039 constraints, 25000000000 ns/op",
		"| batch of 4 | — (not reported) | — (Go reference: not reported) | — |",
		"| confirmed throughput | 497 tx/s | 500 tx/s (target rate) | **0.99×** |",
		"| soft confirmation p50 | 38.0 ms | — | — |",
		"| soft confirmation p99 | 95.5 ms | — | — |",
		"| Load generator against a live pqsequencer: soft-confirmation latency: soft confirmation p99 | 95.5 ms |",
		"| transfers confirmed | 2500 transfers | 2500 transfers (sent) | **1.00×** |",
		"at a fixed 1000/s for 10s",
		"d=$(mktemp -d) && go build -o $d ./cmd/pqsequencer ./cmd/pqload\n$d/pqsequencer -dev -listen 127.0.0.1:0 -datadir \"$d/data\" >$d/seq.out & sleep 2\n",
		"-rate 1000 -duration 10s -wait 30s\nkill -TERM %1; wait\n```",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(md)
	}
}
