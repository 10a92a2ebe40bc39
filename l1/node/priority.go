package node

import (
	"slices"

	"github.com/ethereum/go-ethereum/common"
)

// DefaultPriorityMinBalance is the L1 balance from which a key's connections may use the
// transport's reserved slots (quicrpc.ServerConfig.ReservedConnections).
const DefaultPriorityMinBalance = 1

// Priority returns the quicrpc.ServerConfig.Priority of this node: a key has priority when it
// is the validator's, a sequencer of a registered rollup (it has stake: its batches lock a bond),
// or holds at least minBalance on L1. Each call reads the chain (an account, the rollups); the
// server asks once per connection, at its first request. A read error means no priority.
func (n *Node) Priority(minBalance uint64) func(common.Address) bool {
	var validator *common.Address // none on a node under CometBFT started without its key
	if n.cfg.Key != nil {
		v := n.cfg.Key.Address()
		validator = &v
	}
	return func(a common.Address) bool {
		if validator != nil && a == *validator {
			return true
		}
		if acct, err := n.chain.Account(a); err == nil && acct.Balance >= max(minBalance, 1) {
			return true
		}
		count, err := n.chain.RollupCount()
		if err != nil {
			return false
		}
		for id := uint64(1); id <= count; id++ {
			if r, err := n.chain.Rollup(id); err == nil && slices.Contains(r.Config.Sequencers, a) {
				return true
			}
		}
		return false
	}
}
