package challenger

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

const testChainID = 7

var signOpts = l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true}

// posted is a batch as L1 holds it: the commitment, the data and the trace.
type posted struct {
	c     l2.Commitment
	data  []byte
	trace []fr.Element
}

// post commits txs executed on a clone of pre with opts (every transaction kept, failing or
// not), as a sequencer with those rules posts them.
func post(pre *l2.State, number uint64, txs []l2.Tx, opts l2.ApplyOptions) *posted {
	r := pre.Clone().ApplyBatch(txs, opts)
	data := l2.EncodeBatch(txs)
	dh, err := l2.DataHash(data)
	if err != nil {
		panic(err)
	}
	return &posted{data: data, trace: r.PostRoots, c: l2.Commitment{ChainID: testChainID, BatchNumber: number,
		PrevRoot: pre.Root(), NewRoot: r.FinalRoot, WithdrawalRoot: r.WithdrawalRoot, DataHash: dh,
		TraceRoot: r.TraceRoot, TxCount: uint64(len(txs))}}
}

// open returns an executor of kind holding s.
func open(tb testing.TB, kind string, s *l2.State) executor {
	tb.Helper()
	x, err := openExecutor(kind, s.Depth(), testChainID, s.Accounts(), s.Root())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { x.close() })
	return x
}

// TestExecutorsAgree: on honest batches, on batches with a corrupted trace, new root or
// withdrawal root, and on random batches holding failing transactions, the core executor and the
// reference executor give fraud.Build's verdict on the whole state, with the same proof, byte
// for byte. After a verdict other than "no fraud" the core executor is dirty and the reference
// one is not; after "no fraud" both hold the state after the batch.
func TestExecutorsAgree(t *testing.T) {
	const depth = 6
	rng := rand.New(rand.NewPCG(5, 6))
	valid := l2test.NewValidBatches(1, depth, testChainID)
	random := l2test.NewRandomBatches(2, depth)
	agreed, _ := l2.NewState(depth)
	xs := []executor{open(t, ExecutorCore, agreed), open(t, ExecutorReference, agreed)}
	verdicts := map[string]int{}
	check := func(b *posted) bool {
		t.Helper()
		want, wantErr := fraud.Build(agreed.Clone(), &b.c, b.data, b.trace, nil)
		for k, x := range xs {
			txs, _ := l2.DecodeBatch(b.data)
			got, err := x.check(&b.c, b.data, txs, b.trace, nil)
			switch {
			case errors.Is(wantErr, fraud.ErrNoFraud):
				if !errors.Is(err, fraud.ErrNoFraud) {
					t.Fatalf("batch %d, executor %d: %+v %v, want no fraud", b.c.BatchNumber, k, got, err)
				}
			case err != nil || !bytes.Equal(got.Encode(), want.Encode()):
				t.Fatalf("batch %d, executor %d: %+v %v, want %+v", b.c.BatchNumber, k, got, err, want)
			}
			if x.dirty() != (k == 0 && wantErr == nil) {
				t.Fatalf("batch %d, executor %d: dirty %v", b.c.BatchNumber, k, x.dirty())
			}
		}
		if wantErr == nil {
			verdicts[want.Kind.String()]++
			return false
		}
		verdicts["no fraud"]++
		return true
	}
	// agree moves agreed by the batch and checks that the executors followed.
	agree := func(txs []l2.Tx) {
		t.Helper()
		agreed.ApplyBatch(txs, signOpts)
		want := agreed.Root()
		for k, x := range xs {
			if got, err := x.root(); err != nil || !got.Equal(&want) {
				t.Fatalf("executor %d at %x (%v), want %x", k, got.Bytes(), err, want.Bytes())
			}
		}
	}
	reopen := func() {
		xs[0].close()
		xs[0] = open(t, ExecutorCore, agreed)
	}
	rounds := 150
	if testing.Short() {
		rounds = 40
	}
	number := uint64(0)
	for range rounds {
		number++
		txs, _ := l2.DecodeBatch(valid.Next(12))
		b := post(agreed, number, txs, signOpts)
		switch rng.IntN(4) {
		case 0: // honest
		case 1:
			b.trace[rng.IntN(len(b.trace))].SetUint64(rng.Uint64())
			b.c.TraceRoot = l2.ListRoot(b.trace)
			if rng.IntN(2) == 0 {
				b.c.NewRoot = b.trace[len(b.trace)-1]
			}
		case 2:
			b.c.NewRoot.SetUint64(rng.Uint64())
		default:
			b.c.WithdrawalRoot.SetUint64(rng.Uint64())
		}
		if !check(b) {
			reopen()
			if !check(post(agreed, number, txs, signOpts)) { // the honest batch in its place
				t.Fatalf("batch %d: honest batch not agreed", number)
			}
		}
		agree(txs)
	}
	// Random batches, executed without signature checks: their first failing transaction, if
	// any, is the fault. The state then moves as they say, so that the next ones aim right.
	unchecked := l2.ApplyOptions{ChainID: testChainID}
	for range rounds {
		number++
		txs, _ := l2.DecodeBatch(random.Next(12))
		agreedIt := check(post(agreed, number, txs, unchecked))
		agreed.ApplyBatch(txs, unchecked)
		if !agreedIt {
			for k := range xs {
				xs[k].close()
			}
			xs = []executor{open(t, ExecutorCore, agreed), open(t, ExecutorReference, agreed)}
		}
	}
	if len(verdicts) != 4 {
		t.Fatalf("verdicts %v", verdicts)
	}
	t.Logf("verdicts %v", verdicts)
}
