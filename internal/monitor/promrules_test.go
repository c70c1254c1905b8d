package monitor

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestPrometheusRulesPassPromtool writes the rules for a project with an
// hourly and a daily pipeline and checks them with promtool: the file is
// valid, and promtool's unit tests fire each alert on series shaped like
// shp's /metrics.
func TestPrometheusRulesPassPromtool(t *testing.T) {
	promtool := testutil.Tool(t, "promtool")
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config.yaml", "project: t\npipelines:\n  orders:\n    source: s\n    schedule: '@hourly'\n  events:\n    source: s\n    schedule: '@daily'\n  adhoc:\n    source: s\n")
	write("sources.yaml", "sources:\n  s:\n    type: file\n    path: data/\n")
	write("monitoring.yaml", "overrides:\n  events:\n    data_stale: {after: 30m, severity: critical}\n")
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg, problems := ParseConfig(p.Monitoring)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	rules, err := PrometheusRules(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	// adhoc has no schedule: no staleness rule for it.
	if strings.Contains(string(rules), `pipeline="adhoc"`) || !strings.Contains(string(rules), `shp_pipeline_seconds_since_success{pipeline="orders"} > 7200`) ||
		!strings.Contains(string(rules), `shp_pipeline_seconds_since_success{pipeline="events"} > 1800`) {
		t.Fatalf("rules:\n%s", rules)
	}
	write("rules.yml", string(rules))
	if out, err := exec.Command(promtool, "check", "rules", filepath.Join(dir, "rules.yml")).CombinedOutput(); err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	write("rules_test.yml", `rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: 'shp_pipeline_last_run_status{pipeline="orders",status="failed"}'
        values: '0 0 1 1 1'
      - series: 'shp_pipeline_last_run_status{pipeline="orders",status="held"}'
        values: '0 0 0 0 0'
      - series: 'shp_healing_actions{pipeline="orders",strategy="hold_commit",outcome="proposed"}'
        values: '0 0 0 2 2'
      - series: 'shp_pipeline_seconds_since_success{pipeline="orders"}'
        values: '7000+60x10'
      - series: 'shp_pipeline_last_success_timestamp_seconds{pipeline="orders"}'
        values: '1e9x10'
    alert_rule_test:
      - eval_time: 4m
        alertname: ShpRunFailed
        exp_alerts:
          - exp_labels: {pipeline: orders, status: failed, severity: critical, class: failure}
            exp_annotations:
              summary: the last run of orders failed
              command: shp runs --pipeline orders --status failed
      - eval_time: 4m
        alertname: ShpApprovalPending
        exp_alerts:
          - exp_labels: {pipeline: orders, severity: warning, class: decision}
            exp_annotations:
              summary: 2 healing action(s) of orders wait for a person
              command: shp healing actions --pipeline orders
      - eval_time: 1m
        alertname: ShpDataStale
        exp_alerts: []
      - eval_time: 5m
        alertname: ShpDataStale
        exp_alerts:
          - exp_labels: {pipeline: orders, severity: warning, class: failure}
            exp_annotations:
              summary: orders has not succeeded for 2h 1m 40s
              command: shp runs --pipeline orders
      - eval_time: 10m
        alertname: ShpNeverSucceeded
        exp_alerts: []
      - eval_time: 40m
        alertname: ShpNeverSucceeded
        exp_alerts:
          - exp_labels: {pipeline: events, severity: critical, class: failure}
            exp_annotations:
              summary: events has no successful run on record
              command: shp runs --pipeline events
`)
	cmd := exec.Command(promtool, "test", "rules", "rules_test.yml")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{0: "0s", 90 * time.Minute: "1h30m", 2 * time.Hour: "2h", 48 * time.Hour: "2d", 45 * time.Second: "45s",
		25*time.Hour + time.Second: "1d1h1s"} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
