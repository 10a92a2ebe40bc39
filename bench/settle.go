package main

import (
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
)

// The settlement section: BenchmarkSettledThroughput (admitted against settled throughput
// under load, through a real L1 node over QUIC) and the engine's history benchmarks (memory
// over final batches, restart to ready), with the time series plot the throughput benchmark
// writes.
const (
	settleStep, historyStep = "settle", "engine-history"
	seriesFile              = "settled_series.csv" // in the output directory
	envSeries               = "PQBRIDGE_BENCH_SETTLE_SERIES"
)

// settleSteps are the section's steps: transfers per run and history length by mode.
func settleSteps(quick bool) (steps []step, checkpoints []int) {
	txs, batches := 65536, 10000
	if quick {
		txs, batches = 8192, 1000
	}
	settle := step{id: settleStep, pkg: "./settlement", bench: "^BenchmarkSettledThroughput$", benchtime: "1x", count: 1,
		timeout: stepTimeout, env: []string{fmt.Sprintf("PQBRIDGE_BENCH_SETTLE_TXS=%d", txs), envSeries + "=" + seriesFile}}
	history := step{id: historyStep, pkg: "./settlement", bench: "^BenchmarkEngine(MemoryFinalBatches|Restart)$", benchtime: "1x",
		count: 1, timeout: stepTimeout, env: []string{fmt.Sprintf("PQBRIDGE_BENCH_ENGINE_BATCHES=%d", batches)}}
	return []step{settle, history}, []int{batches / 10, batches / 2, batches}
}

// setOut points the throughput benchmark's time series at the output directory (absolute: go
// test runs the benchmark in the package's directory).
func (s *suite) setOut(dir string) error {
	abs, err := filepath.Abs(filepath.Join(dir, seriesFile))
	if err != nil {
		return err
	}
	for i := range s.steps {
		for j, e := range s.steps[i].env {
			if len(e) > len(envSeries) && e[:len(envSeries)+1] == envSeries+"=" {
				s.steps[i].env[j] = envSeries + "=" + abs
			}
		}
	}
	return nil
}

// settleFigure is the section of the report.
func settleFigure(s *suite) figure {
	f := figure{
		title: "Settlement keeps pace: settled vs admitted throughput, engine memory and restart",
		about: "BenchmarkSettledThroughput: a sequencer with the Zig core (depth 24, 1,024 accounts funded by L1 deposits) " +
			"and the settlement engine posting optimistic batches of up to 4,096 transfers to a real L1 node (on disk, " +
			"a block every 100 ms, a 2-block challenge window) over loopback QUIC. A fixed number of transfers, signed " +
			"before the timer, is sent at full speed from 256 goroutines through the sequencer's Go API, without " +
			"backpressure; admitted = transfers ÷ time to the last acknowledgement, settled = the same transfers ÷ time " +
			"until the last is final on L1, both from the first send (ratio = settled ÷ admitted; the goal is ≥ 0.9). " +
			"The plot is the run's time series. The engine history benchmarks make batches of one transfer, settle them " +
			"on an in-process L1 node, and report the Go heap and the batches the engine's Status lists once 10%, 50% and 100% of " +
			"the history is final (an engine that prunes final records stays flat), and the time a restarted engine " +
			"takes to be ready at those points (the goal is ≤ 1 s at 10,000 batches).",
		plots: []string{"settled_throughput.png", "engine_history.png"},
		steps: []string{settleStep, historyStep},
	}
	f.rows = []row{
		{label: "settled throughput", value: m(settleStep, "SettledThroughput", "settled-tx/s"),
			baseline: base(settleStep, "SettledThroughput", "admitted-tx/s"), baseLabel: "admitted", higherBetter: true, key: true},
		{label: "optimistic batches (deposits' included)", value: m(settleStep, "SettledThroughput", "batches")},
	}
	first := s.engineBatches[0]
	// against the first checkpoint: flat memory and restart time are ratios of 1
	vsFirst := func(bench, prefix string, n int) (*metric, string) {
		if n == first {
			return nil, ""
		}
		return base(historyStep, bench, fmt.Sprintf("%s%d", prefix, first)), fmt.Sprintf("at %d", first)
	}
	for _, n := range s.engineBatches {
		heapBase, heapLabel := vsFirst("EngineMemoryFinalBatches", "heap-MB-at-", n)
		restartBase, restartLabel := vsFirst("EngineRestart", "s-to-ready-at-", n)
		f.rows = append(f.rows,
			row{label: fmt.Sprintf("Go heap, %d final batches", n), value: m(historyStep, "EngineMemoryFinalBatches", fmt.Sprintf("heap-MB-at-%d", n)),
				baseline: heapBase, baseLabel: heapLabel},
			row{label: fmt.Sprintf("batches Status lists, %d final batches", n), value: m(historyStep, "EngineMemoryFinalBatches", fmt.Sprintf("records-at-%d", n))},
			row{label: fmt.Sprintf("restart to ready, %d batches of history", n), value: m(historyStep, "EngineRestart", fmt.Sprintf("s-to-ready-at-%d", n)),
				baseline: restartBase, baseLabel: restartLabel, key: n == s.engineBatches[len(s.engineBatches)-1]},
			row{label: fmt.Sprintf("first step after the restart, %d batches", n), value: m(historyStep, "EngineRestart", fmt.Sprintf("s-first-step-at-%d", n))})
	}
	return f
}

// settlePlots draws the section's plots: the time series from the CSV the benchmark wrote into
// dir, and the history metrics by final batches.
func settlePlots(r *report, dir string) map[string]func() ([]*plot.Plot, error) {
	same := func(v float64, _ string) float64 { return v }
	xs := floats(r.suite.engineBatches)
	at := func(bench, prefix string) []metric {
		var ms []metric
		for _, n := range r.suite.engineBatches {
			ms = append(ms, m(historyStep, bench, fmt.Sprintf("%s%d", prefix, n)))
		}
		return ms
	}
	return map[string]func() ([]*plot.Plot, error){
		"settled_throughput.png": func() ([]*plot.Plot, error) { return seriesPlots(filepath.Join(dir, seriesFile)) },
		"engine_history.png": func() ([]*plot.Plot, error) {
			p1, err1 := linePlot(r, "Engine memory over final batches", "final batches", "MB / thousands of records", false, false,
				series{"Go heap (MB)", xs, at("EngineMemoryFinalBatches", "heap-MB-at-"), same},
				series{"batches Status lists (thousands)", xs, at("EngineMemoryFinalBatches", "records-at-"),
					func(v float64, _ string) float64 { return v / 1000 }})
			p2, err2 := linePlot(r, "Engine restart to ready", "batches of history", "seconds", false, false,
				series{"restart to ready", xs, at("EngineRestart", "s-to-ready-at-"), same})
			return []*plot.Plot{p1, p2}, errors.Join(err1, err2)
		},
	}
}

// seriesPlots reads the time series (second, admitted, posted, final) and draws the cumulative
// counts and the rates over one-second windows.
func seriesPlots(path string) ([]*plot.Plot, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, errNoData
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) < 3 {
		return nil, errNoData
	}
	cols := make([]plotter.XYs, 3) // admitted, posted, final
	for i, rec := range recs[1:] {
		if len(rec) != 4 {
			return nil, fmt.Errorf("%s line %d: %d fields, want 4", path, i+2, len(rec))
		}
		var v [4]float64
		for k := range v {
			if v[k], err = strconv.ParseFloat(rec[k], 64); err != nil {
				return nil, fmt.Errorf("%s line %d: %w", path, i+2, err)
			}
		}
		for c := range cols {
			cols[c] = append(cols[c], plotter.XY{X: v[0], Y: v[c+1]})
		}
	}
	names := []string{"admitted (acknowledged)", "posted to L1", "final on L1"}
	cum := newSeriesPlot("Transfers over time under load", "transfers (cumulative)")
	rate := newSeriesPlot("Throughput over time (1 s windows)", "transfers/s")
	for c, pts := range cols {
		if err := addLine(cum, names[c], c, pts); err != nil {
			return nil, err
		}
		if err := addLine(rate, names[c], c, perSecond(pts)); err != nil {
			return nil, err
		}
	}
	cum.Y.Max *= 1.3 // head room for the legend
	rate.Y.Max *= 1.3
	return []*plot.Plot{cum, rate}, nil
}

func newSeriesPlot(title, yLabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, "seconds since the first send", yLabel
	p.X.Tick.Marker, p.Y.Tick.Marker = linearTicks{}, linearTicks{}
	p.Legend.Top, p.Legend.Left = true, true
	p.Add(plotter.NewGrid())
	return p
}

func addLine(p *plot.Plot, name string, i int, pts plotter.XYs) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = plotutil.Color(i)
	l.Dashes = plotutil.Dashes(i)
	p.Add(l)
	p.Legend.Add(name, l)
	p.Y.Min = 0
	return nil
}

// perSecond turns cumulative counts into rates: the increase over each window of about one
// second, at the window's end.
func perSecond(pts plotter.XYs) plotter.XYs {
	var out plotter.XYs
	from := 0
	for i := 1; i < len(pts); i++ {
		if dt := pts[i].X - pts[from].X; dt >= 1 || (i == len(pts)-1 && dt > 0) {
			out = append(out, plotter.XY{X: pts[i].X, Y: (pts[i].Y - pts[from].Y) / dt})
			from = i
		}
	}
	return out
}
