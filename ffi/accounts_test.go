package ffi

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

// TestRestoreAccounts: a state restored from its accounts and root is the state (same image);
// a wrong root, unsorted accounts, or a depth outside the limits are refused; no accounts with
// the empty root is the empty state.
func TestRestoreAccounts(t *testing.T) {
	const depth = 10
	c := newTestCore(t, depth)
	empty := mustRoot(t, c)
	var out BatchOutput
	mustApply(t, c, batch(deposit(0, 0, 1000), deposit(513, 1, 20), deposit(1023, 2, math.MaxUint64)), &out)
	mustApply(t, c, batch(transfer(0, 513, 10, 0), withdraw(513, 4, 5, 0), transfer(1023, 0, 1<<40, 0)), &out)
	var accs []IndexedAccount
	for _, i := range []uint32{0, 513, 1023} {
		a, err := c.Account(i)
		if err != nil {
			t.Fatal(err)
		}
		accs = append(accs, IndexedAccount{Index: i, Account: a})
	}
	root := mustRoot(t, c)
	r, err := RestoreAccounts(depth, accs, root, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !bytes.Equal(stateImage(t, r), stateImage(t, c)) {
		t.Fatal("restored state differs")
	}
	e, err := RestoreAccounts(depth, nil, empty, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if got := mustRoot(t, e); got != empty {
		t.Fatalf("empty state root %x, want %x", got, empty)
	}

	swapped := []IndexedAccount{accs[1], accs[0], accs[2]}
	otherRoot := root
	otherRoot[31] ^= 1
	for _, tc := range []struct {
		name  string
		depth uint32
		accs  []IndexedAccount
		root  [32]byte
	}{
		{"wrong root", depth, accs, otherRoot},
		{"empty root for accounts", depth, accs, empty},
		{"unsorted", depth, swapped, root},
		{"account missing", depth, accs[:2], root},
		{"depth too large", 300, accs, root},
	} {
		if c, err := RestoreAccounts(tc.depth, tc.accs, tc.root, 4); !errors.Is(err, ErrSnapshotInvalid) {
			if c != nil {
				c.Close()
			}
			t.Errorf("%s: %v, want %v", tc.name, err, ErrSnapshotInvalid)
		}
	}
}

// TestWalkSnapshot: walking the core's own image gives its accounts in index order, its depth
// and root, and encoding them again gives the same bytes; a layout that does not match its count
// is refused.
func TestWalkSnapshot(t *testing.T) {
	const depth = 10
	c := newTestCore(t, depth)
	var out BatchOutput
	mustApply(t, c, batch(deposit(0, 0, 1000), deposit(513, 1, 20), deposit(1023, 2, math.MaxUint64)), &out)
	mustApply(t, c, batch(transfer(0, 513, 10, 0)), &out)
	img := stateImage(t, c)
	var accs []IndexedAccount
	d, root, err := WalkSnapshot(img, func(a *IndexedAccount) { accs = append(accs, *a) })
	if err != nil {
		t.Fatal(err)
	}
	if d != depth || root != mustRoot(t, c) || len(accs) != 3 {
		t.Fatalf("depth %d, root %x, %d accounts", d, root, len(accs))
	}
	for k, i := range []uint32{0, 513, 1023} {
		want, err := c.Account(i)
		if err != nil {
			t.Fatal(err)
		}
		if accs[k].Index != i || accs[k].Account != want {
			t.Fatalf("entry %d: %+v, want index %d %+v", k, accs[k], i, want)
		}
	}
	if !bytes.Equal(EncodeSnapshot(d, accs, root), img) {
		t.Fatal("encoding the walked accounts gives another image")
	}
	for name, bad := range map[string][]byte{
		"nil":          nil,
		"wrong magic":  append([]byte("PQSNAP09"), img[8:]...),
		"one byte off": img[:len(img)-1],
		"count + 1":    append(append(bytes.Clone(img[:23]), img[23]+1), img[24:]...),
	} {
		if _, _, err := WalkSnapshot(bad, func(*IndexedAccount) {}); !errors.Is(err, ErrSnapshotInvalid) {
			t.Errorf("%s: %v, want %v", name, err, ErrSnapshotInvalid)
		}
	}
}
