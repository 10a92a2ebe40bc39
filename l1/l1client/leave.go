package l1client

// Leave drops the current connection, though it still works, for the next endpoint (the redial
// loop dials the others first): a caller that caught the connected validator withholding or
// misreporting state uses it. reason and cause are logged with the endpoint. A disconnected
// client is left as it is.
func (c *Client) Leave(reason string, cause error) {
	rpc, err := c.conn()
	if err != nil {
		return
	}
	c.leave(rpc, reason, cause)
}
