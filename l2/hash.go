package l2

import (
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr/poseidon2"
)

// permutation is gnark-crypto's default Poseidon2 permutation (t=2, rF=6, rP=50). It holds only
// read-only parameters, so one instance is shared by all goroutines.
var permutation = sync.OnceValue(func() *poseidon2.Permutation {
	return poseidon2.NewPermutation(2, 6, 50)
})

// Compress is the two-to-one Poseidon2 compression of docs §2.2: P(a, b).x1 + b, equal to
// gnark-crypto's Permutation.Compress and to gnark's in-circuit Compress.
func Compress(a, b fr.Element) fr.Element {
	x := [2]fr.Element{a, b}
	if err := permutation().Permutation(x[:]); err != nil {
		panic(err) // unreachable: the buffer always has the permutation's width
	}
	x[1].Add(&x[1], &b)
	return x[1]
}

// HashMD is the Merkle–Damgård hash H of docs §2.3 (zero IV, one element per block), equal to
// gnark-crypto's poseidon2.NewMerkleDamgardHasher fed 32-byte blocks. HashMD() is 0.
func HashMD(elems ...fr.Element) fr.Element {
	var s fr.Element
	for i := range elems {
		s = Compress(s, elems[i])
	}
	return s
}

// emptySubtrees holds Z[0..MaxTreeDepth]: Z[0] = 0, Z[l] = Compress(Z[l-1], Z[l-1]).
var emptySubtrees = sync.OnceValue(func() *[MaxTreeDepth + 1]fr.Element {
	var z [MaxTreeDepth + 1]fr.Element
	for l := 1; l <= MaxTreeDepth; l++ {
		z[l] = Compress(z[l-1], z[l-1])
	}
	return &z
})

// EmptySubtree returns Z[level], the hash of a subtree of the given height with no accounts
// (docs §4.3). It panics if level is outside [0, MaxTreeDepth].
func EmptySubtree(level int) fr.Element {
	return emptySubtrees()[level]
}

// ListRoot is list_root of docs §8.1: the root of the depth-ListDepth tree whose leaf k is
// leaves[k] for k < len(leaves) and 0 otherwise. It panics if len(leaves) > MaxBatchTxs.
func ListRoot(leaves []fr.Element) fr.Element {
	if len(leaves) > MaxBatchTxs {
		panic("l2: ListRoot: more than MaxBatchTxs leaves")
	}
	z := emptySubtrees()
	level := make([]fr.Element, len(leaves), len(leaves)+1)
	copy(level, leaves)
	for l := 0; l < ListDepth; l++ {
		if len(level)%2 == 1 {
			level = append(level, z[l])
		}
		for q := 0; q < len(level)/2; q++ {
			left, right := &level[2*q], &level[2*q+1]
			if left.Equal(&z[l]) && right.Equal(&z[l]) {
				level[q] = z[l+1] // an empty pair needs no hashing
			} else {
				level[q] = Compress(*left, *right)
			}
		}
		level = level[:len(level)/2]
	}
	if len(level) == 0 {
		return z[ListDepth]
	}
	return level[0]
}

// ListWitness returns the Merkle witness of position k in list_root(leaves) (docs §8.1): the
// ListDepth siblings, leaf level first, which VerifyWitness(root, ListDepth, k, leaves[k], ·)
// checks. It panics if k >= MaxBatchTxs or len(leaves) > MaxBatchTxs.
func ListWitness(leaves []fr.Element, k int) []fr.Element {
	if k < 0 || k >= MaxBatchTxs || len(leaves) > MaxBatchTxs {
		panic("l2: ListWitness outside the list tree")
	}
	z := emptySubtrees()
	level := make([]fr.Element, len(leaves), len(leaves)+1)
	copy(level, leaves)
	sib := make([]fr.Element, ListDepth)
	for l := range ListDepth {
		sib[l] = z[l]
		if s := k ^ 1; s < len(level) {
			sib[l] = level[s]
		}
		if len(level)%2 == 1 {
			level = append(level, z[l])
		}
		for q := range len(level) / 2 {
			level[q] = Compress(level[2*q], level[2*q+1])
		}
		level, k = level[:len(level)/2], k>>1
	}
	return sib
}

// Domain tags of docs §2.4: the ASCII string read as a big-endian integer.
var (
	TagTx     = tag("pqbridge/l2tx/v1")
	TagCommit = tag("pqbridge/commit/v1")
)

func tag(s string) fr.Element {
	var e fr.Element
	e.SetBigInt(new(big.Int).SetBytes([]byte(s)))
	return e
}
