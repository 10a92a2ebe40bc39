package settlement_test

import (
	"context"
	"sync/atomic"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/l2/sequencer"
	"github.com/pqbridge/pqbridge/prover"
	"github.com/pqbridge/pqbridge/prover/corewitness"
	"github.com/pqbridge/pqbridge/settlement"
)

// corePreStates are the prover's pre-batch states in the Zig core, as cmd/pqsequencer makes
// them (Sequencer.CoreState, corewitness.State), counting the states built and the
// transactions witnessed.
type corePreStates struct {
	seq       *sequencer.Sequencer
	built     atomic.Uint64
	witnessed atomic.Uint64
}

func (c *corePreStates) PreState(ctx context.Context, p settlement.Position) (settlement.PreState, error) {
	core, _, err := c.seq.CoreState(ctx, p.Block, p.Offset)
	if err != nil {
		return nil, err
	}
	c.built.Add(1)
	return &countedCore{State: corewitness.NewState(core), witnessed: &c.witnessed}, nil
}

type countedCore struct {
	*corewitness.State
	witnessed *atomic.Uint64
}

func (s *countedCore) ApplyBatchWitness(txs []l2.Tx) (*prover.BatchTrace, error) {
	t, err := s.State.ApplyBatchWitness(txs)
	if err == nil {
		s.witnessed.Add(uint64(len(txs)))
	}
	return t, err
}
