package postgres

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// release forgets staging tables: no run uses them any more.
func (w *Warehouse) release(tables ...string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range tables {
		delete(w.live, t)
	}
}

// LoadedObjects reads the load ledger of a pipeline, in commit order.
func (w *Warehouse) LoadedObjects(ctx context.Context, pipeline string) ([]warehouse.LoadedObject, error) {
	rows, err := w.pool.Query(ctx, `SELECT object_key, fingerprint, run_id, coalesce(content_hash, '') FROM `+w.ledger()+
		` WHERE pipeline = $1 ORDER BY id`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("postgres: read load ledger of %s: %w", pipeline, err)
	}
	defer rows.Close()
	var out []warehouse.LoadedObject
	for rows.Next() {
		var o warehouse.LoadedObject
		if err := rows.Scan(&o.Key, &o.Fingerprint, &o.RunID, &o.ContentHash); err != nil {
			return nil, fmt.Errorf("postgres: read load ledger of %s: %w", pipeline, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read load ledger of %s: %w", pipeline, err)
	}
	return out, nil
}

// stagingName reads a staging table's instance from its name,
// stage_<instance>_<n>[_q].
func stagingInstance(name string) (uint32, bool) {
	rest, ok := strings.CutPrefix(name, "stage_")
	if !ok || len(rest) < 9 || rest[8] != '_' {
		return 0, false
	}
	v, err := strconv.ParseUint(rest[:8], 16, 32)
	if err != nil {
		return 0, false
	}
	return uint32(v), true
}

// DropStaging drops staging tables that no run uses: this process's that
// no Commit, Discard or SetAside has released yet are kept; those of a
// process that is gone (its instance lock is free) are dropped.
func (w *Warehouse) DropStaging(ctx context.Context) error {
	rows, err := w.pool.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relkind = 'r' AND c.relname LIKE 'stage\_%'`, w.internal)
	if err != nil {
		return fmt.Errorf("postgres: list staging tables: %w", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("postgres: list staging tables: %w", err)
	}
	dead := map[uint32]bool{}
	for _, n := range names {
		inst, ok := stagingInstance(n)
		if !ok {
			continue
		}
		if inst == w.instance {
			w.mu.Lock()
			live := w.live[n]
			w.mu.Unlock()
			if live {
				continue
			}
		} else {
			gone, seen := dead[inst]
			if !seen {
				// The lock is free only when its process is gone; take it
				// for a moment to be sure no one starts using it meanwhile.
				var got bool
				if err := w.lockConn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1, $2)", stagingLockClass, int32(inst)).Scan(&got); err != nil {
					return fmt.Errorf("postgres: check the staging lock of %s: %w", n, err)
				}
				if got {
					_, _ = w.lockConn.Exec(ctx, "SELECT pg_advisory_unlock($1, $2)", stagingLockClass, int32(inst))
				}
				dead[inst], gone = got, got
			}
			if !gone {
				continue
			}
		}
		if _, err := w.pool.Exec(ctx, "DROP TABLE IF EXISTS "+w.staging(n)); err != nil {
			return fmt.Errorf("postgres: drop staging table %s: %w", n, err)
		}
	}
	return nil
}

// Discard drops a staged object's tables without committing them.
func (w *Warehouse) Discard(ctx context.Context, st *warehouse.Staged) error {
	defer w.release(st.Table, st.Table+"_q")
	w.dropPending(ctx, st.Table)
	for _, t := range []string{st.Table, st.Table + "_q"} {
		if _, err := w.pool.Exec(ctx, "DROP TABLE IF EXISTS "+w.staging(t)); err != nil {
			return fmt.Errorf("postgres: discard staging of %s: %w", st.ObjectKey, err)
		}
	}
	return nil
}

// stagedLine reports whether a staging table keeps each row's line.
func (w *Warehouse) stagedLine(ctx context.Context, table string) (bool, error) {
	cols, err := tableColumns(ctx, w.pool, w.internal, table)
	if err != nil {
		return false, err
	}
	i := findCol(cols, lineCol)
	return i >= 0 && cols[i].name == lineCol, nil
}

// QuarantineWhere moves the staged rows for which pred holds ($1, $2 ...
// for args) to the object's quarantine, with the reason and the row as
// JSON, and updates the object's counts.
func (w *Warehouse) QuarantineWhere(ctx context.Context, st *warehouse.Staged, pred string, args []any, reason string) (int64, error) {
	hasLine, err := w.stagedLine(ctx, st.Table)
	if err != nil {
		return 0, fmt.Errorf("postgres: quarantine rows of %s: %w", st.ObjectKey, err)
	}
	line := "NULL::bigint"
	if hasLine {
		line = ident(lineCol)
	}
	cols := make([]string, len(st.Columns))
	for i, c := range st.Columns {
		cols[i] = ident(c.Name)
	}
	tag, err := w.pool.Exec(ctx, fmt.Sprintf(`WITH moved AS (DELETE FROM %s WHERE %s RETURNING *)
		INSERT INTO %s (line, reason, raw) SELECT %s, %s, (SELECT row_to_json(r)::text FROM (SELECT %s) r) FROM moved ORDER BY %s`,
		w.staging(st.Table), pred, w.staging(st.Table+"_q"), line, literal(reason), strings.Join(cols, ", "), ident(rowCol)), args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: quarantine rows of %s: %w", st.ObjectKey, err)
	}
	n := tag.RowsAffected()
	st.Loaded -= n
	st.Quarantined += n
	return n, nil
}

var _ warehouse.Inspector = (*Warehouse)(nil)

// Rejects groups a staged object's set-aside rows by problem and column.
func (w *Warehouse) Rejects(ctx context.Context, st *warehouse.Staged) ([]warehouse.Reject, error) {
	out, err := sqlplan.Rejects(ctx, queries{w}, pg, w.staging(st.Table+"_q"))
	if err != nil {
		return nil, fmt.Errorf("postgres: group rejected rows of %s: %w", st.ObjectKey, err)
	}
	return out, nil
}

// rejectedScanLimit bounds the set-aside rows RejectedValues reads.
const rejectedScanLimit = 100000

// RejectedValues returns up to limit distinct values of column among the
// rows set aside because it did not convert, in order: from the row's
// JSON when the raw text is JSON, else from the reason, which quotes it.
func (w *Warehouse) RejectedValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]string, error) {
	quoted := regexp.QuoteMeta(column)
	csvMsg := regexp.MustCompile(`CAST \(column ` + quoted + `\): Error when converting column "` + quoted + `"\. Could not convert string "(.*?)" to '`)
	rows, err := w.pool.Query(ctx, `SELECT coalesce(raw, ''), reason FROM `+w.staging(st.Table+"_q")+
		` WHERE strpos(reason, $1) > 0 LIMIT `+strconv.Itoa(rejectedScanLimit), "CAST (column "+column+")")
	if err != nil {
		return nil, fmt.Errorf("postgres: rejected values of %s in %s: %w", column, st.ObjectKey, err)
	}
	defer rows.Close()
	seen := map[string]bool{}
	for rows.Next() {
		var raw, reason string
		if err := rows.Scan(&raw, &reason); err != nil {
			return nil, fmt.Errorf("postgres: rejected values of %s in %s: %w", column, st.ObjectKey, err)
		}
		v, ok := "", false
		if strings.HasPrefix(raw, "{") && json.Valid([]byte(raw)) {
			var m map[string]any
			if json.Unmarshal([]byte(raw), &m) == nil {
				switch x := m[column].(type) {
				case string:
					v, ok = x, true
				case nil:
				default:
					b, _ := json.Marshal(x)
					v, ok = string(b), true
				}
			}
		} else if m := csvMsg.FindStringSubmatch(reason); m != nil {
			v, ok = m[1], true
		}
		if ok && v != "" {
			seen[v] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: rejected values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Strings(out)
	if len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// RepeatedRows counts the staged rows that the target already holds,
// each as often as it holds it (the columns both have compared).
func (w *Warehouse) RepeatedRows(ctx context.Context, st *warehouse.Staged, target string) (int64, error) {
	tcols, err := tableColumns(ctx, w.pool, w.schema, target)
	if err != nil || len(tcols) == 0 {
		return 0, err
	}
	var sel, tsel []string
	for _, c := range st.Columns {
		i := findCol(tcols, c.Name)
		if i < 0 {
			continue
		}
		expr, texpr := ident(c.Name)+"::"+tcols[i].sqlType, ident(tcols[i].name)
		if tcols[i].t.kind == kJSON {
			expr, texpr = ident(c.Name)+"::text", ident(tcols[i].name)+"::text"
		}
		sel = append(sel, expr)
		tsel = append(tsel, texpr)
	}
	if len(sel) == 0 {
		return 0, nil
	}
	var n int64
	if err := w.pool.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s INTERSECT ALL SELECT %s FROM %s) x",
		strings.Join(sel, ", "), w.staging(st.Table), strings.Join(tsel, ", "), w.target(target))).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: rows of %s already in %s: %w", st.ObjectKey, target, err)
	}
	return n, nil
}

// SetAside keeps the rows staging set aside from objects a run will not
// commit, with the run id, in the set-aside table.
func (w *Warehouse) SetAside(ctx context.Context, runID, pipeline string, objects []*warehouse.Staged) (int64, error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var total int64
	for _, o := range objects {
		var exists bool
		if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", w.staging(o.Table+"_q")).Scan(&exists); err != nil || !exists {
			continue // dropped already: nothing to keep
		}
		tag, err := tx.Exec(ctx, `INSERT INTO `+w.setAsideTable()+` (run_id, pipeline, source_object, line, reason, raw)
			SELECT $1, $2, $3, line, reason, raw FROM `+w.staging(o.Table+"_q")+` ORDER BY line`, runID, pipeline, o.ObjectKey)
		if err != nil {
			return 0, fmt.Errorf("postgres: keep the rows set aside from %s: %w", o.ObjectKey, err)
		}
		total += tag.RowsAffected()
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, fmt.Errorf("postgres: keep the rows set aside by run %s: %w", runID, err)
	}
	for _, o := range objects {
		w.dropPending(ctx, o.Table)
		w.release(o.Table, o.Table+"_q")
	}
	w.mu.Lock()
	delete(w.marks, runID) // the run will not commit
	w.mu.Unlock()
	return total, nil
}

// overlap bounds, as in the DuckDB warehouse.
const (
	overlapFileValues = 1000
	overlapTargetRows = 100000
)

// Overlap is the share of the distinct values of the file's column that
// the target's column holds among its most recent rows.
func (w *Warehouse) Overlap(ctx context.Context, spec warehouse.LoadSpec, fileColumn, targetColumn string) (float64, error) {
	tcols, err := tableColumns(ctx, w.pool, w.schema, spec.Target)
	if err != nil {
		return -1, err
	}
	ti := findCol(tcols, targetColumn)
	if ti < 0 {
		return -1, nil
	}
	col := ident(tcols[ti].name)
	var filled bool
	if err := w.pool.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NOT NULL)", w.target(spec.Target), col)).Scan(&filled); err != nil || !filled {
		return -1, err
	}
	values, err := fileValues(spec, fileColumn, overlapFileValues)
	if err != nil || len(values) == 0 {
		// A file that cannot be read this way has no measurable overlap.
		return 0, nil
	}
	rows, err := w.pool.Query(ctx, fmt.Sprintf(`SELECT DISTINCT trim(v::text) FROM (SELECT %s AS v FROM %s ORDER BY ctid DESC LIMIT %d) t WHERE v IS NOT NULL`,
		col, w.target(spec.Target), overlapTargetRows))
	if err != nil {
		return 0, nil
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return 0, nil
	}
	in := make(map[string]bool, len(have))
	for _, h := range have {
		in[h] = true
	}
	n := 0
	for _, v := range values {
		if in[v] {
			n++
		}
	}
	return float64(n) / float64(len(values)), nil
}

// fileValues reads up to limit distinct non-empty values (trimmed) of a
// column of the staged file.
func fileValues(spec warehouse.LoadSpec, column string, limit int) ([]string, error) {
	s := &stager{spec: spec}
	vals := sqlplan.NewValueSample(limit)
	add := vals.Add
	switch spec.Format {
	case format.CSV:
		if err := s.resolveDialect(nil); err != nil {
			return nil, err
		}
		d, err := s.dialect()
		if err != nil {
			return nil, err
		}
		r, err := s.open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		cr := newCSVReader(r, d.Delimiter, d.Quote)
		idx, header := -1, 0
		if spec.CSV.NoHeader {
			return nil, nil
		}
		for {
			rec, err := cr.next()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, err
			}
			if idx < 0 {
				for i, f := range rec.fields {
					if strings.TrimSpace(string(f)) == column {
						idx = i
					}
				}
				if idx < 0 {
					return nil, nil
				}
				header = len(rec.fields)
				continue
			}
			// as DuckDB reads it there: bad lines ignored, short ones padded
			if rec.problem != nil || len(rec.fields) > header || len(rec.badFields) > 0 {
				continue
			}
			if idx < len(rec.fields) && !add(str(rec.fields[idx])) {
				break
			}
		}
	case format.JSON, format.JSONL:
		r, err := s.open()
		if err != nil {
			return nil, err
		}
		defer r.Close()
		stop := errors.New("enough")
		var members []jsonMember
		_, _, err = format.NormalizeJSON(r, recordFunc(func(rec []byte) error {
			members, err = splitObject(rec, members[:0])
			if err != nil {
				return nil
			}
			for _, m := range members {
				if m.key == column {
					if t, ok := jsonText(m); ok && !add(t) {
						return stop
					}
				}
			}
			return nil
		}), spec.Format == format.JSONL, func(int64, []byte, string) error { return nil })
		if err != nil && !errors.Is(err, stop) {
			return nil, err
		}
	case format.Parquet:
		err := parquetValues(spec.Path, column, add)
		if err != nil {
			return nil, err
		}
	}
	return vals.Values, nil
}

// recordFunc is an io.Writer that receives format.NormalizeJSON's records,
// one per Write.
type recordFunc func(rec []byte) error

// Write passes one record on.
func (f recordFunc) Write(p []byte) (int, error) {
	if err := f(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// RunQuery runs SQL where the staging tables are visible (they are on
// every connection's search path).
func (w *Warehouse) RunQuery(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	rows, err := w.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: query: %w", err)
	}
	return sqlRows{rows}, nil
}

// sqlRows are database/sql rows as warehouse.Rows.
type sqlRows struct{ *sql.Rows }

// ColumnTypes names the columns' types as the warehouse's engine types
// (BIGINT, DOUBLE PRECISION, DECIMAL(p,s), VARCHAR, TIMESTAMPTZ ...).
func (r sqlRows) ColumnTypes() ([]warehouse.Column, error) {
	types, err := r.Rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	out := make([]warehouse.Column, len(types))
	for i, t := range types {
		name := t.DatabaseTypeName()
		switch name {
		case "INT8":
			name = "BIGINT"
		case "INT4":
			name = "INTEGER"
		case "INT2":
			name = "SMALLINT"
		case "FLOAT8":
			name = "DOUBLE PRECISION"
		case "FLOAT4":
			name = "REAL"
		case "BOOL":
			name = "BOOLEAN"
		case "TEXT", "VARCHAR", "BPCHAR", "NAME":
			name = "VARCHAR"
		case "NUMERIC":
			if p, s, ok := t.DecimalSize(); ok && p > 0 {
				name = fmt.Sprintf("DECIMAL(%d,%d)", p, s)
			}
		}
		out[i] = warehouse.Column{Name: t.Name(), Type: name}
	}
	return out, nil
}

// BatchMetrics counts a staged object's rows and each column's non-NULL
// values, and reads the event-time column's maximum, in one scan.
func (w *Warehouse) BatchMetrics(ctx context.Context, st *warehouse.Staged, eventTime string) (*warehouse.Metrics, error) {
	m, err := sqlplan.Measure(ctx, queries{w}, pg, w.staging(st.Table), st.Columns, eventTime)
	if err != nil {
		return nil, fmt.Errorf("postgres: measure the rows of %s: %w", st.ObjectKey, err)
	}
	return m, nil
}

// TargetSchema describes a target table's columns (its name matched
// ignoring case) in shp's schema types.
func (w *Warehouse) TargetSchema(ctx context.Context, table string) (schema.Schema, error) {
	var name string
	err := w.pool.QueryRow(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND lower(c.relname) = lower($2) AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY c.relname = $2 DESC LIMIT 1`,
		w.schema, table).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: describe %s: %w", table, err)
	}
	cols, err := tableColumns(ctx, w.pool, w.schema, name)
	if err != nil {
		return nil, fmt.Errorf("postgres: describe %s: %w", table, err)
	}
	var out schema.Schema
	for _, c := range cols {
		f := schema.Field{Name: c.name, Type: SchemaType(c.t.name), Mode: schema.ModeNullable}
		if c.notNull {
			f.Mode = schema.ModeRequired
		}
		if c.t.kind == kDecimal {
			f.Precision, f.Scale = c.t.prec, c.t.scale
		}
		out = append(out, f)
	}
	return out, nil
}

// QuarantinedRows reads a run's set-aside rows: those it committed, from
// the target's quarantine table, or when target is "" those SetAside
// kept.
func (w *Warehouse) QuarantinedRows(ctx context.Context, runID, target string) (warehouse.Rows, error) {
	q := "SELECT source_object, line, reason, raw, 'not committed' AS state FROM " + w.setAsideTable() + " WHERE run_id = $1"
	if target != "" {
		q = "SELECT source_object, line, reason, raw, 'committed' AS state FROM " +
			w.target(target+warehouse.QuarantineSuffix) + " WHERE run_id = $1"
	}
	return w.RunQuery(ctx, q+" ORDER BY source_object, line", runID)
}
