package quicrpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

func TestCall(t *testing.T) {
	srv, _ := startServer(t, nil)
	c := dial(t, srv, aliceKey)
	mustEcho(t, c)

	who, err := c.Call(testCtx(t), "whoami", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(who, aliceKey.Address().Bytes()) {
		t.Fatalf("server saw sender %x, want %x", who, aliceKey.Address())
	}

	_, err = c.Call(testCtx(t), "fail", nil)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "no such batch") {
		t.Fatalf("handler error = %v, want ErrRemote with the handler's message", err)
	}
	_, err = c.Call(testCtx(t), "panic", nil)
	if !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "internal error") {
		t.Fatalf("panicking handler = %v, want ErrRemote: internal error", err)
	}
	_, err = c.Call(testCtx(t), "nope", nil)
	if !errors.Is(err, ErrUnknownMethod) {
		t.Fatalf("unknown method = %v, want ErrUnknownMethod", err)
	}
	mustEcho(t, c)
}

func TestConcurrentCalls(t *testing.T) {
	srv, _ := startServer(t, nil)
	c := dial(t, srv, aliceKey)
	const n = 32 // more than fit in flight at once on a 2-core machine: nonces arrive out of order
	errs := make(chan error, n)
	for i := range n {
		go func() {
			want := fmt.Sprintf("echo:%d", i)
			got, err := c.Call(testCtx(t), "echo", fmt.Appendf(nil, "%d", i))
			if err == nil && string(got) != want {
				err = fmt.Errorf("got %q, want %q", got, want)
			}
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestStreamCreditReturned makes many more calls on one connection than the server grants
// streams: each finished call must give its stream credit back.
func TestStreamCreditReturned(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) { c.MaxConcurrentStreams = 2 })
	c := dial(t, srv, aliceKey)
	for range 20 {
		mustEcho(t, c)
	}
	for range 5 {
		sub, err := c.Subscribe(testCtx(t), "count", []byte("1"))
		if err != nil {
			t.Fatal(err)
		}
		sub.Next()
		sub.Close()
	}
	mustEcho(t, c)
}

func TestSubscription(t *testing.T) {
	srv, done := startServer(t, nil)
	c := dial(t, srv, aliceKey)

	sub, err := c.Subscribe(testCtx(t), "count", []byte("3"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		ev, err := sub.Next()
		if err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		if want := fmt.Sprintf("event-%d", i); string(ev) != want {
			t.Fatalf("event %d = %q, want %q", i, ev, want)
		}
	}
	if _, err := sub.Next(); err != io.EOF {
		t.Fatalf("after the last event: %v, want io.EOF", err)
	}

	// A failing stream handler ends the subscription with its error.
	sub, err = c.Subscribe(testCtx(t), "count", []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(); !errors.Is(err, ErrRemote) {
		t.Fatalf("failing handler: %v, want ErrRemote", err)
	}

	// The client leaving ends the server's handler.
	sub, err = c.Subscribe(testCtx(t), "forever", nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		ev, err := sub.Next()
		if err != nil || string(ev) != fmt.Sprintf("tick-%d", i) {
			t.Fatalf("tick %d = %q, %v", i, ev, err)
		}
	}
	sub.Close()
	select {
	case <-done:
	case <-testCtx(t).Done():
		t.Fatal("stream handler still running after the client closed the subscription")
	}
	if _, err := sub.Next(); !errors.Is(err, ErrClosed) {
		t.Fatalf("Next after Close = %v, want ErrClosed", err)
	}
	mustEcho(t, c)
}

// TestRejections sends each kind of bad envelope; each must fail with its own error and leave
// the server (and the connection) serving.
func TestRejections(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) { c.MaxMessageSize = 64 << 10 })
	c := dial(t, srv, aliceKey)
	other := dial(t, srv, bobKey)

	replayed := c.forge(t, envelope{payload: []byte("once")})
	if _, err := c.callFrame(testCtx(t), replayed); err != nil {
		t.Fatalf("first use of the envelope: %v", err)
	}

	cases := []struct {
		name  string
		frame func() []byte
		want  error
	}{
		{"replayed envelope", func() []byte { return replayed }, ErrReplay},
		{"another chain ID", func() []byte { return c.forge(t, envelope{chainID: 99}) }, ErrWrongChain},
		{"another context", func() []byte { return c.forge(t, envelope{context: pqkey.ContextL1Tx}) }, ErrBadSignature},
		{"signed by A claiming B", func() []byte {
			return c.forge(t, envelope{signer: aliceKey, sender: bobKey.Public().Bytes()})
		}, ErrBadSignature},
		{"tampered payload", func() []byte {
			f := c.forge(t, envelope{payload: []byte("pay 1")})
			f[bytes.Index(f, []byte("pay 1"))+4] = '9'
			return f
		}, ErrBadSignature},
		{"moved to another connection", func() []byte { return other.forge(t, envelope{}) }, ErrBindingMismatch},
		{"another binding claimed", func() []byte { return c.forge(t, envelope{binding: other.binding}) }, ErrBindingMismatch},
		{"nonce far behind", func() []byte { return c.forge(t, envelope{nonce: 1}) }, ErrReplay},
		{"oversized message", func() []byte { return c.forge(t, envelope{payload: make([]byte, 100<<10)}) }, ErrTooLarge},
		{"unknown method", func() []byte { return c.forge(t, envelope{method: "mint"}) }, ErrUnknownMethod},
	}
	for i := 0; i < replayWindowSize; i++ { // move the window past nonce 1
		c.nonce.Add(1)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.callFrame(testCtx(t), tc.frame())
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			mustEcho(t, c)
		})
	}
}

// TestGarbage writes bytes that are not a request frame on raw streams.
func TestGarbage(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) { c.MaxMessageSize = 64 << 10 })
	c := dial(t, srv, aliceKey)
	random := make([]byte, 4096)
	rand.Read(random)
	lengthThen := func(n uint32, body []byte) []byte { return append(binary.BigEndian.AppendUint32(nil, n), body...) }
	good := c.forge(t, envelope{})
	cases := []struct {
		name  string
		bytes []byte
		want  error
	}{
		{"random bytes", append([]byte{0, 0, 0x10, 0}, random...), ErrMalformed},
		{"huge length prefix", lengthThen(0xffffffff, random), ErrTooLarge},
		{"empty frame", lengthThen(0, nil), ErrMalformed},
		{"truncated frame", lengthThen(1000, random[:10]), ErrMalformed},
		{"RLP with trailing bytes", lengthThen(uint32(len(good)+1), append(good[:len(good):len(good)], 0)), ErrMalformed},
		{"RLP list of wrong shape", lengthThen(3, []byte{0xc2, 0x01, 0x02}), ErrMalformed},
		{"truncated RLP", lengthThen(uint32(len(good)-1), good[:len(good)-1]), ErrMalformed},
		{"nothing, then close", nil, ErrMalformed},
		{"two frames", append(lengthThen(uint32(len(good)), good), lengthThen(uint32(len(good)), good)...), ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.sendRaw(testCtx(t), tc.bytes); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			mustEcho(t, c)
		})
	}
}

func TestRateLimit(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) {
		c.RequestsPerSecond = 0.001 // no refill during the test
		c.RequestBurst = 3          // Dial's validator check plus two calls
	})
	c := dial(t, srv, aliceKey)
	mustEcho(t, c)
	mustEcho(t, c)
	if _, err := c.Call(testCtx(t), "echo", nil); !errors.Is(err, ErrRateLimited) {
		t.Fatalf("over the limit: %v, want ErrRateLimited", err)
	}
	mustEcho(t, dial(t, srv, aliceKey)) // the limit is per connection
}

// TestClassicalClientRejected dials with a plain crypto/tls configuration offering X25519 only:
// the handshake must fail, and the server go on serving.
func TestClassicalClientRejected(t *testing.T) {
	srv, _ := startServer(t, nil)
	for _, curves := range [][]tls.CurveID{{tls.X25519}, {tls.CurveP256, tls.X25519}} {
		err := dialClassical(testCtx(t), srv.Addr().String(), curves)
		var te *quic.TransportError
		if !errors.As(err, &te) || !te.Remote || te.ErrorCode != 0x100+alertHandshakeFailure {
			t.Fatalf("handshake offering %v: %v, want the server's handshake_failure alert", curves, err)
		}
		if !errors.Is(handshakeError(err), ErrNotPostQuantum) {
			t.Fatalf("handshakeError(%v) is not ErrNotPostQuantum", err)
		}
	}
	mustEcho(t, dial(t, srv, aliceKey))
}

// TestClassicalServerRejected points the client at a QUIC server that only does X25519.
func TestClassicalServerRejected(t *testing.T) {
	cert, err := selfSignedCertificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := quic.ListenAddr("127.0.0.1:0", &tls.Config{
		Certificates:     []tls.Certificate{cert},
		NextProtos:       []string{alpn},
		CurvePreferences: []tls.CurveID{tls.X25519},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = Dial(testCtx(t), ln.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID, ValidatorPublicKey: validatorKey.Public()})
	if !errors.Is(err, ErrNotPostQuantum) {
		t.Fatalf("dial classical server: %v, want ErrNotPostQuantum", err)
	}
}

// TestForgedResponse runs an impostor validator: its responses verify under its own key but not
// under the pinned one, and the client refuses it at Dial.
func TestForgedResponse(t *testing.T) {
	impostor, _ := startServer(t, func(c *ServerConfig) { c.ValidatorKey = bobKey })
	_, err := Dial(testCtx(t), impostor.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID, ValidatorPublicKey: validatorKey.Public()})
	if !errors.Is(err, ErrBadSignature) {
		t.Fatalf("dial impostor: %v, want ErrBadSignature", err)
	}
	// The same server is accepted by a client that pins its key: the rejection was the key.
	c, err := Dial(testCtx(t), impostor.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID, ValidatorPublicKey: bobKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	mustEcho(t, c)
}

// TestResponseBoundToConnection checks the client side of the binding: a genuine validator
// response read on another connection does not verify.
func TestResponseBoundToConnection(t *testing.T) {
	srv, _ := startServer(t, nil)
	a, b := dial(t, srv, aliceKey), dial(t, srv, aliceKey)
	frame := a.forge(t, envelope{})
	st, stop, err := a.openStream(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := writeFrame(st, frame); err != nil {
		t.Fatal(err)
	}
	st.Close()
	body, err := readFrame(st, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	r, err := decodeResponse(body, mldsa65)
	if err != nil {
		t.Fatal(err)
	}
	signed := responseSigningPayload(requestHash(frame), b.binding, r.Status, r.Error, r.Payload)
	if err := validatorKey.Public().Verify(pqkey.ContextResponse, testChainID, 0, signed, r.Signature); err == nil {
		t.Fatal("response verified over another connection's binding")
	}
	signed = responseSigningPayload(requestHash(frame), a.binding, r.Status, r.Error, r.Payload)
	if err := validatorKey.Public().Verify(pqkey.ContextResponse, testChainID, 0, signed, r.Signature); err != nil {
		t.Fatalf("response does not verify on its own connection: %v", err)
	}
}

func TestStopEndsHandlers(t *testing.T) {
	srv, done := startServer(t, nil)
	c := dial(t, srv, aliceKey)
	sub, err := c.Subscribe(testCtx(t), "forever", nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.Next(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	<-done
	if _, err := c.Call(testCtx(t), "echo", nil); err == nil {
		t.Fatal("call succeeded after Stop")
	}
}

// TestSlowRequest: a client that opens a stream and trickles (slowloris) is cut off at the
// request timeout, and the server goes on serving.
func TestSlowRequest(t *testing.T) {
	srv, _ := startServer(t, func(c *ServerConfig) { c.RequestTimeout = 200 * time.Millisecond })
	c := dial(t, srv, aliceKey)
	st, err := c.conn.OpenStreamSync(testCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	st.Write([]byte{0, 0}) // half a length prefix, then nothing
	_, err = readFrame(st, 1<<20)
	if err = streamError(err); !errors.Is(err, ErrTimeout) {
		t.Fatalf("got %v, want ErrTimeout", err)
	}
	mustEcho(t, c)
}

// TestCheckPostQuantum covers the handshake check crypto/tls never lets fail in practice.
func TestCheckPostQuantum(t *testing.T) {
	for _, cs := range []tls.ConnectionState{
		{Version: tls.VersionTLS13, CurveID: tls.X25519},
		{Version: tls.VersionTLS13, CurveID: tls.CurveP256},
		{Version: tls.VersionTLS12, CurveID: tls.X25519MLKEM768},
	} {
		if err := checkPostQuantum(cs); !errors.Is(err, ErrNotPostQuantum) {
			t.Errorf("%#x/%v: %v, want ErrNotPostQuantum", cs.Version, cs.CurveID, err)
		}
	}
	if err := checkPostQuantum(tls.ConnectionState{Version: tls.VersionTLS13, CurveID: tls.X25519MLKEM768}); err != nil {
		t.Fatal(err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	steps := []struct {
		nonce uint64
		ok    bool
	}{
		{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {3, false},
		{300, true}, {44, false}, {45, true}, {45, false}, {299, true}, {10_000, true},
		{10_000 - replayWindowSize, false}, {10_000 - replayWindowSize + 1, true}, {300, false},
	}
	for i, s := range steps {
		if got := w.accept(s.nonce); got != s.ok {
			t.Fatalf("step %d: accept(%d) = %v, want %v", i, s.nonce, got, s.ok)
		}
	}
}

func TestServerConfigChecks(t *testing.T) {
	if _, err := NewServer(ServerConfig{ListenAddr: "127.0.0.1:0"}); err == nil {
		t.Fatal("server without a validator key")
	}
	srv, _ := startServer(t, nil)
	for _, m := range []string{"", helloMethod, "echo", strings.Repeat("m", maxMethodLen+1)} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("registering %q did not panic", m)
				}
			}()
			srv.Handle(m, func(context.Context, *Request) ([]byte, error) { return nil, nil })
		}()
	}
	if _, err := Dial(testCtx(t), srv.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID}); err == nil {
		t.Fatal("client without a pinned validator key")
	}
}
