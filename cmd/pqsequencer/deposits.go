package main

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// Limits of the deposit feed.
const (
	// depositsAhead bounds the deposits fetched ahead of the sequencer's cursor: one full block
	// (sequencer.Config.MaxBlockTxs is at most 4096).
	depositsAhead = 4096
	// depositFetchTimeout bounds one fetch from L1: a node that vanished without closing the
	// connection holds a call until then, or until the client gives the connection up.
	depositFetchTimeout = 10 * time.Second
	// minDepositPoll is the shortest pause between two fetches.
	minDepositPoll = 100 * time.Millisecond
)

// depositFeed is the sequencer's DepositSource with -l1: it fetches the rollup's L1 deposit
// queue ahead of the sequencer's cursor in the background and answers Deposits from what it
// holds, so building a block never waits on L1. (Before it, each block asked L1 directly, and a
// killed L1 node stalled L2 blocks until the QUIC idle timeout.) While L1 is unreachable, blocks
// go on with L2 transactions and no deposits.
type depositFeed struct {
	src  sequencer.DepositSource
	poll time.Duration
	log  *slog.Logger

	mu     sync.Mutex
	asked  bool   // the sequencer asked once: start follows its cursor
	start  uint64 // queue index of queued[0]
	queued []sequencer.Deposit
	failed bool // the last fetch failed (logged once until one succeeds)
}

func newDepositFeed(src sequencer.DepositSource, poll time.Duration, log *slog.Logger) *depositFeed {
	return &depositFeed{src: src, poll: max(poll, minDepositPoll), log: log}
}

// begin sets the queue index to fetch from before the sequencer first asks (its head's
// deposit cursor), so the first block's deposits are ready for it.
func (f *depositFeed) begin(cursor uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.asked {
		f.asked, f.start = true, cursor
	}
}

// Deposits implements sequencer.DepositSource from the fetched deposits: the ones below from
// were placed in blocks and are dropped. It never waits.
func (f *depositFeed) Deposits(_ context.Context, from uint64, n int) ([]sequencer.Deposit, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.asked || from < f.start || from > f.start+uint64(len(f.queued)) {
		f.asked, f.start, f.queued = true, from, nil
	}
	f.queued = f.queued[from-f.start:]
	f.start = from
	return append([]sequencer.Deposit(nil), f.queued[:min(n, len(f.queued))]...), nil
}

// run fetches until ctx ends.
func (f *depositFeed) run(ctx context.Context) {
	for {
		f.fetch(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(f.poll):
		}
	}
}

// fetch asks L1 for the deposits after the ones held, without holding the lock over the call.
func (f *depositFeed) fetch(ctx context.Context) {
	f.mu.Lock()
	asked, next, room := f.asked, f.start+uint64(len(f.queued)), depositsAhead-len(f.queued)
	f.mu.Unlock()
	if !asked || room <= 0 {
		return
	}
	fctx, cancel := context.WithTimeout(ctx, depositFetchTimeout)
	deps, err := f.src.Deposits(fctx, next, room)
	cancel()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.start+uint64(len(f.queued)) == next { // the cursor did not jump meanwhile
		f.queued = append(f.queued, deps...)
	}
	switch {
	case err != nil && ctx.Err() == nil && !f.failed:
		f.failed = true
		f.log.Warn("fetching L1 deposits; blocks go on without them", "err", err, "from", next)
	case err == nil && f.failed:
		f.failed = false
		f.log.Info("fetching L1 deposits again", "from", next)
	}
}
