package main

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var errNoData = errors.New("no data in this run")

// series is a named line of (x, y) points; points whose metric was not measured are left out.
type series struct {
	name string
	xs   []float64
	ys   []metric
	conv func(v float64, unit string) float64 // y as plotted
}

// bar is one named bar of a bar chart.
type bar struct {
	name string
	y    metric
}

// writePlots draws every plot the report embeds into dir and says, per file, whether it was
// written. A plot without data is not drawn; the report says so.
func writePlots(r *report, dir string) map[string]error {
	s := r.suite
	micros := func(v float64, unit string) float64 { q, _, _ := quantity(v, unit); return q * 1e6 }
	secs := func(v float64, unit string) float64 { q, _, _ := quantity(v, unit); return q }
	same := func(v float64, _ string) float64 { return v }
	sizes := floats(s.sizes)
	accounts := floats(s.accounts)
	sizeMetrics := func(step, bench, unit string) []metric {
		var ms []metric
		for _, n := range s.sizes {
			ms = append(ms, m(step, fmt.Sprintf("%s/txs=%d", bench, n), unit))
		}
		return ms
	}
	accountMetrics := func(step, bench, unit string) []metric {
		var ms []metric
		for _, n := range s.accounts {
			ms = append(ms, m(step, fmt.Sprintf("%s/accounts=%d", bench, n), unit))
		}
		return ms
	}
	plots := map[string]func() ([]*plot.Plot, error){
		"apply_per_tx.png": func() ([]*plot.Plot, error) {
			p, err := linePlot(r, "Batch apply, depth 24, 100k accounts", "batch size (transfers)", "µs per transfer", true, true,
				series{"Zig core (cgo)", sizes, sizeMetrics("core-apply", "CoreApplyBatchSizes", "ns/tx"), micros},
				series{"Go reference", sizes, sizeMetrics("ref-apply", "ReferenceApplyBatchSizes", "ns/tx"), micros})
			return []*plot.Plot{p}, err
		},
		"cgo_share.png": func() ([]*plot.Plot, error) {
			p, err := linePlot(r, "cgo no-op call as a share of ApplyBatch", "batch size (transfers)", "% of the call", true, true,
				series{"cgo share", sizes, sizeMetrics("core-apply", "CoreApplyBatchSizes", "cgo_share_%"), same})
			return []*plot.Plot{p}, err
		},
		"poseidon2.png": func() ([]*plot.Plot, error) {
			var bars []bar
			for _, impl := range poseidon2Impls(r.results) {
				bars = append(bars, bar{"core " + impl, m("p2-core", "Poseidon2CompressCore/"+impl, "ns/op")})
			}
			bars = append(bars, bar{"gnark-crypto", m("p2-go", "Poseidon2CompressGnark", "ns/op")},
				bar{"l2.Compress", m("p2-go", "Compress", "ns/op")})
			p, err := barPlot(r, "Poseidon2 t=2 compress", "ns per hash", func(v float64, u string) float64 { return micros(v, u) * 1e3 }, bars)
			return []*plot.Plot{p}, err
		},
		"sequencer.png": func() ([]*plot.Plot, error) {
			p, err := barPlot(r, "Sequencer end to end", "transfers/s", same, []bar{
				{"core executor", m("sequencer", "SequencerThroughput/core", "tx/s")},
				{"reference executor", m("sequencer", "SequencerThroughput/reference", "tx/s")},
				{"signature pool alone", m("sequencer", "VerifierPool", "tx/s")},
			})
			return []*plot.Plot{p}, err
		},
		"quic.png": func() ([]*plot.Plot, error) {
			var lat, thr []bar
			for _, sch := range []string{"ML-DSA-65", "Ed25519"} {
				lat = append(lat, bar{sch + " p50", m("quic", "SettleRoundTrip/"+sch, "p50-µs")},
					bar{sch + " p99", m("quic", "SettleRoundTrip/"+sch, "p99-µs")})
				thr = append(thr, bar{sch, m("quic", "SettleThroughput/"+sch, "calls/s")})
			}
			p1, err1 := barPlot(r, "QUIC signed round trip", "µs", micros, lat)
			p2, err2 := barPlot(r, "QUIC throughput, 4 clients × 8 streams", "calls/s", same, thr)
			return []*plot.Plot{p1, p2}, errors.Join(err1, err2)
		},
		"restart.png": func() ([]*plot.Plot, error) {
			p, err := linePlot(r, "Restore from snapshot, depth 24", "accounts", "seconds", true, true,
				series{"core import (in-process)", accounts, accountMetrics("core-restore", "CoreRestore", "ns/op"), secs},
				series{"Go reference rebuild", accounts, accountMetrics("ref-restore", "ReferenceRestore", "ns/op"), secs},
				series{"pqsequencer process, to serving", []float64{1 << 20}, []metric{m("restart-1m", "RestartMillionAccounts", "s_to_serve")}, secs})
			return []*plot.Plot{p}, err
		},
		"memory.png": func() ([]*plot.Plot, error) {
			p, err := linePlot(r, "Memory of a restored state, depth 24", "accounts", "MB", true, true,
				series{"core (resident)", accounts, accountMetrics("core-restore", "CoreRestore", "rss_MB"), same},
				series{"Go reference (heap)", accounts, accountMetrics("ref-restore", "ReferenceRestore", "heap_MB"), same},
				series{"pqsequencer process RSS", []float64{1 << 20}, []metric{m("restart-1m", "RestartMillionAccounts", "rss_MB")}, same})
			return []*plot.Plot{p}, err
		},
		"prover.png": func() ([]*plot.Plot, error) {
			var cons, prove []metric
			for _, b := range s.slots {
				cons = append(cons, m(fmt.Sprintf("circuit-B%d", b), "circuitstats", "constraints_per_tx"))
			}
			for _, b := range s.proveSlots {
				prove = append(prove, m(fmt.Sprintf("prove-B%d", b), "ProveBatch", "s/tx"))
			}
			p1, err1 := linePlot(r, "Batch circuit, depth 24", "batch size B (slots)", "R1CS constraints per transfer", true, false,
				series{"constraints per transfer", floats(s.slots), cons, same})
			p2, err2 := linePlot(r, "Groth16 prove time", "batch size B (slots)", "seconds per transfer", true, false,
				series{"prove time per transfer", floats(s.proveSlots), prove, secs})
			if err1 != nil && err2 == nil {
				return []*plot.Plot{p2}, nil
			}
			if err2 != nil && err1 == nil {
				return []*plot.Plot{p1}, nil
			}
			return []*plot.Plot{p1, p2}, errors.Join(err1, err2)
		},
	}
	for file, build := range settlePlots(r, dir) {
		plots[file] = build
	}
	out := map[string]error{}
	for file, build := range plots {
		ps, err := build()
		if err == nil {
			err = savePanels(filepath.Join(dir, file), ps)
		}
		if errors.Is(err, errNoData) {
			err = errNoData
		}
		if err != nil {
			os.Remove(filepath.Join(dir, file)) // not an earlier run's plot under this run's report
		}
		out[file] = err
	}
	return out
}

func floats(ns []int) []float64 {
	fs := make([]float64, len(ns))
	for i, n := range ns {
		fs[i] = float64(n)
	}
	return fs
}

// linePlot draws series as lines with points, on log axes where asked.
func linePlot(r *report, title, xLabel, yLabel string, logX, logY bool, ss ...series) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xLabel, yLabel
	var xs []float64
	for _, s := range ss {
		xs = append(xs, s.xs...)
	}
	p.X.Tick.Marker = ticksAt(xs)
	if logX {
		p.X.Scale = plot.LogScale{}
	}
	if logY {
		p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, ticks125{}
	} else {
		p.Y.Tick.Marker = linearTicks{}
	}
	p.Legend.Top, p.Legend.Left = true, true
	drawn := 0
	for i, s := range ss {
		var pts plotter.XYs
		for j, mt := range s.ys {
			if v, ok := r.measure(mt); ok && v.value > 0 {
				pts = append(pts, plotter.XY{X: s.xs[j], Y: s.conv(v.value, mt.unit)})
			}
		}
		if len(pts) == 0 {
			continue
		}
		l, sc, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		l.Color, sc.Color = plotutil.Color(i), plotutil.Color(i)
		sc.Shape = plotutil.Shape(i)
		if len(pts) == 1 {
			p.Add(sc)
			p.Legend.Add(s.name, sc)
		} else {
			p.Add(l, sc)
			p.Legend.Add(s.name, l, sc)
		}
		drawn++
	}
	if drawn == 0 {
		return nil, errNoData
	}
	// Head room for the legend above the data.
	if logY {
		p.Y.Max *= 4
	} else {
		p.Y.Min = 0
		p.Y.Max *= 1.3
	}
	p.Add(plotter.NewGrid())
	return p, nil
}

// ticksAt marks the x values measured (batch sizes, account counts), powers of two as 2^k
// when they are large.
func ticksAt(xs []float64) plot.Ticker {
	var ticks plot.ConstantTicks
	for _, x := range xs {
		if slices.ContainsFunc(ticks, func(t plot.Tick) bool { return t.Value == x }) {
			continue
		}
		label := strconv.FormatFloat(x, 'f', -1, 64)
		if x >= 1<<14 {
			label = countLabel(int(x))
		}
		ticks = append(ticks, plot.Tick{Value: x, Label: label})
	}
	return ticks
}

// ticks125 labels a log axis at 1, 2 and 5 times the powers of ten.
type ticks125 struct{}

func (ticks125) Ticks(lo, hi float64) []plot.Tick {
	var ticks []plot.Tick
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		for _, f := range []float64{1, 2, 5} {
			if v := f * math.Pow(10, e); v >= lo && v <= hi {
				ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v, e)})
			}
		}
	}
	return ticks
}

// linearTicks labels a linear axis at 1, 2 or 5 times a power of ten, about five times.
// (gonum's DefaultTicks rounds its labels too coarsely: 1.95 shows as "2".)
type linearTicks struct{}

func (linearTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) {
		return []plot.Tick{{Value: lo, Label: strconv.FormatFloat(lo, 'g', 4, 64)}}
	}
	e := math.Floor(math.Log10((hi - lo) / 5))
	step := math.Pow(10, e)
	for _, f := range []float64{2, 5, 10} {
		if (hi-lo)/step <= 6 {
			break
		}
		step = f * math.Pow(10, e)
	}
	var ticks []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi+step*1e-9; v += step {
		ticks = append(ticks, plot.Tick{Value: v, Label: tickLabel(v, math.Floor(math.Log10(step)))})
	}
	return ticks
}

// tickLabel writes v rounded to the decade e of its axis step, without trailing zeros.
func tickLabel(v, e float64) string {
	decimals := max(0, int(-e))
	return strconv.FormatFloat(v, 'f', decimals, 64)
}

// barPlot draws one bar per measured metric.
func barPlot(r *report, title, yLabel string, conv func(float64, string) float64, bars []bar) (*plot.Plot, error) {
	var names []string
	var vals plotter.Values
	for _, b := range bars {
		if v, ok := r.measure(b.y); ok {
			names = append(names, b.name)
			vals = append(vals, conv(v.value, b.y.unit))
		}
	}
	if len(vals) == 0 {
		return nil, errNoData
	}
	p := plot.New()
	p.Title.Text, p.Y.Label.Text = title, yLabel
	bc, err := plotter.NewBarChart(vals, vg.Points(28))
	if err != nil {
		return nil, err
	}
	bc.Color = plotutil.Color(0)
	bc.LineStyle.Width = 0
	p.Add(bc, plotter.NewGrid())
	p.NominalX(names...)
	p.Y.Min, p.Y.Tick.Marker = 0, linearTicks{}
	return p, nil
}

// savePanels writes the plots side by side as one PNG.
func savePanels(path string, ps []*plot.Plot) error {
	const panelW, h = 5 * vg.Inch, 3.6 * vg.Inch
	img := vgimg.New(panelW*vg.Length(len(ps)), h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(ps), PadX: vg.Millimeter * 4, PadTop: vg.Millimeter * 2,
		PadBottom: vg.Millimeter * 2, PadLeft: vg.Millimeter * 2, PadRight: vg.Millimeter * 2}
	canvases := plot.Align([][]*plot.Plot{ps}, tiles, dc)
	for i, p := range ps {
		p.Draw(canvases[0][i])
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
