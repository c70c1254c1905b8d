package bigquery

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// The self-healing engine's repairs, in GoogleSQL: plans arrive as data
// (warehouse.RepairOp, warehouse.Predicate) and the shared compiler
// (package sqlplan) renders them over BigQuery's leaf; the statements
// that apply, keep and revert them are written here. A staged row is
// found by its position (__shp_row).

// originalsName keeps, in shp's dataset, the values kept rewrite repairs
// replaced, for their revert.
const originalsName = "healing_originals"

var _ warehouse.Repairer = (*Warehouse)(nil)

// pendingRewrite is a rewrite applied to a staging table whose original
// values wait, in a table of shp's dataset, for KeepRepair or UndoRepair.
type pendingRewrite struct {
	staged string // the staging table
	table  string // the table of (__shp_row, shp_old)
	column string // the column, as the plan names it
}

// leaf is BigQuery's sqlplan.Leaf: GoogleSQL's quality.Dialect
// (backticks, ? placeholders, whose values shp's queries write as
// literals, see inline) and its expressions.
type leaf struct{ quality.Dialect }

// bqLeaf is BigQuery's leaf.
var bqLeaf sqlplan.Leaf = leaf{quality.BigQuery}

// Value implements sqlplan.Leaf: the value, sent as text (see asText),
// converted to the column's type; ok always, since a value that does not
// convert is NULL and matches no row (a rewrite checks Op.Fits first).
func (leaf) Value(c warehouse.Column, v any) (string, any, bool) {
	return "SAFE_CAST(? AS " + baseType(c.Type) + ")", asText(v), true
}

// RowID implements sqlplan.Leaf: the staged row's position.
func (leaf) RowID() string { return ident(rowCol) }

// PartitionKey implements sqlplan.Leaf: a FLOAT64's text, since
// GoogleSQL partitions by no FLOAT64.
func (l leaf) PartitionKey(c warehouse.Column, quoted string) string {
	if baseType(c.Type) == "FLOAT64" {
		return l.Text(quoted)
	}
	return quoted
}

// RowJSON implements sqlplan.Leaf with rowJSON.
func (leaf) RowJSON(alias string, cols []warehouse.Column) string { return rowJSON(cols, alias) }

// Matches implements sqlplan.Leaf with REGEXP_EXTRACT_ALL.
func (leaf) Matches(table, column, pattern string) string {
	return "(SELECT c FROM " + table + ", UNNEST(REGEXP_EXTRACT_ALL(" + column + ", " + pattern + ")) AS c)"
}

// ByteOrder implements sqlplan.Leaf: GoogleSQL orders strings by their
// bytes.
func (leaf) ByteOrder(expr string) string { return expr }

// asText is a predicate's or repair's value as the text Value converts:
// GoogleSQL refuses to cast, say, an INT64 to a DATE at all, where a
// value that does not fit must only match nothing.
func asText(v any) any {
	switch x := v.(type) {
	case nil, string:
		return v
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case time.Time:
		return x.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// compile compiles op against a staged object and checks that the values
// it writes fit their column.
func (w *Warehouse) compile(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp) (*sqlplan.Op, error) {
	c, err := sqlplan.Compile(bqLeaf, op, stagingRef(st.Table), st.Columns)
	if err != nil {
		return nil, err
	}
	if len(c.Fits) > 0 {
		typ := baseType(c.Type)
		marks := make([]string, len(c.Fits))
		for i := range c.Fits {
			marks[i] = "COUNTIF(SAFE_CAST(? AS " + typ + ") IS NULL)"
		}
		n, err := w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("fits")}, "SELECT "+strings.Join(marks, " + ")+" FROM UNNEST([1])", c.Fits...)
		if err != nil || n > 0 {
			return nil, fmt.Errorf("%w: %v is not a %s (column %s)", warehouse.ErrValueDoesNotFit, c.Fits, typ, op.Rewritten())
		}
	}
	return c, nil
}

// CountRows counts the staged rows for which where holds.
func (w *Warehouse) CountRows(ctx context.Context, st *warehouse.Staged, where warehouse.Predicate) (int64, error) {
	pred, err := sqlplan.Predicate(bqLeaf, where, st.Columns)
	if err != nil {
		return 0, fmt.Errorf("bigquery: count rows of %s: %w", st.ObjectKey, err)
	}
	count := sqlplan.Count(stagingRef(st.Table), pred)
	n, err := w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("count")}, count.SQL, count.Args...)
	if err != nil {
		return 0, fmt.Errorf("bigquery: count rows of %s: %w", st.ObjectKey, err)
	}
	return n, nil
}

// DistinctValues lists a column's most frequent values, as text.
func (w *Warehouse) DistinctValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]warehouse.ValueCount, error) {
	c, err := sqlplan.FindColumn(st.Columns, column)
	if err != nil {
		return nil, fmt.Errorf("bigquery: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	col := ident(c.Name)
	rows, _, err := w.queryRows(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("distinct")}, "SELECT CAST("+col+" AS STRING) AS v, COUNT(*) AS n FROM "+stagingRef(st.Table)+
		" WHERE "+col+" IS NOT NULL GROUP BY v ORDER BY n DESC, v LIMIT ?", int64(limit))
	if err != nil {
		return nil, fmt.Errorf("bigquery: values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out := make([]warehouse.ValueCount, 0, len(rows))
	for _, r := range rows {
		n, _ := r[1].(int64)
		out = append(out, warehouse.ValueCount{Value: str(r[0]), Rows: n})
	}
	return out, nil
}

// PreviewRepair says how many rows op would change, with samples.
func (w *Warehouse) PreviewRepair(ctx context.Context, st *warehouse.Staged, op warehouse.RepairOp, sample int) (*warehouse.RepairPreview, error) {
	c, err := w.compile(ctx, st, op)
	if err != nil {
		return nil, fmt.Errorf("bigquery: plan a repair of %s: %w", st.ObjectKey, err)
	}
	table := stagingRef(st.Table)
	p := &warehouse.RepairPreview{}
	count := sqlplan.Count(table, c.Where)
	if p.Rows, err = w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("preview")}, count.SQL, count.Args...); err != nil {
		return nil, fmt.Errorf("bigquery: count the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	if sample <= 0 || p.Rows == 0 {
		return p, nil
	}
	s := sqlplan.Sample(bqLeaf, table, c, sample)
	rows, _, err := w.queryRows(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("sample")}, s.SQL, s.Args...)
	if err != nil {
		return nil, fmt.Errorf("bigquery: sample the rows a repair of %s changes: %w", st.ObjectKey, err)
	}
	for _, r := range rows {
		p.Before = append(p.Before, plain(r[0]))
		if c.Rewrites() {
			p.After = append(p.After, plain(r[1]))
		}
	}
	return p, nil
}

// ApplyRepair runs a plan on the staged rows. A rewrite's original
// values wait in a table of shp's dataset named after the staging table
// (DropStaging finds it too) for KeepRepair or UndoRepair.
func (w *Warehouse) ApplyRepair(ctx context.Context, st *warehouse.Staged, plan warehouse.RepairPlan) (warehouse.RepairResult, error) {
	c, err := w.compile(ctx, st, plan.Op)
	if err != nil {
		return warehouse.RepairResult{}, fmt.Errorf("bigquery: repair %s: %w", st.ObjectKey, err)
	}
	if reason := plan.Op.SetAsideReason(); reason != "" {
		n, err := w.quarantineWhere(ctx, st, c.Where.SQL, c.Where.Args, reason)
		if err != nil {
			return warehouse.RepairResult{}, fmt.Errorf("bigquery: repair %s: %w", st.ObjectKey, err)
		}
		return warehouse.RepairResult{Rows: n}, nil
	}
	column := plan.Op.Rewritten()
	if plan.Token == "" {
		return warehouse.RepairResult{}, fmt.Errorf("bigquery: rewrite %s of %s: no token to keep the original values under", column, st.ObjectKey)
	}
	w.mu.Lock()
	_, dup := w.pending[plan.Token]
	w.mu.Unlock()
	if dup {
		return warehouse.RepairResult{}, fmt.Errorf("bigquery: rewrite %s of %s: token %q is in use", column, st.ObjectKey, plan.Token)
	}
	orig := fmt.Sprintf("%s_orig_%d", st.Table, w.seq.Add(1))
	table := stagingRef(st.Table)
	row := ident(rowCol)
	script := fmt.Sprintf(`CREATE TABLE %[1]s %[2]s AS SELECT %[3]s, %[4]s AS shp_old FROM %[5]s WHERE %[6]s;
UPDATE %[5]s SET %[4]s = %[7]s WHERE %[3]s IN (SELECT %[3]s FROM %[1]s);
SELECT COUNT(*) FROM %[1]s;`, stagingRef(orig), w.expiration(), row, c.Column, table, c.Where.SQL, c.Set.SQL)
	args := append(append([]any{}, c.Where.Args...), c.Set.Args...)
	w.mu.Lock()
	w.staged[orig] = true
	w.mu.Unlock()
	n, err := w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("rewrite")}, script, args...)
	if err != nil {
		_ = w.dropTables(ctx, jobMeta{}, orig)
		return warehouse.RepairResult{}, fmt.Errorf("bigquery: rewrite %s of %s: %w", column, st.ObjectKey, err)
	}
	w.mu.Lock()
	w.pending[plan.Token] = pendingRewrite{staged: st.Table, table: orig, column: column}
	w.mu.Unlock()
	return warehouse.RepairResult{Rows: n}, nil
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
		_ = w.dropTables(ctx, jobMeta{}, p.table)
	}
}

// dropPending forgets the pending rewrites of a staging table that is
// dropped; their tables go with the staging (see dropTables' callers).
func (w *Warehouse) dropPending(staged string) {
	w.mu.Lock()
	var tables []string
	for token, p := range w.pending {
		if p.staged == staged {
			tables = append(tables, p.table)
			delete(w.pending, token)
		}
	}
	w.mu.Unlock()
	if len(tables) > 0 {
		_ = w.dropTables(context.Background(), jobMeta{}, tables...)
	}
}

// KeepRepair keeps an applied rewrite's original values, with each
// repaired row as JSON, in shp's healing_originals.
func (w *Warehouse) KeepRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("bigquery: keep the original values: %w", err)
	}
	defer w.forget(ctx, token)
	script := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (token STRING NOT NULL, column_name STRING NOT NULL, old_value STRING, repaired_row STRING NOT NULL);
INSERT INTO %[1]s (token, column_name, old_value, repaired_row)
SELECT ?, ?, CAST(o.shp_old AS STRING), %[2]s FROM %[3]s t JOIN %[4]s o ON t.%[5]s = o.%[5]s;`,
		w.shp(originalsName), rowJSON(st.Columns, "t"), stagingRef(st.Table), stagingRef(p.table), ident(rowCol))
	if _, err := w.exec(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("keep")}, script, token, p.column); err != nil {
		return fmt.Errorf("bigquery: keep the original values: %w", err)
	}
	return nil
}

// UndoRepair puts back the values an applied rewrite replaced.
func (w *Warehouse) UndoRepair(ctx context.Context, st *warehouse.Staged, token string) error {
	p, err := w.pendingOf(st, token)
	if err != nil {
		return fmt.Errorf("bigquery: roll back: %w", err)
	}
	defer w.forget(ctx, token)
	c, err := sqlplan.FindColumn(st.Columns, p.column)
	if err != nil {
		return fmt.Errorf("bigquery: roll back: %w", err)
	}
	if _, err := w.exec(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("undo")},
		// A MERGE, not UPDATE ... FROM, which the emulator does not run.
		fmt.Sprintf("MERGE %[1]s t USING %[3]s o ON t.%[4]s = o.%[4]s WHEN MATCHED THEN UPDATE SET %[2]s = o.shp_old",
			stagingRef(st.Table), ident(c.Name), stagingRef(p.table), ident(rowCol))); err != nil {
		return fmt.Errorf("bigquery: roll back %s: %w", p.column, err)
	}
	return nil
}

// ErrNotSupported says a repair the BigQuery warehouse does not run yet:
// the healing engine then records the proposal without applying it.
var ErrNotSupported = errors.New("not supported by the BigQuery warehouse yet")

// KeepRescued is not supported yet: a stage repair on BigQuery cannot be
// reverted after its commit (see README, "BigQuery warehouse").
func (w *Warehouse) KeepRescued(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged) (warehouse.Rescue, error) {
	return warehouse.Rescue{}, nil
}

// RevertRepair undoes a kept repair in its target: a rewrite's values
// put back, a set-aside's rows moved back from the quarantine. Reverting
// a stage repair's rescue is not supported yet (KeepRescued keeps
// nothing).
func (w *Warehouse) RevertRepair(ctx context.Context, spec warehouse.RevertSpec) (int64, error) {
	tcols, err := w.targetColumns(ctx, spec.Target)
	if err != nil {
		return 0, fmt.Errorf("bigquery: %w", err)
	}
	if tcols == nil {
		return 0, fmt.Errorf("bigquery: target %s does not exist", spec.Target)
	}
	return sqlplan.Revert(ctx, "bigquery", spec, engineColumns(tcols), sqlplan.Reverts{
		Rewrite: w.restoreOriginals,
		Rescue: func(context.Context, warehouse.RevertSpec, []warehouse.Column) (int64, error) {
			return 0, fmt.Errorf("bigquery: revert a stage repair in %s: %w", spec.Target, ErrNotSupported)
		},
		SetAside: func(ctx context.Context, spec warehouse.RevertSpec, _ []warehouse.Column) (int64, error) {
			return w.restoreSetAside(ctx, spec, tcols)
		},
	})
}

// restoreOriginals puts back the values a rewrite replaced: the target
// rows whose columns, as JSON, are a kept repaired row get its old value.
// All or nothing: when fewer target rows are as the repair left them
// than it kept, nothing changes (*warehouse.ChangedSinceError).
func (w *Warehouse) restoreOriginals(ctx context.Context, spec warehouse.RevertSpec, col warehouse.Column, keep []warehouse.Column) (int64, error) {
	row := rowJSON(keep, "t")
	orig := w.shp(originalsName)
	m := jobMeta{step: w.nextStep("revert")}
	rows, _, err := w.queryRows(ctx, m, fmt.Sprintf(`SELECT
		(SELECT COUNT(*) FROM %[1]s WHERE token = ?),
		(SELECT COALESCE(SUM(LEAST(k.n, c.n)), 0) FROM (SELECT repaired_row, COUNT(*) AS n FROM %[1]s WHERE token = ? GROUP BY repaired_row) k
		 JOIN (SELECT %[2]s AS j, COUNT(*) AS n FROM %[3]s t GROUP BY j) c ON c.j = k.repaired_row)`,
		orig, row, w.target(spec.Target)), spec.Token, spec.Token)
	if err != nil {
		return 0, fmt.Errorf("bigquery: read the original values: %w", err)
	}
	var want, found int64
	if len(rows) == 1 {
		want, _ = rows[0][0].(int64)
		found, _ = rows[0][1].(int64)
	}
	if found != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - found, Kept: want}
	}
	if want == 0 {
		return 0, nil
	}
	// The kept values in a table first: the emulator merges from a table
	// only.
	tmp := "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	if _, err := w.exec(ctx, jobMeta{step: w.nextStep("revert")}, fmt.Sprintf(`CREATE TEMP TABLE %[6]s AS
		SELECT repaired_row, ANY_VALUE(old_value) AS old_value FROM %[2]s WHERE token = ? GROUP BY repaired_row;
		MERGE %[1]s t USING %[6]s k
		ON %[3]s = k.repaired_row
		WHEN MATCHED THEN UPDATE SET %[4]s = SAFE_CAST(k.old_value AS %[5]s);`,
		w.target(spec.Target), orig, row, ident(col.Name), baseType(col.Type), tmp), spec.Token); err != nil {
		return 0, fmt.Errorf("bigquery: restore %s.%s: %w", spec.Target, col.Name, err)
	}
	return want, nil
}

// plainName is a column name a JSON path names without quotes.
var plainName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// restoreSetAside moves the rows a repair set aside from the target's
// quarantine back into the target, reading each from the JSON it was
// set aside as, in one transaction.
func (w *Warehouse) restoreSetAside(ctx context.Context, spec warehouse.RevertSpec, tcols []column) (int64, error) {
	q := w.target(spec.Target + warehouse.QuarantineSuffix)
	sel := make([]string, len(tcols))
	for i, c := range tcols {
		path := stringLiteral(`$."` + strings.ReplaceAll(c.Name, `"`, `\"`) + `"`)
		if plainName.MatchString(c.Name) {
			path = stringLiteral("$." + c.Name)
		}
		switch c.Type {
		case "JSON":
			sel[i] = "SAFE.PARSE_JSON(JSON_QUERY(raw, " + path + "))"
		case "BYTES":
			sel[i] = "SAFE.FROM_BASE64(JSON_VALUE(raw, " + path + "))"
		default:
			sel[i] = "SAFE_CAST(JSON_VALUE(raw, " + path + ") AS " + c.Type + ")"
		}
		sel[i] += " AS " + ident(c.Name)
	}
	where := fmt.Sprintf("run_id = %s AND pipeline = %s AND source_object = %s AND reason = %s",
		stringLiteral(spec.RunID), stringLiteral(spec.Pipeline), stringLiteral(spec.ObjectKey), stringLiteral(spec.Reason))
	tmp := "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	script := fmt.Sprintf(`CREATE TEMP TABLE %[1]s AS SELECT %[2]s FROM %[3]s WHERE %[4]s;
BEGIN TRANSACTION;
INSERT INTO %[5]s (%[6]s) SELECT %[6]s FROM %[1]s;
DELETE FROM %[3]s WHERE %[4]s;
COMMIT TRANSACTION;
SELECT COUNT(*) FROM %[1]s;`, tmp, strings.Join(sel, ", "), q, where, w.target(spec.Target), columnList(tcols))
	n, err := w.queryInt(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, step: w.nextStep("revert")}, script)
	if err != nil {
		return 0, fmt.Errorf("bigquery: restore the rows set aside into %s: %w", spec.Target, err)
	}
	return n, nil
}
