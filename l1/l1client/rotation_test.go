package l1client_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// startKeyedNode runs a one-node chain signed by k on a real pebble store, served on loopback.
func startKeyedNode(t *testing.T, k *pqkey.PrivateKey) (*node.Node, string) {
	t.Helper()
	n, err := node.New(node.Config{Dir: t.TempDir(), Key: k, Genesis: chain.Genesis{ChainID: chainID,
		Validator: k.Public().Bytes(), Alloc: []chain.Alloc{{Address: alice.Address(), Balance: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Serve(context.Background(), quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		n.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if err := n.Stop(); err != nil {
			t.Errorf("node stop: %v", err)
		}
	})
	return n, srv.Addr().String()
}

// setOf pins the keys with a stake of 1 each.
func setOf(t *testing.T, keys ...*pqkey.PrivateKey) *qc.ValidatorSet {
	t.Helper()
	var vals []qc.Validator
	for _, k := range keys {
		vals = append(vals, qc.Validator{Key: k.Public(), Power: 1})
	}
	set, err := qc.NewValidatorSet(vals)
	if err != nil {
		t.Fatal(err)
	}
	return set
}

// TestRotationPastDeadAndStalled: of three endpoints the first is dead and the second a node
// whose head never advances; the client ends on the third, whose head does, and a
// transaction submitted there is acknowledged with its hash.
func TestRotationPastDeadAndStalled(t *testing.T) {
	stalledKey, liveKey := key(40), key(41)
	_, stalled := startKeyedNode(t, stalledKey)
	live, liveAddr := startKeyedNode(t, liveKey)
	ctx := ctxT(t)

	// The live node makes a block every 20 ms until the test ends (at most 1000).
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range 1000 {
			if _, err := live.ProduceBlock(ctx); err != nil && ctx.Err() == nil {
				t.Errorf("producing: %v", err)
				return
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	defer wg.Wait()
	defer close(done)

	c, err := l1client.New(l1client.Config{Addrs: []string{deadAddr(t), stalled, liveAddr}, ChainID: chainID,
		Validators: setOf(t, stalledKey, liveKey), Key: key(9), StallTimeout: time.Second,
		MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	waitFor(ctx, t, "a connection to the live node", func() bool {
		return c.Connected() && c.Endpoint() == liveAddr
	})
	if c.Validator() != liveKey.Address() {
		t.Fatalf("connected to %s signed by %s, want the live node's key %s", c.Endpoint(), c.Validator(), liveKey.Address())
	}
	raw := transfer(t, 0, 1)
	h, err := c.SubmitTx(ctx, raw)
	if err != nil || h != crypto.Keccak256Hash(raw) {
		t.Fatalf("submitted: %s %v, want %s", h, err, crypto.Keccak256Hash(raw))
	}
	// It lands in one of the live node's blocks; the client stayed there.
	waitFor(ctx, t, "the transfer in a block", func() bool {
		a, err := c.Account(ctx, bob.Address())
		return err == nil && a.Balance == 1
	})
	if c.Endpoint() != liveAddr {
		t.Fatalf("ended on %s, want %s", c.Endpoint(), liveAddr)
	}
}

// droppingValidator is a FAULT-INJECTING fake validator: a real quicrpc server signing with a
// member's key whose l1_submitTx takes the transaction and never answers while the connection
// lives; drop then closes the server's connections under it (the handler is released only at
// the test's end, so no answer races the close).
func droppingValidator(t *testing.T, k *pqkey.PrivateKey) (addr string, got <-chan struct{}, drop func()) {
	t.Helper()
	srv, err := quicrpc.NewServer(quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: k, ChainID: chainID})
	if err != nil {
		t.Fatal(err)
	}
	received, release, stopped := make(chan struct{}, 1), make(chan struct{}), make(chan struct{})
	srv.Handle(node.MethodSubmitTx, func(context.Context, *quicrpc.Request) ([]byte, error) {
		received <- struct{}{}
		<-release
		return nil, errors.New("dropped")
	})
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	drop = func() {
		once.Do(func() {
			go func() { // Stop closes the connections at once, then waits for the handler
				srv.Stop()
				close(stopped)
			}()
		})
	}
	t.Cleanup(func() {
		drop()
		close(release)
		<-stopped
	})
	return srv.Addr().String(), received, drop
}

// TestSubmitFailsOver: a submission whose connection fails under it is sent again to the next
// endpoint, which acknowledges it with its hash; sent again after that, the node answers that
// it knows it.
func TestSubmitFailsOver(t *testing.T) {
	dropKey, liveKey := key(42), key(43)
	dropAddr, received, stop := droppingValidator(t, dropKey)
	_, liveAddr := startKeyedNode(t, liveKey)
	ctx := ctxT(t)
	c, err := l1client.Dial(ctx, l1client.Config{Addrs: []string{dropAddr, liveAddr}, ChainID: chainID,
		Validators: setOf(t, dropKey, liveKey), Key: key(9), StallTimeout: -1, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Validator() != dropKey.Address() {
		t.Fatalf("first connection signed by %s, want %s", c.Validator(), dropKey.Address())
	}
	go func() {
		select {
		case <-received:
			stop()
		case <-ctx.Done():
		}
	}()
	raw := transfer(t, 0, 1)
	want := crypto.Keccak256Hash(raw)
	h, err := c.SubmitTx(ctx, raw)
	if err != nil || h != want {
		t.Fatalf("submitted: %s %v, want %s", h, err, want)
	}
	if c.Endpoint() != liveAddr || c.Validator() != liveKey.Address() {
		t.Fatalf("acknowledged by %s (%s), want %s", c.Endpoint(), c.Validator(), liveAddr)
	}
	if h, err := c.SubmitTx(ctx, raw); !errors.Is(err, node.ErrKnownTx) || h != want {
		t.Fatalf("resubmitted: %s %v, want %s and ErrKnownTx", h, err, want)
	}
}
