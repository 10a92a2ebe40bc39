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
