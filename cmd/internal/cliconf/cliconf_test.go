package cliconf

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFileErrors: a bad --config file or environment value is an error naming its source.
func TestFileErrors(t *testing.T) {
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
		{"another config file", `{"config": "other.json"}`, nil, "cannot name another"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			fs.Int("n", 0, "")
			err := execute(Spec{}, fs, []string{"-config", write(tc.file)}, func(k string) (string, bool) { v, ok := tc.env[k]; return v, ok }, &bytes.Buffer{})
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
