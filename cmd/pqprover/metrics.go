package main

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// metrics are the prover's Prometheus metrics: proofs counted and timed as the service answers
// them (in every mode), the service's load and the parameters read on every scrape.
type metrics struct {
	proofs *obs.Proofs
}

func newMetrics(reg *prometheus.Registry, svc *prover.Service, keys *prover.Keys, id prover.KeyID) *metrics {
	m := &metrics{proofs: obs.NewProofs(reg, "pqprover", []string{"ok", "failed", "cancelled"},
		"Jobs answered, by outcome: ok (proof made and verified), failed, or cancelled (the client left or the prover stopped before a worker took it).",
		"Proving time of each proof made (witness to verified proof), without the wait in the queue.")}
	reg.MustRegister(obs.Snapshot(func(e *obs.Emitter) {
		proving, queued := svc.Load()
		e.Gauge("pqprover_jobs", "Jobs in the prover by state: being proven, or queued for a worker.", float64(proving), "state", "proving")
		e.Gauge("pqprover_jobs", "Jobs in the prover by state: being proven, or queued for a worker.", float64(queued), "state", "queued")
		e.Gauge("pqprover_params_depth", "State tree depth D of the keys served.", float64(keys.Params.Depth))
		e.Gauge("pqprover_params_batch_size", "Transaction slots B of the keys served.", float64(keys.Params.BatchSize))
		e.Gauge("pqprover_constraints", "R1CS constraints of the circuit proven.", float64(keys.CS.GetNbConstraints()))
		e.Gauge("pqprover_keys_info", "The keys served: parameter set and verifying key ID (L1's vkHash), as labels.", 1,
			"params", keys.Params.String(), "verifying_key_id", id.String())
	}))
	return m
}

// measure wraps p so that every job it answers is counted and timed.
func (m *metrics) measure(p proverapi.Prover) proverapi.Prover {
	return measured{p: p, m: m}
}

type measured struct {
	p proverapi.Prover
	m *metrics
}

func (w measured) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	res, err := w.p.Prove(ctx, job)
	switch {
	case err == nil:
		w.m.proofs.Made(res.Duration)
	case errors.Is(err, context.Canceled), errors.Is(err, prover.ErrStopped):
		w.m.proofs.Missed("cancelled")
	default:
		w.m.proofs.Missed("failed")
	}
	return res, err
}
