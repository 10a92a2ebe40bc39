package l1client

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

// L2Key returns the ML-DSA-65 public key a deposit registered in a rollup under the key hash kh
// (l2.MLDSAKeyHash); l1api.ErrNotFound if no deposit registered it. The key is checked against
// kh: a reply that does not hash to it is an error.
func (c *Client) L2Key(ctx context.Context, rollupID uint64, kh [32]byte) ([]byte, error) {
	var pub []byte
	if err := c.call(ctx, l1api.MethodL2Key, l1api.L2KeyRef{RollupID: rollupID, KH: kh}, &pub); err != nil {
		return nil, err
	}
	if got := l2.MLDSAKeyHash(pub); got.Bytes() != kh {
		return nil, fmt.Errorf("l1client: l1_l2Key: the reply for %x is a key of another hash", kh)
	}
	return pub, nil
}
