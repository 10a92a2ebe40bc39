package quicrpc

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/quic-go/quic-go"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

const testChainID = 7

func TestMain(m *testing.M) {
	// Loopback tests do not need the large UDP buffers quic-go asks the kernel for.
	os.Setenv("QUIC_GO_DISABLE_RECEIVE_BUFFER_WARNING", "true")
	os.Exit(m.Run())
}

func testKey(b byte) *pqkey.PrivateKey { return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{b}) }

var (
	validatorKey = testKey(1)
	aliceKey     = testKey(2)
	bobKey       = testKey(3)
)

// testCtx bounds every test's network activity so a bug hangs nothing.
func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// startServer runs a loopback server with the test methods:
//
//	echo     returns "echo:" + payload, after checking the sender is who the payload says
//	fail     returns an error
//	panic    panics
//	count    subscription: payload is n as decimal, sends "event-1" ... "event-n", then ends
//	forever  subscription: sends until the client leaves, then reports on the server's done channel
func startServer(t testing.TB, mod func(*ServerConfig)) (*Server, chan struct{}) {
	t.Helper()
	cfg := ServerConfig{ListenAddr: "127.0.0.1:0", ValidatorKey: validatorKey, ChainID: testChainID}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{}, 1)
	srv.Handle("echo", func(_ context.Context, req *Request) ([]byte, error) {
		return append([]byte("echo:"), req.Payload...), nil
	})
	srv.Handle("whoami", func(_ context.Context, req *Request) ([]byte, error) {
		return req.SenderAddress.Bytes(), nil
	})
	srv.Handle("fail", func(context.Context, *Request) ([]byte, error) {
		return nil, errors.New("no such batch")
	})
	srv.Handle("panic", func(context.Context, *Request) ([]byte, error) {
		panic("handler bug")
	})
	srv.HandleStream("count", func(_ context.Context, req *Request, send func([]byte) error) error {
		n, err := strconv.Atoi(string(req.Payload))
		if err != nil {
			return err
		}
		for i := 1; i <= n; i++ {
			if err := send(fmt.Appendf(nil, "event-%d", i)); err != nil {
				return err
			}
		}
		return nil
	})
	srv.HandleStream("forever", func(ctx context.Context, _ *Request, send func([]byte) error) error {
		defer func() { done <- struct{}{} }()
		for i := 1; ; i++ {
			if err := send(fmt.Appendf(nil, "tick-%d", i)); err != nil {
				return err
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Millisecond):
			}
		}
	})
	ctx, cancel := context.WithCancel(context.Background()) // the server lives as long as the test
	t.Cleanup(cancel)
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, done
}

func dial(t testing.TB, srv *Server, key *pqkey.PrivateKey) *Client {
	t.Helper()
	c, err := Dial(testCtx(t), srv.Addr().String(), ClientConfig{Key: key, ChainID: testChainID, ValidatorPublicKey: validatorKey.Public()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// mustEcho asserts a good call succeeds: the server keeps serving.
func mustEcho(t testing.TB, c *Client) {
	t.Helper()
	got, err := c.Call(testCtx(t), "echo", []byte("ping"))
	if err != nil {
		t.Fatalf("good call after rejection: %v", err)
	}
	if string(got) != "echo:ping" {
		t.Fatalf("echo = %q", got)
	}
}

// envelope describes a request to forge; zero fields take the client's honest values.
type envelope struct {
	signer  *pqkey.PrivateKey // who signs (default: the client's key)
	sender  []byte            // the key the envelope claims (default: the signer's)
	context pqkey.Context     // default ContextRequest
	chainID uint64            // default testChainID
	binding []byte            // default: the client's connection
	nonce   uint64            // default: the client's next nonce
	method  string            // default "echo"
	payload []byte
}

func (c *Client) forge(t testing.TB, e envelope) []byte {
	t.Helper()
	if e.signer == nil {
		e.signer = c.cfg.Key
	}
	if e.sender == nil {
		e.sender = e.signer.Public().Bytes()
	}
	if e.context == "" {
		e.context = pqkey.ContextRequest
	}
	if e.chainID == 0 {
		e.chainID = testChainID
	}
	if e.binding == nil {
		e.binding = c.binding
	}
	if e.nonce == 0 {
		e.nonce = c.nonce.Add(1)
	}
	if e.method == "" {
		e.method = "echo"
	}
	sig, err := e.signer.Sign(e.context, e.chainID, e.nonce, requestSigningPayload(e.method, e.sender, e.binding, e.payload))
	if err != nil {
		t.Fatal(err)
	}
	return encode(&request{Method: e.method, ChainID: e.chainID, Sender: e.sender, Nonce: e.nonce, Binding: e.binding, Payload: e.payload, Signature: sig})
}

// sendRaw writes b as it is on a new stream of c's connection, closes the stream and returns
// the server's answer as an error: the reset code's error (nil if the server answered a frame).
func (c *Client) sendRaw(ctx context.Context, b []byte) error {
	st, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		return err
	}
	defer st.CancelRead(codeCanceled)
	st.Write(b)
	st.Close()
	_, err = readFrame(st, 1<<20)
	return streamError(err)
}

// dialClassical dials addr with a plain crypto/tls configuration offering only curves, as a
// client without post-quantum key exchange would, and returns the handshake's error.
func dialClassical(ctx context.Context, addr string, curves []tls.CurveID) error {
	conn, err := quic.DialAddr(ctx, addr, &tls.Config{
		InsecureSkipVerify: true,
		NextProtos:         []string{alpn},
		CurvePreferences:   curves,
	}, nil)
	if err == nil {
		conn.CloseWithError(0, "")
		return fmt.Errorf("handshake offering %v succeeded", curves)
	}
	return err
}
