package main

import (
	"errors"
	"flag"
	"log/slog"
	"time"

	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// transportFlags are the QUIC server's limits (docs/l1.md §6.3); 0 takes quicrpc's default.
type transportFlags struct {
	maxConns, reservedConns, connsPerAddr, connsPerKey int
	streamsPerConn, streamsPerAddr                     int
	handshakeRate, requestRate                         float64
	handshakeBurst                                     int
	idleTimeout, firstRequestTimeout                   time.Duration
	priorityMinBalance                                 uint64
}

func (f *transportFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&f.maxConns, "max-conns", quicrpc.DefaultMaxConnections, "QUIC connections open or handshaking at once")
	fs.IntVar(&f.reservedConns, "reserved-conns", quicrpc.DefaultReservedConnections,
		"connection slots only keys with stake or an L1 balance (>= --priority-min-balance) may hold; below --max-conns")
	fs.IntVar(&f.connsPerAddr, "max-conns-per-addr", quicrpc.DefaultMaxConnsPerAddr, "connections per source IP (IPv6: per /64)")
	fs.IntVar(&f.connsPerKey, "max-conns-per-key", quicrpc.DefaultMaxConnsPerKey, "connections per client key (the key of a connection's first request)")
	fs.IntVar(&f.streamsPerConn, "max-streams-per-conn", quicrpc.DefaultMaxConcurrentStreams, "concurrent calls and subscriptions per connection")
	fs.IntVar(&f.streamsPerAddr, "max-streams-per-addr", quicrpc.DefaultMaxStreamsPerAddr, "concurrent calls and subscriptions per source IP, over all its connections")
	fs.Float64Var(&f.handshakeRate, "handshake-rate", quicrpc.DefaultHandshakesPerSecond, "new connections per second per source IP (token bucket)")
	fs.IntVar(&f.handshakeBurst, "handshake-burst", quicrpc.DefaultHandshakeBurst, "new connections a source IP may open at once")
	fs.Float64Var(&f.requestRate, "request-rate", quicrpc.DefaultRequestsPerSecond, "requests per second per connection (token bucket)")
	fs.DurationVar(&f.idleTimeout, "idle-timeout", quicrpc.DefaultIdleTimeout, "a connection silent this long is closed (clients keep alive at a third of it)")
	fs.DurationVar(&f.firstRequestTimeout, "first-request-timeout", quicrpc.DefaultFirstRequestTimeout, "a connection that sends no signed request this long after its handshake is closed")
	fs.Uint64Var(&f.priorityMinBalance, "priority-min-balance", node.DefaultPriorityMinBalance,
		"L1 balance from which a key may use the reserved connection slots (the validator and rollup sequencers always may)")
}

// serverConfig checks the flags and returns the server's configuration.
func (f *transportFlags) serverConfig(listen string, n *node.Node, log *slog.Logger) (quicrpc.ServerConfig, error) {
	for _, v := range []int{f.maxConns, f.reservedConns, f.connsPerAddr, f.connsPerKey, f.streamsPerConn, f.streamsPerAddr, f.handshakeBurst} {
		if v < 0 {
			return quicrpc.ServerConfig{}, errors.New("transport limits: a connection or stream limit is negative")
		}
	}
	if f.handshakeRate < 0 || f.requestRate < 0 || f.idleTimeout < 0 || f.firstRequestTimeout < 0 {
		return quicrpc.ServerConfig{}, errors.New("transport limits: a rate or timeout is negative")
	}
	maxConns := f.maxConns
	if maxConns == 0 {
		maxConns = quicrpc.DefaultMaxConnections
	}
	if f.reservedConns >= maxConns {
		return quicrpc.ServerConfig{}, errors.New("--reserved-conns must be below --max-conns: keys without balance need some slots")
	}
	return quicrpc.ServerConfig{ListenAddr: listen, Logger: log,
		MaxConnections: f.maxConns, ReservedConnections: f.reservedConns, MaxConnsPerAddr: f.connsPerAddr,
		MaxConnsPerKey: f.connsPerKey, MaxConcurrentStreams: f.streamsPerConn, MaxStreamsPerAddr: f.streamsPerAddr,
		HandshakesPerSecond: f.handshakeRate, HandshakeBurst: f.handshakeBurst, RequestsPerSecond: f.requestRate,
		IdleTimeout: f.idleTimeout, FirstRequestTimeout: f.firstRequestTimeout,
		Priority: n.Priority(f.priorityMinBalance)}, nil
}
