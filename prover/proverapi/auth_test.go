package proverapi_test

import (
	"context"
	"errors"
	"net"
	"testing"

	"github.com/pqbridge/pqbridge/prover/proverapi"
)

// TestTokenAndLoopback: a listen address without a host binds loopback, and a server with a
// token answers only requests bearing it (401 unauthorized otherwise).
func TestTokenAndLoopback(t *testing.T) {
	for in, want := range map[string]string{"": "127.0.0.1:0", ":8646": "127.0.0.1:8646", "0.0.0.0:8646": "0.0.0.0:8646",
		"[::1]:1": "[::1]:1", "prover.internal:8646": "prover.internal:8646"} {
		if got := proverapi.LoopbackDefault(in); got != want {
			t.Errorf("LoopbackDefault(%q) = %q, want %q", in, got, want)
		}
	}
	const token = "prover-api-test-token-0123"
	srv, _ := startServer(t, proverapi.ServerConfig{Token: token, ListenAddr: ":0"}, 1, 1)
	if ip := srv.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
		t.Fatalf("listening on %v, want loopback", srv.Addr())
	}
	info := func(tok string) (*proverapi.Info, error) {
		cl, err := proverapi.NewClient(proverapi.ClientConfig{URL: "http://" + srv.Addr().String(), Token: tok, Retries: -1})
		if err != nil {
			t.Fatal(err)
		}
		return cl.Info(context.Background())
	}
	for _, tok := range []string{"", "wrong-token-wrong-token"} {
		_, err := info(tok)
		var apiErr *proverapi.Error
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Code != proverapi.CodeAuth {
			t.Errorf("token %q: %v, want 401 %s", tok, err, proverapi.CodeAuth)
		}
	}
	got, err := info(token)
	if err != nil || got.Params != testKeys(t).Params {
		t.Fatalf("with the token: %+v, %v", got, err)
	}
}
