package pipeline

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/warehouse"
)

// SourceShp is the query history's source of the statements a run had
// the warehouse run: loads, merges, validations, repairs.
const SourceShp = "shp"

// maxRunShapes bounds the statements of one run kept in the history: the
// shapes (fingerprints) seen first; the others are counted, not kept.
const maxRunShapes = 500

// maxQueryText bounds the text kept of one statement.
const maxQueryText = 8 << 10

// stagingName matches the staging tables' names (stage_<run>_<n>): the
// statements of each object of a run are one shape.
var stagingName = regexp.MustCompile(`(?i)stage_[0-9a-z_]+_[0-9]+`)

// runQueries collects, by shape, the statements the warehouse runs for
// one run (warehouse.QueryLog), their secrets masked.
type runQueries struct {
	red     *redact.Redactor
	mu      sync.Mutex
	shapes  map[string]*metadata.QueryRecord
	order   []string
	dropped int64
}

func newRunQueries(red *redact.Redactor) *runQueries {
	return &runQueries{red: red, shapes: map[string]*metadata.QueryRecord{}}
}

// LogQuery implements warehouse.QueryLog.
func (q *runQueries) LogQuery(e warehouse.QueryEvent) {
	text := q.red.Text(e.Text)
	if len(text) > maxQueryText {
		text = strings.ToValidUTF8(text[:maxQueryText], "") // no rune cut in half
	}
	fp := optimize.Fingerprint(stagingName.ReplaceAllString(text, "stage_?"))
	q.mu.Lock()
	defer q.mu.Unlock()
	r := q.shapes[fp]
	if r == nil {
		if len(q.shapes) >= maxRunShapes {
			q.dropped++
			return
		}
		r = &metadata.QueryRecord{Source: SourceShp, Text: text, Fingerprint: fp}
		q.shapes[fp] = r
		q.order = append(q.order, fp)
	}
	r.Calls++
	r.Duration += e.Duration
	r.Rows += e.Rows
	r.BytesScanned += e.BytesProcessed
	r.BytesBilled += e.BytesBilled
	if e.Err != nil && r.Error == "" {
		r.Error = q.red.Text(e.Err.Error())
	}
}

// queryRecorder is a store that keeps the query history.
type queryRecorder interface {
	RecordQueries(ctx context.Context, qs []metadata.QueryRecord) error
}

// saveQueries records a run's statements in the query history, one
// record per shape with its calls and totals, in one transaction, when
// the store keeps one.
func (r *Runner) saveQueries(ctx context.Context, q *runQueries, pipeline, runID string, at time.Time) {
	st, ok := r.Store.(queryRecorder)
	if !ok {
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.order) == 0 {
		return
	}
	recs := make([]metadata.QueryRecord, len(q.order))
	for i, fp := range q.order {
		recs[i] = *q.shapes[fp]
		recs[i].At, recs[i].Pipeline, recs[i].RunID = at, pipeline, runID
	}
	if err := st.RecordQueries(ctx, recs); err != nil {
		r.logger().Warn("record the run's queries in the query history", "pipeline", pipeline, "run_id", runID, "err", err)
		return
	}
	if q.dropped > 0 {
		r.logger().Debug("the run's queries beyond the history's bound per run were not recorded", "pipeline", pipeline, "run_id", runID,
			"statements", q.dropped)
	}
}
