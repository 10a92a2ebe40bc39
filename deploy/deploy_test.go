package deploy

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// daemons are the binaries whose metrics the rules and dashboards use, each with a dashboard.
var daemons = []string{"pql1node", "pqsequencer", "pqchallenger", "pqprover"}

// metricRef finds the daemons' metric names in a PromQL expression.
var metricRef = regexp.MustCompile(`\b(?:pql1node|pqsequencer|pqchallenger|pqprover)_[a-zA-Z0-9_]+\b`)

type alertRule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	Labels      map[string]string `yaml:"labels"`
	Annotations map[string]string `yaml:"annotations"`
}

func loadAlerts(t *testing.T) []alertRule {
	t.Helper()
	raw, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Name  string      `yaml:"name"`
			Rules []alertRule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(raw, &f); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var rules []alertRule
	for _, g := range f.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) < 10 {
		t.Fatalf("alerts.yml: %d rules, want every alert of docs/runbook.md", len(rules))
	}
	return rules
}

// TestAlertRunbooks checks that every alert names, in its runbook annotation, a section of
// README.md or docs/*.md that exists.
func TestAlertRunbooks(t *testing.T) {
	anchors := map[string]map[string]bool{}
	for _, r := range loadAlerts(t) {
		rb := r.Annotations["runbook"]
		file, anchor, ok := strings.Cut(rb, "#")
		if !ok || anchor == "" {
			t.Errorf("alert %s: runbook %q is not FILE#SECTION", r.Alert, rb)
			continue
		}
		if file != "README.md" && !(strings.HasPrefix(file, "docs/") && strings.HasSuffix(file, ".md")) {
			t.Errorf("alert %s: runbook %q is not in README.md or docs/*.md", r.Alert, rb)
			continue
		}
		if anchors[file] == nil {
			raw, err := os.ReadFile(filepath.Join("..", file))
			if err != nil {
				t.Errorf("alert %s: runbook %q: %v", r.Alert, rb, err)
				continue
			}
			anchors[file] = headingAnchors(string(raw))
		}
		if !anchors[file][anchor] {
			t.Errorf("alert %s: runbook %q: no heading of %s has the anchor %q", r.Alert, rb, file, anchor)
		}
	}
}

// headingAnchors returns the anchors GitHub gives the Markdown headings of doc: lower case,
// letters and digits kept, - and _ too, spaces made -, the rest dropped.
func headingAnchors(doc string) map[string]bool {
	out := map[string]bool{}
	inCode := false
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "```") {
			inCode = !inCode
		}
		if inCode || !strings.HasPrefix(line, "#") {
			continue
		}
		h := strings.ToLower(strings.TrimSpace(strings.TrimLeft(line, "#")))
		var b strings.Builder
		for _, c := range h {
			switch {
			case unicode.IsLetter(c), unicode.IsNumber(c), c == '-', c == '_':
				b.WriteRune(c)
			case c == ' ':
				b.WriteByte('-')
			}
		}
		out[b.String()] = true
	}
	return out
}

func TestHeadingAnchors(t *testing.T) {
	got := headingAnchors("# Operator runbook\n## L1 node down or halted\n```\n# not a heading\n```\n### Forced-inclusion window (§5)\n")
	for _, want := range []string{"operator-runbook", "l1-node-down-or-halted", "forced-inclusion-window-5"} {
		if !got[want] {
			t.Errorf("anchor %q missing from %v", want, got)
		}
	}
	if got["not-a-heading"] || len(got) != 3 {
		t.Errorf("anchors %v, want the 3 headings outside code", got)
	}
}
