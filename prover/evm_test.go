package prover

import (
	"bytes"
	"context"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"testing"

	"github.com/pqbridge/pqbridge/prover/evm"
)

// solcjsPath is the solcjs the Makefile installs (`make solc`), or $PQBRIDGE_SOLCJS.
func solcjsPath(t *testing.T) string {
	t.Helper()
	path := os.Getenv("PQBRIDGE_SOLCJS")
	if path == "" {
		path = filepath.Join("..", ".tools", "solc", "node_modules", ".bin", "solcjs")
	}
	if _, err := os.Stat(path); err != nil {
		// Not a skip: the EVM verifier is part of what make test proves.
		t.Fatalf("solcjs %s not found: run `make solc` (npm install --prefix .tools/solc solc@%s) or set PQBRIDGE_SOLCJS: %v", path, evm.SolcVersion, err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := evm.CheckSolcjs(context.Background(), abs); err != nil {
		t.Fatal(err)
	}
	return abs
}

// TestEVMVerifier exports the Solidity verifier, compiles it with solc, deploys it on
// go-ethereum's simulated backend and verifies a real batch proof there; a tampered proof and
// a wrong public input must revert.
func TestEVMVerifier(t *testing.T) {
	solcjs := solcjsPath(t)
	ctx := context.Background()
	p := roundTripParams()
	k := testKeys(t, p)

	var src bytes.Buffer
	if err := ExportSolidity(k.VK, &src); err != nil {
		t.Fatal(err)
	}
	contract, err := evm.Compile(ctx, solcjs, src.Bytes(), "Verifier")
	if err != nil {
		t.Fatal(err)
	}
	chain, err := evm.NewChain()
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	addr, deployGas, err := chain.Deploy(ctx, contract)
	if err != nil {
		t.Fatal(err)
	}

	a, proof := testProof(t, p)
	h := a.Commitment.Hash()
	if err := Verify(k.VK, h, proof); err != nil {
		t.Fatal(err)
	}
	sol, err := SolidityProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	input := []*big.Int{h.BigInt(new(big.Int))}
	gas, err := chain.VerifyProof(ctx, addr, contract, sol, input)
	if err != nil {
		t.Fatalf("valid proof rejected by the contract: %v", err)
	}
	t.Logf("%v: verifier deployed for %d gas; verifyProof of a batch proof: %d gas", p, deployGas, gas)

	for i, off := range []int{0, 100, 200, len(sol) - 1} { // A, B, C, the commitment's proof of knowledge
		tampered := bytes.Clone(sol)
		tampered[off] ^= 1
		if _, err := chain.VerifyProof(ctx, addr, contract, tampered, input); !errors.Is(err, evm.ErrReverted) {
			t.Errorf("tampered proof %d accepted by the contract (err %v)", i, err)
		}
	}
	wrong := []*big.Int{new(big.Int).Add(input[0], big.NewInt(1))}
	if _, err := chain.VerifyProof(ctx, addr, contract, sol, wrong); !errors.Is(err, evm.ErrReverted) {
		t.Errorf("proof accepted by the contract for another commitment hash (err %v)", err)
	}
}
