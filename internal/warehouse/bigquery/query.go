package bigquery

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/big"
	"time"

	bq "cloud.google.com/go/bigquery"
	"cloud.google.com/go/civil"
	"google.golang.org/api/iterator"

	"github.com/shp-dev/shp/internal/warehouse"
)

// RunQuery runs GoogleSQL with positional ? parameters, unqualified
// table names resolving to the targets' dataset and staging tables named
// as Staged.Table names them (shp's dataset and the table). Values are
// read as database/sql reads them: INT64 as int64, FLOAT64 as float64,
// NUMERIC as its decimal text, DATE, DATETIME and TIMESTAMP as
// time.Time (UTC), TIME as its text.
func (w *Warehouse) RunQuery(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	cctx, cancel := w.call(ctx)
	m := jobMeta{step: w.nextStep("query")}
	job, err := w.startQuery(cctx, m, query, args, false)
	var st *bq.JobStatus
	if err == nil {
		st, err = w.waitJob(cctx, m, job)
	}
	var it *bq.RowIterator
	if err == nil {
		it, err = job.Read(cctx)
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("bigquery: %w", err)
	}
	r := &rows{it: it, cancel: cancel}
	if st != nil && st.Statistics != nil {
		r.scan.Bytes = st.Statistics.TotalBytesProcessed
		if q, ok := st.Statistics.Details.(*bq.QueryStatistics); ok {
			r.scan.BytesBilled = q.TotalBytesBilled
		}
	}
	return r, nil
}

// MeasuredQuery implements warehouse.ScanMeter: every query job says
// what it processed and billed.
func (w *Warehouse) MeasuredQuery(ctx context.Context, query string, args ...any) (warehouse.ScannedRows, error) {
	r, err := w.RunQuery(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return r.(*rows), nil
}

// rows reads a query's result page by page.
type rows struct {
	it     *bq.RowIterator
	cancel context.CancelFunc
	cur    []bq.Value
	err    error
	closed bool
	scan   warehouse.Scan
}

var _ warehouse.ScannedRows = (*rows)(nil)

// Scanned implements warehouse.ScannedRows with the job's statistics.
func (r *rows) Scanned() warehouse.Scan { return r.scan }

func (r *rows) Next() bool {
	if r.closed || r.err != nil {
		return false
	}
	var row []bq.Value
	err := r.it.Next(&row)
	if err == iterator.Done {
		r.Close()
		return false
	}
	if err != nil {
		r.err = err
		return false
	}
	r.cur = row
	return true
}

func (r *rows) Columns() ([]string, error) {
	out := make([]string, len(r.it.Schema))
	for i, f := range r.it.Schema {
		out[i] = f.Name
	}
	return out, nil
}

// ColumnTypes names the columns' types as GoogleSQL does (INT64,
// FLOAT64, BOOL, ...).
func (r *rows) ColumnTypes() ([]warehouse.Column, error) {
	out := make([]warehouse.Column, len(r.it.Schema))
	for i, f := range r.it.Schema {
		c := fieldOfSchema(f)
		out[i] = warehouse.Column{Name: f.Name, Type: c.typeName()}
	}
	return out, nil
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if !r.closed {
		r.closed = true
		r.cancel()
	}
	return nil
}

// Scan copies the current row into dest, converting as database/sql's
// convertAssign does for the usual destinations.
func (r *rows) Scan(dest ...any) error {
	if r.cur == nil {
		return errors.New("bigquery: Scan without a row")
	}
	if len(dest) != len(r.cur) {
		return fmt.Errorf("bigquery: Scan of %d columns into %d destinations", len(r.cur), len(dest))
	}
	for i, v := range r.cur {
		if err := assign(dest[i], plain(v)); err != nil {
			return fmt.Errorf("bigquery: column %d: %w", i+1, err)
		}
	}
	return nil
}

// plain turns a value of the BigQuery client into what a database/sql
// driver would hand over.
func plain(v bq.Value) any {
	switch x := v.(type) {
	case nil:
		return nil
	case civil.Date:
		return x.In(time.UTC)
	case civil.DateTime:
		return x.In(time.UTC)
	case civil.Time:
		return x.String()
	case time.Time:
		return x.UTC()
	case *big.Rat:
		return ratText(x)
	case []bq.Value:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

// ratText writes a NUMERIC as decimal text, without trailing zeros.
func ratText(r *big.Rat) string {
	s := r.FloatString(38)
	if i := len(s) - 1; len(s) > 0 {
		for i > 0 && s[i] == '0' {
			i--
		}
		if s[i] == '.' {
			i--
		}
		s = s[:i+1]
	}
	return s
}

// assign stores src in dest through database/sql's conversions.
func assign(dest, src any) error {
	switch d := dest.(type) {
	case *any:
		*d = src
		return nil
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
			return nil
		case []byte:
			*d = string(s)
			return nil
		case time.Time:
			*d = s.Format(time.RFC3339Nano)
			return nil
		}
	case *time.Time:
		if t, ok := src.(time.Time); ok {
			*d = t
			return nil
		}
	}
	// sql.Null* and the numeric destinations: database/sql's Scanner
	// conversions.
	if s, ok := dest.(sql.Scanner); ok {
		return s.Scan(src)
	}
	return convertAssign(dest, src)
}

// convertAssign covers the numeric and boolean destinations.
func convertAssign(dest, src any) error {
	switch d := dest.(type) {
	case *int64:
		switch s := src.(type) {
		case int64:
			*d = s
			return nil
		case float64:
			*d = int64(s)
			return nil
		}
	case *int:
		if s, ok := src.(int64); ok {
			*d = int(s)
			return nil
		}
	case *float64:
		switch s := src.(type) {
		case float64:
			*d = s
			return nil
		case int64:
			*d = float64(s)
			return nil
		case string:
			var f float64
			if _, err := fmt.Sscan(s, &f); err == nil {
				*d = f
				return nil
			}
		}
	case *bool:
		if s, ok := src.(bool); ok {
			*d = s
			return nil
		}
	case *[]byte:
		switch s := src.(type) {
		case []byte:
			*d = append([]byte(nil), s...)
			return nil
		case string:
			*d = []byte(s)
			return nil
		}
	}
	if src == nil {
		return fmt.Errorf("cannot store NULL in %T", dest)
	}
	return fmt.Errorf("cannot store %T in %T", src, dest)
}

// EstimateBytes dry-runs a query and returns the bytes it would
// process, without running it or billing anything: what validation
// checks against a pipeline's bytes_budget before it runs its queries.
func (w *Warehouse) EstimateBytes(ctx context.Context, query string, args ...any) (int64, error) {
	ctx, cancel := w.call(ctx)
	defer cancel()
	q := w.client.Query(query)
	q.DefaultProjectID = w.cfg.Project
	q.DefaultDatasetID = w.cfg.Dataset
	q.DryRun = true
	q.Location = w.cfg.Location
	params, err := parameters(args)
	if err != nil {
		return 0, err
	}
	q.Parameters = params
	job, err := q.Run(ctx)
	if err != nil {
		return 0, fmt.Errorf("bigquery: dry run: %w", err)
	}
	st := job.LastStatus()
	if st == nil || st.Statistics == nil {
		return 0, nil
	}
	if err := st.Err(); err != nil {
		return 0, fmt.Errorf("bigquery: dry run: %w", err)
	}
	return st.Statistics.TotalBytesProcessed, nil
}
