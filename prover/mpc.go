package prover

import (
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/consensys/gnark-crypto/ecc"
	"github.com/consensys/gnark/backend/groth16"
	"github.com/consensys/gnark/backend/groth16/bn254/mpcsetup"
	cs "github.com/consensys/gnark/constraint/bn254"
)

// The multi-party Groth16 setup (gnark's backend/groth16/bn254/mpcsetup, the protocol of
// eprint 2017/1050) in two phases, each a chain of contributions passed as files from one
// participant to the next (docs/prover.md has the commands):
//
//  1. Powers of tau, for a domain of N points (N a power of two at least the circuit's
//     constraint count): MPCInitPhase1, then MPCContribute by each participant, then
//     MPCSealPhase1 verifies the chain and seals it with a public random beacon into the SRS.
//  2. Circuit-specific: MPCInitPhase2 from the SRS and the circuit (BatchMPCCircuit for the
//     batch circuit of a parameter set), MPCContribute by each participant, MPCSealPhase2
//     verifies the chain, seals it with a second beacon and returns the keys.
//
// The keys are sound if at least one participant of each phase destroyed its randomness
// (Contribute never stores it). MPCVerifyPhase1/2 let anyone check a chain without sealing.
//
// File format: mpcMagic, a kind byte, then for phase 1 files and the SRS the domain size N
// (u64 BE), for phase 2 files the circuit's name (u16 BE length, then the name), then gnark's
// encoding of the object.

const mpcMagic = "PQMPC001"

// mpcKind is the kind of an MPC file.
type mpcKind byte

const (
	mpcPhase1 mpcKind = 1 // a phase 1 contribution (or the initial object)
	mpcSRS    mpcKind = 2 // the sealed phase 1: SrsCommons
	mpcPhase2 mpcKind = 3 // a phase 2 contribution (or the initial object)
)

func (k mpcKind) String() string {
	switch k {
	case mpcPhase1:
		return "phase 1"
	case mpcSRS:
		return "SRS"
	case mpcPhase2:
		return "phase 2"
	}
	return fmt.Sprintf("kind %d", byte(k))
}

// ContributionDigest is the SHA-256 of a contribution file: what a participant publishes so
// that the chain's files can be matched to their contributors.
type ContributionDigest [32]byte

// MPCCircuit is the circuit a phase 2 runs for: a name, stored in every phase 2 file so that
// files of different circuits are never mixed, and its constraint system.
type MPCCircuit struct {
	Name string
	R1CS *cs.R1CS
}

// DomainSize is the phase 1 domain size the circuit needs.
func (c MPCCircuit) DomainSize() uint64 { return ecc.NextPowerOfTwo(uint64(c.R1CS.GetNbConstraints())) }

// BatchMPCCircuit compiles the batch circuit of p for the MPC; its name is p.String() and the
// circuit's digest (CircuitDigest), so a chain cannot continue on a changed circuit.
func BatchMPCCircuit(p Params, progress *Progress) (MPCCircuit, error) {
	ccs, err := compileWithProgress(p, progress)
	if err != nil {
		return MPCCircuit{}, err
	}
	r, ok := ccs.(*cs.R1CS)
	if !ok {
		return MPCCircuit{}, fmt.Errorf("prover: constraint system of type %T", ccs)
	}
	digest, err := CircuitDigest(ccs)
	if err != nil {
		return MPCCircuit{}, err
	}
	return MPCCircuit{Name: p.String() + "/" + digest, R1CS: r}, nil
}

type mpcHeader struct {
	kind   mpcKind
	n      uint64 // phase 1 and SRS
	params string // phase 2
}

func writeMPCHeader(w io.Writer, h mpcHeader) error {
	b := append([]byte(mpcMagic), byte(h.kind))
	switch h.kind {
	case mpcPhase1, mpcSRS:
		b = binary.BigEndian.AppendUint64(b, h.n)
	case mpcPhase2:
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.params)))
		b = append(b, h.params...)
	}
	_, err := w.Write(b)
	return err
}

func readMPCHeader(r io.Reader) (mpcHeader, error) {
	var h mpcHeader
	var fixed [len(mpcMagic) + 1]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return h, fmt.Errorf("prover: MPC file header: %w", err)
	}
	if string(fixed[:len(mpcMagic)]) != mpcMagic {
		return h, errors.New("prover: not a pqbridge MPC file")
	}
	h.kind = mpcKind(fixed[len(mpcMagic)])
	switch h.kind {
	case mpcPhase1, mpcSRS:
		var n [8]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return h, fmt.Errorf("prover: MPC file header: %w", err)
		}
		h.n = binary.BigEndian.Uint64(n[:])
		if h.n == 0 || h.n&(h.n-1) != 0 || h.n > 1<<28 {
			return h, fmt.Errorf("prover: MPC domain size %d", h.n)
		}
	case mpcPhase2:
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return h, fmt.Errorf("prover: MPC file header: %w", err)
		}
		name := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(r, name); err != nil {
			return h, fmt.Errorf("prover: MPC file header: %w", err)
		}
		h.params = string(name)
	default:
		return h, fmt.Errorf("prover: MPC file of unknown %v", h.kind)
	}
	return h, nil
}

// digestWriter hashes what it writes.
type digestWriter struct {
	w io.Writer
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
}

func newDigestWriter(w io.Writer) *digestWriter { return &digestWriter{w: w, h: sha256.New()} }

func (d *digestWriter) Write(b []byte) (int, error) {
	d.h.Write(b)
	return d.w.Write(b)
}

func (d *digestWriter) digest() (c ContributionDigest) {
	copy(c[:], d.h.Sum(nil))
	return c
}

// MPCInitPhase1 writes the initial phase 1 object for a domain of n points: the first
// participant contributes to it.
func MPCInitPhase1(n uint64, w io.Writer) error {
	if n == 0 || n&(n-1) != 0 || n > 1<<28 {
		return fmt.Errorf("prover: phase 1 domain size %d is not a power of two up to 2^28", n)
	}
	bw := bufio.NewWriter(w)
	if err := writeMPCHeader(bw, mpcHeader{kind: mpcPhase1, n: n}); err != nil {
		return err
	}
	if _, err := mpcsetup.NewPhase1(n).WriteTo(bw); err != nil {
		return fmt.Errorf("prover: writing phase 1: %w", err)
	}
	return bw.Flush()
}

// MPCContribute reads the last file of a phase 1 or phase 2 chain, adds this participant's
// randomness (drawn from crypto/rand and never stored) and writes the next file. It returns the
// digest of the written file.
func MPCContribute(r io.Reader, w io.Writer, progress *Progress) (ContributionDigest, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h, err := readMPCHeader(br)
	if err != nil {
		return ContributionDigest{}, err
	}
	dw := newDigestWriter(w)
	bw := bufio.NewWriterSize(dw, 1<<20)
	if err := writeMPCHeader(bw, h); err != nil {
		return ContributionDigest{}, err
	}
	done := progress.Step("contribute to "+h.kind.String(), 0)
	defer done()
	switch h.kind {
	case mpcPhase1:
		var p mpcsetup.Phase1
		if _, err := p.ReadFrom(br); err != nil {
			return ContributionDigest{}, fmt.Errorf("prover: reading phase 1: %w", err)
		}
		p.Contribute()
		if _, err := p.WriteTo(bw); err != nil {
			return ContributionDigest{}, err
		}
	case mpcPhase2:
		var p mpcsetup.Phase2
		if _, err := p.ReadFrom(br); err != nil {
			return ContributionDigest{}, fmt.Errorf("prover: reading phase 2: %w", err)
		}
		p.Contribute()
		if _, err := p.WriteTo(bw); err != nil {
			return ContributionDigest{}, err
		}
	default:
		return ContributionDigest{}, fmt.Errorf("prover: cannot contribute to a %v file", h.kind)
	}
	if err := bw.Flush(); err != nil {
		return ContributionDigest{}, err
	}
	return dw.digest(), nil
}

// readPhase1 reads a chain of phase 1 contributions of one domain size.
func readPhase1(contributions []io.Reader) (uint64, []*mpcsetup.Phase1, error) {
	if len(contributions) == 0 {
		return 0, nil, errors.New("prover: no phase 1 contributions")
	}
	var n uint64
	out := make([]*mpcsetup.Phase1, len(contributions))
	for i, r := range contributions {
		br := bufio.NewReaderSize(r, 1<<20)
		h, err := readMPCHeader(br)
		if err != nil {
			return 0, nil, fmt.Errorf("contribution %d: %w", i+1, err)
		}
		if h.kind != mpcPhase1 || (i > 0 && h.n != n) {
			return 0, nil, fmt.Errorf("prover: contribution %d: %v file of domain %d in a phase 1 chain of domain %d", i+1, h.kind, h.n, n)
		}
		n = h.n
		out[i] = new(mpcsetup.Phase1)
		if _, err := out[i].ReadFrom(br); err != nil {
			return 0, nil, fmt.Errorf("prover: contribution %d: %w", i+1, err)
		}
	}
	return n, out, nil
}

// MPCVerifyPhase1 checks a chain of phase 1 contributions (in order, without the initial
// object) and returns its domain size.
func MPCVerifyPhase1(progress *Progress, contributions ...io.Reader) (uint64, error) {
	n, chain, err := readPhase1(contributions)
	if err != nil {
		return 0, err
	}
	done := progress.Step(fmt.Sprintf("verify %d phase 1 contributions", len(chain)), 0)
	defer done()
	prev := mpcsetup.NewPhase1(n)
	for i, next := range chain {
		if err := prev.Verify(next); err != nil {
			return 0, fmt.Errorf("prover: phase 1 contribution %d: %w", i+1, err)
		}
		prev = next
	}
	return n, nil
}

// MPCSealPhase1 verifies a chain of phase 1 contributions, seals it with the random beacon
// (a public value fixed after the last contribution, e.g. a drand round) and writes the SRS.
func MPCSealPhase1(beacon []byte, w io.Writer, progress *Progress, contributions ...io.Reader) error {
	if len(beacon) == 0 {
		return errors.New("prover: empty beacon")
	}
	n, chain, err := readPhase1(contributions)
	if err != nil {
		return err
	}
	done := progress.Step(fmt.Sprintf("verify and seal %d phase 1 contributions", len(chain)), 0)
	srs, err := mpcsetup.VerifyPhase1(n, beacon, chain...)
	done()
	if err != nil {
		return fmt.Errorf("prover: phase 1: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := writeMPCHeader(bw, mpcHeader{kind: mpcSRS, n: n}); err != nil {
		return err
	}
	if _, err := srs.WriteTo(bw); err != nil {
		return fmt.Errorf("prover: writing the SRS: %w", err)
	}
	return bw.Flush()
}

// readSRS reads the sealed phase 1 and checks its domain fits the circuit.
func readSRS(r io.Reader, c MPCCircuit) (*mpcsetup.SrsCommons, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h, err := readMPCHeader(br)
	if err != nil {
		return nil, err
	}
	if h.kind != mpcSRS {
		return nil, fmt.Errorf("prover: %v file where the SRS was expected", h.kind)
	}
	if need := c.DomainSize(); h.n != need {
		return nil, fmt.Errorf("prover: SRS of domain %d, the circuit needs %d", h.n, need)
	}
	srs := new(mpcsetup.SrsCommons)
	if _, err := srs.ReadFrom(br); err != nil {
		return nil, fmt.Errorf("prover: reading the SRS: %w", err)
	}
	return srs, nil
}

// MPCInitPhase2 writes the initial phase 2 object of circuit c from the SRS.
func MPCInitPhase2(c MPCCircuit, srs io.Reader, w io.Writer, progress *Progress) error {
	commons, err := readSRS(srs, c)
	if err != nil {
		return err
	}
	done := progress.Step("initialise phase 2 of "+c.Name, 0)
	var p2 mpcsetup.Phase2
	p2.Initialize(c.R1CS, commons)
	done()
	bw := bufio.NewWriterSize(w, 1<<20)
	if err := writeMPCHeader(bw, mpcHeader{kind: mpcPhase2, params: c.Name}); err != nil {
		return err
	}
	if _, err := p2.WriteTo(bw); err != nil {
		return fmt.Errorf("prover: writing phase 2: %w", err)
	}
	return bw.Flush()
}

// readPhase2 reads a chain of phase 2 contributions of circuit c.
func readPhase2(c MPCCircuit, contributions []io.Reader) ([]*mpcsetup.Phase2, error) {
	if len(contributions) == 0 {
		return nil, errors.New("prover: no phase 2 contributions")
	}
	out := make([]*mpcsetup.Phase2, len(contributions))
	for i, r := range contributions {
		br := bufio.NewReaderSize(r, 1<<20)
		h, err := readMPCHeader(br)
		if err != nil {
			return nil, fmt.Errorf("contribution %d: %w", i+1, err)
		}
		if h.kind != mpcPhase2 || h.params != c.Name {
			return nil, fmt.Errorf("prover: contribution %d: %v file of %q in a phase 2 chain of %s", i+1, h.kind, h.params, c.Name)
		}
		out[i] = new(mpcsetup.Phase2)
		if _, err := out[i].ReadFrom(br); err != nil {
			return nil, fmt.Errorf("prover: contribution %d: %w", i+1, err)
		}
	}
	return out, nil
}

// MPCVerifyPhase2 checks a chain of phase 2 contributions of circuit c (in order, without the
// initial object) against the SRS.
func MPCVerifyPhase2(c MPCCircuit, srs io.Reader, progress *Progress, contributions ...io.Reader) error {
	commons, err := readSRS(srs, c)
	if err != nil {
		return err
	}
	chain, err := readPhase2(c, contributions)
	if err != nil {
		return err
	}
	done := progress.Step(fmt.Sprintf("verify %d phase 2 contributions", len(chain)), 0)
	defer done()
	prev := new(mpcsetup.Phase2)
	prev.Initialize(c.R1CS, commons)
	for i, next := range chain {
		if err := prev.Verify(next); err != nil {
			return fmt.Errorf("prover: phase 2 contribution %d: %w", i+1, err)
		}
		prev = next
	}
	return nil
}

// MPCSealPhase2 verifies a chain of phase 2 contributions of circuit c against the SRS, seals
// it with the random beacon and returns the keys.
func MPCSealPhase2(c MPCCircuit, srs io.Reader, beacon []byte, progress *Progress, contributions ...io.Reader) (groth16.ProvingKey, groth16.VerifyingKey, error) {
	if len(beacon) == 0 {
		return nil, nil, errors.New("prover: empty beacon")
	}
	commons, err := readSRS(srs, c)
	if err != nil {
		return nil, nil, err
	}
	chain, err := readPhase2(c, contributions)
	if err != nil {
		return nil, nil, err
	}
	done := progress.Step(fmt.Sprintf("verify and seal %d phase 2 contributions", len(chain)), 0)
	pk, vk, err := mpcsetup.VerifyPhase2(c.R1CS, commons, beacon, chain...)
	done()
	if err != nil {
		return nil, nil, fmt.Errorf("prover: phase 2: %w", err)
	}
	return pk, vk, nil
}
