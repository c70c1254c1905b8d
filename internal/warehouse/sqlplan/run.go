package sqlplan

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/warehouse"
)

// Row is one row a query returned: *sql.Row, pgx.Row.
type Row interface {
	Scan(dest ...any) error
}

// Rows are the rows a query returns, read one by one: *sql.Rows,
// pgx.Rows.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Querier runs the queries of the shared steps on an engine; their
// placeholders are the engine's already.
type Querier interface {
	// QueryRow runs a query that returns one row.
	QueryRow(ctx context.Context, query string, args ...any) Row
	// Query runs a query; done releases its rows.
	Query(ctx context.Context, query string, args ...any) (rows Rows, done func(), err error)
}

// SQLQueryer is what database/sql's *DB, *Conn and *Tx have in common.
type SQLQueryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// DB is a Querier over database/sql.
func DB(q SQLQueryer) Querier { return sqlQuerier{q} }

type sqlQuerier struct{ q SQLQueryer }

// QueryRow implements Querier with QueryRowContext.
func (s sqlQuerier) QueryRow(ctx context.Context, query string, args ...any) Row {
	return s.q.QueryRowContext(ctx, query, args...)
}

// Query implements Querier with QueryContext; done closes the rows.
func (s sqlQuerier) Query(ctx context.Context, query string, args ...any) (Rows, func(), error) {
	rows, err := s.q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, nil, err
	}
	return rows, func() { _ = rows.Close() }, nil
}

// Preview counts the rows op changes or sets aside in table and samples
// up to sample of them, changing nothing.
func Preview(ctx context.Context, q Querier, l Leaf, table string, op *Op, sample int) (*warehouse.RepairPreview, error) {
	p := &warehouse.RepairPreview{}
	count := Count(table, op.Where)
	if err := q.QueryRow(ctx, Bind(l, count.SQL), count.Args...).Scan(&p.Rows); err != nil {
		return nil, fmt.Errorf("count the rows it changes: %w", err)
	}
	if sample <= 0 || p.Rows == 0 {
		return p, nil
	}
	s := Sample(l, table, op, sample)
	rows, done, err := q.Query(ctx, Bind(l, s.SQL), s.Args...)
	if err != nil {
		return nil, fmt.Errorf("sample the rows it changes: %w", err)
	}
	defer done()
	for rows.Next() {
		var before, after any
		dest := []any{&before}
		if op.Rewrites() {
			dest = append(dest, &after)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("sample the rows it changes: %w", err)
		}
		p.Before = append(p.Before, before)
		if op.Rewrites() {
			p.After = append(p.After, after)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sample the rows it changes: %w", err)
	}
	return p, nil
}

// DistinctValues lists up to limit distinct non-NULL values of column c
// in table, as text, most frequent first, then in byte order.
func DistinctValues(ctx context.Context, q Querier, l Leaf, table string, c warehouse.Column, limit int) ([]warehouse.ValueCount, error) {
	f := Distinct(l, table, l.Ident(c.Name), limit)
	rows, done, err := q.Query(ctx, Bind(l, f.SQL), f.Args...)
	if err != nil {
		return nil, err
	}
	defer done()
	var out []warehouse.ValueCount
	for rows.Next() {
		var v warehouse.ValueCount
		if err := rows.Scan(&v.Value, &v.Rows); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// Measure counts a staged object's rows (table, over cols) and each
// column's non-NULL values, and reads the maximum of the event-time
// column (named ignoring case), in one scan.
func Measure(ctx context.Context, q Querier, l Leaf, table string, cols []warehouse.Column, eventTime string) (*warehouse.Metrics, error) {
	m := &warehouse.Metrics{NonNull: make(map[string]int64, len(cols))}
	if len(cols) == 0 {
		return m, nil
	}
	sel := []string{"count(*)"}
	for _, c := range cols {
		sel = append(sel, "count("+l.Ident(c.Name)+")")
	}
	counts := make([]int64, len(cols)+1)
	ptrs := make([]any, len(counts), len(counts)+1)
	for i := range counts {
		ptrs[i] = &counts[i]
	}
	var latest any
	for _, c := range cols {
		if eventTime != "" && strings.EqualFold(c.Name, eventTime) {
			m.EventColumn = c.Name
			sel = append(sel, "max("+l.Ident(c.Name)+")")
			ptrs = append(ptrs, &latest)
			break
		}
	}
	if err := q.QueryRow(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM "+table).Scan(ptrs...); err != nil {
		return nil, err
	}
	m.Rows = counts[0]
	for i, c := range cols {
		m.NonNull[c.Name] = counts[i+1]
	}
	switch t := latest.(type) {
	case time.Time:
		m.Newest = t
	case nil:
	default:
		m.EventNotTime = true
	}
	return m, nil
}

// CastPattern finds the columns named in a quarantine reason's CAST
// parts.
const CastPattern = `CAST \(column ([^)]*)\)`

// nullPattern finds the columns named in a reason's NULL parts.
const nullPattern = `NULL: (?:required|merge key) column "([^"]*)"`

// RejectQueries are the queries that group the rows set aside in the
// quarantine staging table qtable by problem (warehouse.RejectCast,
// RejectNull, RejectEncoding, RejectOther) and column; each returns
// (column, rows).
func RejectQueries(l Leaf, qtable string) []struct{ Kind, SQL string } {
	return []struct{ Kind, SQL string }{
		{warehouse.RejectCast, `SELECT c, count(*) FROM ` + l.Matches(qtable, "reason", `'`+CastPattern+`'`) + ` GROUP BY c ORDER BY c`},
		{warehouse.RejectNull, `SELECT c, count(*) FROM ` + l.Matches(qtable, "reason", `'`+nullPattern+`'`) + ` GROUP BY c ORDER BY c`},
		{warehouse.RejectEncoding, `SELECT '', count(*) FROM ` + qtable + ` WHERE reason LIKE '%INVALID ENCODING%' HAVING count(*) > 0`},
		{warehouse.RejectOther, `SELECT '', count(*) FROM ` + qtable + ` WHERE NOT ` +
			l.RegexMatch("reason", `'`+CastPattern+`|NULL: (required|merge key) column|INVALID ENCODING'`) + ` HAVING count(*) > 0`},
	}
}

// Rejects groups the rows set aside in the quarantine staging table
// qtable by problem and column.
func Rejects(ctx context.Context, q Querier, l Leaf, qtable string) ([]warehouse.Reject, error) {
	var out []warehouse.Reject
	for _, g := range RejectQueries(l, qtable) {
		rows, done, err := q.Query(ctx, g.SQL)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			r := warehouse.Reject{Kind: g.Kind}
			if err := rows.Scan(&r.Column, &r.Rows); err != nil {
				done()
				return nil, err
			}
			out = append(out, r)
		}
		done()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
