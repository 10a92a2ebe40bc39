package settlement

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/prover"
)

// PreState is an L2 state the Prover executes a batch on for the circuit's witness: the Zig
// core's in a daemon (cmd/pqsequencer sets Config.PreStates over the sequencer's CoreState and
// prover/corewitness), so that this package does not link the core.
type PreState interface {
	// ApplyBatchWitness executes the transactions on the state, moving it past them, and
	// returns their witnesses.
	prover.WitnessSource
	// Apply executes canonical batch data on the state without a witness.
	Apply(data []byte) error
	Root() (fr.Element, error)
	Depth() int
	Close() error
}

// PreStates gives the Prover its pre-batch states.
type PreStates interface {
	// PreState returns a new state (the caller closes it) at stream position p: the end of
	// L2 block p.Block-1 and the first p.Offset transactions of block p.Block, from the
	// sequencer's newest snapshot at or below and the blocks after it, never a genesis replay.
	PreState(ctx context.Context, p Position) (PreState, error)
}

// proverState returns the state at the start of batch n, for the Prover: a cached state that
// follows the batches as they are posted in order (one execution of each batch: its witness, or
// a plain Apply when it goes out without a proof), rebuilt from the sequencer's snapshot
// (Config.PreStates) after a revert or a restart. It is the step's only.
func (e *Engine) proverState(ctx context.Context, n uint64) (PreState, error) {
	if e.pre != nil && e.preNext == n {
		return e.pre, nil
	}
	e.dropProverState()
	r := e.rec(n)
	if r == nil {
		return nil, fmt.Errorf("settlement: batch %d is not pending", n)
	}
	pre, err := e.cfg.PreStates.PreState(ctx, Position{r.StartBlock, r.StartOffset})
	if err != nil {
		return nil, fmt.Errorf("settlement: prover state at the start of batch %d: %w", n, err)
	}
	root, err := pre.Root()
	if err == nil && root.Bytes() != r.Commitment.PrevRoot {
		err = fmt.Errorf("settlement: the sequencer's state at the start of batch %d is not at its previous root", n)
	}
	if err != nil {
		return nil, errors.Join(err, pre.Close())
	}
	e.pre, e.preNext = pre, n
	return pre, nil
}

// provedProverState records where the Prover left the cached state after proving batch n
// (which executes the batch on it): at the batch's end when its root is the batch's new root
// (a root names one state), else at its start if unmoved, else it is dropped.
func (e *Engine) provedProverState(n uint64, b *built) {
	if e.pre == nil || e.preNext != n {
		return
	}
	root, err := e.pre.Root()
	switch {
	case err != nil:
		e.log.Warn("prover state dropped", "batch", n, "err", err)
		e.dropProverState()
	case root.Equal(&b.Commitment.NewRoot):
		e.preNext = n + 1
	case !root.Equal(&b.Commitment.PrevRoot):
		e.dropProverState()
	}
}

// advanceProverState moves the cached state past batch n, posted without its proof, if it is
// at its start.
func (e *Engine) advanceProverState(n uint64, b *built) {
	if e.pre == nil || e.preNext != n {
		return
	}
	err := e.pre.Apply(b.Data)
	if err == nil {
		if root, rerr := e.pre.Root(); rerr != nil || !root.Equal(&b.Commitment.NewRoot) {
			err = errors.Join(rerr, errors.New("not at the batch's new root"))
		}
	}
	if err != nil {
		e.log.Warn("prover state dropped", "batch", n, "err", err)
		e.dropProverState()
		return
	}
	e.preNext = n + 1
}

// dropProverState closes the cached state.
func (e *Engine) dropProverState() {
	if e.pre == nil {
		return
	}
	if err := e.pre.Close(); err != nil {
		e.log.Warn("closing the prover state", "err", err)
	}
	e.pre, e.preNext = nil, 0
}
