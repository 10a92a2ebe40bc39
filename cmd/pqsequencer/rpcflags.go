package main

import (
	"flag"
	"fmt"

	"github.com/pqbridge/pqbridge/cmd/internal/keystore"
	"github.com/pqbridge/pqbridge/internal/rpcguard"
)

// rpcFlags are the JSON-RPC server's limits (rpcguard.Config; docs/sequencer.md, "JSON-RPC
// limits"). The defaults bound one client; the library's zero values do not cap per IP.
type rpcFlags struct {
	tokenFile string
}

func (r *rpcFlags) register(fs *flag.FlagSet, c *rpcguard.Config) {
	fs.IntVar(&c.MaxConns, "rpc-max-conns", rpcguard.DefaultMaxConns, "JSON-RPC connections open at once, all clients; one more is closed at accept")
	fs.IntVar(&c.MaxConnsPerIP, "rpc-max-conns-per-ip", 32, "JSON-RPC connections open at once from one IP address")
	fs.Float64Var(&c.Rate, "rpc-rate", 5000, "JSON-RPC requests (HTTP requests, WebSocket messages) per second from one IP address: HTTP beyond it gets 429, WebSocket is read slower; 0: no limit")
	fs.IntVar(&c.Burst, "rpc-burst", 0, "burst of -rpc-rate (0: twice the rate)")
	fs.IntVar(&c.BodyBytes, "rpc-body-limit", rpcguard.DefaultBodyBytes, "largest HTTP request body, bytes")
	fs.Int64Var(&c.WSMessageBytes, "rpc-ws-message-limit", rpcguard.DefaultWSMessageBytes, "largest WebSocket message, bytes; a larger one closes the connection")
	fs.IntVar(&c.WSPending, "rpc-ws-pending", rpcguard.DefaultWSPending, "WebSocket requests read but not yet answered, per connection; the connection is not read beyond it")
	fs.IntVar(&c.BatchItems, "rpc-batch-items", rpcguard.DefaultBatchItems, "calls in one JSON-RPC batch; a larger batch gets one error")
	fs.IntVar(&c.BatchResponseBytes, "rpc-batch-response-limit", rpcguard.DefaultBatchResponseBytes, "bytes of one batch's answer; the calls after it get an error")
	fs.DurationVar(&c.ReadHeaderTimeout, "rpc-read-header-timeout", rpcguard.DefaultReadHeaderTimeout, "time to read an HTTP request's headers")
	fs.DurationVar(&c.ReadTimeout, "rpc-read-timeout", rpcguard.DefaultReadTimeout, "time to read a whole HTTP request")
	fs.DurationVar(&c.WriteTimeout, "rpc-write-timeout", rpcguard.DefaultWriteTimeout, "time to write an HTTP answer")
	fs.DurationVar(&c.IdleTimeout, "rpc-idle-timeout", rpcguard.DefaultIdleTimeout, "an idle keep-alive HTTP connection is closed after this")
	fs.DurationVar(&c.WSWriteTimeout, "rpc-ws-write-timeout", rpcguard.DefaultWSWriteTimeout, "a WebSocket client that does not take an answer within this is disconnected")
	fs.DurationVar(&c.WSPingInterval, "rpc-ws-ping-interval", rpcguard.DefaultWSPingInterval, "WebSocket connections are pinged this often; one silent (no message, no pong) for two intervals plus -rpc-ws-write-timeout is closed")
	fs.StringVar(&c.TLSCert, "rpc-tls-cert", "", "PEM certificate: serve JSON-RPC over HTTPS and WSS (with -rpc-tls-key)")
	fs.StringVar(&c.TLSKey, "rpc-tls-key", "", "PEM private key of -rpc-tls-cert")
	fs.StringVar(&r.tokenFile, "rpc-admin-token-file", "", "file (mode 0600) holding the bearer token the devnet_ namespace needs (Authorization: Bearer TOKEN); empty: no token")
}

// load reads the admin token file into c.
func (r *rpcFlags) load(c *rpcguard.Config) error {
	if r.tokenFile == "" {
		return nil
	}
	tok, err := keystore.ReadTokenFile(r.tokenFile)
	if err != nil {
		return fmt.Errorf("-rpc-admin-token-file: %w", err)
	}
	c.AdminToken = tok
	return nil
}
