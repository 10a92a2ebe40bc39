package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/pqbridge/pqbridge/l1/chain"
)

// Amounts of the demo.
const (
	depositBob    = 1_000_000
	depositCarol  = 100_000
	withdrawAlice = 5_000
	fraudTransfer = 1_234
)

// demo walks the flow; every check is on values, and the first failure ends it naming its step.
type demo struct {
	n          *network
	u          *ui
	bob, carol uint32 // L2 account indices
	lastTx     string // the last transfer of step 2
	fraudFrom  uint64 // L1 height at the start of the fraud step: the guardian watcher reads from it
	largeTx    string // step 7's large withdrawal, claimed in step 8
	results    []stepResult
}

type stepResult struct {
	title, result string
	took          time.Duration
}

// stepError names the step that failed: `make devnet-demo` exits non-zero with it.
type stepError struct {
	n     int
	title string
	err   error
}

func (e *stepError) Error() string {
	return fmt.Sprintf("demo step %d (%s) failed: %v", e.n, e.title, e.err)
}

func (e *stepError) Unwrap() error { return e.err }

func runDemo(ctx context.Context, n *network, u *ui) error {
	d := &demo{n: n, u: u}
	steps := []struct {
		title string
		run   func(context.Context) (string, error)
	}{
		{"Deposit on L1, credited on L2", d.deposit},
		{"Transfers on L2 (soft-confirmed by the sequencer)", d.transfers},
		{"A batch proven with Groth16, final on L1 at once", d.provenBatch},
		{"An optimistic batch, final after its challenge window", d.optimisticBatch},
		{"A withdrawal claimed on L1", d.withdrawal},
		{"An injected fraud: caught by the challenger, reverted on L1", d.fraud},
		{"Guardians: paused on the upheld fraud, deposit and claim refused, 2 of 3 unpause", d.guardians},
		{"A large withdrawal delayed by the governor, released after the delay, paid once", d.delayed},
		{"A quorum certificate of L1, verified against the pinned validator set", d.certificate},
		{"A validator SIGKILLed: settlement goes on, it restarts and catches up", d.validatorDown},
		{"An ML-DSA-65 (post-quantum) L2 account: transfer, withdrawal, optimistic batch, claim on L1", d.mldsa},
		{"Metrics of every daemon", d.metrics},
	}
	u.header("Demo")
	u.printf("Every command below can be run by hand:  export PQBRIDGE_HOME=%s\n", n.walletHome)
	for i, s := range steps {
		u.step(i+1, len(steps), s.title)
		start := time.Now()
		actx, acancel := n.whileAlive(ctx)
		sctx, cancel := context.WithTimeout(actx, n.o.stepTimeout)
		res, err := s.run(sctx)
		cancel()
		acancel()
		if err != nil {
			if derr := n.deathError(); derr != nil {
				err = fmt.Errorf("%w; %w", err, derr)
			} else if ctx.Err() == nil && sctx.Err() != nil {
				err = fmt.Errorf("%w (after %v; --step-timeout)", err, n.o.stepTimeout)
			}
			return &stepError{i + 1, s.title, err}
		}
		d.results = append(d.results, stepResult{s.title, res, time.Since(start)})
	}
	d.summary()
	return nil
}

// deposit: alice deposits for bob and carol on L1; the sequencer credits them on L2.
func (d *demo) deposit(ctx context.Context) (string, error) {
	n := d.n
	if _, err := n.wallet(ctx, d.u, "balance", "alice", "--l1"); err != nil {
		return "", err
	}
	for _, dep := range []struct {
		to     string
		amount uint64
	}{{"bob", depositBob}, {"carol", depositCarol}} {
		if _, err := n.wallet(ctx, d.u, "deposit", fmt.Sprint(dep.amount), "--to-l2", dep.to, "--l1-key", "alice", "--wait"); err != nil {
			return "", err
		}
	}
	p := d.u.progress("the sequencer takes the deposits from the L1 queue")
	var err error
	err = waitUntil(ctx, time.Hour, "the deposits on L2", func() (bool, error) {
		bob, err1 := d.l2Balance(ctx, "bob")
		carol, err2 := d.l2Balance(ctx, "carol")
		p.update(fmt.Sprintf("bob %v, carol %v", bob, carol), 0, 0)
		if err1 != nil || err2 != nil || !bob.Exists || !carol.Exists {
			return false, nil
		}
		d.bob, d.carol = *bob.Index, *carol.Index
		return bob.Balance == depositBob && carol.Balance == depositCarol, nil
	})
	if err != nil {
		return "", err
	}
	p.end(fmt.Sprintf("bob is L2 account %d, carol %d", d.bob, d.carol))
	if _, err := n.wallet(ctx, d.u, "balance", "--l2"); err != nil {
		return "", err
	}
	return fmt.Sprintf("%d to bob, %d to carol, escrowed on L1 and credited on L2", depositBob, depositCarol), nil
}

// transfers: three from bob to carol and one back, each acknowledged after it is durable.
func (d *demo) transfers(ctx context.Context) (string, error) {
	amounts := []uint64{2500, 1500, 1000}
	var sent uint64
	for _, a := range amounts {
		if _, err := d.n.wallet(ctx, d.u, "transfer", "--from", fmt.Sprint(d.bob), "--to", fmt.Sprint(d.carol), fmt.Sprint(a), "--wait"); err != nil {
			return "", err
		}
		sent += a
	}
	out, err := d.n.wallet(ctx, d.u, "transfer", "--from", fmt.Sprint(d.carol), "--to", fmt.Sprint(d.bob), "300", "--wait")
	if err != nil {
		return "", err
	}
	m := txHash.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pqwallet transfer printed no transaction hash: %q", out)
	}
	d.lastTx = m[1]
	if err := d.expectL2(ctx, map[string]uint64{"bob": depositBob - sent + 300, "carol": depositCarol + sent - 300}); err != nil {
		return "", err
	}
	if _, err := d.n.wallet(ctx, d.u, "balance", "--l2"); err != nil {
		return "", err
	}
	return "4 transfers, balances as expected", nil
}

// provenBatch waits for the batch holding step 2's last transfer to be proven and final,
// showing the proof's progress from pqprover's metrics.
func (d *demo) provenBatch(ctx context.Context) (string, error) {
	d.u.note("The sequencer cuts batches of up to %d transactions (or every second) and asks pqprover for a Groth16 proof;", d.n.params.BatchSize)
	d.u.note("L1 verifies it against the public input it recomputes, and the batch is final in the block that takes it.")
	p := d.u.progress("proving the batch with the last transfer")
	var provingSince time.Time
	err := waitUntil(ctx, time.Hour, "the last transfer final on L1", func() (bool, error) {
		var st struct {
			Settlement string `json:"settlement"`
		}
		if err := d.n.walletJSON(ctx, &st, "status", "tx", d.lastTx); err != nil {
			return false, err
		}
		if st.Settlement == "final" {
			return true, nil
		}
		status := "settlement " + st.Settlement
		var elapsed, estimate time.Duration
		if m, err := scrape(ctx, "http://"+d.n.metrics["pqprover"]+"/metrics"); err == nil {
			proving := m.labeled("pqprover_jobs", `state="proving"`)
			constraints, _ := m.sum("pqprover_constraints")
			switch {
			case proving > 0 && provingSince.IsZero():
				provingSince = time.Now()
			case proving == 0:
				provingSince = time.Time{}
			}
			if !provingSince.IsZero() {
				status += fmt.Sprintf("; pqprover proving (%.0f constraints)", constraints)
				elapsed, estimate = time.Since(provingSince), time.Duration(constraints/proveConstraintsPerSecond*float64(time.Second))
			}
		}
		p.updateTime(status, elapsed, estimate)
		return false, nil
	})
	if err != nil {
		return "", err
	}
	r, err := d.rollup(ctx)
	if err != nil {
		return "", err
	}
	var found *chain.BatchRecord
	for b := r.FinalNumber; b >= 1 && found == nil; b-- {
		rec, err := d.n.l1.Batch(ctx, rollupID, b)
		if err != nil {
			return "", err
		}
		if rec.Mode == chain.ModeValidity {
			found = rec
		}
	}
	if found == nil {
		return "", fmt.Errorf("the transfer is final but no batch up to %d is a validity batch", r.FinalNumber)
	}
	p.end(fmt.Sprintf("batch %d (%d transactions) proven and final", found.Number, found.TxCount))
	if _, err := d.n.wallet(ctx, d.u, "status", "tx", d.lastTx); err != nil {
		return "", err
	}
	if m, err := scrape(ctx, "http://"+d.n.metrics["pqprover"]+"/metrics"); err == nil {
		if n, _ := m.sum("pqprover_proof_seconds_count"); n > 0 {
			sum, _ := m.sum("pqprover_proof_seconds_sum")
			d.u.note("pqprover has made %.0f proofs so far, %.1f s each on average", n, sum/n)
		}
	}
	if _, err := d.n.wallet(ctx, d.u, "status", "batch", fmt.Sprint(found.Number)); err != nil {
		return "", err
	}
	return fmt.Sprintf("batch %d: validity proof verified by L1; first final batch %.1f s after the daemons were up",
		found.Number, d.n.firstFinal().Seconds()), nil
}

// proveConstraintsPerSecond is the proving rate measured on 2 cores (docs/prover.md), for the
// progress estimate only.
const proveConstraintsPerSecond = 70_000

// txHash finds the transaction hash in pqwallet's output.
var txHash = regexp.MustCompile(`(?m)^tx (0x[0-9a-fA-F]{64})$`)

// optimisticBatch switches the sequencer to optimistic posting for one batch.
func (d *demo) optimisticBatch(ctx context.Context) (string, error) {
	d.u.note("Without a proof, a batch is posted on the sequencer's stake (locked once, backing every pending")
	d.u.note("batch) and becomes final once its challenge")
	d.u.note("window passes without a successful fraud proof. The devnet API switches the sequencer's policy:")
	r0, err := d.rollup(ctx)
	if err != nil {
		return "", err
	}
	if err := d.n.devnetCall(ctx, d.u, nil, "devnet_setPolicy", "optimistic"); err != nil {
		return "", err
	}
	defer d.n.devnetCall(context.WithoutCancel(ctx), d.u, nil, "devnet_setPolicy", "auto")
	if _, err := d.n.wallet(ctx, d.u, "transfer", "--from", fmt.Sprint(d.bob), "--to", fmt.Sprint(d.carol), "700", "--wait"); err != nil {
		return "", err
	}
	rec, err := d.waitBatch(ctx, r0.HeadNumber, chain.ModeOptimistic, "the optimistic batch posted")
	if err != nil {
		return "", err
	}
	r1, err := d.rollup(ctx)
	if err != nil {
		return "", err
	}
	if r1.FinalNumber < rec.Number && r1.Stake != sequencerBond {
		return "", fmt.Errorf("batch %d is pending but the rollup's stake is %d, want %d", rec.Number, r1.Stake, sequencerBond)
	}
	d.u.note("batch %d posted optimistically at L1 height %d on the sequencer's stake of %d; it may finalize at height %d",
		rec.Number, rec.SubmittedAt, sequencerBond, rec.FinalizeAt)
	if err := d.waitFinal(ctx, rec); err != nil {
		return "", err
	}
	if _, err := d.n.wallet(ctx, d.u, "status", "batch", fmt.Sprint(rec.Number)); err != nil {
		return "", err
	}
	return d.stakeOutcome(ctx, rec)
}

// stakeOutcome reports batch rec final and checks the stake's state: returned when no batch is
// pending, else still locked for the pending ones.
func (d *demo) stakeOutcome(ctx context.Context, rec *chain.BatchRecord) (string, error) {
	r, err := d.rollup(ctx)
	if err != nil {
		return "", err
	}
	done := fmt.Sprintf("batch %d final after a %d-block window", rec.Number, d.n.o.challengeWindow)
	switch {
	case r.FinalNumber == r.HeadNumber && r.Stake != 0:
		return "", fmt.Errorf("no batch is pending but the rollup's stake %d is still locked", r.Stake)
	case r.FinalNumber == r.HeadNumber:
		return done + ", stake returned (no batch pending)", nil
	default:
		return fmt.Sprintf("%s, stake kept for pending batches %d-%d", done, r.FinalNumber+1, r.HeadNumber), nil
	}
}

// withdrawal: bob withdraws to alice's L1 address; alice claims it once its batch is final.
func (d *demo) withdrawal(ctx context.Context) (string, error) {
	start, err := d.n.l1.Status(ctx)
	if err != nil {
		return "", err
	}
	before, err := d.n.l1.Account(ctx, d.n.alice)
	if err != nil {
		return "", err
	}
	out, err := d.n.wallet(ctx, d.u, "withdraw", fmt.Sprint(withdrawAlice), "--to", "alice", "--from", fmt.Sprint(d.bob), "--wait")
	if err != nil {
		return "", err
	}
	m := txHash.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("pqwallet withdraw printed no transaction hash: %q", out)
	}
	hash := m[1]
	// The sequencer names the batch holding it; the wallet finds its index in the batch's
	// withdrawal list from L1's copy of the data.
	p := d.u.progress("the withdrawal's batch final on L1")
	var st struct {
		Settlement      string  `json:"settlement"`
		Batch           *uint64 `json:"batch"`
		WithdrawalIndex *int    `json:"withdrawalIndex"`
		Claimed         *bool   `json:"claimed"`
	}
	err = waitUntil(ctx, time.Hour, "the withdrawal's batch final", func() (bool, error) {
		if err := d.n.walletJSON(ctx, &st, "status", "tx", hash); err != nil {
			return false, err
		}
		status := "settlement " + st.Settlement
		if st.Batch != nil {
			status += fmt.Sprintf(", in batch %d", *st.Batch)
		}
		p.update(status, 0, 0)
		return st.Settlement == "final" && st.Batch != nil && st.WithdrawalIndex != nil && st.Claimed != nil, nil
	})
	if err != nil {
		return "", err
	}
	if *st.Claimed {
		return "", fmt.Errorf("withdrawal %d of batch %d is claimed before anyone claimed it", *st.WithdrawalIndex, *st.Batch)
	}
	p.end(fmt.Sprintf("batch %d, withdrawal index %d", *st.Batch, *st.WithdrawalIndex))
	if _, err := d.n.wallet(ctx, d.u, "status", "tx", hash); err != nil {
		return "", err
	}
	if _, err := d.n.wallet(ctx, d.u, "claim", "--tx", hash, "--l1-key", "alice", "--wait"); err != nil {
		return "", err
	}
	if err := d.n.checkPaidOut(ctx, "alice", d.n.alice, before, start.Height, withdrawAlice, "the claim's fee"); err != nil {
		return "", err
	}
	if _, err := d.n.wallet(ctx, d.u, "balance", "alice", "--l1"); err != nil {
		return "", err
	}
	// A second claim of the same withdrawal is refused before anything is sent.
	out, err = d.n.walletRaw(ctx, "claim", "--batch", fmt.Sprint(*st.Batch), "--index", fmt.Sprint(*st.WithdrawalIndex), "--l1-key", "alice", "--wait")
	if err == nil {
		return "", fmt.Errorf("claiming withdrawal %d of batch %d twice succeeded: %s", *st.WithdrawalIndex, *st.Batch, out)
	}
	d.u.note("claiming it again is refused: %s", lastLine(out))
	return fmt.Sprintf("%d withdrawn on L2, claimed on L1 from batch %d with a Merkle proof; a second claim is refused",
		withdrawAlice, *st.Batch), nil
}

// fraud: the sequencer corrupts its next batch; the challenger proves it on L1.
func (d *demo) fraud(ctx context.Context) (string, error) {
	n := d.n
	d.u.note("The devnet API makes the sequencer post its next batch with a wrong balance after one step")
	d.u.note("(an option refused outside devnets). The challenger re-executes every optimistic batch, finds the")
	d.u.note("first wrong step and proves it to L1 with one state transition: L1 reverts the batch and pays the challenger.")
	st, err := n.l1.Status(ctx)
	if err != nil {
		return "", err
	}
	d.fraudFrom = st.Height
	seqBefore, err := n.l1.Account(ctx, n.sequencer.Address())
	if err != nil {
		return "", err
	}
	chBefore, err := n.l1.Account(ctx, n.challenger.Address())
	if err != nil {
		return "", err
	}
	events, err := n.l1.Events(ctx, st.Height)
	if err != nil {
		return "", err
	}
	defer events.Close()
	if err := n.devnetCall(ctx, d.u, nil, "devnet_setPolicy", "optimistic"); err != nil {
		return "", err
	}
	defer n.devnetCall(context.WithoutCancel(ctx), d.u, nil, "devnet_setPolicy", "auto")
	var injected map[string]any
	if err := n.devnetCall(ctx, d.u, &injected, "devnet_injectFault", "wrong-balance"); err != nil {
		return "", err
	}
	if _, err := n.wallet(ctx, d.u, "transfer", "--from", fmt.Sprint(d.bob), "--to", fmt.Sprint(d.carol), fmt.Sprint(fraudTransfer), "--wait"); err != nil {
		return "", err
	}
	// Follow L1's events: the bad batch posted, the challenge upheld, the revert, the honest
	// batch posted again under the same number and finalized.
	type evResult struct {
		ev  chain.Event
		err error
	}
	evc := make(chan evResult, 64)
	go func() {
		for {
			ev, err := events.Next()
			evc <- evResult{ev, err}
			if err != nil {
				return
			}
		}
	}()
	var (
		bad, postedAt      uint64
		postedTime         time.Time
		upheld, reverted   bool
		resubmitted, final bool
		detect             time.Duration
	)
	for !final {
		var r evResult
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("L1 events so far: bad batch %d, upheld %v, reverted %v, resubmitted %v: %w", bad, upheld, reverted, resubmitted, ctx.Err())
		case r = <-evc:
		}
		if r.err != nil {
			return "", fmt.Errorf("L1 event stream: %w", r.err)
		}
		ev := r.ev
		if ev.RollupID != rollupID && ev.Kind != chain.EventBlock {
			continue
		}
		switch ev.Kind {
		case chain.EventBatchSubmitted:
			if bad == 0 {
				bad, postedAt, postedTime = ev.Number, ev.Height, time.Now()
				d.u.ok("L1 height %d: batch %d posted (corrupted)", ev.Height, ev.Number)
			} else if upheld && ev.Number == bad {
				resubmitted = true
				d.u.ok("L1 height %d: the sequencer posts batch %d again, rebuilt from the last valid root", ev.Height, ev.Number)
			}
		case chain.EventChallengeUpheld:
			if bad != 0 && ev.Number == bad {
				upheld, detect = true, time.Since(postedTime)
				d.u.ok("L1 height %d: fraud proof for batch %d upheld (%d blocks after it was posted), %d paid to the challenger %s",
					ev.Height, ev.Number, ev.Height-postedAt, ev.Amount, ev.Address)
			}
		case chain.EventBatchReverted:
			if upheld {
				reverted = true
				d.u.ok("L1 height %d: batch %d reverted", ev.Height, ev.Number)
			}
		case chain.EventBatchFinalized:
			if resubmitted && ev.Number >= bad {
				final = true
				d.u.ok("L1 height %d: batch %d final", ev.Height, ev.Number)
			}
		}
	}
	if !reverted {
		return "", fmt.Errorf("batch %d: challenge upheld but no revert event", bad)
	}
	if want, ok := injected["batch"].(float64); ok && uint64(want) != bad {
		return "", fmt.Errorf("the fault was injected into batch %v but batch %d was the one challenged", want, bad)
	}
	chAfter, err := n.l1.Account(ctx, n.challenger.Address())
	if err != nil {
		return "", err
	}
	seqAfter, err := n.l1.Account(ctx, n.sequencer.Address())
	if err != nil {
		return "", err
	}
	fee, err := n.feesPaid(ctx, n.challenger.Address(), st.Height)
	if err != nil {
		return "", err
	}
	if chAfter.Balance+fee != chBefore.Balance+sequencerBond/2 {
		return "", fmt.Errorf("the challenger's L1 balance went from %d to %d, want +%d (half the stake) less the challenge fee %d",
			chBefore.Balance, chAfter.Balance, sequencerBond/2, fee)
	}
	d.u.note("sequencer's L1 balance %d → %d (stake %d slashed once: half to the challenger, half burned)", seqBefore.Balance, seqAfter.Balance, sequencerBond)
	if err := d.expectL2(ctx, map[string]uint64{"bob": depositBob - 5000 + 300 - 700 - withdrawAlice - fraudTransfer,
		"carol": depositCarol + 5000 - 300 + 700 + fraudTransfer}); err != nil {
		return "", err
	}
	return fmt.Sprintf("batch %d challenged %v after it was posted, reverted, reposted honestly and final; challenger +%d",
		bad, detect.Round(time.Millisecond), sequencerBond/2), nil
}

// metrics scrapes every daemon's /metrics and checks that the listed series moved.
func (d *demo) metrics(ctx context.Context) (string, error) {
	want := map[string][]string{
		"pql1node": {"pql1node_block_height", "pql1node_txs_total", "pql1node_rollup_escrow", "pql1node_rollup_escrow_invariant_ok",
			"pql1node_rollup_batches", "pql1node_burned_total", "pql1node_events_total", "pql1node_rollup_governor_window_outflow",
			"pql1node_rollup_delayed_withdrawals_total"},
		"pqsequencer": {"pqsequencer_block_height", "pqsequencer_txs_admitted_total", "pqsequencer_settlement_batches",
			"pqsequencer_settlement_reverts_total", "pqsequencer_deposit_cursor", "pqsequencer_proof_seconds"},
		"pqprover": {"pqprover_proofs_total", "pqprover_proof_seconds"},
		"pqchallenger": {"pqchallenger_batches_checked_total", "pqchallenger_challenges_upheld_total", "pqchallenger_rewards_total",
			"pqchallenger_detect_to_submit_seconds"},
	}
	var checked int
	for _, name := range []string{"pql1node", "pqsequencer", "pqprover", "pqchallenger"} {
		url := "http://" + d.n.metrics[name] + "/metrics"
		d.u.command(fmt.Sprintf("curl -s %s | grep -E '^(%s)'", url, strings.Join(want[name], "|")))
		series, err := scrape(ctx, url)
		if err != nil {
			return "", fmt.Errorf("%s: %w", name, err)
		}
		for _, m := range want[name] {
			v, lines := series.sum(m)
			if len(lines) == 0 {
				return "", fmt.Errorf("%s /metrics has no %s", name, m)
			}
			if v <= 0 {
				return "", fmt.Errorf("%s /metrics: %s is %v after the demo, want > 0", name, m, v)
			}
			d.u.output(strings.Join(lines[:min(len(lines), 3)], "\n"))
			checked++
		}
	}
	return fmt.Sprintf("%d series checked non-zero on the 4 daemons", checked), nil
}

// summary prints what happened and how to look around.
func (d *demo) summary() {
	d.u.header("Summary")
	for i, r := range d.results {
		d.u.ok("%d. %-60s %5.1fs  %s", i+1, r.title, r.took.Seconds(), r.result)
	}
	d.u.printf("\nFirst batch final on L1 %.1f s after the daemons were up.\n", d.n.firstFinal().Seconds())
}

// printExplore prints the commands to look around a running devnet.
func (n *network) printExplore(u *ui) {
	u.header("Explore")
	wallet := "bin/pqwallet"
	u.printf("  export PQBRIDGE_HOME=%s   # the demo's wallet: alice (L1), bob and carol (L2)\n", n.walletHome)
	u.printf("  %s balance                 # every key on both layers\n", wallet)
	u.printf("  %s deposit 1000 --to-l2 bob --l1-key alice --wait\n", wallet)
	u.printf("  %s transfer --from 0 --to 1 10 --wait\n", wallet)
	u.printf("  %s status batch 1\n", wallet)
	u.printf("  %s --help\n", wallet)
	for _, name := range []string{"pql1node", "pqsequencer", "pqprover", "pqchallenger"} {
		u.printf("  curl -s http://%s/metrics | grep ^%s_\n", n.metrics[name], name)
	}
	u.printf("  tail -f %s/*.log\n", n.logDir)
	u.printf("L1 QUIC %s (chain %d), sequencer JSON-RPC http://%s (L2 chain %d), prover http://%s\n",
		n.l1List(), l1ChainID, n.seqAddr, l2ChainID, n.proverAddr)
}

// balance is one entry of pqwallet balance --json.
type balance struct {
	Key     string  `json:"key"`
	Index   *uint32 `json:"index"`
	Exists  bool    `json:"exists"`
	Balance uint64  `json:"balance"`
}

func (b balance) String() string {
	if !b.Exists {
		return "not yet on L2"
	}
	return strconv.FormatUint(b.Balance, 10)
}

func (d *demo) l2Balance(ctx context.Context, key string) (balance, error) {
	var bs []balance
	if err := d.n.walletJSON(ctx, &bs, "balance", key, "--l2"); err != nil {
		return balance{}, err
	}
	if len(bs) != 1 {
		return balance{}, fmt.Errorf("pqwallet balance %s --l2 gave %d entries", key, len(bs))
	}
	return bs[0], nil
}

// expectL2 checks L2 balances (soft: the sequencer's latest block).
func (d *demo) expectL2(ctx context.Context, want map[string]uint64) error {
	for k, v := range want {
		b, err := d.l2Balance(ctx, k)
		if err != nil {
			return err
		}
		if !b.Exists || b.Balance != v {
			return fmt.Errorf("%s's L2 balance is %v, want %d", k, b, v)
		}
	}
	return nil
}

// rollup reads the rollup on L1 and notes when the first batch became final.
func (d *demo) rollup(ctx context.Context) (*chain.Rollup, error) {
	r, err := d.n.l1.Rollup(ctx, rollupID)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// waitBatch waits for a batch after head in the given mode.
func (d *demo) waitBatch(ctx context.Context, head uint64, mode uint8, what string) (*chain.BatchRecord, error) {
	p := d.u.progress(what)
	var found *chain.BatchRecord
	err := waitUntil(ctx, time.Hour, what, func() (bool, error) {
		r, err := d.rollup(ctx)
		if err != nil {
			return false, nil
		}
		p.update(fmt.Sprintf("L1 batches posted %d, final %d", r.HeadNumber, r.FinalNumber), 0, 0)
		for b := head + 1; b <= r.HeadNumber; b++ {
			rec, err := d.n.l1.Batch(ctx, rollupID, b)
			if err == nil && rec.Mode == mode {
				found = rec
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return nil, err
	}
	p.end(fmt.Sprintf("batch %d", found.Number))
	return found, nil
}

// waitFinal shows the challenge window passing block by block until rec is final.
func (d *demo) waitFinal(ctx context.Context, rec *chain.BatchRecord) error {
	p := d.u.progress(fmt.Sprintf("challenge window of batch %d", rec.Number))
	window := rec.FinalizeAt - rec.SubmittedAt
	err := waitUntil(ctx, time.Hour, fmt.Sprintf("batch %d final", rec.Number), func() (bool, error) {
		st, err := d.n.l1.Status(ctx)
		if err != nil {
			return false, nil
		}
		r, err := d.rollup(ctx)
		if err != nil {
			return false, nil
		}
		p.update(fmt.Sprintf("L1 height %d", st.Height), st.Height-min(st.Height, rec.SubmittedAt), window)
		return r.FinalNumber >= rec.Number, nil
	})
	if err != nil {
		return err
	}
	p.end("final")
	return nil
}

// series is a scraped /metrics page: every sample line by metric name.
type series map[string][]string

func scrape(ctx context.Context, url string) (series, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	s := series{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line
		if i := strings.IndexAny(line, "{ "); i >= 0 {
			name = line[:i]
		}
		s[name] = append(s[name], line)
	}
	return s, sc.Err()
}

// sum adds the values of metric m's samples (a histogram's or summary's _count and _sum
// count for m).
func (s series) sum(m string) (float64, []string) {
	var lines []string
	for _, name := range []string{m, m + "_count", m + "_sum"} {
		lines = append(lines, s[name]...)
	}
	var total float64
	for _, l := range lines {
		f := strings.Fields(l)
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total, lines
}

// labeled adds the values of metric m's samples whose labels include label (`state="proving"`).
func (s series) labeled(m, label string) float64 {
	var total float64
	for _, l := range s[m] {
		f := strings.Fields(l)
		if !strings.Contains(f[0], label) {
			continue
		}
		if v, err := strconv.ParseFloat(f[len(f)-1], 64); err == nil {
			total += v
		}
	}
	return total
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
