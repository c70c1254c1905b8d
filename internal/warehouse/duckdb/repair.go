package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"sync"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// The self-healing engine's repairs, compiled to DuckDB: its plans arrive
// as data (warehouse.RepairOp, warehouse.Predicate) and every statement
// that reads or changes rows for them is written here.

// Tables in which repairs are kept after the commit, for their revert.
const (
	// originalsTable keeps the values rewrite repairs replaced: the old
	// value and the repaired row as JSON, which finds the row in the
	// target later.
	originalsTable = `"_shp"."healing_originals"`
	// rescuedTable keeps what a stage repair rescued from quarantine:
	// each rescued line as it was set aside (line, reason, raw text) and
	// each row it became in the target, as JSON. Reverting the repair
	// moves those rows back to quarantine.
	rescuedTable = `"_shp"."healing_rescued"`
)

var (
	_ warehouse.Repairer = (*Warehouse)(nil)
	_ warehouse.Rows     = (*lockedRows)(nil)
)

// pendingRewrite is a rewrite applied to a staging table whose original
// values wait, in a temporary table, for KeepRepair or UndoRepair.
type pendingRewrite struct {
	staged string // the staging table
	table  string // the temporary table of (shp_rid, shp_old)
	column string // the column, as the plan names it
}

// leaf is DuckDB's part of the shared compiler (package sqlplan): a
// plan's value converts with TRY_CAST (NULL when it does not), and
// compile checks the values a rewrite writes.
type leaf struct{ quality.Dialect }

// duck is DuckDB's leaf.
var duck sqlplan.Leaf = leaf{quality.DuckDB}

// Value implements sqlplan.Leaf with TRY_CAST.
func (leaf) Value(c warehouse.Column, v any) (string, any, bool) {
	return "TRY_CAST(? AS " + c.Type + ")", v, true
}

// RowID implements sqlplan.Leaf: rows keep the object's order
// (preserve_insertion_order), so rowid is a row's position.
func (leaf) RowID() string { return "rowid" }

// PartitionKey implements sqlplan.Leaf: every type partitions.
func (leaf) PartitionKey(_ warehouse.Column, quoted string) string { return quoted }

// RowJSON implements sqlplan.Leaf with rowJSON.
func (leaf) RowJSON(alias string, cols []warehouse.Column) string { return rowJSON(alias, cols) }

// Matches implements sqlplan.Leaf with regexp_extract_all.
func (leaf) Matches(table, column, pattern string) string {
	return "(SELECT unnest(regexp_extract_all(" + column + ", " + pattern + ", 1)) AS c FROM " + table + ") x"
}

// ByteOrder implements sqlplan.Leaf: DuckDB's text compares by bytes.
func (leaf) ByteOrder(expr string) string { return expr }

// rowJSON renders a row over cols as JSON text; alias qualifies the
// columns when not "".
func rowJSON(alias string, cols []warehouse.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		ref := ident(c.Name)
		if alias != "" {
			ref = alias + "." + ref
		}
		parts[i] = literal(c.Name) + ", " + ref
	}
	return "CAST(json_object(" + strings.Join(parts, ", ") + ") AS VARCHAR)"
}

// objectColumns are a staging table's columns without shp's own.
func (w *Warehouse) objectColumns(ctx context.Context, st *warehouse.Staged) ([]warehouse.Column, error) {
	cols, err := columns(ctx, w.conn, st.Table, true)
	if err != nil {
		return nil, err
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("the staging of %s is gone", st.ObjectKey)
	}
	out := cols[:0]
	for _, c := range cols {
		if c.Name != lineCol {
			out = append(out, c)
		}
	}
	return out, nil
}

// compile compiles op against a staged object and checks that the values
// it writes fit their column.
func (w *Warehouse) compile(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp) (*sqlplan.Op, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, err
	}
	c, err := sqlplan.Compile(duck, op, stagingRef(st.Table), cols)
	if err != nil {
		return nil, err
	}
	for _, v := range c.Fits {
		var fits bool
		// An engine error converting is a value that does not fit too.
		if err := w.conn.QueryRowContext(ctx, "SELECT TRY_CAST(? AS "+c.Type+") IS NOT NULL", v).Scan(&fits); err != nil || !fits {
			return nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, v, c.Type, op.Rewritten())
		}
	}
	return c, nil
}

// CountRows implements warehouse.Prober.
func (w *Warehouse) CountRows(ctx context.Context, st *warehouse.Staged, where warehouse.Predicate) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return 0, fmt.Errorf("duckdb: count rows of %s: %w", st.ObjectKey, err)
	}
	pred, err := sqlplan.Predicate(duck, where, cols)
	if err != nil {
		return 0, fmt.Errorf("duckdb: count rows of %s: %w", st.ObjectKey, err)
	}
	q := sqlplan.Count(stagingRef(st.Table), pred)
	var n int64
	if err := w.conn.QueryRowContext(ctx, q.SQL, q.Args...).Scan(&n); err != nil {
		return 0, fmt.Errorf("duckdb: count rows of %s: %w", st.ObjectKey, err)
	}
	return n, nil
}

// DistinctValues implements warehouse.Prober.
func (w *Warehouse) DistinctValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]warehouse.ValueCount, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	c, err := sqlplan.FindColumn(cols, column)
	if err != nil {
		return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out, err := sqlplan.DistinctValues(ctx, sqlplan.DB(w.conn), duck, stagingRef(st.Table), c, limit)
	if err != nil {
		return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	return out, nil
}

// PreviewRepair implements warehouse.Prober.
func (w *Warehouse) PreviewRepair(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp, sample int) (*warehouse.RepairPreview, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.compile(ctx, st, op)
	if err != nil {
		return nil, fmt.Errorf("duckdb: plan a repair of %s: %w", st.ObjectKey, err)
	}
	p, err := sqlplan.Preview(ctx, sqlplan.DB(w.conn), duck, stagingRef(st.Table), c, sample)
	if err != nil {
		return nil, fmt.Errorf("duckdb: preview a repair of %s: %w", st.ObjectKey, err)
	}
	return p, nil
}

// ApplyRepair implements warehouse.Repairer. A rewrite's original values
// wait in a temporary table, named after the staging table so that
// DropStaging finds it too, for KeepRepair or UndoRepair.
func (w *Warehouse) ApplyRepair(ctx context.Context, st *warehouse.Staged, plan warehouse.RepairPlan) (warehouse.RepairResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.compile(ctx, st, plan.Op)
	if err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: repair %s: %w", st.ObjectKey, err)
	}
	if reason := plan.Op.SetAsideReason(); reason != "" {
		n, err := w.quarantineWhere(ctx, st, c.Where.SQL, c.Where.Args, reason)
		return warehouse.RepairResult{Rows: n}, err
	}
	column := plan.Op.Rewritten()
	if plan.Token == "" {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: rewrite %s of %s: no token to keep the original values under", column, st.ObjectKey)
	}
	if _, dup := w.pending[plan.Token]; dup {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: rewrite %s of %s: token %q is in use", column, st.ObjectKey, plan.Token)
	}
	orig := fmt.Sprintf("%s_orig_%d", st.Table, w.seq.Add(1))
	table := stagingRef(st.Table)
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return warehouse.RepairResult{}, err
	}
	defer tx.Rollback()
	save := sqlplan.SaveOriginals(duck, table, c)
	if _, err := logExec(ctx, tx, "CREATE TEMP TABLE "+stagingRef(orig)+" AS "+save.SQL, save.Args...); err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: keep the original values of %s: %w", column, err)
	}
	rewrite := sqlplan.Rewrite(duck, table, stagingRef(orig), c)
	n, err := exec(ctx, tx, rewrite.SQL, rewrite.Args...)
	if err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: rewrite %s: %w", column, err)
	}
	if err := tx.Commit(); err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: rewrite %s: %w", column, err)
	}
	if w.pending == nil {
		w.pending = map[string]pendingRewrite{}
	}
	w.pending[plan.Token] = pendingRewrite{staged: st.Table, table: orig, column: column}
	return warehouse.RepairResult{Rows: n}, nil
}

// pendingOf finds the applied rewrite of st under token.
func (w *Warehouse) pendingOf(st *warehouse.Staged, token string) (pendingRewrite, error) {
	p, ok := w.pending[token]
	if !ok || p.staged != st.Table {
		return p, fmt.Errorf("no rewrite of %s applied under %q", st.ObjectKey, token)
	}
	return p, nil
}

// forget drops a pending rewrite's originals.
func (w *Warehouse) forget(ctx context.Context, token string) {
	if p, ok := w.pending[token]; ok {
		_, _ = w.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+stagingRef(p.table))
		delete(w.pending, token)
	}
}

// dropPending forgets the pending rewrites of a staging table that is
// dropped.
func (w *Warehouse) dropPending(ctx context.Context, staged string) {
	for token, p := range w.pending {
		if p.staged == staged {
			w.forget(ctx, token)
		}
	}
}

// KeepRepair implements warehouse.Repairer.
func (w *Warehouse) KeepRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("duckdb: keep the original values: %w", err)
	}
	defer w.forget(ctx, token)
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, stmt := range []string{"CREATE SCHEMA IF NOT EXISTS " + internalSchema, "CREATE TABLE IF NOT EXISTS " + originalsTable +
		" (token VARCHAR NOT NULL, column_name VARCHAR NOT NULL, old_value VARCHAR, repaired_row VARCHAR NOT NULL)"} {
		if _, err := logExec(ctx, tx, stmt); err != nil {
			return fmt.Errorf("duckdb: keep the original values: %w", err)
		}
	}
	if _, err := logExec(ctx, tx, sqlplan.KeepOriginals(duck, originalsTable, stagingRef(st.Table), stagingRef(p.table), st.Columns), token, p.column); err != nil {
		return fmt.Errorf("duckdb: keep the original values: %w", err)
	}
	return tx.Commit()
}

// UndoRepair implements warehouse.Repairer.
func (w *Warehouse) UndoRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("duckdb: roll back: %w", err)
	}
	defer w.forget(ctx, token)
	if _, err := logExec(ctx, w.conn, sqlplan.Undo(duck, stagingRef(st.Table), stagingRef(p.table), ident(p.column))); err != nil {
		return fmt.Errorf("duckdb: roll back %s: %w", p.column, err)
	}
	return nil
}

// RevertRepair implements warehouse.Repairer.
func (w *Warehouse) RevertRepair(ctx context.Context, spec warehouse.RevertSpec) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tcols, err := columns(ctx, w.conn, spec.Target, false)
	if err != nil {
		return 0, fmt.Errorf("duckdb: %w", err)
	}
	if len(tcols) == 0 {
		return 0, fmt.Errorf("duckdb: target %s does not exist", spec.Target)
	}
	return sqlplan.Revert(ctx, "duckdb", spec, tcols, sqlplan.Reverts{Rewrite: w.restoreOriginals, Rescue: w.revertRescue, SetAside: w.restoreSetAside})
}

// restoreOriginals puts back the values a rewrite replaced: each kept row
// restores one target row with its repaired content (identical rows pair
// up one for one).
func (w *Warehouse) restoreOriginals(ctx context.Context, spec warehouse.RevertSpec, col warehouse.Column, keep []warehouse.Column) (int64, error) {
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var want int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+originalsTable+" WHERE token = ?", spec.Token).Scan(&want); err != nil {
		return 0, fmt.Errorf("duckdb: read the original values: %w", err)
	}
	n, err := exec(ctx, tx, sqlplan.RestoreOriginals(duck, qualified("main", spec.Target), "rowid", originalsTable, col, keep), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("duckdb: restore %s.%s: %w", spec.Target, col.Name, err)
	}
	if n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	return n, tx.Commit()
}

// restoreSetAside moves the rows a repair set aside from the target's
// quarantine back into the target, reading each from the JSON it was
// quarantined as.
func (w *Warehouse) restoreSetAside(ctx context.Context, spec warehouse.RevertSpec, tcols []warehouse.Column) (int64, error) {
	q := qualified("main", spec.Target+warehouse.QuarantineSuffix)
	sel := make([]string, len(tcols))
	var selArgs []any
	for i, c := range tcols {
		sel[i] = fmt.Sprintf("CAST(json_extract_string(raw, ?) AS %s) AS %s", c.Type, ident(c.Name))
		selArgs = append(selArgs, `$."`+strings.ReplaceAll(c.Name, `"`, `\"`)+`"`)
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	where := " WHERE run_id = ? AND pipeline = ? AND source_object = ? AND reason = ?"
	args := []any{spec.RunID, spec.Pipeline, spec.ObjectKey, spec.Reason}
	n, err := exec(ctx, tx, fmt.Sprintf("INSERT INTO %s BY NAME SELECT %s FROM %s%s",
		qualified("main", spec.Target), strings.Join(sel, ", "), q, where), append(selArgs, args...)...)
	if err != nil {
		return 0, fmt.Errorf("duckdb: restore the rows set aside into %s: %w", spec.Target, err)
	}
	if _, err := logExec(ctx, tx, "DELETE FROM "+q+where, args...); err != nil {
		return 0, fmt.Errorf("duckdb: remove the restored rows from %s: %w", spec.Target+warehouse.QuarantineSuffix, err)
	}
	return n, tx.Commit()
}

// revertRescue moves the rows a stage repair rescued from the target back
// to its quarantine, with the reason they were first set aside.
func (w *Warehouse) revertRescue(ctx context.Context, spec warehouse.RevertSpec, keep []warehouse.Column) (int64, error) {
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var want int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+rescuedTable+" WHERE token = ? AND repaired_row IS NOT NULL", spec.Token).Scan(&want); err != nil {
		return 0, fmt.Errorf("duckdb: read the rescued rows: %w", err)
	}
	// Each kept row removes one target row with the same content.
	n, err := exec(ctx, tx, sqlplan.RemoveRescued(duck, qualified("main", spec.Target), "rowid", rescuedTable, keep), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("duckdb: remove the rescued rows from %s: %w", spec.Target, err)
	}
	if n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	if _, err := logExec(ctx, tx, sqlplan.ReturnRescued(qualified("main", spec.Target+warehouse.QuarantineSuffix), rescuedTable),
		spec.RunID, spec.Pipeline, spec.Note, spec.Token); err != nil {
		return 0, fmt.Errorf("duckdb: put the rescued lines back in quarantine: %w", err)
	}
	return n, tx.Commit()
}

// KeepRescued implements warehouse.Repairer. It keeps nothing when the
// two stagings do not pair up one for one (the new reading also changed
// rows that loaded before, or a column was added or renamed).
func (w *Warehouse) KeepRescued(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged) (warehouse.Rescue, error) {
	rescued := before.Quarantined - after.Quarantined
	if rescued <= 0 {
		return warehouse.Rescue{}, nil
	}
	names, cols, ok := sqlplan.RescueColumns(duck, before.Columns, after.Columns)
	if !ok {
		return warehouse.Rescue{}, nil // no row-for-row difference
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	list := strings.Join(names, ", ")
	if replaces, err := w.rescueReplaces(ctx, spec, before, after, list); err != nil || replaces {
		return warehouse.Rescue{ReplacesKeys: replaces}, err
	}
	token := after.Table
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return warehouse.Rescue{}, err
	}
	defer tx.Rollback()
	for _, stmt := range []string{"CREATE SCHEMA IF NOT EXISTS " + internalSchema, "CREATE TABLE IF NOT EXISTS " + rescuedTable +
		" (token VARCHAR NOT NULL, object_key VARCHAR, line BIGINT, reason VARCHAR, raw VARCHAR, repaired_row VARCHAR)"} {
		if _, err := logExec(ctx, tx, stmt); err != nil {
			return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued rows: %w", err)
		}
	}
	lines, err := exec(ctx, tx, sqlplan.KeepRescuedLines(rescuedTable, stagingRef(before.Table+"_q"), stagingRef(after.Table+"_q")), token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued lines: %w", err)
	}
	rows, err := exec(ctx, tx, sqlplan.KeepRescuedRows(duck, rescuedTable, stagingRef(before.Table), stagingRef(after.Table), list, after.Columns),
		token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued rows: %w", err)
	}
	if lines != rescued || rows != rescued {
		return warehouse.Rescue{}, nil // rolled back: nothing kept
	}
	if err := tx.Commit(); err != nil {
		return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued rows: %w", err)
	}
	return warehouse.Rescue{Token: token, RowColumns: cols}, nil
}

// rescueReplaces reports whether a rescued row has a key the target
// holds already: merged, it replaces that row.
func (w *Warehouse) rescueReplaces(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged, list string) (bool, error) {
	if len(spec.Key) == 0 || spec.Target == "" {
		return false, nil
	}
	tcols, err := columns(ctx, w.conn, spec.Target, false)
	if err != nil || len(tcols) == 0 {
		return false, err
	}
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		match[i] = "t." + ident(k) + " = r." + ident(k)
	}
	var n int64
	err = w.conn.QueryRowContext(ctx, sqlplan.RescuedKeys(stagingRef(before.Table), stagingRef(after.Table), list,
		qualified("main", spec.Target), strings.Join(match, " AND "))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("duckdb: keep the rescued rows: look for their keys in %s: %w", spec.Target, err)
	}
	return n > 0, nil
}

// RunQuery implements warehouse.Warehouse: the query runs on the
// data-plane connection, which sees the staging tables, and holds it
// until its rows are closed or read to the end.
func (w *Warehouse) RunQuery(ctx context.Context, query string, args ...any) (warehouse.Rows, error) {
	w.mu.Lock()
	rows, err := logQuery(ctx, w.conn, query, args...)
	if err != nil {
		w.mu.Unlock()
		return nil, fmt.Errorf("duckdb: query: %w", err)
	}
	return &lockedRows{Rows: rows, unlock: w.mu.Unlock}, nil
}

// profileSettings are the profiler's metrics MeasuredQuery reads.
const profileSettings = `SET custom_profiling_settings = '{"CUMULATIVE_ROWS_SCANNED": "true", "TOTAL_BYTES_READ": "true"}'`

// MeasuredQuery implements warehouse.ScanMeter: RunQuery with DuckDB's
// profiler on for the query, which counts the rows its scans read
// (what zone maps skipped is not counted) and the bytes read from disk
// (0 when the blocks were in memory).
func (w *Warehouse) MeasuredQuery(ctx context.Context, query string, args ...any) (warehouse.ScannedRows, error) {
	w.mu.Lock()
	if err := w.startProfile(ctx); err != nil {
		w.mu.Unlock()
		return nil, err
	}
	rows, err := logQuery(ctx, w.conn, query, args...)
	if err != nil {
		w.endProfile()
		w.mu.Unlock()
		return nil, fmt.Errorf("duckdb: query: %w", err)
	}
	r := &lockedRows{Rows: rows}
	r.unlock = func() {
		r.scan = w.profile()
		w.endProfile()
		w.mu.Unlock()
	}
	return r, nil
}

// startProfile turns the profiler on for the data-plane connection's
// next queries (mu held), without output.
func (w *Warehouse) startProfile(ctx context.Context) error {
	for _, stmt := range []string{`SET enable_profiling = 'no_output'`, profileSettings} {
		if _, err := logExec(ctx, w.conn, stmt); err != nil {
			w.endProfile()
			return fmt.Errorf("duckdb: start the profiler: %w", err)
		}
	}
	return nil
}

// profile reads the profiler's figures for the last query on the
// data-plane connection (zero when it has none).
func (w *Warehouse) profile() warehouse.Scan {
	info, err := duckdbdriver.GetProfilingInfo(w.conn)
	if err != nil {
		return warehouse.Scan{}
	}
	num := func(k string) int64 {
		n, _ := strconv.ParseInt(info.Metrics[k], 10, 64)
		return n
	}
	return warehouse.Scan{RowsScanned: num("CUMULATIVE_ROWS_SCANNED"), Bytes: num("TOTAL_BYTES_READ")}
}

// endProfile turns the profiler off again.
func (w *Warehouse) endProfile() {
	_, _ = w.conn.ExecContext(context.Background(), `PRAGMA disable_profiling`)
}

// lockedRows are rows that hold the data plane until they are done.
type lockedRows struct {
	*sql.Rows
	once   sync.Once
	unlock func()
	scan   warehouse.Scan
}

// Scanned implements warehouse.ScannedRows.
func (r *lockedRows) Scanned() warehouse.Scan { return r.scan }

// Next implements warehouse.Rows; the last row releases the data plane.
func (r *lockedRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.release()
	return false
}

// ColumnTypes implements warehouse.Rows with the driver's type names.
func (r *lockedRows) ColumnTypes() ([]warehouse.Column, error) {
	types, err := r.Rows.ColumnTypes()
	if err != nil {
		return nil, err
	}
	cols := make([]warehouse.Column, len(types))
	for i, t := range types {
		cols[i] = warehouse.Column{Name: t.Name(), Type: t.DatabaseTypeName()}
	}
	return cols, nil
}

// Close implements warehouse.Rows.
func (r *lockedRows) Close() error {
	err := r.Rows.Close()
	r.release()
	return err
}

func (r *lockedRows) release() {
	r.once.Do(func() {
		_ = r.Rows.Close()
		r.unlock()
	})
}
