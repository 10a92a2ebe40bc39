package obs

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestLogger(t *testing.T) {
	var buf bytes.Buffer
	f := Flags{LogFormat: "json", LogLevel: "warn"}
	log, err := f.Logger(&buf)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("hidden")
	log.Warn("shown", "k", 1)
	if out := buf.String(); strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) {
		t.Fatalf("log %q", out)
	}
	for _, bad := range []Flags{{LogFormat: "xml", LogLevel: "info"}, {LogFormat: "text", LogLevel: "loud"}} {
		if _, err := bad.Logger(io.Discard); err == nil {
			t.Fatalf("%+v accepted", bad)
		}
	}
}

// TestServer: /healthz always, /readyz only while the check passes, /metrics from the snapshot.
func TestServer(t *testing.T) {
	f := Flags{MetricsAddr: "127.0.0.1:0"}
	d, err := f.Start(slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Stop()
	d.Registry.MustRegister(Snapshot(func(e *Emitter) {
		e.Gauge("test_height", "h", 7)
		e.Counter("test_rejected_total", "r", 2, "reason", "bad_nonce")
		e.Bool("test_ok", "ok", true)
	}))
	get := func(path string) (int, string) {
		resp, err := http.Get("http://" + d.srv.Addr().String() + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, _ := get("/healthz"); code != 200 {
		t.Fatalf("/healthz %d", code)
	}
	if code, _ := get("/readyz"); code != 503 {
		t.Fatalf("/readyz before Set: %d", code)
	}
	d.Ready.Set(func(context.Context) error { return errors.New("behind") })
	if code, body := get("/readyz"); code != 503 || !strings.Contains(body, "behind") {
		t.Fatalf("/readyz failing: %d %q", code, body)
	}
	d.Ready.Set(func(context.Context) error { return nil })
	if code, _ := get("/readyz"); code != 200 {
		t.Fatalf("/readyz ready: %d", code)
	}
	_, body := get("/metrics")
	for _, want := range []string{"test_height 7", `test_rejected_total{reason="bad_nonce"} 2`, "test_ok 1", "go_goroutines"} {
		if !strings.Contains(body, want) {
			t.Fatalf("/metrics lacks %q:\n%s", want, body)
		}
	}
}
