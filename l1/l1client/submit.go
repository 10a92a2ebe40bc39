package l1client

import (
	"context"
	"errors"
	"fmt"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

// SubmitTx sends a signed raw transaction (chain.SignTx) to the connected node and returns its
// hash once the node has acknowledged it: it is in the node's durable mempool log and survives a
// crash (under CometBFT the node gossips it to the proposers). Its outcome is in the receipts of
// the block that includes it. l1api.ErrKnownTx comes with the hash: the transaction was
// acknowledged before.
//
// When the connection fails under the submission (the node may or may not have it), the same
// raw transaction is sent again over the next connection, to the next endpoint, up to once per
// endpoint: it is idempotent (same bytes, same hash, one nonce), and a node that already has it
// answers ErrKnownTx, which then counts as the acknowledgement. Without a connection at the
// start it fails at once with ErrDisconnected, as every call does.
func (c *Client) SubmitTx(ctx context.Context, raw []byte) (common.Hash, error) {
	want := crypto.Keccak256Hash(raw)
	for attempt := 0; ; attempt++ {
		var h common.Hash
		err := c.callRaw(ctx, l1api.MethodSubmitTx, raw, &h)
		switch {
		case err == nil && h != want:
			return common.Hash{}, fmt.Errorf("l1client: %s: node acknowledged %s, sent %s", l1api.MethodSubmitTx, h, want)
		case err == nil:
			return h, nil
		case errors.Is(err, l1api.ErrKnownTx) && attempt > 0:
			return want, nil // acknowledged by the connection that failed, or gossiped here since
		case errors.Is(err, l1api.ErrKnownTx):
			return want, err
		}
		var de *DisconnectedError
		if !errors.As(err, &de) || !de.lost || attempt+1 >= len(c.cfg.Addrs) {
			return common.Hash{}, err
		}
		c.log.Warn("l1 submission lost with its connection, sending it to the next endpoint",
			"tx", want, "endpoint", de.Endpoint, "err", de.Err)
		wctx, cancel := context.WithTimeout(ctx, dialTimeout)
		werr := c.WaitConnected(wctx)
		cancel()
		if werr != nil {
			return common.Hash{}, fmt.Errorf("%w (then: %w)", err, werr)
		}
	}
}
