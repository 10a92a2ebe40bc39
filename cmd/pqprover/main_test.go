package main

import (
	"log/slog"
	"strings"
	"testing"

	"github.com/pqbridge/pqbridge/prover"
)

// TestRunRefuses: option combinations that cannot work are refused before any key is loaded.
// Serving itself is tested with the other daemons (cmd/pqsequencer TestDaemonsSettleValidity).
func TestRunRefuses(t *testing.T) {
	ok := config{keysDir: "keys", params: prover.Params{Depth: 4, BatchSize: 2}, workers: 1, queue: 1}
	for _, tc := range []struct {
		name string
		edit func(c *config)
		want string
	}{
		{"no keys", func(c *config) { c.keysDir = "" }, "-keys is required"},
		{"jobs without out", func(c *config) { c.jobsDir = "in" }, "-jobs needs -out"},
		{"listen and jobs", func(c *config) { c.jobsDir, c.outDir, c.listen = "in", "out", "127.0.0.1:0" }, "exclude each other"},
		{"no workers", func(c *config) { c.workers = 0 }, "must be at least 1"},
		{"bad params", func(c *config) { c.params.BatchSize = 0 }, "batch size 0 outside"},
		{"empty key directory", func(c *config) { c.keysDir = "old,,new" }, "want distinct key directories"},
		{"key directory twice", func(c *config) { c.keysDir = "old,old" }, "want distinct key directories"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			tc.edit(&c)
			if err := run(t.Context(), c, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}
