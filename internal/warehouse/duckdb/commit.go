package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// quarantineColumns is the quarantine table's shape: enough to find, read
// and replay every row that could not be loaded.
const quarantineColumns = `(
	run_id VARCHAR NOT NULL,
	pipeline VARCHAR NOT NULL,
	source_object VARCHAR NOT NULL,
	line BIGINT,
	reason VARCHAR NOT NULL,
	raw VARCHAR,
	quarantined_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)`

// Commit makes staged objects part of the target in one transaction: the
// rows, the quarantined rows and the ledger entries all land, or none do.
func (w *Warehouse) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	var res *warehouse.CommitResult
	err := w.roomFor(ctx, "commit into "+spec.Target, func() (err error) {
		res, err = w.commit(ctx, spec)
		return err
	})
	w.unclaim(spec.RunID, spec.Target)
	// Staging tables are dropped whatever happened: a failed commit is
	// retried from the staged files, not from these tables.
	for _, o := range spec.Objects {
		w.dropPending(ctx, o.Table)
		for _, t := range sqlplan.StagingTables(o) {
			_, _ = w.conn.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+stagingRef(t))
		}
		w.releaseCheckpoints(ctx, o.Table)
	}
	if err != nil {
		return nil, fmt.Errorf("duckdb: commit run %s into %s: %w", spec.RunID, spec.Target, err)
	}
	return res, nil
}

func (w *Warehouse) commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	if err := sqlplan.CheckMode(spec); err != nil {
		return nil, err
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()

	target := qualified("main", spec.Target)
	qtable := qualified("main", spec.Target+warehouse.QuarantineSuffix)
	targetCols, changes, created, err := w.ensureTarget(ctx, tx, spec)
	if err != nil {
		return nil, err
	}
	// A target this commit creates may be a staged object's table.
	attach := created
	if _, err := logExec(ctx, tx, "CREATE TABLE IF NOT EXISTS "+qtable+" "+quarantineColumns); err != nil {
		return nil, fmt.Errorf("create quarantine table: %w", err)
	}
	del := func(q string, args ...any) error { _, err := logExec(ctx, tx, q, args...); return err }
	if err := sqlplan.Clear(duck, del, spec, target, qtable, ledgerTable); err != nil {
		return nil, err
	}

	res := &warehouse.CommitResult{SchemaChanges: changes}
	var sorted *optimize.Change
	if !created {
		if sorted, err = w.batchSort(ctx, tx, spec.Target); err != nil {
			return nil, err
		}
	}
	appendRows := spec.Mode != warehouse.ModeMerge
	if !appendRows {
		// The batch has the columns of all its objects.
		var batchCols []warehouse.Column
		for _, o := range spec.Objects {
			for _, c := range o.Columns {
				if !hasColumn(batchCols, c.Name) {
					batchCols = append(batchCols, c)
				}
			}
		}
		if appendRows, err = merge(ctx, tx, spec, target, targetCols, created, w.orderFor(sorted, batchCols), res); err != nil {
			return nil, err
		}
	}
	if appendRows {
		for _, o := range spec.Objects {
			if attach && len(o.Columns) > 0 {
				// Only the first object with rows to write may stand for
				// the new target: the others are appended to it.
				attach = false
				ok, err := w.attachStaged(ctx, tx, spec.Target, o)
				if err != nil {
					return nil, err
				}
				if ok {
					var n int64
					if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+target).Scan(&n); err != nil {
						return nil, fmt.Errorf("count the rows of %s: %w", o.ObjectKey, err)
					}
					res.Inserted += n
					continue
				}
			}
			n, err := exec(ctx, tx, fmt.Sprintf("INSERT INTO %s BY NAME SELECT %s FROM %s%s",
				target, selectList(o.Columns), stagingRef(o.Table), w.orderFor(sorted, o.Columns)))
			if err != nil {
				return nil, fmt.Errorf("insert rows of %s: %w", o.ObjectKey, err)
			}
			res.Inserted += n
		}
	}
	for _, o := range spec.Objects {
		n, err := exec(ctx, tx, fmt.Sprintf(`INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw)
			SELECT ?, ?, ?, line, reason, raw FROM %s ORDER BY line`, qtable, stagingRef(o.Table+"_q")),
			spec.RunID, spec.Pipeline, o.ObjectKey)
		if err != nil {
			return nil, fmt.Errorf("quarantine rows of %s: %w", o.ObjectKey, err)
		}
		res.Quarantined += n
		for _, c := range o.Checks {
			if _, err := logExec(ctx, tx, `INSERT INTO `+qualityTable+
				` (run_id, pipeline, target, object_key, rule, expectation, severity, action, success, quality_score, result)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
				spec.RunID, spec.Pipeline, spec.Target, o.ObjectKey, c.Rule, c.Expectation, c.Severity, c.Action,
				c.Success, c.Score, c.Result); err != nil {
				return nil, fmt.Errorf("record quality results of %s: %w", o.ObjectKey, err)
			}
		}
		// Rows an earlier, uncommitted run of this object set aside are
		// superseded by this commit's quarantine.
		if _, err := logExec(ctx, tx, `DELETE FROM `+setAsideTable+` WHERE pipeline = ? AND source_object = ?`, spec.Pipeline, o.ObjectKey); err != nil {
			return nil, fmt.Errorf("clear the rows set aside from %s: %w", o.ObjectKey, err)
		}
		if _, err := logExec(ctx, tx, `INSERT INTO `+ledgerTable+
			` (pipeline, object_key, fingerprint, run_id, target, rows_loaded, rows_quarantined, content_hash) VALUES (?, ?, ?, ?, ?, ?, ?, nullif(?, ''))`,
			spec.Pipeline, o.ObjectKey, o.Fingerprint, spec.RunID, spec.Target, o.Loaded, o.Quarantined, o.ContentHash); err != nil {
			return nil, fmt.Errorf("record %s in the load ledger: %w", o.ObjectKey, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return res, nil
}

// ensureTarget creates the target from the first staged object's columns
// when it is absent, and adds columns that staged data has and the target
// lacks (additive schema evolution). It returns the target's columns and
// the changes it made to an existing target, and whether it created it.
func (w *Warehouse) ensureTarget(ctx context.Context, tx *sql.Tx, spec warehouse.CommitSpec) (cols []warehouse.Column, changes []warehouse.SchemaChange, created bool, err error) {
	cols, err = columns(ctx, tx, spec.Target, false)
	if err != nil {
		return nil, nil, false, err
	}
	target := qualified("main", spec.Target)
	if len(cols) == 0 {
		for _, o := range spec.Objects {
			if len(o.Columns) > 0 {
				cols = o.Columns
				break
			}
		}
		if len(cols) == 0 {
			return nil, nil, false, nil
		}
		defs := make([]string, len(cols))
		for i, c := range cols {
			defs[i] = ident(c.Name) + " " + c.Type
		}
		if _, err := logExec(ctx, tx, "CREATE TABLE "+target+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return nil, nil, false, fmt.Errorf("create target table: %w", err)
		}
		created = true
		// Later objects of the batch may have more columns (a repair
		// added one): they are added below.
	}
	for _, o := range spec.Objects {
		for _, c := range o.Columns {
			for i, t := range cols {
				// A repair widened the column (INT to DOUBLE, DATE to
				// TIMESTAMP): the target follows.
				if strings.EqualFold(t.Name, c.Name) && Widens(t.Type, c.Type) {
					if _, err := logExec(ctx, tx, "ALTER TABLE "+target+" ALTER "+ident(t.Name)+" SET DATA TYPE "+c.Type); err != nil {
						return nil, nil, false, fmt.Errorf("widen column %s from %s to %s: %w", t.Name, t.Type, c.Type, err)
					}
					changes = append(changes, warehouse.SchemaChange{Column: t.Name, Kind: "widened", From: t.Type, To: c.Type})
					cols[i].Type = c.Type
				}
			}
			if hasColumn(cols, c.Name) {
				continue
			}
			if _, err := logExec(ctx, tx, "ALTER TABLE "+target+" ADD COLUMN "+ident(c.Name)+" "+c.Type); err != nil {
				return nil, nil, false, fmt.Errorf("add column %s: %w", c.Name, err)
			}
			changes = append(changes, warehouse.SchemaChange{Column: c.Name, Kind: "added", To: c.Type})
			cols = append(cols, c)
		}
	}
	return cols, changes, created, nil
}

func hasColumn(cols []warehouse.Column, name string) bool {
	for _, c := range cols {
		if strings.EqualFold(c.Name, name) {
			return true
		}
	}
	return false
}

func selectList(cols []warehouse.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = ident(c.Name)
	}
	return strings.Join(names, ", ")
}

// merge upserts on the key: within the batch the last row for a key wins
// (later object, later line) and the others are counted as de-duplicated;
// target rows with a batch key are replaced. Into a target the commit
// created (created), a batch holding each key once is written as an
// append: merge writes nothing and says so (appendRows), and the caller
// appends the objects as they are.
func merge(ctx context.Context, tx *sql.Tx, spec warehouse.CommitSpec, target string, targetCols []warehouse.Column, created bool, order string,
	res *warehouse.CommitResult) (appendRows bool, err error) {
	if len(spec.Objects) == 0 {
		return false, nil
	}
	for _, k := range spec.Key {
		if !hasColumn(targetCols, k) {
			return false, fmt.Errorf("merge key %q is not a column of %s", k, spec.Target)
		}
	}
	// Columns some object lacks (loaded as NULL): for the rows they
	// replace, the target's values stay. A flag per column says, row by
	// row, whether the row's object carried it.
	var keep []string
	for _, o := range spec.Objects {
		for _, m := range o.Missing {
			if hasColumn(targetCols, m) && !containsFold(keep, m) && !containsFold(spec.Key, m) {
				keep = append(keep, m)
			}
		}
	}
	flag := func(j int) string { return ident(fmt.Sprintf("__shp_has_%d", j)) }
	var parts []string
	var total int64
	for i, o := range spec.Objects {
		flags := ""
		for j, k := range keep {
			flags += fmt.Sprintf(", %t AS %s", !containsFold(o.Missing, k), flag(j))
		}
		parts = append(parts, fmt.Sprintf("SELECT %s%s, %d AS __shp_obj, rowid AS __shp_row FROM %s",
			selectList(o.Columns), flags, i, stagingRef(o.Table)))
		total += o.Loaded
	}
	keys := make([]string, len(spec.Key))
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		keys[i] = ident(k)
		match[i] = fmt.Sprintf("b.%s = t.%s", ident(k), ident(k))
	}
	union := strings.Join(parts, " UNION ALL BY NAME ")
	// Most batches hold each key once: then the batch is the staged rows
	// as they are, and the costly ranking of rows per key is skipped.
	keyExpr := keys[0]
	if len(keys) > 1 {
		keyExpr = "(" + strings.Join(keys, ", ") + ")"
	}
	var distinct int64
	if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT count(DISTINCT %s) FROM (%s)", keyExpr, union)).Scan(&distinct); err != nil {
		return false, fmt.Errorf("merge: count keys: %w", err)
	}
	if created && distinct == total && len(keep) == 0 {
		// Into a target this commit made: each key once is an append,
		// which may attach the first object's table.
		return true, nil
	}
	// Leftovers of an earlier merge on this connection; which kind, if any,
	// is unknown, so a failing drop is fine.
	for _, t := range []string{"__shp_batch", "__shp_old"} {
		_, _ = logExec(ctx, tx, "DROP VIEW IF EXISTS "+t)
		_, _ = logExec(ctx, tx, "DROP TABLE IF EXISTS "+t)
	}
	var stmts []string
	if distinct == total {
		stmts = append(stmts, fmt.Sprintf("CREATE TEMP VIEW __shp_batch AS SELECT * EXCLUDE (__shp_obj, __shp_row) FROM (%s)", union))
	} else {
		// The last row of a key wins; a column its object lacks takes the
		// value of the key's latest row whose object carried it, if any
		// (a struct, so that a NULL it carried counts as carried).
		part := "PARTITION BY " + strings.Join(keys, ", ")
		var carried, excl, repl []string
		for j, k := range keep {
			v, carriedBy := ident(fmt.Sprintf("__shp_v_%d", j)), ident(fmt.Sprintf("__shp_any_%d", j))
			carried = append(carried, fmt.Sprintf(", last_value(CASE WHEN %[1]s THEN struct_pack(v := %[2]s) END IGNORE NULLS) OVER "+
				"(%[3]s ORDER BY __shp_obj, __shp_row ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS %[4]s, bool_or(%[1]s) OVER (%[3]s) AS %[5]s",
				flag(j), ident(k), part, v, carriedBy))
			excl = append(excl, ", "+v+", "+carriedBy)
			repl = append(repl, fmt.Sprintf("CASE WHEN %[1]s THEN %[2]s ELSE %[3]s.v END AS %[2]s, %[4]s AS %[1]s", flag(j), ident(k), v, carriedBy))
		}
		replace := ""
		if len(repl) > 0 {
			replace = " REPLACE (" + strings.Join(repl, ", ") + ")"
		}
		stmts = append(stmts, fmt.Sprintf(`CREATE TEMP TABLE __shp_batch AS SELECT * EXCLUDE (__shp_obj, __shp_row, __shp_rn%s)%s FROM (
			SELECT *, row_number() OVER (%s ORDER BY __shp_obj DESC, __shp_row DESC) AS __shp_rn%s
			FROM (%s)) WHERE __shp_rn = 1`, strings.Join(excl, ""), replace, part, strings.Join(carried, ""), union))
	}
	if len(keep) > 0 {
		// The rows about to be replaced, for the values the batch lacks:
		// one per key, so that a target holding a key twice cannot
		// multiply the rows inserted.
		stmts = append(stmts, fmt.Sprintf("CREATE TEMP TABLE __shp_old AS SELECT %s FROM %s t WHERE EXISTS (SELECT 1 FROM __shp_batch b WHERE %s) QUALIFY row_number() OVER (PARTITION BY %s) = 1",
			selectList(columnsNamed(append(append([]string{}, spec.Key...), keep...))), target, strings.Join(match, " AND "), strings.Join(keys, ", ")))
	}
	for _, s := range stmts {
		if _, err := logExec(ctx, tx, s); err != nil {
			return false, fmt.Errorf("merge: build batch: %w", err)
		}
	}
	defer func() {
		for _, t := range []string{"__shp_batch", "__shp_old"} {
			_, _ = tx.ExecContext(context.WithoutCancel(ctx), "DROP VIEW IF EXISTS "+t)
			_, _ = tx.ExecContext(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+t)
		}
	}()
	batch := distinct
	res.Deduplicated = total - batch
	if len(keep) > 0 {
		res.Kept = map[string]int64{}
		for j, k := range keep {
			var n int64
			if err := tx.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM __shp_batch b JOIN __shp_old t ON %s WHERE NOT b.%s",
				strings.Join(match, " AND "), flag(j))).Scan(&n); err != nil {
				return false, fmt.Errorf("merge: count kept values of %s: %w", k, err)
			}
			if n > 0 {
				res.Kept[k] = n
			}
		}
	}
	var updated int64
	if !created { // a target this commit made has no row to replace
		if updated, err = exec(ctx, tx, fmt.Sprintf("DELETE FROM %s t WHERE EXISTS (SELECT 1 FROM __shp_batch b WHERE %s)",
			target, strings.Join(match, " AND "))); err != nil {
			return false, fmt.Errorf("merge: remove replaced rows: %w", err)
		}
	}
	sel := "SELECT * FROM __shp_batch"
	if len(keep) > 0 {
		flags := make([]string, len(keep))
		repl := make([]string, len(keep))
		for j, k := range keep {
			flags[j] = flag(j)
			repl[j] = fmt.Sprintf("CASE WHEN b.%[1]s THEN b.%[2]s ELSE t.%[2]s END AS %[2]s", flag(j), ident(k))
		}
		sel = fmt.Sprintf("SELECT b.* EXCLUDE (%s) REPLACE (%s) FROM __shp_batch b LEFT JOIN __shp_old t ON %s",
			strings.Join(flags, ", "), strings.Join(repl, ", "), strings.Join(match, " AND "))
	}
	insert := "INSERT INTO " + target + " BY NAME " + sel
	if order != "" {
		// Sorted as the table is: the sort's names are the batch's
		// columns, not the joined tables'.
		insert = "INSERT INTO " + target + " BY NAME SELECT * FROM (" + sel + ")" + order
	}
	if _, err := exec(ctx, tx, insert); err != nil {
		return false, fmt.Errorf("merge: insert rows: %w", err)
	}
	res.Updated = updated
	res.Inserted = batch - updated
	return false, nil
}

func containsFold(list []string, name string) bool {
	for _, l := range list {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}

// columnsNamed makes a column list for selectList.
func columnsNamed(names []string) []warehouse.Column {
	out := make([]warehouse.Column, len(names))
	for i, n := range names {
		out[i] = warehouse.Column{Name: n}
	}
	return out
}
