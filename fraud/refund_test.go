package fraud_test

import (
	"errors"
	"math"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// fullWorld is a depth-2 tree whose four accounts are signers 0..3 at indices 1..3 and a fourth
// signer at index 0, so no new key has an index.
func fullWorld(t *testing.T) *world {
	t.Helper()
	w := newWorld(t, 2, 10, 20, math.MaxUint64-5)
	extra := l2test.NewSigner(big.NewInt(2000)) // a fourth key
	w.signers = append(w.signers, extra)
	if r := w.state.ApplyBatch([]l2.Tx{{Type: l2.TxDeposit, From: 0, Amount: 1, PubKey: extra.Public()}}, signOpts); r.Rejected != 0 {
		t.Fatalf("setup: %v", r.Statuses)
	}
	return w
}

func refundOf(w *world, signer int, amount uint64) l2.Tx {
	return l2.Tx{Type: l2.TxRefund, Amount: amount, PubKey: w.signers[signer].Public(), Address: [20]byte{0: 0xdd, 19: byte(signer)}}
}

// TestRefundSteps: a valid refund is never proven fraudulent; a refund of a placeable deposit
// (a free index, or the key's account with room) is, with one witness of that account; a valid
// refund whose trace entry moves the root is; and a withdrawal root that leaves the refund's
// leaf out is.
func TestRefundSteps(t *testing.T) {
	w := fullWorld(t)
	newKey := l2test.NewSigner(big.NewInt(2001))
	valid := []l2.Tx{
		{Type: l2.TxRefund, Amount: 7, PubKey: newKey.Public(), Address: [20]byte{0: 0xdd}},
		refundOf(w, 2, 6), // account 3 holds 2^64-6: no room for 6
	}
	b := commit(t, w.state, valid, signOpts)
	if _, err := b.build(); !errors.Is(err, fraud.ErrNoFraud) {
		t.Fatalf("valid refunds: Build = %v, want ErrNoFraud", err)
	}
	if empty := l2.ListRoot(nil); b.c.WithdrawalRoot.Equal(&empty) {
		t.Fatal("the refunds emit no withdrawal leaves")
	}

	sparse := newWorld(t, 2, 10, 20, 30) // index 0 is free
	cases := []struct {
		name string
		b    *posted
	}{
		{"placeable: a free index", commit(t, sparse.state, []l2.Tx{refundOf(sparse, 0, 5)}, l2.ApplyOptions{})},
		{"placeable: the key's account has room", commit(t, w.state, []l2.Tx{refundOf(w, 1, 5)}, l2.ApplyOptions{})},
		{"valid refund that moves the root", func() *posted {
			moved := withBalance(t, w.state, 1, 11).Root()
			return seal(t, w.state, l2.EncodeBatch(valid[:1]), []fr.Element{moved}, moved, b.c.WithdrawalRoot)
		}()},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := tc.b.build()
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			if p.Kind != fraud.KindStep || len(p.Accounts) != 1 {
				t.Fatalf("proof kind %d with %d accounts, want a step proof with one", p.Kind, len(p.Accounts))
			}
			if fraudulent, err := tc.b.judge(p.Encode()); err != nil || !fraudulent {
				t.Fatalf("Judge = %v, %v; want fraud", fraudulent, err)
			}
		})
	}

	// Against the valid refund, a witness of an occupied account of another key proves nothing,
	// and two witnesses are malformed.
	occupied, err := w.state.AccountWitness(1)
	if err != nil {
		t.Fatal(err)
	}
	p := fraud.StepProof(&b.c, b.trace, 0, []l2.AccountWitness{occupied})
	if fraudulent, err := b.judge(p.Encode()); err != nil || fraudulent {
		t.Fatalf("valid refund, occupied witness: Judge = %v, %v; want not fraud", fraudulent, err)
	}
	p.Accounts = append(p.Accounts, occupied)
	p.Accounts[1].Index = 2
	if _, err := b.judge(p.Encode()); !errors.Is(err, fraud.ErrMismatch) {
		t.Fatalf("two witnesses: Judge error %v, want ErrMismatch", err)
	}

	// The withdrawal root must hold the refunds' leaves.
	noLeaves := seal(t, w.state, b.data, b.trace, b.c.NewRoot, l2.ListRoot(nil))
	p2, err := noLeaves.build()
	if err != nil || p2.Kind != fraud.KindWithdrawalRoot {
		t.Fatalf("withdrawal root without the refunds: Build = %+v, %v", p2, err)
	}
}
