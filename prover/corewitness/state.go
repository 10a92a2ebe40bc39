package corewitness

import (
	"github.com/consensys/gnark-crypto/ecc/bn254/fr"

	"github.com/pqbridge/pqbridge/ffi"
)

// State is a core the settlement engine's prover executes batches on (settlement.PreState):
// ApplyBatchWitness for a batch it proves, Apply for one it posts without a proof. It owns the
// core (Close frees it) and is not safe for concurrent use.
type State struct {
	Source
	out ffi.BatchOutput
}

// NewState takes ownership of c.
func NewState(c *ffi.Core) *State { return &State{Source: Source{Core: c}} }

// Apply executes canonical batch data on the core without a witness.
func (s *State) Apply(data []byte) error { return s.Core.ApplyBatch(data, &s.out) }

// Root is the core's state root.
func (s *State) Root() (fr.Element, error) {
	r, err := s.Core.Root()
	if err != nil {
		return fr.Element{}, err
	}
	return ffi.Element(r)
}

// Depth is the core's tree depth.
func (s *State) Depth() int { return int(s.Core.Depth()) }

// Close frees the core.
func (s *State) Close() error { return s.Core.Close() }
