package challenger

import (
	"bytes"
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// TestExecutorsAgreeOnRefunds: on batches holding refunds (docs/protocol.md §7.6) the core
// executor, which proves a wrong refund from a snapshot of its core (refund.go), gives
// fraud.Build's verdict on the whole state, proof for proof, and the judge upholds every proof:
// a valid refund on a full tree; the refund of a deposit whose key has room, or (on a tree with
// a free index) of any deposit; a valid refund whose trace entry moved the root; and a fault
// after a valid refund.
func TestExecutorsAgreeOnRefunds(t *testing.T) {
	key := func(i int64) l2.PublicKey { return l2test.NewSigner(big.NewInt(700 + i)).Public() }
	accounts := func(n uint32) []l2.IndexedAccount {
		var out []l2.IndexedAccount
		for i := range n {
			out = append(out, l2.IndexedAccount{Index: i, Account: l2.Account{PubKey: key(int64(i)), Balance: math.MaxUint64 - 5}})
		}
		return out
	}
	full, err := l2.NewStateFromAccounts(2, accounts(4))
	if err != nil {
		t.Fatal(err)
	}
	sparse, err := l2.NewStateFromAccounts(2, accounts(3)) // index 3 is free
	if err != nil {
		t.Fatal(err)
	}
	refund := func(i int64, amount uint64) l2.Tx {
		return l2.Tx{Type: l2.TxRefund, Amount: amount, PubKey: key(i), Address: [20]byte{byte(i)}}
	}
	unchecked := l2.ApplyOptions{ChainID: testChainID}
	cases := []struct {
		name  string
		pre   *l2.State
		b     func(pre *l2.State) *posted
		fraud bool
	}{
		{"valid refunds: a new key, a key without room", full, func(pre *l2.State) *posted {
			return post(pre, 1, []l2.Tx{refund(9, 7), refund(1, 6), {}}, unchecked)
		}, false},
		{"refund of a key with room", full, func(pre *l2.State) *posted {
			return post(pre, 1, []l2.Tx{refund(9, 7), refund(2, 5)}, unchecked)
		}, true},
		{"refund with a free index", sparse, func(pre *l2.State) *posted {
			return post(pre, 1, []l2.Tx{{}, refund(9, 7)}, unchecked)
		}, true},
		{"valid refund that moves the root", full, func(pre *l2.State) *posted {
			b := post(pre, 1, []l2.Tx{refund(9, 7), {}}, unchecked)
			b.trace[0].SetUint64(12345)
			b.c.TraceRoot = l2.ListRoot(b.trace)
			return b
		}, true},
		{"fault after a valid refund", full, func(pre *l2.State) *posted {
			b := post(pre, 1, []l2.Tx{refund(9, 7), {}}, unchecked)
			b.trace[1].SetUint64(12345)
			b.c.TraceRoot, b.c.NewRoot = l2.ListRoot(b.trace), b.trace[1]
			return b
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := tc.b(tc.pre)
			want, wantErr := fraud.Build(tc.pre.Clone(), &b.c, b.data, b.trace, nil)
			if (wantErr == nil) != tc.fraud || (wantErr != nil && !errors.Is(wantErr, fraud.ErrNoFraud)) {
				t.Fatalf("fraud.Build: %+v %v", want, wantErr)
			}
			for _, kind := range []string{ExecutorCore, ExecutorReference} {
				txs, err := l2.DecodeBatch(b.data)
				if err != nil {
					t.Fatal(err)
				}
				got, err := open(t, kind, tc.pre).check(&b.c, b.data, txs, b.trace, nil)
				if !tc.fraud {
					if !errors.Is(err, fraud.ErrNoFraud) {
						t.Fatalf("%s: %+v %v, want no fraud", kind, got, err)
					}
					continue
				}
				if err != nil || !bytes.Equal(got.Encode(), want.Encode()) {
					t.Fatalf("%s: %+v %v, want %+v", kind, got, err, want)
				}
				upheld, err := fraud.Judge{}.Judge(&fraud.Case{L2ChainID: testChainID, TreeDepth: 2, Commitment: b.c, Data: b.data, Proof: got.Encode()})
				if err != nil || !upheld {
					t.Fatalf("%s: judge %v %v", kind, upheld, err)
				}
			}
		})
	}
}
