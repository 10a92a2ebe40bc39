package l1client_test

import (
	"context"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/l1/l1client"
)

// BenchmarkAccountRead: one account read over loopback QUIC, plain (the reply's ML-DSA-65
// signature) against proven (l1_proveState: the signature, a certificate of 3 of 4 validators
// and the state proof), both from the same one-node chain behind a certifyingValidator.
func BenchmarkAccountRead(b *testing.B) {
	n, addr := startNode(b, b.TempDir())
	members, set := testSet(b)
	v := &certifyingValidator{n: n, key: members[0], set: set, signers: members[:3]}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	plain, err := l1client.Dial(ctx, l1client.Config{Addr: addr, ChainID: chainID, Validator: validator.Public(), Key: key(9)})
	if err != nil {
		b.Fatal(err)
	}
	defer plain.Close()
	proven, err := l1client.Dial(ctx, l1client.Config{Addr: v.start(b), ChainID: chainID, Validators: set, Key: key(9), StallTimeout: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer proven.Close()
	b.Run("plain", func(b *testing.B) {
		for b.Loop() {
			if _, err := plain.Account(ctx, alice.Address()); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("proven", func(b *testing.B) {
		for b.Loop() {
			if _, err := proven.Verified().Account(ctx, alice.Address()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
