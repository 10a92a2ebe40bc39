package fraud_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/fraud/fraudtest"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// honestProofs returns every well-formed proof anyone can make against batch b
// (fraudtest.HonestProofs). Against an honest batch each must be judged "not fraud".
func honestProofs(t testing.TB, b *posted) []*fraud.Proof {
	t.Helper()
	ps, err := fraudtest.HonestProofs(b.pre, &b.c, b.data, b.trace, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// TestHonestBatchesAreNeverProven: over 1,000 random honest batches (every transaction signed
// and successful), Build finds no fraud, every well-formed proof against them is judged "not
// fraud", and mutations of those proofs, field by field (most still decode) and byte by byte,
// are rejected. fraud/challenger's TestHonestRunOnL1 runs such proofs through L1.
func TestHonestBatchesAreNeverProven(t *testing.T) {
	batches := 1000
	if testing.Short() {
		batches = 100
	}
	const depth = 4
	gen := l2test.NewValidBatches(11, depth, testChainID)
	state, _ := l2.NewState(depth)
	rng := rand.New(rand.NewPCG(11, 12))
	var judged, mutations, malformed, decoded int
	for i := range batches {
		txs, err := l2.DecodeBatch(gen.Next(6))
		if err != nil {
			t.Fatal(err)
		}
		// Signatures are checked by Build: no need to check them twice.
		b := commit(t, state, txs, l2.ApplyOptions{ChainID: testChainID})
		if p, err := b.build(); !errors.Is(err, fraud.ErrNoFraud) {
			t.Fatalf("batch %d: Build: %+v, %v", i, p, err)
		}
		for _, p := range honestProofs(t, b) {
			enc := p.Encode()
			if ok, err := b.judge(enc); ok || err != nil {
				t.Fatalf("batch %d: honest %s proof at step %d: %v, %v", i, p.Kind, p.Step, ok, err)
			}
			judged++
			for j := range 4 {
				m := fraudtest.MutateBytes(rng, enc)
				if j > 0 {
					m = fraudtest.Mutate(rng, p).Encode()
				}
				ok, err := b.judge(m)
				if ok {
					t.Fatalf("batch %d: mutated %s proof proves fraud: %x", i, p.Kind, m)
				}
				mutations++
				if errors.Is(err, fraud.ErrMalformed) {
					malformed++
				} else {
					decoded++
				}
			}
		}
		state.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID})
	}
	t.Logf("%d batches: %d honest proofs judged not fraud, %d mutations rejected (%d malformed, %d judged)",
		batches, judged, mutations, malformed, decoded)
}

// fuzzFixtures returns an honest batch with the proofs one can make against it, and a
// fraudulent one (a wrong root in the middle of the trace) with its valid proof.
func fuzzFixtures(t testing.TB) (honest, fraudulent *posted, seeds [][]byte) {
	gen := l2test.NewValidBatches(5, 4, testChainID)
	state, _ := l2.NewState(4)
	txs, _ := l2.DecodeBatch(gen.Next(8))
	state.ApplyBatch(txs, signOpts) // accounts to spend from
	txs, _ = l2.DecodeBatch(gen.Next(8))
	honest = commit(t, state, txs, signOpts)
	for _, p := range honestProofs(t, honest) {
		seeds = append(seeds, p.Encode())
	}
	bad := commit(t, state, txs, signOpts)
	bad.trace[len(txs)/2] = elem(99)
	fraudulent = seal(t, state, bad.data, bad.trace, bad.c.NewRoot, bad.c.WithdrawalRoot)
	p, err := fraudulent.build()
	if err != nil {
		t.Fatal(err)
	}
	return honest, fraudulent, append(seeds, p.Encode())
}

// FuzzJudge: no input makes the judge panic or prove an honest batch fraudulent, a proof that
// decodes has exactly one encoding, and a verdict of fraud comes without an error.
func FuzzJudge(f *testing.F) {
	honest, fraudulent, seeds := fuzzFixtures(f)
	for _, s := range seeds {
		f.Add(s)
	}
	f.Add([]byte{})
	f.Add([]byte{0xc0})
	f.Fuzz(func(t *testing.T, proof []byte) {
		if p, err := fraud.Decode(proof); err == nil && !bytes.Equal(p.Encode(), proof) {
			t.Fatalf("decoded proof re-encodes differently")
		}
		var judge fraud.Judge
		if ok, err := judge.Judge(honest.fraudCase(proof)); ok {
			t.Fatalf("honest batch proven fraudulent (err %v)", err)
		}
		if ok, err := judge.Judge(fraudulent.fraudCase(proof)); ok && err != nil {
			t.Fatalf("fraud with an error: %v", err)
		}
	})
}
