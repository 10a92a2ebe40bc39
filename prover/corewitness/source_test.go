package corewitness

import (
	"math/big"
	"reflect"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/test"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
	"github.com/pqbridge/pqbridge/prover"
)

func newCore(t *testing.T, depth int) *ffi.Core {
	t.Helper()
	c, err := ffi.New(uint32(depth), 1024)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestTraceEqualsReference executes random batches, mixing successful and failing
// transactions of every kind (l2test.RandomBatches), in the core and in the Go reference: the
// traces, with every Merkle witness, must be equal.
func TestTraceEqualsReference(t *testing.T) {
	batches := 30
	if testing.Short() {
		batches = 8
	}
	for _, depth := range []int{4, 8, 24} {
		random := l2test.NewRandomBatches(uint64(depth), depth)
		core := &Source{Core: newCore(t, depth)}
		s, err := l2.NewState(depth)
		if err != nil {
			t.Fatal(err)
		}
		ref := &prover.ReferenceSource{State: s}
		for b := range batches {
			txs, err := l2.DecodeBatch(random.Next(40))
			if err != nil {
				t.Fatal(err)
			}
			got, err := core.ApplyBatchWitness(txs)
			if err != nil {
				t.Fatal(err)
			}
			want, err := ref.ApplyBatchWitness(txs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				for k := range txs {
					if !reflect.DeepEqual(got.Witnesses[k], want.Witnesses[k]) || got.Statuses[k] != want.Statuses[k] || got.PostRoots[k] != want.PostRoots[k] {
						t.Fatalf("depth %d, batch %d, tx %d (%+v): core %+v %v, reference %+v %v", depth, b, k, txs[k],
							got.Witnesses[k], got.Statuses[k], want.Witnesses[k], want.Statuses[k])
					}
				}
				t.Fatalf("depth %d, batch %d: traces differ", depth, b)
			}
		}
	}
}

// TestAssignmentEqualsReference builds the circuit assignment of valid signed batches from the
// core and from the reference: they must be equal, and solve the circuit.
func TestAssignmentEqualsReference(t *testing.T) {
	const chainID = 5
	p := prover.Params{Depth: 8, BatchSize: 4}
	keys := []*l2test.Signer{l2test.NewSigner(big.NewInt(11)), l2test.NewSigner(big.NewInt(12))}
	sign := func(k int, tx l2.Tx) l2.Tx {
		keys[k].Sign(chainID, &tx, l2test.TorsionPoint([]int{1, 8}[k]))
		return tx
	}
	batches := [][]l2.Tx{
		{
			{Type: l2.TxDeposit, From: 3, Amount: 500, PubKey: keys[0].Public()},
			{Type: l2.TxDeposit, From: 200, Amount: 70, PubKey: keys[1].Public()},
			{Type: l2.TxDeposit, From: 3, Amount: 5, PubKey: keys[0].Public()},
			{Type: l2.TxDeposit, From: 2, Amount: 1, PubKey: keys[1].Public()},
		},
		{
			sign(0, l2.Tx{Type: l2.TxTransfer, From: 3, To: 200, Amount: 100, Nonce: 0}),
			sign(1, l2.Tx{Type: l2.TxTransfer, From: 200, To: 200, Amount: 170, Nonce: 0}),
			{},
			sign(1, l2.Tx{Type: l2.TxWithdraw, From: 200, Amount: 20, Nonce: 1, Address: [20]byte{7}}),
		},
		{sign(0, l2.Tx{Type: l2.TxTransfer, From: 3, To: 2, Amount: 1, Nonce: 1})}, // paths meet at level 0
	}
	s, err := l2.NewState(p.Depth)
	if err != nil {
		t.Fatal(err)
	}
	ref := &prover.ReferenceSource{State: s}
	core := &Source{Core: newCore(t, p.Depth)}
	for b, txs := range batches {
		batch := &prover.Batch{ChainID: chainID, BatchNumber: uint64(b), Txs: txs}
		assign := func(src prover.WitnessSource) (*prover.Assignment, []any) {
			t.Helper()
			tr, err := src.ApplyBatchWitness(txs)
			if err != nil {
				t.Fatal(err)
			}
			a, err := prover.Assign(p, batch, tr)
			if err != nil {
				t.Fatalf("batch %d: %v", b, err)
			}
			w, err := frontend.NewWitness(a.Circuit, ecc.BN254.ScalarField())
			if err != nil {
				t.Fatal(err)
			}
			return a, []any{w.Vector()}
		}
		fromCore, coreVec := assign(core)
		fromRef, refVec := assign(ref)
		if fromCore.Commitment != fromRef.Commitment || !reflect.DeepEqual(coreVec, refVec) {
			t.Fatalf("batch %d: assignments differ", b)
		}
		if err := test.IsSolved(prover.NewCircuit(p), fromCore.Circuit, ecc.BN254.ScalarField()); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
	}
}
