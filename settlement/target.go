package settlement

import (
	"context"
	"errors"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// Mode is how a batch settles.
type Mode uint8

// Batch modes; the values are those of the L1 wire (docs/l1.md §2).
const (
	ModeValidity   Mode = 0
	ModeOptimistic Mode = 1
)

func (m Mode) String() string {
	if m == ModeValidity {
		return "validity"
	}
	return "optimistic"
}

// Submission is one batch as posted: its commitment, compressed data, and a proof (validity)
// and/or its trace (optimistic, or a validity batch proven in chunks).
type Submission struct {
	Mode       Mode
	Commitment l2.Commitment
	Frame      []byte       // zstd frame of the batch data
	Proof      []byte       // validity only
	Trace      []fr.Element // trace[0..TxCount): optimistic, and chunked validity (docs/protocol.md §8.8)
}

// TargetHead is what the settlement target holds of the rollup.
type TargetHead struct {
	Height      uint64 // the target chain's height
	HeadNumber  uint64 // last accepted batch (pending or final)
	HeadRoot    fr.Element
	FinalNumber uint64
	// DepositDeadline is the height at which the target refuses a batch that leaves its oldest
	// deposit not consumed by an accepted batch unconsumed (valid when HasDeposit; a target
	// without a deposit queue leaves both zero).
	DepositDeadline uint64
	HasDeposit      bool
	// DepositWindow is the target's forced-inclusion window (blocks) behind DepositDeadline.
	DepositWindow uint64
	// VKHash is the verifying key a validity batch posted now is judged by: the rollup's, or a
	// queued config change's from the block it activates in (zero: the target does not say).
	VKHash [32]byte
}

// PostedBatch is a batch as the target stores it.
type PostedBatch struct {
	Mode       Mode
	Commitment l2.Commitment
}

// TxRef names a sent submission, to ask for its outcome.
type TxRef struct {
	Hash   [32]byte
	Nonce  uint64
	Height uint64 // the target's height when it was sent
	Fee    uint64 // the L1 fee it pays (0 where the target charges none)
}

// Outcome of a sent submission.
type Outcome struct {
	Done  bool   // included in a block
	OK    bool   // applied
	Error string // why it failed (Done && !OK)
}

// ErrNotPosted is returned by Target.Batch for a number the target does not hold.
var ErrNotPosted = errors.New("settlement: batch not posted")

// Target is a settlement layer the engine posts to. NativeTarget is the native L1 (package
// l1/node), over QUIC (l1client) or in process; other L1s fit behind the same four calls.
type Target interface {
	Head(ctx context.Context) (TargetHead, error)
	// Batch returns the accepted batch number, or ErrNotPosted.
	Batch(ctx context.Context, number uint64) (*PostedBatch, error)
	// Submit signs and sends a submission; sending the same Submission twice may post it at most
	// once (the engine also checks Head and Batch before sending).
	Submit(ctx context.Context, s *Submission) (TxRef, error)
	Outcome(ctx context.Context, ref TxRef) (Outcome, error)
}

// Prover proves batches for validity mode (package prover's Service behind ServiceProver).
// Prove returns the proof of the commitment's batch (data: its encoded transactions), or an
// error when ctx ends first. pre is the L2 state before the batch (root c.PrevRoot), the
// engine's (Config.PreStates): Prove may execute the batch on it (ApplyBatchWitness) and nothing
// else; the engine then finds it at the batch's end (by its root) and keeps it for the next.
//
// ChunkSize is the circuit's batch size B: the proof of a batch of more transactions is the RLP
// list of its chunk proofs (docs/protocol.md §8.8), posted with the batch's trace.
type Prover interface {
	Prove(ctx context.Context, c *l2.Commitment, data []byte, pre PreState) ([]byte, error)
	ChunkSize() int
}
