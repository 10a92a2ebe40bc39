package abci

import (
	"context"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// TestClientOverValidatorSet: an l1client pinning the set of 4 in-process validators, given
// all their QUIC endpoints, submits to the one it is connected to, reads balances through the
// proven reads and the certified head; when that validator stops, it moves to another member
// and goes on: a second transfer lands and is read proven.
func TestClientOverValidatorSet(t *testing.T) {
	tn := newTestNet(t, 4)
	set, _, err := validatorSet(tn.vals)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var addrs []string
	servers := make([]*quicrpc.Server, len(tn.nodes))
	for i, v := range tn.nodes {
		srv, err := v.n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: v.pq})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Stop) // registered after the net's cleanup: runs before the nodes stop
		servers[i] = srv
		addrs = append(addrs, srv.Addr().String())
	}
	c, err := l1client.Dial(ctx, l1client.Config{Addrs: addrs, ChainID: testChainID, Validators: set,
		StallTimeout: 5 * time.Second, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	to := common.HexToAddress("0x5353")
	provenBalance := func(want uint64) {
		t.Helper()
		for {
			acct, err := c.Verified().Account(ctx, to)
			if err == nil && acct.Balance == want {
				return
			}
			if ctx.Err() != nil {
				t.Fatalf("proven balance of %s: %+v %v, want %d", to, acct, err, want)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	submit := func(nonce, amount uint64) {
		t.Helper()
		raw := tn.transfer(nonce, to, amount)
		if h, err := c.SubmitTx(ctx, raw); err != nil || h != crypto.Keccak256Hash(raw) {
			t.Fatalf("submit: %s %v", h, err)
		}
	}

	submit(0, 700)
	provenBalance(700)
	h, root, err := c.CertifiedHead(ctx)
	if err != nil || h == 0 || root == (common.Hash{}) {
		t.Fatalf("certified head %d %s: %v", h, root, err)
	}

	first := c.Validator()
	var i int
	for i = range tn.nodes {
		if tn.nodes[i].pq.Address() == first {
			break
		}
	}
	if tn.nodes[i].pq.Address() != first {
		t.Fatalf("connected to %s, not a member", first)
	}
	servers[i].Stop()
	if err := tn.stop(i); err != nil {
		t.Fatal(err)
	}
	for !c.Connected() || c.Validator() == first {
		if ctx.Err() != nil {
			t.Fatalf("still on %s after it stopped: %v", first, c.Err())
		}
		time.Sleep(20 * time.Millisecond)
	}
	submit(1, 300)
	provenBalance(1000)
	if h2, _, err := c.CertifiedHead(ctx); err != nil || h2 <= h {
		t.Fatalf("certified head after the stop %d (before %d): %v", h2, h, err)
	}
}
