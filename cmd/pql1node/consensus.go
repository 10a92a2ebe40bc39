package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	cmted25519 "github.com/cometbft/cometbft/crypto/ed25519"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/l1/abci"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/valset"
)

// Consensus engines of -consensus.
const (
	engineSingle   = "single"   // this node alone orders and signs the blocks (docs/l1.md §6)
	engineCometBFT = "cometbft" // a validator of a CometBFT set (docs/l1.md §9)
)

// consensusFlags configure -consensus cometbft.
type consensusFlags struct {
	engine        string
	validators    string
	keyFile       string
	p2pListen     string
	peers         string
	timeoutCommit time.Duration
}

func (f *consensusFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.engine, "consensus", engineSingle, "consensus engine: "+engineSingle+" (this node makes every block) or "+engineCometBFT+" (a validator of the -validators set; in progress, docs/l1.md §9)")
	fs.StringVar(&f.validators, "validators", "", "with -consensus cometbft: genesis validator-set JSON {\"validators\": [{\"pqKey\", \"consensusKey\", \"stake\"}], \"epochLength\", \"minStake\"}, the same on every validator")
	fs.StringVar(&f.keyFile, "consensus-key-file", "", "with -consensus cometbft: hex seed (mode 0600) of the CometBFT Ed25519 consensus and p2p keys; -init creates it")
	fs.StringVar(&f.p2pListen, "p2p-listen", "tcp://127.0.0.1:26656", "with -consensus cometbft: CometBFT p2p listen address")
	fs.StringVar(&f.peers, "peers", "", "with -consensus cometbft: comma-separated <node id>@host:port of the other validators")
	fs.DurationVar(&f.timeoutCommit, "timeout-commit", 0, "with -consensus cometbft: wait after a commit before the next height (0: CometBFT's 1s)")
}

// consensusKeys derives the CometBFT keys of a consensus seed (abci.ConsensusKeys).
func consensusKeys(seed [32]byte) (consensusKey, nodeKey cmted25519.PrivKey) {
	return abci.ConsensusKeys(seed)
}

// validatorsFile is the -validators JSON (l1/valset, which clients read too).
type validatorsFile = valset.File

// defaultEpochLength is the blocks between validator-set changes when -validators names none.
const defaultEpochLength = valset.DefaultEpochLength

// readValidators decodes a -validators file strictly: the genesis set, each validator's stake,
// and the staking parameters (epochLength absent: defaultEpochLength; minStake absent: the
// smallest genesis stake).
func readValidators(path string) ([]abci.Validator, chain.Staking, error) {
	var st chain.Staking
	f, err := valset.Read(path)
	if err != nil {
		return nil, st, fmt.Errorf("-validators: %w", err)
	}
	st = chain.Staking{EpochLength: f.EpochLength, MinStake: f.MinStake}
	if st.EpochLength == 0 {
		st.EpochLength = defaultEpochLength
	}
	vals := make([]abci.Validator, len(f.Validators))
	for i, v := range f.Validators {
		stake := v.StakeOf()
		if stake == 0 {
			return nil, st, fmt.Errorf("-validators %s: validator %d has no stake", path, i)
		}
		if f.MinStake == 0 && (st.MinStake == 0 || stake < st.MinStake) {
			st.MinStake = stake
		}
		vals[i] = abci.Validator{PQKey: v.PQKey, ConsensusKey: v.ConsensusKey, Power: stake}
	}
	return vals, st, nil
}

// cometValidator is what -consensus cometbft adds to a node: the set, this validator's CometBFT
// keys, and the running CometBFT node once started.
type cometValidator struct {
	flags      consensusFlags
	vals       []abci.Validator
	staking    chain.Staking
	consensus  cmted25519.PrivKey
	nodeKey    cmted25519.PrivKey
	genesisKey []byte // the first validator's ML-DSA key: the Proposer every node's headers name
}

// loadConsensus reads the -consensus flags; nil for the single-validator node.
func loadConsensus(f consensusFlags, initKey bool) (*cometValidator, error) {
	switch f.engine {
	case engineSingle:
		return nil, nil
	case engineCometBFT:
	default:
		return nil, fmt.Errorf("-consensus %q: want %s or %s", f.engine, engineSingle, engineCometBFT)
	}
	if f.validators == "" || f.keyFile == "" {
		return nil, errors.New("-consensus cometbft needs -validators and -consensus-key-file")
	}
	vals, staking, err := readValidators(f.validators)
	if err != nil {
		return nil, err
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("-validators %s lists no validator", f.validators)
	}
	if initKey {
		if err := initSeedFile(f.keyFile); err != nil {
			return nil, err
		}
	}
	k, err := keystore.ReadSeedFile(f.keyFile) // the same hex-seed file format, read as a seed
	if err != nil {
		return nil, fmt.Errorf("-consensus-key-file: %w", err)
	}
	ck, nk := consensusKeys(k.Seed())
	return &cometValidator{flags: f, vals: vals, staking: staking, consensus: ck, nodeKey: nk, genesisKey: vals[0].PQKey}, nil
}

// setGenesis puts the validator set into the L1 genesis: its stake, the staking parameters, and
// the first validator's key as the Proposer every validator's headers name.
func (cv *cometValidator) setGenesis(g *chain.Genesis) {
	g.Validator = cv.genesisKey
	g.Validators, g.Staking = abci.GenesisValidators(cv.vals), cv.staking
}

// start runs the ABCI application over n and its CometBFT node, under dataDir/cometbft, and
// relays n's admitted transactions to CometBFT's mempool. The returned stop stops CometBFT, then
// n.
func (cv *cometValidator) start(n *node.Node, key *pqkey.PrivateKey, g chain.Genesis, dataDir string, log *slog.Logger) (func() error, error) {
	app, err := abci.New(abci.Config{Node: n, Key: key, Validators: cv.vals, Logger: log.With("component", "abci")})
	if err != nil {
		return nil, err
	}
	doc, err := abci.GenesisDoc(g.ChainID, g.Timestamp, cv.vals)
	if err != nil {
		return nil, err
	}
	var peers []string
	for p := range strings.SplitSeq(cv.flags.peers, ",") {
		if p = strings.TrimSpace(p); p != "" {
			peers = append(peers, p)
		}
	}
	cmt, err := abci.StartComet(app, doc, abci.CometConfig{Home: filepath.Join(dataDir, "cometbft"),
		Moniker: key.Address().Hex(), ListenAddr: cv.flags.p2pListen, Peers: peers, ConsensusKey: cv.consensus,
		NodeKey: cv.nodeKey, TimeoutCommit: cv.flags.timeoutCommit, Logger: abci.SlogLogger(log.With("component", "cometbft"))})
	if err != nil {
		return nil, err
	}
	n.SetRelay(abci.Relay(cmt))
	log.Info("validator of a CometBFT set", "node_id", abci.NodeID(cv.nodeKey), "p2p", cv.flags.p2pListen,
		"validators", len(cv.vals), "set_hash", app.ValidatorSet().Hash(), "consensus_key", hex.EncodeToString(cv.consensus.PubKey().Bytes()))
	return func() error { return errors.Join(abci.StopComet(cmt), n.Stop()) }, nil
}
