package node

import "github.com/pqbridge/pqbridge/l1/chain"

// MethodReserves is l1_reserves: rollup ID u64 -> chain.Reserves, the rollup's proof-of-reserves
// figures (escrow = unconsumed deposits + L2 supply at the last final root + unclaimed
// withdrawals + the delay queue) with their derivation; one rollup's fixed set of figures and
// one line of text, so the reply is bounded.
const MethodReserves = "l1_reserves"

// Reserves returns rollup id's reserve figures. A broken equation (the chain halts on it after
// the block) is reported in the figures: Holds false, the derivation saying what broke.
func (n *Node) Reserves(id uint64) (*chain.Reserves, error) {
	v, err := n.chain.Reserves(id)
	if v != nil {
		return v, nil
	}
	return nil, err
}
