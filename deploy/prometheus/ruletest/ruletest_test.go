package ruletest

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/common/promslog"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"go.yaml.in/yaml/v3"
)

const alertsFile = "../alerts.yml"

func loadRules(t *testing.T) []rulefmt.Rule {
	t.Helper()
	rgs, errs := rulefmt.ParseFile(alertsFile, false, model.UTF8Validation, promParser, promslog.NewNopLogger())
	if len(errs) > 0 {
		t.Fatalf("%s: %v", alertsFile, errs)
	}
	var rules []rulefmt.Rule
	for _, g := range rgs.Groups {
		rules = append(rules, g.Rules...)
	}
	if len(rules) == 0 {
		t.Fatalf("%s: no rules", alertsFile)
	}
	return rules
}

// TestAlertRules runs every promtool-style test file of testdata against alerts.yml and checks
// that every alert is seen both firing and not firing.
func TestAlertRules(t *testing.T) {
	rules := loadRules(t)
	byName := map[string]rulefmt.Rule{}
	for _, r := range rules {
		if r.Alert == "" {
			t.Fatalf("recording rule %q: only alerts are expected in %s", r.Record, alertsFile)
		}
		if _, dup := byName[r.Alert]; dup {
			t.Fatalf("alert %s defined twice", r.Alert)
		}
		byName[r.Alert] = r
	}
	files, err := filepath.Glob("testdata/*.yml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in testdata (%v)", err)
	}
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second, Parser: promParser})
	fired, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf testFile
		dec := yaml.NewDecoder(strings.NewReader(string(raw)))
		dec.KnownFields(true)
		if err := dec.Decode(&tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if len(tf.RuleFiles) != 1 || tf.RuleFiles[0] != "../../alerts.yml" {
			t.Fatalf("%s: rule_files must be [../../alerts.yml] (relative to the test file, as promtool reads it)", f)
		}
		every := time.Duration(tf.EvaluationInterval)
		if every == 0 {
			every = time.Minute
		}
		for i := range tf.Tests {
			g := &tf.Tests[i]
			t.Run(filepath.Base(f)+"/"+g.Name, func(t *testing.T) {
				runGroup(t, eng, g, every, byName, fired, quiet)
			})
		}
	}
	for _, r := range rules {
		if !fired[r.Alert] {
			t.Errorf("alert %s: no test expects it firing", r.Alert)
		}
		if !quiet[r.Alert] {
			t.Errorf("alert %s: no test expects it not firing", r.Alert)
		}
	}
}

func runGroup(t *testing.T, eng *promql.Engine, g *testGroup, every time.Duration, byName map[string]rulefmt.Rule, fired, quiet map[string]bool) {
	st, err := g.load()
	if err != nil {
		t.Fatal(err)
	}
	checks := map[time.Duration][]alertTest{}
	var end time.Duration
	for _, at := range g.AlertRuleTests {
		if _, ok := byName[at.Alertname]; !ok {
			t.Fatalf("test of unknown alert %q", at.Alertname)
		}
		d := time.Duration(at.EvalTime)
		if d%every != 0 {
			t.Fatalf("alert %s: eval_time %s is not a multiple of the evaluation interval %s", at.Alertname, d, every)
		}
		checks[d] = append(checks[d], at)
		end = max(end, d)
	}
	states := map[string]*alertState{}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		states[n] = &alertState{rule: byName[n], active: map[string]activeAlert{}}
	}
	ctx := context.Background()
	for d := time.Duration(0); d <= end; d += every {
		ts := time.Unix(0, 0).Add(d)
		for _, n := range names {
			if err := states[n].eval(ctx, eng, st, ts); err != nil {
				t.Fatal(err)
			}
		}
		for _, at := range checks[d] {
			got, want := states[at.Alertname].firing(ts), expected(at)
			if join(got) != join(want) {
				t.Errorf("alert %s at %s: firing %s, want %s", at.Alertname, d, join(got), join(want))
			}
			if len(want) > 0 {
				fired[at.Alertname] = true
			} else {
				quiet[at.Alertname] = true
			}
		}
	}
}

// TestAlertAnnotations checks that every alert has a severity, a summary that is a valid
// template (Prometheus's $labels and $value) and a runbook (its target: the main module's test).
func TestAlertAnnotations(t *testing.T) {
	for _, r := range loadRules(t) {
		switch r.Labels["severity"] {
		case "critical", "warning":
		default:
			t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, r.Labels["severity"])
		}
		if r.Annotations["runbook"] == "" {
			t.Errorf("alert %s: no runbook annotation", r.Alert)
		}
		s := r.Annotations["summary"]
		if s == "" {
			t.Errorf("alert %s: no summary", r.Alert)
			continue
		}
		tmpl, err := template.New(r.Alert).Option("missingkey=error").Parse("{{$labels := .Labels}}{{$value := .Value}}" + s)
		if err != nil {
			t.Errorf("alert %s: summary: %v", r.Alert, err)
			continue
		}
		var out strings.Builder
		data := struct {
			Labels map[string]string
			Value  float64
		}{map[string]string{"instance": "x", "rollup": "1", "prover": "p", "job": "j"}, 1}
		if err := tmpl.Execute(&out, data); err != nil {
			t.Errorf("alert %s: summary: %v", r.Alert, err)
		}
	}
}
