package settlement

import (
	"context"
	"errors"
	"fmt"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/pqbridge/pqbridge/l2"
)

// post sends the batches that are due, in order.
func (e *Engine) post(ctx context.Context) error {
	prevRoot, err := element(e.last.Root)
	if err != nil {
		return err
	}
	inFlight := 0
	for _, r := range e.recs {
		if st := State(r.State); st != StateBuilt {
			if st != StateFinalized {
				inFlight++
			}
			p, err := r.posted()
			if err != nil {
				return err
			}
			prevRoot = p.NewRoot
			continue
		}
		if inFlight >= e.cfg.MaxInFlight {
			return nil
		}
		if err := e.retryDue(r.Number); err != nil {
			return err // its last posting failed: it waits for its retry, and the later ones with it
		}
		nr, err := e.postOne(ctx, r, prevRoot)
		if err != nil {
			if e.Err() == nil { // a halt is not retried
				e.retryFailed(r.Number, err)
			}
			return err
		}
		if State(nr.State) == StateBuilt {
			return nil // not sent (waiting for a proof)
		}
		e.retryPosted(r.Number)
		p, err := nr.posted()
		if err != nil {
			return err
		}
		prevRoot = p.NewRoot
		inFlight++
	}
	return nil
}

// postOne posts batch r on the target's root prevRoot and returns its record as it now is
// (still built when it waits for its proof).
func (e *Engine) postOne(ctx context.Context, r *record, prevRoot fr.Element) (*record, error) {
	b, err := r.built()
	if err != nil {
		return nil, err
	}
	sub := &Submission{Mode: ModeOptimistic, Commitment: b.Commitment, Trace: b.Trace}
	sub.Commitment.PrevRoot = prevRoot // the root on the target: a corrupted predecessor's, until reverted
	data, err := b.batchData()
	if err != nil {
		return nil, e.halt(fmt.Errorf("batch %d: %w", r.Number, err)) // a record built from the sequencer's blocks: never
	}
	if sub.Frame, err = compress(data); err != nil {
		return nil, err
	}
	nr := *r
	// Idempotency: the target may hold it already (a restart after sending, or a lost reply).
	if pb, err := e.cfg.Target.Batch(ctx, r.Number); err == nil {
		if !sameCommitment(&pb.Commitment, &sub.Commitment) {
			return nil, fmt.Errorf("settlement: the target holds another batch %d", r.Number)
		}
		nr.Posted, nr.State = toWire(&sub.Commitment), uint8(StatePosted)
		return &nr, e.put(&nr) // reconcile gives it its state on the next step
	} else if !errors.Is(err, ErrNotPosted) {
		return nil, err
	}
	f := e.startPosting(r.Number)
	defer e.endPosting()
	faulty := f != nil && f.Batch == r.Number
	if faulty {
		pre, err := e.stateBefore(ctx, r.Number)
		if err != nil {
			return nil, err
		}
		switch err := corrupt(f, b, pre, sub); {
		case errors.Is(err, errFaultNotApplicable):
			// Dropped: a fault that cannot corrupt this batch must not hold up settlement.
			faulty = false
			e.disarm()
			nr.LastError = fmt.Sprintf("fault %s dropped: %v", f.Kind.Name(), err)
			e.log.Warn("fault not applicable: batch posted honestly", "batch", r.Number, "fault", f.Kind.Name(), "err", err)
		case err != nil:
			return nil, err
		}
	}
	if !faulty && e.cfg.Prover != nil && e.Policy() != PolicyOptimistic && !e.vkMismatch.Load() {
		if b.mldsa() {
			// No circuit proves an ML-DSA signature: such a batch is optimistic only, whatever
			// the policy (a validity-only sequencer refuses them at admission).
			e.log.Info("batch holds ML-DSA transactions: optimistic", "batch", r.Number, "policy", e.Policy().String())
		} else if wait := e.prove(ctx, &nr, b, sub); wait {
			return r, nil
		}
	}
	ref, err := e.cfg.Target.Submit(ctx, sub)
	if err != nil {
		return nil, err
	}
	if faulty {
		nr.FaultPosted = true
		e.disarm()
		e.log.Warn("FAULT INJECTED", "batch", r.Number, "fault", f.Kind.String())
	}
	nr.State, nr.Mode, nr.Posted = uint8(StatePosted), uint8(sub.Mode), toWire(&sub.Commitment)
	nr.TxHash, nr.TxNonce, nr.TxHeight = ref.Hash, ref.Nonce, ref.Height
	if e.cfg.Prover != nil {
		e.advanceProverState(r.Number, b)
	}
	e.log.Info("batch posted", "batch", r.Number, "mode", sub.Mode.String(), "txs", sub.Commitment.TxCount, "l1_fee", ref.Fee)
	return &nr, e.put(&nr)
}

// startPosting marks batch n as being posted (InjectFault then arms a later one) and returns
// the armed fault.
func (e *Engine) startPosting(n uint64) *Fault {
	e.faultMu.Lock()
	defer e.faultMu.Unlock()
	e.posting = n
	return e.fault
}

func (e *Engine) endPosting() {
	e.faultMu.Lock()
	e.posting = 0
	e.faultMu.Unlock()
}

// disarm drops the armed fault: posted, or not applicable.
func (e *Engine) disarm() {
	e.faultMu.Lock()
	e.fault = nil
	e.faultMu.Unlock()
}

// prove asks the Prover for batch r's proof and makes sub a validity submission when it comes
// within ProofDeadline. It reports whether the batch waits for its proof (PolicyValidity);
// otherwise sub goes out as it is (optimistic without a proof).
func (e *Engine) prove(ctx context.Context, r *record, b *built, sub *Submission) (wait bool) {
	policy := e.Policy()
	var proof []byte
	pre, err := e.proverState(ctx, r.Number)
	if err == nil {
		if root, rerr := pre.Root(); rerr != nil || !root.Equal(&sub.Commitment.PrevRoot) {
			// The target holds a corrupted predecessor: no proof can build on its root.
			err = errors.New("settlement: the target's root is not the batch's pre-state root")
		}
	}
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, e.cfg.ProofDeadline)
		proof, err = e.cfg.Prover.Prove(pctx, &sub.Commitment, b.Data, pre)
		cancel()
		e.provedProverState(r.Number, b)
	}
	switch {
	case err == nil:
		sub.Mode, sub.Proof = ModeValidity, proof
		if sub.Commitment.TxCount <= uint64(e.cfg.Prover.ChunkSize()) {
			sub.Trace = nil // one proof: only a batch proven in chunks carries its trace
		}
	case policy == PolicyValidity && !neverProvable(err):
		e.log.Info("batch waits for its proof", "batch", r.Number, "err", err)
		return true
	default:
		e.log.Info("no proof within the deadline: optimistic", "batch", r.Number, "err", err)
	}
	return false
}

// stateBefore is the Go reference L2 state at the start of batch n (not final), for fault
// injection: the sequencer's reference state at the batch's start (its snapshots and the blocks
// after the newest one; docs/settlement.md, Restart), never a replay of the engine's records.
func (e *Engine) stateBefore(ctx context.Context, n uint64) (*l2.State, error) {
	r := e.rec(n)
	if r == nil {
		return nil, fmt.Errorf("settlement: batch %d is not pending", n)
	}
	st, executed, err := referenceStateAt(ctx, e.cfg.Blocks, e.cfg.ChainID, Position{r.StartBlock, r.StartOffset})
	e.refTxs.Add(executed)
	if err != nil {
		return nil, err
	}
	if root, want := st.Root(), r.Commitment.PrevRoot; root.Bytes() != want {
		return nil, fmt.Errorf("settlement: the sequencer's state at the start of batch %d is not at its previous root", n)
	}
	return st, nil
}
