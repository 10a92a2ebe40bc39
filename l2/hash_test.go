package l2_test

import (
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
	"github.com/pqbridge/pqbridge/l2"
)

func testRand(t testing.TB) *rand.Rand {
	t.Helper()
	var s [32]byte
	copy(s[:], t.Name())
	return rand.New(rand.NewChaCha8(s))
}

func randElement(r *rand.Rand) fr.Element {
	var b [32]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	var e fr.Element
	e.SetBytes(b[:])
	return e
}

func elem(v uint64) fr.Element {
	var e fr.Element
	e.SetUint64(v)
	return e
}

func minusOne() fr.Element {
	var e fr.Element
	e.SetOne()
	return *e.Neg(&e)
}

func TestCompressMatchesGnarkBytesAPI(t *testing.T) {
	r := testRand(t)
	perm := poseidon2.NewPermutation(2, 6, 50)
	pairs := [][2]fr.Element{{}, {elem(1), elem(2)}, {minusOne(), minusOne()}, {elem(0), minusOne()}}
	for range 32 {
		pairs = append(pairs, [2]fr.Element{randElement(r), randElement(r)})
	}
	for _, p := range pairs {
		a, b := p[0].Bytes(), p[1].Bytes()
		want, err := perm.Compress(a[:], b[:])
		if err != nil {
			t.Fatal(err)
		}
		got := l2.Compress(p[0], p[1])
		if gb := got.Bytes(); string(gb[:]) != string(want) {
			t.Fatalf("Compress(%s, %s) = %s, gnark-crypto gives %x", p[0].String(), p[1].String(), got.String(), want)
		}
	}
}

func TestHashMDMatchesGnarkHasher(t *testing.T) {
	r := testRand(t)
	for n := range 12 {
		elems := make([]fr.Element, n)
		h := poseidon2.NewMerkleDamgardHasher()
		for i := range elems {
			elems[i] = randElement(r)
			b := elems[i].Bytes()
			if _, err := h.Write(b[:]); err != nil {
				t.Fatal(err)
			}
		}
		got := l2.HashMD(elems...)
		if gb := got.Bytes(); string(gb[:]) != string(h.Sum(nil)) {
			t.Fatalf("HashMD of %d elements = %s, gnark-crypto gives %x", n, got.String(), h.Sum(nil))
		}
	}
	if got := l2.HashMD(); !got.IsZero() {
		t.Fatalf("HashMD() = %s, want 0", got.String())
	}
}

func TestEmptySubtree(t *testing.T) {
	var z fr.Element
	for l := 0; l <= l2.MaxTreeDepth; l++ {
		if got := l2.EmptySubtree(l); !got.Equal(&z) {
			t.Fatalf("Z[%d] = %s, want %s", l, got.String(), z.String())
		}
		z = l2.Compress(z, z)
	}
}

// naiveListRoot hashes all 2^ListDepth leaves level by level.
func naiveListRoot(leaves []fr.Element) fr.Element {
	level := make([]fr.Element, l2.MaxBatchTxs)
	copy(level, leaves)
	for len(level) > 1 {
		next := make([]fr.Element, len(level)/2)
		for q := range next {
			next[q] = l2.Compress(level[2*q], level[2*q+1])
		}
		level = next
	}
	return level[0]
}

func TestListRoot(t *testing.T) {
	r := testRand(t)
	sizes := []int{0, 1, 2, 3, 7, 64, 1000}
	if !testing.Short() {
		sizes = append(sizes, l2.MaxBatchTxs)
	}
	for _, n := range sizes {
		leaves := make([]fr.Element, n)
		for i := range leaves {
			if i%3 != 1 { // some zero leaves inside the list
				leaves[i] = randElement(r)
			}
		}
		got, want := l2.ListRoot(leaves), naiveListRoot(leaves)
		if !got.Equal(&want) {
			t.Errorf("ListRoot of %d leaves = %s, want %s", n, got.String(), want.String())
		}
	}
	if got, want := l2.ListRoot(nil), l2.EmptySubtree(l2.ListDepth); !got.Equal(&want) {
		t.Errorf("ListRoot(nil) = %s, want Z[12]", got.String())
	}
}

func TestTags(t *testing.T) {
	for _, tc := range []struct {
		tag fr.Element
		s   string
	}{{l2.TagTx, "pqbridge/l2tx/v1"}, {l2.TagCommit, "pqbridge/commit/v1"}} {
		var got big.Int
		tc.tag.BigInt(&got)
		if string(got.Bytes()) != tc.s {
			t.Errorf("tag = %q, want %q", got.Bytes(), tc.s)
		}
	}
}
