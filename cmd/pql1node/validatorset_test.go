package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/abci"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/l1/valset"
)

const setChainID = 41

// setValidator is one pql1node process of a CometBFT validator set.
type setValidator struct {
	key  *pqkey.PrivateKey
	args []string
	p    *proctest.Daemon
	c    *l1client.Client
}

// TestValidatorSetSIGKILL (part of issue 15's TestValidatorSet gate): 4 pql1node processes with
// -consensus cometbft on loopback. One killed with SIGKILL → the other three go on committing
// and a transfer sent to one of them lands on all three; restarted on its datadir, the killed
// one catches up; another SIGKILLed and restarted on an empty L1 store gets every block replayed
// into it; all four hold identical blocks (headers, so state roots), and each serves
// over QUIC a certificate of every height that verifies against the pinned set. Batches
// finalizing with one killed, and two killed, are TestValidatorSetSettle's.
func TestValidatorSetSIGKILL(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(setBins(t), "pql1node")
	user := testKey(200)
	set := startValidatorSet(t, bin, dir, 4, "-dev", user.Address().Hex())
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	waitSetHeight(ctx, t, set, 3)

	if err := set[3].p.Kill(); err != nil {
		t.Fatal(err)
	}
	set[3].c.Close()
	set[3].c = nil
	h := waitSetHeight(ctx, t, set, 0) + 3
	raw, err := chain.SignTx(user, chain.TxTransfer, setChainID, 0, &chain.Transfer{To: testKey(201).Address(), Amount: 77})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := set[1].c.SubmitTx(ctx, raw); err != nil {
		t.Fatal(err)
	}
	proctest.WaitFor(t, "the transfer on the three validators left", 60*time.Second, func() bool {
		for _, v := range set[:3] {
			if a, err := v.c.Account(ctx, testKey(201).Address()); err != nil || a.Balance != 77 {
				return false
			}
		}
		return true
	})
	waitSetHeight(ctx, t, set, h)

	set[3].p = proctest.Start(t, bin, nil, set[3].args...)
	set[3].c = dialValidator(ctx, t, set[3])
	h = waitSetHeight(ctx, t, set, 0) + 2
	waitSetHeight(ctx, t, set, h)

	// Validator 2 SIGKILLed and restarted on an empty L1 store (CometBFT's data kept): CometBFT's
	// handshake replays every block into it.
	if err := set[2].p.Kill(); err != nil {
		t.Fatal(err)
	}
	set[2].c.Close()
	store := filepath.Join(dir, "v2", "chain")
	if _, err := os.Stat(store); err != nil {
		t.Fatalf("validator 2's L1 store: %v", err)
	}
	if err := os.RemoveAll(store); err != nil {
		t.Fatal(err)
	}
	set[2].p = proctest.Start(t, bin, nil, set[2].args...)
	set[2].c = dialValidator(ctx, t, set[2])
	h = waitSetHeight(ctx, t, set, 0) + 2
	waitSetHeight(ctx, t, set, h)
	for height := uint64(1); height <= h; height++ {
		var want common.Hash
		for i, v := range set {
			b, err := v.c.Block(ctx, height)
			if err != nil {
				t.Fatalf("validator %d, block %d: %v", i, height, err)
			}
			if i == 0 {
				want = b.Header.Hash()
			} else if b.Header.Hash() != want {
				t.Fatalf("validator %d holds block %d %s, validator 0 %s", i, height, b.Header.Hash(), want)
			}
		}
	}
	// A client pins the set's ML-DSA keys and checks each validator's certificates of the
	// heights the killed validator missed and caught up on, against the state roots it reads.
	var members []qc.Validator
	for _, v := range set {
		members = append(members, qc.Validator{Key: v.key.Public(), Power: 10})
	}
	pinned, err := qc.NewValidatorSet(members)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range set {
		for height := uint64(0); height <= h-2; height++ {
			c, err := v.c.Certificate(ctx, height)
			if err != nil {
				t.Fatalf("validator %d, certificate %d: %v", i, height, err)
			}
			b, err := v.c.Block(ctx, height)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Verify(pinned, setChainID, height, b.Header.StateRoot); err != nil {
				t.Fatalf("validator %d, certificate %d: %v", i, height, err)
			}
		}
		// l1_validators serves the genesis set (no epoch boundary changed it) for every height.
		for _, height := range []uint64{0, h - 2} {
			got, from, err := v.c.Validators(ctx, height)
			if err != nil || got.Hash() != pinned.Hash() || from != 1 {
				t.Fatalf("validator %d: set of height %d from %d (%v), want the pinned set from 1", i, height, from, err)
			}
		}
		if _, err := v.c.Certificate(ctx, h+1000); !errors.Is(err, chain.ErrNotFound) {
			t.Fatalf("validator %d: certificate of a future height: %v, want chain.ErrNotFound", i, err)
		}
	}
	for i, v := range set {
		v.c.Close()
		if err := v.p.Stop(); err != nil {
			t.Errorf("validator %d: %v", i, err)
		}
	}
}

// setBins builds the daemons of the TestValidatorSet tests, once per test binary.
func setBins(t *testing.T) string {
	t.Helper()
	return proctest.Build(t, "pql1node", "pqsequencer")
}

// startValidatorSet writes the set's keys and validators file and starts n validators, each with
// the genesis flags (-dev or -genesis).
func startValidatorSet(t *testing.T, bin, dir string, n int, genesis ...string) []*setValidator {
	t.Helper()
	var vf validatorsFile
	var set []*setValidator
	var p2p []string
	var ids []string
	for i := range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p2p = append(p2p, l.Addr().String())
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		key, cseed := testKey(byte(100+i)), testKey(byte(150+i))
		ck, nk := consensusKeys(cseed.Seed())
		ids = append(ids, abci.NodeID(nk))
		vf.Validators = append(vf.Validators, valset.Entry{PQKey: key.Public().Bytes(), ConsensusKey: ck.PubKey().Bytes(), Stake: 10})
		set = append(set, &setValidator{key: key, args: []string{
			"-datadir", filepath.Join(dir, fmt.Sprint("v", i)), "-listen", "127.0.0.1:0", "-chain-id", fmt.Sprint(setChainID),
			"-validator-key-file", proctest.SeedFile(t, dir, fmt.Sprint("v", i, ".key"), key),
			"-consensus", engineCometBFT, "-consensus-key-file", proctest.SeedFile(t, dir, fmt.Sprint("v", i, ".consensus"), cseed),
			"-p2p-listen", "tcp://" + p2p[i], "-timeout-commit", "150ms"}})
		set[i].args = append(set[i].args, genesis...)
	}
	b, err := json.Marshal(&vf)
	if err != nil {
		t.Fatal(err)
	}
	valsPath := proctest.WriteFile(t, dir, "validators.json", string(b))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for i, v := range set {
		var peers []string
		for j := range set {
			if j != i {
				peers = append(peers, ids[j]+"@"+p2p[j])
			}
		}
		v.args = append(v.args, "-validators", valsPath, "-peers", strings.Join(peers, ","))
		v.p = proctest.Start(t, bin, nil, v.args...)
	}
	for _, v := range set {
		v.c = dialValidator(ctx, t, v)
	}
	return set
}

// dialValidator connects to a validator's QUIC API, pinning its own key.
func dialValidator(ctx context.Context, t *testing.T, v *setValidator) *l1client.Client {
	t.Helper()
	c, err := l1client.Dial(ctx, l1client.Config{Addr: v.p.Addr(t), ChainID: setChainID, Validator: v.key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// waitSetHeight polls until every validator with a client has committed height h, and returns
// the lowest height among them.
func waitSetHeight(ctx context.Context, t *testing.T, set []*setValidator, h uint64) uint64 {
	t.Helper()
	var low uint64
	proctest.WaitFor(t, fmt.Sprintf("height %d on every running validator", h), 60*time.Second, func() bool {
		low = ^uint64(0)
		for _, v := range set {
			if v.c == nil {
				continue
			}
			st, err := v.c.Status(ctx)
			if err != nil {
				return false
			}
			low = min(low, st.Height)
		}
		return low >= h
	})
	return low
}

func TestConsensusFlags(t *testing.T) {
	dir := t.TempDir()
	cv, err := loadConsensus(consensusFlags{engine: engineSingle}, false)
	if err != nil || cv != nil {
		t.Fatalf("single: %v %v", cv, err)
	}
	seed := proctest.SeedFile(t, dir, "consensus.key", testKey(7))
	good := proctest.WriteFile(t, dir, "validators.json", fmt.Sprintf(`{"validators": [{"pqKey": "%s", "consensusKey": "0x%x", "power": 1}]}`,
		hexutil.Encode(testKey(8).Public().Bytes()), make([]byte, 32)))
	for name, tc := range map[string]struct {
		f    consensusFlags
		want string
	}{
		"unknown engine": {consensusFlags{engine: "raft"}, `-consensus "raft"`},
		"no validators":  {consensusFlags{engine: engineCometBFT, keyFile: seed}, "needs -validators"},
		"no key":         {consensusFlags{engine: engineCometBFT, validators: good}, "-consensus-key-file"},
		"missing key":    {consensusFlags{engine: engineCometBFT, validators: good, keyFile: filepath.Join(dir, "none")}, "no such file"},
		"empty set": {consensusFlags{engine: engineCometBFT, keyFile: seed,
			validators: proctest.WriteFile(t, dir, "empty.json", `{"validators": []}`)}, "lists no validator"},
		"unknown field": {consensusFlags{engine: engineCometBFT, keyFile: seed,
			validators: proctest.WriteFile(t, dir, "extra.json", `{"validators": [], "stake": 1}`)}, "unknown field"},
		"trailing data": {consensusFlags{engine: engineCometBFT, keyFile: seed,
			validators: proctest.WriteFile(t, dir, "trail.json", `{"validators": []} {}`)}, "data after"},
		"no stake": {consensusFlags{engine: engineCometBFT, keyFile: seed,
			validators: proctest.WriteFile(t, dir, "nostake.json", `{"validators": [{"pqKey": "0x00", "consensusKey": "0x00"}]}`)}, "validator 0 has no stake"},
		"stake and power": {consensusFlags{engine: engineCometBFT, keyFile: seed,
			validators: proctest.WriteFile(t, dir, "both.json", `{"validators": [{"pqKey": "0x00", "consensusKey": "0x00", "stake": 2, "power": 3}]}`)}, "stake 2 and power 3"},
	} {
		if _, err := loadConsensus(tc.f, false); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
	cv, err = loadConsensus(consensusFlags{engine: engineCometBFT, validators: good, keyFile: seed}, false)
	if err != nil {
		t.Fatal(err)
	}
	ck, nk := consensusKeys(testKey(7).Seed())
	if len(cv.vals) != 1 || !bytes.Equal(cv.consensus, ck) || !bytes.Equal(cv.nodeKey, nk) || bytes.Equal(ck, nk) {
		t.Fatalf("loaded %d validators; keys from the seed %v %v, distinct %v",
			len(cv.vals), bytes.Equal(cv.consensus, ck), bytes.Equal(cv.nodeKey, nk), !bytes.Equal(ck, nk))
	}
	if cv.staking != (chain.Staking{EpochLength: defaultEpochLength, MinStake: 1}) {
		t.Fatalf("staking %+v from a file naming none, want epochs of %d and the smallest stake", cv.staking, defaultEpochLength)
	}
	staked := proctest.WriteFile(t, dir, "staked.json", fmt.Sprintf(`{"validators": [{"pqKey": "%s", "consensusKey": "0x%x", "stake": 500}], "epochLength": 10, "minStake": 50}`,
		hexutil.Encode(testKey(8).Public().Bytes()), make([]byte, 32)))
	cv, err = loadConsensus(consensusFlags{engine: engineCometBFT, validators: staked, keyFile: seed}, false)
	if err != nil || cv.vals[0].Power != 500 || cv.staking != (chain.Staking{EpochLength: 10, MinStake: 50}) {
		t.Fatalf("staked set: %v, %+v", err, cv)
	}
	// -init creates the consensus seed file once.
	path := filepath.Join(dir, "new.consensus")
	if _, err := loadConsensus(consensusFlags{engine: engineCometBFT, validators: good, keyFile: path}, true); err != nil {
		t.Fatal(err)
	}
	if _, err := keystore.ReadSeedFile(path); err != nil {
		t.Fatalf("-init left no usable seed file: %v", err)
	}
}
