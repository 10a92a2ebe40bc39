package quicrpc

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// Defaults of ServerConfig and ClientConfig; each has the reason it is that size.
const (
	DefaultMaxMessageSize       = 4 << 20 // a batch's compressed data plus envelope; far above a settlement message
	DefaultMaxConcurrentStreams = 64      // per connection; below replayWindowSize so concurrent calls never look replayed
	DefaultRequestsPerSecond    = 1000    // per connection; one client at full speed does ~1000 signed calls/s on one core
	DefaultRequestBurst         = 200
	DefaultMaxConnections       = 1024
	DefaultReservedConnections  = 256 // a quarter of the slots held only by keys with stake or balance
	DefaultMaxConnsPerAddr      = 32  // one host: a few daemons and wallets, or a small NAT
	DefaultMaxConnsPerKey       = 8   // l1client keeps one connection; a daemon restarting overlaps a few
	DefaultMaxStreamsPerAddr    = 256 // concurrent calls+subscriptions of one host, over all its connections
	DefaultHandshakesPerSecond  = 4   // per source address, token bucket: a redialing client needs < 1/s
	DefaultHandshakeBurst       = 32  // = DefaultMaxConnsPerAddr: a host may open its share at once
	DefaultMaxTrackedAddrs      = 1 << 16
	DefaultFirstRequestTimeout  = 5 * time.Second // Dial sends its first signed request at once
	DefaultMaxSendersPerConn    = 16              // a connection normally carries one sender key; a relay a few
	DefaultKeyCacheSize         = 1024            // ~38 KB per parsed ML-DSA-65 key: ~40 MB at most
	DefaultHandshakeTimeout     = 5 * time.Second
	DefaultIdleTimeout          = 30 * time.Second
	DefaultRequestTimeout       = 10 * time.Second
)

// ServerConfig configures a Server. Zero limits and timeouts take the defaults above.
type ServerConfig struct {
	ListenAddr     string            // UDP host:port; port 0 picks a free one (see Server.Addr)
	ValidatorKey   *pqkey.PrivateKey // signs every response and event
	ChainID        uint64            // requests for any other chain are rejected
	TLSCertificate *tls.Certificate  // nil: a fresh self-signed one (the certificate is not the identity)

	MaxMessageSize       int     // largest request frame, checked before reading it
	MaxConcurrentStreams int     // per connection (QUIC stream credit): calls plus subscriptions
	RequestsPerSecond    float64 // per connection, token bucket
	RequestBurst         int
	MaxConnections       int
	MaxSendersPerConn    int // distinct sender keys one connection may use

	// Admission (admission.go). Priority says whether a key has stake or an L1 balance: only
	// such keys may hold the ReservedConnections slots; nil: no key has priority.
	ReservedConnections int
	MaxConnsPerAddr     int // per source IP (IPv6: per /64), handshaking ones included
	MaxConnsPerKey      int // per sender key of the connection's first request
	MaxStreamsPerAddr   int // concurrent streams over all of a source address's connections
	HandshakesPerSecond float64
	HandshakeBurst      int
	MaxTrackedAddrs     int // source addresses with state (counts, handshake bucket) at once
	FirstRequestTimeout time.Duration
	Priority            func(key common.Address) bool
	KeyCacheSize        int // parsed sender keys kept server-wide

	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	RequestTimeout   time.Duration // reading a request, running its handler, writing each message

	Logger *slog.Logger // nil: discard

	// The benchmarks replace the ML-DSA-65 envelope signatures with an Ed25519 baseline.
	signer signer
	scheme *scheme
}

func (c *ServerConfig) setDefaults() {
	setDefault(&c.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&c.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
	setDefault(&c.RequestsPerSecond, DefaultRequestsPerSecond)
	setDefault(&c.RequestBurst, DefaultRequestBurst)
	setDefault(&c.MaxConnections, DefaultMaxConnections)
	setDefault(&c.MaxSendersPerConn, DefaultMaxSendersPerConn)
	setDefault(&c.KeyCacheSize, DefaultKeyCacheSize)
	setDefault(&c.ReservedConnections, DefaultReservedConnections)
	setDefault(&c.MaxConnsPerAddr, DefaultMaxConnsPerAddr)
	setDefault(&c.MaxConnsPerKey, DefaultMaxConnsPerKey)
	setDefault(&c.MaxStreamsPerAddr, DefaultMaxStreamsPerAddr)
	setDefault(&c.HandshakesPerSecond, DefaultHandshakesPerSecond)
	setDefault(&c.HandshakeBurst, DefaultHandshakeBurst)
	setDefault(&c.MaxTrackedAddrs, DefaultMaxTrackedAddrs)
	setDefault(&c.FirstRequestTimeout, DefaultFirstRequestTimeout)
	c.ReservedConnections = min(c.ReservedConnections, c.MaxConnections)
	setDefault(&c.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&c.IdleTimeout, DefaultIdleTimeout)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.scheme == nil {
		c.scheme = mldsa65
	}
}

func setDefault[T int | float64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}
