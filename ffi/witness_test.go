package ffi

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// compareWitness checks a witness of the core against the reference state before the
// transaction that read it ("" if they agree): the index, the account, the leaf and the
// siblings, and that the witness verifies against root. An index outside the tree must give the
// all-zero witness.
func compareWitness(ref *l2.State, root fr.Element, index uint32, got Witness) string {
	depth := ref.Depth()
	if got.Index != index || len(got.Siblings) != depth {
		return fmt.Sprintf("witness of index %d: index %d, %d siblings", index, got.Index, len(got.Siblings))
	}
	if uint64(index) >= uint64(1)<<depth {
		if got.Account != (Account{}) || got.Leaf != ([32]byte{}) || !bytes.Equal(siblingBytes(got.Siblings), make([]byte, 32*depth)) {
			return fmt.Sprintf("witness of index %d outside the tree is not zero: %+v", index, got)
		}
		return ""
	}
	a, exists := ref.Account(index)
	if want := goAccountOf(a, exists); got.Account != want {
		return fmt.Sprintf("witness of index %d: account %+v, reference %+v", index, got.Account, want)
	}
	var leaf fr.Element
	if exists {
		leaf = a.Leaf()
	}
	if got.Leaf != wordOf(leaf) {
		return fmt.Sprintf("witness of index %d: leaf %x, reference %x", index, got.Leaf, wordOf(leaf))
	}
	refSib, err := ref.Witness(index)
	if err != nil {
		return err.Error()
	}
	sib := make([]fr.Element, depth)
	for l := range sib {
		if got.Siblings[l] != wordOf(refSib[l]) {
			return fmt.Sprintf("witness of index %d: sibling %d %x, reference %x", index, l, got.Siblings[l], wordOf(refSib[l]))
		}
		sib[l] = frOf(got.Siblings[l])
	}
	if !l2.VerifyWitness(root, depth, index, leaf, sib) {
		return fmt.Sprintf("witness of index %d does not verify against the root before the transaction", index)
	}
	return ""
}

func siblingBytes(s [][32]byte) []byte {
	b := make([]byte, 0, 32*len(s))
	for _, w := range s {
		b = append(b, w[:]...)
	}
	return b
}

func equalWitness(a, b Witness) bool {
	return a.Account == b.Account && a.Index == b.Index && a.Leaf == b.Leaf &&
		bytes.Equal(siblingBytes(a.Siblings), siblingBytes(b.Siblings))
}

// TestApplyBatchWitnessVsReference applies random batches with witnesses and replays them
// transaction by transaction on the reference: before each transaction, the sender's and the
// recipient's witnesses must be the reference's accounts and witnesses and verify against the
// reference root (trace[k-1], or the batch's pre-state root); after it, the status, post root
// and withdrawal leaf must be the reference's.
func TestApplyBatchWitnessVsReference(t *testing.T) {
	const depth = 10
	batches, maxTxs := 150, 64
	if testing.Short() {
		batches = 30
	}
	seed := *diffSeed
	c := newTestCore(t, depth)
	ref, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	gen := l2test.NewRandomBatches(seed, depth)
	var (
		out      BatchOutput
		w        BatchWitness
		statuses = map[TxStatus]int{}
	)
	for b := range batches {
		data := gen.Next(maxTxs)
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.ApplyBatchWitness(data, &out, &w); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if w.Len() != len(txs) || out.Len() != len(txs) {
			t.Fatalf("batch %d: %d witnesses and %d results for %d transactions", b, w.Len(), out.Len(), len(txs))
		}
		postRoots := make([]fr.Element, len(txs))
		leaves := make([]fr.Element, len(txs))
		for k := range txs {
			tx := &txs[k]
			fail := func(d string) {
				t.Fatalf("seed %d (-diff.seed=%d), batch %d, tx %d (%s %d->%d amount %d nonce %d): %s",
					seed, seed, b, k, tx.Type, tx.From, tx.To, tx.Amount, tx.Nonce, d)
			}
			root := ref.Root()
			if d := compareWitness(ref, root, tx.From, w.Sender(k)); d != "" {
				fail("sender: " + d)
			}
			if tx.Type == l2.TxTransfer {
				if d := compareWitness(ref, root, tx.To, w.Recipient(k)); d != "" {
					fail("recipient: " + d)
				}
			} else if !equalWitness(w.Recipient(k), w.Sender(k)) {
				fail("the recipient's witness is not a copy of the sender's")
			}
			status, leaf := ref.Apply(tx, l2.ApplyOptions{})
			postRoots[k], leaves[k] = ref.Root(), leaf
			switch {
			case out.Statuses[k] != TxStatus(status):
				fail(fmt.Sprintf("status core %v, reference %v", out.Statuses[k], status))
			case out.PostRoot(k) != wordOf(postRoots[k]):
				fail("post root differs from the reference")
			case out.WithdrawalLeaf(k) != wordOf(leaf):
				fail("withdrawal leaf differs from the reference")
			}
			statuses[out.Statuses[k]]++
		}
		if out.FinalRoot != wordOf(ref.Root()) || out.TraceRoot != wordOf(l2.ListRoot(postRoots)) ||
			out.WithdrawalRoot != wordOf(l2.ListRoot(leaves)) {
			t.Fatalf("batch %d: final, trace or withdrawal root differs from the reference", b)
		}
	}
	t.Logf("seed %d: %d batches; statuses %v", seed, batches, statuses)
	for _, s := range []TxStatus{TxOK, TxIndexOutOfRange, TxSenderNotFound, TxRecipientNotFound, TxBadNonce, TxInsufficientBalance} {
		if statuses[s] == 0 {
			t.Errorf("no transaction with status %v", s)
		}
	}
}

// TestApplyBatchWitnessEqualsApplyBatch applies the same random batches to two cores, one with
// ApplyBatch and one with ApplyBatchWitness: the outputs must be identical after every batch,
// and so must the states.
func TestApplyBatchWitnessEqualsApplyBatch(t *testing.T) {
	const depth = 16
	batches, maxTxs := 40, 256
	if testing.Short() {
		batches, maxTxs = 12, 64
	}
	seed := *diffSeed
	plain, traced := newTestCore(t, depth), newTestCore(t, depth)
	gen := l2test.NewRandomBatches(seed, depth)
	rng := rand.New(rand.NewPCG(seed, 3))
	var (
		want, got BatchOutput
		w         BatchWitness
	)
	for b := range batches {
		size := 1 + rng.IntN(maxTxs)
		if b == batches-1 {
			size = MaxBatchTxs // the largest witness buffer
		}
		data := gen.Next(size)
		mustApply(t, plain, data, &want)
		if err := traced.ApplyBatchWitness(data, &got, &w); err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		if !equalOutputs(&want, &got) {
			t.Fatalf("seed %d, batch %d: ApplyBatchWitness results differ from ApplyBatch's", seed, b)
		}
		if w.Len() != got.Len() {
			t.Fatalf("batch %d: %d witnesses for %d transactions", b, w.Len(), got.Len())
		}
		if !bytes.Equal(stateImage(t, plain), stateImage(t, traced)) {
			t.Fatalf("seed %d, batch %d: states differ", seed, b)
		}
	}
}

// TestApplyBatchWitnessStructuralErrors mutates random batches (as the differential test does)
// and requires ApplyBatchWitness to give ApplyBatch's call-level error, or both to succeed with
// equal results; a rejected batch changes nothing and leaves both outputs empty.
func TestApplyBatchWitnessStructuralErrors(t *testing.T) {
	const depth = 8
	rounds := 600
	if testing.Short() {
		rounds = 150
	}
	seed := *diffSeed
	plain, traced := newTestCore(t, depth), newTestCore(t, depth)
	gen := l2test.NewRandomBatches(seed, depth)
	rng := rand.New(rand.NewPCG(seed, 4))
	var (
		want, got BatchOutput
		w         BatchWitness
		classes   = map[string]int{}
	)
	for round := range rounds {
		data := mutate(rng, gen.Next(1+rng.IntN(8)))
		before := stateImage(t, traced)
		errPlain := plain.ApplyBatch(data, &want)
		errTraced := traced.ApplyBatchWitness(data, &got, &w)
		if (errPlain == nil) != (errTraced == nil) {
			t.Fatalf("round %d, data %x: ApplyBatch %v, ApplyBatchWitness %v", round, data, errPlain, errTraced)
		}
		if errPlain == nil {
			classes["accepted"]++
			if !equalOutputs(&want, &got) || w.Len() != got.Len() {
				t.Fatalf("round %d: results differ", round)
			}
		} else {
			matched := false
			for _, cl := range errorClasses {
				if errors.Is(errPlain, cl.core) {
					matched = errors.Is(errTraced, cl.core)
					classes[cl.core.Error()]++
				}
			}
			if !matched {
				t.Fatalf("round %d, data %x: ApplyBatch %v, ApplyBatchWitness %v", round, data, errPlain, errTraced)
			}
			if got.Len() != 0 || w.Len() != 0 {
				t.Fatalf("round %d: outputs not emptied after %v", round, errTraced)
			}
			if !bytes.Equal(before, stateImage(t, traced)) {
				t.Fatalf("round %d: state changed by a rejected batch", round)
			}
		}
		if !bytes.Equal(stateImage(t, plain), stateImage(t, traced)) {
			t.Fatalf("round %d: states differ", round)
		}
	}
	t.Logf("seed %d: outcomes of %d mutated batches: %v", seed, rounds, classes)
	for _, cl := range errorClasses {
		if classes[cl.core.Error()] == 0 {
			t.Errorf("no mutated batch was rejected as %v", cl.core)
		}
	}
}

// TestApplyBatchWitnessBuffers checks the core's own validation of the witness buffer (the
// binding never passes a short one) and the binding's nil checks.
func TestApplyBatchWitnessBuffers(t *testing.T) {
	c := newBadInputCore(t)
	txs := batch(transfer(0, 2, 1, 0), withdraw(2, 1, 1, 0))
	const n = 2
	need := 2 * n * (witnessEntryFixed + 32*badInputDepth)
	for _, size := range []int{0, 1, need - 32, need - 1} {
		t.Run(fmt.Sprintf("%d of %d bytes", size, need), func(t *testing.T) {
			before := stateImage(t, c)
			var out BatchOutput
			err := c.applyBatchWitness(txs, make([]TxStatus, n), make([]byte, 32*n), make([]byte, 32*n), make([]byte, size), &out)
			if !errors.Is(err, ErrBufferTooSmall) {
				t.Fatalf("error %v, want %v", err, ErrBufferTooSmall)
			}
			if !bytes.Equal(before, stateImage(t, c)) {
				t.Fatal("state changed by a rejected call")
			}
		})
	}
	var out BatchOutput
	if err := c.applyBatchWitness(txs, make([]TxStatus, n), make([]byte, 32*n), make([]byte, 32*n), make([]byte, need), &out); err != nil || out.Applied != n {
		t.Fatalf("a buffer of exactly %d bytes: %v, %d applied", need, err, out.Applied)
	}
	var w BatchWitness
	if err := c.ApplyBatchWitness(txs, nil, &w); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil output: %v, want %v", err, ErrInvalidArgument)
	}
	if err := c.ApplyBatchWitness(txs, &out, nil); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("nil witness: %v, want %v", err, ErrInvalidArgument)
	}
}

// TestApplyBatchWitnessReuse checks that a reused BatchWitness is rewritten, shrinks and grows
// with the batch, and that a steady-state call allocates nothing on the Go heap.
func TestApplyBatchWitnessReuse(t *testing.T) {
	c := newBadInputCore(t)
	var (
		out BatchOutput
		w   BatchWitness
	)
	long := batch(transfer(0, 2, 1, 0), l2.Tx{}, deposit(7, 7, 1))
	if err := c.ApplyBatchWitness(long, &out, &w); err != nil || w.Len() != 3 {
		t.Fatalf("%v, %d witnesses", err, w.Len())
	}
	short := batch(withdraw(2, 1, 1, 0))
	if err := c.ApplyBatchWitness(short, &out, &w); err != nil || w.Len() != 1 {
		t.Fatalf("%v, %d witnesses", err, w.Len())
	}
	if s := w.Sender(0); s.Index != 2 || s.Balance != 51 || s.Nonce != 0 || !s.Exists {
		t.Errorf("withdraw sender %+v, want index 2 with balance 51 and nonce 0", s)
	}
	if err := c.ApplyBatchWitness(batch(l2.Tx{}), &out, &w); err != nil {
		t.Fatal(err)
	}
	if err := c.ApplyBatchWitness(long[:TxSize+1], &out, &w); !errors.Is(err, ErrMalformed) || w.Len() != 0 {
		t.Fatalf("malformed batch: %v, %d witnesses left", err, w.Len())
	}
	noops := batch(l2.Tx{}, l2.Tx{}, l2.Tx{})
	allocs := testing.AllocsPerRun(50, func() {
		if err := c.ApplyBatchWitness(noops, &out, &w); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("ApplyBatchWitness allocates %.1f times per call, want 0", allocs)
	}
}
