package rpcguard

import (
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/ethereum/go-ethereum/rpc"
)

// Server serves JSON-RPC over HTTP and WebSocket on one listener within Config's limits.
type Server struct {
	cfg    Config
	log    *slog.Logger
	public *rpc.Server
	admin  *rpc.Server // the public namespaces and the admin ones; == public without AdminToken
	http   *http.Server
	ln     *limitListener
	limit  *ipLimiter

	mu       sync.Mutex
	refusals map[string]uint64
}

// New returns a Server with no namespaces, not yet serving.
func New(cfg Config, log *slog.Logger) (*Server, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	g := &Server{cfg: cfg, log: log, public: newRPC(&cfg), limit: newIPLimiter(cfg.Rate, cfg.Burst), refusals: map[string]uint64{}}
	g.admin = g.public
	if cfg.AdminToken != "" {
		g.admin = newRPC(&cfg)
	}
	g.http = &http.Server{Handler: http.HandlerFunc(g.serveHTTP), ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, IdleTimeout: cfg.IdleTimeout, MaxHeaderBytes: 16 << 10,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	if cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("rpcguard: TLS certificate %s, key %s: %w", cfg.TLSCert, cfg.TLSKey, err)
		}
		g.http.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return g, nil
}

func newRPC(cfg *Config) *rpc.Server {
	s := rpc.NewServer()
	s.SetBatchLimits(cfg.BatchItems, cfg.BatchResponseBytes)
	s.SetHTTPBodyLimit(cfg.BodyBytes)
	s.SetWebsocketReadLimit(cfg.WSMessageBytes)
	return s
}

// Register adds a public namespace.
func (g *Server) Register(namespace string, service any) error {
	if err := g.public.RegisterName(namespace, service); err != nil {
		return err
	}
	if g.admin != g.public {
		return g.admin.RegisterName(namespace, service)
	}
	return nil
}

// RegisterAdmin adds a namespace served only to requests with the AdminToken (to all without one).
func (g *Server) RegisterAdmin(namespace string, service any) error {
	return g.admin.RegisterName(namespace, service)
}

// Serve serves on ln until Shutdown (run it in a goroutine); it returns http.ErrServerClosed then.
func (g *Server) Serve(ln net.Listener) error {
	g.ln = &limitListener{Listener: ln, g: g, perIP: map[string]int{}}
	if g.http.TLSConfig != nil {
		return g.http.ServeTLS(g.ln, "", "")
	}
	return g.http.Serve(g.ln)
}

// HTTP is the http.Server, for Shutdown.
func (g *Server) HTTP() *http.Server { return g.http }

// Stop stops the rpc servers (after HTTP().Shutdown).
func (g *Server) Stop() {
	g.public.Stop()
	if g.admin != g.public {
		g.admin.Stop()
	}
}

// TLS reports whether it serves HTTPS/WSS.
func (g *Server) TLS() bool { return g.http.TLSConfig != nil }

// Refusals returns the requests and connections refused (or, for rate_ws_delayed, slowed down)
// since New, by reason: conns_total, conns_per_ip, rate, rate_ws_delayed, body_size, auth,
// ws_message_size, ws_bad_message, ws_not_reading, ws_silent_peer.
func (g *Server) Refusals() map[string]uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return maps.Clone(g.refusals)
}

// Conns returns the connections open now.
func (g *Server) Conns() int {
	if g.ln == nil {
		return 0
	}
	return g.ln.count()
}

func (g *Server) refuse(reason string) {
	g.mu.Lock()
	g.refusals[reason]++
	g.mu.Unlock()
}

var errAuth = errors.New("wrong bearer token")

func (g *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	ip := hostOf(r.RemoteAddr)
	srv, err := g.server(r)
	if err != nil {
		g.refuse("auth")
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	if strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
		g.serveWS(w, r, srv)
		return
	}
	if !g.limit.allow(ip) {
		g.refuse("rate")
		w.Header().Set("Retry-After", "1")
		http.Error(w, "too many requests from "+ip, http.StatusTooManyRequests)
		return
	}
	if r.ContentLength > int64(g.cfg.BodyBytes) {
		g.refuse("body_size")
		http.Error(w, fmt.Sprintf("request body of %d bytes over the limit of %d", r.ContentLength, g.cfg.BodyBytes), http.StatusRequestEntityTooLarge)
		return
	}
	srv.ServeHTTP(w, r)
}

// server picks the rpc.Server for r: the admin one for the right bearer token, the public one
// without an Authorization header, none (an error) for a wrong token.
func (g *Server) server(r *http.Request) (*rpc.Server, error) {
	h := r.Header.Get("Authorization")
	if h == "" || g.admin == g.public {
		return g.public, nil
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(tok), []byte(g.cfg.AdminToken)) != 1 {
		return nil, errAuth
	}
	return g.admin, nil
}
