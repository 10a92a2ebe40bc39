// Package l2test provides deterministic L2 workloads for tests and benchmarks in other
// packages, in the way net/http/httptest serves net/http: a Workload of valid genesis and
// transfer batches for throughput measurements, RandomBatches of mixed valid and failing
// transactions for differential tests, and ValidBatches of signed transactions that all succeed,
// as an honest sequencer posts them. Everything is derived from a seed and cheap to generate;
// Workload and RandomBatches leave signatures zero (execution with signature checks off, as in
// the Zig core). For
// signature tests, Signer makes signatures l2.SignTx cannot: with a nonce point R that has a
// small-order component (TorsionPoint), valid by the cofactored rule of docs §6.
package l2test

import (
	"math/rand/v2"

	"github.com/consensys/gnark-crypto/ecc/bn254/twistededwards"
	"github.com/pqbridge/pqbridge/l2"
)

// newRand returns the generator used for everything derived from seed.
func newRand(seed uint64) *rand.Rand {
	var s [32]byte
	for i := range 8 {
		s[i] = byte(seed >> (8 * i))
	}
	return rand.New(rand.NewChaCha8(s))
}

// keyPool returns n distinct valid public keys: k·B, (k+1)·B, ... for a random k. Successive
// additions of the base point are much cheaper than n key generations.
func keyPool(rng *rand.Rand, n int) []l2.PublicKey {
	var seed [32]byte
	for i := range seed {
		seed[i] = byte(rng.Uint32())
	}
	k, err := l2.GenerateKey(&constReader{b: seed[:]})
	if err != nil {
		panic(err) // unreachable: the reader always has 32 bytes
	}
	base := twistededwards.GetEdwardsCurve().Base
	pk := k.Public()
	p := twistededwards.NewPointAffine(pk.X, pk.Y)
	keys := make([]l2.PublicKey, n)
	for i := range keys {
		keys[i] = l2.PublicKey{X: p.X, Y: p.Y}
		p.Add(&p, &base)
	}
	return keys
}

type constReader struct{ b []byte }

func (r *constReader) Read(p []byte) (int, error) {
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
