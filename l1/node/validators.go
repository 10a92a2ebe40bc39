package node

import (
	"fmt"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// SignerSet is the reply of l1_validators (package l1api).
type SignerSet = l1api.SignerSet

// Signers returns the set that certifies height; chain.ErrNotFound on a chain without a
// validator set (the single-validator node).
func (n *Node) Signers(height uint64) (*SignerSet, error) {
	from, members, err := n.chain.ValidatorSetAt(height + 1)
	if err != nil {
		return nil, err
	}
	vals := make([]qc.Validator, len(members))
	for i, m := range members {
		k, err := pqkey.ParsePublicKey(m.PQKey)
		if err != nil {
			return nil, fmt.Errorf("%w: validator set from %d: %w", chain.ErrCorruptStore, from, err)
		}
		vals[i] = qc.Validator{Key: k, Power: m.Power}
	}
	set, err := qc.NewValidatorSet(vals)
	if err != nil {
		return nil, fmt.Errorf("%w: validator set from %d: %w", chain.ErrCorruptStore, from, err)
	}
	return &SignerSet{From: from, Members: members, Hash: set.Hash()}, nil
}
