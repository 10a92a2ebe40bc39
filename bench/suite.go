package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// step is one process the suite runs: go test -bench on one package, or a command whose
// key=value output is the measurement. Every figure names the steps that reproduce it alone.
type step struct {
	id        string
	pkg       string // the package benchmarked, or the command's package
	bench     string // go test -bench regexp; empty for a command
	benchtime string
	count     int
	timeout   time.Duration
	env       []string  // NAME=value, added to the environment
	runArgs   []string  // a command run with go run pkg runArgs... instead of go test
	sample    string    // the sample name a command's output is recorded under
	load      *loadSpec // a load-generator run against a live sequencer instead of a go command
	skip      string    // why the step does not run in this mode; empty if it runs
}

// script is the step as the shell lines that reproduce it.
func (s step) script() []string {
	if s.load != nil {
		return s.load.script()
	}
	return []string{s.shell()}
}

// argv is the command line the step runs (not for a load step).
func (s step) argv() []string {
	if s.bench == "" {
		return append([]string{"go", "run", s.pkg}, s.runArgs...)
	}
	return []string{"go", "test", s.pkg, "-run", "^$", "-bench", s.bench, "-benchtime", s.benchtime,
		"-count", strconv.Itoa(s.count), "-benchmem", "-timeout", s.timeout.String()}
}

// shell is the step's command as one shell line, environment included.
func (s step) shell() string {
	if s.load != nil {
		return strings.Join(s.load.script(), "; ")
	}
	var parts []string
	for _, e := range s.env {
		parts = append(parts, shellQuote(e))
	}
	for _, a := range s.argv() {
		parts = append(parts, shellQuote(a))
	}
	return strings.Join(parts, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// suite is what one mode of make bench runs.
type suite struct {
	quick bool
	// sizes are the batch sizes of the apply figures; accounts the account counts of the
	// restore figures; slots the prover's batch sizes (circuit sizes are cheap: compile only).
	sizes, accounts, slots, proveSlots []int
	// engineBatches are the final-batch counts of the engine history figures.
	engineBatches []int
	steps         []step
}

// loadSpec is the load step's run, for the report's text.
func (s *suite) loadSpec() loadSpec {
	if st, ok := s.step("load"); ok && st.load != nil {
		return *st.load
	}
	return loadSpec{}
}

func (s *suite) step(id string) (step, bool) {
	for _, st := range s.steps {
		if st.id == id {
			return st, true
		}
	}
	return step{}, false
}

// Default bench times. The full mode repeats each benchmark (-count) and reports the median
// with its spread; the quick mode runs each once, briefly.
const (
	fullBenchtime, quickBenchtime = "1s", "0.2s"
	fullCount, quickCount         = 3, 1
	stepTimeout                   = 20 * time.Minute
)

func newSuite(quick bool) *suite {
	s := &suite{quick: quick}
	bt, count := fullBenchtime, fullCount
	seqTxs, restoreN := "16384x", "2x"
	s.sizes = []int{1, 4, 16, 64, 256, 1024, 4096}
	s.accounts = []int{1 << 14, 1 << 17, 1 << 20}
	s.slots = []int{1, 2, 4, 8, 16, 32}
	s.proveSlots = []int{1, 4, 16}
	heavy := ""
	load := &loadSpec{rate: 1000, duration: 10 * time.Second, wait: 30 * time.Second}
	if quick {
		load = &loadSpec{rate: 500, duration: 5 * time.Second, wait: 30 * time.Second}
		bt, count = quickBenchtime, quickCount
		seqTxs = "4096x"
		s.sizes = []int{1, 16, 256, 4096}
		s.accounts = []int{1 << 14, 1 << 17}
		s.slots = []int{1, 4, 16}
		heavy = "skipped in quick mode (BENCH_QUICK=1)"
	}
	goTest := func(id, pkg, bench string) step {
		return step{id: id, pkg: pkg, bench: bench, benchtime: bt, count: count, timeout: stepTimeout}
	}
	sizes := "/^txs=(" + join(s.sizes) + ")$"
	accounts := "/^accounts=(" + join(s.accounts) + ")$"

	coreRestore := goTest("core-restore", "./ffi", "^BenchmarkCoreRestore$"+accounts)
	coreRestore.benchtime, coreRestore.count = restoreN, 1
	refRestore := goTest("ref-restore", "./l2", "^BenchmarkReferenceRestore$"+accounts)
	refRestore.benchtime, refRestore.count = "1x", 1
	restart := goTest("restart-1m", "./l2/sequencer", "^BenchmarkRestartMillionAccounts$")
	restart.benchtime, restart.count, restart.skip = "1x", 1, heavy
	challenger := goTest("challenger", "./fraud/challenger", "^BenchmarkChallengerCheckBatch$")
	challenger.benchtime = "5x"
	seq := goTest("sequencer", "./l2/sequencer", "^Benchmark(SequencerThroughput|VerifierPool|Challenges)$")
	seq.benchtime = seqTxs

	s.steps = []step{
		goTest("core-apply", "./ffi", "^BenchmarkCoreApplyBatch(Sizes|Witness)$"+sizes),
		goTest("ref-apply", "./l2", "^BenchmarkReferenceApplyBatchSizes$"+sizes),
		goTest("cgo", "./ffi", "^BenchmarkCgoOverhead$"),
		goTest("p2-core", "./ffi", "^BenchmarkPoseidon2CompressCore$"),
		goTest("p2-go", "./l2", "^Benchmark(Poseidon2CompressGnark|Compress|HashMD)$"),
		goTest("sig", "./l2", "^Benchmark(VerifyTx|VerifyGnark)$"),
		seq,
		goTest("quic", "./l1/quicrpc", "^BenchmarkSettle(RoundTrip|Throughput)$"),
		goTest("fraud", "./fraud", "^BenchmarkJudge$"),
		challenger,
		goTest("l1-chain", "./l1/chain", "^BenchmarkBlockOfTransfers$"),
		goTest("l1-node", "./l1/node", "^BenchmarkSubmitTx$"),
		goTest("pqkey", "./l1/pqkey", "^Benchmark(Sign|Verify)$"),
		coreRestore,
		refRestore,
		restart,
		{id: "load", pkg: "./cmd/pqload", load: load, sample: "pqload", timeout: 5 * time.Minute},
	}
	settle, checkpoints := settleSteps(quick)
	s.steps, s.engineBatches = append(s.steps, settle...), checkpoints
	s.steps = append(s.steps, l1ConsensusSteps(quick, bt, count)...)
	for _, b := range s.slots {
		s.steps = append(s.steps, step{id: fmt.Sprintf("circuit-B%d", b), pkg: "./prover/cmd/circuitstats",
			runArgs: []string{"-depth", "24", "-batch", strconv.Itoa(b)}, sample: "circuitstats", timeout: stepTimeout})
	}
	for _, b := range s.proveSlots {
		st := goTest(fmt.Sprintf("prove-B%d", b), "./prover", "^Benchmark(ProveBatch|VerifyBatch)$")
		st.benchtime, st.count, st.skip = "1x", 1, heavy
		st.env = []string{fmt.Sprintf("PQBRIDGE_BENCH_BATCH=%d", b)}
		s.steps = append(s.steps, st)
	}
	return s
}

func join(ns []int) string {
	parts := make([]string, len(ns))
	for i, n := range ns {
		parts[i] = strconv.Itoa(n)
	}
	return strings.Join(parts, "|")
}
