package node_test

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/vfs"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// TestProveStateAtHeight: over loopback QUIC, l1_proveState at a height answers that height's
// balances (and an absent account's absence) with proofs that verify against the height's
// state root; blocks committed later do not change that answer; height 0 is the head on a
// single-validator node (no certificate); a height released from the last
// node.ProvenHeights is not_found; a key outside the state is a bad request.
func TestProveStateAtHeight(t *testing.T) {
	const chainID = 4344
	val := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5c})
	alice := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x5c, 1: 1})
	bob := common.Address{0xb0}
	n, err := node.New(node.Config{FS: vfs.NewMem(), Key: val, Genesis: chain.Genesis{ChainID: chainID,
		Validator: val.Public().Bytes(), Alloc: []chain.Alloc{{Address: alice.Address(), Balance: 1000}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Stop(); err != nil {
			t.Error(err)
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
	send := func(nonce, amount uint64) {
		t.Helper()
		raw, err := chain.SignTx(alice, chain.TxTransfer, chainID, nonce, &chain.Transfer{To: bob, Amount: amount})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.SubmitTx(raw); err != nil {
			t.Fatal(err)
		}
		if r, err := n.ProduceBlock(ctx); err != nil || r.Errs[0] != nil {
			t.Fatalf("block: %v %v", err, r)
		}
	}
	keys := [][]byte{stateproof.AccountKey(alice.Address()), stateproof.AccountKey(bob), stateproof.AccountKey(common.Address{0xee})}
	// check asks for keys at height and checks the balances (0: absent) and the proofs against
	// the state root of that height's header.
	check := func(height uint64, want ...uint64) *stateproof.Reply {
		t.Helper()
		r, err := c.ProveState(ctx, height, keys)
		if err != nil {
			t.Fatal(err)
		}
		b, err := n.Block(r.Height)
		if err != nil {
			t.Fatal(err)
		}
		if (height != 0 && r.Height != height) || r.AppHash != b.Header.StateRoot || len(r.Cert) != 0 {
			t.Fatalf("reply at height %d (asked %d), app hash %s, header %s, %d certificate bytes", r.Height, height, r.AppHash, b.Header.StateRoot, len(r.Cert))
		}
		if err := r.VerifyEntries(keys); err != nil {
			t.Fatal(err)
		}
		for i, e := range r.Entries {
			var acct chain.Account
			if e.Present {
				if err := rlp.DecodeBytes(e.Value, &acct); err != nil {
					t.Fatal(err)
				}
			}
			if acct.Balance != want[i] || e.Present != (want[i] != 0) {
				t.Fatalf("height %d key %d: present %v balance %d, want %d", r.Height, i, e.Present, acct.Balance, want[i])
			}
		}
		return r
	}
	send(0, 10)
	h, _, _, _ := n.Chain().Head()
	first := check(h, 990, 10, 0)
	send(1, 20)
	again := check(h, 990, 10, 0)
	if again.AppHash != first.AppHash {
		t.Fatal("a later block changed the answer at an earlier height")
	}
	if head := check(0, 970, 30, 0); head.Height != h+1 {
		t.Fatalf("height 0 answered %d, head %d", head.Height, h+1)
	}
	// A value tampered in transit fails verification.
	again.Entries[0].Value[len(again.Entries[0].Value)-1] ^= 1
	if err := again.VerifyEntries(keys); !errors.Is(err, stateproof.ErrMismatch) {
		t.Fatalf("tampered value: %v", err)
	}
	for i := range node.ProvenHeights {
		send(uint64(2+i), 1)
	}
	if _, err := c.ProveState(ctx, h, keys); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("height %d after %d more blocks: %v, want not_found", h, node.ProvenHeights, err)
	}
	if _, err := c.ProveState(ctx, 0, [][]byte{[]byte("m/head")}); !errors.Is(err, node.ErrBadRequest) {
		t.Fatalf("a history key: %v, want bad_request", err)
	}
}
