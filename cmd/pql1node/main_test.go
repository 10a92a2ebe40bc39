package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/prover"
)

func TestLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "key")
	if _, err := loadKey(path, false); err == nil || !strings.Contains(err.Error(), "-init") {
		t.Fatalf("missing key without -init: %v", err)
	}
	k, err := loadKey(path, true)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v %v, want 0600", fi.Mode(), err)
	}
	again, err := loadKey(path, true) // -init never overwrites
	if err != nil || again.Address() != k.Address() {
		t.Fatalf("reloaded %v %v, want %v", again.Address(), err, k.Address())
	}
}

func TestGenesisFile(t *testing.T) {
	k, err := loadKey(filepath.Join(t.TempDir(), "key"), true)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	json := `{"timestamp": 5, "alloc": [{"address": "0x0000000000000000000000000000000000000001", "balance": 7}],
		"rollups": [{"l2ChainId": 9, "treeDepth": 8, "batchSize": 4, "challengeWindow": 2, "exodusTimeout": 100}]}`
	if err := os.WriteFile(path, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	g, rollups, err := genesis(config{chainID: 3, genesisFile: path}, k)
	if err != nil {
		t.Fatal(err)
	}
	if g.ChainID != 3 || g.Timestamp != 5 || len(g.Alloc) != 1 || g.Alloc[0].Balance != 7 || len(rollups) != 1 || rollups[0].L2ChainID != 9 {
		t.Fatalf("genesis %+v rollups %+v", g, rollups)
	}
	if _, _, err := genesis(config{genesisFile: path, dev: "0x0000000000000000000000000000000000000001"}, k); err == nil {
		t.Fatal("-genesis with -dev accepted")
	}
	if _, _, err := genesis(config{dev: "nope"}, k); err == nil {
		t.Fatal("-dev with a bad address accepted")
	}
}

func TestVerifierWithoutKeysRejects(t *testing.T) {
	v, err := loadVerifier("", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([32]byte{1}, fr.Element{}, nil); !errors.Is(err, prover.ErrUnknownKey) {
		t.Fatalf("got %v, want prover.ErrUnknownKey", err)
	}
	if _, err := loadVerifier(filepath.Join(t.TempDir(), "missing"), slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing verifying-key file was accepted")
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadVerifier(bad, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a garbage verifying key was accepted")
	}
}

func TestRegisterGenesisRollupsOnce(t *testing.T) {
	k, err := loadKey(filepath.Join(t.TempDir(), "key"), true)
	if err != nil {
		t.Fatal(err)
	}
	g := chain.Genesis{ChainID: 3, Validator: k.Public().Bytes()}
	rollups := []chain.RollupConfig{{L2ChainID: 9, TreeDepth: 8, BatchSize: 4, ChallengeWindow: 2, ForcedInclusionWindow: 10, ExodusTimeout: 100,
		Sequencers: []common.Address{k.Address()}}}
	n, err := node.New(node.Config{Dir: t.TempDir(), Genesis: g, Key: k})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	for range 2 { // the second call (a restart before block 1) adds nothing
		if err := registerRollups(n, k, rollups); err != nil {
			t.Fatal(err)
		}
	}
	r, err := n.ProduceBlock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Receipts) != 1 || !r.Receipts[0].OK {
		t.Fatalf("receipts %+v", r.Receipts)
	}
	if got, err := n.Rollup(1); err != nil || got.Config.L2ChainID != 9 {
		t.Fatalf("rollup %+v %v", got, err)
	}
}
