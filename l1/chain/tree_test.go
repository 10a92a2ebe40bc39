package chain

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/cockroachdb/pebble"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/l1/stateproof"
)

// applyWrites commits writes (nil value: delete) to db as a block does: the state keys and the
// tree nodes updateRoot adds, in one batch. It returns the new root.
func applyWrites(t testing.TB, db *pebble.DB, writes map[string][]byte) common.Hash {
	t.Helper()
	o := newOverlay(db)
	for k, v := range writes {
		if v == nil {
			o.del(k)
		} else {
			o.put(k, v)
		}
	}
	o.commitTx()
	root, err := o.updateRoot()
	if err != nil {
		t.Fatal(err)
	}
	b := db.NewBatch()
	defer b.Close()
	if err := o.flush(b); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	got, err := treeRoot(db)
	if err != nil {
		t.Fatal(err)
	}
	if got != root {
		t.Fatalf("stored root %s, updateRoot returned %s", got, root)
	}
	return root
}

// countTreeNodes counts the stored nodes of the tree.
func countTreeNodes(t testing.TB, db *pebble.DB) int {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixTree), UpperBound: []byte("t0")})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for it.First(); it.Valid(); it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestStateTreeRandom: after every block of random inserts, updates and deletes (keys drawn
// from a small space so they collide), the incremental root equals a from-scratch rebuild of the
// same state in an empty store, the stored nodes are exactly the rebuild's (nothing stale left),
// every key's value and every absent key's absence verify, and a tampered value, sibling or key
// fails.
func TestStateTreeRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 2))
	db := openMem(t)
	state := map[string][]byte{}
	blocks := 60
	if testing.Short() {
		blocks = 20
	}
	for blk := range blocks {
		writes := map[string][]byte{}
		for range 1 + rng.IntN(40) {
			k := fmt.Sprintf("s/k/%d", rng.IntN(300))
			if rng.IntN(3) == 0 {
				writes[k] = nil
				delete(state, k)
			} else {
				v := []byte(fmt.Sprintf("v%d", rng.Uint64()))
				writes[k] = v
				state[k] = v
			}
		}
		root := applyWrites(t, db, writes)
		fresh := openMem(t)
		want := common.Hash{}
		if len(state) > 0 {
			want = applyWrites(t, fresh, maps.Clone(state))
		}
		if root != want {
			t.Fatalf("block %d: incremental root %s, rebuilt %s", blk, root, want)
		}
		if len(state) > 0 {
			if got, wantN := countTreeNodes(t, db), countTreeNodes(t, fresh); got != wantN {
				t.Fatalf("block %d: %d stored tree nodes, a rebuild stores %d", blk, got, wantN)
			}
		}
		if blk%10 != 9 {
			continue
		}
		for i := range 300 {
			k := fmt.Sprintf("s/k/%d", i)
			p, err := proveKey(db, []byte(k))
			if err != nil {
				t.Fatal(err)
			}
			v := state[k]
			if err := stateproof.Verify(root, []byte(k), v, &p); err != nil {
				t.Fatalf("block %d: key %s: %v", blk, k, err)
			}
			checkTampered(t, root, []byte(k), v, p)
		}
	}
}

// checkTampered: a proof of (key, v) fails for another value, another key, or a changed sibling.
func checkTampered(t *testing.T, root common.Hash, key, v []byte, p stateproof.Proof) {
	t.Helper()
	other := []byte("tampered")
	if v == nil {
		if err := stateproof.Verify(root, key, other, &p); !errors.Is(err, stateproof.ErrMismatch) {
			t.Fatalf("key %s absent: a value verified (%v)", key, err)
		}
	} else {
		if err := stateproof.Verify(root, key, append(slices.Clone(v), 0), &p); !errors.Is(err, stateproof.ErrMismatch) {
			t.Fatalf("key %s: another value verified (%v)", key, err)
		}
		if err := stateproof.Verify(root, key, nil, &p); !errors.Is(err, stateproof.ErrMismatch) {
			t.Fatalf("key %s: its absence verified (%v)", key, err)
		}
	}
	if err := stateproof.Verify(root, append(slices.Clone(key), 'x'), v, &p); v != nil && !errors.Is(err, stateproof.ErrMismatch) {
		t.Fatalf("key %s: the proof verified for another key (%v)", key, err)
	}
	for i := range p.Siblings {
		q := p
		q.Siblings = slices.Clone(p.Siblings)
		q.Siblings[i][31] ^= 1
		if err := stateproof.Verify(root, key, v, &q); !errors.Is(err, stateproof.ErrMismatch) {
			t.Fatalf("key %s: sibling %d changed, the proof verified (%v)", key, i, err)
		}
	}
}

// TestStateTreeEmptyAndSingle: the empty state's root is the zero hash; one key's root is its
// leaf hash; deleting every key brings the zero root back and leaves no node stored.
func TestStateTreeEmptyAndSingle(t *testing.T) {
	db := openMem(t)
	if r, err := treeRoot(db); err != nil || r != (common.Hash{}) {
		t.Fatalf("empty root %s, %v", r, err)
	}
	r := applyWrites(t, db, map[string][]byte{"s/a": []byte("1")})
	p, err := proveKey(db, []byte("s/a"))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Siblings) != 0 || !p.HasLeaf || r != stateproof.LeafHash(p.LeafKey, p.LeafValue) {
		t.Fatalf("one key: root %s, proof %+v", r, p)
	}
	applyWrites(t, db, map[string][]byte{"s/b": []byte("2"), "s/c": []byte("3")})
	if r := applyWrites(t, db, map[string][]byte{"s/a": nil, "s/b": nil, "s/c": nil}); r != (common.Hash{}) {
		t.Fatalf("all deleted: root %s", r)
	}
	if n := countTreeNodes(t, db); n != 0 {
		t.Fatalf("all deleted: %d tree nodes left", n)
	}
}

// BenchmarkStateTreeBlock measures the state tree's share of a block: 100 keys written into a
// state of 100,000 keys (updateRoot, then the batch with the nodes, unsynced, on a memory FS).
func BenchmarkStateTreeBlock(b *testing.B) {
	db := openMem(b)
	const size, perBlock = 100_000, 100
	fill := make(map[string][]byte, size)
	for i := range size {
		fill[fmt.Sprintf("s/k/%d", i)] = []byte{byte(i)}
	}
	applyWrites(b, db, fill)
	rng := rand.New(rand.NewPCG(1, 2))
	b.ResetTimer()
	for i := range b.N {
		w := make(map[string][]byte, perBlock)
		for range perBlock {
			w[fmt.Sprintf("s/k/%d", rng.IntN(size))] = []byte(fmt.Sprint(i))
		}
		applyWrites(b, db, w)
	}
	b.StopTimer()
	p, err := proveKey(db, []byte("s/k/1"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(len(p.Siblings)), "proof-siblings")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perBlock), "ns/key")
}

// treeNodes returns every stored tree node of db.
func treeNodes(t testing.TB, db pebble.Reader) map[string]string {
	t.Helper()
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte(prefixTree), UpperBound: []byte("t0")})
	if err != nil {
		t.Fatal(err)
	}
	nodes := map[string]string{}
	for it.First(); it.Valid(); it.Next() {
		nodes[string(it.Key())] = string(it.Value())
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// TestReplayRebuildsTree: replaying every block into an empty store rebuilds the state tree
// node for node, the proofs read from both stores are the same and verify against the head's
// root; a store whose tree does not give the head's root does not open.
func TestReplayRebuildsTree(t *testing.T) {
	h := newHarness(t, 3)
	for i := range 5 {
		h.mustOK(h.tx(h.users[i%3], TxTransfer, &Transfer{To: common.Address{byte(i)}, Amount: uint64(i + 1)}))
	}
	fresh := h.open(openMem(t))
	for _, b := range h.blocks {
		if _, err := fresh.Apply(b); err != nil {
			t.Fatalf("replaying block %d: %v", b.Header.Height, err)
		}
	}
	want, got := treeNodes(t, h.db), treeNodes(t, fresh.db)
	if len(want) == 0 || !maps.Equal(want, got) {
		t.Fatalf("replayed tree: %d nodes, the original %d (or they differ)", len(got), len(want))
	}
	keys := [][]byte{[]byte(keyAccount(h.users[0].Address())), []byte(keyAccount(common.Address{3})), []byte(keyAccount(common.Address{0xee}))}
	r1, e1, err := ProveAt(h.db, keys)
	if err != nil {
		t.Fatal(err)
	}
	r2, e2, err := ProveAt(fresh.db, keys)
	if err != nil {
		t.Fatal(err)
	}
	_, _, _, root := h.c.Head()
	if r1 != root || r2 != root {
		t.Fatalf("proof roots %s %s, head %s", r1, r2, root)
	}
	for i := range keys {
		if e1[i].Present != e2[i].Present || string(e1[i].Value) != string(e2[i].Value) {
			t.Fatalf("key %d read differently after replay", i)
		}
		if err := e1[i].Verify(root); err != nil {
			t.Fatal(err)
		}
	}
	if !e1[0].Present || !e1[1].Present || e1[2].Present {
		t.Fatalf("present: %v %v %v, want true true false", e1[0].Present, e1[1].Present, e1[2].Present)
	}
	if _, _, err := ProveAt(h.db, [][]byte{[]byte(keyHead)}); !errors.Is(err, ErrNotStateKey) {
		t.Fatalf("a history key: %v", err)
	}
	// A store whose tree lost its root node does not open.
	if err := fresh.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fresh.db.Delete([]byte(treeKey(0, common.Hash{})), pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(fresh.db, Config{Genesis: h.genesis(), Verifier: h.verifier, Judge: h.judge}); !errors.Is(err, ErrCorruptStore) {
		t.Fatalf("open with the tree's root node gone: %v", err)
	}
}
