package quicrpc

import (
	"context"
	"crypto/tls"
	"net"
	"testing"

	"github.com/quic-go/quic-go"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// The attacker's tools of this package's tests, for the tests of the node's endpoints in package
// quicrpc_test (endpoints_test.go), which send the same forged envelopes to a real node.

// Envelope is envelope with exported fields; zero fields take the client's honest values, but
// ChainID and Method have no default outside this package's test server.
type Envelope struct {
	Signer  *pqkey.PrivateKey
	Sender  []byte
	Context pqkey.Context
	ChainID uint64
	Binding []byte
	Nonce   uint64
	Method  string
	Payload []byte
}

// Forge signs a request envelope with the fields of e.
func Forge(t testing.TB, c *Client, e Envelope) []byte {
	t.Helper()
	if e.ChainID == 0 || e.Method == "" {
		t.Fatal("quicrpc.Forge: give the chain ID and the method")
	}
	return c.forge(t, envelope{signer: e.Signer, sender: e.Sender, context: e.Context, chainID: e.ChainID,
		binding: e.Binding, nonce: e.Nonce, method: e.Method, payload: e.Payload})
}

// CallFrame sends a request frame as it is and returns the verified response's payload.
func CallFrame(ctx context.Context, c *Client, frame []byte) ([]byte, error) {
	return c.callFrame(ctx, frame)
}

// SendRaw writes bytes that need not be a frame on a new stream; see sendRaw.
func SendRaw(ctx context.Context, c *Client, b []byte) error { return c.sendRaw(ctx, b) }

// DialClassical dials with X25519-class groups only; see dialClassical.
func DialClassical(ctx context.Context, addr string, curves []tls.CurveID) error {
	return dialClassical(ctx, addr, curves)
}

// HandshakeError is handshakeError: how Dial names a refused handshake.
func HandshakeError(err error) error { return handshakeError(err) }

// DialFrom is Dial from a UDP socket bound to the local IP, so a test on loopback can be many
// source addresses (Linux routes all of 127/8 to lo). The socket closes at the test's end.
func DialFrom(ctx context.Context, t testing.TB, local, addr string, cfg ClientConfig) (*Client, error) {
	t.Helper()
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(local)})
	if err != nil {
		t.Fatal(err)
	}
	tr := &quic.Transport{Conn: udp}
	closeAll := func() {
		tr.Close()
		udp.Close()
	}
	cfg.dial = func(ctx context.Context, addr string, tc *tls.Config, qc *quic.Config) (*quic.Conn, error) {
		ua, err := net.ResolveUDPAddr("udp", addr)
		if err != nil {
			return nil, err
		}
		return tr.Dial(ctx, ua, tc, qc)
	}
	c, err := Dial(ctx, addr, cfg)
	if err != nil {
		closeAll() // a flood of refused dials holds no sockets
		return nil, err
	}
	t.Cleanup(closeAll)
	return c, nil
}
