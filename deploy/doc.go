// Package deploy holds no code: its tests check the operator files next to it — the Prometheus
// alert rules (prometheus/alerts.yml, evaluated by the prometheus/ruletest module) and the
// Grafana dashboards (grafana/*.json) — against the daemons' metrics and docs/runbook.md.
package deploy
