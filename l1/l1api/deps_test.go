package l1api_test

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/pqbridge/pqbridge/"

// stateMachine is the L1 node and everything behind it: a client that links one of these runs
// the chain's code (and its pebble store) in its own process.
var stateMachine = []string{
	module + "l1/chain",
	module + "l1/node",
	module + "l1/abci",
	"github.com/cometbft/cometbft",
}

// TestClientsLinkNoStateMachine: the L1 clients import l1api, never the state machine. The wallet,
// l1client and l1api itself keep no store and link no pebble at all; the challenger, settlement,
// l1source and the sequencer keep their own pebble stores, so for them only the state machine is
// forbidden.
func TestClientsLinkNoStateMachine(t *testing.T) {
	noPebble := append([]string{"github.com/cockroachdb/pebble"}, stateMachine...)
	cases := []struct {
		pkg       string
		forbidden []string
	}{
		{"./l1/l1api", noPebble},
		{"./l1/l1client", noPebble},
		{"./cmd/pqwallet", noPebble},
		{"./cmd/pqchallenger", stateMachine},
		{"./fraud/challenger", stateMachine},
		{"./settlement", stateMachine},
		{"./l1/l1source", stateMachine},
		{"./cmd/pqsequencer", stateMachine},
	}
	for _, tc := range cases {
		imports := deps(t, tc.pkg)
		if _, ok := imports[module+"l1/l1api"]; !ok && tc.pkg != "./l1/l1api" {
			t.Errorf("%s: does not link l1/l1api (is the package list stale?)", tc.pkg)
		}
		for _, bad := range tc.forbidden {
			for dep, by := range imports {
				if dep == bad || strings.HasPrefix(dep, bad+"/") {
					t.Errorf("%s links %s (imported by %s)", tc.pkg, dep, strings.Join(by, ", "))
				}
			}
		}
	}
}

// TestDepsSeesStateMachine: the check above reads the graph right: the node links all it forbids.
func TestDepsSeesStateMachine(t *testing.T) {
	imports := deps(t, "./l1/abci")
	for _, want := range append([]string{"github.com/cockroachdb/pebble"}, stateMachine...) {
		found := false
		for dep := range imports {
			found = found || dep == want || strings.HasPrefix(dep, want+"/")
		}
		if !found {
			t.Errorf("l1/abci does not link %s: the dependency listing is broken", want)
		}
	}
}

// deps maps every package pkg links (itself included) to the packages of that set importing it.
func deps(t *testing.T, pkg string) map[string][]string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	cmd := exec.Command(goBin, "list", "-deps", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, pkg)
	cmd.Dir = filepath.Join("..", "..")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v\n%s", pkg, err, msg)
	}
	imports := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if _, ok := imports[f[0]]; !ok {
			imports[f[0]] = nil
		}
		for _, dep := range f[1:] {
			if !slices.Contains(imports[dep], f[0]) {
				imports[dep] = append(imports[dep], f[0])
			}
		}
	}
	return imports
}
