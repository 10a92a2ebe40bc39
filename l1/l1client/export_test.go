package l1client

import (
	"context"
	"time"

	"github.com/pqbridge/pqbridge/l1/chain"
)

// CallRaw sends a payload as it is, for the tests of what the node rejects.
func CallRaw(ctx context.Context, c *Client, method string, payload []byte) error {
	return c.callRaw(ctx, method, payload, nil)
}

// SubscribeRaw starts an event subscription with a payload as it is (it does not resubscribe).
func SubscribeRaw(ctx context.Context, c *Client, payload []byte) (*Events, error) {
	ctx, cancel := context.WithCancel(ctx)
	e := &Events{c: c, ctx: ctx, cancel: cancel, raw: payload}
	if err := e.subscribe(); err != nil {
		cancel()
		return nil, err
	}
	return e, nil
}

// Backoff is backoff, for the test of its bounds.
func Backoff(attempt int, lo, hi time.Duration, r func(n int64) int64) time.Duration {
	return backoff(attempt, lo, hi, r)
}

// Unseen is what a stream that delivered last keeps of a resubscription's first message.
func Unseen(last *chain.Event, evs []chain.Event) []chain.Event {
	e := &Events{last: last}
	return e.unseen(evs)
}
