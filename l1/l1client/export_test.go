package l1client

import "context"

// CallRaw sends a payload as it is, for the tests of what the node rejects.
func CallRaw(ctx context.Context, c *Client, method string, payload []byte) error {
	return c.callRaw(ctx, method, payload, nil)
}

// SubscribeRaw starts an event subscription with a payload as it is.
func SubscribeRaw(ctx context.Context, c *Client, method string, payload []byte) (*Events, error) {
	sub, err := c.rpc.Subscribe(ctx, method, payload)
	if err != nil {
		return nil, remoteError(method, err)
	}
	return &Events{sub: sub}, nil
}
