package l2_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// witnesses returns the witnesses of s that tx needs.
func witnesses(t testing.TB, s *l2.State, tx *l2.Tx) []l2.AccountWitness {
	t.Helper()
	var ws []l2.AccountWitness
	for _, i := range tx.Touches(s.Depth()) {
		w, err := s.AccountWitness(i)
		if err != nil {
			t.Fatal(err)
		}
		ws = append(ws, w)
	}
	return ws
}

// checkPartialStep applies tx to full and to a partial state of full's root seeded with the
// witnesses of tx.Touches, and fails unless both give the same status, withdrawal leaf, root and
// touched accounts.
func checkPartialStep(t *testing.T, full *l2.State, tx *l2.Tx, opts l2.ApplyOptions) l2.Status {
	t.Helper()
	ps, err := l2.NewPartialState(full.Depth(), full.Root(), witnesses(t, full, tx))
	if err != nil {
		t.Fatal(err)
	}
	stP, wlP := ps.Apply(tx, opts)
	stF, wlF := full.Apply(tx, opts)
	rootP, rootF := ps.Root(), full.Root()
	if stP != stF || !wlP.Equal(&wlF) || !rootP.Equal(&rootF) {
		t.Fatalf("%s %d->%d: partial (%s, root %x), full (%s, root %x)", tx.Type, tx.From, tx.To, stP, rootP.Bytes(), stF, rootF.Bytes())
	}
	for _, i := range tx.Touches(full.Depth()) {
		a, okA := ps.Account(i)
		b, okB := full.Account(i)
		if a != b || okA != okB {
			t.Fatalf("account %d: partial %v %v, full %v %v", i, a, okA, b, okB)
		}
	}
	return stF
}

func TestPartialStateMatchesFull(t *testing.T) {
	t.Run("random batches, every status", func(t *testing.T) {
		for _, depth := range []int{2, 5, 32} {
			full, _ := l2.NewState(depth)
			gen := l2test.NewRandomBatches(uint64(depth), depth)
			seen := map[l2.Status]bool{}
			for range 30 {
				txs, err := l2.DecodeBatch(gen.Next(16))
				if err != nil {
					t.Fatal(err)
				}
				for k := range txs {
					seen[checkPartialStep(t, full, &txs[k], l2.ApplyOptions{})] = true
				}
			}
			if len(seen) < 6 {
				t.Fatalf("depth %d: only statuses %v", depth, seen)
			}
		}
	})
	t.Run("signed batches", func(t *testing.T) {
		for _, depth := range []int{3, 24} {
			full, _ := l2.NewState(depth)
			gen := l2test.NewValidBatches(uint64(depth), depth, testChainID)
			opts := l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true}
			for range 10 {
				txs, err := l2.DecodeBatch(gen.Next(8))
				if err != nil {
					t.Fatal(err)
				}
				for k := range txs {
					if st := checkPartialStep(t, full, &txs[k], opts); st != l2.StatusOK {
						t.Fatalf("valid tx: %s", st)
					}
				}
			}
			// A bad signature is judged the same way on both.
			tx := l2.Tx{Type: l2.TxWithdraw, From: full.Accounts()[0].Index, Nonce: full.Accounts()[0].Account.Nonce}
			if st := checkPartialStep(t, full, &tx, opts); st != l2.StatusBadSignature {
				t.Fatalf("unsigned withdraw: %s", st)
			}
		}
	})
}

// mustPanic runs f and fails unless it panics with a message containing want.
func mustPanic(t *testing.T, want string, f func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Fatalf("no panic, want one containing %q", want)
		}
		if msg, _ := r.(string); !strings.Contains(msg, want) {
			t.Fatalf("panic %v, want one containing %q", r, want)
		}
	}()
	f()
}

// TestPartialStateGuard: reading anything outside the witnessed paths panics instead of taking
// the unknown for empty.
func TestPartialStateGuard(t *testing.T) {
	pa := l2.PublicKey{X: elem(1), Y: elem(2)}
	full := newState(t, 4, deposit(pa, 6, 100), deposit(pa, 7, 50), deposit(pa, 12, 5))
	root := full.Root()
	w6, _ := full.AccountWitness(6)
	ps, err := l2.NewPartialState(4, root, []l2.AccountWitness{w6})
	if err != nil {
		t.Fatal(err)
	}
	// Account 7 is 6's sibling: its leaf is known, the account is not. Without the guard the
	// transfer would fail with recipient_not_found and leave the root unchanged.
	tx := transfer(6, 7, 10, 0)
	mustPanic(t, "account 7 is outside the witnessed paths", func() { ps.Apply(&tx, l2.ApplyOptions{}) })
	mustPanic(t, "account 12 is outside", func() { ps.Account(12) })
	mustPanic(t, "account 3 is outside", func() { ps.Account(3) })
	if _, err := ps.Witness(12); err == nil {
		t.Fatal("witness of an unwitnessed index")
	}
	if _, err := ps.AccountWitness(7); err == nil {
		t.Fatal("account witness of an unwitnessed index")
	}

	// Without witnesses only the root is known: a no-op applies, a deposit does not.
	empty, err := l2.NewPartialState(4, root, nil)
	if err != nil {
		t.Fatal(err)
	}
	noop := l2.Tx{}
	if st, _ := empty.Apply(&noop, l2.ApplyOptions{}); st != l2.StatusOK || empty.Root() != root {
		t.Fatalf("no-op on a partial state: %s", st)
	}
	d := deposit(pa, 0, 1)
	mustPanic(t, "account 0 is outside", func() { empty.Apply(&d, l2.ApplyOptions{}) })
	// An out-of-range index reads nothing, so it needs no witness.
	d = deposit(pa, 16, 1)
	if st, _ := empty.Apply(&d, l2.ApplyOptions{}); st != l2.StatusIndexOutOfRange {
		t.Fatalf("out of range deposit: %s", st)
	}

	// The clone of a partial state is partial too.
	c := ps.Clone()
	mustPanic(t, "account 12 is outside", func() { c.Account(12) })
}

func TestNewPartialStateRejects(t *testing.T) {
	pa := l2.PublicKey{X: elem(1), Y: elem(2)}
	full := newState(t, 4, deposit(pa, 6, 100), deposit(pa, 9, 50))
	root := full.Root()
	w6, _ := full.AccountWitness(6)
	w9, _ := full.AccountWitness(9)
	w3, _ := full.AccountWitness(3) // empty
	if w3.Exists || !w6.Exists {
		t.Fatal("witness existence")
	}
	if _, err := l2.NewPartialState(4, root, []l2.AccountWitness{w6, w9, w3}); err != nil {
		t.Fatalf("valid witnesses: %v", err)
	}
	mod := func(w l2.AccountWitness, f func(*l2.AccountWitness)) l2.AccountWitness {
		w.Siblings = slices.Clone(w.Siblings)
		f(&w)
		return w
	}
	other := root
	other.SetUint64(5)
	cases := []struct {
		name  string
		depth int
		root  fr.Element
		ws    []l2.AccountWitness
		want  string
	}{
		{"wrong sibling", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) { w.Siblings[2] = elem(1) })}, "does not verify"},
		{"wrong balance", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) { w.Account.Balance++ })}, "does not verify"},
		{"existing account claimed empty", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) {
			w.Exists, w.Account = false, l2.Account{}
		})}, "does not verify"},
		{"empty leaf claimed existing", 4, root, []l2.AccountWitness{mod(w3, func(w *l2.AccountWitness) { w.Exists = true })}, "does not verify"},
		{"empty leaf with an account", 4, root, []l2.AccountWitness{mod(w3, func(w *l2.AccountWitness) { w.Account.Balance = 1 })}, "non-zero account"},
		{"wrong index", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) { w.Index = 7 })}, "does not verify"},
		{"index outside", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) { w.Index = 16 })}, "outside"},
		{"twice", 4, root, []l2.AccountWitness{w6, w9, w6}, "twice"},
		{"short witness", 4, root, []l2.AccountWitness{mod(w6, func(w *l2.AccountWitness) { w.Siblings = w.Siblings[1:] })}, "siblings"},
		{"other root", 4, other, []l2.AccountWitness{w9}, "does not verify"},
		{"second witness wrong", 4, root, []l2.AccountWitness{w6, mod(w9, func(w *l2.AccountWitness) { w.Siblings[0] = elem(3) })}, "witness 1:"},
		{"depth", 1, root, nil, "depth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l2.NewPartialState(tc.depth, tc.root, tc.ws)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestTouches(t *testing.T) {
	pk := l2.PublicKey{X: elem(1)}
	cases := []struct {
		tx   l2.Tx
		want []uint32
	}{
		{l2.Tx{}, nil},
		{deposit(pk, 3, 1), []uint32{3}},
		{deposit(pk, 16, 1), nil},
		{transfer(3, 5, 1, 0), []uint32{3, 5}},
		{transfer(5, 3, 1, 0), []uint32{5, 3}},
		{transfer(5, 5, 1, 0), []uint32{5}},
		{transfer(16, 5, 1, 0), nil},
		{transfer(5, 16, 1, 0), nil},
		{withdraw(15, 1, 0), []uint32{15}},
		{withdraw(16, 1, 0), nil},
	}
	for _, tc := range cases {
		if got := tc.tx.Touches(4); !slices.Equal(got, tc.want) {
			t.Errorf("%s %d->%d: %v, want %v", tc.tx.Type, tc.tx.From, tc.tx.To, got, tc.want)
		}
	}
	if tx := transfer(1<<31, 0, 0, 0); !slices.Equal(tx.Touches(32), []uint32{1 << 31, 0}) {
		t.Errorf("depth 32: %v", tx.Touches(32))
	}
}

func TestListWitness(t *testing.T) {
	r := testRand(t)
	for _, n := range []int{0, 1, 2, 3, 7, 100, l2.MaxBatchTxs} {
		leaves := make([]fr.Element, n)
		for i := range leaves {
			leaves[i] = randElement(r)
		}
		root := l2.ListRoot(leaves)
		for _, k := range []int{0, n / 2, n - 1, n, l2.MaxBatchTxs - 1} {
			if k < 0 || k >= l2.MaxBatchTxs {
				continue
			}
			var leaf fr.Element
			if k < n {
				leaf = leaves[k]
			}
			sib := l2.ListWitness(leaves, k)
			if !l2.VerifyWitness(root, l2.ListDepth, uint32(k), leaf, sib) {
				t.Fatalf("n %d: witness of %d does not verify", n, k)
			}
			if k < n && l2.VerifyWitness(root, l2.ListDepth, uint32(k), elem(12345), sib) {
				t.Fatalf("n %d: witness of %d verifies another leaf", n, k)
			}
		}
	}
}
