package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// sqlStore is the Store of the database/sql databases; its dialect holds
// what differs between them.
type sqlStore struct {
	db *sql.DB
	d  dialect
	// stmts keeps prepared queries by their text: parsing a statement
	// costs SQLite more than running a small one.
	stmts sync.Map
}

// maxIdleConns is how many idle connections a store keeps.
const maxIdleConns = 16

// newSQLStore checks that db answers and migrates it. It closes db when it
// fails.
func newSQLStore(ctx context.Context, db *sql.DB, d dialect) (*sqlStore, error) {
	s := &sqlStore{db: db, d: d}
	// Keep connections for concurrent readers (the API's requests) warm:
	// database/sql keeps two by default, and opening one costs far more
	// than a query.
	db.SetMaxIdleConns(maxIdleConns)
	if err := db.PingContext(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("connect: %w", err), db.Close())
	}
	if err := s.migrate(ctx); err != nil {
		return nil, errors.Join(fmt.Errorf("migrate: %w", err), db.Close())
	}
	return s, nil
}

// exec runs a statement written with ? placeholders.
func (s *sqlStore) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return s.db.ExecContext(ctx, s.d.rebind(query), args...)
}

// query runs a query written with ? placeholders, prepared once.
func (s *sqlStore) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q := s.d.rebind(query)
	st, err := s.prepared(ctx, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// queryRow runs a query of one row written with ? placeholders, prepared
// once.
func (s *sqlStore) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q := s.d.rebind(query)
	st, err := s.prepared(ctx, q)
	if err != nil {
		// The row reports the error when scanned.
		return s.db.QueryRowContext(ctx, q, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// prepared returns the statement of a query text, preparing it on first
// use.
func (s *sqlStore) prepared(ctx context.Context, q string) (*sql.Stmt, error) {
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := s.db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := s.stmts.LoadOrStore(q, st); loaded {
		_ = st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// UpsertPipeline implements Store.
func (s *sqlStore) UpsertPipeline(ctx context.Context, p Pipeline) error {
	if p.Name == "" {
		return fmt.Errorf("upsert pipeline: %w: empty name", ErrInvalid)
	}
	if p.UpdatedAt.IsZero() {
		p.UpdatedAt = time.Now()
	}
	_, err := s.exec(ctx, `INSERT INTO pipelines (name, source, target, mode, schedule, updated_at)
VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (name) DO UPDATE SET source = excluded.source, target = excluded.target, mode = excluded.mode,
	schedule = excluded.schedule, updated_at = excluded.updated_at`,
		p.Name, p.Source, p.Target, p.Mode, p.Schedule, s.d.timeArg(p.UpdatedAt))
	if err != nil {
		return fmt.Errorf("upsert pipeline %q: %w", p.Name, err)
	}
	return nil
}

// ListPipelines implements Store.
func (s *sqlStore) ListPipelines(ctx context.Context) ([]Pipeline, error) {
	rows, err := s.query(ctx, `SELECT name, source, target, mode, schedule, updated_at FROM pipelines ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	defer rows.Close()
	var out []Pipeline
	for rows.Next() {
		var p Pipeline
		if err := rows.Scan(&p.Name, &p.Source, &p.Target, &p.Mode, &p.Schedule, scanTime(&p.UpdatedAt)); err != nil {
			return nil, fmt.Errorf("list pipelines: %w", err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list pipelines: %w", err)
	}
	return out, nil
}

// CreateRun implements Store. An empty Status is stored as running.
func (s *sqlStore) CreateRun(ctx context.Context, r Run) error {
	if r.ID == "" || r.Pipeline == "" {
		return fmt.Errorf("create run: %w: a run needs an ID and a pipeline", ErrInvalid)
	}
	if r.Status == "" {
		r.Status = StatusRunning
	}
	if r.Trigger == "" {
		r.Trigger = "manual"
	}
	if r.Attempt < 1 {
		r.Attempt = 1
	}
	if r.Owner != "" {
		if r.HeartbeatAt.IsZero() {
			r.HeartbeatAt = time.Now()
		}
		if r.Lease <= 0 {
			r.Lease = DefaultLease
		}
	}
	res, err := s.exec(ctx, `INSERT INTO runs (id, pipeline, status, started_at, ended_at,
	rows_in, rows_loaded, rows_quarantined, rows_deduplicated, objects, bytes, invariant_ok, error, full_refresh,
	logical_date, trigger, attempt, owner, heartbeat_at, lease_ms)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO NOTHING`,
		r.ID, r.Pipeline, r.Status, s.d.timeArg(r.StartedAt), s.d.timeArg(r.EndedAt),
		r.RowsIn, r.RowsLoaded, r.RowsQuarantined, r.RowsDeduplicated, r.Objects, r.Bytes, r.InvariantOK, r.Error, r.FullRefresh,
		s.d.timeArg(r.LogicalDate), r.Trigger, r.Attempt, r.Owner, s.d.timeArg(r.HeartbeatAt), leaseMillis(r.Lease))
	if err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("create run %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("create run %s: %w", r.ID, ErrExists)
	}
	return nil
}

// FinishRun implements Store.
func (s *sqlStore) FinishRun(ctx context.Context, r Run) error {
	metrics := "{}"
	if len(r.Metrics) > 0 {
		b, err := json.Marshal(r.Metrics)
		if err != nil {
			return fmt.Errorf("finish run %s: metrics: %w", r.ID, err)
		}
		metrics = string(b)
	}
	res, err := s.exec(ctx, `UPDATE runs SET status = ?, ended_at = ?, rows_in = ?, rows_loaded = ?, rows_quarantined = ?,
	rows_deduplicated = ?, objects = ?, bytes = ?, invariant_ok = ?, error = ?, metrics = ?
WHERE id = ?`,
		r.Status, s.d.timeArg(r.EndedAt), r.RowsIn, r.RowsLoaded, r.RowsQuarantined,
		r.RowsDeduplicated, r.Objects, r.Bytes, r.InvariantOK, r.Error, metrics, r.ID)
	if err != nil {
		return fmt.Errorf("finish run %s: %w", r.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("finish run %s: %w", r.ID, err)
	} else if n == 0 {
		return fmt.Errorf("finish run %s: %w", r.ID, ErrNotFound)
	}
	return nil
}

// runColumns are the columns scanRun reads, in order.
const runColumns = `id, pipeline, status, started_at, ended_at, rows_in, rows_loaded, rows_quarantined,
	rows_deduplicated, objects, bytes, invariant_ok, error, full_refresh, logical_date, trigger, attempt, metrics,
	owner, heartbeat_at, lease_ms`

// scanRun reads a row of runColumns.
func scanRun(row interface{ Scan(...any) error }) (Run, error) {
	var r Run
	var metrics string
	var leaseMS int64
	err := row.Scan(&r.ID, &r.Pipeline, &r.Status, scanTime(&r.StartedAt), scanTime(&r.EndedAt),
		&r.RowsIn, &r.RowsLoaded, &r.RowsQuarantined, &r.RowsDeduplicated, &r.Objects, &r.Bytes,
		&r.InvariantOK, &r.Error, &r.FullRefresh, scanTime(&r.LogicalDate), &r.Trigger, &r.Attempt, &metrics,
		&r.Owner, scanTime(&r.HeartbeatAt), &leaseMS)
	r.Lease = time.Duration(leaseMS) * time.Millisecond
	if err == nil && metrics != "" && metrics != "{}" {
		if jerr := json.Unmarshal([]byte(metrics), &r.Metrics); jerr != nil {
			return r, fmt.Errorf("run %s: metrics: %w", r.ID, jerr)
		}
	}
	return r, err
}

// GetRun implements Store.
func (s *sqlStore) GetRun(ctx context.Context, id string) (Run, error) {
	r, err := scanRun(s.queryRow(ctx, (`SELECT ` + runColumns + ` FROM runs WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return Run{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Run{}, fmt.Errorf("get run %s: %w", id, err)
	}
	return r, nil
}

// ListRuns implements Store. Runs are ordered by start time, newest first,
// then by ID, greatest first; runs without a start time come last.
func (s *sqlStore) ListRuns(ctx context.Context, f RunFilter) ([]Run, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("list runs: %w: negative limit %d", ErrInvalid, f.Limit)
	}
	q := `SELECT ` + runColumns + ` FROM runs WHERE 1 = 1`
	var args []any
	if f.Pipeline != "" {
		q += ` AND pipeline = ?`
		args = append(args, f.Pipeline)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if !f.Since.IsZero() {
		q += ` AND started_at >= ?`
		args = append(args, s.d.timeArg(f.Since))
	}
	if !f.Until.IsZero() {
		q += ` AND started_at < ?`
		args = append(args, s.d.timeArg(f.Until))
	}
	if c := f.After; c != nil {
		// The order is started_at DESC NULLS LAST, id DESC.
		if c.StartedAt.IsZero() {
			q += ` AND started_at IS NULL AND id < ?`
			args = append(args, c.ID)
		} else {
			q += ` AND (started_at < ? OR (started_at = ? AND id < ?) OR started_at IS NULL)`
			t := s.d.timeArg(c.StartedAt)
			args = append(args, t, t, c.ID)
		}
	}
	q += ` ORDER BY started_at DESC NULLS LAST, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("list runs: %w", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	return out, nil
}

// RecordTask implements Store.
func (s *sqlStore) RecordTask(ctx context.Context, a TaskAttempt) error {
	if a.RunID == "" || a.Task == "" {
		return fmt.Errorf("record task: %w: a task attempt needs a run ID and a task", ErrInvalid)
	}
	_, err := s.exec(ctx, `INSERT INTO task_attempts (run_id, task, attempt, status, started_at, ended_at, error,
	rows_in, rows_loaded, rows_quarantined, rows_deduplicated, detail)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (run_id, task, attempt) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
	ended_at = excluded.ended_at, error = excluded.error, rows_in = excluded.rows_in, rows_loaded = excluded.rows_loaded,
	rows_quarantined = excluded.rows_quarantined, rows_deduplicated = excluded.rows_deduplicated, detail = excluded.detail`,
		a.RunID, a.Task, a.Attempt, a.Status, s.d.timeArg(a.StartedAt), s.d.timeArg(a.EndedAt), a.Error,
		a.RowsIn, a.RowsLoaded, a.RowsQuarantined, a.RowsDeduplicated, a.Detail)
	if err != nil {
		// The likely cause is a run that does not exist (a foreign key).
		if _, gerr := s.GetRun(ctx, a.RunID); errors.Is(gerr, ErrNotFound) {
			return fmt.Errorf("record task %s attempt %d of run %s: %w", a.Task, a.Attempt, a.RunID, gerr)
		}
		return fmt.Errorf("record task %s attempt %d of run %s: %w", a.Task, a.Attempt, a.RunID, err)
	}
	return nil
}

// ListTasks implements Store. Attempts without a start time come last.
func (s *sqlStore) ListTasks(ctx context.Context, runID string) ([]TaskAttempt, error) {
	rows, err := s.query(ctx, `SELECT run_id, task, attempt, status, started_at, ended_at, error,
	rows_in, rows_loaded, rows_quarantined, rows_deduplicated, detail
FROM task_attempts WHERE run_id = ? ORDER BY started_at NULLS LAST, task, attempt`, runID)
	if err != nil {
		return nil, fmt.Errorf("list tasks of run %s: %w", runID, err)
	}
	defer rows.Close()
	var out []TaskAttempt
	for rows.Next() {
		var a TaskAttempt
		if err := rows.Scan(&a.RunID, &a.Task, &a.Attempt, &a.Status, scanTime(&a.StartedAt), scanTime(&a.EndedAt), &a.Error,
			&a.RowsIn, &a.RowsLoaded, &a.RowsQuarantined, &a.RowsDeduplicated, &a.Detail); err != nil {
			return nil, fmt.Errorf("list tasks of run %s: %w", runID, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list tasks of run %s: %w", runID, err)
	}
	return out, nil
}

// ObjectProcessed implements Store.
func (s *sqlStore) ObjectProcessed(ctx context.Context, pipeline string, obj ObjectRef) (bool, error) {
	var n int
	err := s.queryRow(ctx, (`SELECT COUNT(*) FROM objects WHERE pipeline = ? AND object_key = ? AND fingerprint = ?`),
		pipeline, obj.Key, obj.Fingerprint).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("look up object %q of pipeline %q: %w", obj.Key, pipeline, err)
	}
	return n > 0, nil
}

// MarkObjects implements Store.
func (s *sqlStore) MarkObjects(ctx context.Context, pipeline, runID string, objs []ObjectFile) error {
	if pipeline == "" {
		return fmt.Errorf("mark objects: %w: empty pipeline", ErrInvalid)
	}
	for _, o := range objs {
		if o.Key == "" {
			return fmt.Errorf("mark objects of pipeline %q: %w: an object has an empty key", pipeline, ErrInvalid)
		}
	}
	if len(objs) == 0 {
		return nil
	}
	now := time.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.d.rebind(`INSERT INTO objects (pipeline, object_key, fingerprint, size, run_id,
	processed_at, rows_in, rows_loaded, rows_quarantined)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (pipeline, object_key, fingerprint) DO UPDATE SET size = excluded.size, run_id = excluded.run_id,
	processed_at = excluded.processed_at, rows_in = excluded.rows_in, rows_loaded = excluded.rows_loaded,
	rows_quarantined = excluded.rows_quarantined`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, o := range objs {
			if o.RunID == "" {
				o.RunID = runID
			}
			if o.ProcessedAt.IsZero() {
				o.ProcessedAt = now
			}
			if _, err := stmt.ExecContext(ctx, pipeline, o.Key, o.Fingerprint, o.Size, o.RunID,
				s.d.timeArg(o.ProcessedAt), o.RowsIn, o.RowsLoaded, o.RowsQuarantined); err != nil {
				return fmt.Errorf("object %q: %w", o.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark %d objects of pipeline %q processed: %w", len(objs), pipeline, err)
	}
	return nil
}

// ListObjects implements Store.
func (s *sqlStore) ListObjects(ctx context.Context, pipeline string) ([]ObjectFile, error) {
	rows, err := s.query(ctx, `SELECT object_key, fingerprint, size, run_id, processed_at, rows_in, rows_loaded, rows_quarantined
FROM objects WHERE pipeline = ? ORDER BY object_key, fingerprint`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("list objects of pipeline %q: %w", pipeline, err)
	}
	defer rows.Close()
	var out []ObjectFile
	for rows.Next() {
		var o ObjectFile
		if err := rows.Scan(&o.Key, &o.Fingerprint, &o.Size, &o.RunID, scanTime(&o.ProcessedAt),
			&o.RowsIn, &o.RowsLoaded, &o.RowsQuarantined); err != nil {
			return nil, fmt.Errorf("list objects of pipeline %q: %w", pipeline, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list objects of pipeline %q: %w", pipeline, err)
	}
	return out, nil
}

// ForgetObjects implements Store.
func (s *sqlStore) ForgetObjects(ctx context.Context, pipeline string) error {
	if _, err := s.exec(ctx, `DELETE FROM objects WHERE pipeline = ?`, pipeline); err != nil {
		return fmt.Errorf("forget objects of pipeline %q: %w", pipeline, err)
	}
	return nil
}

// GetWatermark implements Store.
func (s *sqlStore) GetWatermark(ctx context.Context, pipeline, key string) (string, bool, error) {
	var v string
	err := s.queryRow(ctx, (`SELECT value FROM watermarks WHERE pipeline = ? AND wm_key = ?`), pipeline, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("get watermark %q of pipeline %q: %w", key, pipeline, err)
	}
	return v, true, nil
}

// SetWatermark implements Store.
func (s *sqlStore) SetWatermark(ctx context.Context, pipeline, key, value string) error {
	if pipeline == "" || key == "" {
		return fmt.Errorf("set watermark: %w: a watermark needs a pipeline and a key", ErrInvalid)
	}
	_, err := s.exec(ctx, `INSERT INTO watermarks (pipeline, wm_key, value, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (pipeline, wm_key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`,
		pipeline, key, value, s.d.timeArg(time.Now()))
	if err != nil {
		return fmt.Errorf("set watermark %q of pipeline %q: %w", key, pipeline, err)
	}
	return nil
}

// ClaimInterval implements Store.
func (s *sqlStore) ClaimInterval(ctx context.Context, c Claim) (bool, error) {
	won, err := s.ClaimIntervals(ctx, []Claim{c})
	if err != nil {
		return false, err
	}
	return won[0], nil
}

// ClaimIntervals implements Store.
func (s *sqlStore) ClaimIntervals(ctx context.Context, cs []Claim) ([]bool, error) {
	for _, c := range cs {
		if c.Pipeline == "" || c.LogicalDate.IsZero() || c.Owner == "" {
			return nil, fmt.Errorf("claim intervals: %w: a claim needs a pipeline, a logical date and an owner", ErrInvalid)
		}
	}
	out := make([]bool, len(cs))
	if len(cs) == 0 {
		return out, nil
	}
	now := time.Now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.d.rebind(`INSERT INTO schedule_claims (pipeline, logical_date, owner, run_id, status, trigger, claimed_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (pipeline, logical_date) DO NOTHING`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, c := range cs {
			if c.Status == "" {
				c.Status = StatusQueued
			}
			res, err := stmt.ExecContext(ctx, c.Pipeline, s.d.timeArg(c.LogicalDate), c.Owner, c.RunID, c.Status, c.Trigger, s.d.timeArg(now), s.d.timeArg(now))
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			out[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claim %d intervals: %w", len(cs), err)
	}
	return out, nil
}

const claimColumns = `pipeline, logical_date, owner, run_id, status, trigger, claimed_at, updated_at`

func scanClaim(row interface{ Scan(...any) error }) (Claim, error) {
	var c Claim
	err := row.Scan(&c.Pipeline, scanTime(&c.LogicalDate), &c.Owner, &c.RunID, &c.Status, &c.Trigger, scanTime(&c.ClaimedAt), scanTime(&c.UpdatedAt))
	return c, err
}

// GetClaim implements Store.
func (s *sqlStore) GetClaim(ctx context.Context, pipeline string, logicalDate time.Time) (Claim, bool, error) {
	c, err := scanClaim(s.queryRow(ctx, (`SELECT ` + claimColumns + ` FROM schedule_claims WHERE pipeline = ? AND logical_date = ?`),
		pipeline, s.d.timeArg(logicalDate)))
	if errors.Is(err, sql.ErrNoRows) {
		return Claim{}, false, nil
	}
	if err != nil {
		return Claim{}, false, fmt.Errorf("get claim of %s: %w", pipeline, err)
	}
	return c, true, nil
}

// UpdateClaim implements Store.
func (s *sqlStore) UpdateClaim(ctx context.Context, c Claim) error {
	res, err := s.exec(ctx, `UPDATE schedule_claims SET status = ?, run_id = ?, owner = ?, updated_at = ? WHERE pipeline = ? AND logical_date = ?`,
		c.Status, c.RunID, c.Owner, s.d.timeArg(time.Now()), c.Pipeline, s.d.timeArg(c.LogicalDate))
	if err != nil {
		return fmt.Errorf("update claim of %s: %w", c.Pipeline, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("update claim of %s at %s: %w", c.Pipeline, c.LogicalDate.Format(time.RFC3339), ErrNotFound)
	}
	return nil
}

// ListClaims implements Store.
func (s *sqlStore) ListClaims(ctx context.Context, pipeline string, statuses ...string) ([]Claim, error) {
	q := `SELECT ` + claimColumns + ` FROM schedule_claims WHERE 1 = 1`
	var args []any
	if pipeline != "" {
		q += ` AND pipeline = ?`
		args = append(args, pipeline)
	}
	if len(statuses) > 0 {
		q += ` AND status IN (?` + strings.Repeat(", ?", len(statuses)-1) + `)`
		for _, st := range statuses {
			args = append(args, st)
		}
	}
	q += ` ORDER BY logical_date, pipeline`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list claims: %w", err)
	}
	defer rows.Close()
	var out []Claim
	for rows.Next() {
		c, err := scanClaim(rows)
		if err != nil {
			return nil, fmt.Errorf("list claims: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// SetClaimStatus implements Store.
func (s *sqlStore) SetClaimStatus(ctx context.Context, pipeline string, logicalDate time.Time, status string) error {
	res, err := s.exec(ctx, `UPDATE schedule_claims SET status = ?, updated_at = ? WHERE pipeline = ? AND logical_date = ?`,
		status, s.d.timeArg(time.Now()), pipeline, s.d.timeArg(logicalDate))
	if err != nil {
		return fmt.Errorf("set claim status of %s: %w", pipeline, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("set claim status of %s at %s: %w", pipeline, logicalDate.Format(time.RFC3339), ErrNotFound)
	}
	return nil
}

// SetClaimStatuses implements Store.
func (s *sqlStore) SetClaimStatuses(ctx context.Context, cs []Claim) error {
	if len(cs) == 0 {
		return nil
	}
	now := s.d.timeArg(time.Now())
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, s.d.rebind(`UPDATE schedule_claims SET status = ?, updated_at = ?
WHERE pipeline = ? AND logical_date = ? AND owner = ?`))
		if err != nil {
			return err
		}
		defer stmt.Close()
		for _, c := range cs {
			if _, err := stmt.ExecContext(ctx, c.Status, now, c.Pipeline, s.d.timeArg(c.LogicalDate), c.Owner); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("set %d claim statuses: %w", len(cs), err)
	}
	return nil
}

// TakeClaim implements Store.
func (s *sqlStore) TakeClaim(ctx context.Context, seen Claim, owner string) (bool, error) {
	res, err := s.exec(ctx, `UPDATE schedule_claims SET owner = ?, status = 'running', updated_at = ?
WHERE pipeline = ? AND logical_date = ? AND owner = ? AND status = ? AND updated_at = ?`,
		owner, s.d.timeArg(time.Now()), seen.Pipeline, s.d.timeArg(seen.LogicalDate), seen.Owner, seen.Status, s.d.timeArg(seen.UpdatedAt))
	if err != nil {
		return false, fmt.Errorf("take claim of %s: %w", seen.Pipeline, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("take claim of %s: %w", seen.Pipeline, err)
	}
	return n == 1, nil
}

// Heartbeat implements Store.
func (s *sqlStore) Heartbeat(ctx context.Context, pipeline string, logicalDate time.Time, owner string) (bool, error) {
	res, err := s.exec(ctx, `UPDATE schedule_claims SET updated_at = ? WHERE pipeline = ? AND logical_date = ? AND owner = ? AND status = 'running'`,
		s.d.timeArg(time.Now()), pipeline, s.d.timeArg(logicalDate), owner)
	if err != nil {
		return false, fmt.Errorf("heartbeat of %s: %w", pipeline, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("heartbeat of %s: %w", pipeline, err)
	}
	return n == 1, nil
}

// LatestClaims implements Store.
func (s *sqlStore) LatestClaims(ctx context.Context) (map[string]time.Time, error) {
	rows, err := s.query(ctx, `SELECT pipeline, max(logical_date) FROM schedule_claims
WHERE trigger = 'scheduled' AND logical_date <= ? GROUP BY pipeline`, s.d.timeArg(time.Now()))
	if err != nil {
		return nil, fmt.Errorf("latest claims: %w", err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var name string
		var t time.Time
		if err := rows.Scan(&name, scanTime(&t)); err != nil {
			return nil, fmt.Errorf("latest claims: %w", err)
		}
		out[name] = t
	}
	return out, rows.Err()
}

// PausedPipelines implements Store.
func (s *sqlStore) PausedPipelines(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT pipeline FROM pipeline_state WHERE paused ORDER BY pipeline`)
	if err != nil {
		return nil, fmt.Errorf("paused pipelines: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, fmt.Errorf("paused pipelines: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// SetPaused implements Store.
func (s *sqlStore) SetPaused(ctx context.Context, pipeline string, paused bool) error {
	_, err := s.exec(ctx, `INSERT INTO pipeline_state (pipeline, paused, updated_at) VALUES (?, ?, ?)
ON CONFLICT (pipeline) DO UPDATE SET paused = excluded.paused, updated_at = excluded.updated_at`,
		pipeline, paused, s.d.timeArg(time.Now()))
	if err != nil {
		return fmt.Errorf("pause %s: %w", pipeline, err)
	}
	return nil
}

// Paused implements Store.
func (s *sqlStore) Paused(ctx context.Context, pipeline string) (bool, error) {
	var p bool
	err := s.queryRow(ctx, (`SELECT paused FROM pipeline_state WHERE pipeline = ?`), pipeline).Scan(&p)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("paused %s: %w", pipeline, err)
	}
	return p, nil
}

// SaveModel implements Store.
func (s *sqlStore) SaveModel(ctx context.Context, m HealingModel) (int, error) {
	var version int
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) + 1 FROM healing_models`).Scan(&version); err != nil {
			return err
		}
		if m.Active {
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE healing_models SET active = ? WHERE active = ?`), false, true); err != nil {
				return err
			}
		}
		created := m.CreatedAt
		if created.IsZero() {
			created = time.Now()
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO healing_models (version, created_at, metrics, model, active) VALUES (?, ?, ?, ?, ?)`),
			version, s.d.timeArg(created), m.Metrics, m.Model, m.Active)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("save model: %w", err)
	}
	return version, nil
}

// ActiveModel implements Store.
func (s *sqlStore) ActiveModel(ctx context.Context) (HealingModel, bool, error) {
	var m HealingModel
	err := s.queryRow(ctx, (`SELECT version, created_at, metrics, model, active FROM healing_models WHERE active = ?`), true).
		Scan(&m.Version, scanTime(&m.CreatedAt), &m.Metrics, &m.Model, &m.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return HealingModel{}, false, nil
	}
	if err != nil {
		return HealingModel{}, false, fmt.Errorf("active model: %w", err)
	}
	return m, true, nil
}

// GetModel implements Store.
func (s *sqlStore) GetModel(ctx context.Context, version int) (HealingModel, error) {
	var m HealingModel
	err := s.queryRow(ctx, (`SELECT version, created_at, metrics, model, active FROM healing_models WHERE version = ?`), version).
		Scan(&m.Version, scanTime(&m.CreatedAt), &m.Metrics, &m.Model, &m.Active)
	if errors.Is(err, sql.ErrNoRows) {
		return HealingModel{}, fmt.Errorf("model v%d: %w", version, ErrNotFound)
	}
	if err != nil {
		return HealingModel{}, fmt.Errorf("model v%d: %w", version, err)
	}
	return m, nil
}

// ListModels implements Store.
func (s *sqlStore) ListModels(ctx context.Context) ([]HealingModel, error) {
	rows, err := s.query(ctx, `SELECT version, created_at, metrics, active FROM healing_models ORDER BY version DESC`)
	if err != nil {
		return nil, fmt.Errorf("list models: %w", err)
	}
	defer rows.Close()
	var out []HealingModel
	for rows.Next() {
		var m HealingModel
		if err := rows.Scan(&m.Version, scanTime(&m.CreatedAt), &m.Metrics, &m.Active); err != nil {
			return nil, fmt.Errorf("list models: %w", err)
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddExample implements Store.
func (s *sqlStore) AddExample(ctx context.Context, example string) error {
	if _, err := s.exec(ctx, `INSERT INTO healing_examples (example, created_at) VALUES (?, ?)`, example, s.d.timeArg(time.Now())); err != nil {
		return fmt.Errorf("add example: %w", err)
	}
	return nil
}

// ListExamples implements Store.
func (s *sqlStore) ListExamples(ctx context.Context) ([]string, error) {
	rows, err := s.query(ctx, `SELECT example FROM healing_examples ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list examples: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var e string
		if err := rows.Scan(&e); err != nil {
			return nil, fmt.Errorf("list examples: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// RecordAction implements Store.
func (s *sqlStore) RecordAction(ctx context.Context, a HealingAction) (int64, error) {
	if a.RunID == "" || a.Strategy == "" || a.Status == "" {
		return 0, fmt.Errorf("record action: %w: an action needs a run, a strategy and a status", ErrInvalid)
	}
	if a.CreatedAt.IsZero() {
		a.CreatedAt = time.Now()
	}
	var id int64
	if a.Signature != "" && a.Status == "escalated" {
		// The same issue, still escalated: it counts there. The latest
		// run's wording and evidence replace the earlier.
		err := s.queryRow(ctx, `UPDATE healing_actions SET occurrences = occurrences + 1, last_seen_at = ?, issue = ?, reason = ?,
	rows_affected = ?, before = ?, confidence = ?, category = ?, decided_by = ?
WHERE id = (SELECT max(id) FROM healing_actions WHERE pipeline = ? AND signature = ? AND status = 'escalated') RETURNING id`,
			s.d.timeArg(a.CreatedAt), a.Issue, a.Reason, a.RowsAffected, a.Before, a.Confidence, a.Category, a.DecidedBy,
			a.Pipeline, a.Signature).Scan(&id)
		switch {
		case err == nil:
			return id, nil
		case !errors.Is(err, sql.ErrNoRows):
			return 0, fmt.Errorf("record action %s of run %s: %w", a.Strategy, a.RunID, err)
		}
	}
	err := s.queryRow(ctx, (`INSERT INTO healing_actions (run_id, pipeline, object_key, issue, category, confidence,
	decided_by, strategy, params, rows_affected, before, after, status, approved_by, reason, created_at, signature)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		a.RunID, a.Pipeline, a.ObjectKey, a.Issue, a.Category, a.Confidence, a.DecidedBy, a.Strategy, a.Params, a.RowsAffected,
		a.Before, a.After, a.Status, a.ApprovedBy, a.Reason, s.d.timeArg(a.CreatedAt), a.Signature).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("record action %s of run %s: %w", a.Strategy, a.RunID, err)
	}
	return id, nil
}

// CountActions counts the healing actions by pipeline, strategy and
// status, in one query.
func (s *sqlStore) CountActions(ctx context.Context) ([]ActionCount, error) {
	rows, err := s.query(ctx, `SELECT pipeline, strategy, status, COUNT(*) FROM healing_actions
	GROUP BY pipeline, strategy, status ORDER BY pipeline, strategy, status`)
	if err != nil {
		return nil, fmt.Errorf("count actions: %w", err)
	}
	defer rows.Close()
	var out []ActionCount
	for rows.Next() {
		var c ActionCount
		if err := rows.Scan(&c.Pipeline, &c.Strategy, &c.Status, &c.Count); err != nil {
			return nil, fmt.Errorf("count actions: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("count actions: %w", err)
	}
	return out, nil
}

// ListActions implements Store.
func (s *sqlStore) ListActions(ctx context.Context, f ActionFilter) ([]HealingAction, error) {
	q := `SELECT id, run_id, pipeline, object_key, issue, category, confidence, decided_by, strategy, params, rows_affected,
	before, after, status, approved_by, reason, created_at, signature, occurrences, last_seen_at FROM healing_actions WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"run_id", f.RunID}, {"pipeline", f.Pipeline}, {"status", f.Status}, {"category", f.Category}, {"strategy", f.Strategy}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	if f.BeforeID > 0 {
		q += ` AND id < ?`
		args = append(args, f.BeforeID)
	}
	q += ` ORDER BY id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list actions: %w", err)
	}
	defer rows.Close()
	var out []HealingAction
	for rows.Next() {
		var a HealingAction
		if err := rows.Scan(&a.ID, &a.RunID, &a.Pipeline, &a.ObjectKey, &a.Issue, &a.Category, &a.Confidence, &a.DecidedBy, &a.Strategy,
			&a.Params, &a.RowsAffected, &a.Before, &a.After, &a.Status, &a.ApprovedBy, &a.Reason, scanTime(&a.CreatedAt),
			&a.Signature, &a.Occurrences, scanTime(&a.LastSeenAt)); err != nil {
			return nil, fmt.Errorf("list actions: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// GetAction implements Store.
func (s *sqlStore) GetAction(ctx context.Context, id int64) (HealingAction, error) {
	var a HealingAction
	err := s.queryRow(ctx, (`SELECT id, run_id, pipeline, object_key, issue, category, confidence, decided_by, strategy,
	params, rows_affected, before, after, status, approved_by, reason, created_at, signature, occurrences, last_seen_at
	FROM healing_actions WHERE id = ?`), id).
		Scan(&a.ID, &a.RunID, &a.Pipeline, &a.ObjectKey, &a.Issue, &a.Category, &a.Confidence, &a.DecidedBy, &a.Strategy,
			&a.Params, &a.RowsAffected, &a.Before, &a.After, &a.Status, &a.ApprovedBy, &a.Reason, scanTime(&a.CreatedAt),
			&a.Signature, &a.Occurrences, scanTime(&a.LastSeenAt))
	if errors.Is(err, sql.ErrNoRows) {
		return HealingAction{}, fmt.Errorf("healing action %d: %w", id, ErrNotFound)
	}
	if err != nil {
		return HealingAction{}, fmt.Errorf("get healing action %d: %w", id, err)
	}
	return a, nil
}

// DecideAction implements Store.
func (s *sqlStore) DecideAction(ctx context.Context, id int64, status, by, reason string) error {
	if status != "approved" && status != "rejected" {
		return fmt.Errorf("decide action %d: %w: status must be approved or rejected", id, ErrInvalid)
	}
	// A proposal can be approved or rejected; a rejection can still be
	// approved (a person changed their mind).
	res, err := s.exec(ctx, `UPDATE healing_actions SET status = ?, approved_by = ?, reason = reason || ? WHERE id = ? AND (status = 'proposed' OR (status = 'rejected' AND ? = 'approved'))`,
		status, by, "; "+status+" by "+by+": "+reason, id, status)
	if err != nil {
		return fmt.Errorf("decide action %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if _, gerr := s.GetAction(ctx, id); gerr != nil {
			return gerr
		}
		return fmt.Errorf("decide action %d: %w: only a proposed action can be approved or rejected (or a rejected one approved)", id, ErrInvalid)
	}
	return nil
}

// RevertAction implements Store.
func (s *sqlStore) RevertAction(ctx context.Context, id int64, by, reason string) error {
	res, err := s.exec(ctx, `UPDATE healing_actions SET status = 'reverted', reason = reason || ? WHERE id = ? AND status = 'applied'`,
		"; reverted by "+by+": "+reason, id)
	if err != nil {
		return fmt.Errorf("revert action %d: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		if _, gerr := s.GetAction(ctx, id); gerr != nil {
			return gerr
		}
		return fmt.Errorf("revert action %d: %w: only an applied action can be reverted", id, ErrInvalid)
	}
	return nil
}

// RecordLineage implements Store.
func (s *sqlStore) RecordLineage(ctx context.Context, e LineageEvent) error {
	if e.RunID == "" || e.Job == "" || e.EventType == "" {
		return fmt.Errorf("record lineage: %w: an event needs a run, a job and a type", ErrInvalid)
	}
	_, err := s.exec(ctx, `INSERT INTO lineage_events (run_id, job, event_type, event_time, payload) VALUES (?, ?, ?, ?, ?)`,
		e.RunID, e.Job, e.EventType, s.d.timeArg(e.EventTime), e.Payload)
	if err != nil {
		return fmt.Errorf("record lineage event %s of run %s: %w", e.EventType, e.RunID, err)
	}
	return nil
}

// ListLineage implements Store.
func (s *sqlStore) ListLineage(ctx context.Context, job string, limit int) ([]LineageEvent, error) {
	q := `SELECT run_id, job, event_type, event_time, payload FROM lineage_events`
	var args []any
	if job != "" {
		q += ` WHERE job = ?`
		args = append(args, job)
	}
	q += ` ORDER BY id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list lineage: %w", err)
	}
	defer rows.Close()
	var out []LineageEvent
	for rows.Next() {
		var e LineageEvent
		if err := rows.Scan(&e.RunID, &e.Job, &e.EventType, scanTime(&e.EventTime), &e.Payload); err != nil {
			return nil, fmt.Errorf("list lineage: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list lineage: %w", err)
	}
	return out, nil
}

// Close implements Store.
func (s *sqlStore) Close() error {
	s.stmts.Range(func(_, st any) bool {
		_ = st.(*sql.Stmt).Close()
		return true
	})
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close %s metadata store: %w", s.d.name, err)
	}
	return nil
}
