package prover

import (
	"bytes"
	"io"
	"math/big"
	"testing"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend/groth16"
	cs "github.com/consensys/gnark/constraint/bn254"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
	"github.com/consensys/gnark/std/permutation/poseidon2"
	"github.com/consensys/gnark/std/rangecheck"

	"github.com/pqbridge/pqbridge/l2"
)

// tinyCircuit has what makes the batch circuit's keys special for the MPC: one public input
// and a range check, hence a Pedersen commitment. The batch circuit itself needs minutes per
// phase 2 step even at depth 2 (docs/prover.md), too slow for make test. Its public input is
// the Poseidon2 compression of X with itself, or, when square (under -short: the race run,
// where gnark's MPC is several times slower), X² (a smaller domain for both phases).
type tinyCircuit struct {
	X    frontend.Variable
	Hash frontend.Variable `gnark:",public"`

	square bool
}

func (c *tinyCircuit) Define(api frontend.API) error {
	rangecheck.New(api).Check(c.X, 64)
	if c.square {
		api.AssertIsEqual(api.Mul(c.X, c.X), c.Hash)
		return nil
	}
	perm, err := poseidon2.NewPoseidon2(api)
	if err != nil {
		return err
	}
	api.AssertIsEqual(perm.Compress(c.X, c.X), c.Hash)
	return nil
}

// hash is the public input of x.
func (c *tinyCircuit) hash(x uint64) *big.Int {
	e := fr.NewElement(x)
	if c.square {
		e.Square(&e)
	} else {
		e = l2.Compress(e, e)
	}
	return e.BigInt(new(big.Int))
}

// TestMPCSetup runs the multi-party setup with two contributors per phase on a tiny circuit,
// then proves and verifies with the sealed keys. Chains with a contribution left out, or of
// another circuit, must not verify.
func TestMPCSetup(t *testing.T) {
	tiny := &tinyCircuit{square: testing.Short()}
	ccs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, tiny)
	if err != nil {
		t.Fatal(err)
	}
	c := MPCCircuit{Name: "tiny", R1CS: ccs.(*cs.R1CS)}
	t.Logf("%d constraints, domain %d", ccs.GetNbConstraints(), c.DomainSize())
	readers := func(files ...[]byte) []io.Reader {
		rs := make([]io.Reader, len(files))
		for i, f := range files {
			rs[i] = bytes.NewReader(f)
		}
		return rs
	}
	contribute := func(prev []byte) []byte {
		t.Helper()
		var next bytes.Buffer
		if _, err := MPCContribute(bytes.NewReader(prev), &next, nil); err != nil {
			t.Fatal(err)
		}
		return next.Bytes()
	}

	var p1init bytes.Buffer
	if err := MPCInitPhase1(c.DomainSize(), &p1init); err != nil {
		t.Fatal(err)
	}
	alice1 := contribute(p1init.Bytes())
	bob1 := contribute(alice1)
	if n, err := MPCVerifyPhase1(nil, readers(alice1, bob1)...); err != nil || n != c.DomainSize() {
		t.Fatalf("phase 1 chain: domain %d, %v", n, err)
	}
	if _, err := MPCVerifyPhase1(nil, readers(bob1)...); err == nil {
		t.Fatal("phase 1 chain without its first contribution verified")
	}
	var srs bytes.Buffer
	if err := MPCSealPhase1([]byte("beacon 1"), &srs, nil, readers(alice1, bob1)...); err != nil {
		t.Fatal(err)
	}

	var p2init bytes.Buffer
	if err := MPCInitPhase2(c, bytes.NewReader(srs.Bytes()), &p2init, nil); err != nil {
		t.Fatal(err)
	}
	alice2 := contribute(p2init.Bytes())
	bob2 := contribute(alice2)
	if err := MPCVerifyPhase2(c, bytes.NewReader(srs.Bytes()), nil, readers(alice2, bob2)...); err != nil {
		t.Fatal(err)
	}
	if err := MPCVerifyPhase2(c, bytes.NewReader(srs.Bytes()), nil, readers(bob2)...); err == nil {
		t.Fatal("phase 2 chain without its first contribution verified")
	}
	if err := MPCVerifyPhase2(MPCCircuit{Name: "other", R1CS: c.R1CS}, bytes.NewReader(srs.Bytes()), nil, readers(alice2, bob2)...); err == nil {
		t.Fatal("phase 2 chain verified for another circuit")
	}
	tampered := bytes.Clone(bob2)
	tampered[len(tampered)/2] ^= 1
	if err := MPCVerifyPhase2(c, bytes.NewReader(srs.Bytes()), nil, readers(alice2, tampered)...); err == nil {
		t.Fatal("tampered phase 2 contribution verified")
	}
	pk, vk, err := MPCSealPhase2(c, bytes.NewReader(srs.Bytes()), []byte("beacon 2"), nil, readers(alice2, bob2)...)
	if err != nil {
		t.Fatal(err)
	}

	// The keys prove and verify, with the EVM-compatible options the batch proofs use.
	w, err := frontend.NewWitness(&tinyCircuit{X: 42, Hash: tiny.hash(42)}, ecc.BN254.ScalarField())
	if err != nil {
		t.Fatal(err)
	}
	proof, err := groth16.Prove(c.R1CS, pk, w, proverOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := w.Public()
	if err := groth16.Verify(proof, vk, pub, verifierOptions()...); err != nil {
		t.Fatal(err)
	}
}
