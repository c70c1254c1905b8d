// Package pipeline runs one pipeline end to end: list the source's new
// objects, stage each raw file in the blob store, load it into a warehouse
// staging table (bad rows set aside with a reason), commit the batch into
// the target in one transaction, and record the run with its row
// accounting: every input row is loaded, quarantined or de-duplicated.
package pipeline

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/lineage"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
)

// ErrQuarantineThreshold marks a run that set aside a larger share of its
// rows than the pipeline allows.
var ErrQuarantineThreshold = errors.New("quarantined share above threshold")

// ErrInvariant marks a run whose rows do not add up: rows in must equal
// rows loaded + quarantined + de-duplicated.
var ErrInvariant = errors.New("row accounting does not add up")

// Runner wires the services one run needs.
type Runner struct {
	Project   *config.Project
	Store     RunStore
	Warehouse warehouse.Warehouse
	Staging   *staging.Bucket
	Logger    *slog.Logger
	// OnProgress, when set, is called about four times a second while an
	// object is copied, and once when it is loaded.
	OnProgress func(Progress)
	// OpenSource opens a pipeline's source; source.New when nil.
	OpenSource func(ctx context.Context, s source.Spec) (source.ObjectSource, error)
	// OpenExtractor opens an extracting source; source.NewExtractor when nil.
	OpenExtractor func(ctx context.Context, s source.Spec) (source.Extractor, error)
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Healer, when set, acts on each staged object between validation and
	// commit (the self-healing engine).
	Healer Healer
	// Lineage, when set, records and sends OpenLineage events of each run.
	Lineage *lineage.Emitter
	// Owner names this process in the runs it records
	// (metadata.ProcessOwner when empty); while a run goes on, it
	// heartbeats under this name.
	Owner string
	// Lease is how long a run of this runner may go without a heartbeat
	// before any shp process marks it abandoned (metadata.DefaultLease
	// when 0). Running runs heartbeat every Lease/3, all of them in one
	// update.
	Lease time.Duration

	// Tracer makes the spans of each run (a span for the run, one per
	// stage and per object); OpenTelemetry's global provider when nil.
	Tracer trace.TracerProvider
	// Finished, when set, hears of every run once its record is final
	// (the monitoring component's metrics and alerts).
	Finished func(ctx context.Context, res *Result)

	beats heartbeats
	// budgetWarned holds the pipelines whose bytes_budget this runner
	// said it cannot enforce (its warehouse estimates no query).
	budgetWarned sync.Map
}

// Options changes how a run treats its source.
type Options struct {
	// FullRefresh re-reads every object and rebuilds the target from them.
	FullRefresh bool
	// LogicalDate is the start of the data interval the run covers; the
	// run's start time when zero. Source paths, queries, URLs and
	// parameters may refer to it as {{ds}} (2026-01-02), {{ds_nodash}}
	// (20260102), {{ts}} (RFC 3339) and {{ds_hour}} (2026-01-02T15).
	LogicalDate time.Time
	// Trigger is what started the run: manual (default), scheduled or
	// backfill. Attempt counts tries of one logical date, from 1.
	Trigger string
	Attempt int
	// Params are a manual trigger's parameters, {{params.NAME}} in the
	// source's settings and path, checked against the source's
	// declarations (config.Source.Templated): bound as query parameters
	// in a SQL query, single segments in a path.
	Params map[string]string
	// RunID names the run (an orchestrator's id); a new one when empty.
	RunID string
}

// Progress is a snapshot of the object being loaded.
type Progress struct {
	Pipeline string
	Object   string
	Index    int // 1-based position in this run's objects
	Total    int
	Bytes    int64
	Rows     int64
	Elapsed  time.Duration
	Done     bool
}

// ObjectResult is what happened to one input object.
type ObjectResult struct {
	Key         string
	Format      format.Format
	Bytes       int64
	RowsIn      int64
	Loaded      int64
	Quarantined int64
	Drift       []string
	Samples     []warehouse.QuarantineSample
	// Staged counts the rows staging accepted in a run that did not
	// commit them; Loaded is then 0.
	Staged  int64
	Quality *QualityOutcome // nil when the pipeline has no rules
	// ContentHash is the SHA-256 of the object's bytes.
	ContentHash string
	// DuplicateOf names the object loaded before whose content this one
	// repeats; its rows were not loaded but count as de-duplicated.
	DuplicateOf string
}

// Result is the outcome of one run.
type Result struct {
	RunID        string
	Pipeline     string
	Target       string
	Status       string
	Objects      []ObjectResult
	Skipped      int // objects already loaded by earlier runs
	RowsIn       int64
	Loaded       int64
	Quarantined  int64
	Deduplicated int64
	Inserted     int64
	Updated      int64
	InvariantOK  bool
	Duration     time.Duration
	Err          error
	// StartedAt is when the run began.
	StartedAt time.Time
	// Schema is the schema the run loaded with (declared or discovered).
	Schema schema.Schema
	// LogicalDate is the start of the data interval the run covered.
	LogicalDate time.Time
	// Metrics of the committed batch for anomaly detection: the share of
	// NULLs per column ("null_rate:COLUMN") and the mean quality score.
	Metrics map[string]float64
	// Committed says the batch reached the target (or there was nothing
	// to commit). An uncommitted run loaded nothing: its objects' Loaded
	// are 0 and Staged says what would have loaded.
	Committed bool
	// SetAside counts the rows an uncommitted run set aside and kept in
	// warehouse.SetAsideTable (`shp runs show RUN --quarantine`).
	SetAside int64
	// SourceType is the type of the pipeline's source (file, postgres...).
	SourceType string
	// Stages is the time the run spent in each stage (Stages names them);
	// nested stages count once, for the innermost.
	Stages map[string]time.Duration
	// TraceID is the run's OpenTelemetry trace (hex), when it is traced.
	TraceID string
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Runner) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// NewRunID returns a sortable, unique run id such as
// run-20260115-020000-3fa2c1.
func NewRunID(t time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "run-" + t.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// Run runs one pipeline. The returned Result is never nil; its Err (also
// returned) says why a failed run failed.
func (r *Runner) Run(ctx context.Context, name string, opts Options) (*Result, error) {
	start := r.now()
	res := &Result{RunID: NewRunID(start), Pipeline: name, Status: metadata.StatusFailed, StartedAt: start}
	if opts.RunID != "" {
		res.RunID = opts.RunID
	}
	p, ok := r.Project.Pipeline(name)
	if !ok {
		res.Err = fmt.Errorf("pipeline %q is not defined (have %s)", name, strings.Join(r.Project.PipelineNames(), ", "))
		return res, res.Err
	}
	res.Target = p.Target
	src, terr := templated(r.Project.Sources[p.Source], opts.LogicalDate, start, opts.Params)
	if terr != nil {
		// The run is recorded, and fails at once.
		src = r.Project.Sources[p.Source]
	}
	// The sources mask their secrets in their errors already; what the
	// run records and logs is masked again, whatever produced it.
	red := sourceRedactor(r.Project, src)
	ctx = redact.NewContext(ctx, red)
	if src != nil {
		res.SourceType = src.Type
	}
	ctx, span := r.tracer().Start(ctx, "run "+name, trace.WithSpanKind(trace.SpanKindInternal),
		trace.WithAttributes(attribute.String("shp.pipeline", name), attribute.String("shp.run_id", res.RunID),
			attribute.String("shp.source_type", res.SourceType)))
	clock := newPhaseClock(r.now)
	ctx = context.WithValue(ctx, clockKey{}, clock)
	queries := newRunQueries(red)
	ctx = warehouse.WithQueryLog(ctx, queries)
	log := slog.New(redact.NewHandler(r.logger().Handler(), red)).With("pipeline", name, "run_id", res.RunID)
	if sc := span.SpanContext(); sc.IsValid() {
		res.TraceID = sc.TraceID().String()
		log = log.With("trace_id", res.TraceID, "span_id", sc.SpanID().String())
	}
	defer func() {
		r.saveQueries(context.WithoutCancel(ctx), queries, name, res.RunID, start)
		res.Stages = clock.snapshot()
		span.SetAttributes(attribute.String("shp.status", res.Status), attribute.Int64("shp.rows_in", res.RowsIn),
			attribute.Int64("shp.rows_loaded", res.Loaded), attribute.Int64("shp.rows_quarantined", res.Quarantined))
		endSpan(ctx, span, res.Err)
		if r.Finished != nil {
			r.Finished(context.WithoutCancel(ctx), res)
		}
	}()

	if err := r.Store.UpsertPipeline(ctx, metadata.Pipeline{
		Name: name, Source: p.Source, Target: p.Target, Mode: p.Mode, Schedule: p.Schedule, UpdatedAt: start,
	}); err != nil {
		res.Err = err
		return res, err
	}
	if err := r.abandonStaleRuns(ctx, name); err != nil {
		res.Err = err
		return res, err
	}
	if opts.LogicalDate.IsZero() {
		opts.LogicalDate = start
	}
	res.LogicalDate = opts.LogicalDate
	run := metadata.Run{ID: res.RunID, Pipeline: name, Status: metadata.StatusRunning, StartedAt: start, FullRefresh: opts.FullRefresh,
		LogicalDate: opts.LogicalDate, Trigger: opts.Trigger, Attempt: opts.Attempt, Owner: r.owner(), Lease: r.lease()}
	if err := r.Store.CreateRun(ctx, run); err != nil {
		res.Err = err
		return res, err
	}
	// The run heartbeats until its record is final; a process that dies
	// stops, and its run is marked abandoned by whoever sees it next.
	r.beats.add(r, res.RunID)
	defer r.beats.remove(res.RunID)
	log.Info("run started", "full_refresh", opts.FullRefresh)
	r.emit(ctx, lineage.Start, res, src, log)

	err := terr
	if err == nil {
		err = r.execute(ctx, p, src, opts, res, log)
	}
	r.recordCost(res)
	if !res.Committed {
		uncommitted(res, err)
	}
	res.Duration = r.now().Sub(start)
	switch {
	case err == nil:
		res.Status = metadata.StatusSucceeded
	case errors.Is(err, ErrHeld):
		res.Status = metadata.StatusHeld
	}
	err = red.Error(err)
	res.Err = err
	run.Status = res.Status
	run.EndedAt = r.now()
	run.RowsIn, run.RowsLoaded, run.RowsQuarantined, run.RowsDeduplicated = res.RowsIn, res.Loaded, res.Quarantined, res.Deduplicated
	run.Objects = int64(len(res.Objects))
	for _, o := range res.Objects {
		run.Bytes += o.Bytes
	}
	run.InvariantOK = res.InvariantOK
	// The time in each stage goes with the run's metrics, for the
	// Performance dashboard's history.
	for stage, d := range clock.snapshot() {
		if res.Metrics == nil {
			res.Metrics = map[string]float64{}
		}
		res.Metrics[StageMetric+stage] = d.Seconds()
	}
	run.Metrics = res.Metrics
	if err != nil {
		run.Error = err.Error()
	}
	// The run record is written even when the caller's context is done:
	// an interrupted run must say so.
	if ferr := r.Store.FinishRun(context.WithoutCancel(ctx), run); ferr != nil && err == nil {
		err = ferr
		res.Err = err
		res.Status = metadata.StatusFailed
	}
	switch {
	case res.Status == metadata.StatusHeld:
		r.emit(context.WithoutCancel(ctx), lineage.Fail, res, src, log)
		log.Warn("run held for a decision", "err", err)
	case err != nil:
		r.emit(context.WithoutCancel(ctx), lineage.Fail, res, src, log)
		log.Error("run failed", "err", err)
	default:
		r.emit(ctx, lineage.Complete, res, src, log)
		log.Info("run succeeded", "rows_in", res.RowsIn, "loaded", res.Loaded, "quarantined", res.Quarantined,
			"deduplicated", res.Deduplicated, "objects", len(res.Objects), "skipped", res.Skipped)
		r.sweepStaging(ctx, name, res.RunID, log)
		if o, ok := r.Healer.(RunObserver); ok {
			// What only the finished run shows (its duration) is scored
			// now; a failure to do so is logged, the run stands.
			if oerr := o.RunFinished(ctx, res.RunID); oerr != nil {
				log.Warn("score the finished run", "err", oerr)
			}
		}
	}
	return res, err
}

// emit sends a lineage event; a failure to record it is logged, not fatal.
func (r *Runner) emit(ctx context.Context, eventType string, res *Result, src *config.Source, log *slog.Logger) {
	if r.Lineage == nil {
		return
	}
	in := lineage.SourceDataset(r.Project, src)
	out := lineage.TargetDataset(r.Project, res.Target)
	in.Fields, out.Fields = res.Schema, res.Schema
	if eventType == lineage.Complete {
		n := res.Loaded
		out.RowCount = &n
	}
	if err := r.Lineage.Emit(ctx, eventType, res.RunID, res.Pipeline, []lineage.Dataset{in}, []lineage.Dataset{out}, res.Err); err != nil {
		log.Warn("lineage event not recorded", "event", eventType, "err", err)
	}
}

// batch is one run's work as it passes from phase to phase: what it
// reads, what it staged and what it found.
type batch struct {
	p    *config.Pipeline
	src  *config.Source
	opts Options
	res  *Result
	log  *slog.Logger

	sch   schema.Schema
	suite *quality.Suite // nil when the pipeline has no rules
	items iter.Seq2[workItem, error]
	ext   *extractState // nil for an object source
	close func()        // closes the source; nil before it is open
	// budget holds validation to the pipeline's bytes_budget; nil for
	// no limit.
	budget *bytesBudget

	staged []*warehouse.Staged // each staged object's staging, in order
	todo   []source.Object     // every object read, in the order of res.Objects
	dups   []Duplicate         // objects not staged: re-deliveries
	// dupRows counts the rows of dups.
	dupRows int64
	// committing says the commit took the staging: the warehouse drops
	// it whatever the commit's outcome.
	committing bool
}

// execute is one run's work in phases: open the source, stage each
// object (staged, healed and validated as it arrives, so that an
// extraction goes on beside it), measure the batch, decide whether it
// may be committed, commit it, and record what was done. Every way out
// before the commit takes the staging goes through one cleanup
// (discardStaging): the rows staging set aside are kept with the run and
// the staging is dropped.
func (r *Runner) execute(ctx context.Context, p *config.Pipeline, src *config.Source, opts Options, res *Result, log *slog.Logger) error {
	b := &batch{p: p, src: src, opts: opts, res: res, log: log, budget: r.budget(p, log)}
	defer func() {
		if b.close != nil {
			b.close()
		}
	}()
	octx, opened := r.phase(ctx, StageExtract)
	err := r.open(octx, b)
	opened(err)
	if err != nil {
		return err
	}
	defer func() {
		if !res.Committed && !b.committing {
			r.discardStaging(ctx, b)
		}
	}()
	if err := r.stageObjects(ctx, b); err != nil {
		return err
	}
	if len(b.staged) == 0 && !opts.FullRefresh {
		return r.recordNothing(ctx, b)
	}
	mctx, measured := r.phase(ctx, StageValidate)
	err = r.measure(mctx, b)
	measured(err)
	if err != nil {
		return err
	}
	dctx, decided := r.phase(ctx, StageHeal)
	err = r.decide(dctx, b)
	decided(err)
	if err != nil {
		return err
	}
	cctx, committed := r.phase(ctx, StageCommit)
	defer func() { committed(err) }()
	cr, err := r.commit(cctx, b)
	if err != nil {
		return err
	}
	err = r.record(cctx, b, cr)
	return err
}

// open reads the pipeline's schema and rules, drops staging a dead run
// left, and opens the source: the objects (or extracted chunks) still to
// load become the batch's work items.
func (r *Runner) open(ctx context.Context, b *batch) error {
	if b.src.Schema != "" {
		s, err := schema.Load(b.src.SchemaPath())
		if err != nil {
			return err
		}
		// A declared NUMERIC wider than its target's DECIMAL (one the
		// optimisation layer narrowed) loads as the target's: a value it
		// cannot hold is set aside, not left to fail the commit.
		if err := r.keepTargetDecimals(ctx, b.p.Target, s, true, b.log); err != nil {
			return err
		}
		b.sch = s
	}
	rules, err := quality.ParseRules(r.Project.QualityRules, r.Project.Dir)
	if err != nil {
		return err
	}
	if b.suite, err = r.withStoredRules(ctx, b.p.Name, rules[b.p.Name]); err != nil {
		return err
	}
	if err := r.Warehouse.DropStaging(ctx); err != nil {
		return err
	}
	if config.IsExtracting(b.src.Type) || source.IsExtractor(b.src.Type) {
		items, ext, err := r.extract(ctx, b.p, b.src, &b.sch, b.opts, b.res, b.log)
		if err != nil {
			return err
		}
		b.items, b.ext, b.close = items, ext, ext.close
		return nil
	}
	return r.openObjects(ctx, b)
}

// openObjects opens an object source and lists the objects to load,
// waiting for late data when the pipeline does; objects the warehouse
// committed but the metadata store never heard of are marked processed.
func (r *Runner) openObjects(ctx context.Context, b *batch) error {
	p, src, res := b.p, b.src, b.res
	open := r.OpenSource
	if open == nil {
		open = source.New
	}
	open = withSecrets(r.Project, open)
	objSrc, err := open(ctx, source.Spec{
		Name: src.Name, Type: src.Type, Bucket: src.Bucket, Path: src.Path, Endpoint: src.Endpoint, BaseDir: r.Project.Dir,
	})
	if err != nil {
		return err
	}
	b.close = func() { _ = objSrc.Close() }
	objects, todo, recovered, err := r.waitForData(ctx, objSrc, p, src, b.opts, res.RunID, b.log)
	if err != nil {
		return err
	}
	res.Skipped = len(objects) - len(todo)
	if len(recovered) > 0 {
		// The warehouse committed these but the process died before the
		// metadata store heard of it; the ledger is the truth.
		b.log.Warn("recovering objects committed by an interrupted run", "objects", len(recovered))
		if err := r.Store.MarkObjects(ctx, p.Name, res.RunID, recovered); err != nil {
			return err
		}
	}
	seen, err := r.newDeliveries(ctx, p.Name, b.opts.FullRefresh)
	if err != nil {
		return err
	}
	b.items = func(yield func(workItem, error) bool) {
		for i, obj := range todo {
			if !yield(workItem{obj: obj, load: func() (*ObjectResult, *warehouse.Staged, error) {
				return r.loadObject(ctx, objSrc, p, src, b.sch, obj, i+1, len(todo), res.RunID, seen, b.log)
			}}, nil) {
				return
			}
		}
	}
	return nil
}

// stageObjects stages the batch's objects one by one (stageObject) and
// stops at the first that fails.
func (r *Runner) stageObjects(ctx context.Context, b *batch) error {
	b.res.Schema = b.sch
	// The time the loop waits for its next item is the source's.
	_, waiting := r.phase(ctx, StageExtract)
	for item, err := range b.items {
		waiting(err)
		if err == nil {
			err = ctx.Err()
		}
		if err != nil {
			return err
		}
		if err := r.stageObject(ctx, b, item); err != nil {
			return err
		}
		_, waiting = r.phase(ctx, StageExtract)
	}
	waiting(nil)
	if b.ext != nil {
		// Chunks were staged while the extraction went on; their ledger
		// entries carry the watermark it ended with.
		for i := range b.staged {
			b.staged[i].Fingerprint = "wm:" + b.ext.extraction.Watermark
			b.todo[i].Fingerprint = b.staged[i].Fingerprint
		}
	}
	return nil
}

// stageObject stages one object (a StageHealer may repair how it is
// read), validates it (a Healer may repair failed rules) and records its
// task. A re-delivered object is not staged: its rows count as
// de-duplicated. The staging of an object that failed, when there is
// one, is the batch's all the same, so that its set-aside rows are kept.
func (r *Runner) stageObject(ctx context.Context, b *batch, item workItem) error {
	res, obj := b.res, item.obj
	b.todo = append(b.todo, obj)
	task := metadata.TaskAttempt{RunID: res.RunID, Task: "load " + obj.Key, Attempt: 1, Status: metadata.StatusRunning, StartedAt: r.now()}
	if err := r.Store.RecordTask(ctx, task); err != nil {
		return err
	}
	_, endStage := r.phase(ctx, StageStage, attribute.String("shp.object", obj.Key))
	or, st, err := item.load()
	endStage(err)
	if err == nil && or.DuplicateOf != "" {
		res.Objects = append(res.Objects, *or)
		res.RowsIn += or.RowsIn
		b.dups = append(b.dups, Duplicate{Object: obj.Key, Of: or.DuplicateOf, Rows: or.RowsIn})
		b.dupRows += or.RowsIn
		task.RowsIn, task.RowsDeduplicated = or.RowsIn, or.RowsIn
		r.finishTask(ctx, task, nil)
		return nil
	}
	if err == nil && b.suite != nil && len(b.suite.Expectations) > 0 {
		vctx, end := r.phase(ctx, StageValidate, attribute.String("shp.object", obj.Key))
		or.Quality, err = r.validate(vctx, res.RunID, b.p, b.suite, st, b.budget, b.log)
		end(err)
		or.Loaded, or.Quarantined = st.Loaded, st.Quarantined
		if or.Quality != nil {
			detail, _ := json.Marshal(map[string]any{"quality_score": or.Quality.Score, "validation": or.Quality.Result})
			task.Detail = string(detail)
		}
	}
	if or != nil {
		res.Objects = append(res.Objects, *or)
		res.RowsIn += or.RowsIn
		task.RowsIn, task.RowsLoaded, task.RowsQuarantined = or.RowsIn, or.Loaded, or.Quarantined
	}
	r.finishTask(ctx, task, err)
	if st != nil {
		b.staged = append(b.staged, st)
	}
	return err
}

// recordNothing ends a run that staged nothing: it stores an
// extraction's watermark, and marks re-delivered objects processed so
// that they are not looked at again.
func (r *Runner) recordNothing(ctx context.Context, b *batch) error {
	res, p := b.res, b.p
	res.InvariantOK, res.Committed = true, true
	if b.ext != nil {
		return r.finishExtract(ctx, p, b.ext)
	}
	if len(b.dups) == 0 {
		return nil
	}
	res.Deduplicated = b.dupRows
	res.InvariantOK = res.RowsIn == res.Deduplicated
	r.recordCommit(ctx, CommitReport{RunID: res.RunID, Pipeline: p.Name, Target: p.Target, Duplicates: b.dups}, b.log)
	return r.Store.MarkObjects(ctx, p.Name, res.RunID, r.objectFiles(res, b.todo))
}

// measure refuses a batch whose quarantined share is above the
// pipeline's limit, and measures the batch for anomaly detection
// (batchMetrics).
func (r *Runner) measure(ctx context.Context, b *batch) error {
	res, p := b.res, b.p
	var quarantined int64
	for _, o := range res.Objects {
		quarantined += o.Quarantined
	}
	limit := p.MaxQuarantineRatio
	if res.RowsIn > 0 && float64(quarantined)/float64(res.RowsIn) > limit {
		return fmt.Errorf("%w: %d of %d rows (%.1f%%) could not be loaded, the limit is %.1f%%; nothing was committed%s",
			ErrQuarantineThreshold, quarantined, res.RowsIn, 100*float64(quarantined)/float64(res.RowsIn), 100*limit, sampleText(res.Objects))
	}
	measured := r.now()
	res.Metrics = r.batchMetrics(ctx, p, res.StartedAt, b.staged, res.Objects, b.log)
	b.log.Debug("batch measured", "took", r.now().Sub(measured))
	return nil
}

// decide asks a Holder whether the batch may be committed: a change of
// meaning (a volume anomaly, say) holds it for a person, with whom the
// run may wait (Awaiter). A rejection, or no decision in time, ends the
// run uncommitted.
func (r *Runner) decide(ctx context.Context, b *batch) error {
	h, ok := r.Healer.(Holder)
	if !ok {
		return nil
	}
	res := b.res
	refs := make([]metadata.ObjectRef, len(b.todo))
	for i, obj := range b.todo {
		// A chunk's key names its run; the batch is the same data
		// whichever run extracts it.
		refs[i] = metadata.ObjectRef{Key: strings.Replace(obj.Key, "/"+res.RunID+"/", "/", 1), Fingerprint: obj.Fingerprint}
	}
	req := HoldRequest{RunID: res.RunID, Pipeline: b.p.Name, Started: res.StartedAt, RowsIn: res.RowsIn, Objects: refs, Metrics: res.Metrics}
	held, err := h.HoldCommit(ctx, req)
	for err == nil && held != nil {
		// A person may decide while the run waits: an approval releases
		// the batch (the check finds it), a rejection ends the run.
		approved, werr := r.await(ctx, held, b.log)
		if werr != nil {
			return werr
		}
		if !approved {
			return fmt.Errorf("%w; nothing was committed", held)
		}
		held, err = h.HoldCommit(ctx, req)
	}
	if err != nil {
		return fmt.Errorf("hold check: %w", err)
	}
	return nil
}

// commit writes the batch into the target in one transaction (with its
// quarantine, load ledger and quality results) and tells the healer what
// the commit did beyond its rows (CommitRecorder).
func (r *Runner) commit(ctx context.Context, b *batch) (*warehouse.CommitResult, error) {
	res, p := b.res, b.p
	task := metadata.TaskAttempt{RunID: res.RunID, Task: "commit " + p.Target, Attempt: 1, Status: metadata.StatusRunning, StartedAt: r.now()}
	if err := r.Store.RecordTask(ctx, task); err != nil {
		return nil, err
	}
	b.committing = true
	cr, err := r.Warehouse.Commit(ctx, warehouse.CommitSpec{
		RunID: res.RunID, Pipeline: p.Name, Target: p.Target, Mode: p.Mode, Key: p.Key,
		Rebuild: b.opts.FullRefresh, Objects: b.staged, Design: designOf(p),
	})
	if cr != nil {
		task.RowsLoaded, task.RowsQuarantined, task.RowsDeduplicated = cr.Inserted+cr.Updated, cr.Quarantined, cr.Deduplicated
	}
	r.finishTask(ctx, task, err)
	if err != nil {
		return nil, err
	}
	b.log.Debug("committed", "target", p.Target, "took", r.now().Sub(task.StartedAt))
	if len(cr.Kept) > 0 || len(b.dups) > 0 || len(cr.SchemaChanges) > 0 {
		rep := CommitReport{RunID: res.RunID, Pipeline: p.Name, Target: p.Target, Kept: cr.Kept, Lacking: map[string][]string{}, Duplicates: b.dups,
			SchemaChanges: cr.SchemaChanges}
		for _, st := range b.staged {
			for _, m := range st.Missing {
				rep.Lacking[m] = append(rep.Lacking[m], st.ObjectKey)
			}
		}
		for col, n := range cr.Kept {
			b.log.Warn("merge kept the target's values of a column the batch lacks", "column", col, "rows", n)
		}
		r.recordCommit(ctx, rep, b.log)
	}
	return cr, nil
}

// record completes the accounting of a committed run, stores an
// extraction's watermark, marks the objects processed, and checks that
// every row in was loaded, quarantined or de-duplicated.
func (r *Runner) record(ctx context.Context, b *batch, cr *warehouse.CommitResult) error {
	res, p := b.res, b.p
	res.Inserted, res.Updated = cr.Inserted, cr.Updated
	res.Loaded = cr.Inserted + cr.Updated
	res.Quarantined = cr.Quarantined
	res.Deduplicated = cr.Deduplicated + b.dupRows
	res.InvariantOK = res.RowsIn == res.Loaded+res.Quarantined+res.Deduplicated
	res.Committed = true

	files := r.objectFiles(res, b.todo)
	// The watermark first: if the process dies before the objects are
	// marked, the next run recovers them from the ledger, whose
	// watermark is the same.
	if b.ext != nil {
		if err := r.finishExtract(ctx, p, b.ext); err != nil {
			return err
		}
	}
	if err := r.Store.MarkObjects(ctx, p.Name, res.RunID, files); err != nil {
		return err
	}
	if !res.InvariantOK {
		return fmt.Errorf("%w: %d in, %d loaded + %d quarantined + %d de-duplicated", ErrInvariant,
			res.RowsIn, res.Loaded, res.Quarantined, res.Deduplicated)
	}
	return nil
}

// uncommitted sets the accounting of a run that committed nothing: no
// row was loaded, the objects' staged rows are what would have loaded,
// and rows in = staged + set aside + de-duplicated for every object that
// was staged whole. Nothing of the input is lost: it stays in the source.
func uncommitted(res *Result, err error) {
	ok := !errors.Is(err, ErrInvariant)
	res.Loaded, res.Inserted, res.Updated, res.Quarantined, res.Deduplicated = 0, 0, 0, 0, 0
	for i := range res.Objects {
		o := &res.Objects[i]
		if o.DuplicateOf != "" {
			res.Deduplicated += o.RowsIn
			continue
		}
		o.Staged, o.Loaded = o.Loaded, 0
		if o.Staged+o.Quarantined > 0 {
			ok = ok && o.RowsIn == o.Staged+o.Quarantined
		}
		res.Quarantined += o.Quarantined
	}
	res.InvariantOK = ok
}

// discardStaging ends a run that will not commit what it staged: the
// rows staging set aside are kept with the run (Warehouse.SetAside)
// where a person can read them, then the staging is dropped. A failure
// to keep them is logged: the input stays in the source for a re-run.
func (r *Runner) discardStaging(ctx context.Context, b *batch) {
	ctx = context.WithoutCancel(ctx)
	if len(b.staged) > 0 {
		n, err := r.Warehouse.SetAside(ctx, b.res.RunID, b.res.Pipeline, b.staged)
		if err != nil {
			b.log.Warn("keep the rows set aside by an uncommitted run", "err", err)
		}
		b.res.SetAside = n
	}
	_ = r.Warehouse.DropStaging(ctx)
}

// objectFiles are the run's objects as the metadata store records them.
func (r *Runner) objectFiles(res *Result, todo []source.Object) []metadata.ObjectFile {
	files := make([]metadata.ObjectFile, len(todo))
	for i, obj := range todo {
		o := res.Objects[i]
		files[i] = metadata.ObjectFile{
			ObjectRef: metadata.ObjectRef{Key: obj.Key, Fingerprint: obj.Fingerprint},
			Size:      obj.Size, RunID: res.RunID, ProcessedAt: r.now(),
			RowsIn: o.RowsIn, RowsLoaded: o.Loaded, RowsQuarantined: o.Quarantined,
		}
	}
	return files
}

// recordCommit hands what a commit did beyond its rows to the healer,
// when it hears it; a failure to record is logged, not fatal.
func (r *Runner) recordCommit(ctx context.Context, rep CommitReport, log *slog.Logger) {
	if rec, ok := r.Healer.(CommitRecorder); ok {
		if err := rec.RecordCommit(context.WithoutCancel(ctx), rep); err != nil {
			log.Warn("record what the commit did", "err", err)
		}
	}
}

// finishTask records how a task ended. A store error here is logged, not
// returned: the run's own outcome matters more than its bookkeeping.
func (r *Runner) finishTask(ctx context.Context, t metadata.TaskAttempt, err error) {
	t.EndedAt = r.now()
	t.Status = metadata.StatusSucceeded
	if err != nil {
		t.Status = metadata.StatusFailed
		t.Error = redact.FromContext(ctx).Text(err.Error())
	}
	if serr := r.Store.RecordTask(context.WithoutCancel(ctx), t); serr != nil {
		r.logger().Warn("record task", "task", t.Task, "err", serr)
	}
}

func containsFold(list []string, s string) bool {
	for _, l := range list {
		if strings.EqualFold(l, s) {
			return true
		}
	}
	return false
}

func sampleText(objs []ObjectResult) string {
	var b strings.Builder
	n := 0
	for _, o := range objs {
		for _, s := range o.Samples {
			if n == 5 {
				return b.String()
			}
			fmt.Fprintf(&b, "\n  %s", s.Describe(o.Key))
			n++
		}
	}
	return b.String()
}

// ErrLateData marks a run that found no new data within the pipeline's
// wait_for_data timeout; it is worth a later attempt.
var ErrLateData = fmt.Errorf("late data (%w)", resilience.ErrRetryLater)

// waitForData lists the source's objects and those still to load. When
// nothing is new and the pipeline waits for late data, it lists again
// every poll interval until something arrives or the timeout passes (see
// pollForData).
func (r *Runner) waitForData(ctx context.Context, objSrc source.ObjectSource, p *config.Pipeline, src *config.Source, opts Options,
	runID string, log *slog.Logger) ([]source.Object, []source.Object, []metadata.ObjectFile, error) {
	var objects, todo []source.Object
	var recovered []metadata.ObjectFile
	err := r.pollForData(ctx, p, src, runID, "no new objects at "+src.Path, log, func() (bool, error) {
		var err error
		if objects, err = objSrc.List(ctx); err != nil {
			return false, err
		}
		todo, recovered, err = r.pending(ctx, p.Name, objects, opts)
		return len(todo) > 0 || opts.FullRefresh, err
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return objects, todo, recovered, nil
}

// pollForData calls probe until it finds data; when it finds none and
// the pipeline has wait_for_data, it asks again every poll until data
// arrives or the timeout passes (ErrLateData naming what was missing,
// which the scheduler retries). It tells the healer what a wait did.
func (r *Runner) pollForData(ctx context.Context, p *config.Pipeline, src *config.Source, runID, missing string, log *slog.Logger,
	probe func() (found bool, err error)) error {
	started := r.now()
	for polls := 0; ; polls++ {
		found, err := probe()
		if err != nil {
			return err
		}
		waited := r.now().Sub(started)
		if found || p.WaitForData <= 0 {
			if polls > 0 && found {
				r.reportWait(ctx, runID, p.Name, src, waited, nil, log)
			}
			return nil
		}
		if waited >= p.WaitForData {
			err := fmt.Errorf("%w: %s within %s; the next attempt looks again", ErrLateData, missing, p.WaitForData)
			r.reportWait(ctx, runID, p.Name, src, waited, err, log)
			return err
		}
		log.Info("waiting for late data", "source", src.Name, "waited", waited.Round(time.Millisecond), "timeout", p.WaitForData)
		t := time.NewTimer(min(p.WaitPoll, p.WaitForData-waited))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// reportWait tells the healer how a wait for late data ended.
func (r *Runner) reportWait(ctx context.Context, runID, pipeline string, src *config.Source, waited time.Duration, err error, log *slog.Logger) {
	r.recordTask(ctx, TaskReport{RunID: runID, Pipeline: pipeline, Source: src.Name, SourceType: src.Type, Err: err, Waited: waited}, log)
}

// recordTask hands a report to the healer, when it hears them; a failure
// to record is logged, not fatal.
func (r *Runner) recordTask(ctx context.Context, rep TaskReport, log *slog.Logger) {
	tr, ok := r.Healer.(TaskRecorder)
	if !ok {
		return
	}
	red := redact.FromContext(ctx)
	rep.Err, rep.FailoverErr = red.Error(rep.Err), red.Error(rep.FailoverErr)
	retries := make([]resilience.Retry, len(rep.Retries))
	for i, rt := range rep.Retries {
		rt.Err = red.Error(rt.Err)
		retries[i] = rt
	}
	rep.Retries = retries
	if err := tr.RecordTask(context.WithoutCancel(ctx), rep); err != nil {
		log.Warn("record what healed the source", "source", rep.Source, "err", err)
	}
}

// pending returns the objects to load, and the objects the warehouse
// ledger shows as committed that the metadata store does not know yet.
func (r *Runner) pending(ctx context.Context, name string, objects []source.Object, opts Options) ([]source.Object, []metadata.ObjectFile, error) {
	if opts.FullRefresh {
		if err := r.Store.ForgetObjects(ctx, name); err != nil {
			return nil, nil, err
		}
		return objects, nil, nil
	}
	ledger, err := r.Warehouse.LoadedObjects(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	committed := make(map[metadata.ObjectRef]string, len(ledger))
	for _, l := range ledger {
		committed[metadata.ObjectRef{Key: l.Key, Fingerprint: l.Fingerprint}] = l.RunID
	}
	processed, err := r.processedObjects(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	var todo []source.Object
	var recovered []metadata.ObjectFile
	for _, o := range objects {
		ref := metadata.ObjectRef{Key: o.Key, Fingerprint: o.Fingerprint}
		done := processed[ref]
		runID, inLedger := committed[ref]
		switch {
		case inLedger && !done:
			recovered = append(recovered, metadata.ObjectFile{ObjectRef: ref, Size: o.Size, RunID: runID, ProcessedAt: r.now()})
		case !inLedger && !done:
			todo = append(todo, o)
		}
		// done but not in the ledger: the target was rebuilt or dropped by
		// hand; the user asks for --full-refresh to load it again.
	}
	return todo, recovered, nil
}

// processedObjects returns, in one query, the objects the metadata store
// records as processed by the pipeline.
func (r *Runner) processedObjects(ctx context.Context, name string) (map[metadata.ObjectRef]bool, error) {
	files, err := r.Store.ListObjects(ctx, name)
	if err != nil {
		return nil, err
	}
	done := make(map[metadata.ObjectRef]bool, len(files))
	for _, f := range files {
		done[f.ObjectRef] = true
	}
	return done, nil
}

// loadObject stages one object: copy the raw file into the blob store while
// counting its records, then load it into a staging table.
//
// An object whose bytes are those of one the pipeline loaded already (or
// of an earlier object of the batch) is a re-delivery: unless the
// pipeline loads duplicate deliveries, it is not staged, and its rows
// count as de-duplicated (ObjectResult.DuplicateOf names the original).
func (r *Runner) loadObject(ctx context.Context, objSrc source.ObjectSource, p *config.Pipeline, src *config.Source, sch schema.Schema,
	obj source.Object, index, total int, runID string, seen *deliveries, log *slog.Logger) (*ObjectResult, *warehouse.Staged, error) {
	started := r.now()
	fmtName, comp, err := objectFormat(src, obj.Key)
	if err != nil {
		return nil, nil, err
	}
	or := &ObjectResult{Key: obj.Key, Format: fmtName}
	key, err := staging.SafeKey(p.Name, runID, obj.Key)
	if err != nil {
		return nil, nil, fmt.Errorf("object %q: %w", obj.Key, err)
	}
	in, err := objSrc.Open(ctx, obj.Key)
	if err != nil {
		return nil, nil, err
	}
	var bytes, rows atomic.Int64
	stopProgress := r.progressTicker(p.Name, obj.Key, index, total, started, &bytes, &rows)
	hash := sha256.New()
	csvOpts := csvOptions(src)
	var uri string
	if dl, ok := r.Warehouse.(warehouse.DirectLoader); ok {
		if u := r.Staging.ObjectURI(key); u != "" && dl.LoadsDirect(u, fmtName, comp) {
			uri = u // the engine loads it; the bytes are fetched only if it asks
		}
	}
	var profile *format.JSONProfile
	if uri != "" && fmtName == format.JSONL {
		profile = &format.JSONProfile{}
	}
	var text utf8Watch
	counted, copyErr := r.stageCopy(ctx, key, in, fmtName, comp, &csvOpts, sch, &bytes, &rows, hash, &text, profile)
	in.Close()
	stopProgress()
	if copyErr != nil {
		return nil, nil, fmt.Errorf("stage %s: %w", obj.Key, copyErr)
	}
	or.Bytes = bytes.Load()

	var localPath string
	if uri == "" {
		path, release, err := r.Staging.LocalPath(ctx, key)
		if err != nil {
			return nil, nil, err
		}
		defer release()
		localPath = path
	}
	openAt := func(ctx context.Context) (io.ReaderAt, int64, error) {
		ra, err := r.Staging.OpenAt(ctx, key)
		if err != nil {
			return nil, 0, err
		}
		return ra, ra.Size(), nil
	}
	if fmtName == format.Parquet {
		if uri != "" {
			counted, err = parquetRowsAt(ctx, openAt)
		} else {
			counted, err = parquetRows(localPath)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("count rows of %s: %w", obj.Key, err)
		}
	}
	or.RowsIn = counted
	or.ContentHash = hex.EncodeToString(hash.Sum(nil))
	if prev, dup := seen.check(or.ContentHash, obj.Key); dup && p.DuplicateDeliveries != config.DuplicatesLoad {
		or.DuplicateOf = prev
		log.Warn("re-delivered object not loaded: its content is that of an object loaded before", "object", obj.Key, "original", prev, "rows", counted)
		return or, nil, nil
	}
	spec := warehouse.LoadSpec{
		RunID: runID, Pipeline: p.Name, Target: p.Target, ObjectKey: obj.Key, Fingerprint: obj.Fingerprint, ContentHash: or.ContentHash,
		Path: localPath, Format: fmtName, Compression: comp, Schema: sch, Key: p.Key, CSV: csvOpts,
		Parse: DeclaredParse(sch), URI: uri, Records: counted, UTF8: fmtName != format.Parquet && text.valid(), Profile: profile,
	}
	if uri != "" {
		spec.Open = func(ctx context.Context) (io.ReadCloser, error) { return r.Staging.Open(ctx, key) }
		spec.OpenAt = openAt
	}
	st, err := r.stage(ctx, p.Name, spec)
	if err != nil {
		if st != nil {
			or.Loaded, or.Quarantined, or.Drift, or.Samples = st.Loaded, st.Quarantined, st.Drift, st.Samples
		}
		return or, st, err
	}
	or.Loaded, or.Quarantined, or.Drift, or.Samples = st.Loaded, st.Quarantined, st.Drift, st.Samples
	if st.Loaded+st.Quarantined != counted {
		return or, nil, fmt.Errorf("%w: %s has %d records but %d were loaded and %d quarantined", ErrInvariant,
			obj.Key, counted, st.Loaded, st.Quarantined)
	}
	for _, d := range st.Drift {
		log.Warn("schema drift", "object", obj.Key, "detail", d)
	}
	log.Info("object staged", "object", obj.Key, "rows_in", counted, "loaded", st.Loaded, "quarantined", st.Quarantined)
	if r.OnProgress != nil {
		r.OnProgress(Progress{Pipeline: p.Name, Object: obj.Key, Index: index, Total: total, Bytes: or.Bytes,
			Rows: counted, Elapsed: r.now().Sub(started), Done: true})
	}
	return or, st, nil
}

// deliveries finds re-delivered objects by the SHA-256 of their bytes:
// those of the objects the pipeline committed (from the load ledger) and
// those of the batch's earlier objects.
type deliveries struct {
	byHash map[string]string // content hash -> object key
}

// newDeliveries reads the ledger's hashes; a full refresh reloads every
// object, so only the batch's own are compared.
func (r *Runner) newDeliveries(ctx context.Context, pipeline string, fullRefresh bool) (*deliveries, error) {
	d := &deliveries{byHash: map[string]string{}}
	if fullRefresh {
		return d, nil
	}
	ledger, err := r.Warehouse.LoadedObjects(ctx, pipeline)
	if err != nil {
		return nil, err
	}
	for _, l := range ledger {
		if l.ContentHash != "" {
			if _, ok := d.byHash[l.ContentHash]; !ok {
				d.byHash[l.ContentHash] = l.Key
			}
		}
	}
	return d, nil
}

// check reports the object loaded before with the same content, and
// otherwise remembers this one.
func (d *deliveries) check(hash, key string) (string, bool) {
	if d == nil {
		return "", false
	}
	if prev, ok := d.byHash[hash]; ok {
		return prev, true
	}
	d.byHash[hash] = key
	return "", false
}

// withStoredRules adds the rules stored for the pipeline (through the API
// or the CLI) to its rules from quality_rules.yaml.
func (r *Runner) withStoredRules(ctx context.Context, pipeline string, suite *quality.Suite) (*quality.Suite, error) {
	stored, err := r.Store.ListQualityRules(ctx, pipeline)
	if err != nil || len(stored) == 0 {
		return suite, err
	}
	out := &quality.Suite{Name: pipeline}
	if suite != nil {
		c := *suite
		c.Expectations = append([]quality.Config(nil), suite.Expectations...)
		out = &c
	}
	for _, sr := range stored {
		cfg, err := quality.ParseStoredRule(sr.Rule)
		if err != nil {
			return nil, fmt.Errorf("stored quality rule #%d of %s: %w", sr.ID, pipeline, err)
		}
		out.Expectations = append(out.Expectations, cfg)
	}
	return out, nil
}

// batchMetrics measures the staged batch about to be committed: the
// share of NULLs in each column and the newest event time (one scan per
// object), and the mean quality score. freshness_s is how old the newest
// event of the batch was when the run started (never below 0). A failed
// measurement is logged, not fatal.
func (r *Runner) batchMetrics(ctx context.Context, p *config.Pipeline, started time.Time, staged []*warehouse.Staged,
	objs []ObjectResult, log *slog.Logger) map[string]float64 {
	nonNull, carried := map[string]int64{}, map[string]int64{}
	var newest time.Time
	eventSeen := false
	for _, st := range staged {
		if len(st.Columns) == 0 {
			continue
		}
		bm, err := r.Warehouse.BatchMetrics(ctx, st, p.EventTime)
		if err != nil {
			log.Warn("measure null rates", "object", st.ObjectKey, "err", err)
			return nil
		}
		for _, c := range st.Columns {
			if containsFold(st.Missing, c.Name) {
				continue // a column the object lacks is a removal, not NULLs
			}
			nonNull[c.Name] += bm.NonNull[c.Name]
			carried[c.Name] += bm.Rows
		}
		if bm.EventColumn != "" {
			eventSeen = true
		}
		switch {
		case bm.EventNotTime:
			typ := ""
			for _, c := range st.Columns {
				if c.Name == bm.EventColumn {
					typ = c.Type
				}
			}
			log.Warn("event_time is not a date or timestamp; freshness is not measured", "column", p.EventTime, "type", typ)
		case bm.Newest.After(newest):
			newest = bm.Newest
		}
	}
	if p.EventTime != "" && !eventSeen && len(carried) > 0 {
		log.Warn("event_time names no column of the batch; freshness is not measured", "column", p.EventTime)
	}
	m := map[string]float64{}
	for c, n := range nonNull {
		if rows := carried[c]; rows > 0 {
			m["null_rate:"+c] = float64(rows-n) / float64(rows)
		}
	}
	if !newest.IsZero() {
		m["freshness_s"] = max(0, started.Sub(newest).Seconds())
	}
	if p.Mode == config.ModeAppend && p.DuplicateDeliveries != config.DuplicatesLoad {
		m = r.repeatedShare(ctx, p, staged, m, log)
	}
	var score float64
	var scored int
	for _, o := range objs {
		if o.Quality != nil {
			score += o.Quality.Score
			scored++
		}
	}
	if scored > 0 {
		m["quality_score"] = score / float64(scored)
	}
	return m
}

// minRepeatedRows is the smallest batch whose repeated rows are measured:
// a handful of identical rows may well happen twice.
const minRepeatedRows = 10

// repeatedShare adds to m the share of the batch's rows that the append
// target holds already ("repeated_share"), which a healer may take for a
// re-delivery with changes (an identical one is not staged at all).
func (r *Runner) repeatedShare(ctx context.Context, p *config.Pipeline, staged []*warehouse.Staged, m map[string]float64, log *slog.Logger) map[string]float64 {
	insp, ok := r.Warehouse.(warehouse.Inspector)
	if !ok {
		return m
	}
	var repeated, rows int64
	for _, st := range staged {
		n, err := insp.RepeatedRows(ctx, st, p.Target)
		if err != nil {
			log.Warn("measure repeated rows", "object", st.ObjectKey, "err", err)
			return m
		}
		repeated += n
		rows += st.Loaded
	}
	if rows >= minRepeatedRows && repeated > 0 {
		m["repeated_share"] = float64(repeated) / float64(rows)
	}
	return m
}

// stage loads an object into the warehouse and lets a StageHealer repair
// how it was read.
func (r *Runner) stage(ctx context.Context, pipeline string, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	st, err := r.Warehouse.Stage(ctx, spec)
	if err != nil {
		return nil, err
	}
	if sh, ok := r.Healer.(StageHealer); ok && (st.Quarantined > 0 || len(st.Extra) > 0 || len(st.Missing) > 0) {
		hctx, end := r.phase(ctx, StageHeal, attribute.String("shp.object", spec.ObjectKey))
		healed, err := sh.HealStage(hctx, StageRequest{RunID: spec.RunID, Pipeline: pipeline, Spec: spec, Staged: st, Warehouse: r.Warehouse})
		end(err)
		if err != nil {
			if errors.Is(err, ErrHeld) && healed != nil {
				// Held, not failed: the staging stands for the run's
				// accounting and its set-aside rows.
				return healed, fmt.Errorf("heal staging of %s: %w", spec.ObjectKey, err)
			}
			return nil, fmt.Errorf("heal staging of %s: %w", spec.ObjectKey, err)
		}
		st = healed
	}
	return st, nil
}

// await lets the healer wait for a person's decision on a held action,
// when it can.
func (r *Runner) await(ctx context.Context, held *HeldError, log *slog.Logger) (bool, error) {
	aw, ok := r.Healer.(Awaiter)
	if !ok {
		return false, nil
	}
	log.Info("waiting for a decision", "action", held.ActionID, "reason", held.Reason)
	approved, err := aw.AwaitDecision(ctx, held.ActionID)
	if err != nil {
		return false, err
	}
	if approved {
		log.Info("approved while the run waited", "action", held.ActionID)
	}
	return approved, nil
}

func objectFormat(src *config.Source, key string) (format.Format, format.Compression, error) {
	f, c, err := format.Detect(key)
	if src.Format != "" {
		f = format.Format(src.Format)
		if err != nil {
			// The configured format wins; only compression comes from the name.
			c = format.None
			if strings.HasSuffix(strings.ToLower(path.Base(key)), ".gz") {
				c = format.Gzip
			}
			err = nil
		}
	}
	if err != nil {
		return "", "", err
	}
	switch src.Compression {
	case "gzip":
		c = format.Gzip
	case "none":
		c = format.None
	}
	return f, c, nil
}

func csvOptions(src *config.Source) warehouse.CSVOptions {
	return warehouse.CSVOptions{
		Delimiter: src.CSV.Delimiter, Quote: src.CSV.Quote, NullValues: src.CSV.NullValues, NoHeader: !src.CSV.Header,
	}
}
