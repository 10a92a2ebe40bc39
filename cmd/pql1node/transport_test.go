package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pqbridge/pqbridge/internal/proctest"
	"github.com/pqbridge/pqbridge/l1/quicrpc"
)

// TestTransportLimitFlags runs the pql1node binary with a per-address connection cap of 2: a
// third connection from the same address is refused, /metrics counts the refusal by reason and
// the open connections; a --reserved-conns not below --max-conns stops the node at start.
func TestTransportLimitFlags(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(proctest.Build(t, "pql1node"), "pql1node")
	validator := testKey(1)
	seed := proctest.SeedFile(t, dir, "validator.key", validator)

	bad := proctest.Start(t, bin, nil, "-datadir", filepath.Join(dir, "bad"), "-listen", "127.0.0.1:0",
		"-validator-key-file", seed, "-reserved-conns", "1024")
	select {
	case <-bad.Exited():
		var ee *exec.ExitError
		if err := bad.Err(); !errors.As(err, &ee) || !strings.Contains(bad.Stderr(), "--reserved-conns must be below --max-conns") {
			t.Fatalf("exit %v, stderr %q; want the reserved-conns error", err, bad.Stderr())
		}
	case <-time.After(proctest.Timeout):
		t.Fatal("a node with --reserved-conns 1024 of 1024 is running")
	}

	p := proctest.Start(t, bin, nil, "-datadir", filepath.Join(dir, "data"), "-listen", "127.0.0.1:0",
		"-chain-id", "5", "-validator-key-file", seed, "-block-interval", "20ms",
		"-max-conns-per-addr", "2", "-metrics", "127.0.0.1:0")
	metricsAddr := p.Line(t, "metrics on ")
	addr := p.Addr(t)
	defer func() {
		if err := p.Stop(); err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cfg := quicrpc.ClientConfig{Key: testKey(2), ChainID: 5, ValidatorPublicKey: validator.Public()}
	for range 2 {
		c, err := quicrpc.Dial(ctx, addr, cfg)
		if err != nil {
			t.Fatalf("connection within the cap: %v", err)
		}
		defer c.Close()
	}
	if _, err := quicrpc.Dial(ctx, addr, cfg); !errors.Is(err, quicrpc.ErrRefused) {
		t.Fatalf("third connection from one address with --max-conns-per-addr 2: %v, want %v", err, quicrpc.ErrRefused)
	}

	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	metrics := string(b)
	for series, want := range map[string]func(float64) bool{
		`pql1node_conn_refused_total{reason="per_address"}`: func(v float64) bool { return v >= 1 },
		`pql1node_conn_refused_total{reason="per_key"}`:     func(v float64) bool { return v == 0 },
		`pql1node_conns`: func(v float64) bool { return v == 2 },
	} {
		if v, ok := metricValue(metrics, series); !ok || !want(v) {
			t.Errorf("%s = %v (present %v)", series, v, ok)
		}
	}
}

// metricValue finds the sample of series (name and labels exactly as exposed) in a text
// exposition.
func metricValue(text, series string) (float64, bool) {
	for l := range strings.Lines(text) {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return v, err == nil
		}
	}
	return 0, false
}
