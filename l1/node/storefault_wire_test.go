package node_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// TestStorageFaultsNodeOverQUIC: a client over loopback QUIC gets a halted node's refusal as
// node.ErrHalted with the cause in its text, and the reason in l1_status.
func TestStorageFaultsNodeOverQUIC(t *testing.T) {
	const chainID = 4343
	val := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5b})
	user := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5b, 1: 1})
	fs := storefault.New(nil)
	n, err := node.New(node.Config{Dir: t.TempDir(), FS: fs, Key: val, Genesis: chain.Genesis{ChainID: chainID,
		Validator: val.Public().Bytes(), Alloc: []chain.Alloc{{Address: user.Address(), Balance: 100}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Logf("stop after the fault: %v", err)
		}
	})
	ctx := context.Background()
	srv, err := n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	c, err := l1client.Dial(ctx, l1client.Config{Addr: srv.Addr().String(), ChainID: chainID, Validator: val.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	transfer := func(nonce uint64) []byte {
		raw, err := chain.SignTx(user, chain.TxTransfer, chainID, nonce, &chain.Transfer{To: val.Address(), Amount: 1})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	if _, err := c.SubmitTx(ctx, transfer(0)); err != nil {
		t.Fatal(err)
	}
	fs.Set(storefault.Full)
	if _, err := c.SubmitTx(ctx, transfer(1)); !errors.Is(err, node.ErrHalted) || !strings.Contains(err.Error(), "no space left on device") {
		t.Fatalf("submit under a full disk: %v; want node.ErrHalted naming the cause", err)
	}
	fs.Set(storefault.None)
	if _, err := c.SubmitTx(ctx, transfer(2)); !errors.Is(err, node.ErrHalted) {
		t.Fatalf("submit while halted: %v", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Halted, "storage fault") || st.MempoolTxs != 1 {
		t.Fatalf("status of the halted node: %+v", st)
	}
}
