package fraud_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/l2test"
)

// honestProofs returns every well-formed proof anyone can make against batch b: a step proof
// of each step (from the true pre-state, with true witnesses), the final root proof and the
// withdrawal root proof. Against an honest batch each must be judged "not fraud".
func honestProofs(t testing.TB, b *posted) []*fraud.Proof {
	t.Helper()
	txs, err := l2.DecodeBatch(b.data)
	if err != nil {
		t.Fatal(err)
	}
	n := len(txs)
	s := b.pre.Clone()
	var out []*fraud.Proof
	for k := range txs {
		p := &fraud.Proof{Kind: fraud.KindStep, Batch: b.c.BatchNumber, Step: uint64(k), PrevRoot: b.c.PrevRoot,
			NextRoot: b.trace[k], NextSiblings: l2.ListWitness(b.trace, k)}
		if k > 0 {
			p.PrevRoot, p.PrevSiblings = b.trace[k-1], l2.ListWitness(b.trace, k-1)
		}
		for _, i := range txs[k].Touches(s.Depth()) {
			w, err := s.AccountWitness(i)
			if err != nil {
				t.Fatal(err)
			}
			p.Accounts = append(p.Accounts, w)
		}
		out = append(out, p)
		s.Apply(&txs[k], signOpts)
	}
	return append(out,
		&fraud.Proof{Kind: fraud.KindFinalRoot, Batch: b.c.BatchNumber, Step: uint64(n - 1), NextRoot: b.trace[n-1],
			NextSiblings: l2.ListWitness(b.trace, n-1)},
		&fraud.Proof{Kind: fraud.KindWithdrawalRoot, Batch: b.c.BatchNumber})
}

// mutate returns a copy of enc with one random change: a bit flipped, a byte replaced, a byte
// inserted or removed, or a 32-byte run overwritten with another part of the proof.
func mutate(rng *rand.Rand, enc []byte) []byte {
	out := bytes.Clone(enc)
	i := rng.IntN(len(out))
	switch rng.IntN(5) {
	case 0:
		out[i] ^= 1 << rng.IntN(8)
	case 1:
		out[i] = byte(rng.Uint32())
	case 2:
		out = append(out[:i], append([]byte{byte(rng.Uint32())}, out[i:]...)...)
	case 3:
		out = append(out[:i], out[i+1:]...)
	default:
		if len(out) > 64 {
			src, dst := rng.IntN(len(out)-32), rng.IntN(len(out)-32)
			copy(out[dst:dst+32], enc[src:src+32])
		}
	}
	return out
}

// TestHonestBatchesAreNeverProven: over 1,000 random honest batches (every transaction signed
// and successful), Build finds no fraud, every well-formed proof against them is judged "not
// fraud", and mutations of those proofs are rejected.
func TestHonestBatchesAreNeverProven(t *testing.T) {
	batches := 1000
	if testing.Short() {
		batches = 100
	}
	const depth = 4
	gen := l2test.NewValidBatches(11, depth, testChainID)
	state, _ := l2.NewState(depth)
	rng := rand.New(rand.NewPCG(11, 12))
	var judged, mutations, malformed int
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
			for range 3 {
				m := mutate(rng, enc)
				ok, err := b.judge(m)
				if ok {
					t.Fatalf("batch %d: mutated %s proof proves fraud: %x", i, p.Kind, m)
				}
				mutations++
				if errors.Is(err, fraud.ErrMalformed) {
					malformed++
				}
			}
		}
		state.ApplyBatch(txs, l2.ApplyOptions{ChainID: testChainID})
	}
	t.Logf("%d batches: %d honest proofs judged not fraud, %d mutations rejected (%d malformed)",
		batches, judged, mutations, malformed)
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
