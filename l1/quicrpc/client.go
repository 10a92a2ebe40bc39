package quicrpc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quic-go/quic-go"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// ClientConfig configures a Client. Zero limits and timeouts take the server defaults.
type ClientConfig struct {
	Key                *pqkey.PrivateKey // signs every request
	ChainID            uint64
	ValidatorPublicKey *pqkey.PublicKey // the only key whose responses are accepted
	// ValidatorSet, instead of ValidatorPublicKey, pins the keys of a validator set: Dial's hello
	// reply announces the server's key, which must be a member (ErrNotMember names it if not)
	// and sign that reply; the connection then accepts that member's key only (Validator).
	ValidatorSet []*pqkey.PublicKey

	MaxMessageSize   int // largest response or event frame, and largest request this client sends
	HandshakeTimeout time.Duration
	IdleTimeout      time.Duration
	KeepAlivePeriod  time.Duration // 0: IdleTimeout/3, so an idle subscription stays open

	// The benchmarks replace the ML-DSA-65 envelope signatures with an Ed25519 baseline.
	signer    signer
	validator verifier
	scheme    *scheme
	dial      func(context.Context, string, *tls.Config, *quic.Config) (*quic.Conn, error) // nil: quic.DialAddr
}

// Client is one QUIC connection to a validator. It is safe for concurrent use; each call and
// subscription takes its own stream.
type Client struct {
	cfg     ClientConfig
	conn    *quic.Conn
	binding []byte
	sign    signer
	sender  []byte
	nonce   atomic.Uint64
}

// Dial connects to the validator at addr, checks the key exchange, and has the validator sign a
// response over the new connection before returning, so the client never talks to an unproven
// server.
func Dial(ctx context.Context, addr string, cfg ClientConfig) (*Client, error) {
	setDefault(&cfg.MaxMessageSize, DefaultMaxMessageSize)
	setDefault(&cfg.HandshakeTimeout, DefaultHandshakeTimeout)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.KeepAlivePeriod, cfg.IdleTimeout/3)
	if cfg.scheme == nil {
		cfg.scheme = mldsa65
	}
	if cfg.signer == nil {
		if cfg.Key == nil {
			return nil, errors.New("quicrpc: client needs a key")
		}
		cfg.signer = mldsaSigner{cfg.Key}
	}
	if cfg.validator == nil {
		if cfg.ValidatorPublicKey == nil && len(cfg.ValidatorSet) == 0 {
			return nil, errors.New("quicrpc: client needs the validator's public key or the validator set")
		}
		if cfg.ValidatorPublicKey != nil {
			cfg.validator = cfg.ValidatorPublicKey
		} // else the hello reply pins the member that answers (openResponse)
	}
	if cfg.dial == nil {
		cfg.dial = quic.DialAddr
	}
	conn, err := cfg.dial(ctx, addr, clientTLSConfig(), &quic.Config{
		HandshakeIdleTimeout:  cfg.HandshakeTimeout,
		MaxIdleTimeout:        cfg.IdleTimeout,
		KeepAlivePeriod:       cfg.KeepAlivePeriod,
		MaxIncomingStreams:    -1, // the server never opens streams
		MaxIncomingUniStreams: -1,
	})
	if err != nil {
		return nil, fmt.Errorf("quicrpc: dial %s: %w", addr, handshakeError(err))
	}
	binding, err := connBinding(conn)
	if err != nil {
		conn.CloseWithError(connCodeNotPostQuantum, err.Error())
		return nil, fmt.Errorf("quicrpc: dial %s: %w", addr, err)
	}
	c := &Client{cfg: cfg, conn: conn, binding: binding, sign: cfg.signer, sender: cfg.signer.publicKey().Bytes()}
	if _, err := c.Call(ctx, helloMethod, nil); err != nil {
		conn.CloseWithError(connCodeOK, "validator did not prove its key")
		return nil, fmt.Errorf("quicrpc: dial %s: validator check: %w", addr, err)
	}
	return c, nil
}

// Validator is the address of the validator key this connection's replies are signed with:
// ValidatorPublicKey's, or the member of ValidatorSet that answered Dial.
func (c *Client) Validator() common.Address { return c.cfg.validator.Address() }

// Close closes the connection; calls in flight fail.
func (c *Client) Close() error {
	return c.conn.CloseWithError(connCodeOK, "")
}

// Done is closed when the connection is gone: closed by either side, idle for longer than the
// idle timeout, or reset by a restarted server (see ServerConfig.ValidatorKey).
func (c *Client) Done() <-chan struct{} { return c.conn.Context().Done() }

// Err is why the connection is gone (nil while it is up).
func (c *Client) Err() error {
	if c.conn.Context().Err() == nil {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrClosed, context.Cause(c.conn.Context()))
}

// Call sends a signed request and returns the payload of the validator's verified response.
func (c *Client) Call(ctx context.Context, method string, payload []byte) ([]byte, error) {
	st, stop, err := c.openStream(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	frame, err := c.signRequest(method, c.nonce.Add(1), payload)
	if err != nil {
		st.CancelRead(codeCanceled)
		st.CancelWrite(codeCanceled)
		return nil, err
	}
	return c.exchange(ctx, st, frame)
}

// callFrame sends a request frame as it is: the tests use it to send what Call would not.
func (c *Client) callFrame(ctx context.Context, frame []byte) ([]byte, error) {
	st, stop, err := c.openStream(ctx)
	if err != nil {
		return nil, err
	}
	defer stop()
	return c.exchange(ctx, st, frame)
}

// openStream opens a stream that ctx cancels; the nonce is drawn after it is open, so that
// requests waiting for stream credit do not hold nonces far behind the ones in flight.
func (c *Client) openStream(ctx context.Context) (*quic.Stream, func() bool, error) {
	st, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	if d, ok := ctx.Deadline(); ok {
		st.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelRead(codeCanceled)
		st.CancelWrite(codeCanceled)
	})
	return st, stop, nil
}

func (c *Client) signRequest(method string, nonce uint64, payload []byte) ([]byte, error) {
	if len(method) == 0 || len(method) > maxMethodLen {
		return nil, fmt.Errorf("quicrpc: method name of %d bytes", len(method))
	}
	if len(payload) > c.cfg.MaxMessageSize-envelopeOverhead {
		return nil, fmt.Errorf("%w: payload of %d bytes, limit %d", ErrTooLarge, len(payload), c.cfg.MaxMessageSize-envelopeOverhead)
	}
	signed := requestSigningPayload(method, c.sender, c.binding, payload)
	sig, err := c.sign.Sign(pqkey.ContextRequest, c.cfg.ChainID, nonce, signed)
	if err != nil {
		return nil, err
	}
	return encode(&request{
		Method: method, ChainID: c.cfg.ChainID, Sender: c.sender, Nonce: nonce,
		Binding: c.binding, Payload: payload, Signature: sig,
	}), nil
}

// exchange writes a request frame and reads and verifies the response.
func (c *Client) exchange(ctx context.Context, st *quic.Stream, frame []byte) ([]byte, error) {
	hash := requestHash(frame)
	if err := writeFrame(st, frame); err != nil {
		return nil, c.streamErr(ctx, st, err)
	}
	st.Close()
	resp, err := c.readResponse(ctx, st, hash, 0)
	if err != nil {
		return nil, err
	}
	st.CancelRead(codeNone) // nothing follows a response; free the stream at once
	return resp, nil
}

// readResponse reads and verifies message seq answering the request of hash, and turns a
// status other than OK into its error.
func (c *Client) readResponse(ctx context.Context, st *quic.Stream, hash common.Hash, seq uint64) ([]byte, error) {
	body, err := readFrame(st, c.cfg.MaxMessageSize)
	if err != nil {
		return nil, c.streamErr(ctx, st, err)
	}
	return c.openResponse(body, hash, seq)
}

// openResponse decodes and verifies a response or event frame body: message seq answering the
// request of hash on this connection.
func (c *Client) openResponse(body []byte, hash common.Hash, seq uint64) ([]byte, error) {
	r, err := decodeResponse(body, c.cfg.scheme)
	if err != nil {
		return nil, err
	}
	if r.RequestHash != hash {
		return nil, fmt.Errorf("%w: response answers request %s, sent %s", ErrBadSignature, r.RequestHash, hash)
	}
	if r.Seq != seq {
		return nil, fmt.Errorf("%w: message %d, expected %d", ErrMalformed, r.Seq, seq)
	}
	// Verified over what this client expects (its request, its connection), never over what
	// the message claims.
	signed := responseSigningPayload(hash, c.binding, r.Status, r.Error, r.Payload)
	key := c.cfg.validator
	if key == nil { // Dial's hello under a pinned set: the reply announces the signer's key
		if key, err = c.member(r.Payload); err != nil {
			return nil, err
		}
	}
	if err := key.Verify(responseContext(seq), c.cfg.ChainID, seq, signed, r.Signature); err != nil {
		return nil, fmt.Errorf("%w: response not signed by validator %s: %w", ErrBadSignature, key.Address(), err)
	}
	if c.cfg.validator == nil && r.Status == statusOK {
		c.cfg.validator = key // only Dial runs before this is set: no call races it
	}
	switch r.Status {
	case statusOK:
		return r.Payload, nil
	case statusReplay:
		return nil, fmt.Errorf("%w (signed by validator): %s", ErrReplay, r.Error)
	default:
		return nil, fmt.Errorf("%w: %s", ErrRemote, r.Error)
	}
}

// member returns the member of the pinned set whose key a hello reply announces.
func (c *Client) member(announced []byte) (verifier, error) {
	k, err := c.cfg.scheme.parse(announced)
	if err != nil {
		return nil, fmt.Errorf("%w: the validator's hello announces no key: %v", ErrMalformed, err)
	}
	for _, m := range c.cfg.ValidatorSet {
		if bytes.Equal(m.Bytes(), k.Bytes()) {
			return m, nil
		}
	}
	return nil, fmt.Errorf("%w: validator %s (the pinned set has %d members)", ErrNotMember, k.Address(), len(c.cfg.ValidatorSet))
}

// streamErr names a failed stream read or write: our context, a server rejection, or transport.
func (c *Client) streamErr(ctx context.Context, st *quic.Stream, err error) error {
	st.CancelRead(codeCanceled)
	st.CancelWrite(codeCanceled)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) {
		return err
	}
	return streamError(err)
}

// Subscription is a stream of verified events from the validator. Next is for one goroutine;
// Close may be called from any.
type Subscription struct {
	c    *Client
	ctx  context.Context
	st   *quic.Stream
	stop func() bool
	hash common.Hash
	seq  uint64

	mu  sync.Mutex
	err error // set once: the subscription is over
}

// Subscribe starts a subscription; it returns once the validator has accepted it with a signed
// acknowledgement. ctx bounds the whole subscription.
func (c *Client) Subscribe(ctx context.Context, method string, payload []byte) (*Subscription, error) {
	st, err := c.conn.OpenStreamSync(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: %w", ErrClosed, err)
	}
	stop := context.AfterFunc(ctx, func() {
		st.CancelRead(codeCanceled)
		st.CancelWrite(codeCanceled)
	})
	frame, err := c.signRequest(method, c.nonce.Add(1), payload)
	if err == nil {
		err = writeFrame(st, frame)
		if err != nil {
			err = c.streamErr(ctx, st, err)
		}
	}
	if err != nil {
		stop()
		st.CancelRead(codeCanceled)
		st.CancelWrite(codeCanceled)
		return nil, err
	}
	st.Close()
	hash := requestHash(frame)
	if _, err := c.readResponse(ctx, st, hash, 0); err != nil {
		stop()
		return nil, err
	}
	return &Subscription{c: c, ctx: ctx, st: st, stop: stop, hash: hash}, nil
}

// Next returns the next event's payload. It returns io.EOF when the validator ended the
// subscription, ErrRemote when its handler failed, ErrClosed after Close, and the context's error
// when ctx ended.
func (s *Subscription) Next() ([]byte, error) {
	s.mu.Lock()
	err := s.err
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	payload, err := s.c.readResponse(s.ctx, s.st, s.hash, s.seq+1)
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.EOF
		}
		return nil, s.fail(err)
	}
	s.seq++
	return payload, nil
}

// Close ends the subscription; the validator's handler sees its context end.
func (s *Subscription) Close() {
	s.fail(ErrClosed)
}

// fail ends the subscription with err unless it has ended already, and returns why it ended.
func (s *Subscription) fail(err error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = err
		s.stop()
		s.st.CancelRead(codeCanceled)
		s.st.CancelWrite(codeCanceled)
	}
	return s.err
}
