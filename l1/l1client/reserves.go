package l1client

import (
	"context"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/node"
)

// Reserves returns a rollup's proof-of-reserves figures and their derivation (l1_reserves).
func (c *Client) Reserves(ctx context.Context, rollupID uint64) (*chain.Reserves, error) {
	var v chain.Reserves
	if err := c.call(ctx, node.MethodReserves, rollupID, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
