package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/valset"
)

// TestValidatorCommands: against 4 pql1node processes running a CometBFT validator set (epochs
// of 8 blocks), a wallet key joins the set with pql1node's consensus key file, shows as a pending
// join in "validator status", is in the set with its stake after the boundary, adds stake,
// leaves (pending "leaves"), and a second join is refused with the chain's reason.
func TestValidatorCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin, data := proctest.Build(t, "pql1node", "pqwallet"), t.TempDir() // no sequencer: no native core to link
	w := newWallet(t, ctx, bin, data)
	alice := w.key("key", "new", "--l1", "alice")
	addrs, valsPath := startWalletValidatorSet(t, filepath.Join(bin, "pql1node"), data, alice.Address)
	proctest.WriteFile(t, w.home, configFileName, fmt.Sprintf(`{"l1": %q, "l1-chain-id": %d, "l1-validators": %q, "timeout": "30s"}`,
		strings.Join(addrs, ","), walletSetChainID, valsPath))

	var seed [pqkey.SeedSize]byte
	seed[0], seed[1] = 0xc0, 0x5e
	ckFile := proctest.SeedFile(t, data, "alice.consensus", pqkey.NewKeyFromSeed(seed))
	ck, _ := valset.ConsensusKeys(seed)
	var res l1Result
	w.json(&res, "validator", "join", "--stake", "100", "--consensus-key", ckFile, "--wait")
	if res.Height == 0 || res.Details["consensusKey"] != hex.EncodeToString(ck.Public().(ed25519.PublicKey)) {
		t.Fatalf("join: %+v", res)
	}
	st := w.waitValidator(alice.Address, "the join proven", func(s validatorStatus) bool { return len(s.Validators) == 1 })
	if v := st.Validators[0]; v.Next != 100 || v.Stake != 0 || v.Pending != "joins with 100" ||
		st.EpochLength != 8 || st.NextBoundary%8 != 0 || st.ChangesFrom != st.NextBoundary+2 {
		t.Fatalf("status after the join: %+v", st)
	}
	w.waitValidator(alice.Address, "alice in the set with stake 100", func(s validatorStatus) bool { return s.Validators[0].Stake == 100 })
	var all validatorStatus
	proctest.WaitFor(t, "the new set in force (the wallet follows the set change)", 60*time.Second, func() bool {
		all = validatorStatus{}
		return w.tryJSON(&all, "validator", "status") == nil && all.SetFrom > 1
	})
	if len(all.Validators) != 5 || all.SetFrom%8 != 2 || all.Height+1 < all.SetFrom {
		t.Fatalf("status of the set after the boundary: %+v", all)
	}

	w.json(&res, "validator", "stake", "--add", "10", "--wait")
	st = w.waitValidator(alice.Address, "the added stake proven", func(s validatorStatus) bool { return s.Validators[0].Next == 110 })
	if v := st.Validators[0]; v.Bonded != 110 || v.Stake != 100 || v.Pending != "stake 100 -> 110" {
		t.Fatalf("status after adding stake: %+v", st)
	}
	w.json(&res, "validator", "leave", "--wait")
	st = w.waitValidator(alice.Address, "the leave proven", func(s validatorStatus) bool { return s.Validators[0].Next == 0 })
	if v := st.Validators[0]; v.Pending != "leaves" || v.Bonded != 110 {
		t.Fatalf("status after leave: %+v", st)
	}
	w.fails("sender is already a validator", "validator", "join", "--stake", "100", "--consensus-key", ckFile, "--wait")
	w.fails("[add withdraw] is required", "validator", "stake")
	w.fails("an Ed25519 public key has 32", "validator", "join", "--stake", "10", "--consensus-key", "abcd")
}

// waitValidator polls "validator status ADDRESS" until ok holds (the proven reads trail the
// head by two blocks) and returns that status.
func (w *wallet) waitValidator(addr, what string, ok func(validatorStatus) bool) validatorStatus {
	w.t.Helper()
	var st validatorStatus
	proctest.WaitFor(w.t, what, 60*time.Second, func() bool {
		st = validatorStatus{}
		return w.tryJSON(&st, "validator", "status", addr) == nil && len(st.Validators) == 1 && ok(st)
	})
	return st
}

const walletSetChainID = 43

// startWalletValidatorSet starts 4 pql1node validators of a CometBFT set (stake 100 each,
// epochs of 8 blocks, funded funds the dev allocation) and returns their QUIC addresses and the
// validator-set JSON.
func startWalletValidatorSet(t *testing.T, bin, dir, funded string) ([]string, string) {
	t.Helper()
	const n = 4
	vf := valset.File{EpochLength: 8, MinStake: 10}
	var p2p, ids []string
	var args [][]string
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p2p = append(p2p, l.Addr().String())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		key := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x7a, byte(i)})
		cseed := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x7c, byte(i)})
		ck, nk := valset.ConsensusKeys(cseed.Seed())
		ids = append(ids, nodeID(nk))
		vf.Validators = append(vf.Validators, valset.Entry{PQKey: key.Public().Bytes(), ConsensusKey: []byte(ck.Public().(ed25519.PublicKey)), Stake: 100})
		args = append(args, []string{"-datadir", filepath.Join(dir, fmt.Sprint("v", i)), "-listen", "127.0.0.1:0",
			"-chain-id", fmt.Sprint(walletSetChainID), "-validator-key-file", proctest.SeedFile(t, dir, fmt.Sprint("v", i, ".key"), key),
			"-dev", funded, "-consensus", "cometbft", "-consensus-key-file", proctest.SeedFile(t, dir, fmt.Sprint("v", i, ".consensus"), cseed),
			"-p2p-listen", "tcp://" + p2p[i], "-timeout-commit", "150ms"})
	}
	b, err := json.Marshal(&vf)
	if err != nil {
		t.Fatal(err)
	}
	valsPath := proctest.WriteFile(t, dir, "validators.json", string(b))
	var addrs []string
	for i := range n {
		var peers []string
		for j := range n {
			if j != i {
				peers = append(peers, ids[j]+"@"+p2p[j])
			}
		}
		d := proctest.Start(t, bin, nil, append(args[i], "-validators", valsPath, "-peers", strings.Join(peers, ","))...)
		addrs = append(addrs, d.Addr(t))
	}
	return addrs, valsPath
}

// nodeID is CometBFT's ID of a p2p key: the hex of the first 20 bytes of sha256 of its public key.
func nodeID(k ed25519.PrivateKey) string {
	h := sha256.Sum256(k.Public().(ed25519.PublicKey))
	return hex.EncodeToString(h[:20])
}
