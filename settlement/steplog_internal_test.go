package settlement

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestStepFailuresLogSparsely: an L1 outage that fails every 200 ms poll for a minute logs the
// first failure, one line per 30 s with the count, and the recovery — not 300 lines.
func TestStepFailuresLogSparsely(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	var f stepFailures
	now := time.Unix(1000, 0)
	down := errors.New("l1 disconnected")
	for i := 0; i < 300; i++ {
		f.report(log, down, now)
		now = now.Add(200 * time.Millisecond)
	}
	f.report(log, nil, now)
	f.report(log, nil, now)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"failed_in_a_row=1", "failed_in_a_row=151", "failed_steps=300"}
	if len(lines) != len(want) {
		t.Fatalf("logged %d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Fatalf("line %d = %q, want it to contain %q", i, lines[i], w)
		}
	}
}
