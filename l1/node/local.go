package node

import (
	"context"

	"github.com/ethereum/go-ethereum/common"

	"github.com/pqbridge/pqbridge/l1/chain"
)

// Local is the node's API in process with the call shapes of its QUIC client (package
// l1client), so that a consumer (settlement, challenger) takes one interface for both. The
// context is unused: in-process reads do not block.
type Local struct{ n *Node }

// Local returns the node's in-process API.
func (n *Node) Local() Local { return Local{n} }

// ChainID is the L1 chain ID.
func (l Local) ChainID() uint64 { return l.n.chain.ChainID() }

// SubmitTx is Node.SubmitTx.
func (l Local) SubmitTx(_ context.Context, raw []byte) (common.Hash, error) { return l.n.SubmitTx(raw) }

// Status is Node.Status.
func (l Local) Status(context.Context) (Status, error) { return l.n.Status() }

// Account is Node.Account.
func (l Local) Account(_ context.Context, a common.Address) (chain.Account, error) {
	return l.n.Account(a)
}

// Rollup is Node.Rollup.
func (l Local) Rollup(_ context.Context, id uint64) (*chain.Rollup, error) { return l.n.Rollup(id) }

// Batch is Node.Batch.
func (l Local) Batch(_ context.Context, id, number uint64) (*chain.BatchRecord, error) {
	return l.n.Batch(id, number)
}

// BatchData is Node.BatchData.
func (l Local) BatchData(_ context.Context, id, number uint64) ([]byte, error) {
	return l.n.BatchData(id, number)
}

// L2Key is Node.L2Key.
func (l Local) L2Key(_ context.Context, id uint64, kh [32]byte) ([]byte, error) {
	return l.n.L2Key(id, kh)
}

// BatchTrace is Node.BatchTrace.
func (l Local) BatchTrace(_ context.Context, id, number uint64) ([][32]byte, error) {
	return l.n.BatchTrace(id, number)
}

// Deposit is Node.Deposit.
func (l Local) Deposit(_ context.Context, id, index uint64) (*chain.DepositEntry, error) {
	return l.n.Deposit(id, index)
}

// Exited is Node.Exited.
func (l Local) Exited(_ context.Context, id uint64, index uint32) (bool, error) {
	return l.n.Exited(id, index)
}

// Refunded is Node.Refunded.
func (l Local) Refunded(_ context.Context, id, index uint64) (bool, error) {
	return l.n.Refunded(id, index)
}

// Claimed is Node.Claimed.
func (l Local) Claimed(_ context.Context, id, number, index uint64) (bool, error) {
	return l.n.Claimed(id, number, index)
}

// Receipts is Node.Receipts.
func (l Local) Receipts(_ context.Context, height uint64) ([]chain.Receipt, error) {
	return l.n.Receipts(height)
}

// Events follows the event log from the first event of fromHeight, as l1_events does: the
// stored events, then each block's as it commits. ctx bounds the subscription.
func (l Local) Events(ctx context.Context, fromHeight uint64) (*Subscription, error) {
	ctx, cancel := context.WithCancel(ctx)
	return &Subscription{n: l.n, ctx: ctx, cancel: cancel, height: fromHeight}, nil
}

// Subscription follows the event log from a position (height, index): the one implementation
// behind l1_events and Local.Events.
type Subscription struct {
	n       *Node
	ctx     context.Context
	cancel  context.CancelFunc
	height  uint64 // position of the next event to read
	index   uint64
	pending []chain.Event
}

// Next returns the next event, waiting for a block when it has caught up; it returns ctx's
// error when ctx ended or the subscription was closed.
func (s *Subscription) Next() (chain.Event, error) {
	for len(s.pending) == 0 {
		evs, err := s.next()
		if err != nil {
			return chain.Event{}, err
		}
		s.pending = evs
	}
	ev := s.pending[0]
	s.pending = s.pending[1:]
	return ev, nil
}

// Close ends the subscription.
func (s *Subscription) Close() { s.cancel() }

// next returns the next events from the position, at most EventsPerMessage, and moves past them.
func (s *Subscription) next() ([]chain.Event, error) {
	for {
		wake := s.n.NewBlock() // taken before reading, so a block committing in between wakes us
		evs, err := s.n.Events(s.height, int(s.index)+EventsPerMessage)
		if err != nil {
			return nil, err
		}
		k := 0
		for k < len(evs) && evs[k].Height == s.height && evs[k].Index < s.index {
			k++
		}
		if evs = evs[k:]; len(evs) > 0 {
			last := evs[len(evs)-1]
			s.height, s.index = last.Height, last.Index+1
			return evs, nil
		}
		select {
		case <-s.ctx.Done():
			return nil, s.ctx.Err()
		case <-wake:
		}
	}
}
