package duckdb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/shp-dev/shp/internal/warehouse"
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

// frag is a piece of SQL with the values its placeholders bind, in order.
type frag struct {
	sql  string
	args []any
}

// compiledOp is a repair operation compiled against one staging table.
type compiledOp struct {
	column string // rewrite: the column, quoted
	typ    string // rewrite: its type
	set    frag   // rewrite: the new value
	where  frag   // the rows it changes or sets aside
	sample string // preview: what a sampled row shows (before; after is set)
	fits   []any  // rewrite: values that must convert to typ
}

// findColumn finds a staged column by name, as DuckDB resolves names
// (ignoring case).
func findColumn(cols []warehouse.Column, name string) (warehouse.Column, error) {
	for _, c := range cols {
		if c.Name == name {
			return c, nil
		}
	}
	for _, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return warehouse.Column{}, fmt.Errorf("no column %q in the staged rows", name)
}

// compilePredicate renders a predicate over cols.
func compilePredicate(p warehouse.Predicate, cols []warehouse.Column) (frag, error) {
	switch p := p.(type) {
	case nil:
		return frag{sql: "TRUE"}, nil
	case warehouse.IsNull:
		c, err := findColumn(cols, p.Column)
		if err != nil {
			return frag{}, err
		}
		return frag{sql: ident(c.Name) + " IS NULL"}, nil
	case warehouse.Eq:
		c, err := findColumn(cols, p.Column)
		if err != nil {
			return frag{}, err
		}
		return frag{sql: ident(c.Name) + " = TRY_CAST(? AS " + c.Type + ")", args: []any{p.Value}}, nil
	case warehouse.In:
		c, err := findColumn(cols, p.Column)
		if err != nil {
			return frag{}, err
		}
		if len(p.Values) == 0 {
			return frag{sql: "FALSE"}, nil
		}
		marks := make([]string, len(p.Values))
		for i := range marks {
			marks[i] = "TRY_CAST(? AS " + c.Type + ")"
		}
		return frag{sql: ident(c.Name) + " IN (" + strings.Join(marks, ", ") + ")", args: append([]any(nil), p.Values...)}, nil
	case warehouse.Not:
		if p.Of == nil {
			return frag{}, errors.New("Not of nothing")
		}
		in, err := compilePredicate(p.Of, cols)
		if err != nil {
			return frag{}, err
		}
		return frag{sql: "NOT (" + in.sql + ")", args: in.args}, nil
	case warehouse.And, warehouse.Or:
		list, op, empty := []warehouse.Predicate(nil), " AND ", "TRUE"
		if and, ok := p.(warehouse.And); ok {
			list = and
		} else {
			list, op, empty = p.(warehouse.Or), " OR ", "FALSE"
		}
		if len(list) == 0 {
			return frag{sql: empty}, nil
		}
		var out frag
		parts := make([]string, len(list))
		for i, q := range list {
			f, err := compilePredicate(q, cols)
			if err != nil {
				return frag{}, err
			}
			parts[i] = "(" + f.sql + ")"
			out.args = append(out.args, f.args...)
		}
		out.sql = strings.Join(parts, op)
		return out, nil
	}
	return frag{}, fmt.Errorf("unknown predicate %T", p)
}

// compileOp renders a repair operation for the staging table table whose
// columns are cols (the object's columns, without shp's own).
func compileOp(op warehouse.RepairOp, table string, cols []warehouse.Column) (*compiledOp, error) {
	switch o := op.(type) {
	case warehouse.MapValues:
		c, err := findColumn(cols, o.Column)
		if err != nil {
			return nil, err
		}
		if len(o.Mapping) == 0 {
			return nil, fmt.Errorf("map values of %s: the mapping is empty", o.Column)
		}
		norm := func(x string) string {
			x = "CAST(" + x + " AS VARCHAR)"
			if o.Trim {
				x = "trim(" + x + ")"
			}
			if o.FoldCase {
				x = "lower(" + x + ")"
			}
			return x
		}
		col := ident(c.Name)
		keys := make([]string, 0, len(o.Mapping))
		for k := range o.Mapping {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var cases []string
		var caseArgs, keyArgs, fits []any
		for _, k := range keys {
			cases = append(cases, "WHEN "+norm("?")+" THEN ?")
			caseArgs = append(caseArgs, k, o.Mapping[k])
			keyArgs = append(keyArgs, k)
			fits = append(fits, o.Mapping[k])
		}
		mapped := "CAST(CASE " + norm(col) + " " + strings.Join(cases, " ") + " END AS " + c.Type + ")"
		in := strings.TrimSuffix(strings.Repeat(norm("?")+", ", len(keys)), ", ")
		return &compiledOp{
			column: col, typ: c.Type, fits: fits,
			set: frag{sql: mapped, args: caseArgs},
			where: frag{sql: col + " IS NOT NULL AND " + norm(col) + " IN (" + in + ") AND " + col + " IS DISTINCT FROM " + mapped,
				args: append(keyArgs, caseArgs...)},
		}, nil
	case warehouse.FillDefault:
		c, err := findColumn(cols, o.Column)
		if err != nil {
			return nil, err
		}
		return &compiledOp{
			column: ident(c.Name), typ: c.Type, fits: []any{o.Value},
			set:   frag{sql: "CAST(? AS " + c.Type + ")", args: []any{o.Value}},
			where: frag{sql: ident(c.Name) + " IS NULL"},
		}, nil
	case warehouse.QuarantineDuplicates:
		if len(o.Keys) == 0 {
			return nil, errors.New("de-duplicate: no key columns")
		}
		if o.Reason == "" {
			return nil, errors.New("de-duplicate: no reason")
		}
		quoted, notNull, texts := make([]string, len(o.Keys)), make([]string, len(o.Keys)), make([]string, len(o.Keys))
		for i, k := range o.Keys {
			c, err := findColumn(cols, k)
			if err != nil {
				return nil, err
			}
			quoted[i] = ident(c.Name)
			notNull[i] = quoted[i] + " IS NOT NULL"
			texts[i] = "CAST(" + quoted[i] + " AS VARCHAR)"
		}
		// Rows keep the object's order (preserve_insertion_order): the
		// highest rowid of a key is its latest row.
		where := "rowid IN (SELECT shp_rid FROM (SELECT rowid AS shp_rid, row_number() OVER (PARTITION BY " + strings.Join(quoted, ", ") +
			" ORDER BY rowid DESC) AS shp_rn FROM " + table + " WHERE " + strings.Join(notNull, " AND ") + ") WHERE shp_rn > 1)"
		return &compiledOp{where: frag{sql: where}, sample: strings.Join(texts, " || '|' || ")}, nil
	case warehouse.Quarantine:
		if o.Where == nil {
			return nil, errors.New("quarantine: no condition (it would set every row aside)")
		}
		if o.Reason == "" {
			return nil, errors.New("quarantine: no reason")
		}
		where, err := compilePredicate(o.Where, cols)
		if err != nil {
			return nil, err
		}
		return &compiledOp{where: where, sample: rowJSON("", cols)}, nil
	case nil:
		return nil, errors.New("no repair operation")
	}
	return nil, fmt.Errorf("unknown repair operation %T", op)
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
func (w *Warehouse) compile(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp) (*compiledOp, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, err
	}
	c, err := compileOp(op, stagingRef(st.Table), cols)
	if err != nil {
		return nil, err
	}
	for _, v := range c.fits {
		var fits bool
		// An engine error converting is a value that does not fit too.
		if err := w.conn.QueryRowContext(ctx, "SELECT TRY_CAST(? AS "+c.typ+") IS NOT NULL", v).Scan(&fits); err != nil || !fits {
			return nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, v, c.typ, op.Rewritten())
		}
	}
	if c.column != "" && c.sample == "" {
		c.sample = c.column + ", " + c.set.sql
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
	pred, err := compilePredicate(where, cols)
	if err != nil {
		return 0, fmt.Errorf("duckdb: count rows of %s: %w", st.ObjectKey, err)
	}
	var n int64
	if err := w.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+stagingRef(st.Table)+" WHERE "+pred.sql, pred.args...).Scan(&n); err != nil {
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
	c, err := findColumn(cols, column)
	if err != nil {
		return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	col := ident(c.Name)
	rows, err := w.conn.QueryContext(ctx, "SELECT CAST("+col+" AS VARCHAR) AS v, count(*) AS n FROM "+stagingRef(st.Table)+
		" WHERE "+col+" IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?", limit)
	if err != nil {
		return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	defer rows.Close()
	var out []warehouse.ValueCount
	for rows.Next() {
		var v warehouse.ValueCount
		if err := rows.Scan(&v.Value, &v.Rows); err != nil {
			return nil, fmt.Errorf("duckdb: values of %s in %s: %w", column, st.ObjectKey, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// PreviewRepair implements warehouse.Prober.
func (w *Warehouse) PreviewRepair(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp, sample int) (*warehouse.RepairPreview, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	c, err := w.compile(ctx, st, op)
	if err != nil {
		return nil, fmt.Errorf("duckdb: plan a repair of %s: %w", st.ObjectKey, err)
	}
	table := stagingRef(st.Table)
	p := &warehouse.RepairPreview{}
	if err := w.conn.QueryRowContext(ctx, "SELECT count(*) FROM "+table+" WHERE "+c.where.sql, c.where.args...).Scan(&p.Rows); err != nil {
		return nil, fmt.Errorf("duckdb: count the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	if sample <= 0 || p.Rows == 0 {
		return p, nil
	}
	var args []any
	if c.column != "" {
		args = append(args, c.set.args...)
	}
	args = append(append(args, c.where.args...), sample)
	rows, err := w.conn.QueryContext(ctx, "SELECT "+c.sample+" FROM "+table+" WHERE "+c.where.sql+" ORDER BY rowid LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("duckdb: sample the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	defer rows.Close()
	for rows.Next() {
		var before, after any
		dest := []any{&before}
		if c.column != "" {
			dest = append(dest, &after)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("duckdb: sample the rows a repair of %s changes: %w", st.ObjectKey, err)
		}
		p.Before = append(p.Before, before)
		if c.column != "" {
			p.After = append(p.After, after)
		}
	}
	return p, rows.Err()
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
		n, err := w.quarantineWhere(ctx, st, c.where.sql, c.where.args, reason)
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
	if _, err := tx.ExecContext(ctx, "CREATE TEMP TABLE "+stagingRef(orig)+" AS SELECT rowid AS shp_rid, "+c.column+" AS shp_old FROM "+table+
		" WHERE "+c.where.sql, c.where.args...); err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("duckdb: keep the original values of %s: %w", column, err)
	}
	n, err := exec(ctx, tx, "UPDATE "+table+" SET "+c.column+" = "+c.set.sql+" WHERE rowid IN (SELECT shp_rid FROM "+stagingRef(orig)+")", c.set.args...)
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
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("duckdb: keep the original values: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT ?, ?, CAST(o.shp_old AS VARCHAR), %s FROM %s t JOIN %s o ON t.rowid = o.shp_rid",
		originalsTable, rowJSON("t", st.Columns), stagingRef(st.Table), stagingRef(p.table)), token, p.column); err != nil {
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
	if _, err := w.conn.ExecContext(ctx, "UPDATE "+stagingRef(st.Table)+" AS t SET "+ident(p.column)+" = o.shp_old FROM "+stagingRef(p.table)+
		" o WHERE t.rowid = o.shp_rid"); err != nil {
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
	// The kept rows' columns, in the order they were rendered.
	var keep []warehouse.Column
	for _, rc := range spec.RowColumns {
		for _, c := range tcols {
			if strings.EqualFold(rc, c.Name) {
				keep = append(keep, c)
			}
		}
	}
	switch spec.Kind {
	case warehouse.RevertRewrite:
		c, err := findColumn(tcols, spec.Column)
		if err != nil {
			return 0, fmt.Errorf("duckdb: target %s has no column %q", spec.Target, spec.Column)
		}
		return w.restoreOriginals(ctx, spec, c, keep)
	case warehouse.RevertRescue:
		return w.revertRescue(ctx, spec, keep)
	case warehouse.RevertSetAside:
		return w.restoreSetAside(ctx, spec, tcols)
	}
	return 0, fmt.Errorf("duckdb: unknown kind of revert %q", spec.Kind)
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
	t := qualified("main", spec.Target)
	row := rowJSON("s", keep)
	n, err := exec(ctx, tx, fmt.Sprintf(`UPDATE %s AS x SET %s = CAST(m.old_value AS %s) FROM (
		SELECT c.rid, k.old_value FROM
			(SELECT s.rowid AS rid, %s AS j, row_number() OVER (PARTITION BY %s ORDER BY s.rowid) AS n FROM %s AS s) c
			JOIN (SELECT repaired_row, old_value, row_number() OVER (PARTITION BY repaired_row ORDER BY old_value) AS n
			      FROM %s WHERE token = ?) k
			ON c.j = k.repaired_row AND c.n = k.n) m
		WHERE x.rowid = m.rid`, t, ident(col.Name), col.Type, row, row, t, originalsTable), spec.Token)
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
	if _, err := tx.ExecContext(ctx, "DELETE FROM "+q+where, args...); err != nil {
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
	t := qualified("main", spec.Target)
	row := rowJSON("s", keep)
	// Each kept row removes one target row with the same content.
	n, err := exec(ctx, tx, fmt.Sprintf(`DELETE FROM %s WHERE rowid IN (
		SELECT rid FROM (SELECT s.rowid AS rid, %s AS j, row_number() OVER (PARTITION BY %s) AS rn FROM %s AS s) y
		JOIN (SELECT repaired_row, count(*) AS c FROM %s WHERE token = ? AND repaired_row IS NOT NULL GROUP BY repaired_row) o
		ON y.j = o.repaired_row WHERE y.rn <= o.c)`, t, row, row, t, rescuedTable), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("duckdb: remove the rescued rows from %s: %w", spec.Target, err)
	}
	if n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw)
		SELECT ?, ?, object_key, line, reason || ?, raw FROM %s WHERE token = ? AND repaired_row IS NULL ORDER BY line`,
		qualified("main", spec.Target+warehouse.QuarantineSuffix), rescuedTable),
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
	names := make([]string, 0, len(after.Columns))
	cols := make([]string, 0, len(after.Columns))
	for _, c := range after.Columns {
		if !hasColumn(before.Columns, c.Name) {
			return warehouse.Rescue{}, nil // no row-for-row difference
		}
		names = append(names, ident(c.Name))
		cols = append(cols, c.Name)
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
		if _, err := tx.ExecContext(ctx, stmt); err != nil {
			return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued rows: %w", err)
		}
	}
	lines, err := exec(ctx, tx, fmt.Sprintf(`INSERT INTO %s (token, object_key, line, reason, raw)
		SELECT ?, ?, b.line, b.reason, b.raw FROM %s b
		WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.line = b.line)`,
		rescuedTable, stagingRef(before.Table+"_q"), stagingRef(after.Table+"_q")), token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("duckdb: keep the rescued lines: %w", err)
	}
	rows, err := exec(ctx, tx, fmt.Sprintf(`INSERT INTO %s (token, object_key, repaired_row)
		SELECT ?, ?, %s FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r`,
		rescuedTable, rowJSON("r", after.Columns), list, stagingRef(after.Table), list, stagingRef(before.Table)),
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
	err = w.conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r JOIN %s t ON %s`,
		list, stagingRef(after.Table), list, stagingRef(before.Table), qualified("main", spec.Target), strings.Join(match, " AND "))).Scan(&n)
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
	rows, err := w.conn.QueryContext(ctx, query, args...)
	if err != nil {
		w.mu.Unlock()
		return nil, fmt.Errorf("duckdb: query: %w", err)
	}
	return &lockedRows{Rows: rows, unlock: w.mu.Unlock}, nil
}

// lockedRows are rows that hold the data plane until they are done.
type lockedRows struct {
	*sql.Rows
	once   sync.Once
	unlock func()
}

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
