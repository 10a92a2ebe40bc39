package main

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/l1source"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/prover/proverpool"
	"github.com/pqbridge/pqbridge/settlement"
)

// settlementL1 is the L1 side of a sequencer started with -l1.
type settlementL1 struct {
	client   *l1client.Client
	deposits *depositFeed // the rollup's L1 deposit queue, fetched ahead (run it)
	key      *pqkey.PrivateKey
	policy   settlement.ModePolicy
	// prover is the pool of the -prover URLs (nil without), checked against the rollup;
	// proverVK is the verifying key it admitted its provers by (the rollup's at startup): the
	// engine posts optimistically while a guardian config change has another in force.
	prover   *proverpool.Pool
	proverVK [32]byte
}

// errNoProver is the refusal of -mode validity without -prover.
var errNoProver = errors.New("-mode validity needs a prover: give -prover URL (a pqprover -listen), or use -mode auto or optimistic")

// connectL1 checks the L1 options, loads the sequencer's key, connects to the L1 nodes of -l1
// (waiting while none is reachable, with a log line each time) and reads the rollup; it completes c.seq (deposit source, chain ID and depth unless given) and the batch
// size from the rollup's configuration on L1, and refuses what L1 would reject later.
func connectL1(ctx context.Context, c *config) (*settlementL1, error) {
	policy, ok := modes[c.mode]
	switch {
	case !ok:
		return nil, fmt.Errorf("-mode %q: want auto, optimistic or validity", c.mode)
	case policy == settlement.PolicyValidity && c.prover.urls == "":
		return nil, errNoProver
	case c.seq.Dev:
		return nil, errors.New("-dev and -l1 exclude each other: with -l1 deposits come from the L1 queue")
	}
	validator, validators, err := keystore.ReadL1Trust("validator-pubkey-file", c.validatorPubFile, "l1-validators", c.l1Validators)
	if err != nil {
		return nil, err
	}
	key, err := c.key.Load("sequencer-key-file")
	if err != nil {
		return nil, err
	}
	cl, err := l1client.New(l1client.Config{Addrs: l1client.ParseAddrs(c.l1), ChainID: c.l1ChainID, Validator: validator,
		Validators: validators, Key: key, Logger: c.seq.Logger.With("component", "l1client")})
	if err != nil {
		return nil, fmt.Errorf("-l1 %s: %w", c.l1, err)
	}
	var r *l1api.Rollup
	err = cl.Retry(ctx, fmt.Sprintf("rollup %d", c.rollupID), func(ctx context.Context) (err error) {
		r, err = cl.Rollup(ctx, c.rollupID)
		return err
	})
	if err != nil {
		cl.Close()
		return nil, fmt.Errorf("rollup %d on L1: %w", c.rollupID, err)
	}
	rc := &r.Config
	fail := func(format string, args ...any) (*settlementL1, error) {
		cl.Close()
		return nil, fmt.Errorf("rollup %d on L1: "+format, append([]any{c.rollupID}, args...)...)
	}
	if !slices.Contains(rc.Sequencers, key.Address()) {
		return fail("%s is not one of its sequencers", key.Address())
	}
	if c.set["chain-id"] && c.seq.ChainID != rc.L2ChainID {
		return fail("L2 chain ID %d, -chain-id says %d", rc.L2ChainID, c.seq.ChainID)
	}
	if c.set["depth"] && c.seq.Depth != int(rc.TreeDepth) {
		return fail("tree depth %d, -depth says %d", rc.TreeDepth, c.seq.Depth)
	}
	if c.batchSize < 0 || uint64(c.batchSize) > rc.BatchSize {
		return fail("batch size %d, -batch-size %d is above it", rc.BatchSize, c.batchSize)
	}
	if c.batchSize == 0 {
		c.batchSize = int(rc.BatchSize)
	}
	c.seq.ChainID, c.seq.Depth = rc.L2ChainID, int(rc.TreeDepth)
	feed := newDepositFeed(l1source.Deposits{L1: cl, RollupID: c.rollupID}, c.seq.BlockInterval,
		c.seq.Logger.With("component", "deposits"))
	c.seq.Deposits = feed
	// The ML-DSA keys of accounts whose deposits the sequencer did not execute (or whose key it
	// dropped from memory): L1's registry.
	c.seq.Keys = l1source.Keys{L1: cl, RollupID: c.rollupID, Log: c.seq.Logger.With("component", "l2-keys")}
	l1 := &settlementL1{client: cl, deposits: feed, key: key, policy: policy}
	if c.prover.urls != "" {
		if l1.prover, err = connectProvers(ctx, &c.prover, rc, c.batchSize, c.seq.Logger.With("component", "prover-pool")); err != nil {
			cl.Close()
			return nil, fmt.Errorf("rollup %d on L1: %w", c.rollupID, err)
		}
		l1.proverVK = rc.VKHash
		logPendingVK(l1.prover, r, c.seq.Logger.With("component", "prover-pool"))
		c.seq.Logger.Info("prover pool ready", "provers", len(l1.prover.Stats().Provers), "params", l1.prover.Params().String(),
			"job_timeout", l1.prover.JobTimeout())
	}
	return l1, nil
}
