package settlement

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/prover"
)

// JobProver proves batch jobs: an in-process *prover.Service, or a prover over the network
// (*proverapi.Client, cmd/pqprover -listen). It must take concurrent calls: the chunks of a
// batch are sent at once.
type JobProver interface {
	Prove(ctx context.Context, job *prover.Job) (*prover.Result, error)
}

// ServiceProver is the engine's Prover over a JobProver: it executes the batch on the engine's
// pre-batch state (PreState.ApplyBatchWitness: the core's in a daemon, so that the batch is
// executed once for its witness and this package does not link the Zig core), assigns the circuit (prover.AssignChunks), checks that
// the assignments prove exactly the commitment the engine posts, and has the jobs proven. Params
// must be the parameters of the keys behind Service, whose batch size B is the rollup's: a batch
// of more than B transactions is proven as ⌈n/B⌉ chunk jobs (docs/protocol.md §8.8), sent to
// Service concurrently.
type ServiceProver struct {
	Service JobProver
	Params  prover.Params
	ChainID uint64       // the L2 chain ID
	Logger  *slog.Logger // chunk progress; nil: slog.Default()

	vk atomic.Pointer[prover.KeyID] // the jobs' VK (UseVK); nil: the Service's first key set
}

var (
	_ Prover      = (*ServiceProver)(nil)
	_ KeyedProver = (*ServiceProver)(nil)
)

// KeyedProver is a Prover that may prove under several verifying keys (a prover that loaded a
// rotated key during a config change's timelock, docs/settlement.md): the engine asks it
// whether it holds the key in force, and has it prove under that key.
type KeyedProver interface {
	Prover
	HasVK(vk [32]byte) bool
	UseVK(vk [32]byte)
}

// vkHolder is a JobProver that tells the verifying keys it proves under: a *prover.Service, a
// prover pool (prover/proverpool).
type vkHolder interface {
	HasVK(id prover.KeyID) bool
}

// HasVK implements KeyedProver: whether Service holds the key set of vk (false when it does
// not say).
func (p *ServiceProver) HasVK(vk [32]byte) bool {
	h, ok := p.Service.(vkHolder)
	return ok && h.HasVK(vk)
}

// UseVK implements KeyedProver: the jobs sent from now on name vk.
func (p *ServiceProver) UseVK(vk [32]byte) {
	id := prover.KeyID(vk)
	p.vk.Store(&id)
}

// ChunkSize implements Prover: the circuit's batch size B.
func (p *ServiceProver) ChunkSize() int { return p.Params.BatchSize }

// Prove implements Prover: it returns the proof in prover.MarshalProof's encoding, what
// prover.Verifier (L1's ProofVerifier) checks, or for a batch of more than B transactions the
// RLP list of its chunk proofs (l1api.EncodeChunkProofs).
func (p *ServiceProver) Prove(ctx context.Context, c *l2.Commitment, data []byte, pre PreState) ([]byte, error) {
	if pre == nil {
		return nil, errors.New("settlement: prover without a pre-batch state")
	}
	if pre.Depth() != p.Params.Depth {
		return nil, fmt.Errorf("settlement: state of depth %d, prover keys for %v", pre.Depth(), p.Params)
	}
	if root, err := pre.Root(); err != nil || !root.Equal(&c.PrevRoot) {
		return nil, errors.Join(fmt.Errorf("settlement: batch %d: pre-batch state is not at the commitment's previous root", c.BatchNumber), err)
	}
	txs, err := l2.DecodeBatch(data)
	if err != nil {
		return nil, err
	}
	trace, err := pre.ApplyBatchWitness(txs)
	if err != nil {
		return nil, err
	}
	assigns, err := prover.AssignChunks(p.Params, &prover.Batch{ChainID: p.ChainID, BatchNumber: c.BatchNumber,
		DepositsBefore: c.DepositsBefore, Txs: txs}, trace, c)
	if err != nil {
		return nil, err
	}
	if len(assigns) == 1 {
		return p.proveJob(ctx, fmt.Sprintf("batch-%d", c.BatchNumber), assigns[0])
	}
	proofs, err := p.proveChunks(ctx, c.BatchNumber, assigns)
	if err != nil {
		return nil, err
	}
	return l1api.EncodeChunkProofs(proofs)
}

// proveChunks has the chunk jobs of batch number proven concurrently and returns their proofs in
// chunk order; the first failure cancels the others.
func (p *ServiceProver) proveChunks(ctx context.Context, number uint64, assigns []*prover.Assignment) ([][]byte, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	log := p.Logger
	if log == nil {
		log = slog.Default()
	}
	proofs := make([][]byte, len(assigns))
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		done  int
	)
	start := time.Now()
	for k, a := range assigns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			proof, err := p.proveJob(ctx, fmt.Sprintf("batch-%d-chunk-%d", number, k), a)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if first == nil {
					first = fmt.Errorf("batch %d chunk %d: %w", number, k, err)
					cancel()
				}
				return
			}
			proofs[k] = proof
			done++
			log.Info("chunk proven", "batch", number, "chunk", k, "chunks", len(assigns), "proven", done,
				"elapsed", time.Since(start))
		}()
	}
	wg.Wait()
	if first != nil {
		return nil, first
	}
	return proofs, nil
}

// proveJob has one assignment proven and returns its proof in prover.MarshalProof's encoding.
func (p *ServiceProver) proveJob(ctx context.Context, id string, a *prover.Assignment) ([]byte, error) {
	job, err := prover.NewJob(id, p.Params, a)
	if err != nil {
		return nil, err
	}
	if vk := p.vk.Load(); vk != nil {
		job.VK = *vk
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
