package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l1/l1client"
	"github.com/pqbridge/pqbridge/l1/node"
	"github.com/pqbridge/pqbridge/l1/pqkey"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
	"github.com/pqbridge/pqbridge/l1/valset"
)

// TestL1ValidatorsOption: --l1-validators (here from config.json) pins the validator set the
// wallet's L1 client accepts replies from; it excludes --validator, and a bad file is named.
func TestL1ValidatorsOption(t *testing.T) {
	dir := t.TempDir()
	k := pqkey.NewKeyFromSeed([pqkey.SeedSize]byte{0x51})
	n, err := node.New(node.Config{Dir: t.TempDir(), Key: k, Genesis: chain.Genesis{ChainID: 77, Validator: k.Public().Bytes()}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := n.Serve(context.Background(), quicrpc.ServerConfig{ListenAddr: "127.0.0.1:0"})
	if err != nil {
		n.Stop()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if err := n.Stop(); err != nil {
			t.Errorf("node stop: %v", err)
		}
	})
	b, err := json.Marshal(&valset.File{Validators: []valset.Entry{{PQKey: k.Public().Bytes(), ConsensusKey: make([]byte, 32), Power: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	vals := proctest.WriteFile(t, dir, "validators.json", string(b))
	bad := proctest.WriteFile(t, dir, "bad.json", `{"validators": []}`)

	run := func(file string, args ...string) (*app, error) {
		home := t.TempDir()
		writeConfig(t, home, file)
		a, root := newApp(&bytes.Buffer{}, &bytes.Buffer{}, lookup(map[string]string{"PQBRIDGE_HOME": home}))
		root.SetArgs(append([]string{"key", "list"}, args...))
		return a, root.Execute()
	}
	a, err := run(`{"l1": "` + srv.Addr().String() + `", "l1-chain-id": 77, "l1-validators": "` + vals + `"}`)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.l1Client(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st, err := c.Status(ctx); err != nil || st.ChainID != 77 || c.Validator() != k.Address() {
		t.Fatalf("status %+v %v from %s, want chain 77 from %s", st, err, c.Validator(), k.Address())
	}

	// Balances and claim checks go through the proven reads, which a one-node chain cannot
	// serve: its replies carry no certificate.
	if _, ok := a.funds(c, 0).(l1client.Verified); !ok {
		t.Fatalf("funds reads %T, want the proven reads", a.funds(c, 0))
	}
	if _, err := a.funds(c, 0).Account(ctx, k.Address()); !errors.Is(err, l1client.ErrCertificate) {
		t.Fatalf("proven balance from a one-node chain: %v, want ErrCertificate", err)
	}

	a, err = run(`{"l1-validators": "`+vals+`"}`, "--validator", "0x00")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.l1Client(ctx, nil); err == nil || !strings.Contains(err.Error(), "exclude each other") {
		t.Fatalf("both: %v, want a refusal", err)
	}
	a, err = run(`{}`, "--l1-validators", bad)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.l1Client(ctx, nil); err == nil || !strings.Contains(err.Error(), "--l1-validators: validator set "+bad+": lists no validator") {
		t.Fatalf("bad file: %v", err)
	}
}
