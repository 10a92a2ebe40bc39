package l1client_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// restartable is a node on a real pebble store that the test stops and starts again on the same
// directory and port, as an operator restarts pql1node.
type restartable struct {
	t    *testing.T
	dir  string
	addr string
	mu   sync.Mutex
	n    *node.Node
	srv  *quicrpc.Server
}

func newRestartable(t *testing.T) *restartable {
	r := &restartable{t: t, dir: t.TempDir(), addr: "127.0.0.1:0"}
	r.start()
	t.Cleanup(r.stop)
	return r
}

func (r *restartable) start() {
	r.t.Helper()
	n, err := node.New(node.Config{Dir: r.dir, Key: validator, Genesis: chain.Genesis{ChainID: chainID,
		Validator: validator.Public().Bytes(), Alloc: []chain.Alloc{{Address: alice.Address(), Balance: 1000}}}})
	if err != nil {
		r.t.Fatal(err)
	}
	srv, err := n.Serve(context.Background(), quicrpc.ServerConfig{ListenAddr: r.addr})
	if err != nil {
		n.Stop()
		r.t.Fatal(err)
	}
	r.mu.Lock()
	r.n, r.srv, r.addr = n, srv, srv.Addr().String()
	r.mu.Unlock()
}

func (r *restartable) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		return
	}
	r.srv.Stop()
	if err := r.n.Stop(); err != nil {
		r.t.Errorf("node stop: %v", err)
	}
	r.n, r.srv = nil, nil
}

func (r *restartable) produce(ctx context.Context) {
	r.t.Helper()
	if _, err := r.n.ProduceBlock(ctx); err != nil {
		r.t.Fatal(err)
	}
}

// deadAddr is a loopback UDP address nobody listens on.
func deadAddr(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

// waitFor polls cond until it holds or ctx ends.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v", what, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestRedialAfterNodeRestart(t *testing.T) {
	r := newRestartable(t)
	ctx := ctxT(t)
	c := dial(t, r.addr)
	if _, err := c.SubmitTx(ctx, transfer(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		r.stop()
		waitFor(ctx, t, "the loss of the connection", func() bool { return !c.Connected() })
		_, err := c.Status(ctx)
		var de *l1client.DisconnectedError
		if !errors.Is(err, l1client.ErrDisconnected) || !errors.As(err, &de) || de.Endpoint != r.addr {
			t.Fatalf("round %d: status while the node is down: %v, want ErrDisconnected naming %s", round, err, r.addr)
		}
		r.start()
		if err := c.WaitConnected(ctx); err != nil {
			t.Fatal(err)
		}
		st, err := c.Status(ctx)
		if err != nil || st.ChainID != chainID {
			t.Fatalf("round %d: status after the restart: %+v %v", round, st, err)
		}
		if got := c.Reconnects(); got != uint64(round+1) {
			t.Fatalf("round %d: %d reconnects", round, got)
		}
	}
	// The acknowledged transaction survived the restarts and the new connection can send more.
	if _, err := c.SubmitTx(ctx, transfer(t, 1, 1)); err != nil {
		t.Fatal(err)
	}
	if st, err := c.Status(ctx); err != nil || st.MempoolTxs != 2 {
		t.Fatalf("status %+v %v, want 2 transactions in the mempool", st, err)
	}
}

func TestEndpointRotation(t *testing.T) {
	r := newRestartable(t)
	dead := deadAddr(t)
	ctx := ctxT(t)
	c, err := l1client.Dial(ctx, l1client.Config{Addrs: []string{dead, r.addr}, ChainID: chainID,
		Validator: validator.Public(), Key: key(9), MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got := c.Endpoint(); got != r.addr {
		t.Fatalf("connected to %s, want the live %s after the dead %s", got, r.addr, dead)
	}
	if st, err := c.Status(ctx); err != nil || st.ChainID != chainID {
		t.Fatalf("status %+v %v", st, err)
	}
}

func TestDisconnectedFailsFast(t *testing.T) {
	dead, dead2 := deadAddr(t), deadAddr(t)
	c, err := l1client.New(l1client.Config{Addrs: []string{dead, dead2}, ChainID: chainID, Validator: validator.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	calls := map[string]func() error{
		"status":  func() error { _, err := c.Status(ctx); return err },
		"submit":  func() error { _, err := c.SubmitTx(ctx, transfer(t, 0, 1)); return err },
		"events":  func() error { _, err := c.Events(ctx, 1); return err },
		"rollup":  func() error { _, err := c.Rollup(ctx, 1); return err },
		"readyz":  c.Err,
		"receipt": func() error { _, err := c.Receipts(ctx, 1); return err },
	}
	for name, call := range calls {
		err := call()
		if !errors.Is(err, l1client.ErrDisconnected) || !strings.Contains(err.Error(), "l1 disconnected: "+dead) {
			t.Fatalf("%s: %v, want ErrDisconnected naming %s", name, err, dead)
		}
		if ctx.Err() != nil {
			t.Fatalf("%s waited for the test's deadline", name)
		}
	}
	if c.Connected() {
		t.Fatal("connected to nothing")
	}
	// A bounded wait names what it waited for.
	wctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if err := c.WaitConnected(wctx); !errors.Is(err, l1client.ErrDisconnected) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("wait: %v", err)
	}
	// Once a dial failed, the error names that endpoint and its dial error (the client has
	// moved on to the next endpoint meanwhile).
	waitFor(ctx, t, "a failed dial", func() bool { return !strings.Contains(c.Err().Error(), "no answer yet") })
	var de *l1client.DisconnectedError
	if err := c.Err(); !errors.As(err, &de) || de.Endpoint != dead || !strings.Contains(de.Err.Error(), "dial "+dead) {
		t.Fatalf("after a failed dial of %s: %v", dead, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status(ctx); !errors.Is(err, quicrpc.ErrClosed) {
		t.Fatalf("status after close: %v", err)
	}
}

// TestEventsSurviveRestarts reads the event log through node restarts, with blocks produced
// while the client is away: every event is delivered once, in order.
func TestEventsSurviveRestarts(t *testing.T) {
	r := newRestartable(t)
	ctx := ctxT(t)
	c := dial(t, r.addr)
	evs, err := c.Events(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer evs.Close()
	var nonce uint64
	var last *chain.Event
	next := func() chain.Event {
		t.Helper()
		ev, err := evs.Next()
		if err != nil {
			t.Fatal(err)
		}
		if last != nil {
			gap := ev.Height != last.Height && (ev.Height != last.Height+1 || ev.Index != 0 || last.Kind != chain.EventBlock)
			if ev.Height == last.Height && ev.Index != last.Index+1 || gap {
				t.Fatalf("event %d/%d (kind %d) after %d/%d (kind %d): a gap or a repeat", ev.Height, ev.Index, ev.Kind,
					last.Height, last.Index, last.Kind)
			}
		}
		last = &ev
		return ev
	}
	height := uint64(0)
	for round := range 3 {
		// Two blocks with a transfer each, read while the node is up.
		for range 2 {
			if _, err := c.SubmitTx(ctx, transfer(t, nonce, 1)); err != nil {
				t.Fatal(err)
			}
			nonce++
			r.produce(ctx)
			height++
			for ev := next(); ev.Kind != chain.EventBlock; ev = next() {
			}
			if last.Height != height {
				t.Fatalf("round %d: block event of %d, want %d", round, last.Height, height)
			}
		}
		// A restart with a block committed meanwhile, before the client is back.
		r.stop()
		r.start()
		r.produce(ctx)
		height++
		if ev := next(); ev.Height != height || ev.Kind != chain.EventBlock {
			t.Fatalf("round %d: after the restart: event %+v, want the block event of %d", round, ev, height)
		}
	}
	if c.Reconnects() != 3 {
		t.Fatalf("%d reconnects, want 3", c.Reconnects())
	}
}

func TestBackoffBounded(t *testing.T) {
	lo, hi := 100*time.Millisecond, 5*time.Second
	top := func(n int64) int64 { return n - 1 } // the largest draw
	prev := time.Duration(0)
	for attempt := range 200 {
		d := l1client.Backoff(attempt, lo, hi, top)
		if d < prev || d > hi {
			t.Fatalf("attempt %d: ceiling %s after %s, want non-decreasing and at most %s", attempt, d, prev, hi)
		}
		if zero := l1client.Backoff(attempt, lo, hi, func(int64) int64 { return 0 }); zero != 0 {
			t.Fatalf("attempt %d: smallest draw %s, want 0 (full jitter)", attempt, zero)
		}
		prev = d
	}
	if first := l1client.Backoff(0, lo, hi, top); first != lo {
		t.Fatalf("first ceiling %s, want %s", first, lo)
	}
	if prev != hi {
		t.Fatalf("ceiling after many failures %s, want %s", prev, hi)
	}
}

// TestRetryWaitsForNode: a daemon started before its L1 node waits for it (Retry) and reads
// from it once it is up.
func TestRetryWaitsForNode(t *testing.T) {
	r := newRestartable(t)
	r.stop()
	c, err := l1client.New(l1client.Config{Addr: r.addr, ChainID: chainID, Validator: validator.Public(),
		MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t)
	type result struct {
		st  node.Status
		err error
	}
	got := make(chan result, 1)
	go func() {
		var st node.Status
		err := c.Retry(ctx, "the status", func(ctx context.Context) (err error) {
			st, err = c.Status(ctx)
			return err
		})
		got <- result{st, err}
	}()
	waitFor(ctx, t, "a failed dial", func() bool {
		err := c.Err()
		return errors.Is(err, l1client.ErrDisconnected) && !strings.Contains(err.Error(), "no answer yet")
	})
	r.start()
	res := <-got
	if res.err != nil || res.st.ChainID != chainID {
		t.Fatalf("status after waiting: %+v %v", res.st, res.err)
	}
	// An error that is not a disconnection ends the wait at once.
	bad := errors.New("bad request")
	if err := c.Retry(ctx, "nothing", func(context.Context) error { return bad }); err != bad {
		t.Fatalf("Retry returned %v, want %v", err, bad)
	}
}

// TestEventsResumeMidBlock: a resubscription starts at the height of the last event delivered;
// the events of that height already delivered are dropped, the rest kept.
func TestEventsResumeMidBlock(t *testing.T) {
	ev := func(h, i uint64, k chain.EventKind) chain.Event { return chain.Event{Height: h, Index: i, Kind: k} }
	msg := []chain.Event{ev(7, 0, chain.EventDeposit), ev(7, 1, chain.EventDeposit), ev(7, 2, chain.EventBlock), ev(8, 0, chain.EventBlock)}
	for _, tc := range []struct {
		name string
		last *chain.Event
		want int // events kept from the end of msg
	}{
		{"nothing delivered", nil, 4},
		{"first event of 7 delivered", &msg[0], 3},
		{"two of 7 delivered", &msg[1], 2},
		{"all of 7 delivered", &msg[2], 1},
		{"all delivered", &msg[3], 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := l1client.Unseen(tc.last, msg)
			if len(got) != tc.want || (tc.want > 0 && got[0] != msg[len(msg)-tc.want]) {
				t.Fatalf("kept %+v, want the last %d of %+v", got, tc.want, msg)
			}
		})
	}
}
