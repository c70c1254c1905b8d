package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/warehouse"
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

// frag is a piece of SQL with the values its placeholders bind; the
// placeholders are numbered from 1 when the piece is rendered.
type frag struct {
	sql  string // with ? for each value
	args []any
}

// numbered replaces the ?s of sql with $from, $from+1 ...
func numbered(sql string, from int) string {
	var b strings.Builder
	n := from
	for i := 0; i < len(sql); i++ {
		if sql[i] == '?' {
			b.WriteString("$" + strconv.Itoa(n))
			n++
			continue
		}
		b.WriteByte(sql[i])
	}
	return b.String()
}

// compiledOp is a repair operation compiled against one staging table.
type compiledOp struct {
	column string // rewrite: the column, quoted
	set    frag   // rewrite: the new value
	where  frag   // the rows it changes or sets aside
	sample string // preview: what a sampled row shows
}

// findColumn finds a staged column by name (its own spelling first, then
// ignoring case).
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
		v, ok := pgValue(c.Type, p.Value)
		if !ok {
			// a value the column cannot hold: unknown, as a NULL would be
			return frag{sql: ident(c.Name) + " = NULL"}, nil
		}
		return frag{sql: ident(c.Name) + " = ?::" + c.Type, args: []any{v}}, nil
	case warehouse.In:
		c, err := findColumn(cols, p.Column)
		if err != nil {
			return frag{}, err
		}
		var marks []string
		var args []any
		for _, x := range p.Values {
			if v, ok := pgValue(c.Type, x); ok {
				marks = append(marks, "?::"+c.Type)
				args = append(args, v)
			}
		}
		switch {
		case len(p.Values) == 0:
			return frag{sql: "FALSE"}, nil
		case len(marks) == 0:
			return frag{sql: ident(c.Name) + " = NULL"}, nil
		case len(marks) < len(p.Values):
			// A value that cannot be held is a NULL in the list: the
			// row is not in it, or unknown.
			marks = append(marks, "NULL")
		}
		return frag{sql: ident(c.Name) + " IN (" + strings.Join(marks, ", ") + ")", args: args}, nil
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

// compileOp renders a repair operation for a staging table whose columns
// are cols (the object's columns, without shp's own).
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
			x = "(" + x + ")::text"
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
		var caseArgs, keyArgs []any
		for _, k := range keys {
			v, ok := pgValue(c.Type, o.Mapping[k])
			if !ok {
				return nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, o.Mapping[k], c.Type, o.Column)
			}
			cases = append(cases, "WHEN "+norm("?::text")+" THEN ?::"+c.Type)
			caseArgs = append(caseArgs, k, v)
			keyArgs = append(keyArgs, k)
		}
		mapped := "(CASE " + norm(col) + " " + strings.Join(cases, " ") + " END)"
		in := strings.TrimSuffix(strings.Repeat(norm("?::text")+", ", len(keys)), ", ")
		return &compiledOp{
			column: col,
			set:    frag{sql: mapped, args: caseArgs},
			where: frag{sql: col + " IS NOT NULL AND " + norm(col) + " IN (" + in + ") AND " + col + " IS DISTINCT FROM " + mapped,
				args: append(keyArgs, caseArgs...)},
		}, nil
	case warehouse.FillDefault:
		c, err := findColumn(cols, o.Column)
		if err != nil {
			return nil, err
		}
		v, ok := pgValue(c.Type, o.Value)
		if !ok {
			return nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, o.Value, c.Type, o.Column)
		}
		return &compiledOp{
			column: ident(c.Name),
			set:    frag{sql: "?::" + c.Type, args: []any{v}},
			where:  frag{sql: ident(c.Name) + " IS NULL"},
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
			texts[i] = quoted[i] + "::text"
		}
		// The highest row number of a key is its latest row.
		row := ident(rowCol)
		where := row + " IN (SELECT shp_rid FROM (SELECT " + row + " AS shp_rid, row_number() OVER (PARTITION BY " + strings.Join(quoted, ", ") +
			" ORDER BY " + row + " DESC) AS shp_rn FROM " + table + " WHERE " + strings.Join(notNull, " AND ") + ") shp_d WHERE shp_rn > 1)"
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
func (w *Warehouse) compile(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp) (*compiledOp, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return nil, err
	}
	c, err := compileOp(op, w.staging(st.Table), cols)
	if err != nil {
		return nil, err
	}
	if c.column != "" && c.sample == "" {
		c.sample = c.column + ", " + c.set.sql
	}
	return c, nil
}

// CountRows implements warehouse.Prober.
func (w *Warehouse) CountRows(ctx context.Context, st *warehouse.Staged, where warehouse.Predicate) (int64, error) {
	cols, err := w.objectColumns(ctx, st)
	if err != nil {
		return 0, fmt.Errorf("postgres: count rows of %s: %w", st.ObjectKey, err)
	}
	pred, err := compilePredicate(where, cols)
	if err != nil {
		return 0, fmt.Errorf("postgres: count rows of %s: %w", st.ObjectKey, err)
	}
	var n int64
	if err := w.pool.QueryRow(ctx, "SELECT count(*) FROM "+w.staging(st.Table)+" WHERE "+numbered(pred.sql, 1), pred.args...).Scan(&n); err != nil {
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
	c, err := findColumn(cols, column)
	if err != nil {
		return nil, fmt.Errorf("postgres: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	col := ident(c.Name)
	rows, err := w.pool.Query(ctx, "SELECT "+col+"::text AS v, count(*) AS n FROM "+w.staging(st.Table)+
		" WHERE "+col+" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, "+col+"::text COLLATE \"C\" LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (warehouse.ValueCount, error) {
		var v warehouse.ValueCount
		err := r.Scan(&v.Value, &v.Rows)
		return v, err
	})
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
	table := w.staging(st.Table)
	p := &warehouse.RepairPreview{}
	if err := w.pool.QueryRow(ctx, "SELECT count(*) FROM "+table+" WHERE "+numbered(c.where.sql, 1), c.where.args...).Scan(&p.Rows); err != nil {
		return nil, fmt.Errorf("postgres: count the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	if sample <= 0 || p.Rows == 0 {
		return p, nil
	}
	sel := c.sample
	var args []any
	if c.column != "" {
		sel = c.column + ", " + c.set.sql
		args = append(args, c.set.args...)
	}
	args = append(args, c.where.args...)
	q := numbered("SELECT "+sel+" FROM "+table+" WHERE "+c.where.sql, 1) + fmt.Sprintf(" ORDER BY %s LIMIT %d", ident(rowCol), sample)
	rows, err := w.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: sample the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	defer rows.Close()
	for rows.Next() {
		var before, after any
		dest := []any{&before}
		if c.column != "" {
			dest = append(dest, &after)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, fmt.Errorf("postgres: sample the rows a repair of %s changes: %w", st.ObjectKey, err)
		}
		p.Before = append(p.Before, before)
		if c.column != "" {
			p.After = append(p.After, after)
		}
	}
	return p, rows.Err()
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
		n, err := w.QuarantineWhere(ctx, st, numbered(c.where.sql, 1), c.where.args, reason)
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
	if _, err := tx.Exec(ctx, "CREATE UNLOGGED TABLE "+w.staging(orig)+" AS SELECT "+ident(rowCol)+" AS shp_rid, "+c.column+" AS shp_old FROM "+table+
		" WHERE "+numbered(c.where.sql, 1), c.where.args...); err != nil {
		w.forget(ctx, plan.Token)
		return warehouse.RepairResult{}, fmt.Errorf("postgres: keep the original values of %s: %w", column, err)
	}
	tag, err := tx.Exec(ctx, "UPDATE "+table+" SET "+c.column+" = "+numbered(c.set.sql, 1)+" WHERE "+ident(rowCol)+" IN (SELECT shp_rid FROM "+w.staging(orig)+")", c.set.args...)
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
	if _, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s SELECT $1, $2, o.shp_old::text, %s FROM %s t JOIN %s o ON t.%s = o.shp_rid",
		w.originalsTable(), rowJSON("t", st.Columns), w.staging(st.Table), w.staging(p.table), ident(rowCol)), token, p.column); err != nil {
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
	c, err := findColumn(cols, p.column)
	if err != nil {
		return fmt.Errorf("postgres: roll back %s: %w", p.column, err)
	}
	if _, err := w.pool.Exec(ctx, "UPDATE "+w.staging(st.Table)+" AS t SET "+ident(c.Name)+" = o.shp_old FROM "+w.staging(p.table)+
		" o WHERE t."+ident(rowCol)+" = o.shp_rid"); err != nil {
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
			return 0, fmt.Errorf("postgres: target %s has no column %q", spec.Target, spec.Column)
		}
		return w.restoreOriginals(ctx, spec, c, keep)
	case warehouse.RevertRescue:
		return w.revertRescue(ctx, spec, keep)
	case warehouse.RevertSetAside:
		return w.restoreSetAside(ctx, spec, tcols)
	}
	return 0, fmt.Errorf("postgres: unknown kind of revert %q", spec.Kind)
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
	t := w.target(spec.Target)
	row := rowJSON("s", keep)
	tag, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s AS x SET %s = m.old_value::%s FROM (
		SELECT c.rid, k.old_value FROM
			(SELECT s.ctid AS rid, %s AS j, row_number() OVER (PARTITION BY %s ORDER BY s.ctid) AS n FROM %s AS s) c
			JOIN (SELECT repaired_row, old_value, row_number() OVER (PARTITION BY repaired_row ORDER BY old_value) AS n
			      FROM %s WHERE token = $1) k
			ON c.j = k.repaired_row AND c.n = k.n) m
		WHERE x.ctid = m.rid`, t, ident(col.Name), col.Type, row, row, t, w.originalsTable()), spec.Token)
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
	t := w.target(spec.Target)
	row := rowJSON("s", keep)
	// Each kept row removes one target row with the same content.
	tag, err := tx.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE ctid IN (
		SELECT rid FROM (SELECT s.ctid AS rid, %s AS j, row_number() OVER (PARTITION BY %s) AS rn FROM %s AS s) y
		JOIN (SELECT repaired_row, count(*) AS c FROM %s WHERE token = $1 AND repaired_row IS NOT NULL GROUP BY repaired_row) o
		ON y.j = o.repaired_row WHERE y.rn <= o.c)`, t, row, row, t, w.rescuedTable()), spec.Token)
	if err != nil {
		return 0, fmt.Errorf("postgres: remove the rescued rows from %s: %w", spec.Target, err)
	}
	if n := tag.RowsAffected(); n != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - n, Kept: want}
	}
	if _, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw)
		SELECT $1, $2, object_key, line, reason || $3, raw FROM %s WHERE token = $4 AND repaired_row IS NULL ORDER BY line`,
		w.target(spec.Target+warehouse.QuarantineSuffix), w.rescuedTable()),
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
	names := make([]string, 0, len(after.Columns))
	cols := make([]string, 0, len(after.Columns))
	for _, c := range after.Columns {
		found := false
		for _, b := range before.Columns {
			found = found || strings.EqualFold(b.Name, c.Name)
		}
		if !found {
			return warehouse.Rescue{}, nil // no row-for-row difference
		}
		names = append(names, ident(c.Name))
		cols = append(cols, c.Name)
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
	lines, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (token, object_key, line, reason, raw)
		SELECT $1, $2, b.line, b.reason, b.raw FROM %s b
		WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.line = b.line)`,
		w.rescuedTable(), w.staging(before.Table+"_q"), w.staging(after.Table+"_q")), token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("postgres: keep the rescued lines: %w", err)
	}
	rows, err := tx.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (token, object_key, repaired_row)
		SELECT $1, $2, %s FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r`,
		w.rescuedTable(), rowJSON("r", after.Columns), list, w.staging(after.Table), list, w.staging(before.Table)),
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
	err = w.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r JOIN %s t ON %s`,
		list, w.staging(after.Table), list, w.staging(before.Table), w.target(spec.Target), strings.Join(match, " AND "))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("postgres: keep the rescued rows: look for their keys in %s: %w", spec.Target, err)
	}
	return n > 0, nil
}
