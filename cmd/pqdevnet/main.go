// Command pqdevnet is `make devnet`: it starts a whole pqbridge network on loopback — 4 L1
// validators (pql1node -consensus cometbft, validators.go; --validators 1: one L1 node), a sequencer (pqsequencer, settling on that L1), a prover (pqprover) and a
// challenger (pqchallenger), each its own process with a fresh data directory and dev keys — and
// then walks a newcomer through a demo with the wallet CLI (pqwallet): an L1 deposit, L2
// transfers, a batch proven with Groth16 and final at once, an optimistic batch final after its
// challenge window, a withdrawal claimed on L1, and an injected fraud caught by the challenger and
// reverted on L1, an L1 quorum certificate verified against the pinned set, and the
// sequencer's validator SIGKILLed while settlement goes on. It prints what it runs, progress on the long steps and a summary, and then keeps
// the network serving until Ctrl-C (or, with --exit, stops it and exits: `make devnet-demo`, whose
// status is 0 only if every step did what it should).
//
// Everything it makes lives under --dir (default .devnet, recreated on every run): the daemons'
// data and logs, the keys (encrypted keystores and the sequencer's 2-of-3 key shares, under one
// dev passphrase), the genesis and the wallet home. The Groth16 keys of the devnet's circuit are
// made once by a dev setup (not a ceremony: devnet only) and cached in --keys-cache.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/consensys/gnark/logger"
	"github.com/spf13/cobra"
)

func main() {
	logger.Disable() // gnark's own logs while the dev keys load; pqdevnet prints its progress
	if err := newCommand().Execute(); err != nil {
		os.Exit(1)
	}
}

func newCommand() *cobra.Command {
	var o options
	cmd := &cobra.Command{
		Use:   "pqdevnet",
		Short: "Run a local pqbridge network (L1 validators, sequencer, prover, challenger) and a guided demo",
		Long: `pqdevnet starts 4 L1 validators (CometBFT; --validators 1: one L1 node), a sequencer, a prover
and a challenger on loopback, each as its own process with a fresh data directory and dev keys,
and runs a demo through the wallet CLI: deposit, transfers, a proven batch, an optimistic batch,
a withdrawal claimed on L1, an injected fraud that the challenger catches, an L1 quorum
certificate and a validator killed while settlement goes on. Then it keeps serving until Ctrl-C.

The binaries come from --bin (make devnet builds them into bin/).`,
		Example: `  make devnet                      # build, start, demo, keep serving
  make devnet-demo                 # the same demo, then stop; exit status says if it passed
  bin/pqdevnet --demo=false        # just the network
  bin/pqdevnet --ports random      # when the default ports are taken`,
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			err := run(ctx, o)
			if err != nil && !errors.Is(err, context.Canceled) {
				fmt.Fprintln(os.Stderr, "pqdevnet:", err)
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.dir, "dir", ".devnet", "devnet directory: data, logs, keys, genesis, wallet home (removed and recreated on every run)")
	f.StringVar(&o.bin, "bin", "bin", "directory holding pql1node, pqsequencer, pqprover, pqchallenger and pqwallet")
	f.StringVar(&o.keysCache, "keys-cache", ".cache/devnet-keys", "where the Groth16 dev keys are cached between runs (made on first use)")
	f.BoolVar(&o.demo, "demo", true, "run the demo once the network is up")
	f.BoolVar(&o.exit, "exit", false, "stop the network after the demo and exit: 0 if every step passed, 1 naming the failed step")
	f.StringVar(&o.ports, "ports", "fixed", "fixed: the daemons' default ports (L1 9645/udp — validators 9645-9648/udp with p2p 26656-26659 and metrics 9100, 9104-9106 — sequencer 8645, prover 8646, metrics 9100-9103); random: any free ports")
	f.IntVar(&o.validators, "validators", 4, "L1 validators, each its own pql1node -consensus cometbft process (1: a single pql1node that makes every block)")
	f.IntVar(&o.depth, "depth", 16, "L2 state tree depth (2^depth accounts; the circuit grows with it)")
	f.IntVar(&o.batch, "batch", 4, "transactions per batch (the circuit's slots)")
	f.DurationVar(&o.blockInterval, "l1-block-interval", 250*time.Millisecond, "L1 block interval")
	f.Uint64Var(&o.challengeWindow, "challenge-window", 20, "optimistic batches' challenge window in L1 blocks")
	f.DurationVar(&o.proofWait, "proof-wait", 90*time.Second, "how long the sequencer waits for a validity proof before posting a batch optimistically")
	f.DurationVar(&o.stepTimeout, "step-timeout", 3*time.Minute, "bound on each demo step")
	f.BoolVar(&o.prometheus, "prometheus", false, "write <dir>/prometheus/prometheus.yml (the daemons' metrics and the alert rules) and print how to point Prometheus and Grafana at the devnet")
	f.StringVar(&o.alerts, "alerts", "deploy/prometheus/alerts.yml", "the alert rules --prometheus copies next to its configuration")
	cmd.SetContext(context.Background())
	return cmd
}

// options are pqdevnet's flags.
type options struct {
	dir, bin, keysCache string
	demo, exit          bool
	ports               string
	depth, batch        int
	validators          int
	blockInterval       time.Duration
	challengeWindow     uint64
	proofWait           time.Duration
	stepTimeout         time.Duration
	prometheus          bool
	alerts              string
}

func run(ctx context.Context, o options) error {
	if o.ports != "fixed" && o.ports != "random" {
		return fmt.Errorf("--ports %q: want fixed or random", o.ports)
	}
	if o.validators < 1 || o.validators > 16 {
		return fmt.Errorf("--validators %d: want 1 to 16", o.validators)
	}
	if o.prometheus {
		if _, err := os.Stat(o.alerts); err != nil {
			return fmt.Errorf("--prometheus: alert rules --alerts: %w", err)
		}
	}
	u := newUI(os.Stdout)
	net, err := setup(ctx, o, u)
	if err != nil {
		return err
	}
	defer net.stop(u)
	if err := net.start(ctx, u); err != nil {
		return err
	}
	if o.prometheus {
		if err := net.printPrometheus(u); err != nil {
			return err
		}
	}
	var demoErr error
	if o.demo {
		demoErr = runDemo(ctx, net, u)
		if demoErr != nil {
			u.failed(demoErr)
			if o.exit || ctx.Err() != nil {
				return demoErr
			}
			u.printf("\nThe network keeps running so that you can look around (logs in %s).\n", net.logDir)
		}
	}
	if o.exit {
		return nil
	}
	net.printExplore(u)
	u.printf("\nServing until Ctrl-C.\n")
	select {
	case <-ctx.Done():
		u.printf("\nStopping the network…\n")
		return nil
	case <-net.dead:
		return net.deathError()
	}
}
