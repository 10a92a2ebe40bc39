package settlement

import (
	"context"

	"github.com/pqbridge/pqbridge/l2"
)

// reconcile moves each batch on the target to the state the target gives it. Reverts counts
// only what the target did: an accepted batch that is no longer on it. A refused posting counts
// in Rejects; a head read before a posting's block is not a revert.
func (e *Engine) reconcile(ctx context.Context, h TargetHead) error {
	for _, r := range e.recs {
		st := State(r.State)
		if st == StateBuilt || st == StateFinalized {
			continue
		}
		if r.Number > h.HeadNumber {
			if st == StatePosted {
				out, err := e.cfg.Target.Outcome(ctx, r.ref())
				if err != nil {
					return err
				}
				if !out.Done {
					continue
				}
				if !out.OK {
					e.log.Info("batch rejected", "batch", r.Number, "err", out.Error)
					nr := unposted(r, out.Error)
					nr.Rejects++
					if err := e.put(nr); err != nil {
						return err
					}
					continue
				}
				// Applied, in a block the head read before the outcome may not have reached:
				// only a head read after it tells an applied batch from a reverted one.
				now, err := e.cfg.Target.Head(ctx)
				if err != nil {
					return err
				}
				if r.Number <= now.HeadNumber {
					continue // the next step follows it
				}
			}
			e.log.Info("batch reverted", "batch", r.Number)
			nr := unposted(r, "reverted on the target")
			nr.Reverts++
			if err := e.put(nr); err != nil {
				return err
			}
			continue
		}
		pb, err := e.cfg.Target.Batch(ctx, r.Number)
		if err != nil {
			return err
		}
		posted, err := r.posted()
		if err != nil {
			return err
		}
		if !sameCommitment(&pb.Commitment, &posted) {
			e.log.Warn("the target holds another batch: posting ours again", "batch", r.Number)
			if err := e.put(unposted(r, "the target holds another batch")); err != nil {
				return err
			}
			continue
		}
		next := StateInWindow
		if pb.Mode == ModeValidity {
			next = StateProven
		}
		if r.Number <= h.FinalNumber {
			next = StateFinalized
		}
		if next == StateFinalized {
			if err := e.finalize(r); err != nil {
				return err
			}
			continue
		}
		if next != st {
			nr := *r
			nr.State = uint8(next)
			e.log.Info("batch state changed", "batch", r.Number, "state", next.String())
			if err := e.put(&nr); err != nil {
				return err
			}
		}
	}
	return nil
}

// unposted is r returned to built, because the target no longer holds it (why): it is posted
// again, honestly, from the last valid root. The L2 chain it commits to is the sequencer's,
// which never held the corruption (faults are injected into postings only), so the batch as
// built is the correct one.
func unposted(r *record, why string) *record {
	nr := *r
	nr.State, nr.LastError = uint8(StateBuilt), why
	nr.Posted, nr.TxHash, nr.TxNonce, nr.TxHeight = wireCommitment{}, [32]byte{}, 0, 0
	return &nr
}

func sameCommitment(a, b *l2.Commitment) bool {
	return a.BatchNumber == b.BatchNumber && a.PrevRoot.Equal(&b.PrevRoot) && a.NewRoot.Equal(&b.NewRoot) &&
		a.DataHash.Equal(&b.DataHash) && a.TraceRoot.Equal(&b.TraceRoot) && a.WithdrawalRoot.Equal(&b.WithdrawalRoot) &&
		a.DepositsBefore.Equal(&b.DepositsBefore) && a.DepositsAfter.Equal(&b.DepositsAfter) && a.TxCount == b.TxCount
}
