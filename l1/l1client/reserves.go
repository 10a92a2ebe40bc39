package l1client

import (
	"context"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

// Reserves returns a rollup's proof-of-reserves figures and their derivation (l1_reserves).
func (c *Client) Reserves(ctx context.Context, rollupID uint64) (*l1api.Reserves, error) {
	var v l1api.Reserves
	if err := c.call(ctx, l1api.MethodReserves, rollupID, &v); err != nil {
		return nil, err
	}
	return &v, nil
}
