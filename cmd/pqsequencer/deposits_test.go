package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
)

// stuckL1Fault is a fault-injection deposit source: an L1 node that stopped answering, whose
// calls hang until their context ends (as a QUIC call to a killed node does until the idle
// timeout).
type stuckL1Fault struct{ called chan struct{} }

func (s *stuckL1Fault) Deposits(ctx context.Context, _ uint64, _ int) ([]sequencer.Deposit, error) {
	select {
	case s.called <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestDepositFeedNeverWaits: the sequencer's Deposits answers while a fetch from L1 hangs.
func TestDepositFeedNeverWaits(t *testing.T) {
	stuck := &stuckL1Fault{called: make(chan struct{}, 1)}
	f := newDepositFeed(stuck, time.Millisecond, slog.New(slog.DiscardHandler))
	f.begin(0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		f.run(ctx)
	}()
	defer func() {
		cancel()
		<-done
	}()
	<-stuck.called // a fetch is in flight, and stays so until cancel
	answered := make(chan []sequencer.Deposit)
	go func() {
		deps, err := f.Deposits(context.Background(), 0, 16)
		if err != nil {
			t.Error(err)
		}
		answered <- deps
	}()
	select {
	case deps := <-answered:
		if len(deps) != 0 {
			t.Fatalf("%d deposits from a node that never answered", len(deps))
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Deposits waited for the hanging L1 fetch")
	}
}

// TestDepositFeedOrder: deposits come in queue order from the sequencer's cursor, the placed
// ones are dropped, and a cursor that jumps starts the fetch again from it.
func TestDepositFeedOrder(t *testing.T) {
	var src sequencer.MemoryDepositSource
	add := func(n int) {
		for range n {
			src.Add(l2.PublicKey{}, 1)
		}
	}
	add(5)
	f := newDepositFeed(&src, time.Millisecond, slog.New(slog.DiscardHandler))
	ctx := context.Background()
	check := func(from uint64, n int, want ...uint64) {
		t.Helper()
		deps, err := f.Deposits(ctx, from, n)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]uint64, len(deps))
		for i, d := range deps {
			got[i] = d.QueueIndex
		}
		if len(got) != len(want) {
			t.Fatalf("Deposits(%d, %d) = %v, want %v", from, n, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("Deposits(%d, %d) = %v, want %v", from, n, got, want)
			}
		}
	}
	check(0, 10) // nothing fetched yet: the first call names the cursor
	f.fetch(ctx)
	check(0, 3, 0, 1, 2)
	check(2, 10, 2, 3, 4) // 0 and 1 were placed
	add(2)
	f.fetch(ctx)
	check(5, 10, 5, 6)
	check(7, 10)
	check(3, 10) // a cursor moved back (a new sequencer state) starts over from it
	f.fetch(ctx)
	check(3, 10, 3, 4, 5, 6)
}
