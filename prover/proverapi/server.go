package proverapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/pqbridge/pqbridge/prover"
)

// Prover proves jobs: *prover.Service, or a wrapper of it (cmd/pqprover's metrics).
type Prover interface {
	Prove(ctx context.Context, job *prover.Job) (*prover.Result, error)
}

// DefaultProveTimeout bounds one POST /v1/prove, the wait in the queue included: a few proofs
// of the largest batches on a slow machine.
const DefaultProveTimeout = 10 * time.Minute

// ServerConfig configures a Server.
type ServerConfig struct {
	// Keys are the keys Prover proves with: /v1/info serves their parameters and verifying key,
	// and jobs of other parameters are refused.
	Keys *prover.Keys
	// MoreKeys are further key sets of Keys' parameters that Prover holds (prover.Config.MoreKeys):
	// /v1/info lists their verifying keys after Keys'.
	MoreKeys []*prover.Keys
	Prover   Prover
	// MaxInFlight bounds the jobs accepted at once (being proven or queued): a prover.Service's
	// Workers + QueueSize, so that the server answers "busy" instead of letting requests pile up
	// behind a full queue.
	MaxInFlight int
	// Workers is how many proofs Prover makes at once (prover.Config.Workers), announced in
	// /v1/info for pools [1].
	Workers      int
	ProveTimeout time.Duration // [DefaultProveTimeout]
	// ListenAddr is where Start listens; port 0 picks one. Without a host (":8646", or empty) it
	// is loopback: another interface must be named (0.0.0.0:8646 for all of them).
	ListenAddr string
	// Token, if set, is the bearer token (Authorization: Bearer <token>) every request needs;
	// others get 401 unauthorized. A prover reachable from other hosts should have one: a proof
	// costs seconds of every core.
	Token  string
	Logger *slog.Logger
}

// Server serves the prover API: New, Start, Stop (or Handler, for a server of one's own).
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	info    []byte // the /v1/info reply, made once
	maxJob  int64
	slots   chan struct{} // one per job accepted
	handler http.Handler

	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// NewServer checks cfg and prepares the handlers.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Keys == nil || cfg.Prover == nil {
		return nil, errors.New("proverapi: Keys and Prover are required")
	}
	if cfg.MaxInFlight <= 0 {
		return nil, fmt.Errorf("proverapi: MaxInFlight %d, want at least 1", cfg.MaxInFlight)
	}
	if cfg.ProveTimeout <= 0 {
		cfg.ProveTimeout = DefaultProveTimeout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = 1
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ij, err := newInfoJSON(cfg.Keys, cfg.MoreKeys, cfg.Workers)
	if err != nil {
		return nil, err
	}
	info, err := json.Marshal(ij)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, log: cfg.Logger, info: append(info, '\n'), maxJob: MaxJobBytes(cfg.Keys),
		slots: make(chan struct{}, cfg.MaxInFlight), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathInfo, s.handleInfo)
	mux.HandleFunc("POST "+PathProve, s.handleProve)
	for path, method := range map[string]string{PathInfo: http.MethodGet, PathProve: http.MethodPost} {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", method)
			writeError(w, http.StatusMethodNotAllowed, CodeMethod, fmt.Sprintf("%s %s: use %s", r.Method, path, method))
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, CodeNotFound, fmt.Sprintf("no %s %s: the API is GET %s and POST %s", r.Method, r.URL.Path, PathInfo, PathProve))
	})
	s.handler = mux
	if cfg.Token != "" {
		s.handler = s.authorized(mux)
	}
	return s, nil
}

// Handler is the API's handler.
func (s *Server) Handler() http.Handler { return s.handler }

// Start listens on ListenAddr and serves until Stop.
func (s *Server) Start(context.Context) error {
	addr := LoopbackDefault(s.cfg.ListenAddr)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proverapi: listen: %w", err)
	}
	s.addr = ln.Addr()
	if tcp, ok := s.addr.(*net.TCPAddr); ok && !tcp.IP.IsLoopback() && s.cfg.Token == "" {
		s.log.Warn("prover API reachable beyond this host without a token: anyone who reaches it can make it prove", "addr", s.addr.String())
	}
	// No write timeout: a reply is written only once its proof is done, bounded by ProveTimeout.
	s.srv = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: 2 * time.Minute}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("prover API server", "err", err)
		}
	}()
	return nil
}

// Addr is the bound address (the port may have been 0); nil before Start.
func (s *Server) Addr() net.Addr { return s.addr }

// Stop stops accepting requests and waits for the proofs in progress to be answered until ctx
// ends; then it closes the connections left (their queued jobs are dropped: gnark cannot stop
// a proof under way, which the Service finishes on its own).
func (s *Server) Stop(ctx context.Context) error {
	if s.srv == nil {
		return nil
	}
	err := s.srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, s.srv.Close())
	}
	<-s.done
	return err
}

func (s *Server) handleInfo(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(s.info)
}

func (s *Server) handleProve(w http.ResponseWriter, r *http.Request) {
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, CodeBusy, fmt.Sprintf("%d jobs are being proven or queued already", cap(s.slots)))
		return
	}
	tooLarge := fmt.Sprintf("job larger than %d bytes, the most a job of %v takes", s.maxJob, s.cfg.Keys.Params)
	if r.ContentLength > s.maxJob {
		writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLarge)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxJob))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			writeError(w, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLarge)
			return
		}
		writeError(w, http.StatusBadRequest, CodeBadJob, fmt.Sprintf("reading the job: %v", err))
		return
	}
	job, err := prover.DecodeJob(body)
	switch {
	case errors.Is(err, prover.ErrNotProvable):
		writeError(w, http.StatusUnprocessableEntity, CodeNotProvable, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, CodeBadJob, err.Error())
		return
	case job.Params != s.cfg.Keys.Params:
		writeError(w, http.StatusUnprocessableEntity, CodeWrongParams,
			fmt.Sprintf("job %s is for %v; this prover serves %v", job.ID, job.Params, s.cfg.Keys.Params))
		return
	}
	// The client's context: a client that hangs up drops its job if it is still queued.
	ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ProveTimeout)
	defer cancel()
	start := time.Now()
	res, err := s.cfg.Prover.Prove(ctx, job)
	var out []byte
	if err == nil {
		out, err = prover.EncodeResult(res)
	}
	switch {
	case err == nil:
		s.log.Info("job proven", "job", job.ID, "batch", job.Commitment.BatchNumber, "prove", res.Duration.Round(time.Millisecond),
			"total", time.Since(start).Round(time.Millisecond))
		w.Header().Set("Content-Type", "application/json")
		w.Write(append(out, '\n'))
		return
	case r.Context().Err() != nil:
		s.log.Info("job abandoned by its client", "job", job.ID, "err", err)
		return // nobody reads a reply
	}
	s.log.Warn("job failed", "job", job.ID, "batch", job.Commitment.BatchNumber, "err", err)
	switch {
	case errors.Is(err, prover.ErrNotProvable):
		writeError(w, http.StatusUnprocessableEntity, CodeNotProvable, err.Error())
	case errors.Is(err, prover.ErrStopped):
		writeError(w, http.StatusServiceUnavailable, CodeStopped, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusGatewayTimeout, CodeTimeout, fmt.Sprintf("job %s not proven within %v", job.ID, s.cfg.ProveTimeout))
	default:
		writeError(w, http.StatusInternalServerError, CodeFailed, err.Error())
	}
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	b, _ := json.Marshal(errorJSON{Code: code, Error: msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}
