// Command pqsequencer runs the L2 sequencer (package l2/sequencer): JSON-RPC over HTTP and
// WebSocket on one address, blocks every -block-interval, state in -datadir. SIGINT or SIGTERM
// stop it gracefully (in-flight acknowledgements finish, a snapshot of the head is written).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // served only with -pprof, on its own address
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

func main() {
	var cfg sequencer.Config
	flag.StringVar(&cfg.DataDir, "datadir", "pqsequencer-data", "data directory (pebble database and snapshots)")
	flag.StringVar(&cfg.ListenAddr, "listen", "127.0.0.1:8645", "JSON-RPC address, HTTP and WebSocket")
	flag.Uint64Var(&cfg.ChainID, "chain-id", 1, "rollup chain ID, signed into every transaction")
	flag.IntVar(&cfg.Depth, "depth", l2.DefaultTreeDepth, "state tree depth (fixed at genesis)")
	flag.DurationVar(&cfg.BlockInterval, "block-interval", 50*time.Millisecond, "build a block at least this often when there is work")
	flag.IntVar(&cfg.MaxBlockTxs, "max-block-txs", 1024, "build a block as soon as this many transactions are ready (max 4096)")
	flag.Uint64Var(&cfg.SnapshotEvery, "snapshot-every", 100, "write a state snapshot every this many blocks")
	flag.StringVar(&cfg.Executor, "executor", sequencer.ExecutorCore, "executor: core (native) or reference (Go, slow)")
	flag.Uint64Var(&cfg.CapacityHint, "capacity", 1<<16, "accounts to reserve memory for")
	flag.IntVar(&cfg.Mempool.MaxTxs, "mempool", 100_000, "maximum pending transactions")
	flag.BoolVar(&cfg.Dev, "dev", false, "enable rollup_devDeposit (anyone can mint funds): development only")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this address (e.g. 127.0.0.1:6060)")
	flag.Parse()
	if *pprofAddr != "" {
		go func() {
			if err := http.ListenAndServe(*pprofAddr, nil); err != nil {
				fmt.Fprintln(os.Stderr, "pqsequencer: pprof:", err)
			}
		}()
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "pqsequencer:", err)
		os.Exit(1)
	}
}

func run(cfg sequencer.Config) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	s, err := sequencer.New(cfg)
	if err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	// Tests and scripts read the bound address (the port may be 0) from this line.
	fmt.Printf("listening on %s\n", s.Addr())
	select {
	case <-ctx.Done():
	case <-s.Failed():
	}
	cfg.Logger.Info("stopping")
	if err := s.Stop(); err != nil {
		return err
	}
	return s.Err()
}
