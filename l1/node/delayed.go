package node

import (
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

const MethodDelayed = l1api.MethodDelayed

// Withdrawal returns the status of a withdrawal of a batch's list (chain.Chain.Withdrawal).
func (n *Node) Withdrawal(id, number, k uint64) (*chain.WithdrawalStatus, error) {
	return n.chain.Withdrawal(id, number, k)
}
