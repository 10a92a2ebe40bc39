package main

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
)

// report is everything report.md says.
type report struct {
	suite   *suite
	machine machine
	results *results
	elapsed time.Duration
	plots   map[string]error // file -> nil when written, else why not
	kept    []string         // steps -only did not run, whose results are the previous run's
}

// quantity converts a value of a go test unit to a canonical one, so that a value and its
// baseline compare even when their benchmarks report different units (s_to_serve and ns/op):
// times in seconds with what they are per ("/tx", "/op" or ""), megabytes, or the unit as is.
func quantity(v float64, unit string) (float64, string, string) {
	switch {
	case strings.HasPrefix(unit, "ns/"):
		return v * 1e-9, "s", strings.TrimPrefix(unit, "ns")
	case strings.HasPrefix(unit, "ms/"):
		return v * 1e-3, "s", strings.TrimPrefix(unit, "ms")
	case strings.HasPrefix(unit, "s/"):
		return v, "s", strings.TrimPrefix(unit, "s")
	case strings.HasSuffix(unit, "-µs"):
		return v * 1e-6, "s", ""
	case strings.HasSuffix(unit, "-ms"), strings.HasSuffix(unit, "_ms"):
		return v * 1e-3, "s", ""
	case unit == "s_to_serve":
		return v, "s", ""
	case strings.HasSuffix(unit, "_MB"):
		return v, "MB", ""
	case unit == "tps" || unit == "rate": // pqload's confirmed throughput and target rate
		return v, "tx/s", ""
	case unit == "confirmed" || unit == "sent": // pqload's transfer counts
		return v, "transfers", ""
	case unit == "admitted-tx/s" || unit == "settled-tx/s": // BenchmarkSettledThroughput
		return v, "tx/s", ""
	case strings.HasPrefix(unit, "heap-MB-at-"):
		return v, "MB", ""
	case strings.HasPrefix(unit, "s-to-ready-at-"), strings.HasPrefix(unit, "s-first-step-at-"):
		return v, "s", ""
	case strings.HasPrefix(unit, "records-at-"):
		return v, "records", ""
	case unit == "cgo_share_%":
		return v, "%", ""
	case unit == "constraints_per_tx":
		return v, "constraints/tx", ""
	}
	return v, unit, ""
}

// formatQuantity writes a value of a go test unit for people: 46886 ns/tx as "46.9 µs/tx".
func formatQuantity(v float64, unit string) string {
	q, kind, per := quantity(v, unit)
	switch kind {
	case "s":
		a := math.Abs(q)
		switch {
		case a == 0:
			return "0 s" + per
		case a < 1e-6:
			return sig(q*1e9) + " ns" + per
		case a < 1e-3:
			return sig(q*1e6) + " µs" + per
		case a < 1:
			return sig(q*1e3) + " ms" + per
		}
		return sig(q) + " s" + per
	case "%":
		return sig(q) + "%"
	}
	return sig(q) + " " + kind
}

// sig writes x with three significant digits, without an exponent (0.0000221, 46.9, 8588).
func sig(x float64) string {
	a := math.Abs(x)
	switch {
	case a == 0:
		return "0"
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	case a >= 1:
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.*f", 2-int(math.Floor(math.Log10(a))), x)
}

// measured is a metric's median (scaled), its spread as a fraction of it, and how many runs.
type measured struct {
	value, spread float64
	runs          int
}

func (r *report) measure(mt metric) (measured, bool) {
	vs := r.results.values(mt.step, mt.name, mt.unit)
	if len(vs) == 0 {
		return measured{}, false
	}
	st := stats(vs)
	scale := mt.scale
	if scale == 0 {
		scale = 1
	}
	out := measured{value: st.median * scale, runs: len(vs)}
	if st.median != 0 {
		out.spread = (st.max - st.min) / 2 / math.Abs(st.median)
	}
	return out, true
}

// cell writes a measured metric, or why there is none.
func (r *report) cell(mt metric) string {
	v, ok := r.measure(mt)
	if !ok {
		return "— (" + r.missing(mt) + ")"
	}
	s := formatQuantity(v.value, mt.unit)
	if mt.shown != "" {
		s = sig(v.value) + " " + mt.shown
	}
	if v.runs > 1 {
		if p := math.Round(100 * v.spread); p >= 1 {
			s += fmt.Sprintf(" ±%.0f%%", p)
		} else {
			s += " ±<1%"
		}
	}
	return s
}

// missing says why a metric has no value: its step did not run, failed, or did not report it.
func (r *report) missing(mt metric) string {
	res := r.results.steps[mt.step]
	switch {
	case res == nil:
		return "not run"
	case res.status == statusSkipped:
		if strings.HasPrefix(res.reason, notSelected) {
			return notSelected
		}
		if r.suite.quick {
			return "skipped in quick mode"
		}
		return "skipped"
	case res.status == statusFailed:
		return "step " + mt.step + " failed"
	}
	return "not reported"
}

// ratio is how many times better the value is than its baseline, if both were measured.
func (r *report) ratio(rw row) (float64, bool) {
	if rw.baseline == nil {
		return 0, false
	}
	v, ok1 := r.measure(rw.value)
	b, ok2 := r.measure(*rw.baseline)
	if !ok1 || !ok2 {
		return 0, false
	}
	vq, vk, _ := quantity(v.value, rw.value.unit)
	bq, bk, _ := quantity(b.value, rw.baseline.unit)
	if vk != bk || vq == 0 || bq == 0 {
		return 0, false
	}
	if rw.higherBetter {
		return vq / bq, true
	}
	return bq / vq, true
}

func formatRatio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0f×", x)
	case x >= 10:
		return fmt.Sprintf("%.1f×", x)
	}
	return fmt.Sprintf("%.2f×", x)
}

func (r *report) tableRow(w *bytes.Buffer, rw row, prefix string) {
	baseline, ratio := "—", "—"
	if rw.baseline != nil {
		if _, ok := r.measure(*rw.baseline); ok {
			baseline = r.cell(*rw.baseline) + " (" + rw.baseLabel + ")"
		} else {
			baseline = "— (" + rw.baseLabel + ": " + r.missing(*rw.baseline) + ")"
		}
		if x, ok := r.ratio(rw); ok {
			ratio = "**" + formatRatio(x) + "**"
		}
	}
	fmt.Fprintf(w, "| %s%s | %s | %s | %s |\n", prefix, rw.label, r.cell(rw.value), baseline, ratio)
}

func (r *report) modeLine() string {
	if r.suite.quick {
		return fmt.Sprintf("quick mode (`BENCH_QUICK=1 make bench`): -benchtime %s, one run each, batch sizes %s, "+
			"restores up to %s accounts; the million-account restart and every proving run are skipped",
			quickBenchtime, strings.ReplaceAll(join(r.suite.sizes), "|", ", "), countLabel(r.suite.accounts[len(r.suite.accounts)-1]))
	}
	return fmt.Sprintf("full mode (`make bench`): -benchtime %s -count %d for the short benchmarks (median of %d runs), "+
		"fixed iteration counts (-benchtime Nx) for the long ones, as each command shows", fullBenchtime, fullCount, fullCount)
}

// markdown writes report.md.
func (r *report) markdown() []byte {
	var w bytes.Buffer
	m := r.machine
	figs := buildFigures(r.suite, r.results)

	w.WriteString("# pqbridge performance report\n\n")
	fmt.Fprintf(&w, "Written by `make bench` on %s in %s; %s.\n\n", m.Date.Format("2006-01-02 15:04 MST"),
		r.elapsed.Round(time.Second), r.modeLine())
	if len(r.kept) > 0 {
		fmt.Fprintf(&w, "> **Partly an earlier run.** This run measured only what `-only` selected; the results of %s "+
			"are kept from the previous run in this directory (another commit and machine load, perhaps).\n\n",
			"`"+strings.Join(r.kept, "`, `")+"`")
	}
	fmt.Fprintf(&w, "> **A noisy machine.** %d cores shared with other engineers' builds and tests while this ran "+
		"(load average %s before, %s after). Treat an absolute figure as ±20%% or worse; the ratios, value and baseline "+
		"measured minutes apart in the same run, are the figures to read. `raw.txt` holds the go test output "+
		"every number comes from.\n\n", m.Cores, orUnknown(m.LoadBefore), orUnknown(m.LoadAfter))

	w.WriteString("## Machine and commit\n\n| | |\n|---|---|\n")
	fmt.Fprintf(&w, "| CPU | %s (/proc/cpuinfo model name) |\n", orUnknown(m.CPU))
	fmt.Fprintf(&w, "| cores | %d |\n", m.Cores)
	fmt.Fprintf(&w, "| AVX-512 IFMA | %s |\n", yesNo(m.IFMA))
	fmt.Fprintf(&w, "| Go | %s |\n", orUnknown(m.GoVersion))
	fmt.Fprintf(&w, "| Zig | %s |\n", orUnknown(m.ZigVersion))
	commit := "`" + orUnknown(m.Commit) + "`"
	if m.Dirty > 0 {
		commit += fmt.Sprintf(" plus uncommitted changes (%d paths in `git status`)", m.Dirty)
	}
	fmt.Fprintf(&w, "| commit | %s |\n", commit)
	fmt.Fprintf(&w, "| date | %s |\n\n", m.Date.Format(time.RFC3339))

	w.WriteString("## How to read it\n\n")
	w.WriteString("- **value**: the median over the runs of the benchmark (`-count`), ± half the spread between its " +
		"lowest and highest run when there are several.\n")
	w.WriteString("- **baseline**: the comparison point measured in the same run on the same machine.\n")
	w.WriteString("- **ratio**: how many times better the value is than its baseline: baseline ÷ value for times and " +
		"memory, value ÷ baseline for throughputs. Above 1 the value wins (6× = six times faster); below 1 it costs " +
		"more than its baseline (0.5× = twice the time).\n")
	w.WriteString("- Each section ends with the commands that reproduce it alone, from the repository root after " +
		"`make core`.\n\n")

	w.WriteString("## Key figures\n\n| figure | value | baseline | ratio |\n|---|---|---|---|\n")
	for _, f := range figs {
		for _, rw := range f.rows {
			if rw.key {
				r.tableRow(&w, rw, f.title+": ")
			}
		}
	}
	w.WriteString("\n")

	for i, f := range figs {
		fmt.Fprintf(&w, "## %d. %s\n\n%s\n\n", i+1, f.title, f.about)
		w.WriteString("| measurement | value | baseline | ratio |\n|---|---|---|---|\n")
		for _, rw := range f.rows {
			r.tableRow(&w, rw, "")
		}
		w.WriteString("\n")
		for _, p := range f.plots {
			if err, ok := r.plots[p]; ok && err == nil {
				fmt.Fprintf(&w, "![%s](%s)\n\n", f.title, p)
			} else if ok {
				fmt.Fprintf(&w, "*Plot `%s` not drawn: %v.*\n\n", p, err)
			}
		}
		w.WriteString("Reproduce:\n\n```sh\n")
		for _, id := range f.steps {
			if st, ok := r.suite.step(id); ok {
				w.WriteString(strings.Join(st.script(), "\n") + "\n")
			}
		}
		w.WriteString("```\n\n")
	}

	r.writeMissing(&w)
	r.writeSteps(&w)
	r.writeAll(&w)
	return w.Bytes()
}

func (r *report) writeMissing(w *bytes.Buffer) {
	w.WriteString("## Not measured in this run\n\n")
	n := 0
	for _, st := range r.suite.steps {
		res := r.results.steps[st.id]
		switch {
		case res == nil:
			fmt.Fprintf(w, "- `%s`: not run (the run was interrupted).\n", st.id)
		case res.status == statusSkipped:
			fmt.Fprintf(w, "- `%s`: %s.\n", st.id, res.reason)
		case res.status == statusFailed:
			fmt.Fprintf(w, "- `%s` failed: %s\n", st.id, strings.ReplaceAll(res.reason, "|", `\|`))
		default:
			continue
		}
		n++
	}
	if n == 0 {
		w.WriteString("Everything in the suite ran.\n")
	}
	w.WriteString("\n")
}

func (r *report) writeSteps(w *bytes.Buffer) {
	w.WriteString("## Steps\n\n| step | status | time | command |\n|---|---|---|---|\n")
	for _, st := range r.suite.steps {
		res := r.results.steps[st.id]
		status, took := "not run", "—"
		if res != nil {
			status = res.status
			if res.status != statusSkipped {
				took = res.elapsed.Round(100 * time.Millisecond).String()
			}
		}
		fmt.Fprintf(w, "| %s | %s | %s | `%s` |\n", st.id, status, took, strings.ReplaceAll(st.shell(), "|", `\|`))
	}
	w.WriteString("\n")
}

// writeAll lists every benchmark result of the run with every metric, medians over its runs.
func (r *report) writeAll(w *bytes.Buffer) {
	w.WriteString("## Every result\n\nMedians over the runs, every metric each benchmark reported.\n\n")
	w.WriteString("| step | benchmark | runs | metrics |\n|---|---|---|---|\n")
	for _, st := range r.suite.steps {
		res := r.results.steps[st.id]
		if res == nil {
			continue
		}
		var names []string
		for _, smp := range res.samples {
			if !slices.Contains(names, smp.name) {
				names = append(names, smp.name)
			}
		}
		for _, name := range names {
			var units []string
			runs := 0
			for _, smp := range res.samples {
				if smp.name != name {
					continue
				}
				runs++
				for u := range smp.metrics {
					if !slices.Contains(units, u) {
						units = append(units, u)
					}
				}
			}
			slices.Sort(units)
			var parts []string
			for _, u := range units {
				med, _ := r.results.median(st.id, name, u)
				parts = append(parts, fmt.Sprintf("%s %s", sig(med), u))
			}
			fmt.Fprintf(w, "| %s | %s | %d | %s |\n", st.id, name, runs, strings.Join(parts, ", "))
		}
	}
	w.WriteString("\nRaw output: [raw.txt](raw.txt).\n")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
