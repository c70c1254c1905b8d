package monitor

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
)

// loadMonitoring loads a project whose monitoring.yaml is text, as shp
// does (the loader runs the check this package registers).
func loadMonitoring(t *testing.T, text string) (*config.Project, error) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml":     "project: t\npipelines:\n  orders:\n    source: s\n",
		"sources.yaml":    "sources:\n  s:\n    type: file\n    path: data/\n",
		"monitoring.yaml": text,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return config.LoadDir(dir, config.WithLookupEnv(func(name string) (string, bool) {
		if name == "TEAMS_URL" {
			return "https://example.webhook.office.com/workflows/abc?sig=SECRET", true
		}
		return "", false
	}))
}

func TestMonitoringFileErrorsHaveLineAndColumn(t *testing.T) {
	for _, c := range []struct {
		name, text, want string
	}{
		{"unknown key", "evaluation_interval: 30s\nrulez: []\n", "monitoring.yaml:2:8: unknown key \"rulez\""},
		{"bad duration", "repeat_interval: soon\n", "monitoring.yaml:1:18: repeat_interval must be a duration"},
		{"bad severity", "rules:\n  - name: a\n    kind: run_status\n    statuses: [failed]\n  - name: b\n    kind: run_status\n    statuses: [failed]\n    severity: urgent\n",
			"monitoring.yaml:8:15: severity must be one of critical, warning, info"},
		{"unknown kind", "rules:\n  - name: a\n    kind: sometimes\n", "monitoring.yaml:3:11: kind must be one of"},
		{"threshold without op", "rules:\n  - name: a\n    kind: threshold\n    metric: rows_in\n    value: 1\n", "monitoring.yaml:2:5: op must be one of"},
		{"unknown metric", "rules:\n  - name: a\n    kind: anomaly\n    metric: rows_out\n", "monitoring.yaml:4:13: metric must be one of"},
		{"duplicate rule", "rules:\n  - {name: a, kind: pending_approval}\n  - {name: a, kind: pending_approval}\n", "monitoring.yaml:3:12: rule \"a\" is defined twice"},
		{"bad status", "rules:\n  - name: a\n    kind: run_status\n    statuses: [failed, exploded]\n", "monitoring.yaml:4:24: a status must be"},
		{"override of no rule", "overrides:\n  orders:\n    no_such_rule: {disabled: true}\n", "monitoring.yaml:3:19: overrides.orders: no rule is named \"no_such_rule\""},
		{"bad template", "rules:\n  - {name: a, kind: pending_approval, summary: '{{.Pipeline'}\n", "summary is not a valid template"},
		{"receiver without url", "receivers:\n  - name: ops\n    type: teams\n", "monitoring.yaml:2:5: receiver \"ops\""},
		{"receiver of no kind", "receivers:\n  - name: ops\n    type: pager\n", "monitoring.yaml:3:11: receiver \"ops\": unknown receiver type \"pager\""},
		{"route to no receiver", "receivers:\n  - {name: ops, type: teams, url: '${TEAMS_URL}'}\nroute:\n  receiver: nobody\n",
			"receiver \"nobody\" is not defined"},
		{"bad matcher", "receivers:\n  - {name: ops, type: teams, url: '${TEAMS_URL}'}\nroute:\n  receiver: ops\n  routes:\n    - receiver: ops\n      matchers: ['severity ~ x']\n",
			"monitoring.yaml:7:18:"},
		{"labels", "rules:\n  - {name: a, kind: pending_approval, labels: {'bad-name': x}}\n", "must be a name"},
		{"max attempts", "max_attempts: 0\n", "monitoring.yaml:1:15: max_attempts must be a whole number"},
		{"not a number", "rules:\n  - {name: a, kind: anomaly, metric: rows_in, score: .nan}\n", "score must be a finite number"},
		{"reserved label", "rules:\n  - {name: a, kind: pending_approval, labels: {severity: low}}\n", `label "severity" is set by shp`},
		{"wildcard threshold", "rules:\n  - {name: a, kind: threshold, metric: 'null_rate:*', op: '>', value: 0.1}\n", "metric must be one of"},
		{"quality override", "rules:\n  - {name: q, kind: quality_score, value: 80}\noverrides:\n  orders:\n    q: {value: 120}\n",
			"a quality_score rule's value is from 0 to 100"},
		{"budget on a ratio", "rules:\n  - {name: b, kind: budget, metric: quarantine_ratio, value: 1}\n", "monitoring.yaml:2:37: a budget sums a metric"},
		{"negative budget", "rules:\n  - {name: b, kind: budget, metric: warehouse_cost_usd, value: -5}\n", "a budget's value must be 0 (none) or more"},
		{"budget window too short", "rules:\n  - {name: b, kind: budget, metric: warehouse_cost_usd, value: 5, window: 5m}\n", "window"},
		{"negative budget override", "overrides:\n  orders:\n    cost_budget: {value: -1}\n", "a budget's value must be 0 (none) or more"},
		{"receivers of the wrong kind", "receivers: {url: 'https://x/?sig=SECRET'}\n", "receivers must be a list, got a mapping"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := loadMonitoring(t, c.text)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if strings.Contains(err.Error(), "SECRET") {
				t.Fatalf("the error shows a secret: %v", err)
			}
		})
	}
}

func TestMonitoringFileDefaultsAndChoices(t *testing.T) {
	p, err := loadMonitoring(t, `evaluation_interval: 1m
group_wait: 0s
repeat_interval: 2h
external_url: https://shp.example.com/
rules:
  - name: run_failed            # replaces the default of that name
    kind: run_status
    statuses: [failed]
    severity: warning
    for: 10m
  - name: low_volume
    kind: threshold
    pipelines: [orders]
    metric: rows_loaded
    op: "<"
    value: 100
overrides:
  orders:
    data_stale: {after: 3h, severity: critical}
receivers:
  - name: ops
    type: teams
    url: ${TEAMS_URL}
`)
	if err != nil {
		t.Fatal(err)
	}
	cfg, problems := ParseConfig(p.Monitoring)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	if cfg.Interval != time.Minute || cfg.GroupWait != 0 || cfg.RepeatInterval != 2*time.Hour || cfg.ExternalURL != "https://shp.example.com" {
		t.Errorf("settings %+v", cfg)
	}
	var names []string
	for _, r := range cfg.Rules {
		names = append(names, r.Name)
	}
	want := []string{"run_failed", "run_held", "approval_pending", "data_stale", "volume_anomaly", "quality_anomaly", "duration_anomaly",
		"null_rate_anomaly", "freshness_anomaly", "cost_budget", "low_volume"}
	if !slices.Equal(names, want) {
		t.Errorf("rules %v, want %v", names, want)
	}
	if cfg.Rules[0].Severity != "warning" || cfg.Rules[0].For != 10*time.Minute {
		t.Errorf("run_failed %+v", cfg.Rules[0])
	}
	stale, ok := cfg.forPipeline(cfg.Rules[3], "orders")
	if !ok || stale.After != 3*time.Hour || stale.Severity != "critical" {
		t.Errorf("data_stale for orders %+v", stale)
	}
	if got := cfg.Route.Receivers(map[string]string{"severity": "info"}); !slices.Equal(got, []string{"ops"}) {
		t.Errorf("without a route every incident goes to every receiver: %v", got)
	}
	// Without the file: the defaults, and no receiver.
	def, problems := ParseConfig(nil)
	if len(problems) > 0 || len(def.Rules) != 10 || def.Route != nil || def.Interval != DefaultInterval {
		t.Errorf("defaults %+v %v", def, problems)
	}
	none, _ := ParseConfig(map[string]any{"default_rules": false})
	if len(none.Rules) != 0 {
		t.Errorf("default_rules: false kept %d rules", len(none.Rules))
	}
}

func TestRoutePath(t *testing.T) {
	got := routePath("route.routes[1].matchers[0]: bad")
	want := []any{"route", "routes", 1, "matchers", 0}
	if !slices.Equal(got, want) {
		t.Fatalf("%v, want %v", got, want)
	}
}
