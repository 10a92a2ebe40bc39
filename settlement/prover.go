package settlement

import (
	"context"
	"errors"
	"fmt"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// JobProver proves batch jobs: an in-process *prover.Service, or a prover over the network
// (*proverapi.Client, cmd/pqprover -listen).
type JobProver interface {
	Prove(ctx context.Context, job *prover.Job) (*prover.Result, error)
}

// ServiceProver is the engine's Prover over a JobProver: it executes the batch on a clone of
// the engine's pre-batch state with the Go reference (prover.ReferenceSource, so that this
// package does not link the Zig core), assigns the circuit (prover.Assign), checks that the
// assignment proves exactly the commitment the engine posts, and has the job proven. Params
// must be the parameters of the keys behind Service; batches of more than Params.BatchSize
// transactions are not provable (the engine then posts them optimistically under PolicyAuto).
type ServiceProver struct {
	Service JobProver
	Params  prover.Params
	ChainID uint64 // the L2 chain ID
}

var _ Prover = (*ServiceProver)(nil)

// Prove implements Prover: it returns the proof in prover.MarshalProof's encoding, what
// prover.Verifier (L1's ProofVerifier) checks.
func (p *ServiceProver) Prove(ctx context.Context, c *l2.Commitment, data []byte, pre *l2.State) ([]byte, error) {
	if pre == nil {
		return nil, errors.New("settlement: prover without a pre-batch state")
	}
	if pre.Depth() != p.Params.Depth {
		return nil, fmt.Errorf("settlement: state of depth %d, prover keys for %v", pre.Depth(), p.Params)
	}
	if root := pre.Root(); !root.Equal(&c.PrevRoot) {
		return nil, fmt.Errorf("settlement: batch %d: pre-batch state is not at the commitment's previous root", c.BatchNumber)
	}
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	src := &prover.ReferenceSource{State: pre.Clone(), Options: l2.ApplyOptions{ChainID: p.ChainID}}
	trace, err := src.ApplyBatchWitness(txs)
	if err != nil {
		return nil, err
	}
	a, err := prover.Assign(p.Params, &prover.Batch{ChainID: p.ChainID, BatchNumber: c.BatchNumber,
		DepositsBefore: c.DepositsBefore, Txs: txs}, trace)
	if err != nil {
		return nil, err
	}
	if a.Commitment != *c {
		return nil, fmt.Errorf("%w: batch %d: the assignment's commitment is not the posted one", prover.ErrNotProvable, c.BatchNumber)
	}
	job, err := prover.NewJob(fmt.Sprintf("batch-%d", c.BatchNumber), p.Params, a)
	if err != nil {
		return nil, err
	}
	res, err := p.Service.Prove(ctx, job)
	if err != nil {
		return nil, err
	}
	return prover.MarshalProof(res.Proof)
}

// neverProvable reports whether a Prove error means no proof of the batch can ever exist (a
// refund, docs/protocol.md §8.7): such a batch settles optimistically even under
// PolicyValidity, rather than wait for ever.
func neverProvable(err error) bool { return errors.Is(err, prover.ErrNotProvable) }
