package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

// TestPrometheusConfig checks the configuration --prometheus writes: one scrape job per daemon,
// named as the alert rules expect, at the daemon's metrics address (the pql1node job at every
// validator's), and the rules copied.
func TestPrometheusConfig(t *testing.T) {
	const alerts = "../../deploy/prometheus/alerts.yml"
	metrics := map[string]string{"pql1node": "127.0.0.1:9100", "pqsequencer": "127.0.0.1:9101",
		"pqprover": "127.0.0.1:9102", "pqchallenger": "127.0.0.1:40123", "pql1node-2": "127.0.0.1:9104", "pql1node-3": "127.0.0.1:9105"}
	wantTargets := map[string][]string{"pql1node": {"127.0.0.1:9100", "127.0.0.1:9104", "127.0.0.1:9105"},
		"pqsequencer": {"127.0.0.1:9101"}, "pqprover": {"127.0.0.1:9102"}, "pqchallenger": {"127.0.0.1:40123"}}
	dir := filepath.Join(t.TempDir(), "prometheus")
	path, err := writePrometheus(dir, metrics, alerts)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct {
		RuleFiles     []string `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(raw, &cfg); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, raw)
	}
	got := map[string][]string{}
	for _, sc := range cfg.ScrapeConfigs {
		if len(sc.StaticConfigs) != 1 {
			t.Fatalf("job %s: static_configs %v, want one", sc.JobName, sc.StaticConfigs)
		}
		got[sc.JobName] = sc.StaticConfigs[0].Targets
	}
	if len(got) != len(wantTargets) {
		t.Errorf("jobs %v, want %v", got, wantTargets)
	}
	for job, targets := range wantTargets {
		if !slices.Equal(got[job], targets) {
			t.Errorf("job %s: targets %q, want %q", job, got[job], targets)
		}
	}
	if len(cfg.RuleFiles) != 1 || cfg.RuleFiles[0] != "alerts.yml" {
		t.Errorf("rule_files %v, want [alerts.yml]", cfg.RuleFiles)
	}
	want, err := os.ReadFile(alerts)
	if err != nil {
		t.Fatal(err)
	}
	copied, err := os.ReadFile(filepath.Join(dir, "alerts.yml"))
	if err != nil || !bytes.Equal(copied, want) {
		t.Errorf("alerts.yml not copied as is (err %v)", err)
	}
	// Every job the rules name is one the configuration scrapes.
	for _, m := range regexp.MustCompile(`job="([^"]+)"`).FindAllStringSubmatch(string(want), -1) {
		if _, ok := got[m[1]]; !ok {
			t.Errorf("alerts.yml names job %q, which the devnet's configuration does not scrape", m[1])
		}
	}

	delete(metrics, "pqprover")
	if _, err := writePrometheus(t.TempDir(), metrics, alerts); err == nil {
		t.Error("a daemon without a metrics address: no error")
	}
	if _, err := writePrometheus(t.TempDir(), map[string]string{}, filepath.Join(t.TempDir(), "none.yml")); err == nil {
		t.Error("missing alert rules: no error")
	}
}
