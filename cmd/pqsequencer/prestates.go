package main

import (
	"context"
	"sync/atomic"

	"github.com/pqbridge/pqbridge/cmd/internal/obs"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/corewitness"
	"github.com/pqbridge/pqbridge/settlement"
)

// corePreStates gives the settlement engine's prover its pre-batch states in the Zig core: the
// sequencer's newest snapshot at or below the batch's start restored and the blocks after it
// applied in the core (Sequencer.CoreState). The prover's witness then comes from the core
// (corewitness), not the Go reference.
type corePreStates struct {
	seq       *sequencer.Sequencer
	replayed  atomic.Uint64 // transactions applied in the core to build states
	witnessed atomic.Uint64 // transactions executed in the core for a witness
}

var _ settlement.PreStates = (*corePreStates)(nil)

// PreState implements settlement.PreStates.
func (c *corePreStates) PreState(ctx context.Context, p settlement.Position) (settlement.PreState, error) {
	core, applied, err := c.seq.CoreState(ctx, p.Block, p.Offset)
	c.replayed.Add(applied)
	if err != nil {
		return nil, err
	}
	return &countedState{State: corewitness.NewState(core), witnessed: &c.witnessed}, nil
}

// countedState counts the transactions its core executed for a witness.
type countedState struct {
	*corewitness.State
	witnessed *atomic.Uint64
}

func (s *countedState) ApplyBatchWitness(txs []l2.Tx) (*prover.BatchTrace, error) {
	t, err := s.State.ApplyBatchWitness(txs)
	if err == nil {
		s.witnessed.Add(uint64(len(txs)))
	}
	return t, err
}

// emit writes the prover states' figures.
func (c *corePreStates) emit(e *obs.Emitter) {
	e.Counter("pqsequencer_prover_witness_txs_total", "Transactions executed in the core for the prover's witness (each proven batch once).", float64(c.witnessed.Load()))
	e.Counter("pqsequencer_prover_state_replayed_txs_total", "Transactions applied in the core to rebuild the prover's pre-batch state from a snapshot (a restart, a revert).", float64(c.replayed.Load()))
}
