package bigquery

import (
	"context"
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

// rescuedName keeps, in shp's dataset, what stage repairs rescued from
// quarantine (KeepRescued), for their revert.
const rescuedName = "healing_rescued"

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

// KeepRescued keeps what a stage repair rescued, in shp's
// healing_rescued, under the repaired staging's name as the token: each
// line it took out of quarantine (line, reason, raw text) and each row it
// became, as JSON over the columns the two stagings share. It keeps
// nothing when the stagings do not pair up row for row (the new reading
// also changed rows that loaded before, or a column was added), and
// nothing but ReplacesKeys when a rescued row's key is in the target
// already (merged, it replaces that row). Lines and rows are kept all or
// nothing, in one transaction.
func (w *Warehouse) KeepRescued(ctx context.Context, spec warehouse.LoadSpec, before, after *warehouse.Staged) (warehouse.Rescue, error) {
	rescued := before.Quarantined - after.Quarantined
	if rescued <= 0 {
		return warehouse.Rescue{}, nil
	}
	quoted, names, ok := sqlplan.RescueColumns(bqLeaf, before.Columns, after.Columns)
	if !ok {
		return warehouse.Rescue{}, nil // no row-for-row difference
	}
	rows := sqlplan.RescuedRows(bqLeaf, stagingRef(before.Table), stagingRef(after.Table), strings.Join(quoted, ", "), after.Columns)
	if replaces, err := w.rescueReplaces(ctx, spec, after, rows); err != nil || replaces {
		return warehouse.Rescue{ReplacesKeys: replaces}, err
	}
	token := after.Table
	lines, kept, guard := w.tempName(), w.tempName(), w.tempName()
	// What to keep is taken into temporary tables first, and kept only
	// when both counts are the rescued lines' (the guard's one row): the
	// emulator runs no IF, and a script's variables are evaluated where
	// they are read. So the lines are found here, by a join, rather than
	// by sqlplan.KeepRescuedLines, which inserts them at once.
	script := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (token STRING NOT NULL, object_key STRING, line INT64, reason STRING, raw STRING, repaired_row STRING);
CREATE TEMP TABLE %[2]s AS SELECT b.line, b.reason, b.raw FROM %[5]s b LEFT JOIN %[6]s a ON a.line = b.line WHERE a.line IS NULL;
CREATE TEMP TABLE %[3]s AS %[7]s;
CREATE TEMP TABLE %[4]s AS SELECT 1 AS __shp_ok FROM (SELECT (SELECT COUNT(*) FROM %[2]s) AS l, (SELECT COUNT(*) FROM %[3]s) AS r) c WHERE c.l = ? AND c.r = ?;
BEGIN TRANSACTION;
INSERT INTO %[1]s (token, object_key, line, reason, raw) SELECT ?, ?, line, reason, raw FROM %[2]s CROSS JOIN %[4]s;
INSERT INTO %[1]s (token, object_key, repaired_row) SELECT ?, ?, __shp_j FROM %[3]s CROSS JOIN %[4]s;
COMMIT TRANSACTION;
SELECT (SELECT COUNT(*) FROM %[2]s), (SELECT COUNT(*) FROM %[3]s);`,
		w.shp(rescuedName), lines, kept, guard, stagingRef(quarantineOf(before.Table)), stagingRef(quarantineOf(after.Table)), rows)
	got, _, err := w.queryRows(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: after.ObjectKey, step: w.nextStep("rescue")}, script,
		rescued, rescued, token, after.ObjectKey, token, after.ObjectKey)
	if err != nil {
		return warehouse.Rescue{}, fmt.Errorf("bigquery: keep the rows rescued in %s: %w", after.ObjectKey, err)
	}
	var nLines, nRows int64
	if len(got) == 1 && len(got[0]) == 2 {
		nLines, _ = got[0][0].(int64)
		nRows, _ = got[0][1].(int64)
	}
	if nLines != rescued || nRows != rescued {
		return warehouse.Rescue{}, nil // the guard kept nothing
	}
	return warehouse.Rescue{Token: token, RowColumns: names}, nil
}

// rescueReplaces reports whether a rescued row (rows, sqlplan.RescuedRows)
// has a key the target holds already: merged, it replaces that row.
func (w *Warehouse) rescueReplaces(ctx context.Context, spec warehouse.LoadSpec, after *warehouse.Staged, rows string) (bool, error) {
	if len(spec.Key) == 0 || spec.Target == "" {
		return false, nil
	}
	tcols, err := w.targetColumns(ctx, spec.Target)
	if err != nil || tcols == nil {
		return false, err
	}
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		match[i] = "t." + ident(k) + " = r." + ident(k)
	}
	n, err := w.queryInt(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: after.ObjectKey, step: w.nextStep("rescue-keys")},
		"SELECT COUNT(*) FROM ("+rows+") r JOIN "+w.target(spec.Target)+" t ON "+strings.Join(match, " AND "))
	if err != nil {
		return false, fmt.Errorf("bigquery: keep the rescued rows: look for their keys in %s: %w", spec.Target, err)
	}
	return n > 0, nil
}

// tempName names a temporary table of one script.
func (w *Warehouse) tempName() string {
	return "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
}

// RevertRepair undoes a kept repair in its target: a rewrite's values
// put back, a set-aside's rows moved back from the quarantine, a stage
// repair's rescued rows moved back to the quarantine.
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
		Rescue: func(ctx context.Context, spec warehouse.RevertSpec, keep []warehouse.Column) (int64, error) {
			return w.revertRescue(ctx, spec, keep, tcols)
		},
		SetAside: func(ctx context.Context, spec warehouse.RevertSpec, _ []warehouse.Column) (int64, error) {
			return w.restoreSetAside(ctx, spec, tcols)
		},
	})
}

// revertRescue moves the rows a stage repair rescued from the target,
// whose columns are tcols, back to its quarantine, with the reason they
// were first set aside and spec's note, in one transaction. BigQuery has
// no row id: the target's rows whose JSON over keep is a kept row are
// taken out, and put back but for as many copies as were kept. All or
// nothing: when the target holds fewer of them than were kept, nothing
// changes (*warehouse.ChangedSinceError).
func (w *Warehouse) revertRescue(ctx context.Context, spec warehouse.RevertSpec, keep []warehouse.Column, tcols []column) (int64, error) {
	kept, dup, counts, guard := w.tempName(), w.tempName(), w.tempName(), w.tempName()
	target := w.target(spec.Target)
	qtable := w.target(spec.Target + warehouse.QuarantineSuffix)
	rescued := w.shp(rescuedName)
	// The guard has one row when the target holds every kept row, none
	// otherwise; every change reads it (the emulator runs no IF).
	script := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %[1]s (run_id STRING NOT NULL, pipeline STRING NOT NULL, %[2]s);
CREATE TEMP TABLE %[4]s AS SELECT repaired_row AS __shp_k, COUNT(*) AS __shp_c FROM %[3]s WHERE token = ? AND repaired_row IS NOT NULL GROUP BY repaired_row;
CREATE TEMP TABLE %[5]s AS SELECT x.*, ROW_NUMBER() OVER (PARTITION BY x.__shp_j) AS __shp_n FROM (SELECT t.*, %[9]s AS __shp_j FROM %[8]s t) x
	WHERE x.__shp_j IN (SELECT __shp_k FROM %[4]s);
CREATE TEMP TABLE %[6]s AS SELECT
	(SELECT COALESCE(SUM(__shp_c), 0) FROM %[4]s) AS want,
	(SELECT COALESCE(SUM(LEAST(k.__shp_c, d.n)), 0) FROM %[4]s k JOIN (SELECT __shp_j, COUNT(*) AS n FROM %[5]s GROUP BY __shp_j) d ON d.__shp_j = k.__shp_k) AS found;
CREATE TEMP TABLE %[7]s AS SELECT 1 AS __shp_ok FROM %[6]s WHERE found = want;
BEGIN TRANSACTION;
DELETE FROM %[8]s WHERE %[10]s IN (SELECT __shp_j FROM %[5]s CROSS JOIN %[7]s);
INSERT INTO %[8]s (%[11]s) SELECT %[11]s FROM %[5]s d JOIN %[4]s k ON d.__shp_j = k.__shp_k CROSS JOIN %[7]s WHERE d.__shp_n > k.__shp_c;
%[12]s;
COMMIT TRANSACTION;
SELECT want, found FROM %[6]s;`,
		qtable, quarantineColumns, rescued, kept, dup, counts, guard, target, rowJSON(keep, "t"), rowJSON(keep), columnList(tcols),
		sqlplan.ReturnRescuedAt(qtable, rescued+" CROSS JOIN "+guard, "CURRENT_TIMESTAMP()"))
	rows, _, err := w.queryRows(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: spec.ObjectKey, step: w.nextStep("revert")}, script,
		spec.Token, spec.RunID, spec.Pipeline, spec.Note, spec.Token)
	if err != nil {
		return 0, fmt.Errorf("bigquery: move the rescued rows of %s back to quarantine: %w", spec.Target, err)
	}
	var want, found int64
	if len(rows) == 1 && len(rows[0]) == 2 {
		want, _ = rows[0][0].(int64)
		found, _ = rows[0][1].(int64)
	}
	if found != want {
		return 0, &warehouse.ChangedSinceError{Changed: want - found, Kept: want}
	}
	return want, nil
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
	tmp := w.tempName()
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
	tmp := w.tempName()
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
