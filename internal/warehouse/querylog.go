package warehouse

import (
	"context"
	"time"
)

// QueryEvent is one statement a warehouse ran: a load, a merge, a
// validation, a repair, as the engine was given it.
type QueryEvent struct {
	Text     string
	Duration time.Duration
	// Rows is what a statement changed (0 for a query, whose rows are
	// read after it returns).
	Rows int64
	// BytesProcessed and BytesBilled are what the engine said the
	// statement read and billed (BigQuery; 0 elsewhere).
	BytesProcessed, BytesBilled int64
	Err                         error
}

// QueryLog receives the statements the warehouse runs for a context
// (a pipeline's run records its own). It is called from the goroutine
// that ran the statement, perhaps several at once.
type QueryLog interface {
	LogQuery(QueryEvent)
}

type queryLogKey struct{}

// WithQueryLog returns a context whose statements the warehouses report
// to l.
func WithQueryLog(ctx context.Context, l QueryLog) context.Context {
	return context.WithValue(ctx, queryLogKey{}, l)
}

// LogQuery reports a statement to the context's QueryLog, if it has one.
func LogQuery(ctx context.Context, e QueryEvent) {
	if l, ok := ctx.Value(queryLogKey{}).(QueryLog); ok && l != nil {
		l.LogQuery(e)
	}
}
