// Command pqsequencer runs the L2 sequencer (package l2/sequencer): JSON-RPC over HTTP and
// WebSocket on one address, blocks every -block-interval, state in -datadir. SIGINT or SIGTERM
// stop it gracefully (in-flight acknowledgements finish, a snapshot of the head is written).
//
// With -l1 it is the rollup's sequencer on the native L1: deposits come from the rollup's L1
// queue (l1source.Deposits over l1/l1client) and a settlement engine (package
// settlement, its records in -datadir/settlement) posts batches signed with the sequencer's L1
// key, from a keystore (-keystore) or a hex seed file (-sequencer-key-file, mode 0600).
// Without -l1 it settles nowhere: every block stays "soft", and -dev deposits are the only funds.
//
// With -prover URL[,URL...] (pqprover -listen, package prover/proverapi) the engine proves
// batches for validity mode on a pool of those provers (prover/proverpool: a failed or slow
// job is retried on another): -mode validity always, -mode auto when the proof comes within
// -challenge-wait. At start every prover's parameters and verifying key must be the rollup's on L1.
//
// -devnet adds the devnet_ JSON-RPC namespace (devnet_injectFault, devnet_setPolicy) and
// allows fault injection in the settlement engine: devnets only (docs/sequencer.md); with
// -rpc-admin-token-file only requests bearing that token reach it.
//
// The JSON-RPC server bounds every client (internal/rpcguard, the -rpc-* flags): HTTP timeouts,
// connection caps in total and per IP, a per-IP request rate, body, WebSocket message and batch
// limits, a bound on WebSocket requests not yet answered; -rpc-tls-cert/-rpc-tls-key serve TLS.
//
// Options come from flags, PQBRIDGE_<FLAG> variables or a -config file (cmd/internal/cliconf);
// -metrics serves Prometheus metrics, /healthz and /readyz (cmd/internal/obs).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof, on its own address
	"os"
	"path/filepath"
	"time"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover/proverpool"
	"github.com/pqbridge/pqbridge/settlement"
)

type config struct {
	seq   sequencer.Config
	pprof string
	obs   obs.Flags

	l1               string
	l1ChainID        uint64
	validatorPubFile string
	l1Validators     string
	rollupID         uint64
	key              keystore.DaemonKey
	batchSize        int
	optimisticBatch  int
	validityBatch    int
	batchInterval    time.Duration
	mode             string
	challengeWait    time.Duration
	prover           proverFlags
	devnet           bool
	crossCheck       bool
	retryBudget      int
	retryCap         time.Duration
	rpc              rpcFlags

	set map[string]bool // flags given on the command line, by the environment or the -config file
}

var modes = map[string]settlement.ModePolicy{"auto": settlement.PolicyAuto, "optimistic": settlement.PolicyOptimistic,
	"validity": settlement.PolicyValidity}

var spec = cliconf.Spec{
	Short: "pqbridge L2 sequencer",
	Long: `pqsequencer runs the L2 sequencer: JSON-RPC over HTTP and WebSocket on --listen, a block every
--block-interval when there is work, state in --datadir. With --l1 it is the rollup's sequencer
on the L1 node: deposits come from the rollup's L1 queue and batches are posted there
(--mode: optimistic, or validity with proofs from --prover), signed with the sequencer's L1 key
(--keystore, --key-shares or --sequencer-key-file). Without --l1 it settles nowhere and --dev
deposits are the only funds. SIGINT or SIGTERM stop it gracefully.`,
	Example: `  pqsequencer --dev --datadir /tmp/seq
  pqsequencer --l1 127.0.0.1:9645 --validator-pubkey-file validator.pub --rollup 1 \
    --keystore sequencer.json --passphrase-file pass.txt --datadir /var/lib/pqsequencer`,
}

func main() {
	c := config{set: map[string]bool{}}
	cfg := &c.seq
	fs := flag.NewFlagSet("pqsequencer", flag.ExitOnError)
	fs.StringVar(&cfg.DataDir, "datadir", "pqsequencer-data", "data directory (pebble database, snapshots, settlement records)")
	fs.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:8645", "JSON-RPC address, HTTP and WebSocket")
	fs.Uint64Var(&cfg.ChainID, "chain-id", 1, "rollup chain ID, signed into every transaction (with -l1: the rollup's, if not given)")
	fs.IntVar(&cfg.Depth, "depth", l2.DefaultTreeDepth, "state tree depth, fixed at genesis (with -l1: the rollup's, if not given)")
	fs.DurationVar(&cfg.BlockInterval, "block-interval", 50*time.Millisecond, "build a block at least this often when there is work")
	fs.IntVar(&cfg.MaxBlockTxs, "max-block-txs", 1024, "build a block as soon as this many transactions are ready (max 4096)")
	fs.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", 100, "write a state snapshot every this many blocks")
	fs.StringVar(&cfg.Executor, "executor", sequencer.ExecutorCore, "executor: core (native) or reference (Go, slow)")
	fs.Uint64Var(&cfg.CapacityHint, "capacity", 1<<16, "accounts to reserve memory for")
	fs.IntVar(&cfg.Mempool.MaxTxs, "mempool", 100_000, "maximum pending transactions")
	fs.BoolVar(&cfg.Dev, "dev", false, "enable rollup_devDeposit (anyone can mint funds): development only, not with -l1")
	fs.StringVar(&c.pprof, "pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	fs.StringVar(&c.l1, "l1", "", "L1 node QUIC (UDP) address, or a comma-separated list tried in turn: take deposits from the rollup's L1 queue and settle batches there; empty: no L1")
	fs.Uint64Var(&c.l1ChainID, "l1-chain-id", 1, "L1 chain ID (with -l1)")
	fs.StringVar(&c.validatorPubFile, "validator-pubkey-file", "", "file holding the L1 validator's ML-DSA-65 public key in hex (with -l1; pins the node's replies; a one-node L1)")
	fs.StringVar(&c.l1Validators, "l1-validators", "", "instead of -validator-pubkey-file, the L1 validator-set JSON (pql1node -validators): replies signed by any member are accepted, certificates checked against the set, and -l1 lists the validators' endpoints")
	fs.Uint64Var(&c.rollupID, "rollup", 1, "rollup ID on L1 (with -l1)")
	c.key.Register(fs, "sequencer-key-file", "the sequencer's")
	fs.IntVar(&c.batchSize, "batch-size", 0, "the least batch cut (with -l1; 0: the rollup's batch size on L1, the circuit's B, the size of one validity proof's chunk)")
	fs.IntVar(&c.validityBatch, "validity-batch-size", 0, "in modes auto and validity, cut a batch at this many transactions, proven in chunks of the rollup's batch size (with -l1; 0: min(-optimistic-batch-size, 64 × -batch-size))")
	fs.IntVar(&c.optimisticBatch, "optimistic-batch-size", 0, "in mode optimistic, cut a batch at this many transactions (with -l1; 0: 4096, the most L1 takes in an optimistic batch; at least -batch-size)")
	fs.DurationVar(&c.batchInterval, "batch-interval", settlement.DefaultMaxBatchAge, "cut a batch once its oldest transaction has waited this long (with -l1)")
	fs.StringVar(&c.mode, "mode", "auto", "settlement mode (with -l1): auto (validity if a proof comes within -challenge-wait, else optimistic), optimistic or validity")
	fs.DurationVar(&c.challengeWait, "challenge-wait", settlement.DefaultProofDeadline, "mode auto: how long to wait for a validity proof before posting the batch optimistically, with its challenge window (also the bound of one proof in mode validity)")
	c.prover.register(fs)
	fs.Uint64Var(&cfg.Backpressure.MaxSettlementLag, "max-settlement-lag", sequencer.DefaultMaxSettlementLag, "with -l1: refuse new transactions (error overloaded, -32024) while more than this many acknowledged transactions are not yet in a batch posted to L1")
	fs.Uint64Var(&cfg.Backpressure.MinDepositSlack, "min-deposit-slack", sequencer.DefaultMinDepositSlack, "with -l1: refuse new transactions (overloaded) while L1's oldest unconsumed deposit is this many L1 blocks or fewer from its forced-inclusion deadline")
	fs.DurationVar(&cfg.Backpressure.RetryAfter, "overload-retry-after", sequencer.DefaultRetryAfter, "the retry hint (data.retry_after_ms) of an overloaded refusal")
	fs.IntVar(&c.retryBudget, "settlement-retry-budget", settlement.DefaultRetryBudget, "with -l1: failed postings of one batch (retried with capped exponential backoff and full jitter) after which it is logged and counted in pqsequencer_settlement_retries_exhausted_total and pqsequencer_settlement_batches_over_retry_budget; it is still retried at the cap")
	fs.DurationVar(&c.retryCap, "settlement-retry-cap", settlement.DefaultRetryCap, "with -l1: the most a failed posting waits before its next attempt (the wait starts at 200ms and doubles)")
	fs.BoolVar(&c.crossCheck, "cross-check", true, "with -l1: re-execute every built batch with the Go reference behind the hot path and halt settlement on a disagreement with the sequencer's trace (one CPU at about 300 µs per transaction while it keeps up; beyond that it skips batches, counted in pqsequencer_settlement_crosscheck_skipped_total)")
	fs.BoolVar(&c.devnet, "devnet", false, "serve the devnet_ JSON-RPC namespace (injectFault, setPolicy) and allow fault injection: devnets only")
	c.rpc.register(fs, &cfg.RPC)
	c.obs.Register(fs)
	obs.Main(spec, fs, &c.obs, func(ctx context.Context, log *slog.Logger) error {
		fs.Visit(func(f *flag.Flag) { c.set[f.Name] = true })
		if c.pprof != "" {
			go func() {
				if err := http.ListenAndServe(c.pprof, nil); err != nil {
					fmt.Fprintln(os.Stderr, "pqsequencer: pprof:", err)
				}
			}()
		}
		cfg.Logger = log
		return run(ctx, c)
	})
}

func run(ctx context.Context, c config) error {
	log := c.seq.Logger
	ms, err := c.obs.Start(log)
	if err != nil {
		return err
	}
	defer ms.Stop()

	if c.devnet && c.seq.ListenAddr == "" {
		return errors.New("-devnet needs -listen: its controls are JSON-RPC methods")
	}
	if err := c.rpc.load(&c.seq.RPC); err != nil {
		return err
	}
	var l1 *settlementL1
	if c.l1 != "" {
		if l1, err = connectL1(ctx, &c); err != nil {
			return err
		}
		defer l1.client.Close()
	} else if c.prover.urls != "" {
		return errors.New("-prover needs -l1: without L1 nothing is settled")
	}
	proofs := newProofMetrics(ms.Registry)
	var prv settlement.Prover
	if l1 != nil && l1.prover != nil {
		defer l1.prover.Close()
		prv = &settlement.ServiceProver{Service: proofs.measure(l1.prover), Params: l1.prover.Params(), ChainID: c.seq.ChainID,
			Logger: log.With("component", "prover")}
	}
	// A validity-only rollup cannot prove ML-DSA transactions: refused at admission.
	c.seq.NoMLDSA = l1 != nil && l1.policy == settlement.PolicyValidity
	s, err := sequencer.New(c.seq)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	if l1 != nil {
		l1.deposits.begin(s.Head().DepositEnd)
		fctx, fcancel := context.WithCancel(ctx)
		fed := make(chan struct{})
		go func() {
			defer close(fed)
			l1.deposits.run(fctx)
		}()
		defer func() {
			fcancel()
			<-fed
		}()
	}
	var eng *settlement.Engine
	var pre *corePreStates // the prover's pre-batch states, in the core
	var preStates settlement.PreStates
	if prv != nil {
		pre = &corePreStates{seq: s}
		preStates = pre
	}
	if l1 != nil {
		eng, err = settlement.New(settlement.Config{Dir: filepath.Join(c.seq.DataDir, "settlement"), ChainID: c.seq.ChainID,
			Depth: c.seq.Depth, Blocks: s, Target: settlement.NewNativeTarget(l1.client, l1.key, c.rollupID),
			MaxBatchTxs: c.batchSize, MaxOptimisticTxs: c.optimisticBatch, MaxValidityTxs: c.validityBatch, MaxBatchAge: c.batchInterval, Policy: l1.policy, Prover: prv, PreStates: preStates,
			ProverVK: l1.proverVK, ProofDeadline: c.challengeWait, AllowFaultInjection: c.devnet, NoCrossCheck: !c.crossCheck,
			RetryBudget: c.retryBudget, RetryCap: c.retryCap, Keys: s, Logger: log.With("component", "settlement")})
		if err == nil {
			err = eng.Start(ctx)
		}
		if err != nil {
			return errors.Join(err, s.Stop())
		}
		s.SetSettlement(eng)
		s.SetLagSource(eng)
	}
	if c.devnet {
		// Registered before the address is printed: a script that read it finds the namespace.
		if err := s.RegisterAPI("devnet", &devnetAPI{eng: eng, log: log.With("component", "devnet")}); err != nil {
			if eng != nil {
				err = errors.Join(err, eng.Stop())
			}
			return errors.Join(err, s.Stop())
		}
		log.Warn("devnet controls on: devnet_injectFault can corrupt batches posted to L1 (devnets only)",
			"token_required", c.seq.RPC.AdminToken != "")
	}
	var cl *l1client.Client
	if l1 != nil {
		cl = l1.client
	}
	var pool *proverpool.Pool
	if l1 != nil {
		pool = l1.prover
	}
	m := newMetrics(ms.Registry, s, eng, cl, pool, pre)
	mctx, mcancel := context.WithCancel(ctx)
	defer mcancel()
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		m.follow(mctx)
	}()
	ms.Ready.Set(func(ctx context.Context) error {
		if err := s.Err(); err != nil {
			return err
		}
		if eng != nil {
			if err := eng.Err(); err != nil {
				return err
			}
		}
		if l1 != nil {
			return l1.client.Err() // "l1 disconnected: <endpoint>: <cause>"
		}
		return nil
	})
	// Tests and scripts read the bound address (the port may be 0) from this line.
	fmt.Printf("listening on %s\n", s.Addr())
	log.Info("serving", "addr", s.Addr().String(), "chain", c.seq.ChainID, "depth", c.seq.Depth, "l1", c.l1)
	// A storage fault ends the process (non-zero, naming the cause) for a supervisor to restart
	// it on the same data dir, which recovers every acknowledged transaction. A halt of block
	// production keeps it up, not ready, until an operator stops it.
	var failed error
	select {
	case <-ctx.Done():
	case <-s.Failed():
		failed = fmt.Errorf("exiting on a storage fault, for a restart on the same data dir: %w", s.Err())
	}
	log.Info("stopping")
	ms.Stop()
	var stopErr error
	if eng != nil { // it reads the sequencer's blocks
		stopErr = eng.Stop()
	}
	stopErr = errors.Join(stopErr, s.Stop())
	mcancel()
	<-followed
	if failed != nil {
		return errors.Join(failed, stopErr)
	}
	return errors.Join(stopErr, s.Err())
}
