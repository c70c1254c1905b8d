package service

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/pipeline"
)

// OptimizeStore keeps the query history and the layout changes of the
// optimisation layer.
type OptimizeStore interface {
	RecordQuery(ctx context.Context, q metadata.QueryRecord) (int64, error)
	ListQueries(ctx context.Context, f metadata.QueryFilter) ([]metadata.QueryRecord, error)
	PruneQueries(ctx context.Context, before time.Time) (int64, error)
	DeleteQueries(ctx context.Context, source string, upTo int64) (int64, error)
	LastQueryID(ctx context.Context) (int64, error)
	AddOptimization(ctx context.Context, o metadata.Optimization) (int64, error)
	GetOptimization(ctx context.Context, id int64) (metadata.Optimization, error)
	ListOptimizations(ctx context.Context, table string) ([]metadata.Optimization, error)
	DecideOptimization(ctx context.Context, id int64, from, to, undo, by, reason string, at time.Time) error
}

// Statuses of a layout change.
const (
	OptProposed = "proposed"
	OptDeclined = "declined"
	OptApplied  = "applied"
	OptReverted = "reverted"
	// OptAdvice is a change to the queries, not the table (SELECT *):
	// nothing to try, apply or revert.
	OptAdvice = "advice"
)

func (s *Service) optimizeStore() (OptimizeStore, error) {
	os, ok := s.Store.(OptimizeStore)
	if !ok {
		return nil, fmt.Errorf("optimize: %w: the metadata store keeps no query history", ErrUnavailable)
	}
	return os, nil
}

func (s *Service) engine() (optimize.Engine, error) {
	e, ok := s.Warehouse.(optimize.Engine)
	if !ok {
		return nil, fmt.Errorf("optimize: %w: the warehouse is not open here, or does not take layout changes", ErrUnavailable)
	}
	return e, nil
}

// RecordQuery keeps one query run against the warehouse in the history
// the optimisation layer reads.
func (s *Service) RecordQuery(ctx context.Context, r optimize.Record) error {
	st, err := s.optimizeStore()
	if err != nil {
		return err
	}
	if r.Fingerprint == "" {
		r.Fingerprint = optimize.Fingerprint(r.Text)
	}
	if r.At.IsZero() {
		r.At = s.now()
	}
	_, err = st.RecordQuery(ctx, metadata.QueryRecord{At: r.At, Source: r.Source, Pipeline: r.Pipeline, RunID: r.RunID, Text: r.Text,
		Fingerprint: r.Fingerprint, Duration: r.Duration, Rows: r.Rows, BytesScanned: r.BytesScanned, Calls: r.Calls, Error: r.Error,
		RowsScanned: r.RowsScanned, BytesBilled: r.BytesBilled})
	if err != nil {
		return err
	}
	// Records older than HistoryRetention go, at most once an hour.
	now := s.now()
	if last := s.historyPruned.Load(); now.UnixNano()-last >= int64(time.Hour) && s.historyPruned.CompareAndSwap(last, now.UnixNano()) {
		if n, err := st.PruneQueries(ctx, now.Add(-HistoryRetention)); err != nil {
			s.logger().Warn("prune the query history", "err", err)
		} else if n > 0 {
			s.logger().Debug("pruned the query history", "records", n)
		}
	}
	return nil
}

// HistoryImporter is a warehouse that keeps its own record of the
// queries run on it (PostgreSQL's pg_stat_statements), other users'
// included.
type HistoryImporter interface {
	// ImportHistory reads up to limit query shapes, the slowest in all
	// first, each with its calls and totals.
	ImportHistory(ctx context.Context, limit int) ([]optimize.Record, error)
}

// importLimit bounds the shapes an import reads.
const importLimit = 1000

// ImportQueryHistory replaces the imported part of the query history with
// what the warehouse's own record holds now (its counts are totals since
// it was last reset, so a second import replaces the first rather than
// adding to it). It returns the shapes and the calls imported.
func (s *Service) ImportQueryHistory(ctx context.Context) (shapes int, calls int64, err error) {
	st, err := s.optimizeStore()
	if err != nil {
		return 0, 0, err
	}
	imp, ok := s.Warehouse.(HistoryImporter)
	if !ok {
		return 0, 0, fmt.Errorf("optimize: import: %w: the warehouse is not open here, or keeps no history of its queries that shp reads", ErrUnavailable)
	}
	recs, err := imp.ImportHistory(ctx, importLimit)
	if err != nil {
		return 0, 0, err
	}
	// The new import is recorded first, then the last one deleted: an
	// import that fails part-way leaves the last one whole.
	last, err := st.LastQueryID(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, r := range recs {
		r.Source = optimize.SourceImport
		if err := s.RecordQuery(ctx, r); err != nil {
			return shapes, calls, err
		}
		shapes++
		calls += r.Calls
	}
	if _, err := st.DeleteQueries(ctx, optimize.SourceImport, last); err != nil {
		return shapes, calls, err
	}
	return shapes, calls, nil
}

// HistoryRetention is how long the query history keeps a record.
const HistoryRetention = 90 * 24 * time.Hour

// historyLimit bounds the records a workload reads.
const historyLimit = 100_000

// Workload sums up the queries recorded since a time (all when zero), by
// table.
func (s *Service) Workload(ctx context.Context, since time.Time) (map[string]*optimize.Usage, error) {
	st, err := s.optimizeStore()
	if err != nil {
		return nil, err
	}
	// shp's own statements (loads, merges, validations) are not the
	// workload a layout serves: they are summed apart (OwnQueries).
	recs, err := st.ListQueries(ctx, metadata.QueryFilter{Since: since, Limit: historyLimit, ExceptSource: pipeline.SourceShp})
	if err != nil {
		return nil, err
	}
	out := make([]optimize.Record, len(recs))
	for i, r := range recs {
		out[i] = optimize.Record{ID: r.ID, At: r.At, Source: r.Source, Pipeline: r.Pipeline, RunID: r.RunID, Text: r.Text,
			Fingerprint: r.Fingerprint, Duration: r.Duration, Rows: r.Rows, BytesScanned: r.BytesScanned, Calls: r.Calls, Error: r.Error,
			RowsScanned: r.RowsScanned, BytesBilled: r.BytesBilled}
	}
	return optimize.Summarize(out), nil
}

// OptimizationView is a layout change as the CLI and the API show it.
type OptimizationView struct {
	ID        int64             `json:"id"`
	Table     string            `json:"table"`
	Rule      string            `json:"rule"`
	Change    optimize.Change   `json:"change"`
	Status    string            `json:"status"`
	Evidence  []string          `json:"evidence"`
	Benefit   string            `json:"benefit"`
	Risk      string            `json:"risk"`
	Trial     *optimize.Verdict `json:"trial,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	DecidedBy string            `json:"decided_by,omitempty"`
	DecidedAt *time.Time        `json:"decided_at,omitempty"`
	CreatedAt time.Time         `json:"created_at"`
}

// optDetail is what an optimization's detail column holds.
type optDetail struct {
	Recommendation optimize.Recommendation `json:"recommendation"`
	Trial          *optimize.Verdict       `json:"trial,omitempty"`
}

func optimizationView(o metadata.Optimization) OptimizationView {
	v := OptimizationView{ID: o.ID, Table: o.Table, Rule: o.Rule, Status: o.Status, Reason: o.Reason, DecidedBy: o.DecidedBy,
		DecidedAt: timePtr(o.DecidedAt), CreatedAt: o.CreatedAt.UTC(), Evidence: []string{}}
	_ = json.Unmarshal([]byte(o.Change), &v.Change)
	var d optDetail
	if json.Unmarshal([]byte(o.Detail), &d) == nil {
		v.Evidence, v.Benefit, v.Risk, v.Trial = d.Recommendation.Evidence, d.Recommendation.Benefit, d.Recommendation.Risk, d.Trial
		if v.Evidence == nil {
			v.Evidence = []string{}
		}
	}
	return v
}

// replayed is how many of a table's slowest query shapes a trial runs.
const replayed = 10

// RecommendOptimizations runs the rules over the workload recorded since
// a time, for every pipeline target it reads (or the one table named),
// and tries each recommendation on a copy of the table with the slowest
// recorded queries replayed on both layouts. A change whose trial shows
// the gain is recorded proposed, with the figures as evidence; one whose
// trial does not is recorded declined with why. A warehouse that cannot
// try a change (nothing to copy to here) records it proposed, untried.
func (s *Service) RecommendOptimizations(ctx context.Context, table string, since time.Time) ([]OptimizationView, error) {
	st, err := s.optimizeStore()
	if err != nil {
		return nil, err
	}
	eng, err := s.engine()
	if err != nil {
		return nil, err
	}
	work, err := s.Workload(ctx, since)
	if err != nil {
		return nil, err
	}
	targets := map[string]bool{}
	for _, name := range s.Project.PipelineNames() {
		if p, ok := s.Project.Pipeline(name); ok {
			targets[strings.ToLower(p.Target)] = true
		}
	}
	if table != "" && !targets[strings.ToLower(table)] {
		return nil, invalid("table", "%q is not the target of a pipeline", table)
	}
	var names []string
	for name := range work {
		if targets[strings.ToLower(name)] && (table == "" || strings.EqualFold(name, table)) {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := []OptimizationView{}
	for _, name := range names {
		views, err := s.recommendFor(ctx, st, eng, name, work[name])
		out = append(out, views...)
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// recommendFor runs the rules on one table, tries what they recommend
// and records each; then applies the best accepted change whose kind
// optimization.auto_apply names, if any.
func (s *Service) recommendFor(ctx context.Context, st OptimizeStore, eng optimize.Engine, name string, u *optimize.Usage) ([]OptimizationView, error) {
	var out []OptimizationView
	t, err := eng.Describe(ctx, name)
	if err != nil {
		return out, err
	}
	// The layout shp's applied changes gave it; a partitioning the
	// warehouse reports (made outside shp) counts too.
	applied := s.appliedLayout(ctx, st, name)
	applied.PartitionBy = cmp.Or(applied.PartitionBy, t.Layout.PartitionBy)
	if applied.ClusterBy == nil {
		applied.ClusterBy = t.Layout.ClusterBy
	}
	for _, ix := range t.Layout.Indexes {
		if !slices.ContainsFunc(applied.Indexes, func(a []string) bool { return slices.Equal(a, ix) }) {
			applied.Indexes = append(applied.Indexes, ix)
		}
	}
	t.Layout = applied
	oc := s.Project.Config.Optimization
	opts := optimize.Options{MinRows: int64(oc.MinRows), MinQueries: int64(oc.MinQueries), PartitionShare: oc.PartitionShare,
		ClusterShare: oc.ClusterShare}
	for _, rec := range optimize.Recommend(optimize.Input{Table: t, Usage: *u, Warehouse: s.Project.Config.Warehouse.Type, Options: opts}) {
		d := optDetail{Recommendation: rec}
		status, reason := OptProposed, "untried"
		if rec.Change.Advice() {
			status, reason = OptAdvice, "the queries change, not the table"
		} else if queries := replayQueries(*u); len(queries) > 0 {
			ts, err := eng.Trial(ctx, name, rec.Change, queries)
			switch {
			case errors.Is(err, optimize.ErrUnsupported):
				status, reason = OptDeclined, err.Error()
			case errors.Is(err, optimize.ErrUntried):
				reason = "untried: " + err.Error()
			case ctx.Err() != nil:
				return out, ctx.Err()
			case err != nil:
				// The trial itself failed (a column the history names
				// that the table lacks): recorded, declined with why.
				status, reason = OptDeclined, "the trial failed: "+err.Error()
			default:
				v := optimize.Judge(ts, optimize.Thresholds{MinSpeedup: oc.MinSpeedup, MaxSlowdown: oc.MaxSlowdown,
					MinQueryGain: oc.MinQueryGain})
				d.Trial = &v
				reason = v.Why
				if !v.Accept {
					status = OptDeclined
				}
			}
		}
		change, _ := json.Marshal(rec.Change)
		detail, _ := json.Marshal(d)
		id, err := st.AddOptimization(ctx, metadata.Optimization{CreatedAt: s.now(), Table: name, Rule: rec.Rule, Change: string(change),
			Detail: string(detail), Status: status, Reason: reason})
		if err != nil {
			return out, err
		}
		o, err := st.GetOptimization(ctx, id)
		if err != nil {
			return out, err
		}
		out = append(out, optimizationView(o))
	}
	return s.autoApply(ctx, st, out)
}

// autoApply applies, of a table's new changes, the accepted one whose
// trial showed the most gain among the kinds optimization.auto_apply
// names, as the person "policy" would; out is returned with its record
// updated. A table with a change applied already keeps it: the new one
// stays proposed, and so does one whose apply fails, and one reverted
// before (why is logged and said in the result, not stored: the record
// stays proposed for a person to decide).
func (s *Service) autoApply(ctx context.Context, st OptimizeStore, out []OptimizationView) ([]OptimizationView, error) {
	kinds := s.Project.Config.Optimization.AutoApply
	if len(kinds) == 0 || len(out) == 0 {
		return out, nil
	}
	// A change a person (or the policy) reverted on the table is theirs to
	// apply again: the policy does not undo a revert.
	past, err := st.ListOptimizations(ctx, out[0].Table)
	if err != nil {
		return out, err
	}
	reverted := map[string]bool{}
	var current int64 // a change applied to the table: one at a time
	for _, o := range past {
		switch o.Status {
		case OptReverted:
			reverted[o.Change] = true
		case OptApplied:
			current = o.ID
		}
	}
	best := -1
	for i, v := range out {
		if v.Status != OptProposed || v.Trial == nil || !v.Trial.Accept || !slices.Contains(kinds, v.Change.Kind) {
			continue
		}
		if c, _ := json.Marshal(v.Change); reverted[string(c)] {
			out[i].Reason = v.Reason + "; not applied by policy: it was reverted before"
			continue
		}
		if current != 0 {
			out[i].Reason = v.Reason + fmt.Sprintf("; not applied by policy: #%d is applied to %s (revert it first)", current, v.Table)
			continue
		}
		if best < 0 || v.Trial.Speedup > out[best].Trial.Speedup {
			best = i
		}
	}
	if best < 0 {
		return out, nil
	}
	v := out[best]
	reason := fmt.Sprintf("optimization.auto_apply names %s; the trial showed %s", v.Change.Kind, v.Reason)
	applied, err := s.ApplyOptimization(ctx, v.ID, AutoApplier, reason)
	switch {
	case ctx.Err() != nil:
		return out, ctx.Err()
	case err != nil:
		s.logger().Warn("optimization not applied by policy", "id", v.ID, "table", v.Table, "change", v.Change.String(), "error", err)
		out[best].Reason = v.Reason + "; not applied by policy: " + err.Error()
	default:
		s.logger().Info("optimization applied by policy", "id", v.ID, "table", v.Table, "change", v.Change.String())
		out[best] = applied
	}
	return out, nil
}

// AutoApplier is who a change applied by optimization.auto_apply is
// recorded as decided by.
const AutoApplier = "policy"

// replayQueries are the examples of a table's slowest read shapes.
func replayQueries(u optimize.Usage) []string {
	var out []string
	for _, sh := range u.Top {
		if len(out) == replayed {
			break
		}
		// An imported shape's text has the engine's placeholders ($1)
		// where the values were: there is nothing to replay.
		if sh.Example.Source != optimize.SourceImport && optimize.ReadOnly(sh.Example.Text) {
			out = append(out, sh.Example.Text)
		}
	}
	return out
}

// appliedLayout is the layout the applied changes gave a table.
func (s *Service) appliedLayout(ctx context.Context, st OptimizeStore, table string) optimize.Layout {
	var l optimize.Layout
	os, err := st.ListOptimizations(ctx, table)
	if err != nil {
		return l
	}
	for _, o := range os { // newest first: the newest applied sort counts
		if o.Status != OptApplied {
			continue
		}
		var c optimize.Change
		if json.Unmarshal([]byte(o.Change), &c) != nil {
			continue
		}
		switch c.Kind {
		case "sort":
			if l.SortedBy == nil {
				l.SortedBy = c.Columns
			}
		case "cluster":
			if l.ClusterBy == nil {
				l.ClusterBy = c.Columns
			}
		case "partition":
			if l.PartitionBy == "" {
				l.PartitionBy = c.Columns[0]
			}
		case "index":
			l.Indexes = append(l.Indexes, c.Columns)
		}
	}
	return l
}

// Optimizations lists the recorded layout changes, newest first.
func (s *Service) Optimizations(ctx context.Context, table string) ([]OptimizationView, error) {
	st, err := s.optimizeStore()
	if err != nil {
		return nil, err
	}
	os, err := st.ListOptimizations(ctx, table)
	if err != nil {
		return nil, err
	}
	out := []OptimizationView{}
	for _, o := range os {
		out = append(out, optimizationView(o))
	}
	return out, nil
}

// ApplyOptimization makes a proposed change (a declined one too, when a
// person decides so) and records who did and why; its undo is kept for
// RevertOptimization.
func (s *Service) ApplyOptimization(ctx context.Context, id int64, by, reason string) (OptimizationView, error) {
	st, eng, o, err := s.decidable(ctx, id)
	if err != nil {
		return OptimizationView{}, err
	}
	if o.Status != OptProposed && o.Status != OptDeclined {
		return OptimizationView{}, fmt.Errorf("%w: optimization #%d is %s: only a proposed (or declined) one is applied", ErrConflict, id, o.Status)
	}
	// One applied change per table: each revert undoes exactly what its
	// apply did, in any order.
	others, err := st.ListOptimizations(ctx, o.Table)
	if err != nil {
		return OptimizationView{}, err
	}
	for _, other := range others {
		if other.Status == OptApplied {
			return OptimizationView{}, fmt.Errorf("%w: optimization #%d is applied to %s: revert it first (shp optimize revert %d)", ErrConflict, other.ID, o.Table, other.ID)
		}
	}
	var c optimize.Change
	if err := json.Unmarshal([]byte(o.Change), &c); err != nil {
		return OptimizationView{}, fmt.Errorf("optimization #%d: read its change: %w", id, err)
	}
	undo, err := eng.Apply(ctx, o.Table, c)
	if err != nil {
		return OptimizationView{}, err
	}
	if err := st.DecideOptimization(context.WithoutCancel(ctx), id, o.Status, OptApplied, undo, by, reason, s.now()); err != nil {
		// Applied, but not recorded: undo it, so that the record stays true.
		if rerr := eng.Revert(context.WithoutCancel(ctx), o.Table, undo); rerr != nil {
			return OptimizationView{}, errors.Join(err, rerr)
		}
		return OptimizationView{}, conflictOf(err)
	}
	return s.optimization(ctx, st, id)
}

// RevertOptimization undoes an applied change, with a reason.
func (s *Service) RevertOptimization(ctx context.Context, id int64, by, reason string) (OptimizationView, error) {
	if strings.TrimSpace(reason) == "" {
		return OptimizationView{}, invalid("reason", "a revert needs a reason")
	}
	st, eng, o, err := s.decidable(ctx, id)
	if err != nil {
		return OptimizationView{}, err
	}
	if o.Status != OptApplied {
		return OptimizationView{}, fmt.Errorf("%w: optimization #%d is %s: only an applied one is reverted", ErrConflict, id, o.Status)
	}
	if err := eng.Revert(ctx, o.Table, o.Undo); err != nil {
		return OptimizationView{}, err
	}
	// The table is reverted: its record must say so, whatever the caller.
	if err := st.DecideOptimization(context.WithoutCancel(ctx), id, OptApplied, OptReverted, "", by, reason, s.now()); err != nil {
		return OptimizationView{}, conflictOf(err)
	}
	return s.optimization(ctx, st, id)
}

// decidable reads what a decision on a recorded change needs: the store,
// the warehouse's engine and the record.
func (s *Service) decidable(ctx context.Context, id int64) (OptimizeStore, optimize.Engine, metadata.Optimization, error) {
	st, err := s.optimizeStore()
	if err != nil {
		return nil, nil, metadata.Optimization{}, err
	}
	eng, err := s.engine()
	if err != nil {
		return nil, nil, metadata.Optimization{}, err
	}
	o, err := st.GetOptimization(ctx, id)
	if err != nil {
		return nil, nil, metadata.Optimization{}, notFound(err)
	}
	return st, eng, o, nil
}

func (s *Service) optimization(ctx context.Context, st OptimizeStore, id int64) (OptimizationView, error) {
	o, err := st.GetOptimization(ctx, id)
	if err != nil {
		return OptimizationView{}, notFound(err)
	}
	return optimizationView(o), nil
}

// conflictOf maps a decision another made first to ErrConflict.
func conflictOf(err error) error {
	if errors.Is(err, metadata.ErrInvalid) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}

// OwnQueries sums up the statements shp's runs had the warehouse run
// (loads, merges, validations, repairs), by pipeline.
type OwnQueries struct {
	Pipeline string `json:"pipeline"`
	// Runs counts the runs they came from; Statements their runs, Shapes
	// their fingerprints.
	Runs        int           `json:"runs"`
	Statements  int64         `json:"statements"`
	Shapes      int           `json:"shapes"`
	Time        time.Duration `json:"time_ns"`
	Rows        int64         `json:"rows"`
	BytesBilled int64         `json:"bytes_billed,omitempty"`
	Errors      int64         `json:"errors,omitempty"`
	// Top are the shapes that took the most time, slowest first.
	Top []OwnShape `json:"top"`
}

// OwnShape is one fingerprint of shp's own statements.
type OwnShape struct {
	Fingerprint string        `json:"fingerprint"`
	Example     string        `json:"example"`
	Calls       int64         `json:"calls"`
	Time        time.Duration `json:"time_ns"`
	BytesBilled int64         `json:"bytes_billed,omitempty"`
}

// ownTop is how many shapes OwnQueries keeps per pipeline.
const ownTop = 5

// OwnQueriesSince sums up shp's own statements recorded since a time, by
// pipeline (by name).
func (s *Service) OwnQueriesSince(ctx context.Context, since time.Time) ([]OwnQueries, error) {
	st, err := s.optimizeStore()
	if err != nil {
		return nil, err
	}
	recs, err := st.ListQueries(ctx, metadata.QueryFilter{Since: since, Limit: historyLimit, Source: pipeline.SourceShp})
	if err != nil {
		return nil, err
	}
	by := map[string]*OwnQueries{}
	runs := map[string]map[string]bool{}
	shapes := map[string]map[string]*OwnShape{}
	for _, r := range recs {
		o := by[r.Pipeline]
		if o == nil {
			o = &OwnQueries{Pipeline: r.Pipeline}
			by[r.Pipeline], runs[r.Pipeline], shapes[r.Pipeline] = o, map[string]bool{}, map[string]*OwnShape{}
		}
		runs[r.Pipeline][r.RunID] = true
		o.Statements += r.Calls
		o.Time += r.Duration
		o.Rows += r.Rows
		o.BytesBilled += r.BytesBilled
		if r.Error != "" {
			o.Errors++
		}
		sh := shapes[r.Pipeline][r.Fingerprint]
		if sh == nil {
			sh = &OwnShape{Fingerprint: r.Fingerprint, Example: r.Text}
			shapes[r.Pipeline][r.Fingerprint] = sh
		}
		sh.Calls += r.Calls
		sh.Time += r.Duration
		sh.BytesBilled += r.BytesBilled
	}
	out := make([]OwnQueries, 0, len(by))
	for p, o := range by {
		o.Runs, o.Shapes = len(runs[p]), len(shapes[p])
		for _, sh := range shapes[p] {
			o.Top = append(o.Top, *sh)
		}
		slices.SortFunc(o.Top, func(a, b OwnShape) int {
			return cmp.Or(cmp.Compare(b.Time, a.Time), strings.Compare(a.Fingerprint, b.Fingerprint))
		})
		o.Top = o.Top[:min(len(o.Top), ownTop)]
		out = append(out, *o)
	}
	slices.SortFunc(out, func(a, b OwnQueries) int { return strings.Compare(a.Pipeline, b.Pipeline) })
	return out, nil
}
