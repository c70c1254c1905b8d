package monitor

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/scheduler"
)

// PipelineInput is what the rules look at for one pipeline.
type PipelineInput struct {
	Name, Source, SourceType string
	// Schedule is the pipeline's parsed schedule; nil for none.
	Schedule *scheduler.Schedule
	// Upstream are the pipelines it depends on (depends_on).
	Upstream []string
	// Runs are its finished runs, newest first.
	Runs []metadata.Run
	// PendingApprovals counts its healing actions waiting for a person.
	PendingApprovals int
	// Diagnosis is healing's category of its last failed run, if any.
	Diagnosis string
	// Since is when the pipeline was first expected to run: its first
	// run, else when monitoring began.
	Since time.Time
}

// Snapshot is what one evaluation cycle reads.
type Snapshot struct {
	Now       time.Time
	Pipelines []PipelineInput
}

// Condition is an alert rule's condition holding for one pipeline now.
type Condition struct {
	Rule        Rule // as it applies to the pipeline (its override)
	Pipeline    string
	Source      string
	Value       float64
	RunID       string
	Summary     string
	Labels      map[string]string
	Fingerprint string
}

// Evaluate returns the conditions of cfg's rules that hold in snap. It
// reads nothing but snap: the cost of a cycle is this and the reading of
// the snapshot.
func Evaluate(cfg *Config, snap Snapshot) []Condition {
	var out []Condition
	for i := range snap.Pipelines {
		p := &snap.Pipelines[i]
		for _, r := range cfg.Rules {
			rule, ok := cfg.forPipeline(r, p.Name)
			if !ok {
				continue
			}
			value, runID, holds, subject := checkSubject(&rule, p, snap.Now)
			if !holds {
				continue
			}
			if math.IsNaN(value) || math.IsInf(value, 0) {
				value = 0 // a metric stored as NaN: the alert stands, its value is not a number to show
			}
			c := Condition{Rule: rule, Pipeline: p.Name, Source: p.Source, Value: value, RunID: runID}
			c.Labels = map[string]string{"alertname": rule.Name, "pipeline": p.Name, "severity": rule.Severity, "source": p.Source,
				"kind": rule.Kind, "class": classOf(&rule)}
			if p.SourceType != "" {
				c.Labels["source_type"] = p.SourceType
			}
			maps.Copy(c.Labels, rule.Labels)
			c.Summary = summarize(&rule, p.Name, value)
			if subject != "" {
				// A wildcard metric: which column.
				c.Summary = strings.Replace(c.Summary, rule.Metric, subject, 1)
				c.Labels["metric"] = subject
			}
			c.Fingerprint = Fingerprint(rule.Name, p.Name)
			out = append(out, c)
		}
	}
	return out
}

// Alert classes, the "class" label: what kind of news an alert is.
const (
	// ClassFailure: the pipeline is broken (a failed run, no success for
	// too long). Failures are correlated by source and inhibit the
	// symptoms of the pipelines downstream.
	ClassFailure = "failure"
	// ClassDecision: a person must decide (a held run, a proposal or an
	// escalation of self-healing).
	ClassDecision = "decision"
	// ClassData: the data looks wrong (an anomaly, a threshold, a quality
	// score).
	ClassData = "data"
)

// classOf is a rule's class.
func classOf(r *Rule) string {
	switch {
	case r.Kind == KindAbsence, r.Kind == KindRunStatus && slices.Contains(r.Statuses, "failed"):
		return ClassFailure
	case r.Kind == KindRunStatus, r.Kind == KindPendingApproval:
		return ClassDecision
	}
	return ClassData
}

// Fingerprint is the alert's id: one per rule and pipeline.
func Fingerprint(rule, pipeline string) string {
	h := sha256.Sum256([]byte(rule + "\x00" + pipeline))
	return hex.EncodeToString(h[:8])
}

// check reports whether rule holds for p at now, with the value it looked
// at and the run it is about.
func check(r *Rule, p *PipelineInput, now time.Time) (float64, string, bool) {
	v, runID, holds, _ := checkSubject(r, p, now)
	return v, runID, holds
}

// checkSubject is check, with the metric a wildcard anomaly rule
// (null_rate:*) found out of line.
func checkSubject(r *Rule, p *PipelineInput, now time.Time) (float64, string, bool, string) {
	if r.Kind == KindAnomaly && r.Metric == nullRates {
		return anyNullRate(r, p)
	}
	v, runID, holds := checkOne(r, p, now)
	return v, runID, holds, ""
}

// nullRates is the wildcard metric of every column's null rate.
const nullRates = "null_rate:*"

// anyNullRate is an anomaly rule over every column's null rate: the
// column furthest out of line in the rule's direction.
func anyNullRate(r *Rule, p *PipelineInput) (float64, string, bool, string) {
	var last *metadata.Run
	for i := range p.Runs {
		if p.Runs[i].Status == metadata.StatusSucceeded {
			last = &p.Runs[i]
			break
		}
	}
	if last == nil {
		return 0, "", false, ""
	}
	var worst float64
	var worstCol, runID string
	held := false
	for _, col := range slices.Sorted(maps.Keys(last.Metrics)) {
		if !strings.HasPrefix(col, "null_rate:") {
			continue
		}
		one := *r
		one.Metric = col
		z, id, holds := anomalous(&one, p)
		if holds && (!held || math.Abs(z) > math.Abs(worst)) {
			worst, worstCol, runID, held = z, col, id, true
		}
	}
	return worst, runID, held, worstCol
}

func checkOne(r *Rule, p *PipelineInput, now time.Time) (float64, string, bool) {
	switch r.Kind {
	case KindRunStatus:
		if len(p.Runs) == 0 {
			return 0, "", false
		}
		last := p.Runs[0]
		return 1, last.ID, slices.Contains(r.Statuses, last.Status)
	case KindThreshold:
		if len(p.Runs) == 0 {
			return 0, "", false
		}
		v, ok := runMetric(p.Runs[0], r.Metric)
		return v, p.Runs[0].ID, ok && compare(v, r.Op, r.Value)
	case KindQualityScore:
		for _, run := range p.Runs {
			if v, ok := run.Metrics["quality_score"]; ok {
				return v, run.ID, v < r.Value
			}
		}
		return 0, "", false
	case KindPendingApproval:
		runID := ""
		if len(p.Runs) > 0 {
			runID = p.Runs[0].ID
		}
		return float64(p.PendingApprovals), runID, p.PendingApprovals > 0
	case KindAbsence:
		return absent(r, p, now)
	case KindAnomaly:
		return anomalous(r, p)
	case KindBudget:
		return overBudget(r, p, now)
	}
	return 0, "", false
}

// overBudget is the budget rule: the metric summed over the finished
// runs started within the window, against the value (0: no budget).
func overBudget(r *Rule, p *PipelineInput, now time.Time) (float64, string, bool) {
	if r.Value <= 0 {
		return 0, "", false
	}
	window := cmp.Or(r.Window, DefaultBudgetWindow)
	var sum float64
	runID := ""
	for _, run := range p.Runs { // newest first
		if run.StartedAt.Before(now.Add(-window)) {
			break
		}
		if v, ok := runMetric(run, r.Metric); ok && !math.IsNaN(v) {
			sum += v
			if runID == "" {
				runID = run.ID
			}
		}
	}
	return sum, runID, sum > r.Value
}

// absent is the absence rule: how long since the last success, against
// After or twice the schedule's interval (at least 15 minutes).
func absent(r *Rule, p *PipelineInput, now time.Time) (float64, string, bool) {
	limit := absenceLimit(r, p.Schedule, now)
	if limit == 0 {
		return 0, "", false // nothing says when data is due
	}
	ref, runID := p.Since, ""
	for _, run := range p.Runs {
		if run.Status == metadata.StatusSucceeded {
			ref, runID = run.EndedAt, run.ID
			break
		}
	}
	if ref.IsZero() {
		return 0, "", false
	}
	age := now.Sub(ref)
	return age.Seconds(), runID, age > limit
}

// StaleLimit is how long a pipeline on schedule s may go without a
// success before the stale rule fires, at now (staleAfter): the web UI's
// freshness shows the same limit.
func StaleLimit(s *scheduler.Schedule, now time.Time) time.Duration { return staleAfter(s, now) }

// StaleLimit is how long the pipeline may go without a success before
// an absence rule of monitoring.yaml fires for it, at now: the rule's
// after (overrides applied), or twice its schedule's interval; the
// shortest when several apply. ok is false when no absence rule applies
// to the pipeline (none, or all disabled for it): then the schedule's
// limit is returned.
func (c *Config) StaleLimit(pipeline string, s *scheduler.Schedule, now time.Time) (limit time.Duration, ok bool) {
	for _, r := range c.Rules {
		if r.Kind != KindAbsence {
			continue
		}
		pr, applies := c.forPipeline(r, pipeline)
		if !applies {
			continue
		}
		if l := absenceLimit(&pr, s, now); l > 0 && (!ok || l < limit) {
			limit, ok = l, true
		}
	}
	if !ok {
		return staleAfter(s, now), false
	}
	return limit, true
}

// absenceLimit is how long an absence rule lets a pipeline on schedule s
// go without a success, at now: its after, or staleAfter; 0 when nothing
// says when data is due.
func absenceLimit(r *Rule, s *scheduler.Schedule, now time.Time) time.Duration {
	if r.After > 0 {
		return r.After
	}
	return staleAfter(s, now)
}

// staleAfter is how long a scheduled pipeline may go without a success:
// twice its schedule's interval at now, at least 15 minutes; 0 without a
// schedule.
func staleAfter(s *scheduler.Schedule, now time.Time) time.Duration {
	if s == nil {
		return 0
	}
	prev := s.Prev(now)
	next := s.Next(prev)
	if prev.IsZero() || next.IsZero() {
		return 0
	}
	return max(2*next.Sub(prev), 15*time.Minute)
}

// anomalous is the anomaly rule: the last successful run's metric against
// the robust baseline of the successful runs before it (Score).
func anomalous(r *Rule, p *PipelineInput) (float64, string, bool) {
	var last *metadata.Run
	history := make([]Point, 0, len(p.Runs))
	var x float64
	for i := range p.Runs {
		run := &p.Runs[i]
		if run.Status != metadata.StatusSucceeded {
			continue
		}
		v, ok := runMetric(*run, r.Metric)
		if !ok {
			continue
		}
		if last == nil {
			last, x = run, v
			continue
		}
		history = append(history, Point{run.StartedAt, v})
	}
	if last == nil {
		return 0, "", false
	}
	s, ok := Score(history, last.StartedAt, x, minScale(r.Metric), r.MinHistory)
	if !ok {
		return 0, "", false
	}
	z := s.MADs
	switch r.Direction {
	case "up":
		return z, last.ID, z >= r.Score
	case "down":
		return z, last.ID, -z >= r.Score
	}
	return z, last.ID, math.Abs(z) >= r.Score
}

// minScale is the least change of a metric that can count as an anomaly,
// as the healing engine's circuit breaker has it: a row, half a point of
// quarantined share, two points of null rate, a point of quality score,
// a minute of freshness, a second of duration.
func minScale(metric string) float64 {
	switch {
	case strings.HasPrefix(metric, "null_rate:"):
		return 0.02
	case metric == "quarantine_ratio" || metric == "repeated_share":
		return 0.005
	case metric == "freshness_s":
		return 60
	}
	return 1
}

// runMetric is a run's value of a metric.
func runMetric(r metadata.Run, metric string) (float64, bool) {
	switch metric {
	case "rows_in":
		return float64(r.RowsIn), true
	case "rows_loaded":
		return float64(r.RowsLoaded), true
	case "rows_quarantined":
		return float64(r.RowsQuarantined), true
	case "rows_deduplicated":
		return float64(r.RowsDeduplicated), true
	case "bytes":
		return float64(r.Bytes), true
	case "quarantine_ratio":
		if r.RowsIn == 0 {
			return 0, false
		}
		return float64(r.RowsQuarantined) / float64(r.RowsIn), true
	case "duration_s":
		if r.EndedAt.IsZero() {
			return 0, false
		}
		return r.EndedAt.Sub(r.StartedAt).Seconds(), true
	}
	v, ok := r.Metrics[metric]
	return v, ok
}

func compare(v float64, op string, bound float64) bool {
	switch op {
	case "<":
		return v < bound
	case "<=":
		return v <= bound
	case ">":
		return v > bound
	case ">=":
		return v >= bound
	case "==":
		return v == bound
	case "!=":
		return v != bound
	}
	return false
}

// summarize is the alert's one line: the rule's template, or its kind's.
func summarize(r *Rule, pipeline string, value float64) string {
	if r.summary != nil {
		var b strings.Builder
		if err := r.summary.Execute(&b, map[string]any{"Pipeline": pipeline, "Value": value, "Rule": r.Name}); err == nil {
			return b.String()
		}
	}
	switch r.Kind {
	case KindRunStatus:
		return fmt.Sprintf("the last run of %s is %s", pipeline, strings.Join(r.Statuses, " or "))
	case KindThreshold:
		return fmt.Sprintf("%s of %s is %s (%s %s)", r.Metric, pipeline, num(value), r.Op, num(r.Value))
	case KindQualityScore:
		return fmt.Sprintf("quality score of %s is %s, below %s", pipeline, num(value), num(r.Value))
	case KindPendingApproval:
		return fmt.Sprintf("%s healing action(s) of %s wait for a decision", num(value), pipeline)
	case KindAbsence:
		return fmt.Sprintf("%s has not succeeded for %s", pipeline, (time.Duration(value) * time.Second).Round(time.Second))
	case KindAnomaly:
		return fmt.Sprintf("%s of %s is unusual: %.1f MADs from its median", r.Metric, pipeline, value)
	case KindBudget:
		window := strings.TrimSuffix(strings.TrimSuffix(cmp.Or(r.Window, DefaultBudgetWindow).String(), "0s"), "0m")
		if r.Metric == "warehouse_cost_usd" {
			return fmt.Sprintf("%s cost $%.2f in the last %s, over its budget of $%.2f", pipeline, value, window, r.Value)
		}
		return fmt.Sprintf("%s of %s summed to %s in the last %s, over its budget of %s", r.Metric, pipeline, num(value), window, num(r.Value))
	}
	return r.Name + " on " + pipeline
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', 6, 64) }
