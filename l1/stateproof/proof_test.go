package stateproof

import (
	"bytes"
	"errors"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
)

// twoKeyTree builds by hand the tree of two keys: inner nodes with one empty child down to the
// first bit their paths differ at, then the two leaves. It returns the root and the proofs.
func twoKeyTree(k1, v1, k2, v2 []byte) (common.Hash, Proof, Proof) {
	p1, p2 := crypto.Keccak256Hash(k1), crypto.Keccak256Hash(k2)
	d := 0
	for Bit(p1, d) == Bit(p2, d) {
		d++
	}
	l1 := LeafHash(p1, crypto.Keccak256Hash(v1))
	l2 := LeafHash(p2, crypto.Keccak256Hash(v2))
	h := InnerHash(l1, l2)
	if Bit(p1, d) == 1 {
		h = InnerHash(l2, l1)
	}
	for i := d - 1; i >= 0; i-- {
		if Bit(p1, i) == 0 {
			h = InnerHash(h, common.Hash{})
		} else {
			h = InnerHash(common.Hash{}, h)
		}
	}
	sib := make([]common.Hash, d+1)
	sib[d] = l2
	pr1 := Proof{Siblings: sib, HasLeaf: true, LeafKey: p1, LeafValue: crypto.Keccak256Hash(v1)}
	sib2 := make([]common.Hash, d+1)
	sib2[d] = l1
	pr2 := Proof{Siblings: sib2, HasLeaf: true, LeafKey: p2, LeafValue: crypto.Keccak256Hash(v2)}
	return h, pr1, pr2
}

func TestVerifyInclusionAndAbsence(t *testing.T) {
	k1, k2 := AccountKey(common.Address{1}), RollupKey(7)
	root, p1, p2 := twoKeyTree(k1, []byte("one"), k2, []byte{})
	if err := Verify(root, k1, []byte("one"), &p1); err != nil {
		t.Fatal(err)
	}
	if err := Verify(root, k2, []byte{}, &p2); err != nil {
		t.Fatalf("an empty value: %v", err)
	}
	for name, err := range map[string]error{
		"other value":    Verify(root, k1, []byte("two"), &p1),
		"absent claimed": Verify(root, k1, nil, &p1),
		"nil for empty":  Verify(root, k2, nil, &p2),
		"other key":      Verify(root, k2, []byte("one"), &p1),
		"other root":     Verify(common.Hash{1}, k1, []byte("one"), &p1),
	} {
		if !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", name, err)
		}
	}
	// Absence: a key whose path leaves k1's leaf ends at that leaf (same first bits) or at an
	// empty subtree; find one of each among small keys.
	var sawLeaf, sawEmpty bool
	for i := uint64(0); i < 64 && !(sawLeaf && sawEmpty); i++ {
		k := ExitKey(i, 1)
		path := crypto.Keccak256Hash(k)
		d := len(p1.Siblings) - 1
		var p Proof
		switch {
		case Bit(path, 0) != Bit(p1.LeafKey, 0) && d > 0:
			// at depth 1 the path goes to the empty child of the root
			p = Proof{Siblings: []common.Hash{hashAtDepth(p1, 1)}}
			sawEmpty = true
		case sameBits(path, p1.LeafKey, d+1):
			p = p1
			sawLeaf = true
		default:
			continue
		}
		if err := Verify(root, k, nil, &p); err != nil {
			t.Fatalf("absence of %x: %v", k, err)
		}
		if err := Verify(root, k, []byte("one"), &p); !errors.Is(err, ErrMismatch) {
			t.Fatalf("absence proof of %x verified a value: %v", k, err)
		}
	}
	if !sawLeaf && !sawEmpty {
		t.Fatal("no absent key tried")
	}
}

// hashAtDepth is the hash of the node at depth d on p's path (p proves a leaf).
func hashAtDepth(p Proof, d int) common.Hash {
	h := LeafHash(p.LeafKey, p.LeafValue)
	for i := len(p.Siblings) - 1; i >= d; i-- {
		if Bit(p.LeafKey, i) == 0 {
			h = InnerHash(h, p.Siblings[i])
		} else {
			h = InnerHash(p.Siblings[i], h)
		}
	}
	return h
}

func sameBits(a, b common.Hash, n int) bool {
	for i := range n {
		if Bit(a, i) != Bit(b, i) {
			return false
		}
	}
	return true
}

func TestVerifyEmptyTree(t *testing.T) {
	if err := Verify(common.Hash{}, GlobalKey(), nil, &Proof{}); err != nil {
		t.Fatal(err)
	}
	if err := Verify(common.Hash{}, GlobalKey(), []byte{1}, &Proof{}); !errors.Is(err, ErrMismatch) {
		t.Fatalf("a value in the empty tree: %v", err)
	}
}

func TestDecodeProofBounds(t *testing.T) {
	_, p, _ := twoKeyTree([]byte("a"), []byte("1"), []byte("b"), []byte("2"))
	b, err := p.Encode()
	if err != nil {
		t.Fatal(err)
	}
	q, err := DecodeProof(b)
	if err != nil {
		t.Fatal(err)
	}
	if b2, _ := q.Encode(); !bytes.Equal(b, b2) {
		t.Fatal("decoded proof encodes differently")
	}
	long := Proof{Siblings: make([]common.Hash, MaxDepth+1)}
	lb, err := long.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeProof(lb); !errors.Is(err, ErrMalformed) {
		t.Fatalf("%d siblings: %v", MaxDepth+1, err)
	}
	if err := Verify(common.Hash{}, []byte("a"), nil, &long); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Verify with %d siblings: %v", MaxDepth+1, err)
	}
	if _, err := DecodeProof(make([]byte, MaxProofSize+1)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
	stray := Proof{LeafKey: common.Hash{1}}
	sb, _ := stray.Encode()
	if _, err := DecodeProof(sb); !errors.Is(err, ErrMalformed) {
		t.Fatalf("leaf hashes without a leaf: %v", err)
	}
}

func TestRequestAndReply(t *testing.T) {
	k1, k2 := BatchKey(1, 2), ClaimKey(1, 2, 3)
	root, p1, _ := twoKeyTree(k1, []byte("rec"), k2, []byte{1})
	r := Reply{Height: 5, AppHash: root, Entries: []Entry{{Key: k1, Present: true, Value: []byte("rec"), Proof: p1}}}
	if err := r.VerifyEntries([][]byte{k1}); err != nil {
		t.Fatal(err)
	}
	if err := r.VerifyEntries([][]byte{k2}); err == nil {
		t.Fatal("a reply for another key verified")
	}
	r.Entries[0].Present = false
	if err := r.VerifyEntries([][]byte{k1}); err == nil {
		t.Fatal("an absent entry with a value verified")
	}
	if _, err := DecodeRequest(make([]byte, MaxRequestSize+1)); err == nil {
		t.Fatal("oversized request decoded")
	}
	for _, req := range []Request{{}, {Keys: [][]byte{{}}}, {Keys: [][]byte{make([]byte, MaxKeyLen+1)}}, {Keys: make([][]byte, MaxKeys+1)}} {
		if err := req.Check(); err == nil {
			t.Fatalf("request %d keys accepted", len(req.Keys))
		}
	}
}
