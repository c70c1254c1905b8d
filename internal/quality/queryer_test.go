package quality

import (
	"context"
	"database/sql"
)

// sqlQueryer runs a suite's queries on a database/sql database.
func sqlQueryer(db *sql.DB) Queryer {
	return QueryFunc(func(ctx context.Context, query string, args ...any) (Rows, error) {
		rows, err := db.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	})
}
