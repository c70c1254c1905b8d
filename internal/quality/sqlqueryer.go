package quality

import (
	"context"
	"database/sql"
)

// SQLDB is what a database/sql database or connection offers to run a
// query.
type SQLDB interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// SQLQueryer runs a suite's queries on a database/sql database or
// connection (tests, benchmarks, tools outside a warehouse).
func SQLQueryer(db SQLDB) Queryer {
	return QueryFunc(func(ctx context.Context, query string, args ...any) (Rows, error) {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	})
}
