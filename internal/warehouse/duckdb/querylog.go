package duckdb

import (
	"context"
	"database/sql"
	"time"

	"github.com/shp-dev/shp/internal/warehouse"
)

// logExec runs a statement (a load, a merge, a repair) and reports it to
// the context's warehouse.QueryLog: a run's record of what shp had the
// warehouse run.
func logExec(ctx context.Context, e execer, query string, args ...any) (sql.Result, error) {
	start := time.Now()
	res, err := e.ExecContext(ctx, query, args...)
	ev := warehouse.QueryEvent{Text: query, Duration: time.Since(start), Err: err}
	if err == nil {
		ev.Rows, _ = res.RowsAffected()
	}
	warehouse.LogQuery(ctx, ev)
	return res, err
}

// logQuery runs a query (a validation) and reports it, with the time
// until its result was ready, to the context's warehouse.QueryLog.
func logQuery(ctx context.Context, q queryer, query string, args ...any) (*sql.Rows, error) {
	start := time.Now()
	rows, err := q.QueryContext(ctx, query, args...)
	warehouse.LogQuery(ctx, warehouse.QueryEvent{Text: query, Duration: time.Since(start), Err: err})
	return rows, err
}
