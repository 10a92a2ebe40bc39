// Package evm runs the batch circuit's exported Solidity verifier in a real EVM: it compiles
// the contract with solc (solcjs, from the npm package pinned by the Makefile) and deploys it
// on go-ethereum's simulated backend, then calls verifyProof with proofs made by the prover.
// It exists to prove that the validity proofs verify on an EVM chain and to measure their gas;
// the L1 node itself verifies proofs in Go (prover.Verify).
package evm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient/simulated"
)

// SolcVersion is the solc release the Makefile installs (npm package solc@SolcVersion).
const SolcVersion = "0.8.28"

// Contract is a compiled contract.
type Contract struct {
	Name string
	Bin  []byte // creation bytecode
	ABI  abi.ABI
}

// CheckSolcjs checks that solcjs is the pinned release SolcVersion.
func CheckSolcjs(ctx context.Context, solcjs string) error {
	out, err := exec.CommandContext(ctx, solcjs, "--version").Output()
	if err != nil {
		return fmt.Errorf("evm: %s --version: %w", solcjs, err)
	}
	if v := strings.TrimSpace(string(out)); !strings.HasPrefix(v, SolcVersion+"+") {
		return fmt.Errorf("evm: %s is solc %s, want %s", solcjs, v, SolcVersion)
	}
	return nil
}

// Compile compiles the Solidity source with solcjs (`solcjs --bin --abi --optimize`) and
// returns the contract named name. solcjs is the path of the solcjs executable.
func Compile(ctx context.Context, solcjs string, source []byte, name string) (*Contract, error) {
	if _, err := os.Stat(solcjs); err != nil {
		return nil, fmt.Errorf("evm: solcjs not found (run `make solc`): %w", err)
	}
	dir, err := os.MkdirTemp("", "pqbridge-solc")
	if err != nil {
		return nil, fmt.Errorf("evm: %w", err)
	}
	defer os.RemoveAll(dir)
	const file = "Verifier.sol"
	if err := os.WriteFile(filepath.Join(dir, file), source, 0o644); err != nil {
		return nil, fmt.Errorf("evm: %w", err)
	}
	cmd := exec.CommandContext(ctx, solcjs, "--bin", "--abi", "--optimize", "-o", "out", file)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("evm: solcjs: %w: %s", err, out)
	}
	// solcjs names outputs <file with separators replaced by _>_<contract>.{bin,abi}.
	base := filepath.Join(dir, "out", strings.ReplaceAll(file, ".", "_")+"_"+name)
	bin, err := os.ReadFile(base + ".bin")
	if err != nil {
		return nil, fmt.Errorf("evm: contract %s not in solcjs output: %w", name, err)
	}
	abiJSON, err := os.ReadFile(base + ".abi")
	if err != nil {
		return nil, fmt.Errorf("evm: %w", err)
	}
	parsed, err := abi.JSON(bytes.NewReader(abiJSON))
	if err != nil {
		return nil, fmt.Errorf("evm: abi of %s: %w", name, err)
	}
	return &Contract{Name: name, Bin: common.FromHex(strings.TrimSpace(string(bin))), ABI: parsed}, nil
}

// Chain is a single-node simulated Ethereum chain (chain ID 1337) with one funded account.
type Chain struct {
	backend *simulated.Backend
	key     *ecdsa.PrivateKey
	from    common.Address
}

// ChainID is the simulated backend's chain ID.
var ChainID = big.NewInt(1337)

// NewChain starts a simulated chain. Close it.
func NewChain() (*Chain, error) {
	key, err := crypto.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("evm: %w", err)
	}
	from := crypto.PubkeyToAddress(key.PublicKey)
	balance := new(big.Int).Lsh(big.NewInt(1), 100)
	b := simulated.NewBackend(types.GenesisAlloc{from: {Balance: balance}}, simulated.WithBlockGasLimit(60_000_000))
	return &Chain{backend: b, key: key, from: from}, nil
}

// Close stops the chain.
func (c *Chain) Close() error { return c.backend.Close() }

// Deploy deploys the contract, mines the block and returns its address and the gas used.
func (c *Chain) Deploy(ctx context.Context, contract *Contract) (common.Address, uint64, error) {
	opts, err := bind.NewKeyedTransactorWithChainID(c.key, ChainID)
	if err != nil {
		return common.Address{}, 0, fmt.Errorf("evm: %w", err)
	}
	opts.Context = ctx
	client := c.backend.Client()
	addr, tx, _, err := bind.DeployContract(opts, contract.ABI, contract.Bin, client)
	if err != nil {
		return common.Address{}, 0, fmt.Errorf("evm: deploying %s: %w", contract.Name, err)
	}
	c.backend.Commit()
	receipt, err := bind.WaitMined(ctx, client, tx)
	if err != nil {
		return common.Address{}, 0, fmt.Errorf("evm: deploying %s: %w", contract.Name, err)
	}
	if receipt.Status != types.ReceiptStatusSuccessful {
		return common.Address{}, 0, fmt.Errorf("evm: deploying %s: transaction failed", contract.Name)
	}
	return addr, receipt.GasUsed, nil
}

// ErrReverted is returned by VerifyProof when the verifier contract rejects the proof.
var ErrReverted = errors.New("evm: verifier reverted")

// VerifyProof calls verifyProof(bytes proof, uint256[N] input) of the verifier at addr and
// returns the gas it needs (eth_estimateGas). A rejected proof gives an error wrapping
// ErrReverted.
func (c *Chain) VerifyProof(ctx context.Context, addr common.Address, contract *Contract, proof []byte, input []*big.Int) (uint64, error) {
	arr := reflect.New(reflect.ArrayOf(len(input), reflect.TypeFor[*big.Int]())).Elem()
	for i, v := range input {
		arr.Index(i).Set(reflect.ValueOf(v))
	}
	data, err := contract.ABI.Pack("verifyProof", proof, arr.Interface())
	if err != nil {
		return 0, fmt.Errorf("evm: packing verifyProof: %w", err)
	}
	msg := ethereum.CallMsg{From: c.from, To: &addr, Data: data}
	client := c.backend.Client()
	if _, err := client.CallContract(ctx, msg, nil); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrReverted, err)
	}
	gas, err := client.EstimateGas(ctx, msg)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrReverted, err)
	}
	return gas, nil
}
