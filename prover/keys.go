package prover

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	groth16bn254 "github.com/consensys/gnark/backend/groth16/bn254"
	"github.com/consensys/gnark/constraint"
	"github.com/consensys/gnark/frontend"
	"github.com/consensys/gnark/frontend/cs/r1cs"
)

// Keys are the Groth16 keys of one parameter set and the constraint system they were made for.
type Keys struct {
	Params Params
	CS     constraint.ConstraintSystem
	PK     groth16.ProvingKey
	VK     groth16.VerifyingKey
}

// KeyID identifies a verifying key: the SHA-256 of its canonical encoding
// (VerifyingKeyBytes). L1 stores it per rollup and accepts proofs only under that key.
type KeyID [32]byte

func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// Compile compiles the batch circuit of p to an R1CS.
func Compile(p Params) (constraint.ConstraintSystem, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	cs, err := frontend.Compile(ecc.BN254.ScalarField(), r1cs.NewBuilder, NewCircuit(p))
	if err != nil {
		return nil, fmt.Errorf("prover: compiling %v: %w", p, err)
	}
	return cs, nil
}

// CircuitDigest is the SHA-256 of a compiled constraint system's serialization (deterministic:
// the same circuit compiles to the same bytes). Key directories and MPC files record it, so keys
// are never used with a circuit that differs from theirs, even by a constraint.
func CircuitDigest(cs constraint.ConstraintSystem) (string, error) {
	h := sha256.New()
	if _, err := cs.WriteTo(h); err != nil {
		return "", fmt.Errorf("prover: hashing the constraint system: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// compileWithProgress compiles p, reporting it as a step.
func compileWithProgress(p Params, progress *Progress) (constraint.ConstraintSystem, error) {
	done := progress.Step(fmt.Sprintf("compile %v", p), 0)
	defer done()
	return Compile(p)
}

// DevSetup makes keys for p with a single-party Groth16 setup. Its toxic waste exists in this
// process for the duration of the call, so whoever runs it could forge proofs: it is for the
// devnet and tests. Production keys come from the multi-party setup (mpc.go, docs/prover.md).
func DevSetup(p Params, progress *Progress) (*Keys, error) {
	cs, err := compileWithProgress(p, progress)
	if err != nil {
		return nil, err
	}
	done := progress.Step(fmt.Sprintf("setup %v (%d constraints)", p, cs.GetNbConstraints()),
		estimate(cs.GetNbConstraints(), setupConstraintsPerSecond))
	pk, vk, err := groth16.Setup(cs)
	done()
	if err != nil {
		return nil, fmt.Errorf("prover: setup of %v: %w", p, err)
	}
	return &Keys{Params: p, CS: cs, PK: pk, VK: vk}, nil
}

// VerifyingKeyBytes is the canonical encoding of vk: gnark's WriteTo (compressed points).
func VerifyingKeyBytes(vk groth16.VerifyingKey) ([]byte, error) {
	var b bytes.Buffer
	if _, err := vk.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("prover: encoding verifying key: %w", err)
	}
	return b.Bytes(), nil
}

// VerifyingKeyID returns the KeyID of vk.
func VerifyingKeyID(vk groth16.VerifyingKey) (KeyID, error) {
	b, err := VerifyingKeyBytes(vk)
	if err != nil {
		return KeyID{}, err
	}
	return sha256.Sum256(b), nil
}

// ParseVerifyingKey decodes a verifying key from VerifyingKeyBytes, with gnark's point checks,
// and requires it to be a key of a batch circuit: one public input (the commitment hash) and
// one Pedersen commitment (the range checks'), whose value is the other public wire.
func ParseVerifyingKey(b []byte) (groth16.VerifyingKey, error) {
	vk := new(groth16bn254.VerifyingKey)
	n, err := vk.ReadFrom(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("prover: decoding verifying key: %w", err)
	}
	if int(n) != len(b) {
		return nil, fmt.Errorf("prover: verifying key of %d bytes followed by %d more", n, len(b)-int(n))
	}
	if len(vk.CommitmentKeys) != 1 || vk.NbPublicWitness() != 2 {
		return nil, fmt.Errorf("prover: verifying key with %d public wires and %d commitments, want 2 and 1", vk.NbPublicWitness(), len(vk.CommitmentKeys))
	}
	return vk, nil
}

// manifest describes a key directory.
type manifest struct {
	Params         string `json:"params"`
	Depth          int    `json:"depth"`
	BatchSize      int    `json:"batch_size"`
	CircuitVersion string `json:"circuit_version"`
	Constraints    int    `json:"constraints"`
	CircuitSHA256  string `json:"circuit_sha256"` // CircuitDigest
	VerifyingKeyID string `json:"verifying_key_id"`
	Setup          string `json:"setup"` // "dev" or "mpc"
}

// Key directory layout: KeyDir(root, p) holds these files.
const (
	manifestFile     = "manifest.json"
	provingKeyFile   = "proving.key"   // gnark's dump format: fast to load, not validated
	verifyingKeyFile = "verifying.key" // VerifyingKeyBytes
)

// KeyDir is the directory of the keys of p under root.
func KeyDir(root string, p Params) string { return filepath.Join(root, p.String()) }

// Save writes the keys under KeyDir(root, k.Params), each file written to a temporary name and
// renamed, so a reader never sees a half-written key. setup names their origin: "dev" or "mpc".
func (k *Keys) Save(root, setup string) error {
	dir := KeyDir(root, k.Params)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("prover: %w", err)
	}
	pk, ok := k.PK.(*groth16bn254.ProvingKey)
	if !ok {
		return fmt.Errorf("prover: proving key of type %T", k.PK)
	}
	vkBytes, err := VerifyingKeyBytes(k.VK)
	if err != nil {
		return err
	}
	digest, err := CircuitDigest(k.CS)
	if err != nil {
		return err
	}
	m := manifest{
		Params: k.Params.String(), Depth: k.Params.Depth, BatchSize: k.Params.BatchSize,
		CircuitVersion: CircuitVersion, Constraints: k.CS.GetNbConstraints(), CircuitSHA256: digest,
		VerifyingKeyID: KeyID(sha256.Sum256(vkBytes)).String(), Setup: setup,
	}
	mb, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, provingKeyFile), func(w *bufio.Writer) error { return pk.WriteDump(w) }); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, verifyingKeyFile), func(w *bufio.Writer) error { _, err := w.Write(vkBytes); return err }); err != nil {
		return err
	}
	// The manifest last: its presence means the directory is complete.
	return writeFileAtomic(filepath.Join(dir, manifestFile), func(w *bufio.Writer) error { _, err := w.Write(append(mb, '\n')); return err })
}

func writeFileAtomic(path string, write func(w *bufio.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("prover: %w", err)
	}
	defer os.Remove(f.Name()) // no-op after the rename
	w := bufio.NewWriterSize(f, 1<<20)
	if err := write(w); err != nil {
		f.Close()
		return fmt.Errorf("prover: writing %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("prover: writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("prover: writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("prover: %w", err)
	}
	return nil
}

// ErrNoKeys is returned by LoadKeys when the key directory does not exist or is incomplete;
// ErrStaleKeys when its keys were made for another version of the circuit.
var (
	ErrNoKeys    = errors.New("prover: no keys")
	ErrStaleKeys = errors.New("prover: stale keys")
)

// LoadKeys reads the keys of p from KeyDir(root, p) and compiles the circuit. The manifest must
// name p and this CircuitVersion, the compiled circuit must have the manifest's digest
// (CircuitDigest), and the verifying key must hash to the manifest's KeyID. The proving key is read in
// gnark's dump format without validation: the directory is trusted (it is the prover's own).
func LoadKeys(root string, p Params, progress *Progress) (*Keys, error) {
	dir := KeyDir(root, p)
	mb, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w for %v in %s", ErrNoKeys, p, root)
	}
	if err != nil {
		return nil, fmt.Errorf("prover: %w", err)
	}
	var m manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("prover: %s: %w", filepath.Join(dir, manifestFile), err)
	}
	if m.Params != p.String() || m.CircuitVersion != CircuitVersion {
		return nil, fmt.Errorf("prover: %s holds keys of %s (%s), want %v", dir, m.Params, m.CircuitVersion, p)
	}
	vkBytes, err := os.ReadFile(filepath.Join(dir, verifyingKeyFile))
	if err != nil {
		return nil, fmt.Errorf("prover: %w", err)
	}
	if id := KeyID(sha256.Sum256(vkBytes)).String(); id != m.VerifyingKeyID {
		return nil, fmt.Errorf("prover: %s: verifying key %s, manifest says %s", dir, id, m.VerifyingKeyID)
	}
	vk, err := ParseVerifyingKey(vkBytes)
	if err != nil {
		return nil, err
	}
	cs, err := compileWithProgress(p, progress)
	if err != nil {
		return nil, err
	}
	digest, err := CircuitDigest(cs)
	if err != nil {
		return nil, err
	}
	if digest != m.CircuitSHA256 {
		return nil, fmt.Errorf("%w: %s: the keys were made for another circuit (%d constraints, digest %s; this one: %d, %s): make new keys",
			ErrStaleKeys, dir, m.Constraints, m.CircuitSHA256, cs.GetNbConstraints(), digest)
	}
	done := progress.Step(fmt.Sprintf("load proving key %v", p), 0)
	defer done()
	f, err := os.Open(filepath.Join(dir, provingKeyFile))
	if err != nil {
		return nil, fmt.Errorf("prover: %w", err)
	}
	defer f.Close()
	pk := new(groth16bn254.ProvingKey)
	if err := pk.ReadDump(bufio.NewReaderSize(f, 1<<20)); err != nil {
		return nil, fmt.Errorf("prover: reading %s: %w", f.Name(), err)
	}
	return &Keys{Params: p, CS: cs, PK: pk, VK: vk}, nil
}

// LoadOrDevSetup loads the keys of p from root, or makes them with DevSetup and saves them
// there when there are none: the key cache of the devnet and the benchmarks.
func LoadOrDevSetup(root string, p Params, progress *Progress) (*Keys, error) {
	k, err := LoadKeys(root, p, progress)
	if !errors.Is(err, ErrNoKeys) {
		return k, err
	}
	if k, err = DevSetup(p, progress); err != nil {
		return nil, err
	}
	if err := k.Save(root, "dev"); err != nil {
		return nil, err
	}
	return k, nil
}
