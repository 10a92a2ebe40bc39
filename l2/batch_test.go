package l2_test

import (
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

func TestDataHash(t *testing.T) {
	txs := sampleTxs(t)
	var words []fr.Element
	for i := range txs {
		w := txs[i].Words()
		words = append(words, w[:]...)
	}
	got, err := l2.DataHash(l2.EncodeBatch(txs))
	if err != nil {
		t.Fatal(err)
	}
	if want := l2.HashMD(words...); !got.Equal(&want) {
		t.Fatalf("DataHash = %s, want H of the %d words %s", got.String(), len(words), want.String())
	}
}

func TestDepositChain(t *testing.T) {
	pk := l2.PublicKey{X: elem(5), Y: elem(6)}
	d := l2.DepositHash(pk, 1<<63)
	if want := l2.HashMD(pk.X, pk.Y, elem(1<<63)); !d.Equal(&want) {
		t.Fatalf("DepositHash = %s, want H(pk.x, pk.y, amount)", d.String())
	}
	var dq0 fr.Element
	if got, want := l2.NextDepositChain(dq0, d), l2.Compress(dq0, d); !got.Equal(&want) {
		t.Fatalf("NextDepositChain = %s, want Compress(dq, d)", got.String())
	}
}

func TestWithdrawalLeaf(t *testing.T) {
	addr := [20]byte{0x80, 19: 1}
	var a fr.Element
	a.SetBigInt(new(big.Int).SetBytes(addr[:]))
	if got, want := l2.WithdrawalLeaf(addr, 42), l2.HashMD(a, elem(42)); !got.Equal(&want) {
		t.Fatalf("WithdrawalLeaf = %s, want H(address, amount)", got.String())
	}
}

func TestCommitmentHash(t *testing.T) {
	c := l2.Commitment{
		ChainID: 7, BatchNumber: 3, PrevRoot: elem(10), NewRoot: elem(11), DepositsBefore: elem(12),
		DepositsAfter: elem(13), WithdrawalRoot: elem(14), DataHash: elem(15), TraceRoot: elem(16), TxCount: 17,
	}
	want := l2.HashMD(l2.TagCommit, elem(7), elem(3), elem(10), elem(11), elem(12), elem(13), elem(14),
		elem(15), elem(16), elem(17))
	if got := c.Hash(); !got.Equal(&want) {
		t.Fatalf("Commitment.Hash = %s, want %s", got.String(), want.String())
	}
	c2 := c
	c2.TxCount++
	if a, b := c.Hash(), c2.Hash(); a.Equal(&b) {
		t.Fatal("the tx count does not change the hash")
	}
}

// TestAppliedBatchCommitment: the commitment computed from a batch's trace without executing it
// is the one its execution gives.
func TestAppliedBatchCommitment(t *testing.T) {
	const depth = 4
	gen := l2test.NewRandomBatches(3, depth)
	filter, st := newState(t, depth), newState(t, depth)
	var dq fr.Element
	for b := range 10 {
		txs, err := l2.DecodeBatch(gen.Next(40))
		if err != nil {
			t.Fatal(err)
		}
		r := filter.ApplyBatch(txs, l2.ApplyOptions{})
		var ok []l2.Tx
		for k := range txs {
			if r.Statuses[k] == l2.StatusOK {
				ok = append(ok, txs[k])
			}
		}
		if len(ok) == 0 {
			continue
		}
		prev := st.Root()
		res := st.ApplyBatch(ok, l2.ApplyOptions{})
		data := l2.EncodeBatch(ok)
		ab := l2.AppliedBatch{ChainID: testChainID, Number: uint64(b + 1), PrevRoot: prev, DepositsBefore: dq, Data: data, Trace: res.PostRoots}
		c, err := ab.Commitment()
		if err != nil {
			t.Fatal(err)
		}
		dh, err := l2.DataHash(data)
		if err != nil {
			t.Fatal(err)
		}
		want := dq
		for i := range ok {
			if ok[i].Type.ConsumesDeposit() {
				want = l2.NextDepositChain(want, l2.DepositHash(ok[i].PubKey, ok[i].Amount))
			}
		}
		if !c.NewRoot.Equal(&res.FinalRoot) || !c.TraceRoot.Equal(&res.TraceRoot) || !c.WithdrawalRoot.Equal(&res.WithdrawalRoot) ||
			!c.DataHash.Equal(&dh) || !c.DepositsAfter.Equal(&want) || !c.PrevRoot.Equal(&prev) || c.TxCount != uint64(len(ok)) {
			t.Fatalf("batch %d: commitment %+v differs from the execution's", b, c)
		}
		dq = c.DepositsAfter
	}
	if _, err := (&l2.AppliedBatch{Data: l2.EncodeBatch([]l2.Tx{{}}), Trace: nil}).Commitment(); err == nil {
		t.Fatal("a batch without its trace was committed to")
	}
}
