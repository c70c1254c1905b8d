package healing

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/resilience"
)

func TestSignatures(t *testing.T) {
	cases := []struct {
		err  error
		want Category
	}{
		{fmt.Errorf("extract: %w", &pgconn.PgError{Code: "40P01", Message: "deadlock detected"}), Deadlock},
		{&pgconn.PgError{Code: "28P01"}, Auth},
		{&pgconn.PgError{Code: "22007"}, DateFormat},
		{&pgconn.PgError{Code: "53300"}, ResourceExhaustion},
		{&pgconn.PgError{Code: "08006"}, Transient},
		{&pgconn.PgError{Code: "42P01"}, ConfigError},
		{&mysql.MySQLError{Number: 1045}, Auth},
		{&mysql.MySQLError{Number: 2013}, Transient},
		{&resilience.HTTPError{Status: 429}, RateLimited},
		{&resilience.HTTPError{Status: 503}, SourceUnavailable},
		{&resilience.HTTPError{Status: 404}, ConfigError},
		{fmt.Errorf("run: %w", context.DeadlineExceeded), Timeout},
	}
	for _, c := range cases {
		d := Diagnose(FromError(c.err, "postgres"), nil)
		if d.Category != c.want || d.Confidence < 0.9 || !strings.HasPrefix(d.By, "signature") {
			t.Errorf("%v: %+v, want %s", c.err, d, c.want)
		}
	}
	// Evidence left in stored text counts too.
	for text, want := range map[string]Category{
		"ERROR: canceling statement due to statement timeout (SQLSTATE 57014)": Timeout,
		"Error 1205 (HY000): Lock wait timeout exceeded":                       Deadlock,
		"GET https://api.x/y: 401 Unauthorized: no":                            Auth,
	} {
		if d := Diagnose(Issue{Text: text}, nil); d.Category != want {
			t.Errorf("%q: %+v, want %s", text, d, want)
		}
	}
	// A failed rule whose kind has one root cause.
	for text, want := range map[string]Category{
		"rule expect_column_values_to_be_unique(id) failed: 2 unexpected values, e.g. [4 4]":   Duplicates,
		"rule expect_column_values_to_not_be_null(email) failed: 40 unexpected values":         NullSpike,
		"rule expect_column_values_to_be_in_set(region) failed: 3 unexpected values, e.g. [x]": ValueDrift,
	} {
		if d := Diagnose(Issue{Kind: "quality", Text: text}, nil); d.Category != want || d.By != "signature "+strings.Split(strings.TrimPrefix(text, "rule "), "(")[0] {
			t.Errorf("%q: %+v, want %s", text, d, want)
		}
	}
	if _, ok := Signature(Issue{Kind: "quality", Text: "rule expect_column_values_to_be_between(amount) failed"}); ok {
		t.Error("a range rule has several causes; the model decides it")
	}
	if d := Diagnose(Issue{Text: "something odd"}, nil); d.Category != ConfigError || d.Confidence > 0.5 || d.By != "no model" {
		t.Errorf("no model: %+v", d)
	}
	if is := FromError(fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "api"); is.GoError != "eof" {
		t.Errorf("eof: %+v", is)
	}
}

// TestModelLearnsTheTaxonomy trains on the corpus and checks held-out
// quality and calibration: the targets a new model must keep meeting.
func TestModelLearnsTheTaxonomy(t *testing.T) {
	all, err := Corpus(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[Category]bool{}
	for _, ex := range all {
		seen[ex.Category] = true
	}
	for _, c := range Categories {
		if !seen[c] {
			t.Errorf("the corpus has no example of %s", c)
		}
	}
	train, held := Split(all)
	m, err := Train(train)
	if err != nil {
		t.Fatal(err)
	}
	m.Calibrate(held)
	ev := Evaluate(m, held)
	if ev.Accuracy < 0.9 || ev.MacroF1 < 0.85 || ev.ECE > 0.1 {
		t.Fatalf("held-out accuracy %.3f, macro F1 %.3f, ECE %.3f", ev.Accuracy, ev.MacroF1, ev.ECE)
	}
	// The text alone, without signatures, still decides well.
	d := m.Predict(Issue{Kind: "task", Text: "CAST (column price): Could not convert string \"3,50\" to 'DECIMAL(10,2)'"})
	if d.Category != NumberFormat || d.RunnerUp == "" {
		t.Errorf("decimal comma: %+v", d)
	}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	back, err := UnmarshalModel(b)
	if err != nil || back.Predict(Issue{Text: "extra column \"coupon\" is not in the schema; ignored", Kind: "drift"}).Category != DriftAdded {
		t.Fatalf("round trip: %v", err)
	}
	var sb strings.Builder
	ev.WriteReport(&sb, "t")
	if !strings.Contains(sb.String(), "| deadlock |") || !strings.Contains(sb.String(), "Calibration") {
		t.Errorf("report:\n%s", sb.String())
	}
	if _, err := Train(nil); err == nil {
		t.Error("training on nothing")
	}
	if _, err := Train([]Example{{Issue: Issue{Text: "x"}, Category: "nope"}}); err == nil {
		t.Error("unknown category accepted")
	}
	if _, err := UnmarshalModel([]byte("{")); err == nil {
		t.Error("bad model accepted")
	}
}

// TestTrainAndPromote: the first model is promoted; an identical one is
// not; feedback enters the corpus.
func TestTrainAndPromote(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	first, err := TrainAndPromote(ctx, store)
	if err != nil || !first.Promoted || first.Version != 1 {
		t.Fatalf("first: %+v %v", first, err)
	}
	second, err := TrainAndPromote(ctx, store)
	if err != nil || second.Promoted || second.Current == nil || second.CurrentVer != 1 {
		t.Fatalf("second: %+v %v", second, err)
	}
	before, _ := Corpus(ctx, store)
	store.AddExample(ctx, `{"issue":{"kind":"task","text":"bucket landing is being migrated"},"category":"source_unavailable"}`)
	after, err := Corpus(ctx, store)
	if err != nil || len(after) != len(before)+1 || after[len(after)-1].Origin != "feedback" {
		t.Fatalf("feedback: %d -> %d %v", len(before), len(after), err)
	}
	store.AddExample(ctx, `{"category":"nope"}`)
	if _, err := Corpus(ctx, store); err == nil {
		t.Fatal("a bad feedback example was accepted")
	}
	m, found, err := ActiveModel(ctx, store)
	if err != nil || !found || m.Version != 1 {
		t.Fatalf("active: %v %v %v", m, found, err)
	}
	if _, err := ParseCategory("deadlocks"); err == nil {
		t.Error("bad category parsed")
	}
	if c, err := ParseCategory(" Deadlock "); err != nil || c != Deadlock {
		t.Errorf("category: %v %v", c, err)
	}
	if _, err := ReadExamples(strings.NewReader("{\"category\":\"transient\"}\nnot json\n"), "x.jsonl"); err == nil || !strings.Contains(err.Error(), "x.jsonl:2") {
		t.Errorf("bad line: %v", err)
	}
}

// TestDetectRun: a volume drop against a steady history is an anomaly on
// the same weekday's baseline; too little history says nothing; a normal
// run passes.
func TestDetectRun(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	start := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC) // a Monday
	add := func(i int, rows, quarantined int64, dur time.Duration) string {
		id := fmt.Sprintf("run-%03d", i)
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		if err := store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: "p", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		if err := store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(dur), RowsIn: rows, RowsQuarantined: quarantined}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	early := add(0, 20000, 10, time.Minute)
	if as, err := DetectRun(ctx, store, early); err != nil || len(as) != 0 {
		t.Fatalf("no history: %v %v", as, err)
	}
	for i := 1; i < 35; i++ {
		rows := int64(20000 + 300*(i%5))
		if (start.Add(time.Duration(i) * 24 * time.Hour)).Weekday() == time.Sunday {
			rows = 5000 // quiet Sundays
		}
		add(i, rows, 10, time.Minute+time.Duration(i%3)*time.Second)
	}
	normal := add(35, 20100, 12, time.Minute)
	if as, err := DetectRun(ctx, store, normal); err != nil || len(as) != 0 {
		t.Fatalf("a normal run: %+v %v", as, err)
	}
	sunday := add(41, 5000, 10, time.Minute) // day 41 is a Sunday: quiet is normal
	if as, err := DetectRun(ctx, store, sunday); err != nil || len(as) != 0 {
		t.Fatalf("a quiet Sunday: %+v %v", as, err)
	}
	drop := add(42, 1200, 900, 10*time.Minute)
	as, err := DetectRun(ctx, store, drop)
	if err != nil {
		t.Fatal(err)
	}
	metrics := map[string]Anomaly{}
	for _, a := range as {
		metrics[a.Metric] = a
	}
	v, ok := metrics["rows_in"]
	if !ok || v.MADs > -Threshold || !v.Seasonal || !strings.Contains(v.Issue.Text, "below the median") {
		t.Fatalf("volume drop: %+v", as)
	}
	if _, ok := metrics["quarantined_share"]; !ok {
		t.Errorf("quarantine rise not seen: %+v", as)
	}
	if _, ok := metrics["duration_s"]; !ok {
		t.Errorf("slow run not seen: %+v", as)
	}
	hand, _ := HandLabeled()
	train, _ := Split(append(hand, Injected(injectedPerTemplate)...))
	m, _ := Train(train)
	if d := Diagnose(v.Issue, m); d.Category != VolumeAnomaly {
		t.Errorf("the volume drop is diagnosed %+v", d)
	}
}

func TestParsePolicy(t *testing.T) {
	p, err := ParsePolicy(map[string]any{
		"confidence_threshold": 0.7, "dry_run": false, "auto_approve": []any{"quarantine_duplicates"},
		"strategies":       map[string]any{"normalize_to_value_set": map[string]any{"threshold": 0.5}},
		"categories":       map[string]any{"duplicates": map[string]any{"threshold": uint64(1)}},
		"approval_timeout": "30m",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Threshold != 0.7 || p.ApprovalTimeout != 30*time.Minute || !p.AutoApprove["quarantine_duplicates"] || p.threshold("normalize_to_value_set", Transient) != 0.5 ||
		p.threshold("quarantine_duplicates", Duplicates) != 1 || p.threshold("x", Transient) != 0.7 {
		t.Fatalf("policy %+v", p)
	}
	if d, _ := ParsePolicy(nil); d.Threshold != 0.9 || len(d.AutoApprove) != 0 || d.DryRun {
		t.Fatalf("defaults %+v", d)
	}
	for _, bad := range []map[string]any{
		{"confidence_threshold": 2.0}, {"confidence_threshold": "high"}, {"dry_run": "yes"}, {"auto_approve": "all"},
		{"auto_approve": []any{"teleport"}}, {"strategies": []any{}}, {"strategies": map[string]any{"x": 1}},
		{"strategies": map[string]any{"teleport": map[string]any{"threshold": 0.5}}},
		{"categories": map[string]any{"gremlins": map[string]any{"threshold": 0.5}}}, {"colour": "blue"},
		{"approval_timeout": "soon"}, {"approval_timeout": "-1m"}, {"approval_timeout": "48h"}, {"approval_timeout": 30},
	} {
		if _, err := ParsePolicy(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	if len(Strategies()) < 2 {
		t.Fatal("strategies not registered")
	}
}

func TestSuggestThreshold(t *testing.T) {
	right := func(c float64) prediction { return prediction{c, true} }
	wrong := func(c float64) prediction { return prediction{c, false} }
	for _, tc := range []struct {
		name  string
		preds []prediction
		want  float64
	}{
		{"all right", []prediction{right(0.99), right(0.9), right(0.8), right(0.7), right(0.6)}, 0.6},
		{"too few", []prediction{right(0.99), right(0.9), right(0.8)}, 0},
		{"errors below 0.8", []prediction{right(0.99), right(0.95), right(0.9), right(0.85), right(0.8), wrong(0.7), wrong(0.6)}, 0.8},
		{"ties count together", []prediction{right(0.9), right(0.9), right(0.9), right(0.9), wrong(0.9), right(0.5)}, 0},
		{"never precise", []prediction{wrong(0.99), right(0.9), wrong(0.8), right(0.7), wrong(0.6)}, 0},
		{"none", nil, 0},
	} {
		if got := suggestThreshold(tc.preds); got != tc.want {
			t.Errorf("%s: suggestThreshold = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestHoldCommit: a volume anomaly holds the commit until a person
// approves that batch; a normal batch, a dry run and a policy that turns
// holds off pass.
func TestHoldCommit(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	start := seedRuns(t, store, func(i int) metadata.Run { return metadata.Run{RowsIn: int64(20000 + 100*(i%3))} })
	policy, _ := ParsePolicy(nil)
	e := &Engine{Store: store, Policy: policy}
	now := start.Add(10 * 24 * time.Hour)
	req := func(rows int64, keys ...string) pipeline.HoldRequest {
		r := pipeline.HoldRequest{RunID: "run-new", Pipeline: "p", Started: now, RowsIn: rows}
		for _, k := range keys {
			r.Objects = append(r.Objects, metadata.ObjectRef{Key: k, Fingerprint: "fp-" + k})
		}
		return r
	}
	if reason, err := holdText(ctx, e, req(20050, "a.csv")); err != nil || reason != "" {
		t.Fatalf("a normal batch was held: %q %v", reason, err)
	}
	reason, err := holdText(ctx, e, req(900, "b.csv"))
	if err != nil || !strings.Contains(reason, "below the median") || !strings.Contains(reason, "shp healing approve") {
		t.Fatalf("a volume drop was not held: %q %v", reason, err)
	}
	proposed, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "proposed"})
	if len(proposed) != 1 || proposed[0].Strategy != "hold" || proposed[0].Category != string(VolumeAnomaly) || proposed[0].RowsAffected != 900 {
		t.Fatalf("proposed %+v", proposed)
	}
	if again, _ := holdText(ctx, e, req(900, "b.csv")); again != reason {
		t.Errorf("held again as %q, want the same action %q", again, reason)
	}
	if n, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "proposed"}); len(n) != 1 {
		t.Errorf("a second run of the held batch proposed again: %+v", n)
	}
	if err := store.DecideAction(ctx, proposed[0].ID, "approved", "ana", "month-end cut-over"); err != nil {
		t.Fatal(err)
	}
	if r, err := holdText(ctx, e, req(900, "b.csv")); err != nil || r != "" {
		t.Fatalf("the approved batch is still held: %q %v", r, err)
	}
	applied, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "applied"})
	if len(applied) != 1 || !strings.Contains(applied[0].ApprovedBy, fmt.Sprintf("ana (approval of action #%d)", proposed[0].ID)) {
		t.Fatalf("release not recorded: %+v", applied)
	}
	if r, _ := holdText(ctx, e, req(900, "b.csv", "c.csv")); r == "" {
		t.Error("the approval let a different batch through")
	}
	dry := &Engine{Store: store, Policy: Policy{HoldVolume: true, DryRun: true}}
	if r, err := holdText(ctx, dry, req(800, "d.csv")); err != nil || r != "" {
		t.Fatalf("dry run held: %q %v", r, err)
	}
	if d, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "dry_run"}); len(d) != 1 {
		t.Errorf("dry run not recorded: %+v", d)
	}
	off, _ := ParsePolicy(map[string]any{"hold_volume_anomalies": false})
	if r, err := holdText(ctx, (&Engine{Store: store, Policy: off}), req(800, "e.csv")); err != nil || r != "" {
		t.Fatalf("holds turned off, still held: %q %v", r, err)
	}
	reported, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "escalated"})
	if len(reported) != 1 || reported[0].Strategy != "report_anomaly" || !strings.Contains(reported[0].Issue, "below the median") {
		t.Fatalf("an anomaly not held should be reported: %+v", reported)
	}
	if _, err := ParsePolicy(map[string]any{"hold_volume_anomalies": "yes"}); err == nil {
		t.Error("hold_volume_anomalies: yes accepted")
	}
}

// TestHoldQualityDropReportLateData: a batch whose quality score fell is
// held; data later than usual is reported (diagnosed as late data) and
// does not hold the commit; with hold_quality_drops off both are reported
// and the batch commits.
func TestHoldQualityDropReportLateData(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	start := seedRuns(t, store, func(i int) metadata.Run {
		return metadata.Run{RowsIn: 1000, Metrics: map[string]float64{"quality_score": 99 + 0.1*float64(i%2), "freshness_s": 3600 + 60*float64(i%3)}}
	})
	req := func(key string, quality, fresh float64) pipeline.HoldRequest {
		return pipeline.HoldRequest{RunID: "run-" + key, Pipeline: "p", Started: start.Add(10 * 24 * time.Hour), RowsIn: 1000,
			Objects: []metadata.ObjectRef{{Key: key, Fingerprint: "fp"}}, Metrics: map[string]float64{"quality_score": quality, "freshness_s": fresh}}
	}
	policy, _ := ParsePolicy(nil)
	e := &Engine{Store: store, Policy: policy}
	if r, err := holdText(ctx, e, req("late.csv", 99, 26*3600)); err != nil || r != "" {
		t.Fatalf("late data held the commit: %q %v", r, err)
	}
	as, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "escalated"})
	if len(as) != 1 || as[0].Strategy != "report_anomaly" || as[0].Category != string(LateData) ||
		!strings.Contains(as[0].Issue, "data is later than usual: the newest event was 26h0m0s old when the run started (median 1h1m0s") {
		t.Fatalf("late data report: %+v", as)
	}
	// The same batch again is not reported twice.
	holdText(ctx, e, req("late.csv", 99, 26*3600))
	if as, _ := store.ListActions(ctx, metadata.ActionFilter{Status: "escalated"}); len(as) != 1 {
		t.Fatalf("reported twice: %+v", as)
	}
	r, err := holdText(ctx, e, req("bad.csv", 70, 3600))
	if err != nil || !strings.Contains(r, "quality score fell to 70.0") || !strings.Contains(r, "shp healing approve") {
		t.Fatalf("a quality drop was not held: %q %v", r, err)
	}
	off, _ := ParsePolicy(map[string]any{"hold_quality_drops": false})
	if r, err := holdText(ctx, (&Engine{Store: store, Policy: off}), req("worse.csv", 60, 26*3600)); err != nil || r != "" {
		t.Fatalf("hold_quality_drops: false, still held: %q %v", r, err)
	}
	// Late data again is the same open issue, seen twice; the quality
	// drop is a new one.
	as, _ = store.ListActions(ctx, metadata.ActionFilter{Status: "escalated"})
	if len(as) != 2 || as[0].Strategy != "report_anomaly" || !strings.Contains(as[0].Issue, "quality score fell to 60.0") ||
		as[1].Occurrences != 2 || as[1].RunID != "run-late.csv" || as[1].LastSeenAt.IsZero() {
		t.Fatalf("want the late data (twice) and the quality drop of worse.csv reported: %+v", as)
	}
}

// holdText is the reason a hold check gives, "" when it lets the batch
// through.
func holdText(ctx context.Context, e *Engine, req pipeline.HoldRequest) (string, error) {
	h, err := e.HoldCommit(ctx, req)
	if h == nil {
		return "", err
	}
	return h.Reason, err
}

// seedRuns records ten daily successful runs of pipeline p from
// 2026-01-05 02:00 UTC, the i-th with run(i)'s rows in and metrics, and
// returns the first one's start.
func seedRuns(t *testing.T, store metadata.Store, run func(i int) metadata.Run) time.Time {
	t.Helper()
	ctx := context.Background()
	start := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		id, at := fmt.Sprintf("run-%02d", i), start.Add(time.Duration(i)*24*time.Hour)
		if err := store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: "p", StartedAt: at}); err != nil {
			t.Fatal(err)
		}
		r := run(i)
		r.ID, r.Status, r.EndedAt = id, "succeeded", at.Add(time.Minute)
		if err := store.FinishRun(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	return start
}

// openTestStore opens a SQLite metadata store in a temporary folder.
func openTestStore(t *testing.T) metadata.Store {
	t.Helper()
	store, err := metadata.Open(context.Background(), "sqlite", filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// TestDetectNullSpikeAndQualityDrop: a column's null rate that jumps, and
// a quality score that falls, are anomalies; steady ones are not.
func TestDetectNullSpikeAndQualityDrop(t *testing.T) {
	start := time.Date(2026, 1, 5, 2, 0, 0, 0, time.UTC)
	var runs []metadata.Run
	for i := 0; i < 10; i++ {
		runs = append(runs, metadata.Run{ID: fmt.Sprintf("r%d", i), StartedAt: start.Add(time.Duration(i) * time.Hour), RowsIn: 1000,
			Metrics: map[string]float64{"null_rate:email": 0.01 + 0.001*float64(i%3), "null_rate:phone": 0.5, "quality_score": 99 + 0.1*float64(i%2)}})
	}
	at := start.Add(20 * time.Hour)
	steady := metadata.Run{ID: "now", StartedAt: at, RowsIn: 1000, Metrics: map[string]float64{"null_rate:email": 0.012, "null_rate:phone": 0.51, "quality_score": 99}}
	if as := detect(steady, runs); len(as) != 0 {
		t.Fatalf("steady: %+v", as)
	}
	spike := metadata.Run{ID: "now", StartedAt: at, RowsIn: 1000, Metrics: map[string]float64{"null_rate:email": 0.45, "null_rate:phone": 0.49, "quality_score": 80}}
	got := map[string]string{}
	for _, a := range detect(spike, runs) {
		got[a.Metric] = a.Issue.Text
	}
	if len(got) != 2 || !strings.Contains(got["null_rate:email"], "null rate of column email rose to 45.0%") ||
		!strings.Contains(got["quality_score"], "quality score fell to 80.0") {
		t.Fatalf("anomalies: %v", got)
	}
}

// TestAwaitDecision: a waiting run sees an approval or a rejection, and
// gives up at approval_timeout; without a timeout it does not wait.
func TestAwaitDecision(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	propose := func() int64 {
		id, err := store.RecordAction(ctx, metadata.HealingAction{RunID: "r", Pipeline: "p", Strategy: "hold", Status: "proposed", Issue: "row count fell"})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	e := &Engine{Store: store, Policy: Policy{ApprovalTimeout: 80 * time.Millisecond}, PollEvery: 10 * time.Millisecond}
	var waited []int64
	e.OnWait = func(id int64, until time.Time) { waited = append(waited, id) }
	id := propose()
	start := time.Now()
	if ok, err := e.AwaitDecision(ctx, id); ok || err != nil || time.Since(start) < 80*time.Millisecond {
		t.Fatalf("no decision: %v %v after %s", ok, err, time.Since(start))
	}
	store.DecideAction(ctx, id, "approved", "ana", "fine")
	if ok, err := e.AwaitDecision(ctx, id); !ok || err != nil {
		t.Fatalf("approved: %v %v", ok, err)
	}
	id2 := propose()
	store.DecideAction(ctx, id2, "rejected", "ana", "a real outage")
	if _, err := e.AwaitDecision(ctx, id2); !errors.Is(err, pipeline.ErrRejected) || !strings.Contains(err.Error(), "rejected by ana: a real outage") {
		t.Fatalf("rejected: %v", err)
	}
	if len(waited) != 3 || waited[0] != id || waited[2] != id2 {
		t.Fatalf("OnWait heard %v", waited)
	}
	if ok, err := (&Engine{Store: store}).AwaitDecision(ctx, propose()); ok || err != nil {
		t.Fatalf("without approval_timeout: %v %v", ok, err)
	}
}

func TestIssueKind(t *testing.T) {
	for strategy, want := range map[string]string{
		"normalize_to_value_set": "quality", "parse_date_format": "drift", "rename_column": "drift",
		"hold": "anomaly", "report_anomaly": "anomaly", "retry_with_backoff": "task",
	} {
		if got := IssueKind(strategy); got != want {
			t.Errorf("IssueKind(%s) = %s, want %s", strategy, got, want)
		}
	}
}

// TestRunFinishedReportsSlowRuns: a run that took far longer than usual
// is reported once it has finished; a usual one is not.
func TestRunFinishedReportsSlowRuns(t *testing.T) {
	ctx := context.Background()
	store := openTestStore(t)
	start := seedRuns(t, store, func(i int) metadata.Run { return metadata.Run{RowsIn: 1000} })
	e := &Engine{Store: store}
	for _, tc := range []struct {
		id   string
		took time.Duration
	}{{"usual", time.Minute}, {"slow", 30 * time.Minute}} {
		at := start.Add(12 * 24 * time.Hour)
		store.CreateRun(ctx, metadata.Run{ID: tc.id, Pipeline: "p", StartedAt: at})
		store.FinishRun(ctx, metadata.Run{ID: tc.id, Status: "succeeded", EndedAt: at.Add(tc.took), RowsIn: 1000})
		if err := e.RunFinished(ctx, tc.id); err != nil {
			t.Fatal(err)
		}
	}
	as, _ := store.ListActions(ctx, metadata.ActionFilter{Pipeline: "p"})
	if len(as) != 1 || as[0].RunID != "slow" || as[0].Strategy != "report_anomaly" || as[0].Status != "escalated" ||
		!strings.Contains(as[0].Issue, "the run took 1800.0s, median 60.0s") {
		t.Fatalf("actions %+v", as)
	}
	if as[0].Category != string(SlowRun) {
		t.Errorf("a slow run diagnosed as %s (%.2f, %s)", as[0].Category, as[0].Confidence, as[0].DecidedBy)
	}
}
