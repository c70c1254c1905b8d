package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// The self-healing engine's repairs, compiled to PostgreSQL: plans arrive
// as data (warehouse.RepairOp, warehouse.Predicate) and every statement
// that reads or changes rows for them is written here. A value a plan
// compares or writes is converted in Go by the column's cast (as DuckDB's
// TRY_CAST reads it) and bound in PostgreSQL's own notation: a value the
// column cannot hold matches nothing, and is refused as a new value.

var _ warehouse.Repairer = (*Warehouse)(nil)

// pendingRewrite is a rewrite applied to a staging table whose original
// values wait, in a table of their own, for KeepRepair or UndoRepair.
type pendingRewrite struct {
	staged string // the staging table
	table  string // the table of (shp_rid, shp_old)
	column string // the column, as the plan names it
}

// leaf is PostgreSQL's part of the shared compiler (package sqlplan): a
// plan's value is converted in Go (pgValue) and bound in the column's
// notation, so that a value the column cannot hold is known at once.
type leaf struct{ quality.Dialect }

// pg is PostgreSQL's leaf.
var pg sqlplan.Leaf = leaf{quality.Postgres}

// Value implements sqlplan.Leaf with pgValue.
func (leaf) Value(c warehouse.Column, v any) (string, any, bool) {
	s, ok := pgValue(c.Type, v)
	if !ok {
		return "", nil, false
	}
	return "?::" + c.Type, s, true
}

// RowID implements sqlplan.Leaf: the staged row's position.
func (leaf) RowID() string { return ident(rowCol) }

// PartitionKey implements sqlplan.Leaf: every type partitions.
func (leaf) PartitionKey(_ warehouse.Column, quoted string) string { return quoted }

// RowJSON implements sqlplan.Leaf with rowJSON.
func (leaf) RowJSON(alias string, cols []warehouse.Column) string { return rowJSON(alias, cols) }

// Matches implements sqlplan.Leaf with regexp_matches.
func (leaf) Matches(table, column, pattern string) string {
	return "(SELECT (regexp_matches(" + column + ", " + pattern + ", 'g'))[1] AS c FROM " + table + ") x"
}

// ByteOrder implements sqlplan.Leaf: the C collation.
func (leaf) ByteOrder(expr string) string { return expr + ` COLLATE "C"` }

// queries runs the shared steps' queries: a row on the pool, rows on
// database/sql (whose values a preview's samples are).
type queries struct{ w *Warehouse }

// QueryRow implements sqlplan.Querier.
func (q queries) QueryRow(ctx context.Context, sql string, args ...any) sqlplan.Row {
	return q.w.pool.QueryRow(ctx, sql, args...)
}

// Query implements sqlplan.Querier.
func (q queries) Query(ctx context.Context, sql string, args ...any) (sqlplan.Rows, func(), error) {
	return sqlplan.DB(q.w.db).Query(ctx, sql, args...)
}

// valueText is a plan's value as text, for the column's cast.
func valueText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case []byte:
		return string(x), true
	case bool:
		return strconv.FormatBool(x), true
	case int:
		return strconv.Itoa(x), true
	case int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case json.Number:
		return string(x), true
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999Z07:00"), true
	case fmt.Stringer:
		return x.String(), true
	}
	return fmt.Sprint(v), true
}

// pgValue converts a plan's value to the column's type as DuckDB's
// TRY_CAST does, and writes it as PostgreSQL reads a literal of the type;
// false when it does not convert.
func pgValue(typ string, v any) (string, bool) {
	s, ok := valueText(v)
	if !ok {
		return "", false
	}
	t := parseType(typ)
	var x val
	var arena []byte
	if ok, _ := tryCast(t, s, &x, &arena); !ok {
		return "", false
	}
	return string(pgLiteral(nil, t, &x)), true
}

// pgLiteral writes a converted value in PostgreSQL's input notation.
func pgLiteral(dst []byte, t colType, v *val) []byte {
	switch t.kind {
	case kInt16, kInt32, kInt64:
		return strconv.AppendInt(dst, v.i, 10)
	case kFloat32, kFloat64:
		switch {
		case math.IsNaN(v.f):
			return append(dst, "NaN"...)
		case math.IsInf(v.f, 1):
			return append(dst, "Infinity"...)
		case math.IsInf(v.f, -1):
			return append(dst, "-Infinity"...)
		}
		return strconv.AppendFloat(dst, v.f, 'g', -1, 64)
	case kDecimal, kNumeric:
		return appendDecimalText(dst, v.neg, v.dig, v.scale)
	case kBool:
		return strconv.AppendBool(dst, v.b)
	case kDate:
		d, bc := appendDatePart(dst, v.i)
		if bc {
			d = append(d, " BC"...)
		}
		return d
	case kTimestamp, kTimestamptz:
		switch v.i {
		case tsInfinity:
			return append(dst, "infinity"...)
		case tsNegInfinity:
			return append(dst, "-infinity"...)
		}
		days := floorDiv(v.i, microsPerDay)
		d, bc := appendDatePart(dst, days)
		d = append(d, ' ')
		d = appendDuckTime(d, v.i-days*microsPerDay)
		if t.kind == kTimestamptz {
			d = append(d, "+00"...)
		}
		if bc {
			d = append(d, " BC"...)
		}
		return d
	case kTime:
		return appendDuckTime(dst, v.i)
	case kBytes:
		dst = append(dst, `\x`...)
		return hex.AppendEncode(dst, []byte(v.s))
	}
	return append(dst, v.s...)
}

// rowJSON renders a row over cols as JSON text; alias qualifies the
// columns when not "".
func rowJSON(alias string, cols []warehouse.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		ref := ident(c.Name)
		if alias != "" {
			ref = alias + "." + ref
		}
		parts[i] = ref + " AS " + ident(c.Name)
	}
	return "(SELECT row_to_json(shp_r)::text FROM (SELECT " + strings.Join(parts, ", ") + ") shp_r)"
}

// objectColumns are a staging table's columns without shp's own.
func (w *Warehouse) objectColumns(ctx context.Context, st *warehouse.Staged) ([]warehouse.Column, error) {
	tc, err := tableColumns(ctx, w.pool, w.internal, st.Table)
	if err != nil {
		return nil, err
	}
	if len(tc) == 0 {
		return nil, fmt.Errorf("the staging of %s is gone", st.ObjectKey)
	}
	var out []warehouse.Column
	for _, c := range tc {
		if c.name != rowCol && c.name != lineCol {
			out = append(out, warehouse.Column{Name: c.name, Type: c.sqlType})
		}
	}
	return out, nil
}

// compile compiles op against a staged object.
func (w *Warehouse) compile(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp) (*sqlplan.Op, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, err
	}
	return sqlplan.Compile(pg, op, w.staging(st.Table), cols)
}

// CountRows implements warehouse.Prober.
func (w *Warehouse) CountRows(ctx context.Context, st *warehouse.Staged, where warehouse.Predicate) (int64, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return 0, fmt.Errorf("postgres: count rows of %s: %w", st.ObjectKey, err)
	}
	pred, err := sqlplan.Predicate(pg, where, cols)
	if err != nil {
		return 0, fmt.Errorf("postgres: count rows of %s: %w", st.ObjectKey, err)
	}
	q := sqlplan.Count(w.staging(st.Table), pred)
	var n int64
	if err := w.pool.QueryRow(ctx, sqlplan.Bind(pg, q.SQL), q.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("postgres: count rows of %s: %w", st.ObjectKey, err)
	}
	return n, nil
}

// DistinctValues implements warehouse.Prober: values as PostgreSQL
// writes them, most frequent first, then in byte order.
func (w *Warehouse) DistinctValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]warehouse.ValueCount, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("postgres: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	c, err := sqlplan.FindColumn(cols, column)
	if err != nil {
		return nil, fmt.Errorf("postgres: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out, err := sqlplan.DistinctValues(ctx, queries{w}, pg, w.staging(st.Table), c, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	return out, nil
}

// PreviewRepair implements warehouse.Prober.
func (w *Warehouse) PreviewRepair(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp, sample int) (*warehouse.RepairPreview, error) {
	c, err := w.compile(ctx, st, op)
	if err != nil {
		return nil, fmt.Errorf("postgres: plan a repair of %s: %w", st.ObjectKey, err)
	}
	p, err := sqlplan.Preview(ctx, queries{w}, pg, w.staging(st.Table), c, sample)
	if err != nil {
		return nil, fmt.Errorf("postgres: preview a repair of %s: %w", st.ObjectKey, err)
	}
	return p, nil
}

// ApplyRepair implements warehouse.Repairer. A rewrite's original values
// wait in a table named after the staging table, so that DropStaging
// finds it too, for KeepRepair or UndoRepair.
func (w *Warehouse) ApplyRepair(ctx context.Context, st *warehouse.Staged, plan warehouse.RepairPlan) (warehouse.RepairResult, error) {
	c, err := w.compile(ctx, st, plan.Op)
	if err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("postgres: repair %s: %w", st.ObjectKey, err)
	}
	if reason := plan.Op.SetAsideReason(); reason != "" {
		n, err := w.QuarantineWhere(ctx, st, sqlplan.Bind(pg, c.Where.SQL), c.Where.Args, reason)
		return warehouse.RepairResult{Rows: n}, err
	}
	column := plan.Op.Rewritten()
	if plan.Token == "" {
		return warehouse.RepairResult{}, fmt.Errorf("postgres: rewrite %s of %s: no token to keep the original values under", column, st.ObjectKey)
	}
	w.mu.Lock()
	if w.pending == nil {
		w.pending = map[string]pendingRewrite{}
	}
	_, dup := w.pending[plan.Token]
	orig := fmt.Sprintf("%s_orig_%d", st.Table, w.seq.Add(1))
	if !dup {
		w.pending[plan.Token] = pendingRewrite{staged: st.Table, table: orig, column: column}
		w.live[orig] = true
	}
	w.mu.Unlock()
	if dup {
		return warehouse.RepairResult{}, fmt.Errorf("postgres: rewrite %s of %s: token %q is in use", column, st.ObjectKey, plan.Token)
	}
	table := w.staging(st.Table)
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		w.forget(ctx, plan.Token)
		return warehouse.RepairResult{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	save := sqlplan.SaveOriginals(pg, table, c)
	if _, err := tx.Exec(ctx, "CREATE UNLOGGED TABLE "+w.staging(orig)+" AS "+sqlplan.Bind(pg, save.SQL), save.Args...); err != nil {
		w.forget(ctx, plan.Token)
		return warehouse.RepairResult{}, fmt.Errorf("postgres: keep the original values of %s: %w", column, err)
	}
	rewrite := sqlplan.Rewrite(pg, table, w.staging(orig), c)
	tag, err := tx.Exec(ctx, sqlplan.Bind(pg, rewrite.SQL), rewrite.Args...)
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		w.forget(ctx, plan.Token)
		return warehouse.RepairResult{}, fmt.Errorf("postgres: rewrite %s: %w", column, err)
	}
	return warehouse.RepairResult{Rows: tag.RowsAffected()}, nil
}

// pendingOf finds the applied rewrite of st under token.
func (w *Warehouse) pendingOf(st *warehouse.Staged, token string) (pendingRewrite, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, ok := w.pending[token]
	if !ok || p.staged != st.Table {
		return p, fmt.Errorf("no rewrite of %s applied under %q", st.ObjectKey, token)
	}
	return p, nil
}

// forget drops a pending rewrite's originals.
func (w *Warehouse) forget(ctx context.Context, token string) {
	w.mu.Lock()
	p, ok := w.pending[token]
	delete(w.pending, token)
	w.mu.Unlock()
	if ok {
		_, _ = w.pool.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+w.staging(p.table))
		w.release(p.table)
	}
}

// dropPending forgets the pending rewrites of a staging table that is
// dropped.
func (w *Warehouse) dropPending(ctx context.Context, staged string) {
	w.mu.Lock()
	var tokens []string
	for token, p := range w.pending {
		if p.staged == staged {
			tokens = append(tokens, token)
		}
	}
	w.mu.Unlock()
	for _, t := range tokens {
		w.forget(ctx, t)
	}
}

// healing tables: kept repairs, for their revert after the commit.
func (w *Warehouse) originalsTable() string { return qualified(w.internal, "healing_originals") }
func (w *Warehouse) rescuedTable() string   { return qualified(w.internal, "healing_rescued") }

// KeepRepair implements warehouse.Repairer: the original values, with
// each repaired row as JSON (which finds the row in the target later),
// are kept in the internal schema's healing_originals.
func (w *Warehouse) KeepRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("postgres: keep the original values: %w", err)
	}
	defer w.forget(ctx, token)
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+w.originalsTable()+
		" (token TEXT NOT NULL, column_name TEXT NOT NULL, old_value TEXT, repaired_row TEXT NOT NULL)"); err != nil {
		return fmt.Errorf("postgres: keep the original values: %w", err)
	}
	if _, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.KeepOriginals(pg, w.originalsTable(), w.staging(st.Table), w.staging(p.table), st.Columns)), token, p.column); err != nil {
		return fmt.Errorf("postgres: keep the original values: %w", err)
	}
	return tx.Commit(ctx)
}

// UndoRepair implements warehouse.Repairer.
func (w *Warehouse) UndoRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("postgres: roll back: %w", err)
	}
	defer w.forget(ctx, token)
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return fmt.Errorf("postgres: roll back %s: %w", p.column, err)
	}
	c, err := sqlplan.FindColumn(cols, p.column)
	if err != nil {
		return fmt.Errorf("postgres: roll back %s: %w", p.column, err)
	}
	if _, err := w.pool.Exec(ctx, sqlplan.Undo(pg, w.staging(st.Table), w.staging(p.table), ident(c.Name))); err != nil {
		return fmt.Errorf("postgres: roll back %s: %w", p.column, err)
	}
	return nil
}

// RevertRepair implements warehouse.Repairer.
func (w *Warehouse) RevertRepair(ctx context.Context, spec warehouse.RevertSpec) (int64, error) {
	tc, err := tableColumns(ctx, w.pool, w.schema, spec.Target)
	if err != nil {
		return 0, fmt.Errorf("postgres: %w", err)
	}
	if len(tc) == 0 {
		return 0, fmt.Errorf("postgres: target %s does not exist", spec.Target)
	}
	tcols := make([]warehouse.Column, len(tc))
	for i, c := range tc {
		tcols[i] = warehouse.Column{Name: c.name, Type: c.sqlType}
	}
	return sqlplan.Revert(ctx, "postgres", spec, tcols, sqlplan.Reverts{Rewrite: w.restoreOriginals, Rescue: w.revertRescue, SetAside: w.restoreSetAside})
}

// restoreOriginals puts back the values a rewrite replaced: each kept row
// restores one target row with its repaired content (identical rows pair
// up one for one).
func (w *Warehouse) restoreOriginals(ctx context.Context, spec warehouse.RevertSpec, col warehouse.Column, keep []warehouse.Column) (int64, error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var want int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+w.originalsTable()+" WHERE token = $1", spec.Token).Scan(&want); err != nil {
		return 0, fmt.Errorf("postgres: read the original values: %w", err)
	}
	tag, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.RestoreOriginals(pg, w.target(spec.Target), "ctid", w.originalsTable(), col, keep)), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("postgres: restore %s.%s: %w", spec.Target, col.Name, err)
	}
	if n := tag.RowsAffected(); n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	return want, tx.Commit(ctx)
}

// restoreSetAside moves the rows a repair set aside from the target's
// quarantine back into the target, reading each from the JSON it was
// quarantined as.
func (w *Warehouse) restoreSetAside(ctx context.Context, spec warehouse.RevertSpec, tcols []warehouse.Column) (int64, error) {
	q := w.target(spec.Target + warehouse.QuarantineSuffix)
	names := make([]string, len(tcols))
	sel := make([]string, len(tcols))
	for i, c := range tcols {
		names[i] = ident(c.Name)
		sel[i] = fmt.Sprintf("(raw::jsonb ->> %s)::%s", literal(c.Name), c.Type)
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	where := " WHERE run_id = $1 AND pipeline = $2 AND source_object = $3 AND reason = $4"
	args := []any{spec.RunID, spec.Pipeline, spec.ObjectKey, spec.Reason}
	tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s%s",
		w.target(spec.Target), strings.Join(names, ", "), strings.Join(sel, ", "), q, where), args...)
	if err != nil {
		return 0, fmt.Errorf("postgres: restore the rows set aside into %s: %w", spec.Target, err)
	}
	if _, err := tx.Exec(ctx, "DELETE FROM "+q+where, args...); err != nil {
		return 0, fmt.Errorf("postgres: remove the restored rows from %s: %w", spec.Target+warehouse.QuarantineSuffix, err)
	}
	return tag.RowsAffected(), tx.Commit(ctx)
}

// revertRescue moves the rows a stage repair rescued from the target back
// to its quarantine, with the reason they were first set aside.
func (w *Warehouse) revertRescue(ctx context.Context, spec warehouse.RevertSpec, keep []warehouse.Column) (int64, error) {
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var want int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+w.rescuedTable()+" WHERE token = $1 AND repaired_row IS NOT NULL", spec.Token).Scan(&want); err != nil {
		return 0, fmt.Errorf("postgres: read the rescued rows: %w", err)
	}
	// Each kept row removes one target row with the same content.
	tag, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.RemoveRescued(pg, w.target(spec.Target), "ctid", w.rescuedTable(), keep)), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("postgres: remove the rescued rows from %s: %w", spec.Target, err)
	}
	if n := tag.RowsAffected(); n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	if _, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.ReturnRescued(w.target(spec.Target+warehouse.QuarantineSuffix), w.rescuedTable())),
		spec.RunID, spec.Pipeline, spec.Note, spec.Token); err != nil {
		return 0, fmt.Errorf("postgres: put the rescued lines back in quarantine: %w", err)
	}
	return want, tx.Commit(ctx)
}

// KeepRescued implements warehouse.Repairer. It keeps nothing when the
// two stagings do not pair up one for one (the new reading also changed
// rows that loaded before, or a column was added or renamed).
func (w *Warehouse) KeepRescued(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged) (warehouse.Rescue, error) {
	rescued := before.Quarantined - after.Quarantined
	if rescued <= 0 {
		return warehouse.Rescue{}, nil
	}
	names, cols, ok := sqlplan.RescueColumns(pg, before.Columns, after.Columns)
	if !ok {
		return warehouse.Rescue{}, nil // no row-for-row difference
	}
	list := strings.Join(names, ", ")
	if replaces, err := w.rescueReplaces(ctx, spec, before, after, list); err != nil || replaces {
		return warehouse.Rescue{ReplacesKeys: replaces}, err
	}
	token := after.Table
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return warehouse.Rescue{}, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+w.rescuedTable()+
		" (token TEXT NOT NULL, object_key TEXT, line BIGINT, reason TEXT, raw TEXT, repaired_row TEXT)"); err != nil {
		return warehouse.Rescue{}, fmt.Errorf("postgres: keep the rescued rows: %w", err)
	}
	lines, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.KeepRescuedLines(w.rescuedTable(), w.staging(before.Table+"_q"), w.staging(after.Table+"_q"))), token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("postgres: keep the rescued lines: %w", err)
	}
	rows, err := tx.Exec(ctx, sqlplan.Bind(pg, sqlplan.KeepRescuedRows(pg, w.rescuedTable(), w.staging(before.Table), w.staging(after.Table), list, after.Columns)),
		token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("postgres: keep the rescued rows: %w", err)
	}
	if lines.RowsAffected() != rescued || rows.RowsAffected() != rescued {
		return warehouse.Rescue{}, nil // rolled back: nothing kept
	}
	if err := tx.Commit(ctx); err != nil {
		return warehouse.Rescue{}, fmt.Errorf("postgres: keep the rescued rows: %w", err)
	}
	return warehouse.Rescue{Token: token, RowColumns: cols}, nil
}

// rescueReplaces reports whether a rescued row has a key the target
// holds already: merged, it replaces that row.
func (w *Warehouse) rescueReplaces(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged, list string) (bool, error) {
	if len(spec.Key) == 0 || spec.Target == "" {
		return false, nil
	}
	tc, err := tableColumns(ctx, w.pool, w.schema, spec.Target)
	if err != nil || len(tc) == 0 {
		return false, err
	}
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		name := k
		if j := findCol(tc, k); j >= 0 {
			name = tc[j].name
		}
		match[i] = "t." + ident(name) + " = r." + ident(k)
	}
	var n int64
	err = w.pool.QueryRow(ctx, sqlplan.RescuedKeys(w.staging(before.Table), w.staging(after.Table), list,
		w.target(spec.Target), strings.Join(match, " AND "))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("postgres: keep the rescued rows: look for their keys in %s: %w", spec.Target, err)
	}
	return n > 0, nil
}
