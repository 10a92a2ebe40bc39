package ruletest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
)

// testFile is promtool's unit-test file format (the part of it used here: alert tests).
type testFile struct {
	RuleFiles          []string       `yaml:"rule_files"`
	EvaluationInterval model.Duration `yaml:"evaluation_interval"`
	Tests              []testGroup    `yaml:"tests"`
}

type testGroup struct {
	Name        string         `yaml:"name"`
	Interval    model.Duration `yaml:"interval"`
	InputSeries []struct {
		Series string `yaml:"series"`
		Values string `yaml:"values"`
	} `yaml:"input_series"`
	AlertRuleTests []alertTest `yaml:"alert_rule_test"`
}

type alertTest struct {
	EvalTime  model.Duration `yaml:"eval_time"`
	Alertname string         `yaml:"alertname"`
	ExpAlerts []struct {
		ExpLabels map[string]string `yaml:"exp_labels"`
	} `yaml:"exp_alerts"`
}

var promParser = parser.NewParser(parser.Options{})

// load expands the group's input series (promtool notation: "1+2x10", "_" for no sample), the
// i-th value at i intervals.
func (g *testGroup) load() (*memStore, error) {
	step := time.Duration(g.Interval)
	if step == 0 {
		step = time.Minute
	}
	st := &memStore{}
	for _, in := range g.InputSeries {
		lset, vals, err := promParser.ParseSeriesDesc(in.Series + " " + in.Values)
		if err != nil {
			return nil, fmt.Errorf("series %q: %w", in.Series, err)
		}
		s := series{lset: lset}
		for i, v := range vals {
			if v.Omitted {
				continue
			}
			s.ts = append(s.ts, int64(i)*step.Milliseconds())
			s.vs = append(s.vs, v.Value)
		}
		st.series = append(st.series, s)
	}
	return st, nil
}

// alertState follows one alerting rule as Prometheus does: an element of the expression's
// result is pending from the first evaluation that returns it, firing once it has been returned
// for the rule's for duration, and gone at the first evaluation that does not return it.
type alertState struct {
	rule   rulefmt.Rule
	active map[string]activeAlert // by the alert's labels
}

type activeAlert struct {
	lset labels.Labels
	at   time.Time
}

// eval evaluates the rule at ts with the engine over st and updates the active alerts.
func (a *alertState) eval(ctx context.Context, eng *promql.Engine, st *memStore, ts time.Time) error {
	q, err := eng.NewInstantQuery(ctx, st, nil, a.rule.Expr, ts)
	if err != nil {
		return fmt.Errorf("alert %s: %w", a.rule.Alert, err)
	}
	defer q.Close()
	res := q.Exec(ctx)
	if res.Err != nil {
		return fmt.Errorf("alert %s at %s: %w", a.rule.Alert, ts.UTC().Format(time.TimeOnly), res.Err)
	}
	vec, err := res.Vector()
	if err != nil {
		return fmt.Errorf("alert %s: %w", a.rule.Alert, err)
	}
	seen := map[string]bool{}
	for _, s := range vec {
		b := labels.NewBuilder(s.Metric).Del(labels.MetricName)
		for k, v := range a.rule.Labels {
			b.Set(k, v)
		}
		b.Set(labels.AlertName, a.rule.Alert)
		lset := b.Labels()
		key := lset.String()
		seen[key] = true
		if _, ok := a.active[key]; !ok {
			a.active[key] = activeAlert{lset: lset, at: ts}
		}
	}
	for k := range a.active {
		if !seen[k] {
			delete(a.active, k)
		}
	}
	return nil
}

// firing lists the labels (alertname left out, as in promtool's exp_labels) of the alerts
// firing at ts, sorted.
func (a *alertState) firing(ts time.Time) []string {
	var out []string
	for _, al := range a.active {
		if ts.Sub(al.at) >= time.Duration(a.rule.For) {
			out = append(out, labels.NewBuilder(al.lset).Del(labels.AlertName).Labels().String())
		}
	}
	sort.Strings(out)
	return out
}

func expected(t alertTest) []string {
	var out []string
	for _, e := range t.ExpAlerts {
		out = append(out, labels.FromMap(e.ExpLabels).String())
	}
	sort.Strings(out)
	return out
}

func join(ls []string) string {
	if len(ls) == 0 {
		return "(none)"
	}
	return strings.Join(ls, ", ")
}
