package main

import (
	"context"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverpool"
	"github.com/pqbridge/pqbridge/settlement"
)

// metrics are the sequencer's Prometheus metrics: per-block ones from its block notifications,
// the rest read from the sequencer and the settlement engine on every scrape.
type metrics struct {
	s         *sequencer.Sequencer
	eng       *settlement.Engine // nil without -l1
	l1        *l1client.Client   // nil without -l1
	pool      *proverpool.Pool   // nil without -prover
	pre       *corePreStates     // nil without -prover
	buildTime prometheus.Histogram
	blockTxs  prometheus.Histogram
}

func newMetrics(reg *prometheus.Registry, s *sequencer.Sequencer, eng *settlement.Engine, l1 *l1client.Client, pool *proverpool.Pool,
	pre *corePreStates) *metrics {
	m := &metrics{s: s, eng: eng, l1: l1, pool: pool, pre: pre,
		buildTime: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pqsequencer_block_build_seconds",
			Help:    "Time to execute and store a block (deposits already fetched).",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14)}),
		blockTxs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pqsequencer_block_txs",
			Help:    "Transactions per block, deposits included.",
			Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 4096}}),
	}
	reg.MustRegister(m.buildTime, m.blockTxs, obs.Snapshot(m.collect))
	return m
}

// follow observes every block until ctx ends; a subscription dropped for lagging is renewed
// (the blocks it missed are not observed).
func (m *metrics) follow(ctx context.Context) {
	for ctx.Err() == nil {
		ch, cancel := m.s.Subscribe()
		for open := true; open; {
			select {
			case <-ctx.Done():
				cancel()
				return
			case ev, ok := <-ch:
				if !ok {
					open = false
					break
				}
				m.buildTime.Observe(ev.BuildTime.Seconds())
				m.blockTxs.Observe(float64(len(ev.TxHashes)))
			}
		}
		cancel()
	}
}

func (m *metrics) collect(e *obs.Emitter) {
	head := m.s.Head()
	st := m.s.Stats()
	e.Gauge("pqsequencer_block_height", "Number of the latest durable block.", float64(head.Number))
	e.Gauge("pqsequencer_deposit_cursor", "L1 deposits placed in blocks (the next queue index).", float64(head.DepositEnd))
	e.Gauge("pqsequencer_mempool_txs", "Pending transactions.", float64(st.Mempool))
	e.Counter("pqsequencer_txs_admitted_total", "Transactions acknowledged since start.", float64(st.Admitted))
	for reason, n := range st.Rejected {
		e.Counter("pqsequencer_txs_rejected_total", "Transactions refused since start, by reason (the JSON-RPC error's).", float64(n), "reason", reason)
	}
	bp := m.s.Backpressure()
	e.Counter("pqsequencer_admission_throttled_total", "Transactions refused as overloaded (-32024) because settlement lags (docs/sequencer.md, Backpressure).", float64(bp.Throttled))
	e.Gauge("pqsequencer_settlement_lag_txs", "Acknowledged transactions not yet in a batch posted to L1 (stage posted, mempool included) or not yet final (stage final).",
		float64(bp.Pending), "stage", "posted")
	e.Gauge("pqsequencer_settlement_lag_txs", "Acknowledged transactions not yet in a batch posted to L1 (stage posted, mempool included) or not yet final (stage final).",
		float64(bp.Lag.Unfinal+uint64(st.Mempool)), "stage", "final")
	if bp.Lag.HasDeposit {
		e.Gauge("pqsequencer_deposit_deadline_slack_blocks", "L1 blocks left before the oldest unconsumed L1 deposit's forced-inclusion deadline (absent without one).",
			float64(int64(bp.Lag.DepositDeadline)-int64(bp.Lag.L1Height)))
	}
	conns, refused := m.s.RPCStats()
	e.Gauge("pqsequencer_rpc_connections", "JSON-RPC connections open now (HTTP and WebSocket).", float64(conns))
	for reason, n := range refused {
		e.Counter("pqsequencer_rpc_refused_total", "JSON-RPC connections and requests refused since start, by reason (docs/sequencer.md, JSON-RPC limits); rate_ws_delayed counts WebSocket messages read late, not refused.", float64(n), "reason", reason)
	}
	if m.l1 != nil {
		obs.L1Connection(e, "pqsequencer", m.l1)
	}
	if m.pool != nil {
		poolMetrics(e, m.pool)
	}
	if m.eng == nil {
		return
	}
	counts := map[settlement.State]int{}
	fin := m.eng.LastFinal() // the final batches' records are pruned: their summary
	counts[settlement.StateFinalized] = int(fin.Number)
	posted, final := fin.End().Block-1, fin.End().Block-1 // last L2 block wholly in a batch on L1, in a final batch
	reverts, rejects := fin.Reverts, fin.Rejects
	for _, b := range m.eng.Status() {
		if b.Number <= fin.Number {
			continue
		}
		counts[b.State]++
		reverts, rejects = reverts+b.Reverts, rejects+b.Rejects
		covered := b.End.Block - 1 // End is exclusive: block End.Block is not (wholly) in it
		if b.State >= settlement.StatePosted {
			posted = max(posted, covered)
		}
	}
	for _, s := range []settlement.State{settlement.StateBuilt, settlement.StatePosted, settlement.StateInWindow,
		settlement.StateProven, settlement.StateFinalized} {
		e.Gauge("pqsequencer_settlement_batches", "Batches of the settlement engine by state (finalized: every final batch, their records pruned).", float64(counts[s]),
			"state", strings.ReplaceAll(s.String(), " ", "_"))
	}
	e.Counter("pqsequencer_settlement_reverts_total", "Times L1 reverted an accepted batch of ours (an upheld challenge).", float64(reverts))
	e.Counter("pqsequencer_settlement_rejects_total", "Times L1 refused a posting of a batch of ours (a failed receipt).", float64(rejects))
	if cc := m.eng.CrossCheck(); cc.On {
		e.Gauge("pqsequencer_settlement_crosscheck_lag_batches", "Built batches the Go reference cross-check has not checked yet (-cross-check).", float64(cc.Lag))
		e.Gauge("pqsequencer_settlement_crosscheck_checked_batch", "The last batch the Go reference cross-check agreed with.", float64(cc.Checked))
		e.Counter("pqsequencer_settlement_crosscheck_skipped_total", "Batches the cross-check skipped because it fell behind (it never holds up cutting or posting).", float64(cc.Skipped))
	}
	e.Counter("pqsequencer_settlement_reference_txs_total", "Transactions the settlement engine executed with the Go reference: the cross-check's and fault injection's (the prover's witness comes from the core).", float64(m.eng.ReferenceTxs()))
	rs := m.eng.Retries()
	e.Counter("pqsequencer_settlement_retries_total", "Failed postings of a batch to L1, each retried after a capped exponential backoff with full jitter.", float64(rs.Retries))
	e.Counter("pqsequencer_settlement_retries_exhausted_total", "Batches whose failed postings went over -settlement-retry-budget (each counted once; still retried at the cap).", float64(rs.Exhausted))
	e.Gauge("pqsequencer_settlement_batches_over_retry_budget", "Batches over -settlement-retry-budget and not posted yet.", float64(rs.OverBudget))
	if m.pre != nil {
		m.pre.emit(e)
	}
	halted := 0.0
	if m.eng.Err() != nil {
		halted = 1
	}
	e.Gauge("pqsequencer_settlement_halted", "1 when the settlement engine has halted (a storage fault, a block it cannot build a batch from, or a cross-check disagreement): /readyz says why.", halted)
	e.Gauge("pqsequencer_batch_lag_blocks", "L2 head minus the last block wholly in a batch posted to L1 (stage posted) or final on it (stage final).",
		float64(head.Number-min(head.Number, posted)), "stage", "posted")
	e.Gauge("pqsequencer_batch_lag_blocks", "L2 head minus the last block wholly in a batch posted to L1 (stage posted) or final on it (stage final).",
		float64(head.Number-min(head.Number, final)), "stage", "final")
}

// proofMetrics count and time the validity proofs the engine asks the prover for (-prover).
type proofMetrics struct {
	proofs *obs.Proofs
}

func newProofMetrics(reg *prometheus.Registry) *proofMetrics {
	return &proofMetrics{proofs: obs.NewProofs(reg, "pqsequencer", []string{"ok", "failed"},
		"Validity proofs asked of the prover (one per chunk of a batch proven in chunks), by outcome: ok (checked) or failed (error, refusal or deadline: the batch waits or goes optimistic).",
		"Time from asking the prover for a proof to holding the checked proof (the prover's queue and the network included).")}
}

// measure wraps p so that every proof asked of it is counted and timed.
func (m *proofMetrics) measure(p settlement.JobProver) settlement.JobProver {
	return measuredProver{p: p, m: m}
}

type measuredProver struct {
	p settlement.JobProver
	m *proofMetrics
}

func (w measuredProver) Prove(ctx context.Context, job *prover.Job) (*prover.Result, error) {
	start := time.Now()
	res, err := w.p.Prove(ctx, job)
	if err != nil {
		w.m.proofs.Missed("failed")
		return nil, err
	}
	w.m.proofs.Made(time.Since(start))
	return res, nil
}

// HasVK passes the wrapped prover's answer on (settlement.ServiceProver asks it whether a
// prover holds the verifying key in force); false if it does not say.
func (w measuredProver) HasVK(id prover.KeyID) bool {
	h, ok := w.p.(interface{ HasVK(prover.KeyID) bool })
	return ok && h.HasVK(id)
}
