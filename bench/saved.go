package main

import (
	"encoding/json"
	"os"
	"time"
)

// savedRun is results.json: everything a report is drawn from, so that -render can redraw the
// report and its plots after a change to them without measuring again.
type savedRun struct {
	Quick   bool                 `json:"quick"`
	Machine machine              `json:"machine"`
	Elapsed time.Duration        `json:"elapsed_ns"`
	Steps   map[string]savedStep `json:"steps"`
	Kept    []string             `json:"kept,omitempty"` // steps whose results an -only run kept from the run before
}

type savedStep struct {
	Status  string        `json:"status"`
	Reason  string        `json:"reason,omitempty"`
	Elapsed time.Duration `json:"elapsed_ns"`
	Samples []savedSample `json:"samples,omitempty"`
}

type savedSample struct {
	Name       string             `json:"name"`
	Iterations int                `json:"iterations"`
	Metrics    map[string]float64 `json:"metrics"`
}

func saveRun(path string, r *report) error {
	run := savedRun{Quick: r.suite.quick, Machine: r.machine, Elapsed: r.elapsed, Steps: map[string]savedStep{}, Kept: r.kept}
	for id, s := range r.results.steps {
		st := savedStep{Status: s.status, Reason: s.reason, Elapsed: s.elapsed}
		for _, smp := range s.samples {
			st.Samples = append(st.Samples, savedSample{Name: smp.name, Iterations: smp.iterations, Metrics: smp.metrics})
		}
		run.Steps[id] = st
	}
	b, err := json.MarshalIndent(run, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func loadRun(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var run savedRun
	if err := json.Unmarshal(b, &run); err != nil {
		return nil, err
	}
	res := &results{steps: map[string]*stepResult{}}
	for id, st := range run.Steps {
		s := &stepResult{status: st.Status, reason: st.Reason, elapsed: st.Elapsed}
		for _, smp := range st.Samples {
			s.samples = append(s.samples, sample{name: smp.Name, iterations: smp.Iterations, metrics: smp.Metrics})
		}
		res.steps[id] = s
	}
	return &report{suite: newSuite(run.Quick), machine: run.Machine, results: res, elapsed: run.Elapsed, kept: run.Kept}, nil
}
