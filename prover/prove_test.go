package prover

import (
	"bytes"
	"errors"
	"sync"
	"testing"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"

	"github.com/pqbridge/pqbridge/l1/chain"
	"github.com/pqbridge/pqbridge/l2"
)

// L1 verifies validity proofs through a Verifier.
var _ chain.ProofVerifier = (*Verifier)(nil)

// roundTripParams are the smallest parameters that still exercise every part of the circuit;
// under -short (the race detector makes gnark ~10x slower) a smaller tree and a single slot.
func roundTripParams() Params {
	if testing.Short() {
		return Params{Depth: 2, BatchSize: 1}
	}
	return Params{Depth: 8, BatchSize: 2}
}

var (
	testKeysMu    sync.Mutex
	testKeysCache = make(map[Params]*Keys)
)

// testKeys runs a dev setup for p once per test binary.
func testKeys(t *testing.T, p Params) *Keys {
	t.Helper()
	testKeysMu.Lock()
	defer testKeysMu.Unlock()
	if k, ok := testKeysCache[p]; ok {
		return k
	}
	k, err := DevSetup(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	testKeysCache[p] = k
	return k
}

type testProofEntry struct {
	a     *Assignment
	proof groth16.Proof
}

var (
	testProofMu    sync.Mutex
	testProofCache = make(map[Params]testProofEntry)
)

// testProof proves the second of two valid batches of p from genesis (one that does not start
// at the empty tree) with testKeys(p), once per test binary: the tests that check what is done
// with a proof share it.
func testProof(t *testing.T, p Params) (*Assignment, groth16.Proof) {
	t.Helper()
	k := testKeys(t, p)
	testProofMu.Lock()
	defer testProofMu.Unlock()
	if e, ok := testProofCache[p]; ok {
		return e.a, e.proof
	}
	a := validAssignments(t, p, 7, 2)[1]
	proof, err := Prove(k, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	testProofCache[p] = testProofEntry{a: a, proof: proof}
	return a, proof
}

// validAssignments returns assignments of n consecutive valid batches of p from genesis.
func validAssignments(t *testing.T, p Params, seed uint64, n int) []*Assignment {
	t.Helper()
	gen := newValidBatches(t, seed, p.Depth)
	s, err := l2.NewState(p.Depth)
	if err != nil {
		t.Fatal(err)
	}
	src := &ReferenceSource{State: s}
	var out []*Assignment
	var dq fr.Element
	for b := range n {
		txs := gen.next(t, p.BatchSize)
		tr, err := src.ApplyBatchWitness(txs)
		if err != nil {
			t.Fatal(err)
		}
		a, err := Assign(p, &Batch{ChainID: testChainID, BatchNumber: uint64(b + 1), DepositsBefore: dq, Txs: txs}, tr)
		if err != nil {
			t.Fatal(err)
		}
		dq = a.Commitment.DepositsAfter
		out = append(out, a)
	}
	return out
}

// TestProveVerifyRoundTrip runs a real Groth16 setup, prove and verify, and the key files.
func TestProveVerifyRoundTrip(t *testing.T) {
	p := roundTripParams()
	k := testKeys(t, p)
	a, proof := testProof(t, p)
	h := a.Commitment.Hash()
	if err := Verify(k.VK, h, proof); err != nil {
		t.Fatal(err)
	}
	var wrong fr.Element
	wrong.SetOne()
	wrong.Add(&wrong, &h)
	if Verify(k.VK, wrong, proof) == nil {
		t.Fatal("proof verified for another commitment hash")
	}

	// The wire forms round-trip.
	b, err := MarshalProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := ParseProof(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(k.VK, h, parsed); err != nil {
		t.Fatal(err)
	}
	if _, err := ParseProof(append(b, 0)); err == nil {
		t.Fatal("ParseProof accepted trailing bytes")
	}
	tampered := bytes.Clone(b)
	tampered[10] ^= 1
	if pr, err := ParseProof(tampered); err == nil && Verify(k.VK, h, pr) == nil {
		t.Fatal("tampered proof verified")
	}

	// L1's view: a Verifier holding the key by its ID, proofs as bytes.
	v := NewVerifier()
	vkBytes, err := VerifyingKeyBytes(k.VK)
	if err != nil {
		t.Fatal(err)
	}
	id, err := v.Add(vkBytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(id, h, b); err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(KeyID{1}, h, b); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("unknown key: %v", err)
	}
	if v.Verify(id, wrong, b) == nil {
		t.Fatal("Verifier accepted a proof for another commitment hash")
	}
	var wg sync.WaitGroup // L1 may verify from several goroutines
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := v.Verify(id, h, b); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()

	// Saved keys load, keep their ID and prove.
	root := t.TempDir()
	if err := k.Save(root, "dev"); err != nil {
		t.Fatal(err)
	}
	loaded, err := LoadKeys(root, p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if lid, _ := VerifyingKeyID(loaded.VK); lid != id {
		t.Fatalf("verifying key ID %v after loading, %v before", lid, id)
	}
	proof2, err := Prove(loaded, a, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(k.VK, h, proof2); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeys(root, Params{Depth: p.Depth, BatchSize: p.BatchSize + 1}, nil); err == nil {
		t.Fatal("loaded keys of other parameters")
	}
}
