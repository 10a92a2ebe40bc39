// Command pqchallenger runs the fraud-proof challenger (package fraud/challenger) of one rollup
// against an L1 node over QUIC (l1/l1client): it re-executes every batch, sends a challenge on
// the first fault, and keeps its cursor and agreed state in -datadir, so a restart resumes where
// it stopped. SIGINT or SIGTERM stop it gracefully.
//
// The key in -key-file pays the challenges and receives the rewards. It is an unencrypted hex
// ML-DSA-65 seed that must be mode 0600: key custody (cmd/internal/keystore) is a separate issue.
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

type config struct {
	l1               string
	l1ChainID        uint64
	validatorPubFile string
	keyFile          string
	rollupID         uint64
	dataDir          string
	depth            int
}

func main() {
	var c config
	flag.StringVar(&c.l1, "l1", "127.0.0.1:9645", "L1 node QUIC (UDP) address")
	flag.Uint64Var(&c.l1ChainID, "l1-chain-id", 1, "L1 chain ID")
	flag.StringVar(&c.validatorPubFile, "validator-pubkey-file", "", "file holding the L1 validator's ML-DSA-65 public key in hex (pins the node's replies)")
	flag.StringVar(&c.keyFile, "key-file", "", "file holding the challenger's ML-DSA-65 seed in hex (unencrypted, mode 0600)")
	flag.Uint64Var(&c.rollupID, "rollup", 1, "rollup ID to watch")
	flag.StringVar(&c.dataDir, "datadir", "pqchallenger-data", "data directory (pebble: cursor and agreed state)")
	flag.IntVar(&c.depth, "depth", 0, "expected state tree depth of the rollup (0: take the L1's)")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(c, log); err != nil {
		fmt.Fprintln(os.Stderr, "pqchallenger:", err)
		os.Exit(1)
	}
}

func run(c config, log *slog.Logger) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if c.keyFile == "" {
		return errors.New("-key-file is required")
	}
	key, err := loadKey(c.keyFile)
	if err != nil {
		return err
	}
	if c.validatorPubFile == "" {
		return errors.New("-validator-pubkey-file is required")
	}
	validator, err := loadValidator(c.validatorPubFile)
	if err != nil {
		return err
	}
	cl, err := l1client.Dial(ctx, l1client.Config{Addr: c.l1, ChainID: c.l1ChainID, Validator: validator})
	if err != nil {
		return fmt.Errorf("connecting to the L1 node at %s: %w", c.l1, err)
	}
	defer cl.Close()
	r, err := cl.Rollup(ctx, c.rollupID)
	if err != nil {
		return fmt.Errorf("rollup %d: %w", c.rollupID, err)
	}
	if c.depth != 0 && int(r.Config.TreeDepth) != c.depth {
		return fmt.Errorf("rollup %d has tree depth %d, -depth says %d", c.rollupID, r.Config.TreeDepth, c.depth)
	}
	ch, err := challenger.New(ctx, challenger.Config{Dir: c.dataDir, Source: challenger.ClientSource(cl), Key: key,
		L1ChainID: c.l1ChainID, RollupID: c.rollupID, Logger: log})
	if err != nil {
		return err
	}
	st := ch.Status()
	// Tests and scripts read this line.
	fmt.Printf("watching rollup %d (l2 chain %d, depth %d) on %s as %s from L1 height %d, agreed batch %d\n",
		c.rollupID, r.Config.L2ChainID, r.Config.TreeDepth, c.l1, key.Address(), st.Cursor, st.Agreed)
	if err := ch.Start(ctx); err != nil {
		ch.Stop()
		return err
	}
	<-ctx.Done()
	log.Info("stopping", "status", fmt.Sprintf("%+v", ch.Status()))
	return ch.Stop()
}

// loadKey reads a hex seed from a file only its owner can read.
func loadKey(path string) (*pqkey.PrivateKey, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key file %s has mode %v: want 0600", path, fi.Mode().Perm())
	}
	raw, err := readHex(path)
	if err != nil || len(raw) != pqkey.SeedSize {
		return nil, fmt.Errorf("key file %s: want %d hex-encoded bytes", path, pqkey.SeedSize)
	}
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte(raw)), nil
}

// loadValidator reads the validator's public key, which every reply of the node must be signed
// with.
func loadValidator(path string) (*pqkey.PublicKey, error) {
	raw, err := readHex(path)
	if err != nil {
		return nil, fmt.Errorf("validator public key file: %w", err)
	}
	k, err := pqkey.ParsePublicKey(raw)
	if err != nil {
		return nil, fmt.Errorf("validator public key file %s: %w", path, err)
	}
	return k, nil
}

func readHex(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return hex.DecodeString(strings.TrimSpace(string(b)))
}
