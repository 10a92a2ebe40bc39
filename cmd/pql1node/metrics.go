package main

import (
	"context"
	"log/slog"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// maxBlockEvents bounds the events read for one block: more than a block's transactions can
// emit (a few per transaction).
const maxBlockEvents = 1 << 16

// metrics are the node's Prometheus metrics: per-block ones, counted by following the blocks,
// and state read from the node on every scrape.
type metrics struct {
	n        *node.Node
	srv      *quicrpc.Server
	log      *slog.Logger
	blockTxs prometheus.Histogram
	txs      *prometheus.CounterVec
	events   *prometheus.CounterVec
}

func newMetrics(reg *prometheus.Registry, n *node.Node, srv *quicrpc.Server, log *slog.Logger) *metrics {
	m := &metrics{n: n, srv: srv, log: log,
		blockTxs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pql1node_block_txs",
			Help: "Transactions per block.", Buckets: []float64{0, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000}}),
		txs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pql1node_txs_total",
			Help: "Transactions included in blocks since start, by outcome (ok, failed)."}, []string{"outcome"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "pql1node_events_total",
			Help: "Events of the blocks since start, by kind (batch_submitted, batch_finalized, batch_reverted, challenge_upheld, deposit, ...)."},
			[]string{"kind"}),
	}
	reg.MustRegister(m.blockTxs, m.txs, m.events, obs.Snapshot(m.collect))
	return m
}

// follow counts every block committed from now until ctx ends.
func (m *metrics) follow(ctx context.Context) {
	st, err := m.n.Status()
	if err != nil {
		m.log.Warn("metrics", "err", err)
		return
	}
	last := st.Height
	for {
		next := m.n.NewBlock() // taken before reading the height, so no block is missed
		if st, err = m.n.Status(); err != nil {
			return // the store is closed
		}
		for ; last < st.Height; last++ {
			if err := m.count(last + 1); err != nil {
				m.log.Warn("metrics", "height", last+1, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-next:
		case <-time.After(time.Second): // a stopped node never closes next
		}
	}
}

func (m *metrics) count(h uint64) error {
	b, err := m.n.Block(h)
	if err != nil {
		return err
	}
	m.blockTxs.Observe(float64(len(b.Txs)))
	rs, err := m.n.Receipts(h)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.OK {
			m.txs.WithLabelValues("ok").Inc()
		} else {
			m.txs.WithLabelValues("failed").Inc()
		}
	}
	evs, err := m.n.Events(h, maxBlockEvents)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if ev.Height != h {
			break
		}
		m.events.WithLabelValues(ev.Kind.String()).Inc()
	}
	return nil
}

// collect reads the transport's counts, the head, the mempool and every rollup's state.
func (m *metrics) collect(e *obs.Emitter) {
	for reason, v := range m.srv.ConnRefusals() {
		e.Counter("pql1node_conn_refused_total", "QUIC connection attempts refused by reason (quicrpc admission; before the handshake counted per Initial packet).",
			float64(v), "reason", reason)
	}
	for reason, v := range m.srv.StreamRefusals() {
		e.Counter("pql1node_stream_refused_total", "Calls and subscriptions refused by reason (per-address stream cap, per-connection request rate).",
			float64(v), "reason", reason)
	}
	open, general := m.srv.Conns()
	e.Gauge("pql1node_conns", "QUIC connections open or handshaking.", float64(open))
	e.Gauge("pql1node_conns_general", "Connections of keys without stake or L1 balance (the unreserved pool).", float64(general))
	e.Bool("pql1node_halted", "1 if the node halted on a fatal chain error (a storage fault, a broken invariant, a state root mismatch): the reason is in l1_status and the log.",
		m.n.Err() != nil)
	st, err := m.n.Status()
	if err != nil {
		return
	}
	e.Gauge("pql1node_block_height", "Height of the head block.", float64(st.Height))
	e.Gauge("pql1node_mempool_txs", "Transactions waiting in the mempool.", float64(st.MempoolTxs))
	e.Gauge("pql1node_rollups", "Registered rollups.", float64(st.RollupCount))
	if g, err := m.n.Chain().Global(); err == nil {
		e.Gauge("pql1node_bonded", "Sequencer stakes locked, each backing its rollup's pending optimistic batches (and per-batch bonds of records stored before the stake).", float64(g.Bonded))
		e.Counter("pql1node_burned_total", "Burned, ever: transaction fees and the slashed half of bonds.", float64(g.Burned))
	}
	ms := m.n.MempoolStats()
	for reason, count := range ms.Refused {
		e.Counter("pql1node_mempool_refused_total", "Transactions the mempool refused since start, by reason (nonce_too_low, nonce_too_high, nonce_taken, sender_cap, no_balance, cannot_pay, full, known, too_large, invalid).",
			float64(count), "reason", reason)
	}
	e.Counter("pql1node_mempool_evicted_total", "Transactions evicted from the mempool for better ones since start.", float64(ms.Evicted))
	for id := uint64(1); id <= st.RollupCount; id++ {
		r, err := m.n.Rollup(id)
		if err != nil {
			continue
		}
		rid := itoa(id)
		e.Gauge("pql1node_rollup_batches", "Accepted batches by status: pending (in window or waiting for predecessors) or final.",
			float64(r.HeadNumber-r.FinalNumber), "rollup", rid, "status", "pending")
		e.Gauge("pql1node_rollup_batches", "Accepted batches by status: pending (in window or waiting for predecessors) or final.",
			float64(r.FinalNumber), "rollup", rid, "status", "final")
		e.Counter("pql1node_rollup_deposits_total", "Deposits ever queued.", float64(r.QueueLen), "rollup", rid)
		e.Gauge("pql1node_rollup_escrow", "L1 units held in the rollup's escrow.", float64(r.Escrow), "rollup", rid)
		e.Bool("pql1node_rollup_escrow_invariant_ok", "1 if escrow = deposited - paid (checked after every block; a violation halts the node).",
			r.Paid <= r.Deposited && r.Escrow == r.Deposited-r.Paid, "rollup", rid)
		if v, err := r.Reserves(); v.On { // err: the equation is broken (v.Holds false)
			e.Bool("pql1node_rollup_reserves_ok", "1 if escrow = unconsumed deposits + L2 supply at the last final root + unclaimed withdrawals + delay queue (docs/l1.md §5, checked after every block; a violation halts the node).",
				err == nil && v.Holds, "rollup", rid)
			e.Gauge("pql1node_rollup_l2_supply", "L2's balances at the last final root, as L1 derives them (deposits consumed - withdrawals committed by final batches - exodus payouts).", float64(v.Supply), "rollup", rid)
			e.Gauge("pql1node_rollup_unconsumed_deposits", "Deposits no final batch consumed (and no exodus refunded).", float64(v.Unconsumed), "rollup", rid)
			e.Gauge("pql1node_rollup_unclaimed_withdrawals", "Withdrawals committed by final batches and not claimed yet.", float64(v.Unclaimed), "rollup", rid)
		}
		e.Bool("pql1node_rollup_paused", "1 if the guardians paused the rollup.", r.Paused, "rollup", rid)
		e.Bool("pql1node_rollup_frozen", "1 if the rollup is frozen (exodus).", r.Frozen, "rollup", rid)
		e.Counter("pql1node_rollup_delayed_withdrawals_total", "Withdrawals the governor ever queued (delayed).", float64(r.DelayedCount), "rollup", rid)
		e.Gauge("pql1node_rollup_delayed_pending", "Withdrawals waiting in the governor's delay queue (claimed, not yet released).", float64(r.DelayedPending), "rollup", rid)
		e.Gauge("pql1node_rollup_delayed_amount", "Total of the withdrawals waiting in the delay queue (still in escrow).", float64(r.DelayedAmount), "rollup", rid)
		e.Gauge("pql1node_rollup_governor_window_outflow", "Paid out in the governor's current window.", float64(r.Gov.Outflow), "rollup", rid)
		e.Gauge("pql1node_rollup_governor_baseline", "Governor's moving average of past windows' outflow.", float64(r.Gov.Baseline), "rollup", rid)
		m.windows(e, st.Height, r, rid)
	}
}

// windows emits the rollup's two clocks against their windows: the forced-inclusion deadline of
// the oldest deposit no accepted batch consumes, and the blocks since the last finalization
// against the exodus timeout (docs/l1.md; alerts in deploy/prometheus/alerts.yml).
func (m *metrics) windows(e *obs.Emitter, height uint64, r *chain.Rollup, rid string) {
	e.Gauge("pql1node_rollup_forced_inclusion_window_blocks", "Blocks a queued deposit may wait before L1 refuses batches that leave it unconsumed.",
		float64(r.Config.ForcedInclusionWindow), "rollup", rid)
	e.Gauge("pql1node_rollup_exodus_timeout_blocks", "Blocks without a finalized batch before the rollup freezes (exodus).",
		float64(r.Config.ExodusTimeout), "rollup", rid)
	e.Gauge("pql1node_rollup_blocks_since_final", "L1 blocks since the rollup's last finalization (registration before any): it freezes at the exodus timeout.",
		float64(height-min(height, r.FinalHeight)), "rollup", rid)
	if r.HeadConsumed >= r.QueueLen {
		return
	}
	d, err := m.n.Deposit(r.ID, r.HeadConsumed)
	if err != nil {
		m.log.Warn("metrics: oldest unconsumed deposit", "rollup", rid, "index", r.HeadConsumed, "err", err)
		return
	}
	e.Gauge("pql1node_rollup_deposit_deadline_slack_blocks", "L1 blocks left before the forced-inclusion deadline of the oldest deposit no accepted batch consumes (absent without one; negative: passed).",
		float64(int64(d.Height+r.Config.ForcedInclusionWindow)-int64(height)), "rollup", rid)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
