package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// ErrConcurrentRun is returned by Commit when another run of the same
// pipeline committed after this run began staging: two runs of one
// pipeline cannot both commit.
var ErrConcurrentRun = errors.New("another run of the pipeline committed while this one was loading")

// Commit makes staged objects part of the target in one transaction: the
// rows, the quarantined rows, the quality results and the ledger entries
// all land, or none do. Staging tables are dropped whatever happened: a
// failed commit is retried from the staged files.
func (w *Warehouse) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	res, err := w.commit(ctx, spec)
	for _, o := range spec.Objects {
		w.dropPending(ctx, o.Table)
		for _, t := range sqlplan.StagingTables(o) {
			_, _ = w.pool.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS "+w.staging(t))
		}
		w.release(o.Table, o.Table+"_q")
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: commit run %s into %s: %w", spec.RunID, spec.Target, err)
	}
	w.mu.Lock()
	delete(w.marks, spec.RunID)
	w.mu.Unlock()
	return res, nil
}

func (w *Warehouse) commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	if err := sqlplan.CheckMode(spec); err != nil {
		return nil, err
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Commits into one target queue here; others do not wait.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "shp.commit:"+w.schema+"."+spec.Target); err != nil {
		return nil, fmt.Errorf("lock %s: %w", spec.Target, err)
	}
	if err := w.checkConcurrentRun(ctx, tx, spec); err != nil {
		return nil, err
	}
	target := w.target(spec.Target)
	qtable := w.target(spec.Target + warehouse.QuarantineSuffix)
	tcols, changes, err := w.ensureTarget(ctx, tx, spec)
	if err != nil {
		return nil, err
	}
	if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+qtable+" "+quarantineColumns); err != nil {
		return nil, fmt.Errorf("create quarantine table: %w", err)
	}
	del := func(q string, args ...any) error { _, err := tx.Exec(ctx, q, args...); return err }
	if err := sqlplan.Clear(pg, del, spec, target, qtable, w.ledger()); err != nil {
		return nil, err
	}
	res := &warehouse.CommitResult{SchemaChanges: changes}
	if spec.Mode == warehouse.ModeMerge {
		if err := w.merge(ctx, tx, spec, target, tcols, res); err != nil {
			return nil, err
		}
	} else {
		for _, o := range spec.Objects {
			if len(o.Columns) == 0 {
				continue
			}
			names, sel := insertList(o.Columns, tcols, "")
			tag, err := tx.Exec(ctx, fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s", target, names, sel, w.staging(o.Table)))
			if err != nil {
				return nil, fmt.Errorf("insert rows of %s: %w", o.ObjectKey, err)
			}
			res.Inserted += tag.RowsAffected()
		}
	}
	for _, o := range spec.Objects {
		tag, err := tx.Exec(ctx, `INSERT INTO `+qtable+` (run_id, pipeline, source_object, line, reason, raw)
			SELECT $1, $2, $3, line, reason, raw FROM `+w.staging(o.Table+"_q")+` ORDER BY line`,
			spec.RunID, spec.Pipeline, o.ObjectKey)
		if err != nil {
			return nil, fmt.Errorf("quarantine rows of %s: %w", o.ObjectKey, err)
		}
		res.Quarantined += tag.RowsAffected()
		for _, c := range o.Checks {
			if _, err := tx.Exec(ctx, `INSERT INTO `+w.qualityTable()+
				` (run_id, pipeline, target, object_key, rule, expectation, severity, action, success, quality_score, result)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, nullif($11, '')::jsonb)`,
				spec.RunID, spec.Pipeline, spec.Target, o.ObjectKey, c.Rule, c.Expectation, c.Severity, c.Action,
				c.Success, c.Score, c.Result); err != nil {
				return nil, fmt.Errorf("record quality results of %s: %w", o.ObjectKey, err)
			}
		}
		// Rows an earlier, uncommitted run of this object set aside are
		// superseded by this commit's quarantine.
		if _, err := tx.Exec(ctx, `DELETE FROM `+w.setAsideTable()+` WHERE pipeline = $1 AND source_object = $2`, spec.Pipeline, o.ObjectKey); err != nil {
			return nil, fmt.Errorf("clear the rows set aside from %s: %w", o.ObjectKey, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+w.ledger()+
			` (pipeline, object_key, fingerprint, run_id, target, rows_loaded, rows_quarantined, content_hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, nullif($8, ''))`,
			spec.Pipeline, o.ObjectKey, o.Fingerprint, spec.RunID, spec.Target, o.Loaded, o.Quarantined, o.ContentHash); err != nil {
			return nil, fmt.Errorf("record %s in the load ledger: %w", o.ObjectKey, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return res, nil
}

// markRun notes, the first time a run stages an object, how far the
// ledger has come: a commit of the run refuses when another run of the
// pipeline committed since.
func (w *Warehouse) markRun(ctx context.Context, runID, pipeline string) error {
	w.mu.Lock()
	_, ok := w.marks[runID]
	w.mu.Unlock()
	if ok || runID == "" {
		return nil
	}
	var mark int64
	if err := w.pool.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM "+w.ledger()+" WHERE pipeline = $1", pipeline).Scan(&mark); err != nil {
		return fmt.Errorf("read the load ledger: %w", err)
	}
	w.mu.Lock()
	if _, ok := w.marks[runID]; !ok {
		w.marks[runID] = mark
	}
	w.mu.Unlock()
	return nil
}

// checkConcurrentRun refuses the commit when another run of the pipeline
// committed after this run began staging (under the target's lock, so
// the later of two runs sees the earlier's ledger entries).
func (w *Warehouse) checkConcurrentRun(ctx context.Context, tx pgx.Tx, spec warehouse.CommitSpec) error {
	w.mu.Lock()
	mark, ok := w.marks[spec.RunID]
	w.mu.Unlock()
	if !ok {
		return nil
	}
	var other string
	err := tx.QueryRow(ctx, "SELECT run_id FROM "+w.ledger()+" WHERE pipeline = $1 AND run_id <> $2 AND id > $3 ORDER BY id LIMIT 1",
		spec.Pipeline, spec.RunID, mark).Scan(&other)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the load ledger: %w", err)
	}
	return fmt.Errorf("%w: run %s of pipeline %s committed first; nothing of run %s was committed", ErrConcurrentRun, other, spec.Pipeline, spec.RunID)
}

// tcol is a target column.
type tcol struct {
	name    string
	sqlType string  // as PostgreSQL writes it (format_type)
	t       colType // canonical
	notNull bool
}

// columns lists a table's columns (nil when there is no such table).
func (w *Warehouse) columns(ctx context.Context, q pgxQuerier, schemaName, table string) ([]warehouse.Column, error) {
	tc, err := tableColumns(ctx, q, schemaName, table)
	if err != nil {
		return nil, err
	}
	out := make([]warehouse.Column, len(tc))
	for i, c := range tc {
		out[i] = warehouse.Column{Name: c.name, Type: c.t.name}
	}
	return out, nil
}

// pgxQuerier runs a query: a pool, a connection or a transaction.
type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

func tableColumns(ctx context.Context, q pgxQuerier, schemaName, table string) ([]tcol, error) {
	rows, err := q.Query(ctx, `SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, schemaName, table)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	defer rows.Close()
	var out []tcol
	for rows.Next() {
		var c tcol
		if err := rows.Scan(&c.name, &c.sqlType, &c.notNull); err != nil {
			return nil, fmt.Errorf("describe %s: %w", table, err)
		}
		c.t = parseType(c.sqlType)
		out = append(out, c)
	}
	return out, rows.Err()
}

func findCol(cols []tcol, name string) int {
	for i, c := range cols {
		if c.name == name {
			return i
		}
	}
	for i, c := range cols {
		if strings.EqualFold(c.name, name) {
			return i
		}
	}
	return -1
}

// insertList is the target's column list for a staged object's columns,
// and the select list that reads them (prefixed by alias), cast to the
// target's type where the staged type differs.
func insertList(staged []warehouse.Column, target []tcol, alias string) (names, sel string) {
	n := make([]string, 0, len(staged))
	s := make([]string, 0, len(staged))
	for _, c := range staged {
		i := findCol(target, c.Name)
		if i < 0 {
			continue
		}
		n = append(n, ident(target[i].name))
		expr := alias + ident(c.Name)
		if !strings.EqualFold(parseType(c.Type).name, target[i].t.name) || target[i].t.kind == kOther {
			expr += "::" + target[i].sqlType
		}
		s = append(s, expr)
	}
	return strings.Join(n, ", "), strings.Join(s, ", ")
}

// ensureTarget creates the target from the first staged object's columns
// when it is absent, adds the columns staged data has and it lacks, widens
// the types a repair widened, and lets a NOT NULL column of a target made
// by hand hold the NULLs a batch brings (additive schema evolution). It
// returns the target's columns and the changes it made to an existing
// target.
func (w *Warehouse) ensureTarget(ctx context.Context, tx pgx.Tx, spec warehouse.CommitSpec) ([]tcol, []warehouse.SchemaChange, error) {
	cols, err := tableColumns(ctx, tx, w.schema, spec.Target)
	if err != nil {
		return nil, nil, err
	}
	target := w.target(spec.Target)
	var changes []warehouse.SchemaChange
	if len(cols) == 0 {
		var first []warehouse.Column
		for _, o := range spec.Objects {
			if len(o.Columns) > 0 {
				first = o.Columns
				break
			}
		}
		if len(first) == 0 {
			return nil, nil, nil
		}
		defs := make([]string, len(first))
		for i, c := range first {
			defs[i] = ident(c.Name) + " " + c.Type
			cols = append(cols, tcol{name: c.Name, sqlType: c.Type, t: parseType(c.Type)})
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE "+target+" ("+strings.Join(defs, ", ")+")"); err != nil {
			return nil, nil, fmt.Errorf("create target table: %w", err)
		}
	}
	for _, o := range spec.Objects {
		for _, c := range o.Columns {
			ct := parseType(c.Type)
			i := findCol(cols, c.Name)
			if i >= 0 {
				if widens(cols[i].t, ct) {
					if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s TYPE %s USING %s::%s",
						target, ident(cols[i].name), ct.name, ident(cols[i].name), ct.name)); err != nil {
						return nil, nil, fmt.Errorf("widen column %s from %s to %s: %w", cols[i].name, cols[i].t.name, ct.name, err)
					}
					changes = append(changes, warehouse.SchemaChange{Column: cols[i].name, Kind: "widened", From: cols[i].t.name, To: ct.name})
					cols[i].t, cols[i].sqlType = ct, ct.name
				}
				continue
			}
			if _, err := tx.Exec(ctx, "ALTER TABLE "+target+" ADD COLUMN "+ident(c.Name)+" "+c.Type); err != nil {
				return nil, nil, fmt.Errorf("add column %s: %w", c.Name, err)
			}
			changes = append(changes, warehouse.SchemaChange{Column: c.Name, Kind: "added", To: c.Type})
			cols = append(cols, tcol{name: c.Name, sqlType: c.Type, t: ct})
		}
	}
	for i, c := range cols {
		if !c.notNull {
			continue
		}
		nulls := false
		for _, o := range spec.Objects {
			k := -1
			for j, oc := range o.Columns {
				if strings.EqualFold(oc.Name, c.name) {
					k = j
				}
			}
			if k < 0 {
				nulls = o.Loaded > 0
			} else if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NULL)",
				w.staging(o.Table), ident(o.Columns[k].Name))).Scan(&nulls); err != nil {
				return nil, nil, fmt.Errorf("look for NULLs in %s: %w", c.name, err)
			}
			if nulls {
				break
			}
		}
		if !nulls {
			continue
		}
		if _, err := tx.Exec(ctx, "ALTER TABLE "+target+" ALTER COLUMN "+ident(c.name)+" DROP NOT NULL"); err != nil {
			return nil, nil, fmt.Errorf("let column %s hold NULL: %w", c.name, err)
		}
		changes = append(changes, warehouse.SchemaChange{Column: c.name, Kind: "widened", From: c.t.name + " NOT NULL", To: c.t.name})
		cols[i].notNull = false
	}
	return cols, changes, nil
}

// merge upserts on the key as the DuckDB warehouse does: within the batch
// the last row of a key wins (later object, later line) and the others
// are counted as de-duplicated; the target's rows with a batch key are
// replaced (a key the target holds twice becomes one row), and a column
// an object lacks keeps the target's value (or takes the value of the
// key's latest row that carried it). It deletes and inserts in the
// commit's transaction, so no unique index on the key is needed.
func (w *Warehouse) merge(ctx context.Context, tx pgx.Tx, spec warehouse.CommitSpec, target string, tcols []tcol, res *warehouse.CommitResult) error {
	if len(spec.Objects) == 0 {
		return nil
	}
	keys := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		j := findCol(tcols, k)
		if j < 0 {
			return fmt.Errorf("merge key %q is not a column of %s", k, spec.Target)
		}
		keys[i] = ident(tcols[j].name)
	}
	// Columns some object lacks (loaded as NULL): for the rows they
	// replace, the target's values stay.
	var keep []int // indexes into tcols
	for _, o := range spec.Objects {
		for _, m := range o.Missing {
			j := findCol(tcols, m)
			if j < 0 || containsFold(spec.Key, m) {
				continue
			}
			dup := false
			for _, k := range keep {
				dup = dup || k == j
			}
			if !dup {
				keep = append(keep, j)
			}
		}
	}
	flag := func(j int) string { return ident(fmt.Sprintf("__shp_has_%d", j)) }
	var parts []string
	var total int64
	for i, o := range spec.Objects {
		sel := make([]string, len(tcols))
		for j, c := range tcols {
			sel[j] = "NULL::" + c.sqlType + " AS " + ident(c.name)
			for _, oc := range o.Columns {
				if strings.EqualFold(oc.Name, c.name) {
					sel[j] = ident(oc.Name) + "::" + c.sqlType + " AS " + ident(c.name)
				}
			}
		}
		for k, j := range keep {
			sel = append(sel, fmt.Sprintf("%t AS %s", !containsFold(o.Missing, tcols[j].name), flag(k)))
		}
		sel = append(sel, fmt.Sprintf("%d AS __shp_obj", i), ident(rowCol)+" AS __shp_row")
		parts = append(parts, "SELECT "+strings.Join(sel, ", ")+" FROM "+w.staging(o.Table))
		total += o.Loaded
	}
	union := strings.Join(parts, " UNION ALL ")
	var distinct int64
	if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT DISTINCT %s FROM (%s) u) d", strings.Join(keys, ", "), union)).Scan(&distinct); err != nil {
		return fmt.Errorf("merge: count keys: %w", err)
	}
	colList := make([]string, len(tcols))
	for j, c := range tcols {
		colList[j] = ident(c.name)
	}
	flags := make([]string, len(keep))
	for k := range keep {
		flags[k] = flag(k)
	}
	batchCols := append(append([]string{}, colList...), flags...)
	match := make([]string, len(keys))
	for i, k := range keys {
		match[i] = "b." + k + " = t." + k
	}
	on := strings.Join(match, " AND ")
	var stmts []string
	if distinct == total {
		stmts = append(stmts, "CREATE TEMP TABLE __shp_batch ON COMMIT DROP AS SELECT "+strings.Join(batchCols, ", ")+" FROM ("+union+") u")
	} else {
		// The last row of a key wins; a column its object lacks takes
		// the value of the key's latest row that carried it, if any.
		stmts = append(stmts, "CREATE TEMP TABLE __shp_all ON COMMIT DROP AS "+union)
		sel := make([]string, 0, len(batchCols))
		var joins []string
		for j, c := range colList {
			expr := "l." + c
			for k, kj := range keep {
				if kj == j {
					expr = fmt.Sprintf("CASE WHEN l.%s THEN l.%s ELSE c%d.v END", flag(k), c, k)
				}
			}
			sel = append(sel, expr+" AS "+c)
		}
		for k, j := range keep {
			sel = append(sel, fmt.Sprintf("coalesce(c%d.carried, false) AS %s", k, flag(k)))
			kl := make([]string, len(keys))
			for i, key := range keys {
				kl[i] = fmt.Sprintf("c%d.%s = l.%s", k, key, key)
			}
			joins = append(joins, fmt.Sprintf(" LEFT JOIN (SELECT DISTINCT ON (%[1]s) %[1]s, %[2]s AS v, true AS carried FROM __shp_all WHERE %[3]s ORDER BY %[1]s, __shp_obj DESC, __shp_row DESC) c%[4]d ON %[5]s",
				strings.Join(keys, ", "), colList[j], flag(k), k, strings.Join(kl, " AND ")))
		}
		stmts = append(stmts, fmt.Sprintf("CREATE TEMP TABLE __shp_batch ON COMMIT DROP AS SELECT %s FROM (SELECT DISTINCT ON (%s) * FROM __shp_all ORDER BY %s, __shp_obj DESC, __shp_row DESC) l%s",
			strings.Join(sel, ", "), strings.Join(keys, ", "), strings.Join(keys, ", "), strings.Join(joins, "")))
	}
	if len(keep) > 0 {
		keepCols := append([]string{}, keys...)
		for _, j := range keep {
			keepCols = append(keepCols, colList[j])
		}
		stmts = append(stmts, fmt.Sprintf("CREATE TEMP TABLE __shp_old ON COMMIT DROP AS SELECT DISTINCT ON (%s) %s FROM %s t WHERE EXISTS (SELECT 1 FROM __shp_batch b WHERE %s)",
			strings.Join(keys, ", "), prefixed("t.", keepCols), target, on))
	}
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("merge: build batch: %w", err)
		}
	}
	res.Deduplicated = total - distinct
	if len(keep) > 0 {
		res.Kept = map[string]int64{}
		for k, j := range keep {
			var n int64
			if err := tx.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM __shp_batch b JOIN __shp_old t ON %s WHERE NOT b.%s", on, flag(k))).Scan(&n); err != nil {
				return fmt.Errorf("merge: count kept values of %s: %w", tcols[j].name, err)
			}
			if n > 0 {
				res.Kept[tcols[j].name] = n
			}
		}
	}
	tag, err := tx.Exec(ctx, fmt.Sprintf("DELETE FROM %s t WHERE EXISTS (SELECT 1 FROM __shp_batch b WHERE %s)", target, on))
	if err != nil {
		return fmt.Errorf("merge: remove replaced rows: %w", err)
	}
	updated := tag.RowsAffected()
	insert := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM __shp_batch", target, strings.Join(colList, ", "), strings.Join(colList, ", "))
	if len(keep) > 0 {
		sel := make([]string, len(colList))
		for j, c := range colList {
			sel[j] = "b." + c
			for k, kj := range keep {
				if kj == j {
					sel[j] = fmt.Sprintf("CASE WHEN b.%s THEN b.%s ELSE t.%s END", flag(k), c, c)
				}
			}
		}
		insert = fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM __shp_batch b LEFT JOIN __shp_old t ON %s",
			target, strings.Join(colList, ", "), strings.Join(sel, ", "), on)
	}
	if _, err := tx.Exec(ctx, insert); err != nil {
		return fmt.Errorf("merge: insert rows: %w", err)
	}
	for _, t := range []string{"__shp_batch", "__shp_old", "__shp_all"} {
		_, _ = tx.Exec(ctx, "DROP TABLE IF EXISTS "+t)
	}
	res.Updated = updated
	res.Inserted = distinct - updated
	return nil
}

func prefixed(prefix string, cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = prefix + c
	}
	return strings.Join(out, ", ")
}

func containsFold(list []string, name string) bool {
	for _, l := range list {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}
