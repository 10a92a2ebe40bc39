package quicrpc

import (
	"errors"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// TestClientPinsValidatorSet: a client pinning a set of keys accepts a server whose key is a
// member (and records which), and refuses one whose key is not, naming its address.
func TestClientPinsValidatorSet(t *testing.T) {
	srv, _ := startServer(t, nil)
	ctx := testCtx(t)
	other := testKey(9).Public()
	c, err := Dial(ctx, srv.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID,
		ValidatorSet: []*pqkey.PublicKey{other, validatorKey.Public()}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Validator() != validatorKey.Address() {
		t.Fatalf("answered by %s, want %s", c.Validator(), validatorKey.Address())
	}
	got, err := c.Call(ctx, "echo", []byte("x"))
	if err != nil || string(got) != "echo:x" {
		t.Fatalf("echo: %q, %v", got, err)
	}

	_, err = Dial(ctx, srv.Addr().String(), ClientConfig{Key: aliceKey, ChainID: testChainID,
		ValidatorSet: []*pqkey.PublicKey{other}})
	if !errors.Is(err, ErrNotMember) || !strings.Contains(err.Error(), validatorKey.Address().Hex()) {
		t.Fatalf("non-member server: %v, want ErrNotMember naming %s", err, validatorKey.Address())
	}
}
