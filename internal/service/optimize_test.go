package service

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/warehouse"
)

// engineWarehouse is a warehouse that takes layout changes: it times a
// query after a change at a tenth of before (or as before, slower).
type engineWarehouse struct {
	warehouse.Warehouse
	rows                  int64
	slower                bool
	unsupported, untried  bool
	applied               []string
	reverted              []string
	failApply, failRevert error
	trials                int
	// after is the time a query takes after a change of a kind (10ms
	// when unset).
	after map[string]time.Duration
}

func (w *engineWarehouse) Describe(_ context.Context, table string) (optimize.Table, error) {
	return optimize.Table{Name: table, Rows: w.rows, Columns: []optimize.Column{{Name: "id", Type: "BIGINT"}, {Name: "region", Type: "VARCHAR"}, {Name: "day", Type: "DATE"}}}, nil
}

func (w *engineWarehouse) Trial(_ context.Context, table string, c optimize.Change, queries []string) ([]optimize.Timing, error) {
	w.trials++
	if w.unsupported {
		return nil, fmt.Errorf("test: %s: %w", c, optimize.ErrUnsupported)
	}
	if w.untried {
		return nil, fmt.Errorf("test: %s: %w: metadata only", c, optimize.ErrUntried)
	}
	var out []optimize.Timing
	for _, q := range queries {
		after := 10 * time.Millisecond
		if d, ok := w.after[c.Kind]; ok {
			after = d
		}
		if w.slower {
			after = 200 * time.Millisecond
		}
		out = append(out, optimize.Timing{Query: q, Before: 100 * time.Millisecond, After: after, Rows: 1, SameResult: true})
	}
	return out, nil
}

func (w *engineWarehouse) Apply(_ context.Context, table string, c optimize.Change) (string, error) {
	if w.failApply != nil {
		return "", w.failApply
	}
	w.applied = append(w.applied, table+":"+c.String())
	return "undo-" + table, nil
}

func (w *engineWarehouse) Revert(_ context.Context, table, undo string) error {
	if w.failRevert != nil {
		return w.failRevert
	}
	w.reverted = append(w.reverted, table+":"+undo)
	return nil
}

func TestOptimizations(t *testing.T) {
	f := newFixture(t, nil)
	w := &engineWarehouse{rows: 5_000_000}
	// Without a warehouse, or a store of queries, nothing to recommend.
	if _, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{}); !errors.Is(err, ErrUnavailable) {
		t.Errorf("without a warehouse: %v", err)
	}
	f.svc.Warehouse = w
	target := f.svc.Project.Config.Pipelines["orders"].Target
	for i := range 10 {
		f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: fmt.Sprintf("SELECT id, day FROM %s WHERE region = 'R%d'", target, i),
			Duration: 100 * time.Millisecond, Rows: 3}))
	}
	f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: "SELECT * FROM not_a_target WHERE region = 'x'"}))
	work, err := f.svc.Workload(f.ctx, time.Time{})
	f.must(err)
	if u := work[target]; u == nil || u.Queries != 10 || u.Equality["region"] != 10 {
		t.Fatalf("workload %+v", work)
	}
	if _, err := f.svc.RecommendOptimizations(f.ctx, "not_a_target", time.Time{}); err == nil || !strings.Contains(err.Error(), "not the target") {
		t.Errorf("a table that is no target: %v", err)
	}
	recs, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	// Two candidates on DuckDB, both tried: an index, and a sort.
	if len(recs) != 2 || recs[0].Change.Kind != "index" || recs[1].Change.Kind != "sort" {
		t.Fatalf("recommendations %+v", recs)
	}
	for _, r := range recs {
		if r.Status != OptProposed || r.Trial == nil || !r.Trial.Accept || r.Trial.Speedup < 9 || len(r.Evidence) == 0 || r.Table != target {
			t.Errorf("recommendation %+v", r)
		}
	}
	id := recs[1].ID

	// One applied change per table: with the index applied, the sort waits.
	if _, err := f.svc.ApplyOptimization(f.ctx, recs[0].ID, "ana", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.ApplyOptimization(f.ctx, id, "ana", ""); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "revert it first") {
		t.Errorf("a second change on the table: %v", err)
	}
	if _, err := f.svc.RevertOptimization(f.ctx, recs[0].ID, "ana", "the sort instead"); err != nil {
		t.Fatal(err)
	}
	w.applied, w.reverted = nil, nil

	// Applied, once; then reverted, with a reason.
	if _, err := f.svc.RevertOptimization(f.ctx, id, "ana", "why"); !errors.Is(err, ErrConflict) {
		t.Errorf("a revert of a proposal: %v", err)
	}
	v, err := f.svc.ApplyOptimization(f.ctx, id, "ana", "")
	f.must(err)
	if v.Status != OptApplied || v.DecidedBy != "ana" || len(w.applied) != 1 {
		t.Errorf("applied %+v %v", v, w.applied)
	}
	if _, err := f.svc.ApplyOptimization(f.ctx, id, "bo", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("a second apply: %v", err)
	}
	// The applied sort is the table's layout now: nothing more to do.
	again, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if len(again) != 0 {
		t.Errorf("recommended again on the sorted table: %+v", again)
	}
	if _, err := f.svc.RevertOptimization(f.ctx, id, "ana", " "); err == nil {
		t.Error("a revert without a reason")
	}
	w.failRevert = errors.New("rows changed")
	if _, err := f.svc.RevertOptimization(f.ctx, id, "ana", "load order"); err == nil {
		t.Error("a failed revert was recorded")
	}
	w.failRevert = nil
	v, err = f.svc.RevertOptimization(f.ctx, id, "ana", "load order")
	f.must(err)
	if v.Status != OptReverted || v.Reason != "load order" || len(w.reverted) != 1 || w.reverted[0] != target+":undo-"+target {
		t.Errorf("reverted %+v %v", v, w.reverted)
	}

	// A change whose trial shows no gain is declined, with why.
	w.slower = true
	recs, err = f.svc.RecommendOptimizations(f.ctx, target, time.Time{})
	f.must(err)
	if len(recs) != 2 || recs[0].Status != OptDeclined || recs[1].Status != OptDeclined || !strings.Contains(recs[0].Reason, "slower") {
		t.Fatalf("changes that do not gain: %+v", recs)
	}
	w.failApply = errors.New("disk full")
	if _, err := f.svc.ApplyOptimization(f.ctx, recs[0].ID, "ana", "try it"); err == nil {
		t.Error("a failed apply")
	}
	all, err := f.svc.Optimizations(f.ctx, "")
	f.must(err)
	if len(all) != 4 || all[0].Status != OptDeclined || all[2].Status != OptReverted || all[3].Status != OptReverted {
		t.Errorf("optimizations %+v", all)
	}
	if _, err := f.svc.ApplyOptimization(f.ctx, 999, "ana", ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("an unknown optimization: %v", err)
	}

	// A change the warehouse does not make is recorded declined, saying so.
	w.slower, w.unsupported = false, true
	recs, err = f.svc.RecommendOptimizations(f.ctx, target, time.Time{})
	f.must(err)
	if len(recs) == 0 || recs[0].Status != OptDeclined || !strings.Contains(recs[0].Reason, "not a change this warehouse makes") {
		t.Errorf("an unsupported change: %+v", recs)
	}
	w.unsupported = false

	// A change the warehouse makes but does not try is proposed, untried,
	// saying why; a person may apply it, the policy never does.
	w.untried = true
	f.svc.Project.Config.Optimization.AutoApply = []string{"index", "sort"}
	w.applied = nil
	recs, err = f.svc.RecommendOptimizations(f.ctx, target, time.Time{})
	f.must(err)
	if len(recs) == 0 || recs[0].Status != OptProposed || recs[0].Trial != nil || !strings.HasPrefix(recs[0].Reason, "untried: test:") ||
		!strings.Contains(recs[0].Reason, "metadata only") || len(w.applied) != 0 {
		t.Errorf("an untried change: %+v %v", recs, w.applied)
	}
	w.untried, f.svc.Project.Config.Optimization.AutoApply = false, nil

	// A small table gets nothing.
	w.rows, w.slower = 1000, false
	if recs, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{}); err != nil || len(recs) != 0 {
		t.Errorf("a small table: %+v %v", recs, err)
	}

	// Records older than the retention are pruned as new ones come.
	f.now = f.now.Add(HistoryRetention + 2*time.Hour)
	f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: "SELECT 1"}))
	if work, err := f.svc.Workload(f.ctx, time.Time{}); err != nil || len(work) != 0 {
		t.Errorf("the history after its retention: %v %v", work, err)
	}
}

// TestOptimizationAutoApply: the kinds optimization.auto_apply names
// are applied by policy once their trial shows the gain, the best of a
// table's first; other kinds, and changes that do not gain, wait.
func TestOptimizationAutoApply(t *testing.T) {
	f := newFixture(t, nil)
	w := &engineWarehouse{rows: 5_000_000, after: map[string]time.Duration{"index": 20 * time.Millisecond, "sort": 5 * time.Millisecond}}
	f.svc.Warehouse = w
	target := f.svc.Project.Config.Pipelines["orders"].Target
	for i := range 10 {
		f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: fmt.Sprintf("SELECT id FROM %s WHERE region = 'R%d'", target, i),
			Duration: 100 * time.Millisecond}))
	}
	byKind := func(vs []OptimizationView) map[string]OptimizationView {
		m := map[string]OptimizationView{}
		for _, v := range vs {
			m[v.Change.Kind] = v
		}
		return m
	}

	// Off by default: both accepted, both wait for a person.
	recs, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if k := byKind(recs); len(recs) != 2 || k["index"].Status != OptProposed || k["sort"].Status != OptProposed || len(w.applied) != 0 {
		t.Fatalf("without auto_apply: %+v %v", recs, w.applied)
	}

	// The index is allowed, the sort is not: the index is applied, by
	// policy, with the trial's figures as the reason.
	f.svc.Project.Config.Optimization.AutoApply = []string{"index"}
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	k := byKind(recs)
	if ix := k["index"]; ix.Status != OptApplied || ix.DecidedBy != AutoApplier || !strings.Contains(ix.Reason, "auto_apply names index") ||
		!strings.Contains(ix.Reason, "5.0x as fast") || k["sort"].Status != OptProposed || len(w.applied) != 1 {
		t.Fatalf("auto_apply [index]: %+v %v", recs, w.applied)
	}
	stored, err := f.svc.Optimizations(f.ctx, "")
	f.must(err)
	if stored[len(stored)-1].Status == OptApplied || stored[1].Status != OptApplied || stored[1].DecidedBy != AutoApplier {
		t.Errorf("the record of the applied change %+v", stored)
	}

	// With a change applied to the table, a new one is not applied over it.
	f.svc.Project.Config.Optimization.AutoApply = []string{"index", "sort"}
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if s := byKind(recs)["sort"]; s.Status != OptProposed || !strings.Contains(s.Reason, "not applied by policy") || len(w.applied) != 1 {
		t.Fatalf("over an applied change: %+v %v", recs, w.applied)
	}
	if _, err := f.svc.RevertOptimization(f.ctx, stored[1].ID, "ana", "try both"); err != nil {
		t.Fatal(err)
	}

	// A failed apply leaves the change proposed, saying why. (The index,
	// reverted by a person, is not the policy's to apply again.)
	w.applied, w.failApply = nil, errors.New("disk full")
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if k := byKind(recs); k["sort"].Status != OptProposed || !strings.Contains(k["sort"].Reason, "disk full") ||
		k["index"].Status != OptProposed || !strings.Contains(k["index"].Reason, "reverted before") {
		t.Errorf("a failed apply by policy: %+v", recs)
	}
	w.failApply = nil

	// Both allowed: of those never reverted, the one whose trial gained
	// most (the sort) is applied.
	w.applied = nil
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if k := byKind(recs); k["sort"].Status != OptApplied || k["index"].Status != OptProposed || len(w.applied) != 1 {
		t.Fatalf("the best of two: %+v %v", recs, w.applied)
	}
	applied := byKind(recs)["sort"].ID
	if _, err := f.svc.RevertOptimization(f.ctx, applied, "ana", "slower loads"); err != nil {
		t.Fatal(err)
	}
	// Both reverted by a person now: the policy applies neither again.
	w.applied = nil
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	for _, r := range recs {
		if r.Status != OptProposed || !strings.Contains(r.Reason, "reverted before") {
			t.Errorf("a reverted change: %+v", r)
		}
	}
	if len(w.applied) != 0 {
		t.Errorf("applied again after a revert: %v", w.applied)
	}

	// A change whose trial shows no gain is never applied.
	w.slower = true
	recs, err = f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	for _, r := range recs {
		if r.Status != OptDeclined {
			t.Errorf("a declined change: %+v", r)
		}
	}
	if len(w.applied) != 0 {
		t.Errorf("applied without gain: %v", w.applied)
	}
}

// TestOptimizationAdvice: queries that select every column of a table
// whose columns they partly never name get advice: recorded, never tried
// on the warehouse, never applied.
func TestOptimizationAdvice(t *testing.T) {
	f := newFixture(t, nil)
	w := &engineWarehouse{rows: 5_000_000}
	f.svc.Warehouse = w
	target := f.svc.Project.Config.Pipelines["orders"].Target
	for i := range 8 {
		f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: fmt.Sprintf("SELECT * FROM %s -- %d", target, i), Duration: time.Second}))
	}
	f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: "SELECT region, count(*) FROM " + target + " GROUP BY region"}))
	recs, err := f.svc.RecommendOptimizations(f.ctx, "", time.Time{})
	f.must(err)
	if len(recs) != 1 || recs[0].Status != OptAdvice || recs[0].Trial != nil || strings.Join(recs[0].Change.Columns, ",") != "day,id" ||
		recs[0].Rule != "select_star" || w.trials != 0 {
		t.Fatalf("advice %+v (%d trials)", recs, w.trials)
	}
	if _, err := f.svc.ApplyOptimization(f.ctx, recs[0].ID, "ana", ""); !errors.Is(err, ErrConflict) {
		t.Errorf("advice applied: %v", err)
	}
}

// importingWarehouse keeps a history of its own.
type importingWarehouse struct {
	engineWarehouse
	history []optimize.Record
}

func (w *importingWarehouse) ImportHistory(_ context.Context, limit int) ([]optimize.Record, error) {
	return w.history[:min(limit, len(w.history))], nil
}

// TestImportQueryHistory: the warehouse's own history joins the recorded
// queries; a second import replaces the first (its counts are totals);
// an imported text, with placeholders for its values, is never replayed,
// one that ran with its values is.
func TestImportQueryHistory(t *testing.T) {
	f := newFixture(t, nil)
	target := f.svc.Project.Config.Pipelines["orders"].Target
	if _, _, err := f.svc.ImportQueryHistory(f.ctx); !errors.Is(err, ErrUnavailable) {
		t.Errorf("without a warehouse: %v", err)
	}
	w := &importingWarehouse{engineWarehouse: engineWarehouse{rows: 5_000_000}, history: []optimize.Record{
		{Text: "SELECT id, day FROM " + target + " WHERE region = $1", Calls: 400, Duration: time.Minute},
		{Text: "SELECT count(*) FROM " + target, Calls: 10, Duration: time.Second},
	}}
	f.svc.Warehouse = w
	for range 2 {
		shapes, calls, err := f.svc.ImportQueryHistory(f.ctx)
		if err != nil || shapes != 2 || calls != 410 {
			t.Fatalf("import: %d shapes, %d calls, %v", shapes, calls, err)
		}
	}
	work, err := f.svc.Workload(f.ctx, time.Time{})
	f.must(err)
	u := work[target]
	if u == nil || u.Queries != 410 || u.Equality["region"] != 400 {
		t.Fatalf("workload after two imports %+v", u)
	}
	if q := replayQueries(*u); len(q) != 0 {
		t.Errorf("imported texts replayed: %q", q)
	}
	f.must(f.svc.RecordQuery(f.ctx, optimize.Record{Source: "user", Text: "SELECT id, day FROM " + target + " WHERE region = 'EMEA'"}))
	work, err = f.svc.Workload(f.ctx, time.Time{})
	f.must(err)
	if q := replayQueries(*work[target]); len(q) != 1 || !strings.Contains(q[0], "'EMEA'") {
		t.Errorf("replayed %q, want the query that ran with its value", q)
	}
}

// TestOwnQueries: shp's own statements are summed by pipeline, runs and
// shapes, slowest shapes first, and kept out of the workload the rules
// read.
func TestOwnQueries(t *testing.T) {
	f := newFixture(t, nil)
	st, err := f.svc.optimizeStore()
	f.must(err)
	at := f.now
	for _, r := range []metadata.QueryRecord{
		{Source: pipeline.SourceShp, Pipeline: "orders", RunID: "r1", Text: "INSERT INTO orders SELECT * FROM stage_1", Fingerprint: "ins",
			Duration: 3 * time.Second, Calls: 5, Rows: 500},
		{Source: pipeline.SourceShp, Pipeline: "orders", RunID: "r1", Text: "SELECT count(*) FROM stage_1", Fingerprint: "cnt",
			Duration: time.Second, Calls: 5},
		{Source: pipeline.SourceShp, Pipeline: "orders", RunID: "r2", Text: "INSERT INTO orders SELECT * FROM stage_9", Fingerprint: "ins",
			Duration: 2 * time.Second, Calls: 1, Rows: 7, BytesBilled: 1 << 20, Error: "disk full"},
		{Source: pipeline.SourceShp, Pipeline: "events", RunID: "e1", Text: "COPY events FROM STDIN", Fingerprint: "cp", Duration: time.Second, Calls: 1},
		{Source: "user", Text: "SELECT id FROM orders WHERE region = 'x'", Fingerprint: "u", Duration: time.Second, Calls: 1},
	} {
		r.At = at
		if _, err := st.RecordQuery(f.ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	own, err := f.svc.OwnQueriesSince(f.ctx, time.Time{})
	f.must(err)
	if len(own) != 2 || own[0].Pipeline != "events" || own[1].Pipeline != "orders" {
		t.Fatalf("own %+v", own)
	}
	o := own[1]
	if o.Runs != 2 || o.Statements != 11 || o.Shapes != 2 || o.Time != 6*time.Second || o.Rows != 507 || o.BytesBilled != 1<<20 ||
		o.Errors != 1 || len(o.Top) != 2 || o.Top[0].Fingerprint != "ins" || o.Top[0].Calls != 6 || o.Top[0].Time != 5*time.Second {
		t.Errorf("orders %+v", o)
	}
	work, err := f.svc.Workload(f.ctx, time.Time{})
	f.must(err)
	if u := work["orders"]; u == nil || u.Queries != 1 || len(work) != 1 {
		t.Errorf("the workload holds shp's own statements: %+v", work)
	}
	if _, ok := work["stage_1"]; ok {
		t.Error("a staging table in the workload")
	}
}
