package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/l1/l1client"
)

// readySlack is how many L1 blocks the challenger's cursor may trail the head and still be
// ready: the head moves on while a block's events are being checked.
const readySlack = 2

// newMetrics reads the challenger's status on every scrape. The detect-to-submit histogram is
// fed from it too: Status holds the last challenge's figure, so two challenges between two
// scrapes count as one observation (challenges are rare; the counter counts them all).
func newMetrics(ch *challenger.Challenger, l1 *l1client.Client) prometheus.Collector {
	detect := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "pqchallenger_detect_to_submit_seconds",
		Help:    "From reading a faulty batch's event to its challenge in the L1 mempool.",
		Buckets: []float64{.001, .002, .005, .01, .02, .05, .1, .2, .5, 1, 2, 5}})
	var (
		mu   sync.Mutex
		seen int // challenges already observed
	)
	return obs.Snapshot(func(e *obs.Emitter) {
		st := ch.Status()
		mu.Lock()
		if st.Challenges > seen {
			detect.Observe(st.DetectSubmit.Seconds())
			seen = st.Challenges
		}
		mu.Unlock()
		e.Collector(detect)
		obs.L1Connection(e, "pqchallenger", l1)
		e.Counter("pqchallenger_batches_checked_total", "Optimistic batches re-executed.", float64(st.Checked))
		e.Counter("pqchallenger_withheld_total", "Blocks after which the proven rollup head showed batches the L1 endpoint's events withheld (-l1-validators).", float64(st.Withheld))
		e.Counter("pqchallenger_challenges_sent_total", "Challenges sent.", float64(st.Challenges))
		e.Counter("pqchallenger_challenges_upheld_total", "Challenges of ours L1 upheld.", float64(st.Upheld))
		e.Counter("pqchallenger_rewards_total", "L1 units received for upheld challenges.", float64(st.Rewards))
		e.Counter("pqchallenger_bond_returned_total", "Challenge bond returned with upheld challenges (L1 units).", float64(st.BondReturned))
		e.Counter("pqchallenger_challenges_rejected_total", "Challenges of ours L1's judge rejected (each burned its bond).", float64(st.BondsLost))
		e.Counter("pqchallenger_bond_burned_total", "Challenge bond burned with rejected challenges (L1 units).", float64(st.BondBurned))
		e.Gauge("pqchallenger_bond_short", "How far the L1 balance is from paying the challenge bond (0: it can pay).", float64(st.BondShort))
		e.Gauge("pqchallenger_cursor_height", "Next L1 height of the event log to read.", float64(st.Cursor))
		e.Gauge("pqchallenger_agreed_batch", "Last batch checked honest (or final).", float64(st.Agreed))
		e.Gauge("pqchallenger_waiting_batches", "Batches building on one not agreed (waiting for a revert).", float64(len(st.Waiting)))
		e.Gauge("pqchallenger_last_batch_seconds", "Re-execution time of the last batch.", st.LastBatchTime.Seconds())
		e.Bool("pqchallenger_stuck", "1 while the challenger cannot make progress (storage fault, or failing in a row): nobody checks the rollup.", st.Stuck())
		e.Gauge("pqchallenger_failures_in_a_row", "Runs of the follow loop that failed in a row (0 after a block handled).", float64(st.Failures))
		e.Counter("pqchallenger_errors_total", "Runs of the follow loop that failed.", float64(st.Errors))
		e.Bool("pqchallenger_storage_fault", "1 after a write or sync of the store failed: the challenger halted.", st.Fault != nil)
		e.Gauge("pqchallenger_challenge_in_flight_batch", "Batch with a challenge of ours in flight (0: none).", float64(st.Challenged))
	})
}

// caughtUp is the challenger's readiness: it is connected to an L1 node, makes progress (no
// storage fault, not failing in a row) and has read its event log to within readySlack blocks
// of the head.
func caughtUp(ctx context.Context, cl *l1client.Client, ch *challenger.Challenger) error {
	if err := cl.Err(); err != nil {
		return err // "l1 disconnected: <endpoint>: <cause>"
	}
	if err := ch.Ready(); err != nil {
		return err
	}
	st, err := cl.Status(ctx)
	if err != nil {
		return fmt.Errorf("L1 node: %w", err)
	}
	if cur := ch.Status().Cursor; cur+readySlack < st.Height {
		return fmt.Errorf("catching up: cursor at L1 height %d, head %d", cur, st.Height)
	}
	return nil
}
