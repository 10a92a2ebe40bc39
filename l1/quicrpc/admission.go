package quicrpc

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quic-go/quic-go"
)

// Connection admission, in the order a connection meets it (docs/l1.md §6.3):
//
//  1. Before the handshake (quic.Transport.ConnContext, so a refusal costs no key exchange and
//     no signature): the server's MaxConnections, the source address's MaxConnsPerAddr and its
//     handshake token bucket. The client sees a QUIC CONNECTION_REFUSED (ErrRefused).
//  2. At the connection's first signed request (Dial sends one at once), which names its key:
//     the key's MaxConnsPerKey and the reserved share. A key for which Priority is false
//     (no stake or L1 balance) is admitted only while fewer than MaxConnections -
//     ReservedConnections such connections are open; the rest of the slots are only ever held for
//     long by keys for which Priority is true. A connection that sends no signed request within
//     FirstRequestTimeout is closed, so unclassified connections hold slots only briefly.
//
// Refusals are counted by reason (Server.ConnRefusals, Server.StreamRefusals). A refusal before
// the handshake is counted per Initial packet: quic-go keeps no state for a refused attempt, and a
// client's X25519MLKEM768 ClientHello (its key share alone is 1,216 bytes) spans two Initial
// packets, so one refused dial usually counts twice.

// Reasons a connection or a stream is refused, as the metrics label them.
const (
	ReasonServerFull     = "server_full"         // MaxConnections open or handshaking
	ReasonPerAddr        = "per_address"         // MaxConnsPerAddr from the source address
	ReasonHandshakeRate  = "handshake_rate"      // the source address's handshake bucket is empty
	ReasonAddrTable      = "address_table_full"  // MaxTrackedAddrs addresses tracked
	ReasonPerKey         = "per_key"             // MaxConnsPerKey for the first request's key
	ReasonReserved       = "reserved_for_funded" // the general pool is full; the rest is reserved
	ReasonNoRequest      = "no_request"          // no signed request within FirstRequestTimeout
	ReasonStreamsPerAddr = "streams_per_address" // MaxStreamsPerAddr concurrent streams
	ReasonRequestRate    = "request_rate"        // the connection's request bucket is empty
)

const (
	addrSweepInterval  = time.Second      // the address table is swept at most this often when full
	refusalLogInterval = 30 * time.Second // refusals of one reason are logged at most this often
	ipv6PrefixBits     = 64               // IPv6 sources are counted per /64: one host owns a whole one
)

var connReasons = []string{ReasonServerFull, ReasonPerAddr, ReasonHandshakeRate, ReasonAddrTable,
	ReasonPerKey, ReasonReserved, ReasonNoRequest}

var streamReasons = []string{ReasonStreamsPerAddr, ReasonRequestRate}

// admission holds the per-address and per-key counts of one server.
type admission struct {
	cfg *ServerConfig

	mu        sync.Mutex
	open      int // connections from ConnContext until closed, handshaking ones included
	general   int // classified connections whose key has no priority
	byAddr    map[netip.Addr]*addrState
	byKey     map[common.Address]int
	lastSweep time.Time

	refused map[string]*atomic.Uint64 // fixed keys: connReasons and streamReasons

	logMu     sync.Mutex
	lastLog   map[string]time.Time // per reason: when a refusal was last logged
	sinceLast map[string]uint64    // per reason: refusals not logged since
}

// addrState is what one source address holds.
type addrState struct {
	conns      int
	streams    int
	handshakes *tokenBucket
}

// peerAdmission is a connection's admission state; guarded by admission.mu.
type peerAdmission struct {
	addr       netip.Addr
	classified atomic.Bool
	key        common.Address
	priority   bool
}

func newAdmission(cfg *ServerConfig) *admission {
	a := &admission{cfg: cfg, byAddr: make(map[netip.Addr]*addrState), byKey: make(map[common.Address]int),
		refused: make(map[string]*atomic.Uint64), lastLog: make(map[string]time.Time), sinceLast: make(map[string]uint64)}
	for _, r := range append(append([]string{}, connReasons...), streamReasons...) {
		a.refused[r] = new(atomic.Uint64)
	}
	return a
}

// sourceAddr is the unit per-address limits count: the IP, or the /64 of an IPv6 address.
func sourceAddr(addr net.Addr) netip.Addr {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.UDPAddr:
		ip = a.AddrPort().Addr().Unmap()
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return netip.Addr{}
		}
		ip = ap.Addr().Unmap()
	}
	if ip.Is6() {
		if p, err := ip.Prefix(ipv6PrefixBits); err == nil {
			return p.Addr()
		}
	}
	return ip
}

func (a *admission) refuse(reason string, src netip.Addr) error {
	a.count(reason, src)
	return fmt.Errorf("%w: %s", ErrRefused, reason)
}

// count counts a refusal and logs it, at most once per refusalLogInterval for each reason
// (with how many went unlogged): a flood must not flood the log too.
func (a *admission) count(reason string, src netip.Addr) {
	a.refused[reason].Add(1)
	a.logMu.Lock()
	defer a.logMu.Unlock()
	a.sinceLast[reason]++
	if now := time.Now(); now.Sub(a.lastLog[reason]) >= refusalLogInterval {
		a.cfg.Logger.Warn("quicrpc: refusing connections", "reason", reason, "source", src,
			"refused_since_last_log", a.sinceLast[reason], "total", a.refused[reason].Load())
		a.lastLog[reason], a.sinceLast[reason] = now, 0
	}
}

// connContext is the transport's ConnContext: it admits a connection attempt before its
// handshake, and releases what it counted when the connection ends.
func (a *admission) connContext(ctx context.Context, info *quic.ClientInfo) (context.Context, error) {
	src := sourceAddr(info.RemoteAddr)
	now := time.Now()
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.open >= a.cfg.MaxConnections {
		return nil, a.refuse(ReasonServerFull, src)
	}
	st := a.byAddr[src]
	if st == nil {
		if len(a.byAddr) >= a.cfg.MaxTrackedAddrs && now.Sub(a.lastSweep) >= addrSweepInterval {
			a.sweep(now)
		}
		if len(a.byAddr) >= a.cfg.MaxTrackedAddrs {
			return nil, a.refuse(ReasonAddrTable, src)
		}
		st = &addrState{handshakes: newTokenBucket(a.cfg.HandshakesPerSecond, a.cfg.HandshakeBurst)}
		a.byAddr[src] = st
	}
	if st.conns >= a.cfg.MaxConnsPerAddr {
		return nil, a.refuse(ReasonPerAddr, src)
	}
	if !st.handshakes.allow() {
		return nil, a.refuse(ReasonHandshakeRate, src)
	}
	st.conns++
	a.open++
	context.AfterFunc(ctx, func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		a.open--
		st.conns--
	})
	return ctx, nil
}

// sweep forgets the addresses that hold nothing and whose handshake bucket is full again:
// forgetting them changes no decision. Called with a.mu held.
func (a *admission) sweep(now time.Time) {
	a.lastSweep = now
	for ip, st := range a.byAddr {
		if st.conns == 0 && st.streams == 0 && st.handshakes.full() {
			delete(a.byAddr, ip)
		}
	}
}

// classify admits a connection at its first verified request, whose sender names it; later
// requests pass at once. Priority is asked outside the lock (it reads the chain).
func (a *admission) classify(p *peerAdmission, key common.Address) error {
	if p.classified.Load() {
		return nil
	}
	prio := a.cfg.Priority != nil && a.cfg.Priority(key)
	a.mu.Lock()
	defer a.mu.Unlock()
	if p.classified.Load() {
		return nil
	}
	if a.byKey[key] >= a.cfg.MaxConnsPerKey {
		a.count(ReasonPerKey, p.addr)
		return fmt.Errorf("%s: %d connections of key %s already open", ReasonPerKey, a.byKey[key], key)
	}
	if general := a.cfg.MaxConnections - a.cfg.ReservedConnections; !prio && a.general >= general {
		a.count(ReasonReserved, p.addr)
		return fmt.Errorf("%s: the %d slots for keys without stake or L1 balance are taken", ReasonReserved, general)
	}
	p.key, p.priority = key, prio
	p.classified.Store(true)
	a.byKey[key]++
	if !prio {
		a.general++
	}
	return nil
}

// release gives back a closed connection's key counts.
func (a *admission) release(p *peerAdmission) {
	if !p.classified.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.byKey[p.key]--; a.byKey[p.key] <= 0 {
		delete(a.byKey, p.key)
	}
	if !p.priority {
		a.general--
	}
}

// acquireStream counts a stream of the source address; the returned func releases it.
func (a *admission) acquireStream(src netip.Addr) (func(), error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.byAddr[src]
	if st == nil { // the connection's entry lives while it does; only a closing race gets here
		return nil, fmt.Errorf("%w: connection closing", ErrClosed)
	}
	if st.streams >= a.cfg.MaxStreamsPerAddr {
		a.count(ReasonStreamsPerAddr, src)
		return nil, fmt.Errorf("%w: %d concurrent streams from %s", ErrRateLimited, st.streams, src)
	}
	st.streams++
	return func() {
		a.mu.Lock()
		defer a.mu.Unlock()
		st.streams--
	}, nil
}

func (a *admission) counts(reasons []string) map[string]uint64 {
	m := make(map[string]uint64, len(reasons))
	for _, r := range reasons {
		m[r] = a.refused[r].Load()
	}
	return m
}

// Conns returns the connections open or handshaking, and those of them whose key has no
// priority.
func (s *Server) Conns() (open, general int) {
	s.adm.mu.Lock()
	defer s.adm.mu.Unlock()
	return s.adm.open, s.adm.general
}

// ConnRefusals counts the connections refused since start, by reason (the Reason constants of
// connections).
func (s *Server) ConnRefusals() map[string]uint64 { return s.adm.counts(connReasons) }

// StreamRefusals counts the streams (calls, subscriptions) refused since start, by reason.
func (s *Server) StreamRefusals() map[string]uint64 { return s.adm.counts(streamReasons) }
