package main

import (
	"fmt"
	"slices"
	"strings"
)

// metric is one measured quantity: a unit of one benchmark's results in one step.
type metric struct {
	step, name, unit string
	scale            float64 // the value shown is the measured one times scale (0: unscaled)
	shown            string  // the unit shown, if not unit's own display
}

// row is a line of a figure's table: a value and, where there is one, its in-run baseline.
type row struct {
	label     string
	value     metric
	baseline  *metric
	baseLabel string
	// higherBetter says which way the ratio goes: value ÷ baseline for throughputs, baseline ÷
	// value for times and memory, so that a ratio above 1 always means the value wins.
	higherBetter bool
	key          bool // also listed under the key figures
}

// figure is a section of the report: a question, its table, its plots, and the steps that
// reproduce it alone.
type figure struct {
	title string
	about string
	rows  []row
	plots []string
	steps []string
}

func m(step, name, unit string) metric { return metric{step: step, name: name, unit: unit} }

func base(step, name, unit string) *metric { mt := m(step, name, unit); return &mt }

// buildFigures lays out the report's sections for the suite's mode. Rows whose benchmark did not
// run stay in, with the reason, so a quick report shows what it leaves out.
func buildFigures(s *suite, res *results) []figure {
	var figs []figure

	apply := figure{
		title: "Batch apply: Zig core vs Go reference",
		about: "Time per transfer of one batch applied to a depth-24 state of 100k accounts " +
			"(signatures already checked), by batch size: the core through cgo (one call per batch) " +
			"against the Go reference state transition. Ratio = reference ÷ core: how many times faster the core is.",
		plots: []string{"apply_per_tx.png"},
		steps: []string{"core-apply", "ref-apply"},
	}
	for _, n := range s.sizes {
		name := fmt.Sprintf("txs=%d", n)
		apply.rows = append(apply.rows, row{label: fmt.Sprintf("batch of %d", n),
			value:     m("core-apply", "CoreApplyBatchSizes/"+name, "ns/tx"),
			baseline:  base("ref-apply", "ReferenceApplyBatchSizes/"+name, "ns/tx"),
			baseLabel: "Go reference", key: n == 1024 || (n == 4096 && !slices.Contains(s.sizes, 1024))})
	}
	figs = append(figs, apply)

	cgo := figure{
		title: "cgo overhead share vs batch size",
		about: "The measured cost of a no-op call into the core (BenchmarkCgoOverhead: read lock, cgo " +
			"transition, handle and status checks) as a share of one ApplyBatch call. The whole call for a " +
			"batch of one shows the per-call fixed cost that is not cgo (trace and withdrawal list roots).",
		plots: []string{"cgo_share.png"},
		steps: []string{"core-apply", "cgo"},
	}
	for _, n := range s.sizes {
		cgo.rows = append(cgo.rows, row{label: fmt.Sprintf("cgo share, batch of %d", n),
			value: m("core-apply", fmt.Sprintf("CoreApplyBatchSizes/txs=%d", n), "cgo_share_%")})
	}
	cgo.rows = append(cgo.rows,
		row{label: "no-op call (pq_core_depth via the binding)", value: m("cgo", "CgoOverhead/core_depth", "ns/op")},
		row{label: "call without handle or lock (pq_poseidon2_impl)", value: m("cgo", "CgoOverhead/poseidon2_impl", "ns/op")},
		row{label: "whole ApplyBatch call, batch of 1", value: m("core-apply", "CoreApplyBatchSizes/txs=1", "ns/op")})
	figs = append(figs, cgo)

	witness := figure{
		title: "Batch apply with Merkle witnesses (the prover's input)",
		about: "ApplyBatchWitness returns both Merkle paths of every transaction, as the validity prover needs; " +
			"the baseline is the plain ApplyBatch of the same size. Ratio below 1 = the witnesses' cost.",
		steps: []string{"core-apply"},
	}
	for _, n := range []int{16, 256} {
		if !slices.Contains(s.sizes, n) {
			continue
		}
		name := fmt.Sprintf("txs=%d", n)
		witness.rows = append(witness.rows, row{label: "batch of " + fmt.Sprint(n),
			value:    m("core-apply", "CoreApplyBatchWitness/"+name, "ns/tx"),
			baseline: base("core-apply", "CoreApplyBatchSizes/"+name, "ns/tx"), baseLabel: "ApplyBatch"})
	}
	figs = append(figs, witness)

	p2 := figure{
		title: "Poseidon2 compress: Zig core vs gnark-crypto",
		about: "One Poseidon2 t=2 compression (BN254). The core hashes independent pairs in calls of 1,024 " +
			"(ns per hash), with each implementation it has on this CPU; gnark-crypto's Compress through its " +
			"bytes API is the baseline, and l2.Compress (the Go reference's path, field elements) is shown against it too.",
		plots: []string{"poseidon2.png"},
		steps: []string{"p2-core", "p2-go"},
	}
	gnark := base("p2-go", "Poseidon2CompressGnark", "ns/op")
	for _, impl := range poseidon2Impls(res) {
		p2.rows = append(p2.rows, row{label: "core, " + impl, value: m("p2-core", "Poseidon2CompressCore/"+impl, "ns/op"),
			baseline: gnark, baseLabel: "gnark-crypto", key: impl == poseidon2Impls(res)[0]})
	}
	p2.rows = append(p2.rows,
		row{label: "l2.Compress (Go, field elements)", value: m("p2-go", "Compress", "ns/op"), baseline: gnark, baseLabel: "gnark-crypto"},
		row{label: "l2.HashMD of 3 elements (an account leaf)", value: m("p2-go", "HashMD", "ns/op")})
	figs = append(figs, p2)

	seq := figure{
		title: "Sequencer end to end: core vs reference executor",
		about: "Transfers per second through a running sequencer's Go API (decode, signature check on the " +
			"worker pool, mempool, synced log group commit, block execution with its root, block stored), and " +
			"percentiles of the time SendTransaction takes to acknowledge a transfer under that load (256 " +
			"concurrent senders). Core executor against the Go reference executor.",
		plots: []string{"sequencer.png"},
		steps: []string{"sequencer"},
	}
	seq.rows = []row{
		{label: "throughput", value: m("sequencer", "SequencerThroughput/core", "tx/s"),
			baseline: base("sequencer", "SequencerThroughput/reference", "tx/s"), baseLabel: "reference executor", higherBetter: true, key: true},
		{label: "acknowledgement p50", value: m("sequencer", "SequencerThroughput/core", "ack-p50-ms"),
			baseline: base("sequencer", "SequencerThroughput/reference", "ack-p50-ms"), baseLabel: "reference executor"},
		{label: "acknowledgement p99", value: m("sequencer", "SequencerThroughput/core", "ack-p99-ms"),
			baseline: base("sequencer", "SequencerThroughput/reference", "ack-p99-ms"), baseLabel: "reference executor"},
		{label: "signature-check pool alone (the ceiling)", value: m("sequencer", "VerifierPool", "tx/s"),
			baseline: base("sequencer", "SequencerThroughput/core", "tx/s"), baseLabel: "sequencer (core)", higherBetter: true},
	}
	for _, n := range []int{16, 64, 512} {
		seq.rows = append(seq.rows, row{label: fmt.Sprintf("challenge hash per tx, core in batches of %d", n),
			value:    m("sequencer", fmt.Sprintf("Challenges/core-batch%d", n), "ns/op"),
			baseline: base("sequencer", "Challenges/go", "ns/op"), baseLabel: "l2.Challenge in Go"})
	}
	figs = append(figs, seq)

	ld := s.loadSpec()
	load := figure{
		title: "Load generator against a live pqsequencer: soft-confirmation latency",
		about: fmt.Sprintf("cmd/pqload against `pqsequencer -dev` (default flags: core executor, 50 ms block "+
			"interval, blocks of up to 1,024) on loopback, both built for the run: %d funded accounts send signed "+
			"transfers at a fixed %d/s for %v over 4 WebSocket connections, signed ahead of time. Soft confirmation = "+
			"the transfer seen in a durable block through the newBlocks subscription, timed from its send; "+
			"acknowledgement = rollup_sendTransaction's reply. Throughput is confirmed transfers per second "+
			"from the first send to the last confirmation, against the target rate (ratio 1 = it kept up). "+
			"Load generator and sequencer share this machine's cores.", 256, ld.rate, ld.duration),
		steps: []string{"load"},
	}
	lm := func(unit string) metric { return m("load", "pqload", unit) }
	load.rows = []row{
		{label: "confirmed throughput", value: metric{step: "load", name: "pqload", unit: "tps", shown: "tx/s"},
			baseline: &metric{step: "load", name: "pqload", unit: "rate", shown: "tx/s"}, baseLabel: "target rate", higherBetter: true, key: true},
		{label: "soft confirmation p50", value: lm("soft_p50_ms"), key: true},
		{label: "soft confirmation p90", value: lm("soft_p90_ms")},
		{label: "soft confirmation p99", value: lm("soft_p99_ms"), key: true},
		{label: "acknowledgement p50", value: lm("ack_p50_ms")},
		{label: "acknowledgement p99", value: lm("ack_p99_ms")},
		{label: "transfers confirmed", value: metric{step: "load", name: "pqload", unit: "confirmed", shown: "transfers"},
			baseline: &metric{step: "load", name: "pqload", unit: "sent", shown: "transfers"}, baseLabel: "sent", higherBetter: true},
	}
	figs = append(figs, load)

	quic := figure{
		title: "QUIC settlement transport: ML-DSA-65 vs Ed25519",
		about: "Signed request → signed response (512-byte payload) over loopback QUIC with TLS 1.3 " +
			"(X25519MLKEM768): one call at a time (round trip), and 4 clients × 8 calls in flight " +
			"(throughput). The baseline is the same envelope signed with Ed25519. Ratio below 1 = what " +
			"post-quantum signatures cost.",
		plots: []string{"quic.png"},
		steps: []string{"quic"},
	}
	ed := func(name, unit string) *metric { return base("quic", name+"/Ed25519", unit) }
	quic.rows = []row{
		{label: "round trip p50", value: m("quic", "SettleRoundTrip/ML-DSA-65", "p50-µs"), baseline: ed("SettleRoundTrip", "p50-µs"), baseLabel: "Ed25519", key: true},
		{label: "round trip p99", value: m("quic", "SettleRoundTrip/ML-DSA-65", "p99-µs"), baseline: ed("SettleRoundTrip", "p99-µs"), baseLabel: "Ed25519"},
		{label: "round trip mean", value: m("quic", "SettleRoundTrip/ML-DSA-65", "ns/op"), baseline: ed("SettleRoundTrip", "ns/op"), baseLabel: "Ed25519"},
		{label: "throughput (calls)", value: m("quic", "SettleThroughput/ML-DSA-65", "calls/s"), baseline: ed("SettleThroughput", "calls/s"), baseLabel: "Ed25519", higherBetter: true, key: true},
		{label: "throughput (signed messages)", value: m("quic", "SettleThroughput/ML-DSA-65", "signed-msgs/s"), baseline: ed("SettleThroughput", "signed-msgs/s"), baseLabel: "Ed25519", higherBetter: true},
		{label: "latency p50 under load", value: m("quic", "SettleThroughput/ML-DSA-65", "p50-µs"), baseline: ed("SettleThroughput", "p50-µs"), baseLabel: "Ed25519"},
		{label: "latency p99 under load", value: m("quic", "SettleThroughput/ML-DSA-65", "p99-µs"), baseline: ed("SettleThroughput", "p99-µs"), baseLabel: "Ed25519"},
	}
	figs = append(figs, quic)

	verifyTx := base("sig", "VerifyTx", "ns/op")
	fraud := figure{
		title: "Fraud-proof verification (L1's judge)",
		about: "fraud.Judge on a depth-24 state, decoding included. A step proof re-executes one " +
			"transaction, its EdDSA signature check included, so its baseline is one l2.VerifyTx: a ratio of " +
			"0.5 means the step costs two signature checks. The withdrawal-root proof is measured for the " +
			"largest batch (4,096 withdraws).",
		steps: []string{"fraud", "sig"},
	}
	fraud.rows = []row{
		{label: "step proof, transfer", value: m("fraud", "Judge/step/transfer/depth=24", "ns/op"), baseline: verifyTx, baseLabel: "one l2.VerifyTx", key: true},
		{label: "step proof, withdraw", value: m("fraud", "Judge/step/withdraw/depth=24", "ns/op"), baseline: verifyTx, baseLabel: "one l2.VerifyTx"},
		{label: "final-root proof", value: m("fraud", "Judge/final-root", "ns/op")},
		{label: "withdrawal-root proof, 4,096 withdraws", value: m("fraud", "Judge/withdrawal-root/txs=4096", "ns/op")},
		{label: "l2.VerifyTx (EdDSA over BN254's twisted Edwards curve)", value: m("sig", "VerifyTx", "ns/op"),
			baseline: base("sig", "VerifyGnark", "ns/op"), baseLabel: "gnark-crypto eddsa Verify"},
	}
	figs = append(figs, fraud)

	challenger := figure{
		title: "Challenger: checking a posted batch (native core vs Go reference)",
		about: "fraud/challenger re-executing one optimistic batch of signed transfers on a depth-24 state of " +
			"10k accounts and comparing every trace entry with the posted one: detect-to-submit without the L1 " +
			"reads and the signed send. Honest: nothing to prove. Last step wrong: the divergence is found and " +
			"the fraud proof built (the core path replays the earlier steps in Go to build it). Ratio = reference ÷ core.",
		steps: []string{"challenger"},
	}
	for _, kind := range []string{"honest", "fraud-last-step"} {
		for _, n := range []int{64, 256} {
			name := fmt.Sprintf("%s/txs=%d", kind, n)
			label := fmt.Sprintf("honest batch of %d", n)
			if kind != "honest" {
				label = fmt.Sprintf("batch of %d, last step wrong (proof built)", n)
			}
			challenger.rows = append(challenger.rows, row{label: label,
				value:     m("challenger", "ChallengerCheckBatch/core/"+name, "ns/op"),
				baseline:  base("challenger", "ChallengerCheckBatch/reference/"+name, "ns/op"),
				baseLabel: "Go reference", key: kind == "honest" && n == 256})
		}
	}
	figs = append(figs, challenger)

	prover := figure{
		title: "Validity prover: constraints and prove time per transaction",
		about: "R1CS constraints per transaction slot of the depth-24 batch circuit by batch size B " +
			"(prover/cmd/circuitstats, compile only: the per-batch work spread over B slots), and the Groth16 " +
			"prove time per transaction and verify time (BenchmarkProveBatch/VerifyBatch with " +
			"PQBRIDGE_BENCH_BATCH=B; keys from the cache in .cache/prover-keys, made by a dev setup on first " +
			"use; keys left there by an older circuit make the step fail until their directory is removed). " +
			"The verify baseline is L1's other way to settle: judging a fraud step proof.",
		plots: []string{"prover.png"},
	}
	for _, b := range s.slots {
		id := fmt.Sprintf("circuit-B%d", b)
		prover.rows = append(prover.rows, row{label: fmt.Sprintf("constraints per transfer, B=%d", b), value: m(id, "circuitstats", "constraints_per_tx"), key: b == 16})
		prover.steps = append(prover.steps, id)
	}
	for _, b := range s.proveSlots {
		id := fmt.Sprintf("prove-B%d", b)
		prover.rows = append(prover.rows,
			row{label: fmt.Sprintf("prove time per transfer, B=%d", b), value: m(id, "ProveBatch", "s/tx"), key: b == 16},
			row{label: fmt.Sprintf("Groth16 verify, B=%d", b), value: m(id, "VerifyBatch", "ns/op"),
				baseline: base("fraud", "Judge/step/transfer/depth=24", "ns/op"), baseLabel: "fraud step proof"})
		prover.steps = append(prover.steps, id)
	}
	figs = append(figs, prover)

	restart := figure{
		title: "Restart time and memory vs account count",
		about: "Restoring a depth-24 state from its snapshot in-process: the core's import (the image " +
			"checked, every hash recomputed) against the Go reference executor's bottom-up rebuild " +
			"(l2.NewStateFromAccounts) of the same accounts; memory is the resident memory the restored core adds " +
			"against the Go heap the reference state holds. The million-account point of a whole pqsequencer " +
			"process (BenchmarkRestartMillionAccounts: time until it serves RPC, and its RSS) is set against " +
			"the in-process core import of the same size.",
		plots: []string{"restart.png", "memory.png"},
		steps: []string{"core-restore", "ref-restore", "restart-1m"},
	}
	for _, n := range s.accounts {
		name := fmt.Sprintf("accounts=%d", n)
		restart.rows = append(restart.rows,
			row{label: fmt.Sprintf("restore, %s accounts", countLabel(n)), value: m("core-restore", "CoreRestore/"+name, "ns/op"),
				baseline: base("ref-restore", "ReferenceRestore/"+name, "ns/op"), baseLabel: "Go reference rebuild", key: n == 1<<17},
			row{label: fmt.Sprintf("memory, %s accounts", countLabel(n)), value: m("core-restore", "CoreRestore/"+name, "rss_MB"),
				baseline: base("ref-restore", "ReferenceRestore/"+name, "heap_MB"), baseLabel: "Go reference heap"},
			row{label: fmt.Sprintf("snapshot size, %s accounts", countLabel(n)), value: m("core-restore", "CoreRestore/"+name, "snapshot_MB")})
	}
	restart.rows = append(restart.rows,
		row{label: "pqsequencer restart to serving, 2^20 accounts", value: m("restart-1m", "RestartMillionAccounts", "s_to_serve"),
			baseline: base("core-restore", "CoreRestore/accounts=1048576", "ns/op"), baseLabel: "core import alone"},
		row{label: "pqsequencer RSS after restart, 2^20 accounts", value: m("restart-1m", "RestartMillionAccounts", "rss_MB")},
		row{label: "pqsequencer peak RSS, 2^20 accounts", value: m("restart-1m", "RestartMillionAccounts", "peak_rss_MB")})
	figs = append(figs, restart)

	l1 := figure{
		title: "L1 settlement chain (ML-DSA-65 throughout)",
		about: "The L1 node's own costs, without an in-run baseline: a block of 100 signed transfers " +
			"executed and committed, acknowledged submissions from parallel clients (envelope check and " +
			"synced log write), and one ML-DSA-65 signature and verification.",
		steps: []string{"l1-chain", "l1-node", "pqkey"},
	}
	l1.rows = []row{
		{label: "block of 100 transfers", value: m("l1-chain", "BlockOfTransfers", "tx/s")},
		{label: "submissions acknowledged", value: m("l1-node", "SubmitTx", "acks/s")},
		{label: "ML-DSA-65 sign", value: m("pqkey", "Sign", "ns/op")},
		{label: "ML-DSA-65 verify", value: m("pqkey", "Verify", "ns/op")},
	}
	figs = append(figs, l1, l1ConsensusFigure(), settleFigure(s))
	return figs
}

// poseidon2Impls lists the core's Poseidon2 implementations measured (the benchmark names them
// after what the CPU offers), fastest first by the benchmark's own order; "portable" if none ran.
func poseidon2Impls(res *results) []string {
	var impls []string
	if r := res.steps["p2-core"]; r != nil {
		for _, smp := range r.samples {
			if impl, ok := strings.CutPrefix(smp.name, "Poseidon2CompressCore/"); ok && !slices.Contains(impls, impl) {
				impls = append(impls, impl)
			}
		}
	}
	if len(impls) == 0 {
		impls = []string{"portable"}
	}
	return impls
}

// countLabel writes powers of two as 2^k.
func countLabel(n int) string {
	for k := 0; k < 63; k++ {
		if n == 1<<k {
			return fmt.Sprintf("2^%d", k)
		}
	}
	return fmt.Sprint(n)
}
