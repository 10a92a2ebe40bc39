package l1client_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

const chainID = 4243

func key(i byte) *pqkey.PrivateKey { return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x6b, 1: i}) }

var (
	validator = key(0)
	alice     = key(1)
	bob       = key(2)
)

// startNode runs a node on a real pebble store in dir and serves its API on loopback. Blocks are
// produced by the test (ProduceBlock), so no test waits on a clock.
func startNode(t testing.TB, dir string) (*node.Node, string) {
	t.Helper()
	n, err := node.New(node.Config{Dir: dir, Key: validator, Genesis: chain.Genesis{ChainID: chainID,
		Validator: validator.Public().Bytes(), Alloc: []chain.Alloc{{Address: alice.Address(), Balance: 1000}}}})
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
		n.Stop()
	})
	return n, srv.Addr().String()
}

func dial(t *testing.T, addr string) *l1client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: chainID, Validator: validator.Public(), Key: key(9)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func transfer(t *testing.T, nonce, amount uint64) []byte {
	t.Helper()
	raw, err := chain.SignTx(alice, chain.TxTransfer, chainID, nonce, &chain.Transfer{To: bob.Address(), Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func TestSubmitBlockQueries(t *testing.T) {
	n, addr := startNode(t, t.TempDir())
	c := dial(t, addr)
	ctx := ctxT(t)

	raw := transfer(t, 0, 10)
	h, err := c.SubmitTx(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := c.SubmitTx(ctx, raw); !errors.Is(err, node.ErrKnownTx) || again != h {
		t.Fatalf("resubmission: %s %v, want %s and ErrKnownTx", again, err, h)
	}
	if s, err := c.Status(ctx); err != nil || s.MempoolTxs != 1 || s.Height != 0 || s.ChainID != chainID {
		t.Fatalf("status %+v %v", s, err)
	}
	if _, err := n.ProduceBlock(ctx); err != nil {
		t.Fatal(err)
	}

	s, err := c.Status(ctx)
	if err != nil || s.Height != 1 || s.MempoolTxs != 0 {
		t.Fatalf("status %+v %v", s, err)
	}
	b, err := c.Block(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if b.Header.Hash() != s.BlockHash || b.Header.StateRoot != s.StateRoot || len(b.Txs) != 1 {
		t.Fatalf("block %+v, status %+v", b.Header, s)
	}
	rs, err := c.Receipts(ctx, 1)
	if err != nil || len(rs) != 1 || rs[0].TxHash != h || !rs[0].OK {
		t.Fatalf("receipts %+v %v", rs, err)
	}
	if a, err := c.Account(ctx, bob.Address()); err != nil || a.Balance != 10 {
		t.Fatalf("bob %+v %v", a, err)
	}
	if a, err := c.Account(ctx, alice.Address()); err != nil || a.Balance != 990 || a.Nonce != 1 {
		t.Fatalf("alice %+v %v", a, err)
	}

	// Queries of things that do not exist name chain.ErrNotFound.
	notFound := map[string]func() error{
		"rollup":      func() error { _, err := c.Rollup(ctx, 1); return err },
		"batch":       func() error { _, err := c.Batch(ctx, 1, 1); return err },
		"batch data":  func() error { _, err := c.BatchData(ctx, 1, 1); return err },
		"batch trace": func() error { _, err := c.BatchTrace(ctx, 1, 1); return err },
		"deposit":     func() error { _, err := c.Deposit(ctx, 1, 0); return err },
		"exited":      func() error { _, err := c.Exited(ctx, 1, 0); return err },
		"refunded":    func() error { _, err := c.Refunded(ctx, 1, 0); return err },
		"block":       func() error { _, err := c.Block(ctx, 7); return err },
		"receipts":    func() error { _, err := c.Receipts(ctx, 7); return err },
	}
	for name, q := range notFound {
		t.Run(name, func(t *testing.T) {
			err := q()
			var re *l1client.RemoteError
			if !errors.Is(err, chain.ErrNotFound) || !errors.Is(err, quicrpc.ErrRemote) || !errors.As(err, &re) || re.Code != "not_found" {
				t.Fatalf("got %v, want a remote chain.ErrNotFound", err)
			}
		})
	}
}

func TestRollupQueries(t *testing.T) {
	n, addr := startNode(t, t.TempDir())
	c := dial(t, addr)
	ctx := ctxT(t)
	cfg := chain.RollupConfig{L2ChainID: 77, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10,
		ExodusTimeout: 100, Sequencers: []common.Address{alice.Address()}}
	raw, err := chain.SignTx(alice, chain.TxRegisterRollup, chainID, 0, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.SubmitTx(ctx, raw); err != nil {
		t.Fatal(err)
	}
	r, err := n.ProduceBlock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Receipts[0].OK {
		t.Fatalf("register: %s", r.Receipts[0].Error)
	}
	got, err := c.Rollup(ctx, 1)
	if err != nil || got.ID != 1 || got.Config.L2ChainID != 77 {
		t.Fatalf("rollup %+v %v", got, err)
	}
	if s, err := c.Status(ctx); err != nil || s.RollupCount != 1 {
		t.Fatalf("status %+v %v", s, err)
	}
	if exited, err := c.Exited(ctx, 1, 3); err != nil || exited {
		t.Fatalf("account 3 of an open rollup: exited %v, %v", exited, err)
	}
	if _, err := c.Refunded(ctx, 1, 0); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("refund of deposit 0 of an empty queue: %v, want chain.ErrNotFound", err)
	}
}

func TestEventsResumeAfterReconnect(t *testing.T) {
	n, addr := startNode(t, t.TempDir())
	ctx := ctxT(t)
	c := dial(t, addr)
	for nonce := range uint64(3) {
		if _, err := c.SubmitTx(ctx, transfer(t, nonce, 1)); err != nil {
			t.Fatal(err)
		}
		if _, err := n.ProduceBlock(ctx); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := c.Events(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	for h := uint64(1); h <= 2; h++ {
		ev, err := sub.Next()
		if err != nil || ev.Kind != chain.EventBlock || ev.Height != h {
			t.Fatalf("event %+v %v, want the block event of %d", ev, err, h)
		}
	}
	// The connection goes away after block 2's event; a new one resumes from height 3.
	c.Close()
	c = dial(t, addr)
	sub, err = c.Events(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	if ev, err := sub.Next(); err != nil || ev.Height != 3 || ev.Kind != chain.EventBlock {
		t.Fatalf("stored event %+v %v", ev, err)
	}
	// Then the live ones, as blocks commit.
	for h := uint64(4); h <= 5; h++ {
		if _, err := n.ProduceBlock(ctx); err != nil {
			t.Fatal(err)
		}
		if ev, err := sub.Next(); err != nil || ev.Height != h || ev.Kind != chain.EventBlock {
			t.Fatalf("live event %+v %v, want block %d", ev, err, h)
		}
	}
}

func TestBadPayloads(t *testing.T) {
	_, addr := startNode(t, t.TempDir())
	c := dial(t, addr)
	ctx := ctxT(t)
	otherChain, err := chain.SignTx(alice, chain.TxTransfer, chainID+1, 0, &chain.Transfer{To: bob.Address(), Amount: 1})
	if err != nil {
		t.Fatal(err)
	}
	tampered := transfer(t, 0, 1)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		call func() error
		want error
	}{
		{"garbage tx", func() error { _, err := c.SubmitTx(ctx, []byte("garbage")); return err }, chain.ErrTxMalformed},
		{"oversized tx", func() error { _, err := c.SubmitTx(ctx, make([]byte, chain.MaxTxSize+1)); return err }, chain.ErrTxTooLarge},
		{"tx of another chain", func() error { _, err := c.SubmitTx(ctx, otherChain); return err }, chain.ErrWrongChain},
		{"tampered tx", func() error { _, err := c.SubmitTx(ctx, tampered); return err }, chain.ErrBadSignature},
		{"garbage query", func() error { return rawCall(ctx, c, node.MethodAccount, []byte{0xff, 0x01}) }, node.ErrBadRequest},
		{"oversized query", func() error { return rawCall(ctx, c, node.MethodBlock, make([]byte, node.MaxQuerySize+1)) }, node.ErrBadRequest},
		{"status with argument", func() error { return rawCall(ctx, c, node.MethodStatus, []byte{0x01}) }, node.ErrBadRequest},
		{"garbage subscription", func() error {
			return rawSubscribe(ctx, c, []byte{0xc1})
		}, node.ErrBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.call(); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// The node keeps serving the same connection: its refusals are no reason to redial.
	if _, err := c.SubmitTx(ctx, transfer(t, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if !c.Connected() || c.Reconnects() != 0 {
		t.Fatalf("after the node's refusals: connected %v, %d reconnects", c.Connected(), c.Reconnects())
	}
	if s, err := c.Status(ctx); err != nil || s.MempoolTxs != 1 {
		t.Fatalf("status %+v %v", s, err)
	}
}

// rawCall and rawSubscribe send payloads the typed methods never would.
func rawCall(ctx context.Context, c *l1client.Client, method string, payload []byte) error {
	return l1client.CallRaw(ctx, c, method, payload)
}

func rawSubscribe(ctx context.Context, c *l1client.Client, payload []byte) error {
	sub, err := l1client.SubscribeRaw(ctx, c, payload)
	if err != nil {
		return err
	}
	defer sub.Close()
	_, err = sub.Next()
	return err
}
