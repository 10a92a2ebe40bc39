package l1client

import (
	"context"
	"fmt"
	"time"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// DefaultStallTimeout is Config.StallTimeout's default with a validator set: ten times the
// block time of CometBFT's default timeout_commit (1 s). A node whose head stands still that
// long has lost its peers or is stuck; another validator may be making blocks.
const DefaultStallTimeout = 10 * time.Second

// watchStall polls the connected node's head every quarter of the stall timeout and leaves
// the node for the next endpoint when the head has not advanced for StallTimeout (an
// unanswered status counts as not advancing). A new connection starts its clock afresh.
func (c *Client) watchStall(ctx context.Context) {
	defer c.watchers.Done()
	period := max(c.cfg.StallTimeout/4, 10*time.Millisecond)
	tick := time.NewTicker(period)
	defer tick.Stop()
	var (
		rpc    *quicrpc.Client
		height uint64
		since  time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		cur, err := c.conn()
		if err != nil {
			rpc = nil
			continue
		}
		if cur != rpc {
			rpc, height, since = cur, 0, time.Now()
		}
		// A slow answer still counts if it shows progress; one that never comes ends with the
		// stall timeout, after which the node has stalled anyway.
		if h, ok := c.head(ctx, rpc, c.cfg.StallTimeout); ok && h > height {
			height, since = h, time.Now()
			continue
		}
		if stalled := time.Since(since); stalled >= c.cfg.StallTimeout {
			c.leave(rpc, "head stalled", fmt.Errorf("head at height %d for %s", height, stalled.Round(time.Millisecond)))
			rpc = nil
		}
	}
}

// head reads the head height over rpc, bounded by timeout; ok is false when it did not answer.
func (c *Client) head(ctx context.Context, rpc *quicrpc.Client, timeout time.Duration) (uint64, bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	b, err := rpc.Call(ctx, l1api.MethodStatus, nil)
	if err != nil {
		c.log.Debug("l1 head poll failed", "err", c.failed(rpc, err))
		return 0, false
	}
	var st l1api.StatusReply
	if err := rlp.DecodeBytes(b, &st); err != nil {
		return 0, false
	}
	return st.Height, true
}

// leave drops a connection that still works but does not serve (stalled), for the next endpoint.
func (c *Client) leave(rpc *quicrpc.Client, reason string, cause error) {
	c.mu.Lock()
	if c.rpc == rpc {
		c.drop(reason, cause)
	}
	c.mu.Unlock()
	if err := rpc.Close(); err != nil {
		c.log.Debug("closing the stalled connection", "err", err)
	}
}
