// Package rpcguard serves a go-ethereum rpc.Server over HTTP and WebSocket on one listener with
// bounded resources per client: HTTP timeouts, a connection cap (total and per source IP) that
// refuses at accept, per-IP request rate limits (token buckets), body, message and batch size
// limits, a bound on WebSocket requests read but not yet answered (a client that does not read
// its answers is disconnected, not buffered), optional TLS and a bearer token for the admin
// namespaces. Every refusal is counted by reason (Refusals).
package rpcguard

import (
	"errors"
	"time"
)

// Defaults of Config (docs/sequencer.md, "JSON-RPC limits").
const (
	DefaultMaxConns           = 1024
	DefaultBodyBytes          = 1 << 20
	DefaultWSMessageBytes     = 1 << 20
	DefaultWSPending          = 64
	DefaultBatchItems         = 100
	DefaultBatchResponseBytes = 1 << 20
	DefaultReadHeaderTimeout  = 5 * time.Second
	DefaultReadTimeout        = 30 * time.Second
	DefaultWriteTimeout       = 30 * time.Second
	DefaultIdleTimeout        = 120 * time.Second
	DefaultWSWriteTimeout     = 10 * time.Second
	DefaultWSPingInterval     = 30 * time.Second
)

// Config bounds what one client can hold. Zero values take the defaults in brackets.
type Config struct {
	MaxConns      int     // open connections, all clients [DefaultMaxConns]; beyond it a new one is closed at accept
	MaxConnsPerIP int     // open connections per source IP [0: only MaxConns]
	Rate          float64 // requests (HTTP requests, WebSocket messages) per second per source IP [0: no limit]
	Burst         int     // token bucket size of Rate [2*Rate, at least 1]

	BodyBytes          int   // HTTP request body [DefaultBodyBytes]
	WSMessageBytes     int64 // one WebSocket message [DefaultWSMessageBytes]; a larger one closes the connection
	WSPending          int   // WebSocket requests read but not answered, per connection [DefaultWSPending]
	BatchItems         int   // calls in one batch [DefaultBatchItems]
	BatchResponseBytes int   // bytes of one batch's answer, further calls get an error [DefaultBatchResponseBytes]

	ReadHeaderTimeout time.Duration // [DefaultReadHeaderTimeout]
	ReadTimeout       time.Duration // whole HTTP request [DefaultReadTimeout]
	WriteTimeout      time.Duration // HTTP answer [DefaultWriteTimeout]
	IdleTimeout       time.Duration // keep-alive HTTP connection between requests [DefaultIdleTimeout]
	// WSWriteTimeout: a WebSocket answer the client has not taken within it closes the connection
	// [DefaultWSWriteTimeout].
	WSWriteTimeout time.Duration
	// WSPingInterval: a WebSocket connection is pinged this often, and one from which nothing
	// (a message, a pong) came for two intervals plus WSWriteTimeout is closed: a dead or idle
	// peer does not keep its slot [DefaultWSPingInterval].
	WSPingInterval time.Duration

	// AdminToken, if set, is the bearer token (Authorization: Bearer <token>) a request needs to
	// reach the namespaces registered with RegisterAdmin; without it they are "method not found".
	// Empty: they are served to everyone.
	AdminToken string
	// TLSCert and TLSKey (PEM files, both or neither) serve HTTPS and WSS instead of plain text.
	TLSCert, TLSKey string
}

func (c *Config) defaults() error {
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("rpcguard: a TLS certificate needs its key and the other way round")
	}
	if c.MaxConnsPerIP < 0 || c.MaxConns < 0 || c.Rate < 0 || c.Burst < 0 || c.WSPending < 0 {
		return errors.New("rpcguard: negative limit")
	}
	setDefault(&c.MaxConns, DefaultMaxConns)
	if c.MaxConnsPerIP == 0 || c.MaxConnsPerIP > c.MaxConns {
		c.MaxConnsPerIP = c.MaxConns
	}
	if c.Burst == 0 {
		c.Burst = max(1, int(2*c.Rate))
	}
	setDefault(&c.BodyBytes, DefaultBodyBytes)
	setDefault(&c.WSMessageBytes, DefaultWSMessageBytes)
	setDefault(&c.WSPending, DefaultWSPending)
	setDefault(&c.BatchItems, DefaultBatchItems)
	setDefault(&c.BatchResponseBytes, DefaultBatchResponseBytes)
	setDefault(&c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	setDefault(&c.ReadTimeout, DefaultReadTimeout)
	setDefault(&c.WriteTimeout, DefaultWriteTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.WSWriteTimeout, DefaultWSWriteTimeout)
	setDefault(&c.WSPingInterval, DefaultWSPingInterval)
	return nil
}

func setDefault[T int | int64 | time.Duration](v *T, d T) {
	if *v <= 0 {
		*v = d
	}
}
