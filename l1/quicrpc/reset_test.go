package quicrpc

import (
	"errors"
	"testing"

	"github.com/quic-go/quic-go"
)

// crash ends the server as a kill -9 would: the socket goes first, so the clients are told
// nothing and keep their connections.
func (s *Server) crash() {
	s.mu.Lock()
	udp := s.tr.Conn
	s.mu.Unlock()
	if err := udp.Close(); err != nil {
		panic(err)
	}
	s.Stop()
}

// TestRestartedServerResetsConnections: the server restarted on the same address with the same
// validator key answers a request on a connection of its previous run with a stateless reset,
// so the client learns at once that the connection is gone (not after the idle timeout).
func TestRestartedServerResetsConnections(t *testing.T) {
	srv, _ := startServer(t, nil)
	addr := srv.Addr().String()
	c := dial(t, srv, aliceKey)
	mustEcho(t, c)
	srv.crash()
	if c.Err() != nil {
		t.Fatalf("the client saw the crash: %v", c.Err())
	}
	restarted, _ := startServer(t, func(cfg *ServerConfig) { cfg.ListenAddr = addr })
	ctx := testCtx(t)
	if _, err := c.Call(ctx, "echo", []byte("ping")); err == nil {
		t.Fatal("a call on the previous run's connection succeeded")
	}
	select {
	case <-c.Done():
	case <-ctx.Done():
		t.Fatal("the connection outlived the restart")
	}
	var reset *quic.StatelessResetError
	if err := c.Err(); !errors.Is(err, ErrClosed) || !errors.As(err, &reset) {
		t.Fatalf("connection closed by %v, want a stateless reset", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the reset came only after the test's deadline")
	}
	mustEcho(t, dial(t, restarted, aliceKey))
}
