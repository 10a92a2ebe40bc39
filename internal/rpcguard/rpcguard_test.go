package rpcguard

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/gorilla/websocket"
)

// echo is the namespace served in these tests.
type echo struct{}

func (echo) Echo(s string) string { return s }

// start serves the echo namespace (and admin_echo) under cfg on a loopback port.
func start(t *testing.T, cfg Config) (*Server, string) {
	t.Helper()
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Register("test", echo{}); err != nil {
		t.Fatal(err)
	}
	if err := g.RegisterAdmin("admin", echo{}); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- g.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := g.HTTP().Shutdown(ctx); err != nil {
			t.Error(err)
		}
		g.Stop()
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			t.Error(err)
		}
	})
	return g, ln.Addr().String()
}

func call(url string, opts ...rpc.ClientOption) (string, error) {
	c, err := rpc.DialOptions(context.Background(), url, opts...)
	if err != nil {
		return "", err
	}
	defer c.Close()
	var out string
	err = c.Call(&out, "test_echo", "hi")
	return out, err
}

func TestConfigRefused(t *testing.T) {
	for _, c := range []Config{{TLSCert: "cert.pem"}, {TLSKey: "key.pem"}, {MaxConnsPerIP: -1}, {Rate: -1}} {
		if _, err := New(c, slog.New(slog.DiscardHandler)); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}

// TestRateLimitHTTP: past its burst an IP gets 429 and the refusal is counted.
func TestRateLimitHTTP(t *testing.T) {
	g, addr := start(t, Config{Rate: 0.01, Burst: 3})
	for i := range 3 {
		if out, err := call("http://" + addr); err != nil || out != "hi" {
			t.Fatalf("call %d: %q %v", i, out, err)
		}
	}
	if _, err := call("http://" + addr); err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("4th call: %v, want 429", err)
	}
	if n := g.Refusals()["rate"]; n != 1 {
		t.Fatalf("rate refusals %d, want 1", n)
	}
}

// TestConnCapPerIP: one IP holds at most MaxConnsPerIP connections; the next is closed at
// accept, and another IP is still served.
func TestConnCapPerIP(t *testing.T) {
	g, addr := start(t, Config{MaxConnsPerIP: 2})
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The third is reset at accept: the dial or the first read fails.
	if c, err := net.Dial("tcp", addr); err == nil {
		defer c.Close()
		if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("third connection from one IP: read %v, want it closed", err)
		}
	}
	waitRefusals(t, g, "conns_per_ip", 1)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	hc := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
	if out, err := call("http://"+addr, rpc.WithHTTPClient(hc)); err != nil || out != "hi" {
		t.Fatalf("another IP: %q %v", out, err)
	}
	if n := g.Conns(); n != 3 {
		t.Fatalf("%d connections open, want 3 (2 held, 1 keep-alive)", n)
	}
}

// TestAdminToken: the admin namespace needs the token; a wrong one is refused outright.
func TestAdminToken(t *testing.T) {
	g, addr := start(t, Config{AdminToken: "the-admin-token-0123"})
	admin := func(tok string) error {
		c, err := rpc.DialOptions(context.Background(), "http://"+addr, rpc.WithHeader("Authorization", "Bearer "+tok))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		var out string
		return c.Call(&out, "admin_echo", "x")
	}
	if err := admin("the-admin-token-0123"); err != nil {
		t.Fatalf("with the token: %v", err)
	}
	if err := admin("nope"); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("wrong token: %v", err)
	}
	c, err := rpc.Dial("ws://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var out string
	if err := c.Call(&out, "admin_echo", "x"); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("no token: %v", err)
	}
	if err := c.Call(&out, "test_echo", "x"); err != nil || out != "x" {
		t.Fatalf("public namespace without a token: %q %v", out, err)
	}
	if n := g.Refusals()["auth"]; n != 1 {
		t.Fatalf("auth refusals %d, want 1", n)
	}
}

// TestWSMessages: a message over the limit, or not one JSON value, closes the connection.
func TestWSMessages(t *testing.T) {
	g, addr := start(t, Config{WSMessageBytes: 1024})
	for _, tc := range []struct {
		msg    string
		reason string
	}{
		{`{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["` + strings.Repeat("a", 2000) + `"]}`, "ws_message_size"},
		{`{"jsonrpc":"2.0","id":1,`, "ws_bad_message"},
	} {
		ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if err := ws.WriteMessage(websocket.TextMessage, []byte(tc.msg)); err != nil {
			t.Fatal(err)
		}
		if err := ws.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ws.ReadMessage(); err == nil || isTimeout(err) {
			t.Errorf("%s: read %v, want the connection closed", tc.reason, err)
		}
		ws.Close()
		waitRefusals(t, g, tc.reason, 1)
	}
}

// TestTLS: with a certificate the server speaks HTTPS only.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	_, addr := start(t, Config{TLSCert: certFile, TLSKey: keyFile})
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	if out, err := call("https://"+addr, rpc.WithHTTPClient(hc)); err != nil || out != "hi" {
		t.Fatalf("https: %q %v", out, err)
	}
	resp, err := http.Post("http://"+addr, "application/json", strings.NewReader(`{}`))
	if err == nil {
		b, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil || resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain http to a TLS server: %d %s %v", resp.StatusCode, b, rerr)
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for f, b := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "EC PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(f, pem.EncodeToMemory(b), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// waitRefusals waits (boundedly) for the count of reason to be want: the server counts a
// refusal just after the client can see it.
func waitRefusals(t *testing.T, g *Server, reason string, want uint64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for g.Refusals()[reason] != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s refusals %d, want %d", reason, g.Refusals()[reason], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestWSBackpressure: over its rate a WebSocket client is read later, not refused; a client
// that does not read its answers stops being read and is dropped once an answer waits longer
// than WSWriteTimeout.
func TestWSBackpressure(t *testing.T) {
	g, addr := start(t, Config{Rate: 50, Burst: 1, WSPending: 2, WSWriteTimeout: 300 * time.Millisecond})
	c, err := rpc.Dial("ws://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		var out string
		if err := c.Call(&out, "test_echo", "x"); err != nil || out != "x" {
			t.Fatalf("call %d: %q %v", i, out, err)
		}
	}
	c.Close()
	waitRefusals(t, g, "rate_ws_delayed", 1)

	ws, resp, err := websocket.DefaultDialer.Dial("ws://"+addr, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer ws.Close()
	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"test_echo","params":["` + strings.Repeat("a", 256<<10) + `"]}`)
	sent := 0
	for ; sent < 2000; sent++ { // 500 MB of answers if nothing stopped it
		if err := ws.SetWriteDeadline(time.Now().Add(5 * time.Second)); err != nil {
			t.Fatal(err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
			break
		}
	}
	t.Logf("%d messages of 256 KiB sent before the server stopped reading and dropped the client", sent)
	if sent == 2000 {
		t.Fatal("the server read every message of a client that never reads")
	}
	waitRefusals(t, g, "ws_not_reading", 1)
}

// TestWSSilentPeer: a WebSocket peer that sends nothing and answers no ping is dropped; one that
// answers pings (go-ethereum's client) stays connected past that bound.
func TestWSSilentPeer(t *testing.T) {
	g, addr := start(t, Config{WSPingInterval: 100 * time.Millisecond, WSWriteTimeout: 200 * time.Millisecond})
	live, err := rpc.Dial("ws://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	var out string
	if err := live.Call(&out, "test_echo", "a"); err != nil {
		t.Fatal(err)
	}
	silent, resp, err := websocket.DefaultDialer.Dial("ws://"+addr, nil) // never reads: no pongs
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	defer silent.Close()
	waitRefusals(t, g, "ws_silent_peer", 1)
	if err := live.Call(&out, "test_echo", "b"); err != nil || out != "b" {
		t.Fatalf("a client answering pings, after a silent one was dropped: %q %v", out, err)
	}
	if n := g.Refusals()["ws_silent_peer"]; n != 1 {
		t.Fatalf("ws_silent_peer %d, want 1", n)
	}
}
