package abci

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// TestStorageFaultsValidatorHalts: validator 3's disk fills up; the block it cannot commit
// halts it (node.ErrHalted naming the storage fault) instead of the process: its consensus
// stops at that height, its chain stays at the last block it committed, its QUIC API keeps
// answering with the reason in l1_status and refuses transactions, and the other three go on
// committing and certifying.
func TestStorageFaultsValidatorHalts(t *testing.T) {
	tn := newTestNet(t, 4)
	tn.waitHeight(3, 40*time.Second)
	v := tn.nodes[3]
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	srv, err := v.n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.pq})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := l1client.Dial(ctx, l1client.Config{Addr: srv.Addr().String(), ChainID: testChainID, Validator: v.pq.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	v.fs.Set(storefault.Full)
	for v.n.Err() == nil {
		if ctx.Err() != nil {
			t.Fatalf("validator 3 did not halt on a full disk (height %d)", tn.height(3))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := v.n.Err(); !errors.Is(err, node.ErrHalted) || !errors.Is(err, node.ErrStorage) {
		t.Fatalf("halted with %v, want node.ErrHalted and node.ErrStorage", err)
	}
	stopped := tn.height(3)
	v.fs.Set(storefault.None) // the node stays halted: pebble is not trusted after a failed commit
	for i := range 3 {
		for tn.height(i) < stopped+6 {
			if ctx.Err() != nil {
				t.Fatalf("validator %d at height %d, the halted one at %d: the three left stopped", i, tn.height(i), stopped)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if h := tn.height(3); h != stopped {
		t.Fatalf("the halted validator moved from height %d to %d", stopped, h)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatalf("status of the halted validator: %v", err)
	}
	if st.Height != stopped || !strings.Contains(st.Halted, "storage fault") {
		t.Fatalf("status of the halted validator: height %d (stopped at %d), halted %q", st.Height, stopped, st.Halted)
	}
	if _, err := c.SubmitTx(ctx, tn.transfer(0, v.pq.Address(), 1)); !errors.Is(err, node.ErrHalted) {
		t.Fatalf("transaction submitted to the halted validator: %v, want node.ErrHalted", err)
	}
	for i := range 3 {
		if _, err := tn.nodes[i].app.Certificate(stopped + 2); err != nil {
			t.Fatalf("validator %d has no certificate of height %d: %v", i, stopped+2, err)
		}
	}
	srv.Stop()
	// Closing a store after a failed commit reports the fault again: that is the stop's answer.
	if err := tn.stop(3); err != nil && !errors.Is(err, storefault.ErrInjected) {
		t.Fatalf("stopping the halted validator: %v", err)
	}
}
