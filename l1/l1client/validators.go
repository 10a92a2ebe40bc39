package l1client

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/qc"
)

// Validators returns the validator set whose votes certify height (l1_validators, docs/l1.md
// §9), ready for qc.Certificate.Verify, and the height it is in force from. The reply's hash
// must be its members' hash. The members are the asked validator's word: to trust a change, a
// client proves them with ProveState of stateproof.ValidatorSetKey(from) at the boundary height
// from-2, whose certificate the previous set signs. chain.ErrNotFound from a single-validator
// node.
func (c *Client) Validators(ctx context.Context, height uint64) (*qc.ValidatorSet, uint64, error) {
	var s l1api.SignerSet
	if err := c.call(ctx, l1api.MethodValidators, height, &s); err != nil {
		return nil, 0, err
	}
	set, err := signerSet(s.Members)
	if err != nil {
		return nil, 0, fmt.Errorf("l1client: validator set of height %d: %w", height, err)
	}
	if set.Hash() != s.Hash {
		return nil, 0, fmt.Errorf("l1client: validator set of height %d: members hash to %s, the reply says %s", height, set.Hash(), s.Hash)
	}
	return set, s.From, nil
}
