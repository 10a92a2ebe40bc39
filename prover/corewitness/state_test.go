package corewitness

import (
	"errors"
	"testing"

	"github.com/pqbridge/pqbridge/ffi"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
	"github.com/pqbridge/pqbridge/prover"
)

// TestStateFollowsReference: a State executing random batches alternately with and without a
// witness (ApplyBatchWitness, Apply) stays at the Go reference's root, reports its depth, and
// refuses every call once closed.
func TestStateFollowsReference(t *testing.T) {
	const depth = 8
	random := l2test.NewRandomBatches(7, depth)
	c, err := ffi.New(depth, 64)
	if err != nil {
		t.Fatal(err)
	}
	st := NewState(c)
	ref, err := l2.NewState(depth)
	if err != nil {
		t.Fatal(err)
	}
	if st.Depth() != depth {
		t.Fatalf("depth %d, want %d", st.Depth(), depth)
	}
	for b := range 10 {
		data := random.Next(20)
		txs, err := l2.DecodeBatch(data)
		if err != nil {
			t.Fatal(err)
		}
		if b%2 == 0 {
			_, err = st.ApplyBatchWitness(txs)
		} else {
			err = st.Apply(data)
		}
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		res := ref.ApplyBatch(txs, l2.ApplyOptions{})
		root, err := st.Root()
		if err != nil || !root.Equal(&res.FinalRoot) {
			t.Fatalf("batch %d: core root %v (%v), reference %v", b, root.Bytes(), err, res.FinalRoot.Bytes())
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Root(); !errors.Is(err, ffi.ErrClosed) {
		t.Fatalf("Root after Close: %v, want ErrClosed", err)
	}
}

// BenchmarkWitness: the prover's witness of a batch of 256 random transactions at depth 24, in
// the core (what the settlement engine's prover uses) and with the Go reference (what it used).
func BenchmarkWitness(b *testing.B) {
	const depth, n = 24, 256
	for _, src := range []string{"core", "reference"} {
		b.Run(src, func(b *testing.B) {
			random := l2test.NewRandomBatches(3, depth)
			c, err := ffi.New(depth, 1<<12)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			core := NewState(c)
			ref, err := l2.NewState(depth)
			if err != nil {
				b.Fatal(err)
			}
			refSrc := &prover.ReferenceSource{State: ref}
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				txs, err := l2.DecodeBatch(random.Next(n))
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if src == "core" {
					_, err = core.ApplyBatchWitness(txs)
				} else {
					_, err = refSrc.ApplyBatchWitness(txs)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/tx")
		})
	}
}
