package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ethereum/go-ethereum/common/hexutil"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/abci"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
	"github.com/pqbridge/pqbridge/prover"
)

// validatorPower is each devnet validator's stake (CometBFT voting power): equal stakes, so 3
// of 4 are a quorum and 2 of 4 are not.
const validatorPower = 10

// Fixed ports of validator i (--ports fixed, --validators > 1): QUIC 9645+i/udp, CometBFT p2p
// 26656+i/tcp, metrics 9100 for the first (the single node's) and 9104+i-1 for the others.
func fixedValidatorPorts(i int) (quic, p2p, metrics string) {
	m := 9100
	if i > 0 {
		m = 9104 + i - 1
	}
	return fmt.Sprintf("127.0.0.1:%d", 9645+i), fmt.Sprintf("127.0.0.1:%d", 26656+i), fmt.Sprintf("127.0.0.1:%d", m)
}

// validator is one pql1node of the devnet's CometBFT set (--validators > 1).
type validator struct {
	i        int
	name     string // its daemon and log name: pql1node for the first, pql1node-2 …
	key      *pqkey.PrivateKey
	keystore string
	seedFile string // the CometBFT consensus seed
	nodeID   string
	p2p      string
	quic     string // bound QUIC address, once started (kept across a restart)
	metrics  string // bound metrics address, likewise
	d        *daemon
	c        *l1client.Client // pinned to its own key: each node signs its replies itself
}

// makeValidatorKeys makes the set's keys when --validators > 1: validator 1's ML-DSA key is
// n.validator (keystore validator.json, the key clients pin and the genesis Proposer, which
// registers the rollup); the others get keystores validator-<i>.json; each a CometBFT
// consensus seed (validator-<i>.consensus, mode 0600). It writes <dir>/validators.json, the
// -validators file of every pql1node.
func (n *network) makeValidatorKeys(passphrase []byte, params keystore.Params) error {
	if n.o.validators <= 1 {
		return nil
	}
	var vf struct {
		Validators []map[string]any `json:"validators"`
	}
	var members []qc.Validator
	for i := range n.o.validators {
		v := &validator{i: i, name: "pql1node", key: n.validator, keystore: filepath.Join(n.keysDir, "validator.json")}
		if i > 0 {
			k, err := pqkey.GenerateKey(rand.Reader)
			if err != nil {
				return err
			}
			v.name, v.key = fmt.Sprintf("pql1node-%d", i+1), k
			v.keystore = filepath.Join(n.keysDir, fmt.Sprintf("validator-%d.json", i+1))
			if err := keystore.Save(v.keystore, keystore.FromL1(k), passphrase, params); err != nil {
				return err
			}
		}
		var seed [32]byte
		if _, err := rand.Read(seed[:]); err != nil {
			return err
		}
		v.seedFile = filepath.Join(n.keysDir, fmt.Sprintf("validator-%d.consensus", i+1))
		if err := keystore.WriteFile(v.seedFile, []byte(hex.EncodeToString(seed[:])+"\n")); err != nil {
			return err
		}
		ck, nk := abci.ConsensusKeys(seed)
		clear(seed[:])
		v.nodeID = abci.NodeID(nk)
		vf.Validators = append(vf.Validators, map[string]any{"pqKey": hexutil.Bytes(v.key.Public().Bytes()),
			"consensusKey": hexutil.Bytes(ck.PubKey().Bytes()), "power": validatorPower})
		members = append(members, qc.Validator{Key: v.key.Public(), Power: validatorPower})
		n.bins[v.name] = n.bins["pql1node"]
		n.vals = append(n.vals, v)
	}
	set, err := qc.NewValidatorSet(members)
	if err != nil {
		return err
	}
	n.valSet = set
	b, err := json.MarshalIndent(&vf, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(n.path("validators.json"), b, 0o644)
}

// blockTime is the expected time between L1 blocks, from which the genesis sets its windows in
// blocks: --l1-block-interval for the single node; with validators it is their timeout_commit,
// and a height takes about twice that (proposal, two vote rounds and ML-DSA vote extensions on
// loopback: 0.5–0.6 s a block with 200–250 ms measured on 2 shared cores).
func (n *network) blockTime() time.Duration {
	if n.o.validators > 1 {
		return 2 * n.o.blockInterval
	}
	return n.o.blockInterval
}

// l1List is the -l1 of the challenger and the wallet: every validator's QUIC address, the
// first first.
func (n *network) l1List() string { return n.l1ListFrom(0) }

// l1ListFrom is every validator's QUIC address from validator i on, then the ones before: the
// sequencer's starts from the last validator, the one the demo SIGKILLs, so that it is the
// sequencer's own L1 endpoint that dies.
func (n *network) l1ListFrom(i int) string {
	if len(n.vals) == 0 {
		return n.l1Addr
	}
	var addrs []string
	for j := range n.vals {
		addrs = append(addrs, n.vals[(i+j)%len(n.vals)].quic)
	}
	return strings.Join(addrs, ",")
}

// l1TrustFlag and l1TrustFile are how the daemons pin L1: the validator set
// (--l1-validators validators.json) with validators, the one validator's key otherwise.
func (n *network) l1TrustFlag() string {
	if len(n.vals) == 0 {
		return "--validator-pubkey-file"
	}
	return "--l1-validators"
}

func (n *network) l1TrustFile() string {
	if len(n.vals) == 0 {
		return filepath.Join(n.keysDir, "validator.pub")
	}
	return n.path("validators.json")
}

// l1Trust sets the wallet configuration's pin: "l1-validators" or "validator".
func (n *network) l1Trust(cfg map[string]any) {
	if len(n.vals) == 0 {
		cfg["validator"] = n.l1TrustFile()
	} else {
		cfg["l1-validators"] = n.l1TrustFile()
	}
}

// startL1 starts the L1: one pql1node, or with --validators > 1 a CometBFT set of that many,
// each its own process; then dials it and waits for the rollup's registration.
func (n *network) startL1(ctx context.Context, u *ui, log []string) error {
	common := []string{"--chain-id", fmt.Sprint(l1ChainID), "--passphrase-file", n.passFile, "--genesis", n.path("genesis.json"),
		"--verifying-keys", filepath.Join(prover.KeyDir(n.o.keysCache, n.params), "verifying.key")}
	if len(n.vals) == 0 {
		l1, err := n.spawn(ctx, u, "pql1node", append(append([]string{"--datadir", n.path("l1"), "--listen", n.addr("l1"),
			"--keystore", filepath.Join(n.keysDir, "validator.json"), "--block-interval", n.o.blockInterval.String(),
			"--metrics", n.addr("l1-metrics")}, common...), log...))
		if err != nil {
			return err
		}
		if n.l1Addr, err = l1.addrLine(ctx, "listening on "); err != nil {
			return err
		}
		if n.metrics["pql1node"], err = l1.addrLine(ctx, "metrics on "); err != nil {
			return err
		}
	} else {
		n.valCommon = append(common, log...)
		if err := n.startValidators(ctx, u); err != nil {
			return err
		}
	}
	// The client redials for as long as the devnet runs; the first connection gets 30 s.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	var err error
	cfg := l1client.Config{Addrs: l1client.ParseAddrs(n.l1List()), ChainID: l1ChainID, Validator: n.validator.Public()}
	if n.valSet != nil {
		cfg.Validator, cfg.Validators = nil, n.valSet
	}
	n.l1, err = l1client.Dial(dctx, cfg)
	cancel()
	if err != nil {
		return fmt.Errorf("connecting to pql1node at %s: %w", n.l1Addr, err)
	}
	if err := waitUntil(ctx, 60*time.Second, "the rollup registered on L1", func() (bool, error) {
		_, err := n.l1.Rollup(ctx, rollupID)
		return err == nil, nil
	}); err != nil {
		return err
	}
	if len(n.vals) == 0 {
		u.ok("pql1node      L1 node, QUIC %s (chain %d, block every %v), metrics http://%s", n.l1Addr, l1ChainID, n.o.blockInterval, n.metrics["pql1node"])
		return nil
	}
	for _, v := range n.vals {
		u.ok("%-13s L1 validator %d of %d (stake %d), QUIC %s, p2p %s, metrics http://%s", v.name, v.i+1, len(n.vals), validatorPower,
			v.quic, v.p2p, v.metrics)
	}
	u.printf("              CometBFT, chain %d, timeout_commit %v; set in %s\n", l1ChainID, n.o.blockInterval, n.path("validators.json"))
	return nil
}

// startValidators starts every validator of the set and dials each, pinning its own key.
func (n *network) startValidators(ctx context.Context, u *ui) error {
	for i, v := range n.vals {
		quic, p2p, metrics := fixedValidatorPorts(i)
		if n.o.ports != "fixed" {
			var err error
			if p2p, err = freeTCP(); err != nil {
				return err
			}
			quic, metrics = "127.0.0.1:0", "127.0.0.1:0"
		}
		v.p2p, v.quic, v.metrics = p2p, quic, metrics
	}
	for _, v := range n.vals {
		if err := n.spawnValidator(ctx, u, v); err != nil {
			return err
		}
	}
	n.l1Addr = n.vals[0].quic
	for _, v := range n.vals {
		dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		var err error
		v.c, err = l1client.Dial(dctx, l1client.Config{Addr: v.quic, ChainID: l1ChainID, Validator: v.key.Public()})
		cancel()
		if err != nil {
			return fmt.Errorf("connecting to %s at %s: %w", v.name, v.quic, err)
		}
	}
	return nil
}

// spawnValidator starts v on its datadir and reads its bound addresses (the first time; a
// restart binds the same ones).
func (n *network) spawnValidator(ctx context.Context, u *ui, v *validator) error {
	var peers []string
	for _, o := range n.vals {
		if o != v {
			peers = append(peers, o.nodeID+"@"+o.p2p)
		}
	}
	args := append([]string{"--datadir", n.path(v.name), "--listen", v.quic, "--keystore", v.keystore, "--metrics", v.metrics,
		"--consensus", "cometbft", "--validators", n.path("validators.json"), "--consensus-key-file", v.seedFile,
		"--p2p-listen", "tcp://" + v.p2p, "--peers", strings.Join(peers, ","), "--timeout-commit", n.o.blockInterval.String()}, n.valCommon...)
	d, err := n.spawn(ctx, u, v.name, args)
	if err != nil {
		return err
	}
	v.d = d
	if v.quic, err = d.addrLine(ctx, "listening on "); err != nil {
		return err
	}
	if v.metrics, err = d.addrLine(ctx, "metrics on "); err != nil {
		return err
	}
	n.metrics[v.name] = v.metrics // pql1node for the first
	return nil
}

// freeTCP returns a loopback TCP address free at the time of the call.
func freeTCP() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// kill SIGKILLs the daemon (a crash, not a stop) and waits for it to end; the devnet does not
// count it as a dead daemon.
func (d *daemon) kill() error {
	d.mu.Lock()
	d.stopping = true
	d.mu.Unlock()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		return fmt.Errorf("SIGKILL %s: %w", d.name, err)
	}
	<-d.exited
	return nil
}
