package abci

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	cmtcfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/crypto/tmhash"
	cmtjson "github.com/cometbft/cometbft/libs/json"
	cmtlog "github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/mempool"
	nm "github.com/cometbft/cometbft/node"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/privval"
	"github.com/cometbft/cometbft/proxy"
	"github.com/cometbft/cometbft/types"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
)

// CometConfig configures the CometBFT node embedded in an L1 node.
type CometConfig struct {
	Home         string          // CometBFT's config and data (under pql1node's --datadir)
	Moniker      string          // the node's name in the p2p handshake
	ListenAddr   string          // p2p listen address, "tcp://127.0.0.1:26656"
	Peers        []string        // persistent peers, "<node id>@host:port" (NodeID)
	ConsensusKey ed25519.PrivKey // signs CometBFT's (classical) votes
	NodeKey      ed25519.PrivKey // authenticates the p2p connections
	// TimeoutCommit is the wait after a commit before the next height (CometBFT's
	// timeout_commit); 0 keeps CometBFT's default. TimeoutPropose likewise.
	TimeoutCommit  time.Duration
	TimeoutPropose time.Duration
	Logger         cmtlog.Logger // nil: discarded
}

// NodeID is the p2p ID of a node key, for the peers' lists.
func NodeID(k ed25519.PrivKey) string { return string(p2p.PubKeyToID(k.PubKey())) }

// GenesisDoc is CometBFT's genesis of an L1 chain: its chain ID and time, the validators'
// Ed25519 keys and powers, vote extensions (the ML-DSA votes) from height 1, and blocks of up to
// node.DefaultMaxBlockBytes.
func GenesisDoc(chainID uint64, timestampMillis uint64, vals []Validator) (*types.GenesisDoc, error) {
	if _, _, err := validatorSet(vals); err != nil {
		return nil, err
	}
	params := types.DefaultConsensusParams()
	params.Feature.VoteExtensionsEnableHeight = 1
	params.Block.MaxBytes = node.DefaultMaxBlockBytes // the single-validator node's block bound
	doc := &types.GenesisDoc{GenesisTime: time.UnixMilli(int64(timestampMillis)).UTC(), ChainID: CometChainID(chainID),
		InitialHeight: 1, ConsensusParams: params}
	for i, v := range vals {
		pk := ed25519.PubKey(v.ConsensusKey)
		doc.Validators = append(doc.Validators, types.GenesisValidator{Address: pk.Address(), PubKey: pk,
			Power: int64(v.Power), Name: fmt.Sprintf("validator-%d", i)})
	}
	if err := doc.ValidateAndComplete(); err != nil {
		return nil, fmt.Errorf("abci: CometBFT genesis: %w", err)
	}
	return doc, nil
}

// StartComet starts the CometBFT node that drives app, in process (a local ABCI client).
// Stop it with StopComet.
func StartComet(app *App, genesis *types.GenesisDoc, c CometConfig) (*nm.Node, error) {
	cfg, err := cometConfig(c)
	if err != nil {
		return nil, err
	}
	pv, err := privval.LoadOrGenFilePV(cfg.PrivValidatorKeyFile(), cfg.PrivValidatorStateFile(),
		func() (crypto.PrivKey, error) { return c.ConsensusKey, nil })
	if err != nil {
		return nil, fmt.Errorf("abci: CometBFT validator key: %w", err)
	}
	if !bytes.Equal(pv.Key.PubKey.Bytes(), c.ConsensusKey.PubKey().Bytes()) {
		return nil, fmt.Errorf("abci: %s holds another consensus key", cfg.PrivValidatorKeyFile())
	}
	blob, err := cmtjson.Marshal(genesis)
	if err != nil {
		return nil, fmt.Errorf("abci: encoding CometBFT genesis: %w", err)
	}
	genProvider := func() (nm.ChecksummedGenesisDoc, error) {
		return nm.ChecksummedGenesisDoc{GenesisDoc: genesis, Sha256Checksum: tmhash.Sum(blob)}, nil
	}
	logger := c.Logger
	if logger == nil {
		logger = cmtlog.NewNopLogger()
	}
	n, err := nm.NewNode(context.Background(), cfg, pv, &p2p.NodeKey{PrivKey: c.NodeKey},
		proxy.NewLocalClientCreator(app), genProvider, stopSafeDBProvider,
		nm.DefaultMetricsProvider(cfg.Instrumentation), logger)
	if err != nil {
		return nil, fmt.Errorf("abci: creating the CometBFT node: %w", err)
	}
	if err := n.Start(); err != nil {
		return nil, fmt.Errorf("abci: starting the CometBFT node: %w", err)
	}
	return n, nil
}

// Relay hands a transaction the L1 node admitted to the CometBFT node's mempool, which gossips
// it to the proposers (node.SetRelay(Relay(n)); its CheckTx admits it with node.Admit). One
// CometBFT already holds or has just seen is no error.
func Relay(n *nm.Node) func(raw []byte) error {
	return func(raw []byte) error {
		_, err := n.Mempool().CheckTx(raw, "")
		if errors.Is(err, mempool.ErrTxInCache) {
			return nil
		}
		return err
	}
}

// StopComet stops a CometBFT node and waits until it has.
func StopComet(n *nm.Node) error {
	if err := n.Stop(); err != nil {
		return fmt.Errorf("abci: stopping the CometBFT node: %w", err)
	}
	n.Wait()
	return nil
}

// cometConfig is CometBFT's configuration of an L1 node: no RPC or gRPC server (clients use
// l1/quicrpc), no peer exchange (the validators' addresses are configured), empty blocks made
// (every height gets its certificate), no tx index, goleveldb under Home.
func cometConfig(c CometConfig) (*cmtcfg.Config, error) {
	if c.Home == "" || c.ListenAddr == "" {
		return nil, errors.New("abci: CometBFT needs a home directory and a listen address")
	}
	if len(c.ConsensusKey) != ed25519.PrivateKeySize || len(c.NodeKey) != ed25519.PrivateKeySize {
		return nil, errors.New("abci: CometBFT needs a consensus key and a node key")
	}
	cfg := cmtcfg.DefaultConfig()
	cfg.SetRoot(c.Home)
	for _, d := range []string{filepath.Join(c.Home, "config"), filepath.Join(c.Home, "data")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("abci: %w", err)
		}
	}
	cfg.Moniker = c.Moniker
	cfg.DBBackend = "goleveldb"
	cfg.RPC.ListenAddress = ""
	cfg.GRPC.ListenAddress = ""
	cfg.P2P.ListenAddress = c.ListenAddr
	cfg.P2P.PersistentPeers = strings.Join(c.Peers, ",")
	cfg.P2P.PexReactor = false
	cfg.P2P.AddrBookStrict = false
	cfg.P2P.AllowDuplicateIP = true
	cfg.Consensus.CreateEmptyBlocks = true
	if c.TimeoutCommit > 0 {
		cfg.Consensus.TimeoutCommit = c.TimeoutCommit
	}
	if c.TimeoutPropose > 0 {
		cfg.Consensus.TimeoutPropose = c.TimeoutPropose
	}
	cfg.Instrumentation.Prometheus = false
	cfg.Mempool.MaxTxBytes = chain.MaxTxSize // a full optimistic batch with its trace
	// The chain keeps its own receipts and events; CometBFT's tx index would be a second copy,
	// and its store is one CometBFT does not close on Stop.
	cfg.TxIndex.Indexer = "null"
	if err := cfg.ValidateBasic(); err != nil {
		return nil, fmt.Errorf("abci: CometBFT config: %w", err)
	}
	return cfg, nil
}
