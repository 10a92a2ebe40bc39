package l1client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quic-go/quic-go"

	retry "github.com/pqbridge/pqbridge/internal/backoff"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// Defaults of Config's redial settings.
const (
	// DefaultMinBackoff and DefaultMaxBackoff bound the pause between two failed dials: short
	// enough that a restarted node is found again in well under a second, long enough that a dead
	// one is not dialled in a loop.
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	// DefaultIdleTimeout is the QUIC idle timeout of the connection: a node that vanished without
	// closing it (killed, network gone) is given up after this long (a restarted one resets the
	// connection at once, see quicrpc.ServerConfig.ValidatorKey). Keep-alives every third of it
	// keep an idle connection open.
	DefaultIdleTimeout = 6 * time.Second
	// dialTimeout bounds one dial: QUIC handshake plus the validator's signed hello.
	dialTimeout = 10 * time.Second
)

// ErrDisconnected is the error of a call made while the client has no connection to any L1
// node, or whose connection failed under it. The error is a *DisconnectedError naming the
// endpoint and the cause; the client redials in the background.
var ErrDisconnected = errors.New("l1 disconnected")

// DisconnectedError is why a call found no connection: the endpoint last dialled (or lost) and
// the dial or connection error.
type DisconnectedError struct {
	Endpoint string
	Err      error
	lost     bool // the call was sent, and the connection failed under it
}

func (e *DisconnectedError) Error() string {
	return fmt.Sprintf("l1 disconnected: %s: %v", e.Endpoint, e.Err)
}

func (e *DisconnectedError) Is(target error) bool { return target == ErrDisconnected }

func (e *DisconnectedError) Unwrap() error { return e.Err }

// errNotDialled is the cause of ErrDisconnected before the first dial ended.
var errNotDialled = errors.New("dialling, no answer yet")

// backoff is the pause after the attempt-th failed dial in a row (from 0): full jitter, a
// uniform draw from [0, min(max, min·2^attempt)], so clients that lost the same node do not
// redial it in step. r draws from [0, n).
func backoff(attempt int, lo, hi time.Duration, r func(n int64) int64) time.Duration {
	return time.Duration(r(int64(retry.Ceiling(lo, hi, attempt+1)) + 1))
}

// conn returns the live connection, or a *DisconnectedError at once.
func (c *Client) conn() (*quicrpc.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc == nil {
		if c.closed {
			return nil, fmt.Errorf("l1client: %w", quicrpc.ErrClosed)
		}
		return nil, &DisconnectedError{Endpoint: c.errAddr, Err: c.lastErr}
	}
	return c.rpc, nil
}

// failed is called with the error of a call on rpc: when the connection is gone (or the error
// says so) it is dropped, the redial loop wakes, and the error becomes a *DisconnectedError.
// Errors of the request itself (a RemoteError, a context ending) leave it up.
func (c *Client) failed(rpc *quicrpc.Client, err error) error {
	if rpc.Err() == nil && !connLevel(err) {
		return err
	}
	cause := err
	if e := rpc.Err(); e != nil {
		cause = e
	}
	c.mu.Lock()
	if c.rpc == rpc {
		c.drop("call failed", cause)
	}
	endpoint := c.errAddr // the endpoint the connection was with (drop moved idx on)
	c.mu.Unlock()
	rpc.Close()
	return &DisconnectedError{Endpoint: endpoint, Err: err, lost: true}
}

// connLevel reports whether a call's error means the connection is gone rather than the call
// failed: closed, idle timeout, stateless reset (a restarted node), or another close of the
// connection by the peer or the transport.
func connLevel(err error) bool {
	var (
		idle  *quic.IdleTimeoutError
		reset *quic.StatelessResetError
		app   *quic.ApplicationError
		tr    *quic.TransportError
		hs    *quic.HandshakeTimeoutError
	)
	return errors.Is(err, quicrpc.ErrClosed) || errors.As(err, &idle) || errors.As(err, &reset) ||
		errors.As(err, &app) || errors.As(err, &tr) || errors.As(err, &hs)
}

// drop forgets the connection (c.mu held), opens a new wait for the next one and moves on to
// the next endpoint: the node that stopped serving is dialled again only after the others.
func (c *Client) drop(reason string, cause error) {
	c.rpc = nil
	c.lastErr, c.errAddr = cause, c.cfg.Addrs[c.idx]
	c.up = make(chan struct{})
	c.idx = (c.idx + 1) % len(c.cfg.Addrs)
	c.log.Warn("l1 disconnected", "endpoint", c.errAddr, "reason", reason, "err", cause, "next", c.cfg.Addrs[c.idx])
}

// redial keeps the client connected until Close: it waits for the connection to go, then dials
// the endpoints in turn from the one it lost, pausing with backoff after each failure. A
// connection lost within MaxBackoff of being made counts as a failure too, so a node that
// accepts and drops connections is not redialled in a tight loop.
func (c *Client) redial(ctx context.Context) {
	defer close(c.done)
	attempt := 0
	next := func() time.Duration { // the pause after one more failure in a row
		attempt++
		return backoff(attempt-1, c.cfg.MinBackoff, c.cfg.MaxBackoff, rand.Int64N)
	}
	sleep := func(wait time.Duration) bool {
		select {
		case <-ctx.Done():
			return false
		case <-time.After(wait):
			return true
		}
	}
	for {
		c.mu.Lock()
		rpc := c.rpc
		c.mu.Unlock()
		if rpc != nil {
			since := time.Now()
			select {
			case <-ctx.Done():
				return
			case <-rpc.Done():
			}
			c.mu.Lock()
			if c.rpc == rpc {
				c.drop("connection lost", rpc.Err())
			}
			c.mu.Unlock()
			if time.Since(since) >= c.cfg.MaxBackoff {
				attempt = 0 // it was up for a while: redial at once
			} else if !sleep(next()) {
				return
			}
			continue
		}
		c.mu.Lock()
		addr, rpcCfg := c.cfg.Addrs[c.idx], c.rpcCfg
		c.mu.Unlock()
		dctx, cancel := context.WithTimeout(ctx, dialTimeout)
		rpc, err := quicrpc.Dial(dctx, addr, rpcCfg)
		cancel()
		if ctx.Err() != nil {
			if err == nil {
				rpc.Close()
			}
			return
		}
		if err == nil {
			c.connected(rpc, addr)
			continue
		}
		c.mu.Lock()
		c.lastErr, c.errAddr = err, addr
		c.idx = (c.idx + 1) % len(c.cfg.Addrs)
		then := c.cfg.Addrs[c.idx]
		c.mu.Unlock()
		wait := next()
		c.log.Warn("waiting for the L1 node", "endpoint", addr, "err", err, "next", then, "retry_in", wait)
		if !sleep(wait) {
			return
		}
	}
}

// connected installs a new connection and wakes whoever waits for one.
func (c *Client) connected(rpc *quicrpc.Client, addr string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		rpc.Close()
		return
	}
	c.rpc = rpc
	c.lastErr = nil
	if c.dialled {
		c.reconnects.Add(1)
	}
	c.dialled = true
	close(c.up)
	c.log.Info("l1 connected", "endpoint", addr, "validator", rpc.Validator(), "reconnects", c.reconnects.Load())
}

// WaitConnected waits until the client has a connection, or ctx ends: then the error names the
// endpoint and the last dial error.
func (c *Client) WaitConnected(ctx context.Context) error {
	for {
		c.mu.Lock()
		up, rpc, closed := c.up, c.rpc, c.closed
		c.mu.Unlock()
		if rpc != nil {
			return nil
		}
		if closed {
			return fmt.Errorf("l1client: %w", quicrpc.ErrClosed)
		}
		select {
		case <-up:
		case <-ctx.Done():
			_, err := c.conn()
			return fmt.Errorf("%w (gave up waiting: %w)", err, ctx.Err())
		}
	}
}

// Connected reports whether the client has a connection to an L1 node now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rpc != nil
}

// Validator is the address of the validator whose key signs the current connection's replies
// (with Config.Validators, the member that answered), or the zero address while disconnected.
func (c *Client) Validator() common.Address {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.rpc == nil {
		return common.Address{}
	}
	return c.rpc.Validator()
}

// Reconnects counts the connections made after the first.
func (c *Client) Reconnects() uint64 { return c.reconnects.Load() }

// Endpoint is the address of the node the client is connected to, or dials next.
func (c *Client) Endpoint() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cfg.Addrs[c.idx]
}

// Err is nil while the client is connected, else a *DisconnectedError (the readiness of the
// daemons that need L1).
func (c *Client) Err() error {
	_, err := c.conn()
	return err
}

// ParseAddrs splits a comma-separated list of endpoints (the daemons' --l1 flag), dropping
// blanks.
func ParseAddrs(list string) []string {
	var addrs []string
	for _, a := range strings.Split(list, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return addrs
}

// Retry calls f until it returns nil or an error other than ErrDisconnected, or ctx ends: the
// start of a daemon, which waits for L1 rather than exiting. Each wait is logged with what it
// is for; a connection lost again at once is retried after a backoff pause.
func (c *Client) Retry(ctx context.Context, what string, f func(ctx context.Context) error) error {
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err == nil || !errors.Is(err, ErrDisconnected) {
			return err
		}
		if !errors.Is(err, errNotDialled) { // not the first dial still under way: a real wait
			c.log.Warn("waiting for the L1 node", "for", what, "err", err)
		}
		if err := c.WaitConnected(ctx); err != nil {
			return err
		}
		if attempt == 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff(attempt-1, c.cfg.MinBackoff, c.cfg.MaxBackoff, rand.Int64N)):
		}
	}
}
