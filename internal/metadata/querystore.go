package metadata

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// QueryRecord is one query run against the warehouse (or, imported from
// the warehouse's own history, Calls runs of one).
type QueryRecord struct {
	ID int64
	At time.Time
	// Source is "shp", "user" or "import".
	Source, Pipeline, RunID  string
	Text, Fingerprint        string
	Duration                 time.Duration
	Rows, BytesScanned       int64
	RowsScanned, BytesBilled int64
	Calls                    int64
	Error                    string
}

// insertQuery is the statement that stores a query record.
const insertQuery = `INSERT INTO query_history (at, source, pipeline, run_id, text, fingerprint, duration_ns, rows_out, bytes_scanned, calls, error,
	rows_scanned, bytes_billed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// queryArgs checks a query record, fills its defaults and returns the
// values insertQuery takes.
func (s *sqlStore) queryArgs(q QueryRecord) ([]any, error) {
	if q.Text == "" || q.Source == "" || q.Fingerprint == "" {
		return nil, fmt.Errorf("record query: %w: a record needs its text, source and fingerprint", ErrInvalid)
	}
	if q.At.IsZero() {
		q.At = time.Now()
	}
	if q.Calls < 1 {
		q.Calls = 1
	}
	return []any{s.d.timeArg(q.At), q.Source, q.Pipeline, q.RunID, q.Text, q.Fingerprint, int64(q.Duration), q.Rows,
		q.BytesScanned, q.Calls, q.Error, q.RowsScanned, q.BytesBilled}, nil
}

// RecordQuery stores a query record and returns its id.
func (s *sqlStore) RecordQuery(ctx context.Context, q QueryRecord) (int64, error) {
	args, err := s.queryArgs(q)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := s.queryRow(ctx, insertQuery+" RETURNING id", args...).Scan(&id); err != nil {
		return 0, fmt.Errorf("record query: %w", err)
	}
	return id, nil
}

// RecordQueries stores query records in one transaction: all or none (a
// run's statements, recorded when it ends).
func (s *sqlStore) RecordQueries(ctx context.Context, qs []QueryRecord) error {
	rows := make([][]any, len(qs))
	for i, q := range qs {
		args, err := s.queryArgs(q)
		if err != nil {
			return err
		}
		rows[i] = args
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, s.d.rebind(insertQuery))
		if err != nil {
			return fmt.Errorf("record queries: %w", err)
		}
		defer st.Close()
		for _, args := range rows {
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("record queries: %w", err)
			}
		}
		return nil
	})
}

// QueryFilter selects query records.
type QueryFilter struct {
	// Since: records at or after it (all when zero).
	Since time.Time
	// Limit: at most this many, the newest (0 for all).
	Limit int
	// Source keeps only the records of one source; ExceptSource leaves
	// out those of one ("" for none).
	Source, ExceptSource string
}

// ListQueries returns the query records the filter selects, newest
// first.
func (s *sqlStore) ListQueries(ctx context.Context, f QueryFilter) ([]QueryRecord, error) {
	q := `SELECT id, at, source, pipeline, run_id, text, fingerprint, duration_ns, rows_out, bytes_scanned, calls, error, rows_scanned, bytes_billed
		FROM query_history WHERE 1 = 1`
	var args []any
	if !f.Since.IsZero() {
		q += ` AND at >= ?`
		args = append(args, s.d.timeArg(f.Since))
	}
	if f.Source != "" {
		q += ` AND source = ?`
		args = append(args, f.Source)
	}
	if f.ExceptSource != "" {
		q += ` AND source <> ?`
		args = append(args, f.ExceptSource)
	}
	q += ` ORDER BY at DESC, id DESC`
	limit := f.Limit
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list queries: %w", err)
	}
	defer rows.Close()
	var out []QueryRecord
	for rows.Next() {
		var r QueryRecord
		var d int64
		if err := rows.Scan(&r.ID, scanTime(&r.At), &r.Source, &r.Pipeline, &r.RunID, &r.Text, &r.Fingerprint, &d, &r.Rows,
			&r.BytesScanned, &r.Calls, &r.Error, &r.RowsScanned, &r.BytesBilled); err != nil {
			return nil, fmt.Errorf("list queries: %w", err)
		}
		r.Duration = time.Duration(d)
		out = append(out, r)
	}
	return out, rows.Err()
}

// LastQueryID is the id of the newest query record (0 when there is
// none): the records stored after it have larger ids.
func (s *sqlStore) LastQueryID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.queryRow(ctx, `SELECT coalesce(max(id), 0) FROM query_history`).Scan(&id); err != nil {
		return 0, fmt.Errorf("last query id: %w", err)
	}
	return id, nil
}

// DeleteQueries deletes the records of one source up to an id (an
// import replaced by the next) and returns how many.
func (s *sqlStore) DeleteQueries(ctx context.Context, source string, upTo int64) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM query_history WHERE source = ? AND id <= ?`, source, upTo)
	if err != nil {
		return 0, fmt.Errorf("delete the queries of %s: %w", source, err)
	}
	return res.RowsAffected()
}

// PruneQueries deletes the records older than t and returns how many.
func (s *sqlStore) PruneQueries(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.exec(ctx, `DELETE FROM query_history WHERE at < ?`, s.d.timeArg(before))
	if err != nil {
		return 0, fmt.Errorf("prune queries: %w", err)
	}
	return res.RowsAffected()
}

// Optimization is a layout change the optimisation layer recorded.
type Optimization struct {
	ID        int64
	CreatedAt time.Time
	Table     string
	Rule      string
	// Change and Detail are JSON: the change, and the recommendation with
	// its evidence and trial.
	Change, Detail string
	// Status is proposed, declined (its trial showed no gain), applied,
	// reverted or failed.
	Status, Undo, DecidedBy string
	DecidedAt               time.Time
	Reason                  string
}

const optimizationColumns = `id, created_at, table_name, rule, change, detail, status, undo, decided_by, decided_at, reason`

func scanOptimization(sc interface{ Scan(...any) error }) (Optimization, error) {
	var o Optimization
	err := sc.Scan(&o.ID, scanTime(&o.CreatedAt), &o.Table, &o.Rule, &o.Change, &o.Detail, &o.Status, &o.Undo, &o.DecidedBy,
		scanTime(&o.DecidedAt), &o.Reason)
	return o, err
}

// AddOptimization stores a recorded change and returns its id.
func (s *sqlStore) AddOptimization(ctx context.Context, o Optimization) (int64, error) {
	if o.Table == "" || o.Rule == "" || o.Change == "" || o.Status == "" {
		return 0, fmt.Errorf("add optimization: %w: it needs a table, a rule, a change and a status", ErrInvalid)
	}
	if o.CreatedAt.IsZero() {
		o.CreatedAt = time.Now()
	}
	if o.Detail == "" {
		o.Detail = "{}"
	}
	var id int64
	err := s.queryRow(ctx, `INSERT INTO optimizations (created_at, table_name, rule, change, detail, status, reason) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
		s.d.timeArg(o.CreatedAt), o.Table, o.Rule, o.Change, o.Detail, o.Status, o.Reason).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("add optimization: %w", err)
	}
	return id, nil
}

// GetOptimization returns one; ErrNotFound when there is none.
func (s *sqlStore) GetOptimization(ctx context.Context, id int64) (Optimization, error) {
	o, err := scanOptimization(s.queryRow(ctx, `SELECT `+optimizationColumns+` FROM optimizations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Optimization{}, fmt.Errorf("optimization %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return Optimization{}, fmt.Errorf("get optimization %d: %w", id, err)
	}
	return o, nil
}

// ListOptimizations returns the recorded changes, newest first: of one
// table when table is not "".
func (s *sqlStore) ListOptimizations(ctx context.Context, table string) ([]Optimization, error) {
	q := `SELECT ` + optimizationColumns + ` FROM optimizations`
	var args []any
	if table != "" {
		q += ` WHERE table_name = ?`
		args = append(args, table)
	}
	rows, err := s.query(ctx, q+` ORDER BY id DESC`, args...)
	if err != nil {
		return nil, fmt.Errorf("list optimizations: %w", err)
	}
	defer rows.Close()
	var out []Optimization
	for rows.Next() {
		o, err := scanOptimization(rows)
		if err != nil {
			return nil, fmt.Errorf("list optimizations: %w", err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DecideOptimization moves a change from the status from to the status
// to, with who, why and the undo; ErrInvalid when it is not in from (one
// decision wins), ErrNotFound when there is no such change.
func (s *sqlStore) DecideOptimization(ctx context.Context, id int64, from, to, undo, by, reason string, at time.Time) error {
	// The unique index optimizations_one_applied refuses a second applied
	// change on a table, whoever decides and however at once.
	res, err := s.exec(ctx, `UPDATE optimizations SET status = ?, undo = ?, decided_by = ?, decided_at = ?, reason = ? WHERE id = ? AND status = ?`,
		to, undo, by, s.d.timeArg(at), reason, id, from)
	if err != nil {
		if other, table, ok := s.otherApplied(ctx, id, to); ok {
			return fmt.Errorf("optimization %d: #%d is applied to %s: %w", id, other, table, ErrInvalid)
		}
		return fmt.Errorf("decide optimization %d: %w", id, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		o, err := s.GetOptimization(ctx, id)
		if err != nil {
			return err
		}
		return fmt.Errorf("optimization %d is %s, not %s: %w", id, o.Status, from, ErrInvalid)
	}
	return nil
}

// otherApplied finds another change applied to the table of optimization
// id, when id is to be applied.
func (s *sqlStore) otherApplied(ctx context.Context, id int64, to string) (other int64, table string, ok bool) {
	if to != "applied" {
		return 0, "", false
	}
	err := s.queryRow(ctx, `SELECT o.id, o.table_name FROM optimizations o WHERE o.status = 'applied' AND o.id <> ?
		AND o.table_name = (SELECT table_name FROM optimizations WHERE id = ?)`, id, id).Scan(&other, &table)
	return other, table, err == nil
}
