package txchallenge_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/ffi/txchallenge"
	"github.com/pqbridge/pqbridge/l2"
)

// element returns a random field element, sometimes 0 or p-1.
func element(rng *rand.Rand) fr.Element {
	var e fr.Element
	switch rng.IntN(8) {
	case 0:
	case 1:
		e.SetInt64(-1)
	default:
		var b [32]byte
		for i := range 4 {
			v := rng.Uint64()
			for j := range 8 {
				b[8*i+j] = byte(v >> (8 * j))
			}
		}
		e.SetBytes(b[:])
	}
	return e
}

// randomChecks returns n checks of random transactions of every type, with every field set
// whatever the type uses, under random keys.
func randomChecks(rng *rand.Rand, n int) []l2.SignatureCheck {
	checks := make([]l2.SignatureCheck, n)
	for k := range checks {
		tx := &l2.Tx{Type: l2.TxType(rng.IntN(4)), From: rng.Uint32(), To: rng.Uint32(), Amount: rng.Uint64(), Nonce: rng.Uint64(),
			PubKey: l2.PublicKey{X: element(rng), Y: element(rng)}}
		for i := range tx.Address {
			tx.Address[i] = byte(rng.Uint32())
		}
		tx.Sig.RX, tx.Sig.RY, tx.Sig.S = element(rng), element(rng), element(rng)
		checks[k] = l2.SignatureCheck{PubKey: l2.PublicKey{X: element(rng), Y: element(rng)}, Tx: tx}
	}
	return checks
}

// TestFillMatchesChallenge checks the batched challenges against l2.Challenge, with each
// Poseidon2 implementation of the core, for several chains and batch sizes, one Hasher per chain
// reused over batches that grow and shrink (stale words of a larger batch must not leak into a
// smaller one), and one batch larger than the core's per-call limit of pairs.
func TestFillMatchesChallenge(t *testing.T) {
	defer ffi.ForcePortablePoseidon2(false)
	for _, portable := range []bool{false, true} {
		ffi.ForcePortablePoseidon2(portable)
		t.Run(ffi.Poseidon2Impl(), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(7, 0))
			for _, chainID := range []uint64{0, 1, 31337, 1<<32 + 5, math.MaxUint64} {
				h := txchallenge.NewHasher(chainID)
				for _, n := range []int{1, 64, 2, 300, 7, 0, 33} {
					checks := randomChecks(rng, n)
					h.Fill(checks)
					for k := range checks {
						want := l2.Challenge(checks[k].PubKey, chainID, checks[k].Tx)
						if !checks[k].Challenge.Equal(&want) {
							t.Fatalf("chain %d, batch of %d, check %d (%s): challenge %s, l2.Challenge %s",
								chainID, n, k, checks[k].Tx.Type, checks[k].Challenge.String(), want.String())
						}
					}
				}
			}
		})
	}
	ffi.ForcePortablePoseidon2(false)
	t.Run(fmt.Sprintf("batch of %d", ffi.MaxBatchTxs+1), func(t *testing.T) {
		const chainID = 42
		checks := randomChecks(rand.New(rand.NewPCG(8, 9)), ffi.MaxBatchTxs+1) // 2n pairs > the core's limit
		txchallenge.NewHasher(chainID).Fill(checks)
		for k := range checks {
			if want := l2.Challenge(checks[k].PubKey, chainID, checks[k].Tx); !checks[k].Challenge.Equal(&want) {
				t.Fatalf("check %d: challenge %s, l2.Challenge %s", k, checks[k].Challenge.String(), want.String())
			}
		}
	})
}

// TestFillAllocatesNothing checks that a Hasher reuses its buffers: the sequencer calls it for
// every batch of signatures it admits.
func TestFillAllocatesNothing(t *testing.T) {
	checks := randomChecks(rand.New(rand.NewPCG(1, 2)), 512)
	h := txchallenge.NewHasher(5)
	h.Fill(checks)
	if allocs := testing.AllocsPerRun(20, func() { h.Fill(checks[:100]) }); allocs != 0 {
		t.Fatalf("Fill allocates %v times per call, want 0", allocs)
	}
}

// BenchmarkFill is the batched challenge hashing per signature, against l2.Challenge in Go.
func BenchmarkFill(b *testing.B) {
	checks := randomChecks(rand.New(rand.NewPCG(3, 4)), ffi.MaxBatchTxs)
	for _, n := range []int{16, 64, 512, ffi.MaxBatchTxs} {
		b.Run(fmt.Sprintf("core/batch=%d", n), func(b *testing.B) {
			h := txchallenge.NewHasher(5)
			h.Fill(checks[:n]) // its buffers
			b.ReportAllocs()
			for b.Loop() {
				h.Fill(checks[:n])
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/signature")
		})
	}
	b.Run("go", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			l2.Challenge(checks[i].PubKey, 5, checks[i].Tx)
			i = (i + 1) % len(checks)
		}
	})
}
