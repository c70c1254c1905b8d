package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/warehouse"
)

// queryLogger is pgx's tracer of the warehouse's connections: each
// statement is reported to its context's warehouse.QueryLog (a
// run's record of the queries shp ran for it), if it has one.
type queryLogger struct{}

type traceStart struct {
	text string
	at   time.Time
}

type traceKey struct{}

// TraceQueryStart implements pgx.QueryTracer.
func (queryLogger) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return start(ctx, d.SQL)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (queryLogger) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	end(ctx, d.CommandTag.RowsAffected(), d.Err)
}

func start(ctx context.Context, text string) context.Context {
	return context.WithValue(ctx, traceKey{}, &traceStart{text: text, at: time.Now()})
}

func end(ctx context.Context, rows int64, err error) {
	if s, ok := ctx.Value(traceKey{}).(*traceStart); ok {
		warehouse.LogQuery(ctx, warehouse.QueryEvent{Text: s.text, Duration: time.Since(s.at), Rows: rows, Err: err})
	}
}
