package l1client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/pqbridge/pqbridge/l1/l1api"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// Events is a stream of the node's event log that survives reconnects: when the connection goes
// it subscribes again, on the next connection, from the height of the last event it delivered,
// and skips the events of that height it delivered already, so no event is lost or repeated.
// Next is for one goroutine; Close may be called from any.
type Events struct {
	c      *Client
	ctx    context.Context
	cancel context.CancelFunc
	closed atomic.Bool
	raw    []byte // the tests' request payload, sent as it is (no resubscription)

	from    uint64 // height to subscribe from: the last delivered event's, or the first asked
	last    *l1api.Event
	rpc     *quicrpc.Client // connection of sub
	sub     *quicrpc.Subscription
	pending []l1api.Event
}

// Events subscribes to the event log from the first event of fromHeight: the stored events, then
// each block's as it commits; every block's events end with its l1api.EventBlock. It fails at
// once while the client is disconnected (ErrDisconnected); once subscribed, the stream follows
// the log across reconnects. ctx bounds the stream.
func (c *Client) Events(ctx context.Context, fromHeight uint64) (*Events, error) {
	ctx, cancel := context.WithCancel(ctx)
	e := &Events{c: c, ctx: ctx, cancel: cancel, from: fromHeight}
	if err := e.subscribe(); err != nil {
		cancel()
		return nil, err
	}
	return e, nil
}

// subscribe starts a subscription from e.from on the current connection.
func (e *Events) subscribe() error {
	payload := e.raw
	if payload == nil {
		b, err := rlp.EncodeToBytes(&l1api.EventsRequest{FromHeight: e.from})
		if err != nil {
			return err
		}
		payload = b
	}
	rpc, err := e.c.conn()
	if err != nil {
		return fmt.Errorf("l1client: %s: %w", l1api.MethodEvents, err)
	}
	sub, err := rpc.Subscribe(e.ctx, l1api.MethodEvents, payload)
	if err != nil {
		return remoteError(l1api.MethodEvents, e.c.failed(rpc, err))
	}
	e.rpc, e.sub = rpc, sub
	return nil
}

// Next returns the next event, waiting for the connection when there is none. It returns a
// RemoteError when the node refused the subscription, quicrpc.ErrClosed after Close (of the
// stream or the client) and ctx's error when ctx ended.
func (e *Events) Next() (l1api.Event, error) {
	for attempt := 0; len(e.pending) == 0; {
		if e.sub == nil {
			if err := e.resubscribe(attempt); err != nil {
				return l1api.Event{}, e.ended(err)
			}
			attempt++
			continue
		}
		b, err := e.sub.Next()
		if err != nil {
			e.sub.Close()
			e.sub = nil
			if e.ctx.Err() != nil {
				return l1api.Event{}, e.ended(err)
			}
			err = e.c.failed(e.rpc, err)
			if e.raw == nil && (errors.Is(err, ErrDisconnected) || errors.Is(err, io.EOF)) {
				continue // the node went or ended the stream: resubscribe
			}
			if errors.Is(err, io.EOF) {
				return l1api.Event{}, io.EOF
			}
			return l1api.Event{}, remoteError(l1api.MethodEvents, err)
		}
		attempt = 0
		evs, err := decodeEvents(b)
		if err != nil {
			e.sub.Close()
			e.sub = nil
			return l1api.Event{}, err
		}
		e.pending = e.unseen(evs)
	}
	ev := e.pending[0]
	e.pending = e.pending[1:]
	e.last = &ev
	e.from = ev.Height
	if ev.Kind == l1api.EventBlock { // the last event of its block
		e.from++
	}
	return ev, nil
}

// unseen drops the events at or before the last one delivered: a resubscription starts at the
// beginning of that event's height.
func (e *Events) unseen(evs []l1api.Event) []l1api.Event {
	k := 0
	for e.last != nil && k < len(evs) && (evs[k].Height < e.last.Height ||
		evs[k].Height == e.last.Height && evs[k].Index <= e.last.Index) {
		k++
	}
	return evs[k:]
}

// resubscribe subscribes again once the client has a connection; after failed attempts on a
// connection it pauses with the client's backoff. Only a refusal by the node or the end of the
// stream or client is returned.
func (e *Events) resubscribe(attempt int) error {
	if e.raw != nil {
		return fmt.Errorf("l1client: %s: %w", l1api.MethodEvents, quicrpc.ErrClosed)
	}
	if attempt > 0 {
		select {
		case <-e.ctx.Done():
			return e.ctx.Err()
		case <-time.After(backoff(attempt-1, e.c.cfg.MinBackoff, e.c.cfg.MaxBackoff, rand.Int64N)):
		}
	}
	if err := e.c.WaitConnected(e.ctx); err != nil {
		return err
	}
	err := e.subscribe()
	if errors.Is(err, ErrDisconnected) {
		return nil // Next tries again
	}
	return err
}

// ended is the error of a stream that stopped: ErrClosed after Close, ctx's error when it ended.
func (e *Events) ended(err error) error {
	switch {
	case e.closed.Load():
		return fmt.Errorf("l1client: %s: %w", l1api.MethodEvents, quicrpc.ErrClosed)
	case e.ctx.Err() != nil:
		return e.ctx.Err()
	}
	return err
}

// Close ends the stream.
func (e *Events) Close() {
	e.closed.Store(true)
	e.cancel()
}

// decodeEvents decodes one message of an event subscription: the events of one or more blocks.
func decodeEvents(b []byte) ([]l1api.Event, error) {
	var evs []l1api.Event
	if err := rlp.DecodeBytes(b, &evs); err != nil {
		return nil, fmt.Errorf("l1client: %s: event message: %w: %v", l1api.MethodEvents, quicrpc.ErrMalformed, err)
	}
	return evs, nil
}
