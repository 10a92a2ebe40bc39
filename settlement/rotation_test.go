package settlement_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"

	"github.com/pqbridge/pqbridge/l2"
	"github.com/pqbridge/pqbridge/settlement"
)

// countingNoProof is noProof counting the proofs it was asked for.
type countingNoProof struct{ asked *atomic.Int64 }

func (p countingNoProof) Prove(context.Context, *l2.Commitment, []byte, settlement.PreState) ([]byte, error) {
	p.asked.Add(1)
	return nil, errors.New("no proof here")
}

func (countingNoProof) ChunkSize() int { return 1 }

// TestRotationProverKeyMismatch: when the rollup's verifying key in force (rotated on L1 by a
// guardian config change) is not the prover's, the engine does not ask for proofs L1 would
// refuse nor wait for them — even under PolicyValidity, where a batch otherwise waits for its
// proof — and posts optimistically; with matching keys it asks the prover again.
func TestRotationProverKeyMismatch(t *testing.T) {
	rollupVK := [32]byte{1}
	for _, tc := range []struct {
		name     string
		proverVK [32]byte
		mismatch bool
	}{{"mismatch", [32]byte{2}, true}, {"match", rollupVK, false}} {
		t.Run(tc.name, func(t *testing.T) {
			var asked atomic.Int64
			w := newWorldWith(t, settlement.Config{Policy: settlement.PolicyValidity, Prover: countingNoProof{&asked}, ProverVK: tc.proverVK},
				worldOpts{depth: depth, batchSize: batchSize, vkHash: rollupVK})
			w.deposit(2, 1000)
			w.settle()
			if got := w.eng.ProverKeyMismatch(); got != tc.mismatch {
				t.Fatalf("ProverKeyMismatch %v, want %v", got, tc.mismatch)
			}
			st := w.eng.Status()
			if len(st) != 1 {
				t.Fatalf("status %+v, want one batch", st)
			}
			if tc.mismatch {
				if n := asked.Load(); n != 0 || st[0].State == settlement.StateBuilt || st[0].Mode != settlement.ModeOptimistic {
					t.Fatalf("with the wrong key: prover asked %d times, batch %+v; want posted optimistically unproven", n, st[0])
				}
				w.finalizeAll()
				if st := w.eng.Status(); st[len(st)-1].State != settlement.StateFinalized {
					t.Fatalf("batch not final: %+v", st)
				}
				return
			}
			if n := asked.Load(); n == 0 || st[0].State != settlement.StateBuilt {
				t.Fatalf("with the rollup's key: prover asked %d times, batch %+v; want it waiting for its proof", n, st[0])
			}
		})
	}
}
