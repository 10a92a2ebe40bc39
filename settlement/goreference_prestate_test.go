package settlement

import (
	"context"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// GoReferencePreStates is PreStates over the Go reference (the sequencer's ReferenceState and
// referenceStateAt), for this package's in-process tests, which keep the Zig core out of the
// settlement package; a daemon's come from the core (cmd/pqsequencer).
type GoReferencePreStates struct {
	Blocks  BlockSource
	ChainID uint64
}

// PreState implements PreStates.
func (g GoReferencePreStates) PreState(ctx context.Context, p Position) (PreState, error) {
	st, _, err := referenceStateAt(ctx, g.Blocks, g.ChainID, p)
	if err != nil {
		return nil, err
	}
	return GoReferenceState(st, g.ChainID), nil
}

// GoReferenceState is a PreState over a Go reference state (it executes on st).
func GoReferenceState(st *l2.State, chainID uint64) PreState {
	return &goReferenceState{prover.ReferenceSource{State: st, Options: l2.ApplyOptions{ChainID: chainID}}}
}

type goReferenceState struct{ prover.ReferenceSource }

func (s *goReferenceState) Apply(data []byte) error {
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return err
	}
	s.State.ApplyBatch(txs, s.Options)
	return nil
}

func (s *goReferenceState) Root() (fr.Element, error) { return s.State.Root(), nil }
func (s *goReferenceState) Depth() int                { return s.State.Depth() }
func (s *goReferenceState) Close() error              { return nil }
