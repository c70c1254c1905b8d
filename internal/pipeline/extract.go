package pipeline

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"strings"
	"sync"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
)

// workItem is one object to stage: a file of an object source, or a chunk
// an extracting source wrote into the staging bucket.
type workItem struct {
	obj  source.Object
	load func() (*ObjectResult, *warehouse.Staged, error)
}

// extractState carries an extraction from its start to its commit.
type extractState struct {
	key        string // the watermark's key in the metadata store
	since      string
	full       bool // a full refresh
	extraction *source.Extraction
	close      func()
}

// watermarkKey names a source's watermark in the metadata store.
func watermarkKey(src string) string { return "source:" + src }

// extractPrefix starts the keys of the chunks of a source's extractions,
// as they appear in the warehouse's load ledger.
func extractPrefix(src string) string { return "extract/" + src + "/" }

// extract runs an extracting source into chunk files in the staging
// bucket and returns them as work items. The chunks' ledger entries carry
// the new watermark, so that a run interrupted between the warehouse's
// commit and the metadata store's update resumes from it.
func (r *Runner) extract(ctx context.Context, p *config.Pipeline, src *config.Source, sch *schema.Schema, opts Options,
	res *Result, log *slog.Logger) (_ iter.Seq2[workItem, error], _ *extractState, err error) {
	open := r.OpenExtractor
	if open == nil {
		open = source.NewExtractor
	}
	open = withSecrets(r.Project, open)
	ex, err := open(ctx, source.Spec{Name: src.Name, Type: src.Type, BaseDir: r.Project.Dir, Settings: src.Settings, Params: src.Bound})
	if err != nil {
		return nil, nil, err
	}
	if rs, ok := r.Project.Sources[src.Failover]; ok && src.Failover != "" {
		ex = &failoverExtractor{primary: ex, replicaName: rs.Name, open: func(ctx context.Context) (source.Extractor, error) {
			// The replica reads the same logical date and parameters.
			rs, err := rs.Templated(opts.LogicalDate, opts.Params, false)
			if err != nil {
				return nil, err
			}
			return open(ctx, source.Spec{Name: rs.Name, Type: rs.Type, BaseDir: r.Project.Dir, Settings: rs.Settings, Params: rs.Bound})
		}}
	}
	st := &extractState{key: watermarkKey(src.Name), full: opts.FullRefresh, close: func() { _ = ex.Close() }}
	defer func() {
		if err != nil {
			st.close()
		}
	}()
	if opts.FullRefresh {
		if err := r.Store.ForgetObjects(ctx, p.Name); err != nil {
			return nil, nil, err
		}
	} else if st.since, err = r.recoverWatermark(ctx, p.Name, src.Name, res.RunID, log); err != nil {
		return nil, nil, err
	}
	if len(*sch) == 0 {
		if *sch, err = ex.Discover(ctx); err != nil {
			r.reportTask(ctx, res.RunID, p.Name, src, ex, err, nil, log)
			return nil, nil, err
		}
		if err := r.keepTargetDecimals(ctx, p.Target, *sch, false, log); err != nil {
			return nil, nil, err
		}
	}
	if !opts.FullRefresh {
		items, ok, err := r.resumeExtraction(ctx, p, src, *sch, opts, st, res, log)
		if err != nil || ok {
			return items, st, err
		}
	}
	task := metadata.TaskAttempt{RunID: res.RunID, Task: "extract " + src.Name, Attempt: 1, Status: metadata.StatusRunning, StartedAt: r.now()}
	if err := r.Store.RecordTask(ctx, task); err != nil {
		return nil, nil, err
	}
	if readsArrow(r.Warehouse) {
		if bx, ok := ex.(source.BatchExtractor); ok {
			if _, err := bx.UseBatches(ctx); err != nil {
				return nil, nil, err
			}
		}
	}
	// The extraction runs beside the loading: each chunk is staged in the
	// warehouse while the source writes the next one.
	ectx, cancel := context.WithCancel(ctx)
	chunks := make(chan stagedChunk, 2)
	sink := &chunkSink{bucket: r.Staging, pipeline: p.Name, runID: res.RunID, source: src.Name, ext: ex.Format(),
		onCommit: func(c stagedChunk) error {
			select {
			case chunks <- c:
				return nil
			case <-ectx.Done():
				return ectx.Err()
			}
		}}
	var exErr error
	go func() {
		defer close(chunks)
		started := r.now()
		exn, err := r.extractWaiting(ectx, ex, p, src, st.since, *sch, opts, sink, res.RunID, log)
		if exn != nil {
			detail, _ := json.Marshal(extractDetail{
				Source: src.Name, Type: src.Type, Query: redact.FromContext(ctx).Text(exn.Query), WatermarkBefore: st.since,
				WatermarkAfter: exn.Watermark, Rows: exn.Rows, Bytes: exn.Bytes, Attempts: exn.Attempts,
				Chunks: sink.count(), ChunkFiles: sink.files(), DurationMS: r.now().Sub(started).Milliseconds(),
				Format: string(ex.Format()),
			})
			task.Detail = string(detail)
			task.RowsIn = exn.Rows
			if exn.Attempts > 1 {
				task.Attempt = exn.Attempts
			}
		}
		r.finishTask(ctx, task, err)
		var adjusted []string
		if exn != nil {
			adjusted = exn.Adjustments
		}
		if !errors.Is(err, ErrLateData) { // a wait reports itself
			r.reportTask(ctx, res.RunID, p.Name, src, ex, err, adjusted, log)
		}
		if err != nil {
			exErr = err
			return
		}
		st.extraction = exn
		log.Info("extracted", "source", src.Name, "rows", exn.Rows, "bytes", exn.Bytes, "chunks", sink.count(),
			"watermark_before", st.since, "watermark_after", exn.Watermark, "attempts", exn.Attempts)
	}()
	items := func(yield func(workItem, error) bool) {
		defer cancel()
		n := 0
		for c := range chunks {
			n++
			obj := source.Object{Key: fmt.Sprintf("%s%s/%05d", extractPrefix(src.Name), res.RunID, n), Size: c.bytes}
			if !yield(workItem{obj: obj, load: func() (*ObjectResult, *warehouse.Staged, error) {
				return r.loadStaged(ctx, p, *sch, src.Schema == "", obj, c, ex.Format(), res.RunID, log)
			}}, nil) {
				cancel()
				for range chunks { // let the extraction end
				}
				return
			}
		}
		// The channel closes once the extraction has ended.
		if exErr != nil {
			yield(workItem{}, exErr)
		}
	}
	return items, st, nil
}

// extractWaiting extracts what is new since the watermark. When nothing
// is and the pipeline has wait_for_data, it asks the source again every
// poll until rows arrive or the timeout passes (ErrLateData, which the
// scheduler retries). sch is the schema the rows will be loaded as.
func (r *Runner) extractWaiting(ctx context.Context, ex source.Extractor, p *config.Pipeline, src *config.Source, since string,
	sch schema.Schema, opts Options, sink source.Sink, runID string, log *slog.Logger) (*source.Extraction, error) {
	var exn *source.Extraction
	attempts := 0
	err := r.pollForData(ctx, p, src, runID, fmt.Sprintf("no new rows from %s after watermark %q", src.Name, since), log, func() (bool, error) {
		var err error
		exn, err = ex.Extract(ctx, source.ExtractRequest{Since: since, Full: opts.FullRefresh, Schema: sch}, sink)
		if exn != nil {
			attempts += exn.Attempts
			exn.Attempts = attempts
		}
		return exn == nil || exn.Rows > 0 || opts.FullRefresh, err
	})
	return exn, err
}

// recoverWatermark returns the watermark to extract after: the metadata
// store's, unless the warehouse's ledger holds chunks of a later run that
// the store never heard of (the process died between the two commits).
func (r *Runner) recoverWatermark(ctx context.Context, pipeline, src, runID string, log *slog.Logger) (string, error) {
	since, _, err := r.Store.GetWatermark(ctx, pipeline, watermarkKey(src))
	if err != nil {
		return "", err
	}
	ledger, err := r.Warehouse.LoadedObjects(ctx, pipeline)
	if err != nil {
		return "", err
	}
	processed, err := r.processedObjects(ctx, pipeline)
	if err != nil {
		return "", err
	}
	var lost []warehouse.LoadedObject
	for _, l := range ledger {
		if strings.HasPrefix(l.Key, extractPrefix(src)) && !processed[metadata.ObjectRef{Key: l.Key, Fingerprint: l.Fingerprint}] {
			lost = append(lost, l)
		}
	}
	if len(lost) == 0 {
		return since, nil
	}
	// The ledger is in commit order: the last entry is the latest.
	latest := lost[len(lost)-1]
	wm := strings.TrimPrefix(latest.Fingerprint, "wm:")
	log.Warn("recovering an extraction committed by an interrupted run", "run_id", latest.RunID, "watermark", wm)
	files := make([]metadata.ObjectFile, len(lost))
	for i, l := range lost {
		files[i] = metadata.ObjectFile{ObjectRef: metadata.ObjectRef{Key: l.Key, Fingerprint: l.Fingerprint}, RunID: l.RunID, ProcessedAt: r.now()}
	}
	if err := r.Store.MarkObjects(ctx, pipeline, runID, files); err != nil {
		return "", err
	}
	if err := r.Store.SetWatermark(ctx, pipeline, watermarkKey(src), wm); err != nil {
		return "", err
	}
	return wm, nil
}

// finishExtract stores the new watermark once the extracted rows are
// committed (or when there were none).
func (r *Runner) finishExtract(ctx context.Context, p *config.Pipeline, st *extractState) error {
	if st.extraction == nil {
		return nil
	}
	// A full refresh replaces the watermark, even with an empty one.
	if !st.full && (st.extraction.Watermark == "" || st.extraction.Watermark == st.since) {
		return nil
	}
	return r.Store.SetWatermark(ctx, p.Name, st.key, st.extraction.Watermark)
}

// loadStaged loads one extracted chunk from the staging bucket. typed
// says sch is the schema the source reported (not one the user declared),
// so the chunk's values already have its types.
func (r *Runner) loadStaged(ctx context.Context, p *config.Pipeline, sch schema.Schema, typed bool, obj source.Object, c stagedChunk,
	f format.Format, runID string, log *slog.Logger) (*ObjectResult, *warehouse.Staged, error) {
	started := r.now()
	or := &ObjectResult{Key: obj.Key, Format: f, Bytes: c.bytes, RowsIn: c.rows}
	localPath, release, err := r.Staging.LocalPath(ctx, c.key)
	if err != nil {
		return nil, nil, err
	}
	defer release()
	st, err := r.stage(ctx, p.Name, warehouse.LoadSpec{
		RunID: runID, Pipeline: p.Name, Target: p.Target, ObjectKey: obj.Key, Fingerprint: obj.Fingerprint,
		Path: localPath, Format: f, Compression: format.None, Schema: sch, Key: p.Key, Typed: typed,
		CSV:   warehouse.CSVOptions{Delimiter: ",", Quote: `"`, NullValues: []string{`\N`}, QuotedNullsAreText: true},
		Parse: DeclaredParse(sch),
	})
	if err != nil {
		if st != nil {
			or.Loaded, or.Quarantined, or.Drift, or.Samples = st.Loaded, st.Quarantined, st.Drift, st.Samples
		}
		return or, st, err
	}
	or.Loaded, or.Quarantined, or.Drift, or.Samples = st.Loaded, st.Quarantined, st.Drift, st.Samples
	if st.Loaded+st.Quarantined != c.rows {
		return or, nil, fmt.Errorf("%w: %s has %d extracted rows but %d were loaded and %d quarantined", ErrInvariant,
			obj.Key, c.rows, st.Loaded, st.Quarantined)
	}
	for _, d := range st.Drift {
		log.Warn("schema drift", "object", obj.Key, "detail", d)
	}
	log.Info("chunk staged", "object", obj.Key, "rows_in", c.rows, "loaded", st.Loaded, "quarantined", st.Quarantined)
	if r.OnProgress != nil {
		r.OnProgress(Progress{Pipeline: p.Name, Object: obj.Key, Bytes: c.bytes, Rows: c.rows, Elapsed: r.now().Sub(started), Done: true})
	}
	return or, st, nil
}

// stagedChunk is a chunk file the extractor committed.
type stagedChunk struct {
	key         string
	rows, bytes int64
}

// chunkSink writes an extractor's chunks into the staging bucket.
type chunkSink struct {
	bucket                  *staging.Bucket
	pipeline, runID, source string
	ext                     format.Format
	onCommit                func(stagedChunk) error
	mu                      sync.Mutex
	n                       int
	records                 []chunkFileRecord
}

// files lists the committed chunks, in order.
func (s *chunkSink) files() []chunkFileRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]chunkFileRecord(nil), s.records...)
}

func (s *chunkSink) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.records)
}

func (s *chunkSink) Chunk(ctx context.Context) (source.Chunk, error) {
	s.mu.Lock()
	s.n++
	n := s.n
	s.mu.Unlock()
	key, err := staging.SafeKey(s.pipeline, s.runID, "extract", s.source, fmt.Sprintf("chunk-%05d.%s", n, s.ext))
	if err != nil {
		return nil, err
	}
	w, err := s.bucket.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &chunkFile{sink: s, w: w, key: key}, nil
}

type chunkFile struct {
	sink *chunkSink
	w    *staging.Writer
	key  string
}

func (c *chunkFile) Write(p []byte) (int, error) { return c.w.Write(p) }

func (c *chunkFile) Commit(rows int64) error {
	if rows == 0 {
		c.w.Abort()
		return nil
	}
	if err := c.w.Commit(); err != nil {
		return err
	}
	c.sink.mu.Lock()
	c.sink.records = append(c.sink.records, chunkFileRecord{Key: c.key, Rows: rows, Bytes: c.w.Written()})
	c.sink.mu.Unlock()
	return c.sink.onCommit(stagedChunk{key: c.key, rows: rows, bytes: c.w.Written()})
}

func (c *chunkFile) Discard() { c.w.Abort() }

// extractDetail is what an extract task records: the query, the
// watermarks, the counts, and the chunk files it left in the staging
// bucket (its outputs, which a later attempt can resume from).
type extractDetail struct {
	Source          string            `json:"source"`
	Type            string            `json:"type"`
	Query           string            `json:"query"`
	WatermarkBefore string            `json:"watermark_before"`
	WatermarkAfter  string            `json:"watermark_after"`
	Rows            int64             `json:"rows"`
	Bytes           int64             `json:"bytes"`
	Attempts        int               `json:"attempts"`
	Chunks          int               `json:"chunks"`
	ChunkFiles      []chunkFileRecord `json:"chunk_files"`
	Format          string            `json:"format"`
	DurationMS      int64             `json:"duration_ms"`
	ReusedFrom      string            `json:"reused_from,omitempty"`
}

type chunkFileRecord struct {
	Key   string `json:"key"`
	Rows  int64  `json:"rows"`
	Bytes int64  `json:"bytes"`
}

// resumeExtraction reuses the extraction of the pipeline's latest run when
// that run failed after its extract task succeeded, for the same logical
// date and from the same watermark: the run resumes at staging instead of
// extracting again. It reports whether it did.
func (r *Runner) resumeExtraction(ctx context.Context, p *config.Pipeline, src *config.Source, sch schema.Schema, opts Options,
	st *extractState, res *Result, log *slog.Logger) (iter.Seq2[workItem, error], bool, error) {
	runs, err := r.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: p.Name, Limit: 2})
	if err != nil {
		return nil, false, err
	}
	var prev *metadata.Run
	for i := range runs {
		if runs[i].ID != res.RunID {
			prev = &runs[i]
			break
		}
	}
	if prev == nil || prev.Status != metadata.StatusFailed || !prev.LogicalDate.Equal(opts.LogicalDate) {
		return nil, false, nil
	}
	tasks, err := r.Store.ListTasks(ctx, prev.ID)
	if err != nil {
		return nil, false, err
	}
	var d extractDetail
	found := false
	for _, t := range tasks {
		if t.Task == "extract "+src.Name && t.Status == metadata.StatusSucceeded && json.Unmarshal([]byte(t.Detail), &d) == nil {
			found = true
		}
	}
	if !found || d.WatermarkBefore != st.since || len(d.ChunkFiles) != d.Chunks || d.Format == "" ||
		format.Format(d.Format) == format.Arrow && !readsArrow(r.Warehouse) {
		return nil, false, nil // typed batches this build cannot read are extracted again
	}
	for _, c := range d.ChunkFiles {
		if ok, err := r.Staging.Exists(ctx, c.Key); err != nil || !ok {
			return nil, false, nil // the staged files are gone: extract again
		}
	}
	if d.ReusedFrom == "" {
		d.ReusedFrom = prev.ID
	}
	detail, _ := json.Marshal(d)
	now := r.now()
	if err := r.Store.RecordTask(ctx, metadata.TaskAttempt{RunID: res.RunID, Task: "extract " + src.Name, Attempt: 1,
		Status: metadata.StatusSucceeded, StartedAt: now, EndedAt: now, RowsIn: d.Rows, Detail: string(detail)}); err != nil {
		return nil, false, err
	}
	st.extraction = &source.Extraction{Watermark: d.WatermarkAfter, Query: d.Query, Rows: d.Rows, Bytes: d.Bytes, Attempts: 0}
	log.Info("resuming at staging: the extraction of the failed run is reused", "from_run", prev.ID, "rows", d.Rows, "chunks", d.Chunks)
	f := format.Format(d.Format)
	items := func(yield func(workItem, error) bool) {
		for i, c := range d.ChunkFiles {
			obj := source.Object{Key: fmt.Sprintf("%s%s/%05d", extractPrefix(src.Name), res.RunID, i+1), Size: c.Bytes}
			chunk := stagedChunk{key: c.Key, rows: c.Rows, bytes: c.Bytes}
			if !yield(workItem{obj: obj, load: func() (*ObjectResult, *warehouse.Staged, error) {
				return r.loadStaged(ctx, p, sch, src.Schema == "", obj, chunk, f, res.RunID, log)
			}}, nil) {
				return
			}
		}
	}
	return items, true, nil
}

// readsArrow reports whether a warehouse stages Arrow streams.
func readsArrow(w warehouse.Warehouse) bool {
	ar, ok := w.(warehouse.ArrowReader)
	return ok && ar.ReadsArrow()
}

// reportTask tells the healer what the source's retries healed and, when
// err is set, what failed.
func (r *Runner) reportTask(ctx context.Context, runID, pipeline string, src *config.Source, ex source.Extractor, err error,
	adjusted []string, log *slog.Logger) {
	if _, ok := r.Healer.(TaskRecorder); !ok {
		return
	}
	rep := TaskReport{RunID: runID, Pipeline: pipeline, Source: src.Name, SourceType: src.Type, Err: err, Adjusted: adjusted}
	if rl, ok := ex.(source.RetryLog); ok {
		rep.Retries = rl.TakeRetries()
	}
	if fo, ok := ex.(*failoverExtractor); ok && fo.replica != nil {
		rep.Failover, rep.FailoverErr = fo.replicaName, fo.primaryErr
	}
	if err == nil && len(rep.Retries) == 0 && rep.Failover == "" && len(adjusted) == 0 {
		return
	}
	r.recordTask(ctx, rep, log)
}
