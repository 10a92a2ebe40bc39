package abci

import (
	"fmt"
	"sync"

	abcitypes "github.com/cometbft/cometbft/abci/types"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// The validator set changes at the chain's epoch boundaries (l1/chain validators.go): the block
// of a boundary H returns the power changes to CometBFT, which uses the new set from height H+2.
// The chain stores the set in force from each height (s/valset); the certificate of height h is
// made of the precommit extensions of block h+1, so it is signed by, and its header names, the
// set CometBFT used at h+1.

// certSet is a set of CometBFT validators as the certificates use it.
type certSet struct {
	set    *qc.ValidatorSet
	member map[string]common.Address // CometBFT validator address -> ML-DSA address
}

// setCache holds the sets read from the chain, by the height they are in force from.
type setCache struct {
	mu   sync.Mutex
	sets map[uint64]*certSet
}

// signers returns the set whose votes certify height: CometBFT's set at height+1.
func (a *App) signers(height uint64) (*certSet, error) {
	from, members, err := a.chain.ValidatorSetAt(height + 1)
	if err != nil {
		return nil, fmt.Errorf("abci: validator set of height %d: %w", height+1, err)
	}
	a.sets.mu.Lock()
	defer a.sets.mu.Unlock()
	if s, ok := a.sets.sets[from]; ok {
		return s, nil
	}
	vals := make([]Validator, len(members))
	for i, m := range members {
		vals[i] = Validator{PQKey: m.PQKey, ConsensusKey: m.ConsensusKey, Power: m.Power}
	}
	set, member, err := validatorSet(vals)
	if err != nil {
		return nil, fmt.Errorf("abci: validator set from height %d: %w", from, err)
	}
	s := &certSet{set: set, member: member}
	if a.sets.sets == nil {
		a.sets.sets = map[uint64]*certSet{}
	}
	a.sets.sets[from] = s
	return s, nil
}

// SignersOf returns the validator set whose ML-DSA votes certify height (CometBFT's set of
// height+1): what a client checks that height's certificate against.
func (a *App) SignersOf(height uint64) (*qc.ValidatorSet, error) {
	s, err := a.signers(height)
	if err != nil {
		return nil, err
	}
	return s.set, nil
}

// misbehavior is the duplicate-vote evidence of a block, as the chain slashes it. Light-client
// attacks are not slashed (the chain has no light clients of CometBFT's headers); they are
// logged.
func (a *App) misbehavior(height int64, ms []abcitypes.Misbehavior) []chain.Misbehavior {
	var out []chain.Misbehavior
	for _, m := range ms {
		if m.Type != abcitypes.MISBEHAVIOR_TYPE_DUPLICATE_VOTE || m.Height <= 0 {
			a.log.Warn("misbehavior not slashed", "type", m.Type.String(), "height", height,
				"validator", fmt.Sprintf("%X", m.Validator.Address), "at", m.Height)
			continue
		}
		a.log.Warn("duplicate vote evidence", "height", height, "validator", fmt.Sprintf("%X", m.Validator.Address), "at", m.Height)
		out = append(out, chain.Misbehavior{ConsensusAddress: m.Validator.Address, Height: uint64(m.Height)})
	}
	return out
}

// validatorUpdates are the chain's boundary power changes as CometBFT's validator updates.
func validatorUpdates(us []chain.ValidatorUpdate) []abcitypes.ValidatorUpdate {
	if len(us) == 0 {
		return nil
	}
	out := make([]abcitypes.ValidatorUpdate, len(us))
	for i, u := range us {
		out[i] = abcitypes.ValidatorUpdate{Power: int64(u.Power), PubKeyType: ed25519.KeyType, PubKeyBytes: u.ConsensusKey}
	}
	return out
}
