package node

import "github.com/pqbridge/pqbridge/l1/chain"

// MethodDelayed is l1_delayed: WithdrawalRef -> chain.WithdrawalStatus, where a withdrawal stands:
// unclaimed, paid by its claim, or held in the governor's delay queue until a height and then
// released (l1_claimed is true only once funds moved).
const MethodDelayed = "l1_delayed"

// Withdrawal returns the status of a withdrawal of a batch's list (chain.Chain.Withdrawal).
func (n *Node) Withdrawal(id, number, k uint64) (*chain.WithdrawalStatus, error) {
	return n.chain.Withdrawal(id, number, k)
}
