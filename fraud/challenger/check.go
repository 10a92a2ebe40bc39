package challenger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/consensys/gnark-crypto/ecc/bn254/fr"
	"github.com/ethereum/go-ethereum/common"
	"github.com/pqbridge/pqbridge/fraud"
	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l2"
)

// submitted checks the batch a BatchSubmitted event announces, if L1 still holds it (the same
// number and submission height) and it builds on the agreed batch.
func (c *Challenger) submitted(ctx context.Context, ev *l1api.Event) error {
	start := time.Now()
	id := batchID{ev.Number, ev.Height}
	if id.Number <= c.run.agreed.Number {
		return nil // handled before a restart: a revert of it would have come first
	}
	if id.Number != c.run.agreed.Number+1 {
		c.wait(id.Number, "batch builds on a batch not agreed: waiting for its revert")
		return nil
	}
	rec, err := c.batch(ctx, id)
	if err != nil || rec == nil || common.Hash(rec.NewRoot) != ev.Root {
		return err // nil record: reverted since, done
	}
	com, err := rec.Commitment(c.l2ChainID)
	if err != nil {
		return err
	}
	if err := c.reopenIfDirty(); err != nil { // a fraud earlier in the block
		return err
	}
	root, err := c.run.exec.root()
	if err != nil {
		return err
	}
	if !root.Equal(&com.PrevRoot) {
		c.wait(id.Number, "batch does not start from the agreed root: waiting for its revert")
		return nil
	}
	data, txs, err := c.batchData(ctx, id.Number)
	if err != nil {
		return err
	}
	if rec.Mode == l1api.ModeValidity {
		return c.advance(id, data, txs, &com, "validity")
	}
	stored, err := c.cfg.Source.BatchTrace(ctx, c.cfg.RollupID, id.Number)
	if errors.Is(err, l1api.ErrNotFound) { // finalized before we read it (L1 agreed), or reverted since
		final, err := c.isFinal(ctx, id)
		if err != nil || !final {
			return err
		}
		return c.advance(id, data, txs, &com, "final")
	}
	if err != nil {
		return fmt.Errorf("challenger: reading the trace of batch %d: %w", id.Number, err)
	}
	trace := make([]fr.Element, len(stored))
	for k := range stored {
		if err := trace[k].SetBytesCanonical(stored[k][:]); err != nil {
			return fmt.Errorf("challenger: trace of batch %d, entry %d: %w", id.Number, k, err)
		}
	}
	if err := c.keys.fetch(ctx, txs, c.run.exec.account); err != nil {
		return err
	}
	exec := time.Now()
	proof, err := c.run.exec.check(&com, data, txs, trace, c.keys)
	took := time.Since(exec)
	c.setStatus(func(s *Status) { s.Checked++; s.LastBatchTime = took })
	switch {
	case errors.Is(err, fraud.ErrNoFraud):
		c.agree(id, txs, com.NewRoot)
		c.log.Info("batch honest", "batch", id.Number, "txs", com.TxCount, "took", took)
		return c.save(c.run.cursor, true)
	case err != nil:
		c.log.Warn("batch cannot be checked", "batch", id.Number, "err", err)
		c.wait(id.Number, "batch not agreed: waiting for its revert or its finality")
		return c.reopenIfDirty()
	}
	c.log.Warn("FRAUD", "batch", id.Number, "kind", proof.Kind.String(), "step", proof.Step)
	c.setStatus(func(s *Status) { s.LastProof, s.LastStep = proof.Kind, proof.Step })
	if err := c.killed(KillAfterDetect); err != nil {
		return err
	}
	tx, err := c.sign(ctx, id, proof.Encode())
	if err != nil {
		return err
	}
	tx.detected = start
	c.run.txs = append(c.run.txs, tx)
	c.setStatus(func(s *Status) { s.Challenged = c.run.liveBatch() })
	return nil // the executor, dirty, is reopened once the challenge is sent (block)
}

// batch reads batch id from L1; nil if L1 no longer holds it (reverted, perhaps reposted).
func (c *Challenger) batch(ctx context.Context, id batchID) (*l1api.BatchRecord, error) {
	rec, err := c.cfg.Source.Batch(ctx, c.cfg.RollupID, id.Number)
	if errors.Is(err, l1api.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("challenger: reading batch %d: %w", id.Number, err)
	}
	if rec.SubmittedAt != id.SubmittedAt {
		c.log.Info("batch reverted since: L1 holds another batch of its number", "batch", id.Number,
			"submitted_at", id.SubmittedAt, "now_submitted_at", rec.SubmittedAt)
		return nil, nil
	}
	return rec, nil
}

// batchData reads and decodes the data of batch n.
func (c *Challenger) batchData(ctx context.Context, n uint64) ([]byte, []l2.Tx, error) {
	frame, err := c.cfg.Source.BatchData(ctx, c.cfg.RollupID, n)
	if err != nil {
		return nil, nil, fmt.Errorf("challenger: reading the data of batch %d: %w", n, err)
	}
	data, err := l1api.DecompressBatch(frame)
	if err != nil {
		return nil, nil, fmt.Errorf("challenger: data of batch %d: %w", n, err) // L1 checked it at submission
	}
	txs, _, err := l2.DecodeBatchData(data) // interleaved: type 5/6 transactions carry their signatures
	if err != nil {
		return nil, nil, fmt.Errorf("challenger: data of batch %d: %w", n, err)
	}
	return data, txs, nil
}

// isFinal reports whether batch id is final on L1 (false: it was reverted).
func (c *Challenger) isFinal(ctx context.Context, id batchID) (bool, error) {
	r, err := c.cfg.Source.Rollup(ctx, c.cfg.RollupID)
	if err != nil {
		return false, fmt.Errorf("challenger: reading rollup %d: %w", c.cfg.RollupID, err)
	}
	if r.FinalNumber < id.Number {
		return false, nil
	}
	rec, err := c.batch(ctx, id) // a final batch stays: only its identity is left to check
	return rec != nil, err
}

// applyFinal applies final batch n, which the challenger did not agree with when it was
// submitted (it waited on it).
func (c *Challenger) applyFinal(ctx context.Context, n uint64) error {
	rec, err := c.cfg.Source.Batch(ctx, c.cfg.RollupID, n)
	if err != nil {
		return fmt.Errorf("challenger: reading final batch %d: %w", n, err)
	}
	com, err := rec.Commitment(c.l2ChainID)
	if err != nil {
		return err
	}
	data, txs, err := c.batchData(ctx, n)
	if err != nil {
		return err
	}
	if err := c.reopenIfDirty(); err != nil {
		return err
	}
	c.log.Warn("applying a final batch the challenger did not agree with", "batch", n)
	return c.advance(batchID{n, rec.SubmittedAt}, data, txs, &com, "final")
}

// advance applies a batch L1 will not revert (proven, or final) to the agreed state.
func (c *Challenger) advance(id batchID, data []byte, txs []l2.Tx, com *l2.Commitment, why string) error {
	if err := c.run.exec.advance(com, data); err != nil {
		return errors.Join(fmt.Errorf("challenger: %s batch %d: %w", why, id.Number, err), c.reopenIfDirty())
	}
	c.agree(id, txs, com.NewRoot)
	c.log.Info("batch applied", "batch", id.Number, "as", why)
	return c.save(c.run.cursor, true)
}

// agree moves the agreed batch to id, whose transactions txs moved the state to root.
func (c *Challenger) agree(id batchID, txs []l2.Tx, root fr.Element) {
	c.run.agreed, c.run.changed = id, touches(txs, c.depth)
	c.dropWaiting(func(w uint64) bool { return w <= id.Number })
	c.setStatus(func(s *Status) { s.Agreed, s.AgreedRoot = id.Number, root })
}

// reopenIfDirty opens the executor again from the store if it applied a batch the challenger
// does not agree with: before it is used again, and after a block once its challenges are sent
// (off the detect-to-submit path: it is linear in the accounts).
func (c *Challenger) reopenIfDirty() error {
	if c.run.exec == nil || !c.run.exec.dirty() {
		return nil
	}
	return c.openExec()
}
