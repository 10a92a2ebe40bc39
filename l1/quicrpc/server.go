package quicrpc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/quic-go/quic-go"

	"github.com/pqbridge/pqbridge/l1/pqkey"
)

// helloMethod is answered by every server with its signed public key: Dial calls it so the
// validator proves its key over the new connection before the client sends anything else.
const helloMethod = "quicrpc.hello"

// Request is a request whose envelope has been verified: signature, chain, binding, nonce.
type Request struct {
	Method        string
	Sender        *pqkey.PublicKey // the verified signer
	SenderAddress common.Address
	Nonce         uint64
	Payload       []byte
	RemoteAddr    net.Addr
}

// Handler answers a call. A returned error reaches the client as ErrRemote with err's message.
type Handler func(ctx context.Context, req *Request) ([]byte, error)

// StreamHandler serves a subscription: it calls send for every event until it returns, the
// client closes the subscription or ctx ends (send then fails). A returned error reaches the
// client as ErrRemote after the events sent so far.
type StreamHandler func(ctx context.Context, req *Request, send func(payload []byte) error) error

// Server serves signed calls and subscriptions over QUIC.
type Server struct {
	cfg     ServerConfig
	tlsConf *tls.Config
	sign    signer
	keys    *keyCache
	adm     *admission
	log     *slog.Logger

	mu       sync.Mutex
	handlers map[string]Handler
	streams  map[string]StreamHandler
	conns    map[*quic.Conn]struct{}
	tr       *quic.Transport
	ln       *quic.Listener
	cancel   context.CancelFunc
	stopped  bool

	wg sync.WaitGroup
}

// NewServer checks cfg and prepares a server; Start listens.
func NewServer(cfg ServerConfig) (*Server, error) {
	cfg.setDefaults()
	if cfg.signer == nil {
		if cfg.ValidatorKey == nil {
			return nil, errors.New("quicrpc: server needs a validator key")
		}
		cfg.signer = mldsaSigner{cfg.ValidatorKey}
	}
	if cfg.TLSCertificate == nil {
		cert, err := selfSignedCertificate()
		if err != nil {
			return nil, err
		}
		cfg.TLSCertificate = &cert
	}
	s := &Server{
		cfg:      cfg,
		tlsConf:  serverTLSConfig(*cfg.TLSCertificate),
		sign:     cfg.signer,
		keys:     newKeyCache(cfg.KeyCacheSize),
		log:      cfg.Logger,
		handlers: make(map[string]Handler),
		streams:  make(map[string]StreamHandler),
		conns:    make(map[*quic.Conn]struct{}),
	}
	s.adm = newAdmission(&s.cfg)
	return s, nil
}

// Handle registers the handler of a call method. It panics on an empty, reserved or already
// registered name, like http.ServeMux: that is a programming error.
func (s *Server) Handle(method string, h Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkNewMethod(method)
	s.handlers[method] = h
}

// HandleStream registers the handler of a subscription method; it panics like Handle.
func (s *Server) HandleStream(method string, h StreamHandler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.checkNewMethod(method)
	s.streams[method] = h
}

func (s *Server) checkNewMethod(method string) {
	_, call := s.handlers[method]
	_, sub := s.streams[method]
	if method == "" || len(method) > maxMethodLen || method == helloMethod || call || sub {
		panic(fmt.Sprintf("quicrpc: cannot register method %q", method))
	}
}

// Start listens on cfg.ListenAddr and serves until ctx ends or Stop is called.
func (s *Server) Start(ctx context.Context) error {
	udpAddr, err := net.ResolveUDPAddr("udp", s.cfg.ListenAddr)
	if err != nil {
		return fmt.Errorf("quicrpc: listen address: %w", err)
	}
	udp, err := net.ListenUDP("udp", udpAddr)
	if err != nil {
		return fmt.Errorf("quicrpc: listen: %w", err)
	}
	tr := &quic.Transport{Conn: udp, StatelessResetKey: s.resetKey(), ConnContext: s.adm.connContext}
	ln, err := tr.Listen(s.tlsConf, &quic.Config{
		HandshakeIdleTimeout:  s.cfg.HandshakeTimeout,
		MaxIdleTimeout:        s.cfg.IdleTimeout,
		MaxIncomingStreams:    int64(s.cfg.MaxConcurrentStreams),
		MaxIncomingUniStreams: -1,
	})
	if err != nil {
		udp.Close()
		return fmt.Errorf("quicrpc: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s.mu.Lock()
	if s.ln != nil || s.stopped {
		s.mu.Unlock()
		cancel()
		ln.Close()
		tr.Close()
		udp.Close()
		return errors.New("quicrpc: server already started")
	}
	s.tr, s.ln, s.cancel = tr, ln, cancel
	s.mu.Unlock()

	s.wg.Add(1)
	go s.acceptLoop(ctx)
	context.AfterFunc(ctx, s.Stop)
	s.log.Info("quicrpc server listening", "addr", ln.Addr(), "chain", s.cfg.ChainID)
	return nil
}

// resetKey is the stateless reset key, derived from the validator key so that it is the same
// after a restart: a restarted server then resets the connections of its previous run at their
// first packet (RFC 9000 §10.3), and clients redial at once instead of waiting out the idle
// timeout. Without a validator key (the benchmarks' signers) there is none.
func (s *Server) resetKey() *quic.StatelessResetKey {
	if s.cfg.ValidatorKey == nil {
		return nil
	}
	seed := s.cfg.ValidatorKey.Seed()
	k := quic.StatelessResetKey(sha256.Sum256(append([]byte("pqbridge quicrpc stateless reset key\x00"), seed[:]...)))
	return &k
}

// Addr is the address the server listens on, nil before Start.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Stop closes every connection and waits for the handlers to return. It may be called more than
// once.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.stopped || s.ln == nil {
		s.stopped = true
		s.mu.Unlock()
		return
	}
	s.stopped = true
	s.cancel()
	s.ln.Close()
	for c := range s.conns {
		c.CloseWithError(connCodeShutdown, "server stopping")
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.tr.Close()
	s.tr.Conn.Close()
}

func (s *Server) acceptLoop(ctx context.Context) {
	defer s.wg.Done()
	for {
		conn, err := s.ln.Accept(ctx)
		if err != nil {
			return
		}
		s.mu.Lock()
		if s.stopped || len(s.conns) >= s.cfg.MaxConnections {
			s.mu.Unlock()
			conn.CloseWithError(connCodeBusy, "too many connections")
			continue
		}
		s.conns[conn] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(ctx, conn)
	}
}

// peer is the state of one client connection.
type peer struct {
	conn    *quic.Conn
	binding []byte
	bucket  *tokenBucket
	adm     peerAdmission

	mu      sync.Mutex
	senders map[[32]byte]*replayWindow
}

func (s *Server) serveConn(ctx context.Context, conn *quic.Conn) {
	defer func() {
		s.mu.Lock()
		delete(s.conns, conn)
		s.mu.Unlock()
		s.wg.Done()
	}()
	p := &peer{conn: conn, adm: peerAdmission{addr: sourceAddr(conn.RemoteAddr())}}
	defer s.adm.release(&p.adm)
	// A connection that names no key soon is closed: until it does, it holds a slot that
	// may be reserved.
	firstRequest := time.AfterFunc(s.cfg.FirstRequestTimeout, func() {
		if !p.adm.classified.Load() {
			s.adm.count(ReasonNoRequest, p.adm.addr)
			conn.CloseWithError(connCodeBusy, fmt.Sprintf("no signed request within %s", s.cfg.FirstRequestTimeout))
		}
	})
	defer firstRequest.Stop()
	binding, err := connBinding(conn)
	if err != nil {
		s.log.Warn("quicrpc: closing connection", "remote", conn.RemoteAddr(), "err", err)
		conn.CloseWithError(connCodeNotPostQuantum, err.Error())
		return
	}
	p.binding = binding
	p.bucket = newTokenBucket(s.cfg.RequestsPerSecond, s.cfg.RequestBurst)
	p.senders = make(map[[32]byte]*replayWindow)
	for {
		st, err := conn.AcceptStream(ctx)
		if err != nil {
			return
		}
		s.wg.Add(1)
		go s.serveStream(ctx, p, st)
	}
}

// acceptNonce records nonce for sender id on this connection.
func (p *peer) acceptNonce(id [32]byte, nonce uint64, maxSenders int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	w, ok := p.senders[id]
	if !ok {
		if len(p.senders) >= maxSenders {
			return fmt.Errorf("%w: more than %d sender keys on one connection", ErrRateLimited, maxSenders)
		}
		w = new(replayWindow)
		p.senders[id] = w
	}
	if !w.accept(nonce) {
		return fmt.Errorf("%w: nonce %d", ErrReplay, nonce)
	}
	return nil
}

func (s *Server) serveStream(ctx context.Context, p *peer, st *quic.Stream) {
	defer s.wg.Done()
	release, err := s.adm.acquireStream(p.adm.addr)
	if err != nil {
		s.reject(p, st, err)
		return
	}
	defer release()
	st.SetDeadline(time.Now().Add(s.cfg.RequestTimeout))
	req, hash, h, sh, err := s.readRequest(p, st)
	if errors.Is(err, ErrReplay) {
		s.writeResponse(st, p, hash, 0, statusReplay, err.Error(), nil)
		st.Close()
		return
	}
	if err != nil {
		s.reject(p, st, err)
		return
	}

	// The handler's context ends with the server, and when the client abandons the stream
	// (quic-go cancels the stream's context on STOP_SENDING).
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(st.Context(), cancel)()

	if sh == nil {
		hctx, cancelTimeout := context.WithTimeout(hctx, s.cfg.RequestTimeout)
		defer cancelTimeout()
		out, err := s.runHandler(hctx, h, req)
		status, msg := statusOK, ""
		if err != nil {
			status, msg = statusError, err.Error()
			out = nil
		}
		s.writeResponse(st, p, hash, 0, status, msg, out)
		st.Close()
		return
	}
	s.serveSubscription(hctx, p, st, req, hash, sh)
}

func (s *Server) serveSubscription(ctx context.Context, p *peer, st *quic.Stream, req *Request, hash common.Hash, sh StreamHandler) {
	if err := s.writeResponse(st, p, hash, 0, statusOK, "", nil); err != nil {
		return
	}
	st.SetReadDeadline(time.Time{}) // the client sends nothing more; only cancellation matters
	var seq uint64
	send := func(payload []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		seq++
		return s.writeResponse(st, p, hash, seq, statusOK, "", payload)
	}
	err := s.runStreamHandler(ctx, sh, req, send)
	if err != nil && ctx.Err() == nil {
		seq++
		s.writeResponse(st, p, hash, seq, statusError, err.Error(), nil)
	}
	if ctx.Err() != nil {
		st.CancelWrite(codeShutdown)
		return
	}
	st.Close()
}

func (s *Server) runHandler(ctx context.Context, h Handler, req *Request) (out []byte, err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("quicrpc: handler panicked", "method", req.Method, "panic", r)
			out, err = nil, errors.New("internal error")
		}
	}()
	return h(ctx, req)
}

func (s *Server) runStreamHandler(ctx context.Context, h StreamHandler, req *Request, send func([]byte) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("quicrpc: stream handler panicked", "method", req.Method, "panic", r)
			err = errors.New("internal error")
		}
	}()
	return h(ctx, req, send)
}

// readRequest reads, decodes and authenticates one request, cheapest checks first: nothing
// costly (a signature verification) happens for a peer over its rate, a frame over the size
// limit, for another chain, another connection or an unknown method. It returns ErrReplay
// together with the request hash, since a replay is answered with a signed response.
func (s *Server) readRequest(p *peer, st *quic.Stream) (*Request, common.Hash, Handler, StreamHandler, error) {
	var none common.Hash
	if !p.bucket.allow() {
		s.adm.count(ReasonRequestRate, p.adm.addr)
		return nil, none, nil, nil, fmt.Errorf("%w: over %.0f requests/s", ErrRateLimited, s.cfg.RequestsPerSecond)
	}
	frame, err := readFrame(st, s.cfg.MaxMessageSize)
	if err != nil {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			err = fmt.Errorf("%w: reading request: %v", ErrTimeout, err)
		}
		return nil, none, nil, nil, err
	}
	// Exactly one frame: the client closes its side after it. Reading the end also completes
	// the stream's receive side, without which QUIC never returns the stream's credit.
	var extra [1]byte
	if n, err := st.Read(extra[:]); n != 0 || err != io.EOF {
		return nil, none, nil, nil, fmt.Errorf("%w: data after the request frame", ErrMalformed)
	}
	r, err := decodeRequest(frame, s.cfg.scheme)
	if err != nil {
		return nil, none, nil, nil, err
	}
	if r.ChainID != s.cfg.ChainID {
		return nil, none, nil, nil, fmt.Errorf("%w: chain %d, serving %d", ErrWrongChain, r.ChainID, s.cfg.ChainID)
	}
	if !bytes.Equal(r.Binding, p.binding) {
		return nil, none, nil, nil, ErrBindingMismatch
	}
	s.mu.Lock()
	h, sh := s.handlers[r.Method], s.streams[r.Method]
	s.mu.Unlock()
	if r.Method == helloMethod {
		h = s.hello
	}
	if h == nil && sh == nil {
		return nil, none, nil, nil, fmt.Errorf("%w: %q", ErrUnknownMethod, r.Method)
	}
	key, id, err := s.keys.get(r.Sender, s.cfg.scheme)
	if err != nil {
		return nil, none, nil, nil, fmt.Errorf("%w: sender key: %v", ErrMalformed, err)
	}
	signed := requestSigningPayload(r.Method, r.Sender, r.Binding, r.Payload)
	if err := key.Verify(pqkey.ContextRequest, r.ChainID, r.Nonce, signed, r.Signature); err != nil {
		return nil, none, nil, nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	hash := requestHash(frame)
	if err := p.acceptNonce(id, r.Nonce, s.cfg.MaxSendersPerConn); err != nil {
		return nil, hash, nil, nil, err
	}
	if err := s.adm.classify(&p.adm, key.Address()); err != nil {
		s.log.Debug("quicrpc: refusing connection", "remote", p.conn.RemoteAddr(), "err", err)
		p.conn.CloseWithError(connCodeBusy, err.Error())
		return nil, none, nil, nil, err
	}
	sender, _ := key.(*pqkey.PublicKey) // nil only under the benchmarks' Ed25519 baseline
	return &Request{
		Method:        r.Method,
		Sender:        sender,
		SenderAddress: key.Address(),
		Nonce:         r.Nonce,
		Payload:       r.Payload,
		RemoteAddr:    p.conn.RemoteAddr(),
	}, hash, h, sh, nil
}

// hello answers Dial's check with the server's public key, so that a client pinning a set of
// validator keys knows which member signs this connection (and can name a non-member's).
func (s *Server) hello(context.Context, *Request) ([]byte, error) {
	return s.sign.publicKey().Bytes(), nil
}

// writeResponse signs and writes one response (seq 0) or event (seq > 0).
func (s *Server) writeResponse(st *quic.Stream, p *peer, hash common.Hash, seq, status uint64, errMsg string, payload []byte) error {
	frame, err := s.sealResponse(p.binding, hash, seq, status, errMsg, payload)
	if err != nil {
		s.log.Error("quicrpc: signing response", "err", err)
		st.CancelWrite(codeShutdown)
		return err
	}
	st.SetWriteDeadline(time.Now().Add(s.cfg.RequestTimeout))
	return writeFrame(st, frame)
}

// sealResponse signs one response or event for the connection of binding and encodes it.
func (s *Server) sealResponse(binding []byte, hash common.Hash, seq, status uint64, errMsg string, payload []byte) ([]byte, error) {
	if len(errMsg) > maxErrorLen {
		errMsg = errMsg[:maxErrorLen]
	}
	sig, err := s.sign.Sign(responseContext(seq), s.cfg.ChainID, seq, responseSigningPayload(hash, binding, status, errMsg, payload))
	if err != nil {
		return nil, err
	}
	return encode(&response{RequestHash: hash, Seq: seq, Status: status, Error: errMsg, Payload: payload, Signature: sig}), nil
}

// reject resets the stream in both directions with the code of err.
func (s *Server) reject(p *peer, st *quic.Stream, err error) {
	code := errorCode(err)
	s.log.Debug("quicrpc: rejected request", "remote", p.conn.RemoteAddr(), "code", code, "err", err)
	st.CancelRead(code)
	st.CancelWrite(code)
}
