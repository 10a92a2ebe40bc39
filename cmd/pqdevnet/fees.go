package main

import (
	"context"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1api"
)

// checkPaidOut checks that name's (who's) L1 balance is before's plus amount, less the fees its own
// transactions paid in the blocks after height from (what says which: "the claim's fee"): what a
// claim or a release leaves on alice's account.
func (n *network) checkPaidOut(ctx context.Context, name string, who common.Address, before l1api.Account, from, amount uint64, what string) error {
	after, err := n.l1.Account(ctx, who)
	if err != nil {
		return err
	}
	fee, err := n.feesPaid(ctx, who, from)
	if err != nil {
		return err
	}
	if after.Balance+fee != before.Balance+amount {
		return fmt.Errorf("%s's L1 balance went from %d to %d, want +%d less %s %d", name, before.Balance,
			after.Balance, amount, what, fee)
	}
	return nil
}

// feesPaid sums the L1 fees (docs/l1.md §5.1) that from's transactions paid in the blocks after
// height after, up to the head: what the demo's balance checks take off.
func (n *network) feesPaid(ctx context.Context, from common.Address, after uint64) (uint64, error) {
	st, err := n.l1.Status(ctx)
	if err != nil {
		return 0, err
	}
	var total uint64
	for h := after + 1; h <= st.Height; h++ {
		b, err := n.l1.Block(ctx, h)
		if err != nil {
			return 0, err
		}
		for _, raw := range b.Txs {
			tx, err := chain.DecodeTx(raw, l1ChainID)
			if err != nil || tx.Sender != from {
				continue // an envelope failure pays nothing
			}
			fee, err := st.Fees.TxFee(tx)
			if err != nil {
				return 0, fmt.Errorf("fee of %s in block %d: %w", tx.Hash, h, err)
			}
			total += fee
		}
	}
	return total, nil
}
