package challenger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/l1client"
)

// ProvenSource is the Source of a challenger whose client pins a validator set: the event log,
// status, keys, accounts and submissions come from events (a hint: one validator's word), and
// Rollup, Batch, BatchData and BatchTrace are proven reads (l1client.Verified) whose
// certificates and state proofs the client checks, answering for a certified height of at least
// the block whose events the challenger handles, so that a batch an event announced is never
// proven absent. Each block, the challenger also checks the proven rollup head against the
// batches the events announced (checkHead): a batch the stream withheld is fetched proven and
// checked, and the client leaves the endpoint that withheld it.
func ProvenSource(events Source, c *l1client.Client) Source {
	return &provenSource{Source: events, c: c, min: new(atomic.Uint64)}
}

// provenSource: the embedded Source gives what is not proven.
type provenSource struct {
	Source
	c   *l1client.Client
	min *atomic.Uint64 // AtLeast of the proven reads: set by the follow loop (setAtLeast)
}

func (s *provenSource) v() l1client.Verified { return s.c.Verified().AtLeast(s.min.Load()) }

func (s *provenSource) Rollup(ctx context.Context, id uint64) (*l1api.Rollup, error) {
	return s.v().Rollup(ctx, id)
}

func (s *provenSource) Batch(ctx context.Context, rollupID, number uint64) (*l1api.BatchRecord, error) {
	return s.v().Batch(ctx, rollupID, number)
}

func (s *provenSource) BatchData(ctx context.Context, rollupID, number uint64) ([]byte, error) {
	return s.v().BatchData(ctx, rollupID, number)
}

func (s *provenSource) BatchTrace(ctx context.Context, rollupID, number uint64) ([][32]byte, error) {
	return s.v().BatchTrace(ctx, rollupID, number)
}

// provenHead is the rollup record proven at the newest certified height, and that height.
func (s *provenSource) provenHead(ctx context.Context, id uint64) (*l1api.Rollup, uint64, error) {
	return s.c.Verified().RollupAt(ctx, id)
}

// withheld leaves the endpoint whose event stream did not announce batch number (proven accepted
// by height) and waits up to leaveWait for the connection to the next one; if none comes, the
// block's challenges are still stored, and sent (again) once a call gets through.
func (s *provenSource) withheld(ctx context.Context, log *slog.Logger, number, height uint64) {
	err := fmt.Errorf("batch %d, proven accepted by height %d, was not in the event stream", number, height)
	s.c.Leave("batch missing from the event stream", err)
	ctx, cancel := context.WithTimeout(ctx, leaveWait)
	defer cancel()
	if err := s.c.WaitConnected(ctx); err != nil {
		log.Warn("no other L1 endpoint after leaving the one that withheld a batch", "batch", number, "err", err)
	}
}

// leaveWait bounds the wait for the next endpoint after leaving one that withheld a batch.
const leaveWait = 5 * time.Second

// setAtLeast makes the proven reads answer for a certified height of at least h.
func (s *provenSource) setAtLeast(h uint64) { s.min.Store(h) }

// checkHead, with a ProvenSource, compares the rollup head proven at the newest certified height
// h with the batches the event stream announced: when h is a block already handled (at most
// through, the block just handled) and the proven head is beyond the last batch announced, the
// missing batches are read proven (at h or later) and checked as their events would have made
// them be. Without a ProvenSource it does nothing: a one-node chain's events and reads are
// the same node's signed word.
func (c *Challenger) checkHead(ctx context.Context, through uint64) error {
	p, ok := c.cfg.Source.(*provenSource)
	if !ok {
		return nil
	}
	r, h, err := p.provenHead(ctx, c.cfg.RollupID)
	if err != nil {
		return fmt.Errorf("challenger: proven head of rollup %d: %w", c.cfg.RollupID, err)
	}
	seen := max(c.run.seen, c.run.agreed.Number)
	for _, tx := range c.run.txs {
		if tx.Live {
			seen = max(seen, tx.Batch) // challenged (seen is not stored): not checked again
		}
	}
	if h > through || r.HeadNumber <= seen {
		return nil
	}
	defer p.setAtLeast(through)
	p.setAtLeast(h)
	endpoint, validator := p.c.Endpoint(), p.c.Validator()
	missing := uint64(0)
	for n := seen + 1; n <= r.HeadNumber; n++ {
		rec, err := p.Batch(ctx, c.cfg.RollupID, n)
		if errors.Is(err, l1api.ErrNotFound) {
			continue // reverted since h: its revert event, if withheld too, changes nothing to check
		}
		if err != nil {
			return fmt.Errorf("challenger: proven batch %d: %w", n, err)
		}
		if rec.SubmittedAt >= c.from {
			c.log.Warn("batch missing from the event stream", "batch", n, "submitted_at", rec.SubmittedAt,
				"proven_at", h, "endpoint", endpoint, "validator", validator)
			missing = n
		} else { // its event came before this start (a waiting batch): no one's fault
			c.log.Info("batch announced before the start read again proven", "batch", n, "submitted_at", rec.SubmittedAt)
		}
		ev := l1api.Event{Kind: l1api.EventBatchSubmitted, RollupID: c.cfg.RollupID, Number: n, Height: rec.SubmittedAt,
			Root: common.Hash(rec.NewRoot)}
		if err := c.submitted(ctx, &ev); err != nil {
			return err // seen stays: the next block's check reads it again
		}
		c.run.seen = n
	}
	if missing == 0 {
		return nil
	}
	c.setStatus(func(s *Status) { s.Withheld++ })
	p.withheld(ctx, c.log, missing, h)
	return nil
}

// atLeast makes a ProvenSource's reads answer for a certified height of at least h.
func (c *Challenger) atLeast(h uint64) {
	if p, ok := c.cfg.Source.(*provenSource); ok {
		p.setAtLeast(h)
	}
}
