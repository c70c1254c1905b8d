package monitor

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/scheduler"
)

// promRule is one rule of a Prometheus rule file.
type promRule struct {
	Record      string            `yaml:"record,omitempty"`
	Alert       string            `yaml:"alert,omitempty"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations,omitempty"`
}

type promGroup struct {
	Name     string     `yaml:"name"`
	Interval string     `yaml:"interval,omitempty"`
	Rules    []promRule `yaml:"rules"`
}

type promFile struct {
	Groups []promGroup `yaml:"groups"`
}

// The window the anomaly rules compare the last hour with.
const baselineWindow = "7d"

// PrometheusRules writes Prometheus recording and alerting rules that do
// over shp's /metrics what the default rules do in shp: failed and held
// runs, actions waiting for a person, stale data (per scheduled pipeline,
// from its schedule or the data_stale override's after), and volume,
// duration and quality far from their week (median and standard
// deviation: PromQL has no MAD). For teams whose alerting runs in
// Prometheus (Cloud Monitoring's managed service included).
func PrometheusRules(p *config.Project, cfg *Config) ([]byte, error) {
	rec := promGroup{Name: "shp.recording", Rules: []promRule{
		{Record: "shp:pipeline_rows_in:increase1h", Expr: `sum by (pipeline) (increase(shp_pipeline_rows_total{outcome="in"}[1h]))`},
		{Record: "shp:pipeline_run_duration_seconds:mean1h",
			Expr: `sum by (pipeline) (rate(shp_pipeline_run_duration_seconds_sum[1h])) / sum by (pipeline) (rate(shp_pipeline_run_duration_seconds_count[1h]))`},
		{Record: "shp:pipeline_runs_failed:ratio1h",
			Expr: `sum by (pipeline) (increase(shp_pipeline_runs_total{status="failed"}[1h])) / sum by (pipeline) (increase(shp_pipeline_runs_total[1h]))`},
		{Record: "shp:healing_actions_waiting", Expr: `sum by (pipeline) (shp_healing_actions{outcome=~"proposed|escalated"})`},
	}}
	alerts := promGroup{Name: "shp.alerts", Rules: []promRule{
		alertRule("ShpRunFailed", `shp_pipeline_last_run_status{status="failed"} == 1`, "", "critical", ClassFailure,
			"the last run of {{ $labels.pipeline }} failed", "shp runs --pipeline {{ $labels.pipeline }} --status failed"),
		alertRule("ShpRunHeld", `shp_pipeline_last_run_status{status="held"} == 1`, "", "warning", ClassDecision,
			"the last run of {{ $labels.pipeline }} is held for a decision", "shp healing actions --status proposed --pipeline {{ $labels.pipeline }}"),
		alertRule("ShpApprovalPending", `shp:healing_actions_waiting > 0`, "", "warning", ClassDecision,
			"{{ $value }} healing action(s) of {{ $labels.pipeline }} wait for a person", "shp healing actions --pipeline {{ $labels.pipeline }}"),
		alertRule("ShpVolumeAnomaly", fmt.Sprintf(`abs(shp:pipeline_rows_in:increase1h - quantile_over_time(0.5, shp:pipeline_rows_in:increase1h[%[1]s]))
  > %[2]s * stddev_over_time(shp:pipeline_rows_in:increase1h[%[1]s]) > 0`, baselineWindow, num(defaultScore)), "", "warning", ClassData,
			"the rows {{ $labels.pipeline }} read in the last hour are far from its week", ""),
		alertRule("ShpDurationAnomaly", fmt.Sprintf(`shp:pipeline_run_duration_seconds:mean1h - quantile_over_time(0.5, shp:pipeline_run_duration_seconds:mean1h[%[1]s])
  > %[2]s * stddev_over_time(shp:pipeline_run_duration_seconds:mean1h[%[1]s]) > 0`, baselineWindow, num(defaultScore)), "", "info", ClassData,
			"runs of {{ $labels.pipeline }} take far longer than in its week", ""),
		alertRule("ShpQualityDrop", fmt.Sprintf(`quantile_over_time(0.5, shp_pipeline_quality_score[%[1]s]) - shp_pipeline_quality_score
  > %[2]s * stddev_over_time(shp_pipeline_quality_score[%[1]s]) > 0`, baselineWindow, num(defaultScore)), "", "warning", ClassData,
			"the quality score of {{ $labels.pipeline }} dropped to {{ $value }} below its week", ""),
	}}
	stale, ok := ruleNamed(cfg, "data_stale")
	if ok && p != nil {
		for _, name := range p.PipelineNames() {
			pl, _ := p.Pipeline(name)
			r, applies := cfg.forPipeline(stale, name)
			if !applies {
				continue
			}
			var sched *scheduler.Schedule
			if pl.Schedule != "" {
				sched, _ = scheduler.ParseSchedule(pl.Schedule, pl.Timezone) // a bad one: no limit
			}
			limit := absenceLimit(&r, sched, time.Now())
			if limit == 0 {
				continue
			}
			sel := fmt.Sprintf(`{pipeline=%s}`, strconv.Quote(name))
			secs := strconv.FormatInt(int64(limit/time.Second), 10)
			alerts.Rules = append(alerts.Rules,
				alertRule("ShpDataStale", "shp_pipeline_seconds_since_success"+sel+" > "+secs, "", r.Severity, ClassFailure,
					"{{ $labels.pipeline }} has not succeeded for {{ $value | humanizeDuration }}", "shp runs --pipeline {{ $labels.pipeline }}"),
				alertRule("ShpNeverSucceeded", "absent(shp_pipeline_last_success_timestamp_seconds"+sel+")", promDuration(limit), r.Severity,
					ClassFailure, name+" has no successful run on record", "shp runs --pipeline "+name))
		}
	}
	return yaml.MarshalWithOptions(promFile{Groups: []promGroup{rec, alerts}}, yaml.UseLiteralStyleIfMultiline(true))
}

func alertRule(name, expr, forDur, severity, class, summary, command string) promRule {
	r := promRule{Alert: name, Expr: expr, For: forDur, Labels: map[string]string{"severity": severity, "class": class},
		Annotations: map[string]string{"summary": summary}}
	if command != "" {
		r.Annotations["command"] = command
	}
	return r
}

func ruleNamed(cfg *Config, name string) (*Rule, bool) {
	for _, r := range cfg.Rules {
		if r.Name == name {
			return r, true
		}
	}
	return nil, false
}

// promDuration writes d as Prometheus does: 2h30m, 45s.
func promDuration(d time.Duration) string {
	d = d.Round(time.Second)
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{24 * time.Hour, "d"}, {time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			b.WriteString(strconv.FormatInt(int64(n), 10) + u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}
