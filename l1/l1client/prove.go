package l1client

import (
	"context"
	"fmt"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// ProveState fetches keys of the L1 state at height (0: the newest certified height the node
// holds) with their proofs and the height's certificate (l1_proveState), and decodes the reply
// within stateproof's bounds. It verifies nothing: the caller checks the certificate of
// (Height, AppHash) against the validator set it pinned and the entries with
// Reply.VerifyEntries (docs/l1.md §9).
func (c *Client) ProveState(ctx context.Context, height uint64, keys [][]byte) (*stateproof.Reply, error) {
	req := stateproof.Request{Height: height, Keys: keys}
	if err := req.Check(); err != nil {
		return nil, fmt.Errorf("l1client: %s: %w", l1api.MethodProveState, err)
	}
	var r stateproof.Reply
	if err := c.call(ctx, l1api.MethodProveState, &req, &r); err != nil {
		return nil, err
	}
	if err := r.Check(); err != nil {
		return nil, fmt.Errorf("l1client: %s: %w", l1api.MethodProveState, err)
	}
	return &r, nil
}
