package quicrpc

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quic-go/quic-go"
)

// The admission limits one by one on the test server; TestL1ConnectionFlood (flood_test.go) has
// the per-address, per-key and reserved-slot caps against a real node.

func TestAdmissionHandshakeRate(t *testing.T) {
	var log syncBuffer
	srv, _ := startServer(t, func(c *ServerConfig) {
		c.HandshakeBurst = 3
		c.HandshakesPerSecond = 0.001 // no refill within the test
		c.Logger = slog.New(slog.NewTextHandler(&log, nil))
	})
	for range 3 {
		c := dial(t, srv, aliceKey)
		mustEcho(t, c)
		c.Close() // the connections end: only the handshake rate can refuse the next
	}
	_, err := Dial(testCtx(t), srv.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID, ValidatorPublicKey: validatorKey.Public()})
	if !errors.Is(err, ErrRefused) {
		t.Fatalf("4th handshake in the burst of 3: %v, want %v", err, ErrRefused)
	}
	// Counted per refused Initial packet: a refused dial counts once or twice (admission.go).
	if got := srv.ConnRefusals(); got[ReasonHandshakeRate] == 0 || got[ReasonHandshakeRate] > 2 {
		t.Fatalf("refusals %v, want 1 or 2 %s", got, ReasonHandshakeRate)
	}
	// Logged once (at most once per refusalLogInterval per reason), with the reason and source.
	if l := log.String(); strings.Count(l, "refusing connections") != 1 || !strings.Contains(l, "reason=handshake_rate source=127.0.0.1") {
		t.Fatalf("log %q: want one refusal line naming handshake_rate and 127.0.0.1", l)
	}
}

// syncBuffer is a bytes.Buffer the server's goroutines may write while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// A connection that completes the handshake and never sends a request is closed with the reason.
func TestAdmissionSilentConnectionClosed(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) { c.FirstRequestTimeout = 200 * time.Millisecond })
	conn, err := quic.DialAddr(testCtx(t), srv.Addr().String(), clientTLSConfig(), &quic.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseWithError(0, "")
	select {
	case <-conn.Context().Done():
	case <-testCtx(t).Done():
		t.Fatal("a connection that sent no request is still open")
	}
	var ae *quic.ApplicationError
	if err := context.Cause(conn.Context()); !errors.As(err, &ae) || ae.ErrorCode != connCodeBusy || !strings.Contains(ae.ErrorMessage, "no signed request") {
		t.Fatalf("silent connection closed with %v, want code %d and no signed request", err, connCodeBusy)
	}
	if got := srv.ConnRefusals(); got[ReasonNoRequest] != 1 {
		t.Fatalf("refusals %v, want 1 %s", got, ReasonNoRequest)
	}
	mustEcho(t, dial(t, srv, aliceKey)) // an honest client, dialing and calling at once, is served
}

// Concurrent streams are capped per source address over all its connections.
func TestAdmissionStreamsPerAddr(t *testing.T) {
	srv, done := startServer(t, func(c *ServerConfig) { c.MaxStreamsPerAddr = 2 })
	a, b := dial(t, srv, aliceKey), dial(t, srv, bobKey)
	ctx := testCtx(t)
	subA, err := a.Subscribe(ctx, "forever", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer subA.Close()
	subB, err := b.Subscribe(ctx, "forever", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Call(ctx, "echo", []byte("ping")); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("third concurrent stream from one address: %v, want %v", err, ErrRateLimited)
	}
	if got := srv.StreamRefusals(); got[ReasonStreamsPerAddr] == 0 {
		t.Fatalf("stream refusals %v: none counted as %s", got, ReasonStreamsPerAddr)
	}
	subB.Close()
	select { // the handler reports its end (the channel holds one report: take it)
	case <-done:
	case <-ctx.Done():
		t.Fatal("the ended subscription's handler did not return")
	}
	for { // the server releases the stream when its handler returns
		if _, err := a.Call(ctx, "echo", []byte("ping")); err == nil {
			break
		} else if !errors.Is(err, ErrRateLimited) || ctx.Err() != nil {
			t.Fatalf("call after a subscription ended: %v", err)
		}
	}
}

// The address table is bounded: when full, new addresses are refused until a sweep can forget
// addresses that hold nothing.
func TestAdmissionAddressTableBounded(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) {
		c.MaxTrackedAddrs = 2
		c.HandshakesPerSecond = 100 // buckets refill within the test
	})
	cfg := ClientConfig{Key: aliceKey, ChainID: testChainID, ValidatorPublicKey: validatorKey.Public()}
	for _, local := range []string{"127.0.0.7", "127.0.0.8"} {
		c, err := DialFrom(testCtx(t), t, local, srv.Addr().String(), cfg)
		if err != nil {
			t.Fatalf("dial from %s: %v", local, err)
		}
		defer c.Close()
	}
	if _, err := DialFrom(testCtx(t), t, "127.0.0.9", srv.Addr().String(), cfg); !errors.Is(err, ErrRefused) {
		t.Fatalf("third address with a table of 2: %v, want %v", err, ErrRefused)
	}
	if got := srv.ConnRefusals(); got[ReasonAddrTable] == 0 || got[ReasonAddrTable] > 2 {
		t.Fatalf("refusals %v, want 1 or 2 %s", got, ReasonAddrTable)
	}
}

func TestSourceAddr(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"192.0.2.7:4000", "192.0.2.7"},
		{"[::ffff:192.0.2.7]:4000", "192.0.2.7"},
		{"[2001:db8:1:2:aaaa:bbbb:cccc:dddd]:4000", "2001:db8:1:2::"}, // one host owns a /64
	} {
		ua, err := net.ResolveUDPAddr("udp", c.in)
		if err != nil {
			t.Fatal(err)
		}
		if got := sourceAddr(ua); got != netip.MustParseAddr(c.want) {
			t.Errorf("sourceAddr(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}
