package main

import "fmt"

// The L1 consensus section (issue 15): commit latency and throughput of 4 CometBFT validators
// against one validator and the single-validator node in the same run, and what a client pays
// to verify a reply's quorum certificate.
const (
	l1ConsensusStep, l1QCStep = "l1consensus", "l1-qc"
)

// l1ConsensusSteps are the section's steps: sequential commits timed and the burst size by mode.
func l1ConsensusSteps(quick bool, bt string, count int) []step {
	commits, txs := 30, 1024
	if quick {
		commits, txs = 15, 256
	}
	return []step{
		{id: l1ConsensusStep, pkg: "./l1/abci", bench: "^BenchmarkConsensusCommit$", benchtime: "1x", count: 1, timeout: stepTimeout,
			env: []string{fmt.Sprintf("PQBRIDGE_BENCH_L1_COMMITS=%d", commits), fmt.Sprintf("PQBRIDGE_BENCH_L1_TXS=%d", txs)}},
		{id: l1QCStep, pkg: "./l1/qc", bench: "^BenchmarkCertificateVerify$", benchtime: bt, count: count, timeout: stepTimeout},
	}
}

// l1ConsensusFigure is the section of the report.
func l1ConsensusFigure() figure {
	f := figure{
		title: "L1 consensus: 4 CometBFT validators vs a single node, and certificate verification",
		about: "BenchmarkConsensusCommit (l1/abci): in-process CometBFT validators on loopback, each over its own " +
			"l1/node on disk (timeout_commit 150 ms, ML-DSA-65 vote extensions and a quorum certificate in every " +
			"block), against the single-validator node making a block every 150 ms, in the same run. Latency = a " +
			"transfer submitted to one validator (node.SubmitTx, as the QUIC API does) until every validator has " +
			"committed it, one transfer at a time (p50, p90); throughput = a burst of transfers, each from its own " +
			"account, signed beforehand and submitted by 16 goroutines, until all are committed on every validator. " +
			"All validators share this machine's cores, so the 4-validator figures are a lower bound for 4 machines. " +
			"BenchmarkCertificateVerify (l1/qc): decoding and verifying a certificate of 3 of 4 validators (three " +
			"ML-DSA-65 verifications) — what a client pays per certified reply; its baseline is one ML-DSA-65 verification.",
		steps: []string{l1ConsensusStep, l1QCStep, "pqkey"},
	}
	single := func(unit string) *metric { return base(l1ConsensusStep, "ConsensusCommit/single-node", unit) }
	for _, n := range []int{4, 1} {
		name := fmt.Sprintf("ConsensusCommit/validators=%d", n)
		f.rows = append(f.rows,
			row{label: fmt.Sprintf("commit latency p50, %d validator(s)", n), value: m(l1ConsensusStep, name, "p50-ms"),
				baseline: single("p50-ms"), baseLabel: "single node", key: n == 4},
			row{label: fmt.Sprintf("commit latency p90, %d validator(s)", n), value: m(l1ConsensusStep, name, "p90-ms"),
				baseline: single("p90-ms"), baseLabel: "single node"},
			row{label: fmt.Sprintf("throughput, %d validator(s)", n), value: m(l1ConsensusStep, name, "tx/s"),
				baseline: single("tx/s"), baseLabel: "single node", higherBetter: true, key: n == 4})
	}
	f.rows = append(f.rows,
		row{label: "certificate verification per reply (3 of 4)", value: m(l1QCStep, "CertificateVerify", "ns/op"),
			baseline: base("pqkey", "Verify", "ns/op"), baseLabel: "one ML-DSA-65 verify", key: true},
		row{label: "certificate size (3 of 4)", value: m(l1QCStep, "CertificateVerify", "cert-bytes")})
	return f
}
