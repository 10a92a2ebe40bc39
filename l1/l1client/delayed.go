package l1client

import (
	"context"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

// Withdrawal returns where entry index of batch number's withdrawal list stands (l1_delayed):
// unclaimed, paid, or held in the governor's delay queue until a height and then released.
func (c *Client) Withdrawal(ctx context.Context, rollupID, number, index uint64) (*l1api.WithdrawalStatus, error) {
	var s l1api.WithdrawalStatus
	if err := c.call(ctx, l1api.MethodDelayed, l1api.WithdrawalRef{RollupID: rollupID, Batch: number, Index: index}, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
