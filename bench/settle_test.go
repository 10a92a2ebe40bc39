package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// cannedSettle is go test output of the settle and engine-history steps (quick mode).
const cannedSettle = `BenchmarkSettledThroughput-2   	       1	60001239438 ns/op	      2054 admitted-tx/s	        31.00 batches	      1092 settled-tx/s	         0.5318 settled/admitted
BenchmarkEngineMemoryFinalBatches-2   	       1	10370830687 ns/op	         2.590 heap-MB-at-100	         5.196 heap-MB-at-1000	         4.580 heap-MB-at-500	       100.0 records-at-100	      1000 records-at-1000	       500.0 records-at-500
BenchmarkEngineRestart-2              	       1	10888180039 ns/op	         0.0001024 s-first-step-at-100	         0.0005752 s-first-step-at-1000	         0.0003448 s-first-step-at-500	         0.05920 s-to-ready-at-100	         0.6590 s-to-ready-at-1000	         0.2176 s-to-ready-at-500
`

// TestSettleSection: the settlement section's figures from canned output (settled against
// admitted as a ratio, the history rows at the quick mode's checkpoints), its plots drawn from
// the time series CSV and the history metrics, and its series path made absolute.
func TestSettleSection(t *testing.T) {
	s := newSuite(true)
	dir := t.TempDir()
	if err := s.setOut(dir); err != nil {
		t.Fatal(err)
	}
	st, ok := s.step(settleStep)
	if !ok || !strings.Contains(st.shell(), "PQBRIDGE_BENCH_SETTLE_SERIES="+filepath.Join(dir, seriesFile)) ||
		!strings.Contains(st.shell(), "PQBRIDGE_BENCH_SETTLE_TXS=8192") {
		t.Fatalf("settle step %q", st.shell())
	}
	samples, err := parseBench(strings.NewReader(cannedSettle), 2)
	if err != nil || len(samples) != 3 {
		t.Fatalf("%d samples, %v", len(samples), err)
	}
	res := &results{steps: map[string]*stepResult{
		settleStep:  {status: statusOK, samples: samples[:1]},
		historyStep: {status: statusOK, samples: samples[1:]},
	}}
	csv := "second,admitted,posted,final\n0.000,0,0,0\n0.500,1000,0,0\n1.000,2000,1000,0\n1.500,2000,2000,1000\n2.000,2000,2000,2000\n"
	if err := os.WriteFile(filepath.Join(dir, seriesFile), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &report{suite: s, results: res}
	if err := r.write(dir); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"settled_throughput.png", "engine_history.png"} {
		if err := r.plots[p]; err != nil {
			t.Errorf("%s: %v", p, err)
		} else if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.Size() == 0 {
			t.Errorf("%s not written: %v", p, err)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, "report.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| settled throughput | 1092 tx/s | 2054 tx/s (admitted) | **0.53×** |",
		"| Go heap, 1000 final batches | 5.20 MB | 2.59 MB (at 100) | **0.50×** |",
		"| batches Status lists, 500 final batches | 500 records | — | — |",
		"| Go heap, 100 final batches | 2.59 MB | — | — |",
		"| restart to ready, 1000 batches of history | 659 ms | 59.2 ms (at 100) | **0.09×** |",
		"![Settlement keeps pace: settled vs admitted throughput, engine memory and restart](settled_throughput.png)",
		"PQBRIDGE_BENCH_ENGINE_BATCHES=1000 go test ./settlement -run '^$' -bench '^BenchmarkEngine(MemoryFinalBatches|Restart)$'",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(string(md))
	}
}

// TestSeriesPlotsRefusesBadCSV: a malformed time series is an error naming the line, a missing
// one is "no data".
func TestSeriesPlotsRefusesBadCSV(t *testing.T) {
	dir := t.TempDir()
	if _, err := seriesPlots(filepath.Join(dir, "none.csv")); err != errNoData {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.csv")
	if err := os.WriteFile(bad, []byte("second,admitted,posted,final\n0,0,0,0\n1,x,0,0\n2,3,3,3\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := seriesPlots(bad); err == nil || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("bad value: %v", err)
	}
}

// TestOnly: -only runs the named steps, refuses an unknown one, and the steps it did not run
// keep the previous run's results.
func TestOnly(t *testing.T) {
	s := newSuite(true)
	if err := s.selectOnly("settle,nope"); err == nil || !strings.Contains(err.Error(), `no step "nope"`) {
		t.Fatalf("unknown step: %v", err)
	}
	if err := s.selectOnly("settle,engine-history"); err != nil {
		t.Fatal(err)
	}
	for _, st := range s.steps {
		selected := st.id == settleStep || st.id == historyStep
		if selected != (st.skip == "") {
			t.Errorf("step %s: skip %q", st.id, st.skip)
		}
	}
	res := &results{steps: map[string]*stepResult{
		settleStep: {status: statusOK},
		"quic":     {status: statusSkipped, reason: notSelected + " (-only settle)"},
	}}
	prev := &results{steps: map[string]*stepResult{
		settleStep: {status: statusFailed},
		"quic":     {status: statusOK, samples: []sample{{name: "SettleRoundTrip/Ed25519"}}},
	}}
	if kept := keepPrevious(res, prev); len(kept) != 1 || kept[0] != "quic" {
		t.Fatalf("kept %v", kept)
	}
	if res.steps[settleStep].status != statusOK || len(res.steps["quic"].samples) != 1 {
		t.Fatalf("merged %+v %+v", res.steps[settleStep], res.steps["quic"])
	}
}
