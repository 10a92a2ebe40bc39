package quicrpc_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// The flood's limits: small, so the test opens few connections, but in the defaults' proportions
// (a quarter of the slots reserved).
const (
	floodMaxConns = 24
	floodReserved = 8
	floodPerAddr  = 8
	floodPerKey   = 3
	walletBalance = 5000
)

// floodKey is a fresh unfunded transport key: the attacker's keys cost it nothing.
func floodKey(i int) *pqkey.PrivateKey {
	return pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0: 0xf1, 1: byte(i), 2: byte(i >> 8)})
}

// flood dials from local until the server refuses, at most tries times, and returns the
// connections it holds and the first refusal.
func flood(t *testing.T, addr, local string, tries int, key func(i int) *pqkey.PrivateKey) ([]*quicrpc.Client, error) {
	t.Helper()
	var held []*quicrpc.Client
	for i := range tries {
		c, err := quicrpc.DialFrom(ctxT(t), t, local, addr, quicrpc.ClientConfig{Key: key(i), ChainID: nodeChainID,
			ValidatorPublicKey: nodeValidator.Public(), MaxMessageSize: l1client.DefaultMaxMessageSize})
		if err != nil {
			return held, err
		}
		t.Cleanup(func() { c.Close() })
		held = append(held, c)
	}
	return held, nil
}

// TestL1ConnectionFlood: attackers on three source addresses try to take every connection slot
// of a real node. Each address holds exactly its per-address cap and is then refused before the
// handshake; one key holds exactly its per-key cap; unfunded keys hold exactly the general pool
// (MaxConnections - ReservedConnections) and are refused after. A funded wallet (l1client, its
// funded key as transport key) still connects during the flood and reads its balance, and the
// refusals are counted by reason.
func TestL1ConnectionFlood(t *testing.T) {
	wallet := nodeKey(20)
	n, err := node.New(node.Config{Dir: t.TempDir(), Key: nodeValidator, BlockInterval: 10 * time.Millisecond,
		Genesis: chain.Genesis{ChainID: nodeChainID, Validator: nodeValidator.Public().Bytes(),
			Alloc: []chain.Alloc{{Address: wallet.Address(), Balance: walletBalance}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := n.Start(ctx); err != nil {
		cancel()
		n.Stop()
		t.Fatal(err)
	}
	srv, err := n.Serve(ctx, quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0", MaxConnections: floodMaxConns,
		ReservedConnections: floodReserved, MaxConnsPerAddr: floodPerAddr, MaxConnsPerKey: floodPerKey,
		HandshakeBurst: 4 * floodPerAddr})
	if err != nil {
		cancel()
		n.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		cancel()
		if err := n.Stop(); err != nil {
			t.Errorf("node stop: %v", err)
		}
	})
	addr := srv.Addr().String()

	// 1. One source address, a fresh key per connection: its cap, then refusals before any
	// handshake work.
	held, err := flood(t, addr, "127.0.0.3", floodPerAddr+4, floodKey)
	if len(held) != floodPerAddr || !errors.Is(err, quicrpc.ErrRefused) || !strings.Contains(err.Error(), "before the handshake") {
		t.Fatalf("127.0.0.3 held %d connections then got %v; want %d then %v before the handshake", len(held), err, floodPerAddr, quicrpc.ErrRefused)
	}
	t.Logf("127.0.0.3 after %d connections: %v", len(held), err)
	for range 3 { // refused again and again while it holds its cap
		if _, err := flood(t, addr, "127.0.0.3", 1, func(int) *pqkey.PrivateKey { return floodKey(999) }); !errors.Is(err, quicrpc.ErrRefused) {
			t.Fatalf("dial over the per-address cap: %v, want %v", err, quicrpc.ErrRefused)
		}
	}

	// 2. One key from another address: its per-key cap, then refused at its first request with
	// the reason named.
	held, err = flood(t, addr, "127.0.0.4", floodPerKey+2, func(int) *pqkey.PrivateKey { return mallory })
	if len(held) != floodPerKey || !errors.Is(err, quicrpc.ErrRefused) || !strings.Contains(err.Error(), quicrpc.ReasonPerKey) {
		t.Fatalf("mallory held %d connections then got %v; want %d then %v (%s)", len(held), err, floodPerKey, quicrpc.ErrRefused, quicrpc.ReasonPerKey)
	}

	t.Logf("mallory after %d connections: %v", len(held), err)

	// 3. Unfunded keys from a third address fill the general pool; the reserved slots stay free.
	general := floodMaxConns - floodReserved - floodPerAddr - floodPerKey
	held, err = flood(t, addr, "127.0.0.5", floodPerAddr, func(i int) *pqkey.PrivateKey { return floodKey(500 + i) })
	if len(held) != general || !errors.Is(err, quicrpc.ErrRefused) || !strings.Contains(err.Error(), quicrpc.ReasonReserved) {
		t.Fatalf("127.0.0.5 held %d connections then got %v; want %d then %v (%s)", len(held), err, general, quicrpc.ErrRefused, quicrpc.ReasonReserved)
	}
	t.Logf("127.0.0.5 after %d connections: %v", len(held), err)
	attacker := held[0]

	// 4. During the flood, the funded wallet connects from its own address and reads its balance.
	wc, err := l1client.Dial(ctxT(t), l1client.Config{Addr: addr, ChainID: nodeChainID, Validator: nodeValidator.Public(), Key: wallet})
	if err != nil {
		t.Fatalf("funded wallet during the flood: %v", err)
	}
	defer wc.Close()
	acct, err := wc.Account(ctxT(t), wallet.Address())
	if err != nil || acct.Balance != walletBalance {
		t.Fatalf("wallet balance during the flood: %+v, %v; want %d", acct, err, walletBalance)
	}
	// The attacker's admitted connections are served like any other: the limits refuse, they do
	// not degrade.
	if _, err := attacker.Call(ctxT(t), node.MethodStatus, nil); err != nil {
		t.Fatalf("a call on an admitted attacker connection: %v", err)
	}

	got := srv.ConnRefusals()
	t.Logf("refusals by reason: %v", got)
	for _, reason := range []string{quicrpc.ReasonPerAddr, quicrpc.ReasonPerKey, quicrpc.ReasonReserved} {
		if got[reason] == 0 {
			t.Errorf("refusals %v: none counted as %s", got, reason)
		}
	}
	if got[quicrpc.ReasonPerAddr] < 4 {
		t.Errorf("refusals %v: want at least 4 %s (one per refused dial from 127.0.0.3)", got, quicrpc.ReasonPerAddr)
	}
}

// TestL1ConnectionFloodDefaults is the attack of issue 13 against the default limits: one source
// address dials 1,100 times (it used to fill the node's 1,024 slots). It holds exactly
// DefaultMaxConnsPerAddr connections, every further dial is refused before the handshake, and a
// wallet with a fresh, unfunded key (the general pool is far from full) reads a balance.
func TestL1ConnectionFloodDefaults(t *testing.T) {
	const attempts = 1100
	tg := startTarget(t) // default limits; its legitimate client and two attacker connections come from 127.0.0.1
	held, err := flood(t, tg.addr, "127.0.0.6", attempts, floodKey)
	if len(held) != quicrpc.DefaultMaxConnsPerAddr || !errors.Is(err, quicrpc.ErrRefused) {
		t.Fatalf("held %d connections then got %v; want %d then %v", len(held), err, quicrpc.DefaultMaxConnsPerAddr, quicrpc.ErrRefused)
	}
	refused := 1
	for range attempts - len(held) - 1 {
		if _, err := flood(t, tg.addr, "127.0.0.6", 1, floodKey); !errors.Is(err, quicrpc.ErrRefused) {
			t.Fatalf("dial %d over the cap: %v, want %v", len(held)+refused+1, err, quicrpc.ErrRefused)
		}
		refused++
	}
	wc, err := l1client.Dial(ctxT(t), l1client.Config{Addr: tg.addr, ChainID: nodeChainID, Validator: nodeValidator.Public()})
	if err != nil {
		t.Fatalf("unfunded wallet after %d refused dials: %v", refused, err)
	}
	defer wc.Close()
	if acct, err := wc.Account(ctxT(t), carol.Address()); err != nil || acct.Balance != carolBalance {
		t.Fatalf("carol's balance after the flood: %+v, %v; want %d", acct, err, carolBalance)
	}
	tg.stillServes(t)
}
