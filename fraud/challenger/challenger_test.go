package challenger_test

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/challenger"
	"github.com/pqbridge/pqbridge/fraud/challenger/nodesource"
	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
)

// TestChallengerProvesFraud: for each class of fraud a sequencer can post, both challengers
// (core and reference executor, following the same node) detect the batch, build the same proof
// (kind, step) and send it; L1 upholds the first and reverts the batch and the one built on it,
// the second finds the batch gone. Both challengers stay at the last honest batch and agree with
// the honest batch posted in its place.
func TestChallengerProvesFraud(t *testing.T) {
	w := newWorld(t, 3)
	chs := []*challenger.Challenger{w.challenger(executors[0], 3, ""), w.challenger(executors[1], 4, "")}
	for s := range 3 {
		w.deposit(s, 1000)
	}
	w.blockOK()
	rng := rand.New(rand.NewPCG(1, 2))
	step := func(t *testing.T) {
		t.Helper()
		for _, ch := range chs {
			if err := ch.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	w.post(w.next(rng, func(*l2.State) (l2.Tx, bool) { return l2.Tx{}, false })) // the deposits
	w.blockOK()
	step(t)

	signed, withdraw := w.transfer, w.withdraw
	accounts := w.state.Accounts()
	a, b, c := accounts[0].Index, accounts[1].Index, accounts[2].Index
	unchecked := l2.ApplyOptions{ChainID: l2ChainID} // a sequencer that does not check signatures
	honest := func() []l2.Tx {
		return []l2.Tx{signed(a, b, 5), withdraw(b, 3), signed(c, a, 7)}
	}
	cases := []struct {
		name  string
		batch func() *batch
		kind  fraud.Kind
		step  uint64
	}{
		{"wrong root in the middle of the trace", func() *batch {
			x := w.lie(honest(), unchecked)
			x.trace[1] = elem(42)
			x.reseal(false)
			return x
		}, fraud.KindStep, 1},
		{"wrong roots from the first step on", func() *batch {
			x := w.lie(honest(), unchecked)
			for k := range x.trace {
				x.trace[k] = elem(uint64(100 + k))
			}
			x.reseal(true)
			return x
		}, fraud.KindStep, 0},
		{"bad signature included", func() *batch {
			txs := honest()
			txs[2].Sig.S = elem(12345)
			return w.lie(txs, unchecked)
		}, fraud.KindStep, 2},
		{"failing transaction included", func() *batch {
			txs := honest()
			txs[1].Amount = overdraw // more than the balance: the state does not change
			w.sign(&txs[1])
			return w.lie(txs, unchecked)
		}, fraud.KindStep, 1},
		{"final root not the last trace entry", func() *batch {
			x := w.lie(honest(), unchecked)
			x.c.NewRoot = elem(7)
			return x
		}, fraud.KindFinalRoot, 2},
		{"wrong withdrawal root", func() *batch {
			x := w.lie(honest(), unchecked)
			x.c.WithdrawalRoot = elem(8)
			return x
		}, fraud.KindWithdrawalRoot, 0},
	}
	upheld := 0
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			agreed := w.rollup()
			bad := tc.batch()
			w.post(bad)
			w.blockOK()
			// A batch on the fraudulent one: the challengers wait for its revert.
			on := w.seal(&batch{pre: w.state.Clone(), consumed: w.consumed, txs: []l2.Tx{{}}, trace: []fr.Element{bad.c.NewRoot},
				wleaves: []fr.Element{{}}})
			on.c.PrevRoot = bad.c.NewRoot
			w.post(on)
			w.blockOK()
			before := make([]challenger.Status, len(chs))
			for i, ch := range chs {
				before[i] = ch.Status()
			}
			step(t)
			for i, ch := range chs {
				st := ch.Status()
				if st.Challenges != before[i].Challenges+1 || st.Challenged != bad.c.BatchNumber || st.LastProof != tc.kind ||
					st.LastStep != tc.step || st.Agreed != agreed.HeadNumber || len(st.Waiting) != 1 {
					t.Fatalf("%s challenger: %+v", st.Executor, st)
				}
				if root := st.AgreedRoot.Bytes(); root != agreed.HeadRoot {
					t.Fatalf("%s challenger at root %x, agreed %x", st.Executor, root, agreed.HeadRoot)
				}
			}
			r := w.block()
			var up, rev []uint64
			for _, e := range r.Events {
				switch e.Kind {
				case chain.EventChallengeUpheld:
					up = append(up, e.Number)
				case chain.EventBatchReverted:
					rev = append(rev, e.Number)
				}
			}
			if len(up) != 1 || up[0] != bad.c.BatchNumber || len(rev) != 2 || r.Errs[0] != nil ||
				!errors.Is(r.Errs[1], chain.ErrNotPending) {
				t.Fatalf("challenges: upheld %v, reverted %v, errors %v", up, rev, r.Errs)
			}
			upheld++
			step(t)
			w.revert(bad)
			w.post(w.next(rng, func(*l2.State) (l2.Tx, bool) { return l2.Tx{}, false }))
			w.blockOK()
			step(t)
			got := 0
			for i, ch := range chs {
				st := ch.Status()
				got += st.Upheld
				if st.Agreed != bad.c.BatchNumber || st.Challenged != 0 || len(st.Waiting) != 0 || st.Challenges != before[i].Challenges+1 {
					t.Fatalf("%s challenger after the revert: %+v", st.Executor, st)
				}
			}
			if got != upheld {
				t.Fatalf("%d challenges upheld, challengers count %d", upheld, got)
			}
		})
	}
}

// TestStoreOpensWithEitherExecutor: a challenger stopped and opened again on its directory
// resumes at the same batch and root, whichever executor wrote the store and whichever reads
// it, and goes on agreeing with new batches.
func TestStoreOpensWithEitherExecutor(t *testing.T) {
	w := newWorld(t, 4)
	for s := range 4 {
		w.deposit(s, 100_000)
	}
	w.blockOK()
	rng := rand.New(rand.NewPCG(3, 4))
	dir := filepath.Join(t.TempDir(), "challenger")
	batches := 0
	for round, exec := range []string{executors[0], executors[1], executors[0], executors[0], executors[1]} {
		ch := w.challenger(exec, 3, dir)
		if st := ch.Status(); st.Agreed != uint64(batches) {
			t.Fatalf("round %d (%s): reopened at batch %d, want %d", round, exec, st.Agreed, batches)
		}
		for range 3 {
			txs := 1 + rng.IntN(8)
			w.post(w.next(rng, func(s *l2.State) (l2.Tx, bool) { txs--; return w.randomTx(rng, s), txs >= 0 }))
			w.blockOK()
			batches++
			if err := ch.Step(w.ctx); err != nil {
				t.Fatal(err)
			}
		}
		root := w.state.Root()
		if st := ch.Status(); st.Agreed != uint64(batches) || !st.AgreedRoot.Equal(&root) || st.Challenges != 0 || st.Executor != exec {
			t.Fatalf("round %d (%s): %+v", round, exec, st)
		}
		if err := ch.Stop(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestOldStoreRefused: a store that keeps the whole state in one value (the format before the
// per-account store) is refused, not read as an empty state.
func TestOldStoreRefused(t *testing.T) {
	w := newWorld(t, 1)
	dir := filepath.Join(t.TempDir(), "challenger")
	db, err := pebble.Open(dir, &pebble.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set([]byte("m/state"), []byte{0xc0}, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ch, err := challenger.New(w.ctx, challenger.Config{Dir: dir, Source: nodesource.New(w.node), Key: l1Key(3),
		L1ChainID: l1ChainID, RollupID: rollupID})
	if err == nil {
		ch.Stop()
		t.Fatal("an old store opened")
	}
}

func elem(v uint64) fr.Element {
	var e fr.Element
	e.SetUint64(v)
	return e
}
