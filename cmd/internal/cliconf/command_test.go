package cliconf

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

// testFlags is a daemon's flag set: a string, a number, a duration, a bool and a one-letter flag.
type testFlags struct {
	fs       *flag.FlagSet
	datadir  string
	chainID  uint64
	interval time.Duration
	dev      bool
	verbose  bool
}

func newTestFlags() *testFlags {
	f := &testFlags{fs: flag.NewFlagSet("pqtest", flag.ContinueOnError)}
	f.fs.StringVar(&f.datadir, "datadir", "pqtest-data", "data directory")
	f.fs.Uint64Var(&f.chainID, "l1-chain-id", 1, "L1 chain ID")
	f.fs.DurationVar(&f.interval, "block-interval", time.Second, "time between blocks")
	f.fs.BoolVar(&f.dev, "dev", false, "development mode")
	f.fs.BoolVar(&f.verbose, "v", false, "verbose")
	return f
}

var testSpec = Spec{Short: "a test daemon", Long: "pqtest is a daemon for the tests.", Example: "  pqtest --datadir /tmp/x"}

// run executes the test spec on f and returns the error and what the command printed.
func (f *testFlags) run(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := execute(testSpec, f.fs, args, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, &out)
	return out.String(), err
}

func TestExecuteHelp(t *testing.T) {
	for _, arg := range []string{"--help", "-h", "-help"} {
		t.Run(arg, func(t *testing.T) {
			f := newTestFlags()
			out, err := f.run(t, map[string]string{"PQBRIDGE_DATADIR": "env"}, arg)
			if !errors.Is(err, flag.ErrHelp) {
				t.Fatalf("err %v, want flag.ErrHelp", err)
			}
			want := []string{"pqtest is a daemon for the tests.", "pqtest [flags]", "pqtest --datadir /tmp/x",
				`(default "pqtest-data")`, "(default 1s)", "--version", "-h, --help",
				"(--name value, --name=value or -name\nvalue)", `{"block-interval": "1s", "datadir": "pqtest-data"}`}
			f.fs.VisitAll(func(fl *flag.Flag) { want = append(want, "--"+fl.Name, "[$"+EnvName(fl.Name)+"]") })
			for _, w := range want {
				if !strings.Contains(out, w) {
					t.Errorf("help lacks %q:\n%s", w, out)
				}
			}
			if f.datadir != "pqtest-data" {
				t.Fatal("help went on to read the environment")
			}
		})
	}
}

func TestExecuteVersion(t *testing.T) {
	out, err := newTestFlags().run(t, nil, "--version")
	if !errors.Is(err, flag.ErrHelp) || !strings.Contains(out, "pqtest version ") {
		t.Fatalf("err %v, output %q", err, out)
	}
}

// TestExecuteDashes: --name value, --name=value and the standard library's -name value and
// -name=value all set the flag; a value that starts with '-' is a value.
func TestExecuteDashes(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		datadir string
		dev     bool
		verbose bool
	}{
		{[]string{"--datadir", "a"}, "a", false, false},
		{[]string{"--datadir=a"}, "a", false, false},
		{[]string{"-datadir", "a"}, "a", false, false},
		{[]string{"-datadir=a"}, "a", false, false},
		{[]string{"-datadir", "-dev"}, "-dev", false, false},
		{[]string{"-dev"}, "pqtest-data", true, false},
		{[]string{"--dev"}, "pqtest-data", true, false},
		{[]string{"--dev=true", "--dev=false"}, "pqtest-data", false, false},
		{[]string{"-dev=false", "-datadir", "a"}, "a", false, false},
		{[]string{"-v"}, "pqtest-data", false, true},
		{[]string{"--v", "-dev", "--datadir", "b"}, "b", true, true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			f := newTestFlags()
			if _, err := f.run(t, nil, tc.args...); err != nil {
				t.Fatal(err)
			}
			if f.datadir != tc.datadir || f.dev != tc.dev || f.verbose != tc.verbose {
				t.Fatalf("datadir %q dev %v v %v", f.datadir, f.dev, f.verbose)
			}
		})
	}
}

// TestExecutePrecedence: the command line beats the environment, which beats the --config file,
// which beats the default; fs.Visit then sees every flag set by any of them, as pqsequencer
// expects.
func TestExecutePrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c.json")
	if err := os.WriteFile(file, []byte(`{"l1-chain-id": 5, "block-interval": "2s", "dev": true, "datadir": "file"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		env      map[string]string
		args     []string
		datadir  string
		chainID  uint64
		interval time.Duration
	}{
		{"defaults", nil, nil, "pqtest-data", 1, time.Second},
		{"file", nil, []string{"--config", file}, "file", 5, 2 * time.Second},
		{"env over file", map[string]string{"PQBRIDGE_DATADIR": "env", "PQBRIDGE_L1_CHAIN_ID": "7"}, []string{"-config", file}, "env", 7, 2 * time.Second},
		{"command line over env", map[string]string{"PQBRIDGE_DATADIR": "env"}, []string{"--config=" + file, "--datadir", "cli"}, "cli", 5, 2 * time.Second},
		{"config file from env", map[string]string{"PQBRIDGE_CONFIG": file}, []string{"-datadir=cli"}, "cli", 5, 2 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newTestFlags()
			if _, err := f.run(t, tc.env, tc.args...); err != nil {
				t.Fatal(err)
			}
			if f.datadir != tc.datadir || f.chainID != tc.chainID || f.interval != tc.interval || f.verbose {
				t.Fatalf("datadir %q chain %d interval %v v %v", f.datadir, f.chainID, f.interval, f.verbose)
			}
			set := map[string]bool{}
			f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
			if set["v"] || set["datadir"] != (tc.datadir != "pqtest-data") || set["dev"] != f.dev || set["l1-chain-id"] != (tc.chainID != 1) {
				t.Fatalf("fs.Visit saw %v", set)
			}
		})
	}
}

func TestExecuteErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"l1-chain-id": "x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown flag", nil, []string{"--nope", "1"}, "unknown flag: --nope"},
		{"unknown single-dash flag", nil, []string{"-nope"}, "unknown flag: --nope"},
		{"bad value on the command line", nil, []string{"-l1-chain-id", "x"}, `invalid argument "x" for "--l1-chain-id"`},
		{"bad value in env", map[string]string{"PQBRIDGE_BLOCK_INTERVAL": "soon"}, nil, "PQBRIDGE_BLOCK_INTERVAL"},
		{"bad value in file", nil, []string{"--config", bad}, "config " + bad + ": l1-chain-id:"},
		{"missing value", nil, []string{"--datadir"}, "flag needs an argument: --datadir"},
		{"positional argument", nil, []string{"--dev", "extra"}, `unexpected argument "extra"`},
		{"bool followed by a value", nil, []string{"-dev", "false"}, `unexpected argument "false"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newTestFlags().run(t, tc.env, tc.args...)
			if err == nil || errors.Is(err, flag.ErrHelp) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
		})
	}
}

// TestExecuteArgs: a spec that takes positional arguments hands them over in fs.Args(), after
// the flags are filled.
func TestExecuteArgs(t *testing.T) {
	f := newTestFlags()
	spec := testSpec
	spec.Args = cobra.MaximumNArgs(2)
	err := execute(spec, f.fs, []string{"a", "-datadir", "d", "--", "-b"}, nil, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.fs.Args(); len(got) != 2 || got[0] != "a" || got[1] != "-b" || f.datadir != "d" {
		t.Fatalf("args %q datadir %q", got, f.datadir)
	}
	if err := execute(spec, newTestFlags().fs, []string{"a", "b", "c"}, nil, &bytes.Buffer{}); err == nil {
		t.Fatal("three arguments accepted")
	}
}
