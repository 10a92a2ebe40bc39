// Command pqwallet is the user's CLI for pqbridge: it keeps L1 (ML-DSA-65) and L2 (EdDSA or ML-DSA-65) keys
// in encrypted keystores under --home (package cmd/internal/keystore), and talks to the real
// daemons over their APIs: the L1 node over QUIC (l1/l1client) for balances, deposits, claims,
// exodus and batch status, the sequencer over JSON-RPC (rollup_ namespace) for L2 balances,
// transfers, withdrawals and receipts. docs/wallet.md is its reference.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCommand(os.Stdout, os.Stderr, os.LookupEnv).ExecuteContext(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "pqwallet:", err)
		os.Exit(1)
	}
}
