package l2_test

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

const testChainID = 7

func deposit(pk l2.PublicKey, to uint32, amount uint64) l2.Tx {
	return l2.Tx{Type: l2.TxDeposit, From: to, Amount: amount, PubKey: pk}
}

func transfer(from, to uint32, amount, nonce uint64) l2.Tx {
	return l2.Tx{Type: l2.TxTransfer, From: from, To: to, Amount: amount, Nonce: nonce}
}

func withdraw(from uint32, amount, nonce uint64) l2.Tx {
	return l2.Tx{Type: l2.TxWithdraw, From: from, Amount: amount, Nonce: nonce, Address: [20]byte{19: 0xaa}}
}

func newState(t testing.TB, depth int, setup ...l2.Tx) *l2.State {
	t.Helper()
	s, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	for i := range setup {
		if st, _ := s.Apply(&setup[i], l2.ApplyOptions{}); st != l2.StatusOK {
			t.Fatalf("setup tx %d: %v", i, st)
		}
	}
	return s
}

// denseRoot computes the root of a small tree from its accounts alone, by hashing every node.
func denseRoot(s *l2.State) fr.Element {
	level := make([]fr.Element, 1<<s.Depth())
	for _, a := range s.Accounts() {
		level[a.Index] = a.Account.Leaf()
	}
	for len(level) > 1 {
		next := make([]fr.Element, len(level)/2)
		for q := range next {
			next[q] = l2.Compress(level[2*q], level[2*q+1])
		}
		level = next
	}
	return level[0]
}

func TestApplyRules(t *testing.T) {
	pa := l2.PublicKey{X: elem(1), Y: elem(2)}
	pb := l2.PublicKey{X: elem(3), Y: elem(4)}
	const max = math.MaxUint64
	// The state before each case: account 1 (pa, 100), account 2 (pb, 50), depth 4 (16 leaves).
	setup := []l2.Tx{deposit(pa, 1, 100), deposit(pb, 2, 50)}
	type acc struct {
		index          uint32
		balance, nonce uint64
	}
	tests := []struct {
		name  string
		pre   []l2.Tx // after setup
		tx    l2.Tx
		want  l2.Status
		after []acc // accounts to check when the status is ok
	}{
		{name: "noop", tx: l2.Tx{Type: l2.TxNoop}, want: l2.StatusOK},
		{name: "deposit creates", tx: deposit(pb, 15, 9), want: l2.StatusOK, after: []acc{{15, 9, 0}}},
		{name: "deposit of 0 creates", tx: deposit(pb, 0, 0), want: l2.StatusOK, after: []acc{{0, 0, 0}}},
		{name: "deposit credits", tx: deposit(pa, 1, 5), want: l2.StatusOK, after: []acc{{1, 105, 0}}},
		{name: "deposit to max", tx: deposit(pa, 1, max-100), want: l2.StatusOK, after: []acc{{1, max, 0}}},
		{name: "deposit out of range", tx: deposit(pa, 16, 1), want: l2.StatusIndexOutOfRange},
		{name: "deposit out of range u32", tx: deposit(pa, math.MaxUint32, 1), want: l2.StatusIndexOutOfRange},
		{name: "deposit other key", tx: deposit(pb, 1, 1), want: l2.StatusPubkeyMismatch},
		{name: "deposit other key, zero amount", tx: deposit(pb, 1, 0), want: l2.StatusPubkeyMismatch},
		{name: "deposit half other key", tx: deposit(l2.PublicKey{X: pa.X, Y: pb.Y}, 1, 0), want: l2.StatusPubkeyMismatch},
		{name: "deposit overflow", tx: deposit(pa, 1, max-99), want: l2.StatusBalanceOverflow},
		{name: "deposit mismatch before overflow", tx: deposit(pb, 1, max), want: l2.StatusPubkeyMismatch},

		{name: "transfer", tx: transfer(1, 2, 30, 0), want: l2.StatusOK, after: []acc{{1, 70, 1}, {2, 80, 0}}},
		{name: "transfer all", tx: transfer(1, 2, 100, 0), want: l2.StatusOK, after: []acc{{1, 0, 1}, {2, 150, 0}}},
		{name: "transfer zero", tx: transfer(1, 2, 0, 0), want: l2.StatusOK, after: []acc{{1, 100, 1}, {2, 50, 0}}},
		{name: "self-transfer", tx: transfer(1, 1, 60, 0), want: l2.StatusOK, after: []acc{{1, 100, 1}}},
		{name: "self-transfer at max balance", pre: []l2.Tx{deposit(pa, 1, max-100)}, tx: transfer(1, 1, max, 0), want: l2.StatusOK, after: []acc{{1, max, 1}}},
		{name: "transfer from out of range", tx: transfer(16, 2, 1, 0), want: l2.StatusIndexOutOfRange},
		{name: "transfer to out of range", tx: transfer(1, 16, 1, 0), want: l2.StatusIndexOutOfRange},
		{name: "transfer out of range before sender", tx: transfer(5, 17, 1, 0), want: l2.StatusIndexOutOfRange},
		{name: "transfer sender missing", tx: transfer(5, 2, 0, 0), want: l2.StatusSenderNotFound},
		{name: "transfer sender before nonce", tx: transfer(5, 6, 0, 3), want: l2.StatusSenderNotFound},
		{name: "transfer nonce ahead", tx: transfer(1, 2, 1, 1), want: l2.StatusBadNonce},
		{name: "transfer nonce behind", pre: []l2.Tx{transfer(1, 2, 1, 0)}, tx: transfer(1, 2, 1, 0), want: l2.StatusBadNonce},
		{name: "transfer nonce before recipient", tx: transfer(1, 6, 1, 1), want: l2.StatusBadNonce},
		{name: "transfer recipient missing", tx: transfer(1, 6, 1, 0), want: l2.StatusRecipientNotFound},
		{name: "transfer recipient before balance", tx: transfer(1, 6, 101, 0), want: l2.StatusRecipientNotFound},
		{name: "transfer insufficient", tx: transfer(1, 2, 101, 0), want: l2.StatusInsufficientBalance},
		{name: "self-transfer insufficient", tx: transfer(1, 1, 101, 0), want: l2.StatusInsufficientBalance},
		{name: "transfer insufficient before overflow", pre: []l2.Tx{deposit(pb, 2, max-50)}, tx: transfer(1, 2, 101, 0), want: l2.StatusInsufficientBalance},
		{name: "transfer overflow", pre: []l2.Tx{deposit(pb, 2, max-50-99)}, tx: transfer(1, 2, 100, 0), want: l2.StatusBalanceOverflow},
		{name: "transfer to exactly max", pre: []l2.Tx{deposit(pb, 2, max-50-100)}, tx: transfer(1, 2, 100, 0), want: l2.StatusOK, after: []acc{{1, 0, 1}, {2, max, 0}}},

		{name: "withdraw", tx: withdraw(1, 40, 0), want: l2.StatusOK, after: []acc{{1, 60, 1}}},
		{name: "withdraw all", tx: withdraw(2, 50, 0), want: l2.StatusOK, after: []acc{{2, 0, 1}}},
		{name: "withdraw out of range", tx: withdraw(16, 1, 0), want: l2.StatusIndexOutOfRange},
		{name: "withdraw sender missing", tx: withdraw(3, 0, 0), want: l2.StatusSenderNotFound},
		{name: "withdraw bad nonce", tx: withdraw(1, 1, 7), want: l2.StatusBadNonce},
		{name: "withdraw bad nonce before balance", tx: withdraw(1, 101, 7), want: l2.StatusBadNonce},
		{name: "withdraw insufficient", tx: withdraw(1, 101, 0), want: l2.StatusInsufficientBalance},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newState(t, 4, append(slices.Clone(setup), tc.pre...)...)
			before, beforeRoot := s.Accounts(), s.Root()
			st, wleaf := s.Apply(&tc.tx, l2.ApplyOptions{ChainID: testChainID})
			if st != tc.want {
				t.Fatalf("status %v, want %v", st, tc.want)
			}
			var wantLeaf fr.Element
			if st == l2.StatusOK && tc.tx.Type == l2.TxWithdraw {
				wantLeaf = l2.WithdrawalLeaf(tc.tx.Address, tc.tx.Amount)
			}
			if !wleaf.Equal(&wantLeaf) {
				t.Errorf("withdrawal leaf %s, want %s", wleaf.String(), wantLeaf.String())
			}
			if st != l2.StatusOK || tc.tx.Type == l2.TxNoop {
				if root := s.Root(); !root.Equal(&beforeRoot) || !slices.Equal(s.Accounts(), before) {
					t.Fatalf("state changed by a %v transaction", st)
				}
				return
			}
			for _, a := range tc.after {
				got, ok := s.Account(a.index)
				if !ok || got.Balance != a.balance || got.Nonce != a.nonce {
					t.Errorf("account %d = %+v (exists %v), want balance %d nonce %d", a.index, got, ok, a.balance, a.nonce)
				}
			}
			if root, want := s.Root(), denseRoot(s); !root.Equal(&want) {
				t.Errorf("root %s, recomputed from the accounts %s", root.String(), want.String())
			}
		})
	}
}

func TestApplyVerifiesSignatures(t *testing.T) {
	k := testKey(t, 1)
	s := newState(t, 4, deposit(k.Public(), 1, 100), deposit(k.Public(), 2, 0))
	opts := l2.ApplyOptions{ChainID: testChainID, VerifySignatures: true}
	unsigned := transfer(1, 2, 1, 0)
	tests := []struct {
		name string
		tx   l2.Tx
		sign uint64 // chain ID to sign for; 0: leave the signature zero
		want l2.Status
	}{
		{"zero signature", unsigned, 0, l2.StatusBadSignature},
		{"other chain", unsigned, testChainID + 1, l2.StatusBadSignature},
		{"sender missing before signature", transfer(3, 2, 1, 0), 0, l2.StatusSenderNotFound},
		{"out of range before signature", transfer(16, 2, 1, 0), 0, l2.StatusIndexOutOfRange},
		{"signature before nonce", transfer(1, 2, 1, 5), 0, l2.StatusBadSignature},
		{"signed transfer", unsigned, testChainID, l2.StatusOK},
		{"replay", unsigned, testChainID, l2.StatusBadNonce},
		{"withdraw unsigned", withdraw(1, 1, 1), 0, l2.StatusBadSignature},
		{"withdraw signed", withdraw(1, 1, 1), testChainID, l2.StatusOK},
	}
	for _, tc := range tests {
		tx := tc.tx
		if tc.sign != 0 {
			if err := l2.SignTx(k, tc.sign, &tx); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := s.Apply(&tx, opts); st != tc.want {
			t.Errorf("%s: status %v, want %v", tc.name, st, tc.want)
		}
	}
}

func TestApplyPanicsOnInvalidTx(t *testing.T) {
	s := newState(t, 4)
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	s.Apply(&l2.Tx{Type: 9}, l2.ApplyOptions{})
}

func TestNewStateDepth(t *testing.T) {
	for _, d := range []int{-1, 0, 1, 33} {
		if _, err := l2.NewState(d); err == nil {
			t.Errorf("NewState(%d) succeeded", d)
		}
	}
	for _, d := range []int{l2.MinTreeDepth, l2.DefaultTreeDepth, l2.MaxTreeDepth} {
		s := newState(t, d)
		if root, want := s.Root(), l2.EmptySubtree(d); s.Depth() != d || !root.Equal(&want) {
			t.Errorf("genesis of depth %d: root %s, want Z[%d]", d, root.String(), d)
		}
	}
}

func TestWitness(t *testing.T) {
	pk := l2.PublicKey{X: elem(1), Y: elem(2)}
	for _, depth := range []int{2, 5, 32} {
		last := uint32(uint64(1)<<depth - 1)
		s := newState(t, depth, deposit(pk, 0, 1), deposit(pk, last, 2), deposit(pk, last/2+1, 3))
		root := s.Root()
		for _, i := range []uint32{0, 1, last / 2, last/2 + 1, last} {
			sib, err := s.Witness(i)
			if err != nil {
				t.Fatal(err)
			}
			var leaf fr.Element
			if a, ok := s.Account(i); ok {
				leaf = a.Leaf()
			}
			if !l2.VerifyWitness(root, depth, i, leaf, sib) {
				t.Errorf("depth %d index %d: witness does not verify", depth, i)
			}
			wrong := elem(99)
			if l2.VerifyWitness(root, depth, i, wrong, sib) {
				t.Errorf("depth %d index %d: witness verifies a wrong leaf", depth, i)
			}
			if l2.VerifyWitness(root, depth, i^1, leaf, sib) && leaf != sib[0] {
				t.Errorf("depth %d index %d: witness verifies at the neighbour index", depth, i)
			}
			if l2.VerifyWitness(root, depth, i, leaf, sib[1:]) {
				t.Errorf("depth %d index %d: a short witness verifies", depth, i)
			}
		}
		if depth < 32 {
			if _, err := s.Witness(last + 1); err == nil {
				t.Errorf("depth %d: witness of index 2^D", depth)
			}
		}
	}
}

func TestCloneIsIndependent(t *testing.T) {
	pk := l2.PublicKey{X: elem(1), Y: elem(2)}
	s := newState(t, 8, deposit(pk, 1, 10))
	c := s.Clone()
	rootBefore := s.Root()
	tx := transfer(1, 1, 1, 0)
	if st, _ := c.Apply(&tx, l2.ApplyOptions{}); st != l2.StatusOK {
		t.Fatal(st)
	}
	dep := deposit(pk, 200, 1)
	c.Apply(&dep, l2.ApplyOptions{})
	if root := s.Root(); !root.Equal(&rootBefore) || s.Len() != 1 {
		t.Fatal("changing the clone changed the original")
	}
	if a, _ := s.Account(1); a.Nonce != 0 {
		t.Fatal("changing the clone changed an original account")
	}
	if root := c.Root(); root.Equal(&rootBefore) {
		t.Fatal("clone root did not change")
	}
}

// TestApplyBatchEqualsApply runs random batches through ApplyBatch and through Apply one
// transaction at a time, and checks the trace against a dense recomputation of the root.
func TestApplyBatchEqualsApply(t *testing.T) {
	const depth = 4
	gen := l2test.NewRandomBatches(1, depth)
	batchState, oneState := newState(t, depth), newState(t, depth)
	seen := make(map[l2.Status]bool)
	for b := range 12 {
		txs, err := l2.DecodeBatch(gen.Next(40))
		if err != nil {
			t.Fatal(err)
		}
		prev := batchState.Root()
		r := batchState.ApplyBatch(txs, l2.ApplyOptions{})
		var wleaves, roots []fr.Element
		applied := 0
		for k := range txs {
			st, wl := oneState.Apply(&txs[k], l2.ApplyOptions{})
			seen[st] = true
			if st != r.Statuses[k] {
				t.Fatalf("batch %d tx %d: ApplyBatch %v, Apply %v", b, k, r.Statuses[k], st)
			}
			if st == l2.StatusOK {
				applied++
			}
			root := oneState.Root()
			if want := denseRoot(oneState); !root.Equal(&want) {
				t.Fatalf("batch %d tx %d: root differs from the dense recomputation", b, k)
			}
			if k == 0 && st != l2.StatusOK && !root.Equal(&prev) {
				t.Fatalf("batch %d: a failing first transaction changed the root", b)
			}
			roots, wleaves = append(roots, root), append(wleaves, wl)
		}
		if !slices.Equal(r.PostRoots, roots) || !slices.Equal(r.WithdrawalLeaves, wleaves) {
			t.Fatalf("batch %d: trace or withdrawal leaves differ", b)
		}
		final, trace, wroot := oneState.Root(), l2.ListRoot(roots), l2.ListRoot(wleaves)
		if !r.FinalRoot.Equal(&final) || !r.TraceRoot.Equal(&trace) || !r.WithdrawalRoot.Equal(&wroot) {
			t.Fatalf("batch %d: final, trace or withdrawal root differs", b)
		}
		if r.Applied != applied || r.Rejected != len(txs)-applied {
			t.Fatalf("batch %d: applied %d rejected %d, want %d and %d", b, r.Applied, r.Rejected, applied, len(txs)-applied)
		}
	}
	for st := l2.StatusOK; st <= l2.StatusPubkeyMismatch; st++ {
		if !seen[st] && st != l2.StatusNonceExhausted {
			t.Errorf("the random batches never gave %v", st)
		}
	}
}

func TestApplyBatchEmpty(t *testing.T) {
	s := newState(t, 4)
	r := s.ApplyBatch(nil, l2.ApplyOptions{})
	root, z := s.Root(), l2.EmptySubtree(l2.ListDepth)
	if !r.FinalRoot.Equal(&root) || !r.TraceRoot.Equal(&z) || !r.WithdrawalRoot.Equal(&z) {
		t.Fatal("empty batch result")
	}
}

func TestStatusString(t *testing.T) {
	want := []string{"ok", "index_out_of_range", "sender_not_found", "recipient_not_found", "bad_nonce",
		"nonce_exhausted", "insufficient_balance", "balance_overflow", "pubkey_mismatch", "bad_signature", "deposit_placeable",
		"key_kind_mismatch"}
	for code, name := range want {
		if got := l2.Status(code).String(); got != name {
			t.Errorf("Status(%d) = %q, want %q", code, got, name)
		}
	}
	if got := l2.Status(12).String(); got != "status(12)" {
		t.Errorf("Status(12) = %q", got)
	}
}

// TestNewStateFromAccounts builds states by transactions and checks that NewStateFromAccounts
// of their accounts is the same state: same root, accounts and witnesses, and the same results
// for the batches that follow.
func TestNewStateFromAccounts(t *testing.T) {
	for _, depth := range []int{2, 5, 16, 32} {
		gen := l2test.NewRandomBatches(uint64(depth), depth)
		s := newState(t, depth)
		for round := range 4 {
			built, err := l2.NewStateFromAccounts(depth, s.Accounts())
			if err != nil {
				t.Fatal(err)
			}
			root := s.Root()
			if got := built.Root(); !got.Equal(&root) || !slices.Equal(built.Accounts(), s.Accounts()) ||
				built.Depth() != depth || built.Len() != s.Len() {
				t.Fatalf("depth %d round %d: built state differs (%d accounts)", depth, round, s.Len())
			}
			if depth <= 5 {
				if want := denseRoot(built); !root.Equal(&want) {
					t.Fatalf("depth %d round %d: root differs from the dense recomputation", depth, round)
				}
			}
			for _, a := range s.Accounts() {
				sib, err := built.Witness(a.Index)
				if err != nil || !l2.VerifyWitness(root, depth, a.Index, a.Account.Leaf(), sib) {
					t.Fatalf("depth %d round %d: witness of %d: %v", depth, round, a.Index, err)
				}
			}
			txs, err := l2.DecodeBatch(gen.Next(60))
			if err != nil {
				t.Fatal(err)
			}
			want, got := s.ApplyBatch(txs, l2.ApplyOptions{}), built.ApplyBatch(txs, l2.ApplyOptions{})
			if !slices.Equal(got.Statuses, want.Statuses) || !slices.Equal(got.PostRoots, want.PostRoots) {
				t.Fatalf("depth %d round %d: a batch on the built state gives other results", depth, round)
			}
		}
	}
}

// sparseRoot is node(level, q) of docs §4.3 computed recursively from the leaves alone.
func sparseRoot(level int, q uint64, leaves map[uint32]fr.Element) fr.Element {
	if level == 0 {
		return leaves[uint32(q)]
	}
	lo, hi := q<<level, (q+1)<<level
	for i := range leaves {
		if uint64(i) >= lo && uint64(i) < hi {
			return l2.Compress(sparseRoot(level-1, 2*q, leaves), sparseRoot(level-1, 2*q+1, leaves))
		}
	}
	return l2.EmptySubtree(level)
}

func TestNewStateFromAccountsEdges(t *testing.T) {
	pk := l2.PublicKey{X: elem(1), Y: elem(2)}
	acc := func(i uint32, balance, nonce uint64) l2.IndexedAccount {
		return l2.IndexedAccount{Index: i, Account: l2.Account{PubKey: pk, Balance: balance, Nonce: nonce}}
	}
	for _, depth := range []int{l2.MinTreeDepth, 8, l2.MaxTreeDepth} {
		s, err := l2.NewStateFromAccounts(depth, nil)
		if err != nil {
			t.Fatal(err)
		}
		if root, z := s.Root(), l2.EmptySubtree(depth); !root.Equal(&z) || s.Len() != 0 {
			t.Fatalf("depth %d, no accounts: root %s, want Z[%d]", depth, root.String(), depth)
		}
		last := uint32(uint64(1)<<depth - 1)
		in := []l2.IndexedAccount{acc(0, 0, 0), acc(1, math.MaxUint64, math.MaxUint64), acc(last, 5, 6)}
		s, err = l2.NewStateFromAccounts(depth, in)
		if err != nil {
			t.Fatal(err)
		}
		leaves := make(map[uint32]fr.Element)
		for _, a := range in {
			leaves[a.Index] = a.Account.Leaf()
		}
		if root, want := s.Root(), sparseRoot(depth, 0, leaves); !root.Equal(&want) {
			t.Errorf("depth %d: root %s, want %s", depth, root.String(), want.String())
		}
		in[1].Account.Balance = 7 // the state keeps its own copy
		if a, _ := s.Account(1); a.Balance != math.MaxUint64 || a.Nonce != math.MaxUint64 {
			t.Errorf("depth %d: account 1 = %+v", depth, a)
		}
	}

	tests := []struct {
		name     string
		depth    int
		accounts []l2.IndexedAccount
		detail   string
	}{
		{"depth 1", 1, nil, "depth 1"},
		{"depth 33", 33, nil, "depth 33"},
		{"index 2^D", 4, []l2.IndexedAccount{acc(3, 0, 0), acc(16, 0, 0)}, "accounts[1]: index 16 outside"},
		{"max u32 in depth 31", 31, []l2.IndexedAccount{acc(math.MaxUint32, 0, 0)}, "accounts[0]: index 4294967295"},
		{"duplicate", 4, []l2.IndexedAccount{acc(1, 0, 0), acc(2, 0, 0), acc(2, 1, 0)}, "accounts[2]: index 2 is not above the index 2 of accounts[1]"},
		{"decreasing", 4, []l2.IndexedAccount{acc(5, 0, 0), acc(4, 0, 0)}, "accounts[1]: index 4"},
	}
	for _, tc := range tests {
		s, err := l2.NewStateFromAccounts(tc.depth, tc.accounts)
		if err == nil || s != nil || !strings.Contains(err.Error(), tc.detail) {
			t.Errorf("%s: NewStateFromAccounts = %v, %v; want an error with %q", tc.name, s, err, tc.detail)
		}
	}
}

// No sequence of transactions reaches nonce 2^64-1: nonce_exhausted needs a state built from
// accounts.
func TestNonceExhausted(t *testing.T) {
	pk := l2.PublicKey{X: elem(1)}
	accounts := []l2.IndexedAccount{
		{Index: 1, Account: l2.Account{PubKey: pk, Balance: 100, Nonce: math.MaxUint64}},
		{Index: 2, Account: l2.Account{PubKey: pk, Balance: 100}},
	}
	tests := []struct {
		name string
		tx   l2.Tx
		want l2.Status
	}{
		{"transfer", transfer(1, 2, 1, math.MaxUint64), l2.StatusNonceExhausted},
		{"withdraw", withdraw(1, 1, math.MaxUint64), l2.StatusNonceExhausted},
		{"transfer to a missing account", transfer(1, 3, 0, math.MaxUint64), l2.StatusNonceExhausted},
		{"transfer over the balance", transfer(1, 2, 101, math.MaxUint64), l2.StatusNonceExhausted},
		{"bad nonce first", transfer(1, 2, 1, 0), l2.StatusBadNonce},
		{"withdraw bad nonce first", withdraw(1, 0, math.MaxUint64-1), l2.StatusBadNonce},
		{"recipient may have any nonce", transfer(2, 1, 1, 0), l2.StatusOK},
	}
	for _, tc := range tests {
		s, err := l2.NewStateFromAccounts(4, accounts)
		if err != nil {
			t.Fatal(err)
		}
		root := s.Root()
		st, _ := s.Apply(&tc.tx, l2.ApplyOptions{})
		if st != tc.want {
			t.Errorf("%s: status %v, want %v", tc.name, st, tc.want)
		}
		if r := s.Root(); st != l2.StatusOK && !r.Equal(&root) {
			t.Errorf("%s: state changed", tc.name)
		}
	}
}
