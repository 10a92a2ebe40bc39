package challenger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pqbridge/pqbridge/l1/l1api"
)

// challengeTx is a signed challenge transaction of ours. It is stored with the cursor of the block
// whose batch it proves before it is first sent, and kept until L1 used its nonce: until then it
// is sent again after every block (a restarted node may have lost it; a node that has it answers
// l1api.ErrKnownTx), so each nonce of ours is only ever signed for one transaction.
type challengeTx struct {
	Nonce       uint64
	Batch       uint64 // the batch it proves fraudulent
	SubmittedAt uint64 // the batch's submission height: with Batch, its identity
	Live        bool   // the batch is pending as far as the log read says: the challenge is wanted
	Resigned    uint64 // times signed again after its nonce was used without reverting the batch
	Proof       []byte
	Raw         []byte

	sent     bool      // sent by this process
	detected time.Time // when this process read the batch's event (zero: before a restart)
}

// maxResign bounds how often a challenge is signed again: a proof L1 keeps rejecting is a bug of
// ours, not a race to win by paying for more transactions.
const maxResign = 3

// liveBatch is the batch with a challenge in flight (0: none).
func (r *runState) liveBatch() uint64 {
	for _, tx := range r.txs {
		if tx.Live {
			return tx.Batch
		}
	}
	return 0
}

// sign signs a challenge of batch id, on the first nonce that is neither used on L1 nor taken by
// a challenge transaction of ours still waiting to be included.
func (c *Challenger) sign(ctx context.Context, id batchID, proof []byte) (*challengeTx, error) {
	for _, tx := range c.run.txs {
		if tx.Live && tx.Batch == id.Number && tx.SubmittedAt == id.SubmittedAt {
			return nil, fmt.Errorf("challenger: batch %d already has a challenge (nonce %d)", id.Number, tx.Nonce)
		}
	}
	acct, err := c.cfg.Source.Account(ctx, c.cfg.Key.Address())
	if err != nil {
		return nil, fmt.Errorf("challenger: reading the challenger's L1 account: %w", err)
	}
	bonds, err := c.checkBond(acct.Balance, len(c.run.txs))
	if err != nil {
		return nil, err // L1 would refuse the challenge before its judge ran
	}
	nonce := acct.Nonce
	if n := len(c.run.txs); n > 0 && c.run.txs[n-1].Nonce >= nonce {
		nonce = c.run.txs[n-1].Nonce + 1
	}
	raw, err := l1api.SignTx(c.cfg.Key, l1api.TxChallenge, c.cfg.L1ChainID, nonce,
		&l1api.Challenge{RollupID: c.cfg.RollupID, Batch: id.Number, Proof: proof})
	if err != nil {
		return nil, fmt.Errorf("challenger: signing the challenge of batch %d: %w", id.Number, err)
	}
	if err := c.canPay(ctx, raw, acct.Balance-bonds); err != nil { // the bonds come first
		return nil, fmt.Errorf("challenger: the challenge of batch %d: %w", id.Number, err)
	}
	return &challengeTx{Nonce: nonce, Batch: id.Number, SubmittedAt: id.SubmittedAt, Live: true, Proof: proof, Raw: raw}, nil
}

// canPay checks that balance, what the challenger holds beyond the bonds of its challenges in
// flight and this one, pays the L1 fee of the signed challenge raw (docs/l1.md §5.1): an
// unfunded challenger learns it here, not from a refused submission.
func (c *Challenger) canPay(ctx context.Context, raw []byte, balance uint64) error {
	st, err := c.cfg.Source.Status(ctx)
	if err != nil {
		return fmt.Errorf("reading the L1 fees: %w", err)
	}
	fee, err := st.Fees.Fee(len(raw), 0)
	if err != nil {
		return err
	}
	if fee > balance {
		return fmt.Errorf("the challenger's L1 balance %d cannot pay the fee %d", balance, fee)
	}
	return nil
}

// afterBlock runs once the block's write is done: it forgets the challenge transactions whose
// nonce L1 used, signs again a challenge whose nonce was used without reverting its batch (it lost
// a race, or something else took the nonce) while the batch is still pending, stores that, and
// sends every transaction not yet included.
func (c *Challenger) afterBlock(ctx context.Context) error {
	if len(c.run.txs) == 0 {
		return nil
	}
	acct, err := c.cfg.Source.Account(ctx, c.cfg.Key.Address())
	if err != nil {
		return fmt.Errorf("challenger: reading the challenger's L1 account: %w", err)
	}
	var used []*challengeTx
	kept := c.run.txs[:0]
	for _, tx := range c.run.txs {
		if tx.Nonce >= acct.Nonce {
			kept = append(kept, tx)
		} else {
			used = append(used, tx)
		}
	}
	c.run.txs = kept
	for _, tx := range used {
		if err := c.resign(ctx, tx); err != nil {
			return err
		}
	}
	if len(used) > 0 {
		if err := c.save(c.run.cursor, false); err != nil {
			return err
		}
		c.setStatus(func(s *Status) { s.Challenged = c.run.liveBatch() })
	}
	for _, tx := range c.run.txs {
		if err := c.send(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// resign signs tx's challenge again if its batch is still pending on L1 under the same identity.
func (c *Challenger) resign(ctx context.Context, tx *challengeTx) error {
	if !tx.Live {
		return nil
	}
	r, err := c.cfg.Source.Rollup(ctx, c.cfg.RollupID)
	if err != nil {
		return fmt.Errorf("challenger: reading rollup %d: %w", c.cfg.RollupID, err)
	}
	if tx.Batch > r.HeadNumber || tx.Batch <= r.FinalNumber {
		return nil // reverted (its event will come) or, too late, final
	}
	id := batchID{tx.Batch, tx.SubmittedAt}
	if rec, err := c.batch(ctx, id); err != nil || rec == nil {
		return err
	}
	if tx.Resigned >= maxResign {
		c.log.Error("challenge used its nonce without reverting its batch, too often: giving up on it", "batch", tx.Batch,
			"nonce", tx.Nonce, "signed", tx.Resigned+1)
		return nil
	}
	next, err := c.sign(ctx, id, tx.Proof)
	if err != nil {
		return err
	}
	next.Resigned, next.detected = tx.Resigned+1, time.Now()
	c.log.Warn("challenge nonce used without reverting the batch: signing it again", "batch", tx.Batch,
		"nonce", tx.Nonce, "new_nonce", next.Nonce)
	c.run.txs = append(c.run.txs, next)
	return nil
}

// send puts tx in the L1 mempool (again).
func (c *Challenger) send(ctx context.Context, tx *challengeTx) error {
	// Known: it is in the mempool already. Nonce too low or taken: a block took the nonce, or
	// another transaction of the key waits on it; afterBlock signs the challenge again on the
	// next nonce once a block has used this one without reverting the batch.
	if _, err := c.cfg.Source.SubmitTx(ctx, tx.Raw); err != nil && !errors.Is(err, l1api.ErrKnownTx) &&
		!errors.Is(err, l1api.ErrNonceTooLow) && !errors.Is(err, l1api.ErrNonceTaken) {
		return fmt.Errorf("challenger: sending the challenge of batch %d (nonce %d): %w", tx.Batch, tx.Nonce, err)
	}
	if tx.sent || !tx.Live {
		return nil
	}
	tx.sent = true
	var took time.Duration // 0: detected before a restart
	if !tx.detected.IsZero() {
		took = time.Since(tx.detected)
	}
	c.setStatus(func(s *Status) {
		s.Challenges++
		s.Challenged = tx.Batch
		if took > 0 {
			s.DetectSubmit = took
		}
	})
	c.log.Info("challenge sent", "batch", tx.Batch, "nonce", tx.Nonce, "detect_to_submit", took)
	return c.killed(KillAfterSend)
}
