package obs

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// proofBuckets span the time of one validity proof: from 50 ms (small circuits) to about 100 s.
var proofBuckets = prometheus.ExponentialBuckets(0.05, 2, 12)

// Proofs counts the validity proofs a daemon handles, by outcome, and times the ones made:
// <daemon>_proofs_total{outcome} and <daemon>_proof_seconds. pqprover keeps them for the jobs
// it answers, pqsequencer for the proofs it asks a prover for; each times its own side.
type Proofs struct {
	count   *prometheus.CounterVec
	seconds prometheus.Histogram
}

// NewProofs registers the proof metrics of daemon with reg. Each of outcomes is present from
// the start, at 0; a proof made counts as "ok".
func NewProofs(reg prometheus.Registerer, daemon string, outcomes []string, countHelp, secondsHelp string) *Proofs {
	p := &Proofs{
		count: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: daemon, Name: "proofs_total", Help: countHelp},
			[]string{"outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{Namespace: daemon, Name: "proof_seconds", Help: secondsHelp,
			Buckets: proofBuckets}),
	}
	for _, o := range outcomes {
		p.count.WithLabelValues(o)
	}
	reg.MustRegister(p.count, p.seconds)
	return p
}

// Made counts a proof made (outcome "ok") and observes the time d it took.
func (p *Proofs) Made(d time.Duration) {
	p.count.WithLabelValues("ok").Inc()
	p.seconds.Observe(d.Seconds())
}

// Missed counts a proof not made, with its outcome.
func (p *Proofs) Missed(outcome string) { p.count.WithLabelValues(outcome).Inc() }
