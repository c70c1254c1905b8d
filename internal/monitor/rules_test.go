package monitor

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/scheduler"
)

var t0 = time.Date(2026, 11, 30, 6, 0, 0, 0, time.UTC) // a Monday

// daily is n successful daily runs ending yesterday, newest first, each
// with rows rows(i) (i = 0 for the newest) and its quality score.
func daily(n int, rows func(i int) int64, quality func(i int) float64) []metadata.Run {
	out := make([]metadata.Run, n)
	for i := range n {
		start := t0.Add(-time.Duration(i+1) * 24 * time.Hour)
		out[i] = metadata.Run{ID: fmt.Sprintf("r%d", i), Status: metadata.StatusSucceeded, StartedAt: start, EndedAt: start.Add(time.Minute),
			RowsIn: rows(i), RowsLoaded: rows(i), Metrics: map[string]float64{"quality_score": quality(i), "null_rate:email": 0.01}}
	}
	return out
}

func steady(int64) func(int) int64 { return func(int) int64 { return 1000 } }
func score(v float64) func(int) float64 {
	return func(int) float64 { return v }
}

func mustSchedule(t *testing.T, spec string) *scheduler.Schedule {
	t.Helper()
	s, err := scheduler.ParseSchedule(spec, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRuleKinds(t *testing.T) {
	failedLast := append([]metadata.Run{{ID: "rf", Status: metadata.StatusFailed, StartedAt: t0.Add(-time.Hour), EndedAt: t0.Add(-time.Hour)}},
		daily(3, steady(0), score(100))...)
	dropped := daily(20, func(i int) int64 {
		if i == 0 {
			return 40
		}
		return 1000 + int64(i%5)*10
	}, score(95))
	noisy := daily(20, func(i int) int64 { return 1000 + int64(i%7)*150 }, score(95))
	worse := daily(20, steady(0), func(i int) float64 {
		if i == 0 {
			return 60
		}
		return 97 + float64(i%3)
	})
	better := daily(20, steady(0), func(i int) float64 {
		if i == 0 {
			return 100
		}
		return 60 + float64(i%3)
	})
	// Hourly runs billed $0.75 each, the newest half an hour ago; one
	// failed run billed too (the bill is real), one without a bill.
	var billed []metadata.Run
	for i := range 30 {
		start := t0.Add(-30*time.Minute - time.Duration(i)*time.Hour)
		r := metadata.Run{ID: fmt.Sprintf("b%d", i), Status: metadata.StatusSucceeded, StartedAt: start, EndedAt: start.Add(time.Minute),
			Metrics: map[string]float64{"warehouse_cost_usd": 0.75, "warehouse_bytes_billed": 120 << 30}}
		switch i {
		case 3:
			r.Status = metadata.StatusFailed
		case 4:
			r.Metrics = nil
		}
		billed = append(billed, r)
	}
	for _, c := range []struct {
		name  string
		rule  Rule
		input PipelineInput
		now   time.Time
		holds bool
		value float64
	}{
		{"over a daily cost budget", Rule{Kind: KindBudget, Metric: "warehouse_cost_usd", Value: 15}, PipelineInput{Runs: billed}, t0, true, 23 * 0.75},
		{"within a daily cost budget", Rule{Kind: KindBudget, Metric: "warehouse_cost_usd", Value: 20}, PipelineInput{Runs: billed}, t0, false, 23 * 0.75},
		{"a budget over 6 hours", Rule{Kind: KindBudget, Metric: "warehouse_cost_usd", Value: 3, Window: 6 * time.Hour}, PipelineInput{Runs: billed},
			t0, true, 5 * 0.75},
		{"a bytes budget", Rule{Kind: KindBudget, Metric: "warehouse_bytes_billed", Value: 1 << 40}, PipelineInput{Runs: billed}, t0, true,
			23 * 120 << 30},
		{"no budget set", Rule{Kind: KindBudget, Metric: "warehouse_cost_usd"}, PipelineInput{Runs: billed}, t0, false, 0},
		{"no run in the window", Rule{Kind: KindBudget, Metric: "warehouse_cost_usd", Value: 1}, PipelineInput{Runs: billed}, t0.Add(48 * time.Hour),
			false, 0},
		{"failed run", Rule{Kind: KindRunStatus, Statuses: []string{"failed"}}, PipelineInput{Runs: failedLast}, t0, true, 1},
		{"held is not failed", Rule{Kind: KindRunStatus, Statuses: []string{"failed"}},
			PipelineInput{Runs: []metadata.Run{{Status: metadata.StatusHeld}}}, t0, false, 1},
		{"no run no status", Rule{Kind: KindRunStatus, Statuses: []string{"failed"}}, PipelineInput{}, t0, false, 0},
		{"threshold <", Rule{Kind: KindThreshold, Metric: "rows_loaded", Op: "<", Value: 1000}, PipelineInput{Runs: dropped}, t0, true, 40},
		{"threshold > not met", Rule{Kind: KindThreshold, Metric: "rows_loaded", Op: ">", Value: 1000}, PipelineInput{Runs: dropped}, t0, false, 40},
		{"threshold on a batch metric", Rule{Kind: KindThreshold, Metric: "null_rate:email", Op: ">=", Value: 0.01},
			PipelineInput{Runs: dropped}, t0, true, 0.01},
		{"threshold on a metric the run lacks", Rule{Kind: KindThreshold, Metric: "null_rate:phone", Op: ">", Value: 0},
			PipelineInput{Runs: dropped}, t0, false, 0},
		{"threshold ==", Rule{Kind: KindThreshold, Metric: "rows_in", Op: "==", Value: 40}, PipelineInput{Runs: dropped}, t0, true, 40},
		{"threshold !=", Rule{Kind: KindThreshold, Metric: "rows_in", Op: "!=", Value: 40}, PipelineInput{Runs: dropped}, t0, false, 40},
		{"threshold <=", Rule{Kind: KindThreshold, Metric: "duration_s", Op: "<=", Value: 60}, PipelineInput{Runs: dropped}, t0, true, 60},
		{"quarantine ratio", Rule{Kind: KindThreshold, Metric: "quarantine_ratio", Op: ">", Value: 0.1},
			PipelineInput{Runs: []metadata.Run{{RowsIn: 10, RowsQuarantined: 5}}}, t0, true, 0.5},
		{"quality below", Rule{Kind: KindQualityScore, Value: 80}, PipelineInput{Runs: worse}, t0, true, 60},
		{"quality above", Rule{Kind: KindQualityScore, Value: 50}, PipelineInput{Runs: worse}, t0, false, 60},
		{"approval waiting", Rule{Kind: KindPendingApproval}, PipelineInput{PendingApprovals: 2, Runs: dropped}, t0, true, 2},
		{"no approval waiting", Rule{Kind: KindPendingApproval}, PipelineInput{Runs: dropped}, t0, false, 0},
		{"volume drop", Rule{Kind: KindAnomaly, Metric: "rows_in", Score: 3.5, Direction: "both", MinHistory: 7},
			PipelineInput{Runs: dropped}, t0, true, math.NaN()},
		{"ordinary noise", Rule{Kind: KindAnomaly, Metric: "rows_in", Score: 3.5, Direction: "both", MinHistory: 7},
			PipelineInput{Runs: noisy}, t0, false, math.NaN()},
		{"too little history", Rule{Kind: KindAnomaly, Metric: "rows_in", Score: 3.5, Direction: "both", MinHistory: 30},
			PipelineInput{Runs: dropped}, t0, false, 0},
		{"a drop where only rises count", Rule{Kind: KindAnomaly, Metric: "rows_in", Score: 3.5, Direction: "up", MinHistory: 7},
			PipelineInput{Runs: dropped}, t0, false, math.NaN()},
		{"quality drop", Rule{Kind: KindAnomaly, Metric: "quality_score", Score: 3.5, Direction: "down", MinHistory: 7},
			PipelineInput{Runs: worse}, t0, true, math.NaN()},
		{"quality rise is no alert", Rule{Kind: KindAnomaly, Metric: "quality_score", Score: 3.5, Direction: "down", MinHistory: 7},
			PipelineInput{Runs: better}, t0, false, math.NaN()},
		{"stale against after", Rule{Kind: KindAbsence, After: 2 * time.Hour}, PipelineInput{Runs: dropped}, t0, true, 86340},
		{"fresh against after", Rule{Kind: KindAbsence, After: 48 * time.Hour}, PipelineInput{Runs: dropped}, t0, false, 86340},
		{"stale against an hourly schedule", Rule{Kind: KindAbsence}, PipelineInput{Runs: dropped, Schedule: mustSchedule(t, "@hourly")},
			t0, true, 86340},
		{"fresh against a daily schedule", Rule{Kind: KindAbsence}, PipelineInput{Runs: dropped, Schedule: mustSchedule(t, "@daily")},
			t0, false, 86340},
		{"no schedule, no after: no expectation", Rule{Kind: KindAbsence}, PipelineInput{Runs: dropped}, t0, false, 0},
		{"never succeeded since monitoring began", Rule{Kind: KindAbsence},
			PipelineInput{Schedule: mustSchedule(t, "*/5 * * * *"), Since: t0.Add(-time.Hour)}, t0, true, 3600},
	} {
		t.Run(c.name, func(t *testing.T) {
			v, _, holds := check(&c.rule, &c.input, c.now)
			if holds != c.holds || (!math.IsNaN(c.value) && v != c.value) {
				t.Fatalf("holds %v with %v, want %v with %v", holds, v, c.holds, c.value)
			}
		})
	}
}

func TestAnomalyUsesTheSameWeekday(t *testing.T) {
	// Weekends load a tenth of weekdays: a Sunday's volume is ordinary
	// against Sundays, not against the week.
	var runs []metadata.Run
	sunday := time.Date(2026, 11, 29, 6, 0, 0, 0, time.UTC)
	for i := range 42 {
		start := sunday.Add(-time.Duration(i) * 24 * time.Hour)
		rows := int64(10000 + i%3*100)
		if wd := start.Weekday(); wd == time.Saturday || wd == time.Sunday {
			rows = 1000 + int64(i%3)*10
		}
		runs = append(runs, metadata.Run{ID: fmt.Sprint(i), Status: metadata.StatusSucceeded, StartedAt: start, EndedAt: start.Add(time.Minute), RowsIn: rows})
	}
	r := Rule{Kind: KindAnomaly, Metric: "rows_in", Score: 3.5, Direction: "both", MinHistory: 7}
	if z, _, holds := check(&r, &PipelineInput{Runs: runs}, sunday); holds {
		t.Fatalf("a Sunday like every Sunday is an anomaly (%.1f)", z)
	}
	runs[0].RowsIn = 10000 // a weekday's volume on a Sunday
	if z, _, holds := check(&r, &PipelineInput{Runs: runs}, sunday); !holds {
		t.Fatalf("a weekday's volume on a Sunday is not an anomaly (%.1f)", z)
	}
}

func TestScore(t *testing.T) {
	pts := func(at time.Time, vs ...float64) []Point {
		out := make([]Point, len(vs))
		for i, v := range vs {
			out[i] = Point{At: at.Add(-time.Duration(i+1) * 24 * time.Hour), Value: v}
		}
		return out
	}
	for _, c := range []struct {
		name             string
		history          []Point
		x, minScale      float64
		ok, seasonal     bool
		mads, wantMedian float64
	}{
		{"too little history", pts(t0, 1, 2, 3), 5, 0, false, false, 0, 0},
		{"steady history: 5% of the median", pts(t0, 1000, 1000, 1000, 1000, 1000, 1000, 1000), 950, 0, true, false, -1, 1000},
		{"zeros: a scale of 1", pts(t0, 0, 0, 0, 0, 0, 0, 0), 3, 0, true, false, 3, 0},
		{"scaled MAD", pts(t0, 10, 12, 8, 11, 9, 10, 10), 20, 0, true, false, 10 / 1.4826, 10},
		{"the metric's floor", pts(t0, 10, 10, 10, 10, 10, 10, 10), 14, 2, true, false, 2, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, ok := Score(c.history, t0, c.x, c.minScale, 7)
			if ok != c.ok || (ok && (math.Abs(s.MADs-c.mads) > 1e-9 || s.Median != c.wantMedian || s.Seasonal != c.seasonal)) {
				t.Fatalf("Score = %+v %v, want MADs %v median %v", s, ok, c.mads, c.wantMedian)
			}
		})
	}
	// Four runs of the run's weekday among 28 days: the baseline is theirs.
	var hist []Point
	for i := 1; i <= 28; i++ {
		at := t0.Add(-time.Duration(i) * 24 * time.Hour)
		v := 100.0
		if at.Weekday() == t0.Weekday() {
			v = 10
		}
		hist = append(hist, Point{At: at, Value: v})
	}
	s, ok := Score(hist, t0, 10, 0, 7)
	if !ok || !s.Seasonal || s.Median != 10 || s.History != 4 || s.MADs != 0 {
		t.Fatalf("seasonal: %+v %v", s, ok)
	}
}

// TestCostBudgetPerPipeline: the default cost_budget rule is off until a
// pipeline's override sets its dollars a day; then it fires when the
// runs of the last 24 hours cost more.
func TestCostBudgetPerPipeline(t *testing.T) {
	var runs []metadata.Run
	for i := range 10 {
		start := t0.Add(-time.Duration(i+1) * time.Hour)
		runs = append(runs, metadata.Run{ID: fmt.Sprintf("c%d", i), Status: metadata.StatusSucceeded, StartedAt: start,
			EndedAt: start.Add(time.Minute), Metrics: map[string]float64{"warehouse_cost_usd": 0.8}})
	}
	snap := Snapshot{Now: t0, Pipelines: []PipelineInput{{Name: "orders", Runs: runs}, {Name: "events", Runs: runs}}}
	def, problems := ParseConfig(nil)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	for _, c := range Evaluate(def, snap) {
		if c.Rule.Name == "cost_budget" {
			t.Errorf("a budget fired without a value: %+v", c)
		}
	}
	cfg, problems := ParseConfig(map[string]any{"overrides": map[string]any{
		"orders": map[string]any{"cost_budget": map[string]any{"value": 5}},
		"events": map[string]any{"cost_budget": map[string]any{"value": 10}},
	}})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	var fired []string
	for _, c := range Evaluate(cfg, snap) {
		if c.Rule.Name == "cost_budget" {
			fired = append(fired, c.Pipeline+": "+c.Summary)
			if c.RunID != "c0" || c.Labels["kind"] != KindBudget {
				t.Errorf("condition %+v", c)
			}
		}
	}
	if want := "orders: orders cost $8.00 in the last 24h, over its budget of $5.00"; strings.Join(fired, "|") != want {
		t.Errorf("fired %q, want %q", fired, want)
	}
}

func TestEvaluateAppliesOverridesAndLabels(t *testing.T) {
	cfg, problems := ParseConfig(map[string]any{
		"rules": []any{map[string]any{"name": "low_volume", "kind": "threshold", "metric": "rows_loaded", "op": "<", "value": 500,
			"severity": "critical", "labels": map[string]any{"team": "sales"}, "summary": "{{.Pipeline}} loaded {{.Value}} rows"}},
		"overrides": map[string]any{
			"orders":  map[string]any{"low_volume": map[string]any{"value": 50, "severity": "info", "labels": map[string]any{"team": "orders"}}},
			"refunds": map[string]any{"low_volume": map[string]any{"disabled": true}},
		},
	})
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	runs := daily(1, func(int) int64 { return 40 }, score(100))
	snap := Snapshot{Now: t0, Pipelines: []PipelineInput{
		{Name: "orders", Source: "db", Runs: runs}, {Name: "refunds", Source: "db", Runs: runs}, {Name: "sales", Source: "files", Runs: runs},
	}}
	got := map[string]Condition{}
	for _, c := range Evaluate(cfg, snap) {
		if c.Rule.Name == "low_volume" {
			got[c.Pipeline] = c
		}
	}
	if len(got) != 2 {
		t.Fatalf("low_volume holds for %v, want orders and sales", got)
	}
	o, s := got["orders"], got["sales"]
	if o.Rule.Severity != "info" || o.Labels["team"] != "orders" || o.Labels["severity"] != "info" || o.Summary != "orders loaded 40 rows" {
		t.Errorf("orders: %+v", o)
	}
	if s.Rule.Severity != "critical" || s.Labels["team"] != "sales" || s.Labels["source"] != "files" || s.Fingerprint == o.Fingerprint {
		t.Errorf("sales: %+v", s)
	}
	for _, k := range Kinds {
		r := Rule{Kind: k, Name: "x", Metric: "rows_in", Op: "<", Value: 1, Statuses: []string{"failed"}}
		if summarize(&r, "p", 1) == "" || !strings.Contains(summarize(&r, "p", 1), "p") {
			t.Errorf("kind %s has no summary", k)
		}
	}
}

// BenchmarkEvaluate1000 is one evaluation cycle's rules for 1,000
// pipelines with 60 runs of history each, every default rule and a
// threshold: the target is under 50 ms of CPU.
func BenchmarkEvaluate1000(b *testing.B) {
	cfg, problems := ParseConfig(map[string]any{"rules": []any{map[string]any{"name": "low", "kind": "threshold",
		"metric": "rows_loaded", "op": "<", "value": 10}}})
	if len(problems) > 0 {
		b.Fatal(problems)
	}
	hourly, _ := scheduler.ParseSchedule("@hourly", "")
	snap := Snapshot{Now: t0}
	for i := range 1000 {
		runs := daily(60, func(j int) int64 { return int64(1000 + (i+j)%17*10) }, func(j int) float64 { return 90 + float64(j%5) })
		snap.Pipelines = append(snap.Pipelines, PipelineInput{Name: fmt.Sprintf("p%04d", i), Source: fmt.Sprintf("s%d", i%20),
			Runs: runs, Schedule: hourly, Since: t0.Add(-90 * 24 * time.Hour)})
	}
	b.ReportAllocs()
	b.ResetTimer()
	var n int
	for range b.N {
		n = len(Evaluate(cfg, snap))
	}
	b.StopTimer()
	if n != 1000 { // every pipeline is stale against its hourly schedule
		b.Fatalf("%d conditions, want 1000", n)
	}
}

func TestNullRatesOfEveryColumn(t *testing.T) {
	runs := daily(15, steady(0), score(100))
	for i := range runs {
		runs[i].Metrics["null_rate:phone"] = 0.30 + float64(i%3)*0.01
	}
	runs[0].Metrics["null_rate:email"] = 0.40 // from 1%
	runs[0].Metrics["null_rate:phone"] = 0.305
	cfg, _ := ParseConfig(nil)
	var got []Condition
	for _, c := range Evaluate(cfg, Snapshot{Now: t0, Pipelines: []PipelineInput{{Name: "crm", Source: "db", Runs: runs}}}) {
		if c.Rule.Name == "null_rate_anomaly" {
			got = append(got, c)
		}
	}
	if len(got) != 1 || got[0].Labels["metric"] != "null_rate:email" || !strings.Contains(got[0].Summary, "null_rate:email of crm") {
		t.Fatalf("null rate anomalies %+v", got)
	}
	// Two points more is not an anomaly, whatever the MAD.
	runs[0].Metrics["null_rate:email"] = 0.025
	for _, c := range Evaluate(cfg, Snapshot{Now: t0, Pipelines: []PipelineInput{{Name: "crm", Runs: runs}}}) {
		if c.Rule.Name == "null_rate_anomaly" {
			t.Fatalf("a rise of 1.5 points: %+v", c)
		}
	}
}

// TestConfigStaleLimit: the freshness limit the web UI shows is the stale
// rule's: its after where monitoring.yaml sets one (overrides applied),
// twice the schedule's interval where not, the shortest of several
// absence rules; none when every one is off for the pipeline.
func TestConfigStaleLimit(t *testing.T) {
	daily := mustSchedule(t, "0 2 * * *")
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	load := func(text string) *Config {
		t.Helper()
		p, err := loadMonitoring(t, text)
		if err != nil {
			t.Fatal(err)
		}
		cfg, problems := ParseConfig(p.Monitoring)
		if len(problems) > 0 {
			t.Fatal(problems)
		}
		return cfg
	}
	for _, c := range []struct {
		name, yaml, pipeline string
		want                 time.Duration
		ok                   bool
	}{
		{"the default rule: twice the interval", "", "orders", 48 * time.Hour, true},
		{"an override's after", "overrides:\n  orders:\n    data_stale: {after: 6h}\n", "orders", 6 * time.Hour, true},
		{"another pipeline keeps the default", "overrides:\n  orders:\n    data_stale: {after: 6h}\n", "events", 48 * time.Hour, true},
		{"off for the pipeline", "overrides:\n  orders:\n    data_stale: {disabled: true}\n", "orders", 48 * time.Hour, false},
		{"the shortest of two", "rules:\n  - {name: stale_fast, kind: absence, after: 90m, pipelines: [orders]}\n", "orders", 90 * time.Minute, true},
		{"a rule for other pipelines", "rules:\n  - {name: stale_fast, kind: absence, after: 90m, pipelines: [orders]}\n", "events", 48 * time.Hour, true},
		{"no default rules", "default_rules: false\n", "orders", 48 * time.Hour, false},
	} {
		got, ok := load(c.yaml).StaleLimit(c.pipeline, daily, now)
		if got != c.want || ok != c.ok {
			t.Errorf("%s: %s %v, want %s %v", c.name, got, ok, c.want, c.ok)
		}
	}
}
