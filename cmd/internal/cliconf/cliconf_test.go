package cliconf

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestParsePrecedence: the command line beats the environment, which beats the file, which
// beats the default.
func TestParsePrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"l1-chain-id": 5, "mode": "validity", "interval": "2s", "dev": true, "listen": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"PQBRIDGE_MODE": "optimistic", "PQBRIDGE_LISTEN": "env"}
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	chainID := fs.Uint64("l1-chain-id", 1, "")
	mode := fs.String("mode", "auto", "")
	listen := fs.String("listen", "default", "")
	interval := fs.Duration("interval", time.Second, "")
	dev := fs.Bool("dev", false, "")
	untouched := fs.String("untouched", "default", "")
	err := Parse(fs, []string{"-config", file, "-listen", "cli"}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatal(err)
	}
	if *chainID != 5 || *mode != "optimistic" || *listen != "cli" || *interval != 2*time.Second || !*dev || *untouched != "default" {
		t.Fatalf("chain %d mode %s listen %s interval %v dev %v untouched %s", *chainID, *mode, *listen, *interval, *dev, *untouched)
	}
}

func TestParseErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(content string) string {
		p := filepath.Join(dir, "c.json")
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"unknown key", `{"nope": 1}`, nil, `unknown option "nope"`},
		{"bad value in file", `{"n": "x"}`, nil, "n:"},
		{"bad value in env", `{}`, map[string]string{"PQBRIDGE_N": "x"}, "PQBRIDGE_N"},
		{"not an object", `[1]`, nil, "want a JSON object"},
		{"nested value", `{"n": [1]}`, nil, "want a string, number or boolean"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.SetOutput(io.Discard)
			fs.Int("n", 0, "")
			err := Parse(fs, []string{"-config", write(tc.file)}, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

func TestEnvName(t *testing.T) {
	if got := EnvName("validator-pubkey-file"); got != "PQBRIDGE_VALIDATOR_PUBKEY_FILE" {
		t.Fatal(got)
	}
}
