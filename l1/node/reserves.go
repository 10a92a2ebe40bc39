package node

import (
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

const MethodReserves = l1api.MethodReserves

// Reserves returns rollup id's reserve figures. A broken equation (the chain halts on it after
// the block) is reported in the figures: Holds false, the derivation saying what broke.
func (n *Node) Reserves(id uint64) (*chain.Reserves, error) {
	v, err := n.chain.Reserves(id)
	if v != nil {
		return v, nil
	}
	return nil, err
}
