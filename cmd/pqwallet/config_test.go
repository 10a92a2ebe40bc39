package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigPrecedence checks that each global option comes from the command line, else the
// environment, else <home>/config.json, else its default.
func TestConfigPrecedence(t *testing.T) {
	home := t.TempDir()
	writeConfig(t, home, `{"l1": "file:1", "sequencer": "http://file", "l1-chain-id": 9, "rollup": "4", "json": true}`)
	env := map[string]string{"PQBRIDGE_HOME": home, "PQBRIDGE_SEQUENCER": "http://env", "PQBRIDGE_L1_CHAIN_ID": "8"}
	a, root := newApp(&bytes.Buffer{}, &bytes.Buffer{}, lookup(env))
	root.SetArgs([]string{"key", "list", "--l1-chain-id", "7"})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	c := a.cfg
	if c.home != home || c.l1Addr != "file:1" || c.sequencer != "http://env" || c.l1ChainID != 7 || c.rollupID != 4 || !c.json || c.l2ChainID != 1 {
		t.Fatalf("config %+v", c)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, file string
		env        map[string]string
		want       string
	}{
		{"unknown option", `{"l1-chainid": 3}`, nil, `unknown option "l1-chainid"`},
		{"home in file", `{"home": "/x"}`, nil, `unknown option "home"`},
		{"bad value in file", `{"rollup": "one"}`, nil, `config.json: "rollup": "one"`},
		{"bad value in env", `{}`, map[string]string{"PQBRIDGE_TIMEOUT": "soon"}, `PQBRIDGE_TIMEOUT="soon"`},
		{"not json", `{"l1": `, nil, "config file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			home := t.TempDir()
			writeConfig(t, home, tt.file)
			env := map[string]string{"PQBRIDGE_HOME": home}
			for k, v := range tt.env {
				env[k] = v
			}
			_, root := newApp(&bytes.Buffer{}, &bytes.Buffer{}, lookup(env))
			root.SetArgs([]string{"key", "list"})
			if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func writeConfig(t *testing.T, home, s string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(home, configFileName), []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}
