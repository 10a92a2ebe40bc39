// Package abci runs L1's settlement state machine (package l1/chain) as a CometBFT ABCI++
// application: CometBFT orders the blocks, times out rounds and gossips votes; the chain
// executes them (FinalizeBlock → Execute, Commit → Commit, app hash = the chain's state root);
// the mempool admission is l1/node's policy (CheckTx → node.Admit). Besides CometBFT's Ed25519 votes, every
// validator signs each committed height with its ML-DSA-65 key in a vote extension, and the
// next proposer puts the collected signatures into its block as a quorum certificate (package
// l1/qc) that clients verify against the validator set they pinned. docs/l1.md, "Consensus
// (CometBFT)".
package abci

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/cockroachdb/pebble"
	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	cmttypes "github.com/cometbft/cometbft/types"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// ABCI result codes of CheckTx and FinalizeBlock's transaction results.
const (
	CodeOK      uint32 = 0
	CodeRefused uint32 = 1 // CheckTx: the mempool policy refused it; FinalizeBlock: a failed receipt
)

// Validator is a member of the genesis validator set.
type Validator struct {
	PQKey        []byte // ML-DSA-65 public key: quorum-certificate votes
	ConsensusKey []byte // Ed25519 public key (32 bytes): CometBFT's votes
	Power        uint64 // stake, CometBFT's voting power
}

// Config configures an App.
type Config struct {
	// Node is the l1/node opened with ExternalConsensus: its chain and its mempool policy.
	Node *node.Node
	// Key is this validator's ML-DSA-65 key; nil for a node that does not validate.
	Key        *pqkey.PrivateKey
	Validators []Validator
	Logger     *slog.Logger // nil: discarded
}

// App is the ABCI++ application of one L1 node.
type App struct {
	abcitypes.BaseApplication

	n       *node.Node
	chain   *chain.Chain
	key     *pqkey.PrivateKey
	genesis *qc.ValidatorSet // the set in force from height 1
	vals    []Validator
	sets    setCache
	log     *slog.Logger

	// CometBFT's consensus connection calls FinalizeBlock then Commit from one goroutine; mu
	// guards the block between them against the other connections' reads.
	mu      sync.Mutex
	pending *pendingBlock
}

// pendingBlock is a finalized block not yet committed.
type pendingBlock struct {
	height uint64
	p      *chain.Pending
	cert   []byte // the encoded certificate the block carried (of height-2), nil if none
}

// New checks the validator set and builds the application over cfg.Node.
func New(cfg Config) (*App, error) {
	if cfg.Node == nil {
		return nil, errors.New("abci: no node")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	set, _, err := validatorSet(cfg.Validators)
	if err != nil {
		return nil, err
	}
	a := &App{n: cfg.Node, chain: cfg.Node.Chain(), key: cfg.Key, vals: cfg.Validators, log: cfg.Logger}
	genesis, err := a.signers(0)
	if err != nil {
		return nil, fmt.Errorf("%w (the L1 genesis needs the validators with their stake)", err)
	}
	if genesis.set.Hash() != set.Hash() {
		return nil, fmt.Errorf("abci: the L1 genesis validator set %s is not the configured set %s", genesis.set.Hash(), set.Hash())
	}
	a.genesis = genesis.set
	return a, nil
}

// GenesisValidators is the chain genesis's form of the set: each validator's stake is its power.
func GenesisValidators(vals []Validator) []chain.GenesisValidator {
	out := make([]chain.GenesisValidator, len(vals))
	for i, v := range vals {
		out[i] = chain.GenesisValidator{PQKey: v.PQKey, ConsensusKey: v.ConsensusKey, Stake: v.Power}
	}
	return out
}

// validatorSet builds the ML-DSA set of vals and maps their CometBFT addresses to it.
func validatorSet(vals []Validator) (*qc.ValidatorSet, map[string]common.Address, error) {
	qvals := make([]qc.Validator, len(vals))
	member := make(map[string]common.Address, len(vals))
	for i, v := range vals {
		k, err := pqkey.ParsePublicKey(v.PQKey)
		if err != nil {
			return nil, nil, fmt.Errorf("abci: validator %d: %w", i, err)
		}
		if len(v.ConsensusKey) != ed25519.PubKeySize {
			return nil, nil, fmt.Errorf("abci: validator %d: consensus key of %d bytes, want %d", i, len(v.ConsensusKey), ed25519.PubKeySize)
		}
		addr := string(ed25519.PubKey(v.ConsensusKey).Address())
		if _, dup := member[addr]; dup {
			return nil, nil, fmt.Errorf("abci: validator %d: consensus key listed twice", i)
		}
		member[addr] = k.Address()
		qvals[i] = qc.Validator{Key: k, Power: v.Power}
	}
	set, err := qc.NewValidatorSet(qvals)
	if err != nil {
		return nil, nil, err
	}
	if set.TotalPower() > uint64(cmttypes.MaxTotalVotingPower) {
		return nil, nil, fmt.Errorf("abci: total power %d above CometBFT's limit %d", set.TotalPower(), cmttypes.MaxTotalVotingPower)
	}
	return set, member, nil
}

// ValidatorSet is the genesis ML-DSA validator set, which clients pin; later sets are certified
// changes of it (SignersOf).
func (a *App) ValidatorSet() *qc.ValidatorSet { return a.genesis }

// Info tells CometBFT the last committed height and its app hash, from which it replays.
func (a *App) Info(context.Context, *abcitypes.InfoRequest) (*abcitypes.InfoResponse, error) {
	h, _, _, root := a.chain.Head()
	return &abcitypes.InfoResponse{Data: "pqbridge-l1", LastBlockHeight: int64(h), LastBlockAppHash: root[:]}, nil
}

// InitChain checks that CometBFT's genesis validators are the application's and answers the
// genesis state root as the initial app hash.
func (a *App) InitChain(_ context.Context, req *abcitypes.InitChainRequest) (*abcitypes.InitChainResponse, error) {
	if req.ChainId != CometChainID(a.chain.ChainID()) {
		return nil, fmt.Errorf("abci: CometBFT chain %q, the L1 genesis is %q", req.ChainId, CometChainID(a.chain.ChainID()))
	}
	if len(req.Validators) != len(a.vals) {
		return nil, fmt.Errorf("abci: CometBFT genesis has %d validators, the L1 genesis %d", len(req.Validators), len(a.vals))
	}
	power := make(map[string]uint64, len(a.vals))
	for _, v := range a.vals {
		power[string(v.ConsensusKey)] = v.Power
	}
	for i, v := range req.Validators {
		if p, ok := power[string(v.PubKeyBytes)]; !ok || v.Power != int64(p) {
			return nil, fmt.Errorf("abci: CometBFT genesis validator %d (%X, power %d) is not in the L1 genesis", i, v.PubKeyBytes, v.Power)
		}
	}
	_, _, _, root := a.chain.Head()
	return &abcitypes.InitChainResponse{AppHash: root[:]}, nil
}

// CometChainID is the CometBFT chain ID of L1 chain id.
func CometChainID(id uint64) string { return fmt.Sprintf("pqbridge-l1-%d", id) }

// CheckTx admits a new transaction under l1/node's mempool policy, and on a recheck keeps one
// only while the node's mempool still holds it (not included, stale or evicted).
func (a *App) CheckTx(_ context.Context, req *abcitypes.CheckTxRequest) (*abcitypes.CheckTxResponse, error) {
	if isCertTx(req.Tx) {
		return &abcitypes.CheckTxResponse{Code: CodeRefused, Log: "a quorum certificate is not a transaction"}, nil
	}
	if req.Type == abcitypes.CHECK_TX_TYPE_RECHECK {
		if !a.n.Pooled(txHash(req.Tx)) {
			return &abcitypes.CheckTxResponse{Code: CodeRefused, Log: "no longer in the mempool"}, nil
		}
		return &abcitypes.CheckTxResponse{Code: CodeOK}, nil
	}
	if _, err := a.n.Admit(req.Tx); err != nil && !errors.Is(err, node.ErrKnownTx) {
		return &abcitypes.CheckTxResponse{Code: CodeRefused, Log: err.Error()}, nil
	}
	return &abcitypes.CheckTxResponse{Code: CodeOK}, nil
}

// FinalizeBlock executes a decided block: the certificate it carries aside, its transactions
// run on the chain at the header's time; the app hash is the state root after them.
func (a *App) FinalizeBlock(_ context.Context, req *abcitypes.FinalizeBlockRequest) (*abcitypes.FinalizeBlockResponse, error) {
	if err := a.n.Err(); err != nil {
		return nil, fmt.Errorf("abci: block %d not executed: %w", req.Height, err)
	}
	head, _, _, _ := a.chain.Head()
	if req.Height <= 0 || uint64(req.Height) != head+1 {
		return nil, fmt.Errorf("abci: block %d does not follow the chain's head %d", req.Height, head)
	}
	results := make([]*abcitypes.ExecTxResult, len(req.Txs))
	txs, cert := req.Txs, []byte(nil)
	if req.Height >= 2 && len(txs) > 0 && isCertTx(txs[0]) { // ProcessProposal checked it
		cert = txs[0][len(certMagic):]
		results[0] = &abcitypes.ExecTxResult{Code: CodeOK}
		txs = txs[1:]
	}
	p, err := a.chain.ExecuteBlock(uint64(req.Time.UnixMilli()), txs, a.misbehavior(req.Height, req.Misbehavior))
	if err != nil {
		return nil, a.halt(req.Height, "executing", err)
	}
	off := len(req.Txs) - len(txs)
	for i, r := range p.Receipts {
		res := &abcitypes.ExecTxResult{Code: CodeOK}
		if !r.OK {
			res.Code, res.Log = CodeRefused, r.Error
		}
		results[off+i] = res
	}
	a.mu.Lock()
	a.pending = &pendingBlock{height: uint64(req.Height), p: p, cert: cert}
	a.mu.Unlock()
	if len(p.ValidatorUpdates) > 0 {
		a.log.Info("validator set changes", "height", req.Height, "updates", len(p.ValidatorUpdates), "in_force_from", req.Height+2)
	}
	return &abcitypes.FinalizeBlockResponse{TxResults: results, AppHash: p.Header.StateRoot[:],
		ValidatorUpdates: validatorUpdates(p.ValidatorUpdates)}, nil
}

// Commit writes the finalized block, and the certificate it carried, in one batch.
func (a *App) Commit(context.Context, *abcitypes.CommitRequest) (*abcitypes.CommitResponse, error) {
	a.mu.Lock()
	pb := a.pending
	a.pending = nil
	a.mu.Unlock()
	if pb == nil {
		return nil, errors.New("abci: Commit without a finalized block")
	}
	if err := a.n.Err(); err != nil {
		return nil, fmt.Errorf("abci: block %d not committed: %w", pb.height, err)
	}
	err := a.n.CommitExternal(pb.p, func(b *pebble.Batch) error {
		if pb.cert == nil {
			return nil
		}
		return node.PutCertificate(b, pb.height-2, pb.cert)
	})
	if err != nil {
		return nil, a.halt(int64(pb.height), "committing", err)
	}
	return &abcitypes.CommitResponse{}, nil
}

// halt stops this validator at height on a fatal chain error (docs/l1.md §9, "A fatal chain
// error"): the node halts (refusing transactions, serving reads with the reason in l1_status)
// and the error goes back to CometBFT, whose consensus then stops at that height without
// saving its state: nothing of the block is committed, and a restart replays it.
func (a *App) halt(height int64, what string, err error) error {
	err = fmt.Errorf("abci: %s block %d: %w", what, height, err)
	a.n.Halt(err)
	a.log.Error("fatal chain error: validator halted", "height", height, "step", what, "err", err)
	return err
}
