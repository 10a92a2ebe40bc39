// Package obs is the daemons' observability: the -metrics HTTP server (Prometheus /metrics,
// /healthz, /readyz), the structured slog logger of -log-format and -log-level, a collector
// that reads a daemon's getters when /metrics is scraped, and Main, the main function the
// daemons share (command line, logger, signals, exit status). Each daemon owns its registry: nothing
// here registers anything globally.
package obs

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pqbridge/pqbridge/cmd/internal/cliconf"
)

// readyTimeout bounds one readiness check: a check that reaches a remote node must not hang
// the prober.
const readyTimeout = 2 * time.Second

// Flags are the observability options every daemon takes.
type Flags struct {
	MetricsAddr string
	LogFormat   string
	LogLevel    string
}

// Register adds -metrics, -log-format and -log-level to fs.
func (f *Flags) Register(fs *flag.FlagSet) {
	fs.StringVar(&f.MetricsAddr, "metrics", "", "serve Prometheus /metrics, /healthz and /readyz over HTTP on this address (e.g. 127.0.0.1:7300; port 0 picks one); empty: off")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format on stderr: text or json")
	fs.StringVar(&f.LogLevel, "log-level", "info", "minimum log level: debug, info, warn or error")
}

// Logger returns the logger the flags describe, writing to w.
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return nil, fmt.Errorf("-log-level %q: want debug, info, warn or error", f.LogLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(f.LogFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("-log-format %q: want text or json", f.LogFormat)
	}
}

// NewRegistry returns a registry holding the Go runtime and process collectors, for one daemon.
func NewRegistry() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}

// Server serves /metrics, /healthz and /readyz.
type Server struct {
	srv  *http.Server
	addr net.Addr
	done chan struct{}
}

// Serve starts the server on addr. /healthz answers 200 while the process runs; /readyz
// answers 200 when ready returns nil and 503 with its error otherwise.
func Serve(addr string, reg *prometheus.Registry, ready func(context.Context) error, log *slog.Logger) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := ready(ctx); err != nil {
			http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ready\n")
	})
	// Scrapes are small GETs: a client that holds a connection open without finishing a request,
	// or without reading the answer, is cut off rather than holding a descriptor.
	s := &Server{srv: &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: time.Minute, MaxHeaderBytes: 16 << 10}, addr: ln.Addr(), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics server", "err", err)
		}
	}()
	return s, nil
}

// Addr is the bound address (the port may have been 0).
func (s *Server) Addr() net.Addr { return s.addr }

// Stop closes the listener and waits (bounded by ctx) for scrapes in progress.
func (s *Server) Stop(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// Ready is a daemon's readiness check, set once it serves; until then, and again once it is
// stopping, /readyz answers 503.
type Ready struct {
	check atomic.Pointer[func(context.Context) error]
}

var errNotServing = errors.New("not serving (starting or stopping)")

// Set installs the check; nil withdraws readiness (the daemon is stopping).
func (r *Ready) Set(check func(context.Context) error) {
	if check == nil {
		r.check.Store(nil)
		return
	}
	r.check.Store(&check)
}

// Check runs the check installed, or fails if there is none.
func (r *Ready) Check(ctx context.Context) error {
	f := r.check.Load()
	if f == nil {
		return errNotServing
	}
	return (*f)(ctx)
}

// Daemon is a daemon's observability: the registry of its metrics, its readiness, and the
// -metrics server that serves them (none when -metrics is empty).
type Daemon struct {
	Registry *prometheus.Registry
	Ready    Ready
	srv      *Server
}

// Start makes the daemon's registry and serves it with its readiness on -metrics (nothing if
// it is empty), printing "metrics on ADDR" on stdout, the line tests and scripts read the bound
// address from.
func (f *Flags) Start(log *slog.Logger) (*Daemon, error) {
	return f.start(log, func(addr net.Addr) { fmt.Printf("metrics on %s\n", addr) })
}

// StartLogged is Start for a daemon whose standard output is its data stream (pqprover's
// results): the "metrics on ADDR" line goes to the log instead.
func (f *Flags) StartLogged(log *slog.Logger) (*Daemon, error) {
	return f.start(log, func(addr net.Addr) { log.Info("metrics on " + addr.String()) })
}

func (f *Flags) start(log *slog.Logger, announce func(net.Addr)) (*Daemon, error) {
	d := &Daemon{Registry: NewRegistry()}
	if f.MetricsAddr == "" {
		return d, nil
	}
	srv, err := Serve(f.MetricsAddr, d.Registry, d.Ready.Check, log)
	if err != nil {
		return nil, err
	}
	d.srv = srv
	announce(srv.Addr())
	return d, nil
}

// Stop withdraws readiness and stops the server; it may be called more than once. A daemon
// calls it before closing its stores, which a scrape reads.
func (d *Daemon) Stop() {
	d.Ready.Set(nil)
	if d.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.srv.Stop(ctx)
	}
}

// Main is a daemon's main function. It parses the command line and the environment into fs
// (cliconf.Execute: --help and --version exit with status 0 as fs is made with
// flag.ExitOnError), makes f's logger on stderr and calls run with it and a context that SIGINT
// or SIGTERM cancel. It exits with status 2 on a command-line error and with status 1 when the
// logger's flags or run fail, printing "NAME: error" (NAME is fs's) on stderr.
func Main(spec cliconf.Spec, fs *flag.FlagSet, f *Flags, run func(ctx context.Context, log *slog.Logger) error) {
	if err := cliconf.Execute(spec, fs, os.Args[1:], os.LookupEnv); err != nil {
		fmt.Fprintln(os.Stderr, fs.Name()+":", err)
		os.Exit(2)
	}
	if err := runLogged(f, run); err != nil {
		fmt.Fprintln(os.Stderr, fs.Name()+":", err)
		os.Exit(1)
	}
}

func runLogged(f *Flags, run func(ctx context.Context, log *slog.Logger) error) error {
	log, err := f.Logger(os.Stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, log)
}
