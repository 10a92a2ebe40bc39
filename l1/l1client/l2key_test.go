package l1client_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l2"
)

// TestL2Key: l1_l2Key over QUIC gives the ML-DSA key a deposit registered under its hash, and
// not_found for a hash no deposit registered.
func TestL2Key(t *testing.T) {
	n, addr := startNode(t, t.TempDir())
	c := dial(t, addr)
	ctx := ctxT(t)
	cfg := chain.RollupConfig{L2ChainID: 77, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10,
		ExodusTimeout: 100, Sequencers: []common.Address{alice.Address()}}
	pub := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0x17}).Public().Bytes()
	for nonce, p := range []struct {
		typ     chain.TxType
		payload any
	}{{chain.TxRegisterRollup, &cfg}, {chain.TxDeposit, &chain.Deposit{RollupID: 1, Amount: 10, MLDSAKey: pub}}} {
		raw, err := chain.SignTx(alice, p.typ, chainID, uint64(nonce), p.payload)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.SubmitTx(ctx, raw); err != nil {
			t.Fatal(err)
		}
		r, err := n.ProduceBlock(ctx)
		if err != nil || !r.Receipts[0].OK {
			t.Fatalf("%s: %+v %v", p.typ, r.Receipts, err)
		}
	}
	kh := l2.MLDSAKeyHash(pub)
	got, err := c.L2Key(ctx, 1, kh.Bytes())
	if err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("L2Key: %d bytes, %v", len(got), err)
	}
	other := l2.MLDSAKeyHash(pub[1:])
	if _, err := c.L2Key(ctx, 1, other.Bytes()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("L2Key of an unregistered hash: %v, want chain.ErrNotFound", err)
	}
	if _, err := c.L2Key(ctx, 2, kh.Bytes()); !errors.Is(err, chain.ErrNotFound) {
		t.Fatalf("L2Key of another rollup: %v, want chain.ErrNotFound", err)
	}
}
