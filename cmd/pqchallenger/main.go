// Command pqchallenger runs the fraud-proof challenger (package fraud/challenger) of one rollup
// against an L1 node over QUIC (l1/l1client): it re-executes every batch (with the native core, or
// with the Go reference under -executor reference), sends a challenge on the first fault, and
// keeps its cursor, agreed state and signed challenges in -datadir, so a restart resumes where it
// stopped. SIGINT or SIGTERM stop it gracefully; a storage fault (a full disk, failing syncs)
// makes it exit with the error. Options come from flags, PQBRIDGE_<FLAG> variables or a -config
// file (cmd/internal/cliconf); -metrics serves Prometheus metrics, /healthz and /readyz
// (cmd/internal/obs).
//
// With -l1-validators the batches are read with certificates and state proofs
// (challenger.ProvenSource) and the proven rollup head catches a batch the connected validator's
// events withheld; with -validator-pubkey-file (a one-node chain) the reads are that node's plain
// signed replies.
//
// The key pays the challenges and receives the rewards: a keystore file (-keystore) or an
// unencrypted hex ML-DSA-65 seed in -key-file that must be mode 0600 (cmd/internal/keystore).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
)

type config struct {
	l1               string
	l1ChainID        uint64
	validatorPubFile string
	l1Validators     string
	key              keystore.DaemonKey
	rollupID         uint64
	dataDir          string
	depth            int
	executor         string
	obs              obs.Flags
}

var spec = cliconf.Spec{
	Short: "Fraud-proof challenger of a pqbridge rollup",
	Long: `pqchallenger watches one rollup on the L1 node over QUIC: it re-executes every batch (with the
native core, or the Go reference under --executor reference), sends a challenge on the first
fault, and keeps its cursor and agreed state in --datadir, so a restart resumes where it
stopped. The key that pays the challenges and receives the rewards is a keystore (--keystore),
key shares (--key-shares) or a hex seed file (--key-file, mode 0600).
SIGINT or SIGTERM stop it gracefully.`,
	Example: `  pqchallenger --l1 127.0.0.1:9645 --validator-pubkey-file validator.pub \
    --keystore challenger.json --passphrase-file pass.txt --rollup 1 --datadir /var/lib/pqchallenger`,
}

func main() {
	var c config
	fs := flag.NewFlagSet("pqchallenger", flag.ExitOnError)
	fs.StringVar(&c.l1, "l1", "127.0.0.1:9645", "L1 node QUIC (UDP) address, or a comma-separated list tried in turn")
	fs.Uint64Var(&c.l1ChainID, "l1-chain-id", 1, "L1 chain ID")
	fs.StringVar(&c.validatorPubFile, "validator-pubkey-file", "", "file holding the L1 validator's ML-DSA-65 public key in hex (pins the node's replies; a one-node L1)")
	fs.StringVar(&c.l1Validators, "l1-validators", "", "instead of -validator-pubkey-file, the L1 validator-set JSON (pql1node -validators): replies signed by any member are accepted, certificates checked against the set, and -l1 lists the validators' endpoints")
	c.key.Register(fs, "key-file", "the challenger's")
	fs.Uint64Var(&c.rollupID, "rollup", 1, "rollup ID to watch")
	fs.StringVar(&c.dataDir, "datadir", "pqchallenger-data", "data directory (pebble: cursor and agreed state)")
	fs.IntVar(&c.depth, "depth", 0, "expected state tree depth of the rollup (0: take the L1's)")
	fs.StringVar(&c.executor, "executor", challenger.ExecutorCore, "re-execution of batches: \"core\" (the native core) or \"reference\" (the Go reference, slow)")
	c.obs.Register(fs)
	obs.Main(spec, fs, &c.obs, func(ctx context.Context, log *slog.Logger) error { return run(ctx, c, log) })
}

func run(ctx context.Context, c config, log *slog.Logger) error {
	validator, validators, err := keystore.ReadL1Trust("validator-pubkey-file", c.validatorPubFile, "l1-validators", c.l1Validators)
	if err != nil {
		return err
	}
	key, err := c.key.Load("key-file")
	if err != nil {
		return err
	}
	ms, err := c.obs.Start(log)
	if err != nil {
		return err
	}
	defer ms.Stop()
	// While no L1 node is reachable the start waits, logging what for; the client redials.
	cl, err := l1client.New(l1client.Config{Addrs: l1client.ParseAddrs(c.l1), ChainID: c.l1ChainID, Validator: validator,
		Validators: validators, Key: key, Logger: log.With("component", "l1client")})
	if err != nil {
		return fmt.Errorf("-l1 %s: %w", c.l1, err)
	}
	defer cl.Close()
	var r *l1api.Rollup
	err = cl.Retry(ctx, fmt.Sprintf("rollup %d", c.rollupID), func(ctx context.Context) (err error) {
		r, err = cl.Rollup(ctx, c.rollupID)
		return err
	})
	if err != nil {
		return fmt.Errorf("rollup %d: %w", c.rollupID, err)
	}
	if c.depth != 0 && int(r.Config.TreeDepth) != c.depth {
		return fmt.Errorf("rollup %d has tree depth %d, -depth says %d", c.rollupID, r.Config.TreeDepth, c.depth)
	}
	// With a validator set one validator's plain replies are a hint: the batches are read with
	// certificates and state proofs, and the proven rollup head catches a withheld batch.
	src := challenger.ClientSource(cl)
	if validators != nil {
		src = challenger.ProvenSource(src, cl)
	}
	var ch *challenger.Challenger
	err = cl.Retry(ctx, "the challenger's start", func(ctx context.Context) (err error) {
		ch, err = challenger.New(ctx, challenger.Config{Dir: c.dataDir, Source: src, Key: key,
			L1ChainID: c.l1ChainID, RollupID: c.rollupID, Logger: log, Executor: c.executor})
		return err
	})
	if err != nil {
		return err
	}
	st := ch.Status()
	// Tests and scripts read this line.
	fmt.Printf("watching rollup %d (l2 chain %d, depth %d) on %s as %s from L1 height %d, agreed batch %d, %s executor\n",
		c.rollupID, r.Config.L2ChainID, r.Config.TreeDepth, c.l1, key.Address(), st.Cursor, st.Agreed, st.Executor)
	if err := ch.Start(ctx); err != nil {
		return errors.Join(err, ch.Stop())
	}
	ms.Registry.MustRegister(newMetrics(ch, cl))
	ms.Ready.Set(func(ctx context.Context) error { return caughtUp(ctx, cl, ch) })
	var halted error
	select {
	case <-ctx.Done():
	case <-ch.Done(): // a storage fault: exit, and a restart resumes from the last block written
		halted = ch.Ready()
	}
	st = ch.Status()
	log.Info("stopping", "cursor", st.Cursor, "agreed", st.Agreed, "challenged", st.Challenged, "challenges", st.Challenges,
		"upheld", st.Upheld, "errors", st.Errors)
	ms.Stop()
	return errors.Join(halted, ch.Stop())
}
