package l1api

import "github.com/ethereum/go-ethereum/common"

// ValidatorJoin asks for the sender (its ML-DSA key) to join the validator set with
// ConsensusKey (Ed25519, CometBFT's votes) and Stake moved from its balance (docs/l1.md §5).
type ValidatorJoin struct {
	ConsensusKey []byte
	Stake        uint64
}

// ValidatorStake adds Amount to the sender's stake, or withdraws it.
type ValidatorStake struct {
	Amount   uint64
	Withdraw bool
}

// ValidatorLeave asks for the sender to leave the set; its stake unbonds.
type ValidatorLeave struct{}

// SetMember is a member of the validator set in force at some height, as the consensus engine
// and the quorum certificates use it; Power is its stake.
type SetMember struct {
	PQKey        []byte
	ConsensusKey []byte
	Power        uint64
}

// SignerSet is the reply of l1_validators: the validator set whose ML-DSA votes certify a
// height (CometBFT's set of the next height, docs/l1.md §9), so that a client that pinned the
// genesis set can follow the certified changes.
type SignerSet struct {
	From    uint64      // the height CometBFT uses the set from (its certificates are of From-1 on)
	Members []SetMember // in address order
	Hash    common.Hash // l1/qc's hash of the set: the ValSetHash of the headers it certifies
}

// ValidatorRecord is a validator in the chain's state (docs/l1.md §5, Validators).
type ValidatorRecord struct {
	Address      common.Address // of PQKey
	PQKey        []byte
	ConsensusKey []byte
	Power        uint64 // the stake in force: the engine's power since the last boundary (0: not yet in the set)
	Bonded       uint64 // the stake locked: slashable; at a boundary the part above Next unbonds
	Next         uint64 // the stake from the next boundary (0: leaves)
	Jailed       bool   // slashed: leaves at the next boundary and may not join again
}

// Unbonding is withdrawn stake waiting out the unbonding delay.
type Unbonding struct {
	Address   common.Address
	Amount    uint64
	ReleaseAt uint64
}

// ValidatorState is the validator state as stored under stateproof.ValidatorsKey() (l1/chain's
// Validators, the same RLP): what a client proves to show stakes and pending changes.
type ValidatorState struct {
	Records   []ValidatorRecord // in address order
	Unbonding []Unbonding       // in release order
}
