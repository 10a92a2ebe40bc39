package main

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"

	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// TestConnectProverRotatedKey: the start check accepts a pool whose provers hold the rollup's
// verifying key in force as their second key set (loaded for a rotation), and the pool reports
// which provers hold a pending key; a prover lacking the key in force is refused.
func TestConnectProverRotatedKey(t *testing.T) {
	_, id1, k1 := proverKeys(t)
	// The second key set: k1's verifying key with α negated, another valid key with another ID
	// (no second setup: these provers never prove, only announce their keys).
	vkBytes, err := prover.VerifyingKeyBytes(k1.VK)
	if err != nil {
		t.Fatal(err)
	}
	vk, err := prover.ParseVerifyingKey(vkBytes)
	if err != nil {
		t.Fatal(err)
	}
	bnVK := vk.(*groth16bn254.VerifyingKey)
	bnVK.G1.Alpha.Neg(&bnVK.G1.Alpha)
	if err := bnVK.Precompute(); err != nil {
		t.Fatal(err)
	}
	k2 := &prover.Keys{Params: k1.Params, CS: k1.CS, PK: k1.PK, VK: vk}
	id2, err := prover.VerifyingKeyID(vk)
	if err != nil || id2 == id1 {
		t.Fatalf("second key ID %v (the first %v): %v", id2, id1, err)
	}
	both, err := proverapi.NewServer(proverapi.ServerConfig{Keys: k1, MoreKeys: []*prover.Keys{k2}, Prover: noProver{}, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	old, err := proverapi.NewServer(proverapi.ServerConfig{Keys: k1, Prover: noProver{}, MaxInFlight: 1})
	if err != nil {
		t.Fatal(err)
	}
	tsBoth, tsOld := httptest.NewServer(both.Handler()), httptest.NewServer(old.Handler())
	defer tsBoth.Close()
	defer tsOld.Close()
	vp := validityParams()
	ctx, log := context.Background(), slog.New(slog.DiscardHandler)

	// The rotation has activated: the rollup's key is id2, the prover's second set.
	rotated := chain.RollupConfig{TreeDepth: uint8(vp.Depth), BatchSize: uint64(vp.BatchSize), VKHash: id2}
	pool, err := connectProvers(ctx, &proverFlags{urls: tsBoth.URL}, &rotated, vp.BatchSize, log)
	if err != nil {
		t.Fatalf("a prover holding the key in force as its second set: %v", err)
	}
	if !pool.HasVK(id2) || !pool.HasVK(id1) {
		t.Fatal("pool does not report both keys")
	}
	pool.Close()
	if _, err := connectProvers(ctx, &proverFlags{urls: tsOld.URL}, &rotated, vp.BatchSize, log); err == nil {
		t.Fatal("a prover without the key in force accepted")
	}

	// A change to id2 is pending: both provers hold id1, only one id2.
	pending := rotated
	pending.VKHash = id1
	pool, err = connectProvers(ctx, &proverFlags{urls: tsBoth.URL + "," + tsOld.URL}, &pending, vp.BatchSize, log)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if h := pool.HoldersOf(id2); !slices.Equal(h, []string{tsBoth.URL}) {
		t.Fatalf("holders of the pending key %v, want [%s]", h, tsBoth.URL)
	}
}
