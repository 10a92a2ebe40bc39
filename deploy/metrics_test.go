package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

var (
	// nameLiteral is a metric name written out in a daemon's source.
	nameLiteral = regexp.MustCompile(`"((?:pql1node|pqsequencer|pqchallenger|pqprover)_[a-z0-9_]+)"`)
	// l1Conn and newProofs are the calls of cmd/internal/obs that name metrics from a daemon's
	// name: obs.L1Connection(e, "pqsequencer", ...), obs.NewProofs(reg, "pqprover", ...).
	l1Conn    = regexp.MustCompile(`obs\.L1Connection\(\w+, "(\w+)"`)
	newProofs = regexp.MustCompile(`obs\.NewProofs\(\w+, "(\w+)"`)
	// suffixLiteral and nameField are how obs writes those names: daemon+"_l1_connected",
	// Namespace: daemon, Name: "proofs_total".
	suffixLiteral = regexp.MustCompile(`daemon\s*\+\s*"(_[a-z0-9_]+)"`)
	nameField     = regexp.MustCompile(`Name:\s*"([a-z0-9_]+)"`)
)

// exported returns the metric names the daemons register: the names written out in
// cmd/<daemon>/*.go and those cmd/internal/obs builds from the daemon's name.
func exported(t *testing.T) map[string]bool {
	t.Helper()
	read := func(glob string) string {
		files, err := filepath.Glob(glob)
		if err != nil || len(files) == 0 {
			t.Fatalf("%s: no files (%v)", glob, err)
		}
		var b strings.Builder
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			b.Write(raw)
		}
		return b.String()
	}
	obsL1, obsProofs := read("../cmd/internal/obs/l1.go"), read("../cmd/internal/obs/proofs.go")
	names := map[string]bool{}
	for _, d := range daemons {
		src := read("../cmd/" + d + "/*.go")
		for _, m := range nameLiteral.FindAllStringSubmatch(src, -1) {
			names[m[1]] = true
		}
		for _, m := range l1Conn.FindAllStringSubmatch(src, -1) {
			for _, s := range suffixLiteral.FindAllStringSubmatch(obsL1, -1) {
				names[m[1]+s[1]] = true
			}
		}
		for _, m := range newProofs.FindAllStringSubmatch(src, -1) {
			for _, s := range nameField.FindAllStringSubmatch(obsProofs, -1) {
				names[m[1]+"_"+s[1]] = true
			}
		}
	}
	for _, want := range []string{"pql1node_block_height", "pqsequencer_l1_connected", "pqprover_proofs_total", "pqchallenger_stuck"} {
		if !names[want] {
			t.Fatalf("metric %s not found in the daemons' sources: the scan is broken (found %d names)", want, len(names))
		}
	}
	return names
}

// known reports whether name is exported, as itself or as a histogram's series.
func known(names map[string]bool, name string) bool {
	if names[name] {
		return true
	}
	for _, s := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, s); ok && names[b] {
			return true
		}
	}
	return false
}

// TestAlertMetricsExported checks that every metric an alert reads is one a daemon exports.
func TestAlertMetricsExported(t *testing.T) {
	names := exported(t)
	for _, r := range loadAlerts(t) {
		refs := metricRef.FindAllString(r.Expr, -1)
		if len(refs) == 0 && !strings.Contains(r.Expr, "up{") {
			t.Errorf("alert %s: expression %q reads no daemon metric", r.Alert, r.Expr)
		}
		for _, m := range refs {
			if !known(names, m) {
				t.Errorf("alert %s: metric %s is exported by no daemon", r.Alert, m)
			}
		}
	}
}

func TestExportedScanFindsOnlyReal(t *testing.T) {
	names := exported(t)
	if known(names, "pql1node_no_such_metric") || !known(names, "pqprover_proof_seconds_bucket") {
		t.Errorf("known: wrong answer (%d names)", len(names))
	}
	var list []string
	for n := range names {
		list = append(list, n)
	}
	sort.Strings(list)
	for _, n := range list {
		if strings.HasSuffix(n, "_") {
			t.Errorf("scan produced a truncated name %q", n)
		}
	}
}
