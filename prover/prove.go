package prover

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/consensys/gnark/backend"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/backend/solidity"
	"github.com/consensys/gnark/backend/witness"
	"github.com/consensys/gnark/frontend"
)

// Proofs are made for the EVM verifier (ExportSolidity): the Fiat–Shamir challenge of the
// circuit's commitment (its range checks use one) is hashed with keccak256, which the Solidity
// verifier can compute, instead of gnark's default SHA-256. One proof then verifies both in Go
// (Verify) and in the EVM. The options are made per call: each holds its own hash state, which
// concurrent proofs must not share.
func proverOptions() []backend.ProverOption {
	return []backend.ProverOption{solidity.WithProverTargetSolidityVerifier(backend.GROTH16)}
}

func verifierOptions() []backend.VerifierOption {
	return []backend.VerifierOption{solidity.WithVerifierTargetSolidityVerifier(backend.GROTH16)}
}

// Prove makes a Groth16 proof of the assignment with k.
func Prove(k *Keys, a *Assignment, progress *Progress) (groth16.Proof, error) {
	w, err := frontend.NewWitness(a.Circuit, ecc.BN254.ScalarField())
	if err != nil {
		return nil, fmt.Errorf("prover: witness: %w", err)
	}
	return proveWitness(k, w, fmt.Sprintf("batch %d", a.Commitment.BatchNumber), progress)
}

// proveWitness proves a full witness of k's circuit; what names it in messages.
func proveWitness(k *Keys, w witness.Witness, what string, progress *Progress) (groth16.Proof, error) {
	done := progress.Step(fmt.Sprintf("prove %s (%v)", what, k.Params), estimate(k.CS.GetNbConstraints(), proveConstraintsPerSecond))
	defer done()
	proof, err := groth16.Prove(k.CS, k.PK, w, proverOptions()...)
	if err != nil {
		return nil, fmt.Errorf("%w: proving %s: %w", ErrNotProvable, what, err)
	}
	return proof, nil
}

// publicInput is the public part of BatchCircuit, for building its public witness alone.
type publicInput struct {
	CommitmentHash frontend.Variable `gnark:",public"`
}

func (*publicInput) Define(frontend.API) error { return nil }

// Verify checks a batch proof under vk for the commitment hash L1 computed from the batch
// (l2.Commitment.Hash). It is the check L1 runs before accepting a validity-mode batch.
func Verify(vk groth16.VerifyingKey, commitmentHash fr.Element, proof groth16.Proof) error {
	w, err := frontend.NewWitness(&publicInput{CommitmentHash: commitmentHash.BigInt(new(big.Int))},
		ecc.BN254.ScalarField(), frontend.PublicOnly())
	if err != nil {
		return fmt.Errorf("prover: public witness: %w", err)
	}
	if err := groth16.Verify(proof, vk, w, verifierOptions()...); err != nil {
		return fmt.Errorf("prover: proof rejected: %w", err)
	}
	return nil
}

// MarshalProof is the wire form of a proof: gnark's WriteTo (compressed points).
func MarshalProof(proof groth16.Proof) ([]byte, error) {
	var b bytes.Buffer
	if _, err := proof.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("prover: encoding proof: %w", err)
	}
	return b.Bytes(), nil
}

// ParseProof decodes MarshalProof's encoding, with gnark's point checks.
func ParseProof(b []byte) (groth16.Proof, error) {
	proof := new(groth16bn254.Proof)
	n, err := proof.ReadFrom(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("prover: decoding proof: %w", err)
	}
	if int(n) != len(b) {
		return nil, fmt.Errorf("prover: proof of %d bytes followed by %d more", n, len(b)-int(n))
	}
	return proof, nil
}

// SolidityProof is the proof as the exported Solidity verifier's verifyProof takes it.
func SolidityProof(proof groth16.Proof) ([]byte, error) {
	p, ok := proof.(*groth16bn254.Proof)
	if !ok {
		return nil, fmt.Errorf("prover: proof of type %T", proof)
	}
	return p.MarshalSolidity(), nil
}

// ExportSolidity writes the Solidity verifier of vk (contract Verifier, function
// verifyProof(bytes proof, uint256[1] input) that reverts unless the proof is valid). Proofs
// for it are SolidityProof's encoding of Prove's proofs; input[0] is the commitment hash.
func ExportSolidity(vk groth16.VerifyingKey, w io.Writer) error {
	if err := vk.ExportSolidity(w); err != nil {
		return fmt.Errorf("prover: exporting the Solidity verifier: %w", err)
	}
	return nil
}

// ErrUnknownKey is returned by Verifier.Verify for a key ID it does not hold.
var ErrUnknownKey = errors.New("prover: unknown verifying key")

// Verifier verifies batch proofs under the verifying keys it holds, named by KeyID: what L1
// configures per rollup (it implements l1/chain.ProofVerifier). It is safe for concurrent use.
type Verifier struct {
	mu   sync.RWMutex
	keys map[KeyID]groth16.VerifyingKey
}

// NewVerifier returns a Verifier without keys.
func NewVerifier() *Verifier { return &Verifier{keys: make(map[KeyID]groth16.VerifyingKey)} }

// Add parses a verifying key (VerifyingKeyBytes) and returns its ID.
func (v *Verifier) Add(vkBytes []byte) (KeyID, error) {
	vk, err := ParseVerifyingKey(vkBytes)
	if err != nil {
		return KeyID{}, err
	}
	id := KeyID(sha256.Sum256(vkBytes))
	v.mu.Lock()
	defer v.mu.Unlock()
	v.keys[id] = vk
	return id, nil
}

// Verify checks proof (MarshalProof's encoding) under the key named id for the commitment hash.
func (v *Verifier) Verify(id [32]byte, commitmentHash fr.Element, proof []byte) error {
	v.mu.RLock()
	vk, ok := v.keys[id]
	v.mu.RUnlock()
	if !ok {
		return fmt.Errorf("%w %v", ErrUnknownKey, KeyID(id))
	}
	p, err := ParseProof(proof)
	if err != nil {
		return err
	}
	return Verify(vk, commitmentHash, p)
}
