package abci

import (
	"errors"
	"fmt"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/crypto/ed25519"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/types"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/internal/storefault"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const testChainID = 31

// validatorNode is one validator of a test network: its L1 node, its application and its
// embedded CometBFT node, on loopback.
type validatorNode struct {
	pq       *pqkey.PrivateKey
	comet    CometConfig
	dir      string
	fs       *storefault.FS // the L1 datadir's file system: the real disk, faults switchable
	restarts int
	n        *node.Node
	app      *App
	cmt      *nm.Node
}

// testNet is a network of validators sharing a genesis.
type testNet struct {
	t       testing.TB
	genesis chain.Genesis
	vals    []Validator
	doc     *types.GenesisDoc
	nodes   []*validatorNode
	user    *pqkey.PrivateKey // funded at genesis
}

// freePorts reserves n loopback ports by listening and closing (the OS does not hand them out
// again at once).
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = l.Addr().(*net.TCPAddr).Port
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return ports
}

// testEpoch is the test networks' epoch length: short, so that set changes come within seconds.
const testEpoch = 8

// testPower is each genesis validator's stake.
const testPower = 100

func newTestNet(t testing.TB, size int) *testNet {
	t.Helper()
	return newTestNetWith(t, size, 0, nil)
}

// newTestNetAlloc is newTestNet with more accounts funded at genesis.
func newTestNetAlloc(t testing.TB, size int, alloc []chain.Alloc) *testNet {
	t.Helper()
	return newTestNetWith(t, size, 0, nil, alloc...)
}

// newTestNetWith is a network of size genesis validators and spare further nodes (not in the
// genesis set, with keys of their own); twins[j] = i gives spare node size+j validator i's keys
// (a second node signing with them: an equivocating validator). Spare nodes start too. alloc
// funds more accounts at genesis.
func newTestNetWith(t testing.TB, size, spare int, twins map[int]int, alloc ...chain.Alloc) *testNet {
	t.Helper()
	user := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xee})
	tn := &testNet{t: t, user: user}
	ports := freePorts(t, size+spare)
	for i := range size + spare {
		pq := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0xa0, byte(i)})
		ck := ed25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("consensus-%d", i)))
		if of, ok := twins[i-size]; ok && i >= size {
			pq, ck = tn.nodes[of].pq, tn.nodes[of].comet.ConsensusKey
		}
		nk := ed25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("p2p-%d", i)))
		dir := t.TempDir()
		tn.nodes = append(tn.nodes, &validatorNode{pq: pq, dir: dir, fs: storefault.New(nil), comet: CometConfig{
			Home: filepath.Join(dir, "comet"), Moniker: fmt.Sprintf("v%d", i),
			ListenAddr: fmt.Sprintf("tcp://127.0.0.1:%d", ports[i]), ConsensusKey: ck, NodeKey: nk,
			TimeoutCommit: 150 * time.Millisecond, TimeoutPropose: 600 * time.Millisecond}})
		if i < size {
			tn.vals = append(tn.vals, Validator{PQKey: pq.Public().Bytes(), ConsensusKey: ck.PubKey().Bytes(), Power: testPower})
		}
	}
	tn.genesis = chain.Genesis{ChainID: testChainID, Validator: tn.nodes[0].pq.Public().Bytes(), Timestamp: 1_700_000_000_000,
		Alloc:      append([]chain.Alloc{{Address: user.Address(), Balance: 1_000_000}}, alloc...),
		Validators: GenesisValidators(tn.vals), Staking: chain.Staking{EpochLength: testEpoch, MinStake: 10}}
	var err error
	if tn.doc, err = GenesisDoc(testChainID, tn.genesis.Timestamp, tn.vals); err != nil {
		t.Fatal(err)
	}
	for i := range tn.nodes {
		tn.start(i)
	}
	t.Cleanup(func() {
		if t.Failed() {
			tn.dumpLogs()
		}
		for i, v := range tn.nodes {
			if v.cmt != nil {
				if err := tn.stop(i); err != nil {
					t.Errorf("stopping validator %d: %v", i, err)
				}
			}
		}
	})
	return tn
}

// start opens validator i's node on its datadir and starts its CometBFT node.
func (tn *testNet) start(i int) {
	t := tn.t
	t.Helper()
	v := tn.nodes[i]
	n, err := node.New(node.Config{Dir: filepath.Join(v.dir, "l1"), FS: v.fs, Genesis: tn.genesis, ExternalConsensus: true})
	if err != nil {
		t.Fatalf("validator %d: %v", i, err)
	}
	app, err := New(Config{Node: n, Key: v.pq, Validators: tn.vals})
	if err != nil {
		t.Fatalf("validator %d: %v", i, errors.Join(err, n.Stop()))
	}
	logFile, err := os.OpenFile(filepath.Join(v.dir, "comet.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := logFile.Close(); err != nil {
			t.Error(err)
		}
	})
	cc := v.comet
	for j, w := range tn.nodes {
		if j != i {
			cc.Peers = append(cc.Peers, NodeID(w.comet.NodeKey)+"@"+strings.TrimPrefix(w.comet.ListenAddr, "tcp://"))
		}
	}
	cc.Logger = cmtlog.NewFilter(cmtlog.NewTMLogger(cmtlog.NewSyncWriter(logFile)), cmtlog.AllowInfo())
	cmt, err := StartComet(app, tn.doc, cc)
	if err != nil {
		t.Fatalf("validator %d: %v", i, errors.Join(err, n.Stop()))
	}
	n.SetRelay(Relay(cmt))
	v.n, v.app, v.cmt = n, app, cmt
}

// restart starts validator i again on its datadirs under a new p2p key. The key is new because
// the test stops validators in process: a peer that redialled a stopping node can be left
// connected to a socket that the stopped node accepted and never closed (a process exit would
// close it), and it refuses the restarted node's connections under the same ID until its ping
// times out (a minute).
func (tn *testNet) restart(i int) {
	v := tn.nodes[i]
	v.restarts++
	v.comet.NodeKey = ed25519.GenPrivKeyFromSecret([]byte(fmt.Sprintf("p2p-%d-%d", i, v.restarts)))
	tn.start(i)
}

// stop stops validator i's CometBFT node, then its L1 node.
func (tn *testNet) stop(i int) error {
	v := tn.nodes[i]
	err := errors.Join(StopComet(v.cmt), v.n.Stop())
	v.cmt, v.app, v.n = nil, nil, nil
	return err
}

// height is validator i's committed chain height.
func (tn *testNet) height(i int) uint64 {
	h, _, _, _ := tn.nodes[i].n.Chain().Head()
	return h
}

// waitHeight polls until every running validator has committed height h.
func (tn *testNet) waitHeight(h uint64, within time.Duration) {
	tn.t.Helper()
	deadline := time.Now().Add(within)
	for {
		low := ^uint64(0)
		for i, v := range tn.nodes {
			if v.n != nil {
				low = min(low, tn.height(i))
			}
		}
		if low >= h {
			return
		}
		if time.Now().After(deadline) {
			tn.t.Fatalf("the running validators reached height %d, not %d, within %v", low, h, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// transfer signs a transfer of the genesis user.
func (tn *testNet) transfer(nonce uint64, to common.Address, amount uint64) []byte {
	tn.t.Helper()
	raw, err := chain.SignTx(tn.user, chain.TxTransfer, testChainID, nonce, &chain.Transfer{To: to, Amount: amount})
	if err != nil {
		tn.t.Fatal(err)
	}
	return raw
}

// dumpLogs prints the last lines of each validator's CometBFT log, for a failed test.
func (tn *testNet) dumpLogs() {
	for i, v := range tn.nodes {
		b, err := os.ReadFile(filepath.Join(v.dir, "comet.log"))
		if err != nil {
			tn.t.Logf("validator %d: %v", i, err)
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		tn.t.Logf("validator %d, last lines of comet.log:\n%s", i, strings.Join(lines[max(0, len(lines)-40):], "\n"))
	}
}
