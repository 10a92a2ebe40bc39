package proverpool_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark/backend/groth16"

	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/proverapi"
	"github.com/pqbridge/pqbridge/prover/proverpool"
	"github.com/pqbridge/pqbridge/prover/provertest"
)

// startTwoKeyEndpoint serves a Service holding k1 and k2 (a rotated key loaded during a config
// change's timelock).
func startTwoKeyEndpoint(t *testing.T, k1, k2 *prover.Keys) *endpoint {
	t.Helper()
	svc, err := prover.New(prover.Config{Keys: k1, MoreKeys: []*prover.Keys{k2}, Workers: 1, QueueSize: 4})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(svc.Stop)
	srv, err := proverapi.NewServer(proverapi.ServerConfig{Keys: k1, MoreKeys: []*prover.Keys{k2}, Prover: svc, MaxInFlight: 5, Workers: 1, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := &endpoint{srv: srv, url: "http://" + srv.Addr().String()}
	t.Cleanup(e.kill)
	return e
}

// TestRouteByVK: jobs naming the second verifying key go only to the prover holding it, whose
// Info lists both keys; a job for a key no prover holds is refused as not provable, by the pool
// and by a prover's API (422 not_provable); jobs naming no key are proven under the first.
func TestRouteByVK(t *testing.T) {
	p := provertest.Params()
	k1 := provertest.Keys(t, p)
	pk, vk, err := groth16.Setup(k1.CS)
	if err != nil {
		t.Fatal(err)
	}
	k2 := &prover.Keys{Params: p, CS: k1.CS, PK: pk, VK: vk}
	id1, err := prover.VerifyingKeyID(k1.VK)
	if err != nil {
		t.Fatal(err)
	}
	id2, err := prover.VerifyingKeyID(k2.VK)
	if err != nil {
		t.Fatal(err)
	}
	one := startEndpoint(t, k1, nil)
	two := startTwoKeyEndpoint(t, k1, k2)
	pool := newPool(t, proverpool.Config{}, one, two)
	if !pool.HasVK(id1) || !pool.HasVK(id2) || pool.HasVK(prover.KeyID{7}) {
		t.Fatal("pool's keys: want id1 and id2 only")
	}
	if h := pool.HoldersOf(id2); !slices.Equal(h, []string{two.url}) {
		t.Fatalf("holders of the second key %v, want [%s]", h, two.url)
	}

	jobs := provertest.Jobs(t, p, chainID, 3)
	for _, j := range jobs[:2] {
		j.VK = id2
	}
	proveAll(t, pool, jobs)
	if s := proverStats(t, pool, one.url); s.JobsStarted > 1 {
		t.Fatalf("the prover without the second key got %d jobs, want at most the one naming no key", s.JobsStarted)
	}
	if s := proverStats(t, pool, two.url); s.JobsSucceeded < 2 {
		t.Fatalf("the prover with the second key proved %d jobs, want at least 2", s.JobsSucceeded)
	}

	bad := *jobs[0]
	bad.VK = prover.KeyID{7}
	if _, err := pool.Prove(context.Background(), &bad); !errors.Is(err, prover.ErrNotProvable) {
		t.Fatalf("job for an unknown key: %v, want not provable", err)
	}
	body, err := prover.EncodeJob(&bad)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(two.url+proverapi.PathProve, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(msg), proverapi.CodeNotProvable) ||
		!strings.Contains(string(msg), bad.VK.String()) {
		t.Fatalf("server: %d %s; want 422 not_provable naming the key", resp.StatusCode, msg)
	}
}
