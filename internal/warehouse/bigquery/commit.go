package bigquery

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/iterator"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// targetColumns describes a target table, nil when it does not exist.
func (w *Warehouse) targetColumns(ctx context.Context, table string) ([]column, error) {
	if table == "" {
		return nil, nil
	}
	ctx, cancel := w.call(ctx)
	defer cancel()
	md, err := w.client.Dataset(w.cfg.Dataset).Table(table).Metadata(ctx)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	out := make([]column, 0, len(md.Schema))
	for _, f := range md.Schema {
		out = append(out, fieldOfSchema(f))
	}
	return out, nil
}

// TargetSchema describes a target table in shp's schema types; nil when
// there is no such table.
func (w *Warehouse) TargetSchema(ctx context.Context, table string) (schema.Schema, error) {
	cols, err := w.targetColumns(ctx, table)
	if err != nil {
		return nil, fmt.Errorf("bigquery: %w", err)
	}
	if cols == nil {
		// BigQuery's table names are case-sensitive; the seam's are not.
		name, err := w.findTable(ctx, table)
		if err != nil {
			return nil, fmt.Errorf("bigquery: find table %s: %w", table, err)
		}
		if name != "" {
			if cols, err = w.targetColumns(ctx, name); err != nil {
				return nil, fmt.Errorf("bigquery: %w", err)
			}
		}
	}
	if cols == nil {
		return nil, nil
	}
	out := make(schema.Schema, len(cols))
	for i, c := range cols {
		out[i] = c.schemaField()
	}
	return out, nil
}

// Commit makes staged objects part of the target in one script: the
// target (created, or given the columns and wider types the batch has,
// before the transaction, since BigQuery runs no DDL inside one), then
// one transaction that writes the target's rows (append, replace, or a
// merge on the key: the batch's last row per key replaces the target's
// rows of that key), the quarantine rows, the quality results and the
// load ledger. The staging tables are dropped whatever happens.
func (w *Warehouse) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	res, err := w.commit(ctx, spec)
	var tables []string
	for _, o := range spec.Objects {
		w.dropPending(o.Table)
		tables = append(tables, o.Table, quarantineOf(o.Table))
	}
	if len(tables) > 0 {
		_ = w.dropTables(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline}, tables...)
	}
	if err != nil {
		return nil, fmt.Errorf("bigquery: commit run %s into %s: %w", spec.RunID, spec.Target, err)
	}
	return res, nil
}

func (w *Warehouse) commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	switch spec.Mode {
	case warehouse.ModeAppend, warehouse.ModeReplace:
	case warehouse.ModeMerge:
		if len(spec.Key) == 0 {
			return nil, fmt.Errorf("merge needs key columns")
		}
	default:
		return nil, fmt.Errorf("unknown write mode %q", spec.Mode)
	}
	if spec.Target == "" {
		return nil, fmt.Errorf("no target table")
	}
	targetCols, err := w.targetColumns(ctx, spec.Target)
	if err != nil {
		return nil, err
	}
	var ddl []string
	var added []column // columns added through the API, see addColumns
	created := targetCols == nil
	var changes []warehouse.SchemaChange
	target := w.target(spec.Target)
	qtable := w.target(spec.Target + warehouse.QuarantineSuffix)
	if targetCols == nil {
		for _, o := range spec.Objects {
			if len(o.Columns) > 0 {
				for _, c := range o.Columns {
					tc := parseTypeName(c.Type)
					tc.Name = c.Name
					targetCols = append(targetCols, tc)
				}
				break
			}
		}
		if targetCols != nil {
			if err := w.createTarget(ctx, spec, targetCols); err != nil {
				return nil, err
			}
		}
	}
	for _, o := range spec.Objects {
		for _, c := range o.Columns {
			sc := parseTypeName(c.Type)
			sc.Name = c.Name
			i, ok := lookupCol(targetCols, c.Name)
			if !ok {
				added = append(added, sc)
				changes = append(changes, warehouse.SchemaChange{Column: c.Name, Kind: "added", To: sc.typeName()})
				targetCols = append(targetCols, sc)
				continue
			}
			if tc := targetCols[i]; tc.Type != sc.Type && !widens(sc, tc) && !widens(tc, sc) {
				// Refused before any DDL: BigQuery runs none in the
				// transaction, so a commit failing later could leave the
				// target evolved.
				return nil, fmt.Errorf("column %s of %s is %s, the target's is %s", c.Name, o.ObjectKey, sc.typeName(), tc.typeName())
			}
			if widens(targetCols[i], sc) {
				ddl = append(ddl, widenDDL(target, targetCols[i], sc))
				changes = append(changes, warehouse.SchemaChange{Column: targetCols[i].Name, Kind: "widened", From: targetCols[i].typeName(), To: sc.typeName()})
				targetCols[i].Type, targetCols[i].Precision, targetCols[i].Scale = sc.Type, sc.Precision, sc.Scale
			}
		}
	}
	ddl = append(ddl, "CREATE TABLE IF NOT EXISTS "+qtable+" (run_id STRING NOT NULL, pipeline STRING NOT NULL, "+quarantineColumns+")")

	// BigQuery runs no DDL in a transaction and the emulator no SET:
	// the counts and the batch's temporary tables come first (pre), the
	// transaction holds the DML (b).
	var pre, b strings.Builder
	// The emulator keeps a script's variables, and evaluates them where
	// they are read, not where they are set: the counts are taken in a
	// temporary table before the transaction, under names of this
	// commit's own.
	tmp := "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	cnt := counts{inserted: "0", updated: "0", dedup: "0"}
	var quarantined []string
	arg := func(v any) string {
		lit, err := valueLiteral(v)
		if err != nil {
			return "NULL"
		}
		return lit
	}
	b.WriteString("BEGIN TRANSACTION;\n")
	cleared := spec.Rebuild || spec.Mode == warehouse.ModeReplace && len(spec.Objects) > 0
	if spec.Rebuild {
		fmt.Fprintf(&b, "DELETE FROM %s WHERE TRUE;\n", target)
		fmt.Fprintf(&b, "DELETE FROM %s WHERE pipeline = %s;\n", qtable, arg(spec.Pipeline))
		fmt.Fprintf(&b, "DELETE FROM %s WHERE pipeline = %s;\n", w.shp(ledgerName), arg(spec.Pipeline))
	} else if cleared {
		fmt.Fprintf(&b, "DELETE FROM %s WHERE TRUE;\n", target)
	}
	var kept []string
	if len(spec.Objects) > 0 && targetCols != nil {
		if spec.Mode == warehouse.ModeMerge {
			var err error
			if kept, err = w.mergeSQL(&pre, &b, &cnt, tmp, spec, target, targetCols, cleared); err != nil {
				return nil, err
			}
		} else {
			var parts []string
			for _, o := range spec.Objects {
				parts = append(parts, "SELECT "+selectList(o.Columns, targetCols)+" FROM "+stagingRef(o.Table))
			}
			cnt.inserted = fmt.Sprintf("(SELECT COUNT(*) FROM (%s))", strings.Join(parts, " UNION ALL "))
			fmt.Fprintf(&b, "INSERT INTO %s (%s) %s;\n", target, columnList(targetCols), strings.Join(parts, " UNION ALL "))
		}
	}
	for _, o := range spec.Objects {
		q := stagingRef(quarantineOf(o.Table))
		quarantined = append(quarantined, "(SELECT COUNT(*) FROM "+q+")")
		fmt.Fprintf(&b, "INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw, quarantined_at) SELECT %s, %s, %s, line, reason, raw, CURRENT_TIMESTAMP() FROM %s;\n",
			qtable, arg(spec.RunID), arg(spec.Pipeline), arg(o.ObjectKey), q)
		for _, c := range o.Checks {
			fmt.Fprintf(&b, "INSERT INTO %s (run_id, pipeline, target, object_key, rule, expectation, severity, action, success, quality_score, result, validated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, CURRENT_TIMESTAMP());\n",
				w.shp(qualityName), arg(spec.RunID), arg(spec.Pipeline), arg(spec.Target), arg(o.ObjectKey), arg(c.Rule), arg(c.Expectation),
				arg(c.Severity), arg(c.Action), arg(c.Success), arg(c.Score), arg(c.Result))
		}
		fmt.Fprintf(&b, "DELETE FROM %s WHERE pipeline = %s AND source_object = %s;\n", w.shp(setAsideName), arg(spec.Pipeline), arg(o.ObjectKey))
		fmt.Fprintf(&b, "INSERT INTO %s (pipeline, object_key, fingerprint, run_id, target, rows_loaded, rows_quarantined, committed_at, content_hash) VALUES (%s, %s, %s, %s, %s, %s, %s, CURRENT_TIMESTAMP(), NULLIF(%s, ''));\n",
			w.shp(ledgerName), arg(spec.Pipeline), arg(o.ObjectKey), arg(o.Fingerprint), arg(spec.RunID), arg(spec.Target),
			arg(o.Loaded), arg(o.Quarantined), arg(o.ContentHash))
	}
	b.WriteString("COMMIT TRANSACTION;\n")
	if len(quarantined) > 0 {
		cnt.quarantined = strings.Join(quarantined, " + ")
	} else {
		cnt.quarantined = "0"
	}
	fmt.Fprintf(&pre, "CREATE TEMP TABLE %s_counts AS SELECT %s;\n", tmp, cnt.sql())
	fmt.Fprintf(&b, "SELECT * FROM %s_counts;\n", tmp)
	// The DDL first, as a job of its own: BigQuery runs none inside a
	// transaction, and the emulator analyzes a whole script before it
	// runs, so a column added in it is unknown to its INSERT.
	var head strings.Builder
	if len(ddl) > 0 {
		if _, err := w.exec(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: commitObject(spec), step: "evolve"}, strings.Join(ddl, ";\n")+";"); err != nil {
			return nil, fmt.Errorf("create or evolve %s: %w", spec.Target, err)
		}
	}
	if len(added) > 0 {
		if err := w.addColumns(ctx, spec.Target, added); err != nil {
			return nil, err
		}
	}
	if created {
		changes = nil // a new target's columns are no changes
	}
	rows, _, err := w.queryRows(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, object: commitObject(spec), step: "commit"}, head.String()+pre.String()+b.String())
	if err != nil {
		return nil, err
	}
	res := &warehouse.CommitResult{SchemaChanges: changes}
	if len(rows) == 1 {
		r := rows[0]
		res.Inserted, _ = r[0].(int64)
		res.Updated, _ = r[1].(int64)
		res.Deduplicated, _ = r[2].(int64)
		res.Quarantined, _ = r[3].(int64)
		for j, k := range kept {
			if n, _ := r[4+j].(int64); n > 0 {
				if res.Kept == nil {
					res.Kept = map[string]int64{}
				}
				res.Kept[k] = n
			}
		}
	}
	return res, nil
}

// commitObject names what a commit writes, for its job id: the target
// and the objects, so that a commit retried after its answer was lost
// is found rather than run twice.
func commitObject(spec warehouse.CommitSpec) string {
	keys := make([]string, 0, len(spec.Objects))
	for _, o := range spec.Objects {
		keys = append(keys, o.ObjectKey+"\x01"+o.Fingerprint+"\x01"+o.Table)
	}
	sort.Strings(keys)
	h := sha256.Sum256([]byte(spec.Target + "\x00" + spec.Mode + "\x00" + strings.Join(keys, "\x00")))
	return hex.EncodeToString(h[:])
}

// selectList selects a staged object's columns as the target's columns:
// NULL (typed) for a target column the object lacks, each value cast to
// the target's type where a repair widened it.
func selectList(staged []warehouse.Column, target []column) string {
	parts := make([]string, len(target))
	for i, t := range target {
		parts[i] = "CAST(NULL AS " + t.Type + ") AS " + ident(t.Name)
		for _, c := range staged {
			if strings.EqualFold(c.Name, t.Name) {
				expr := ident(c.Name)
				if sc := parseTypeName(c.Type); sc.Type != t.Type {
					expr = "CAST(" + expr + " AS " + t.Type + ")"
				}
				parts[i] = expr + " AS " + ident(t.Name)
				break
			}
		}
	}
	return strings.Join(parts, ", ")
}

// columnList lists the target's columns.
func columnList(cols []column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = ident(c.Name)
	}
	return strings.Join(names, ", ")
}

func containsFold(list []string, name string) bool {
	for _, l := range list {
		if strings.EqualFold(l, name) {
			return true
		}
	}
	return false
}

// mergeSQL writes the merge on the key: within the batch the last row of
// a key wins (later object, later row) and the others are counted as
// de-duplicated; a column some object lacks takes, for each key, the
// value of the latest row whose object carried it, else the target's;
// the target's rows of the batch's keys are replaced (one row per key,
// even where the target held a key twice). It returns the columns kept
// from the target where objects lacked them.
//
// Its temporary tables and counts go to pre, before the transaction; its
// DML to b. With cleared, the transaction empties the target first: no
// row is replaced and nothing kept from it.
func (w *Warehouse) mergeSQL(pre, b *strings.Builder, cnt *counts, tmp string, spec warehouse.CommitSpec, target string, targetCols []column, cleared bool) ([]string, error) {
	all, batch, old := tmp+"_all", tmp+"_batch", tmp+"_old"
	for _, k := range spec.Key {
		if _, ok := lookupCol(targetCols, k); !ok {
			return nil, fmt.Errorf("merge key %q is not a column of %s", k, spec.Target)
		}
	}
	var keep []string
	for _, o := range spec.Objects {
		for _, m := range o.Missing {
			if _, ok := lookupCol(targetCols, m); ok && !containsFold(keep, m) && !containsFold(spec.Key, m) {
				keep = append(keep, m)
			}
		}
	}
	flag := func(j int) string { return ident(fmt.Sprintf("__shp_has_%d", j)) }
	var parts []string
	for i, o := range spec.Objects {
		flags := ""
		for j, k := range keep {
			flags += fmt.Sprintf(", %t AS %s", !containsFold(o.Missing, k), flag(j))
		}
		parts = append(parts, fmt.Sprintf("SELECT %s%s, %d AS __shp_obj, %s AS __shp_pos FROM %s",
			selectList(o.Columns, targetCols), flags, i, ident(rowCol), stagingRef(o.Table)))
	}
	keys := make([]string, len(spec.Key))
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		keys[i] = ident(k)
		match[i] = fmt.Sprintf("b.%s = t.%s", ident(k), ident(k))
	}
	part := "PARTITION BY " + strings.Join(keys, ", ")
	// A target row of a batch's key, as a condition on t: an IN, not a
	// correlated EXISTS, which the emulator gets wrong in a DELETE.
	keyOf := func(alias string) string {
		if len(keys) == 1 {
			return alias + keys[0]
		}
		return "TO_JSON_STRING(STRUCT(" + strings.Join(prefixed(alias, keys), ", ") + "))"
	}
	inBatch := func(alias string) string {
		return keyOf(alias) + " IN (SELECT " + keyOf("") + " FROM " + batch + ")"
	}
	window := part + " ORDER BY __shp_obj, __shp_pos ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING"
	// The batch: one row per key, the last; a column its object lacked
	// takes the latest carried value of the key (a STRUCT, so that a
	// carried NULL counts as carried).
	var sel []string
	for _, c := range targetCols {
		j := -1
		for jj, k := range keep {
			if strings.EqualFold(k, c.Name) {
				j = jj
			}
		}
		if j < 0 {
			sel = append(sel, ident(c.Name))
			continue
		}
		sel = append(sel, fmt.Sprintf("IF(%[1]s, %[2]s, LAST_VALUE(IF(%[1]s, STRUCT(%[2]s AS v), NULL) IGNORE NULLS) OVER (%[3]s).v) AS %[2]s", flag(j), ident(c.Name), window))
	}
	for j := range keep {
		sel = append(sel, fmt.Sprintf("LOGICAL_OR(%s) OVER (%s) AS %s", flag(j), part, flag(j)))
	}
	fmt.Fprintf(pre, "CREATE TEMP TABLE %s AS %s;\n", all, strings.Join(parts, " UNION ALL "))
	fmt.Fprintf(pre, "CREATE TEMP TABLE %s AS SELECT * EXCEPT (__shp_rn) FROM (SELECT %s, ROW_NUMBER() OVER (%s ORDER BY __shp_obj DESC, __shp_pos DESC) AS __shp_rn FROM %s) WHERE __shp_rn = 1;\n",
		batch, strings.Join(sel, ", "), part, all)
	cnt.dedup = fmt.Sprintf("(SELECT COUNT(*) FROM %s) - (SELECT COUNT(*) FROM %s)", all, batch)
	if !cleared {
		cnt.updated = fmt.Sprintf("(SELECT COUNT(*) FROM %s t WHERE %s)", target, inBatch("t."))
	}
	cnt.inserted = fmt.Sprintf("(SELECT COUNT(*) FROM %s) - %s", batch, cnt.updated)
	insertSel := make([]string, len(targetCols))
	for i, c := range targetCols {
		insertSel[i] = "b." + ident(c.Name)
	}
	if len(keep) > 0 {
		// The rows about to be replaced, one per key, for the values the
		// batch lacks.
		oldRows := fmt.Sprintf("SELECT %s FROM %s t WHERE %s QUALIFY ROW_NUMBER() OVER (PARTITION BY %s) = 1",
			columnList(columnsNamed(append(append([]string{}, spec.Key...), keep...))), target, inBatch("t."), strings.Join(prefixed("t.", keys), ", "))
		if cleared {
			oldRows += " LIMIT 0"
		}
		fmt.Fprintf(pre, "CREATE TEMP TABLE %s AS %s;\n", old, oldRows)
		for j := range keep {
			cnt.kept = append(cnt.kept, fmt.Sprintf("(SELECT COUNT(*) FROM %s b JOIN %s t ON %s WHERE NOT b.%s)", batch, old, strings.Join(match, " AND "), flag(j)))
		}
		for i, c := range targetCols {
			for j, k := range keep {
				if strings.EqualFold(k, c.Name) {
					insertSel[i] = fmt.Sprintf("IF(b.%[1]s, b.%[2]s, t.%[2]s)", flag(j), ident(c.Name))
				}
			}
		}
	}
	fmt.Fprintf(b, "DELETE FROM %s WHERE %s;\n", target, inBatch(""))
	from := batch + " b"
	if len(keep) > 0 {
		from += " LEFT JOIN " + old + " t ON " + strings.Join(match, " AND ")
	}
	fmt.Fprintf(b, "INSERT INTO %s (%s) SELECT %s FROM %s;\n", target, columnList(targetCols), strings.Join(insertSel, ", "), from)
	return keep, nil
}

func prefixed(p string, list []string) []string {
	out := make([]string, len(list))
	for i, l := range list {
		out[i] = p + l
	}
	return out
}

// columnsNamed makes columns of names, for columnList.
func columnsNamed(names []string) []column {
	out := make([]column, len(names))
	for i, n := range names {
		out[i] = column{Name: n}
	}
	return out
}

// counts are the SQL expressions of what a commit changes, taken before
// its transaction.
type counts struct {
	inserted, updated, dedup, quarantined string
	kept                                  []string
}

// sql selects the counts as one row.
func (c counts) sql() string {
	parts := []string{c.inserted + " AS inserted", c.updated + " AS updated", c.dedup + " AS dedup", c.quarantined + " AS quarantined"}
	for j, k := range c.kept {
		parts = append(parts, fmt.Sprintf("%s AS kept_%d", k, j))
	}
	return strings.Join(parts, ", ")
}

// widenDDL widens a target's column: ALTER COLUMN SET DATA TYPE along
// BigQuery's coercions (INT64 to NUMERIC, BIGNUMERIC or FLOAT64, NUMERIC
// to BIGNUMERIC or FLOAT64, a wider NUMERIC), which changes metadata
// only; a DATE, which no ALTER widens, by rewriting the table with the
// column cast.
func widenDDL(target string, from, to column) string {
	if from.Type == "DATE" {
		return fmt.Sprintf("CREATE OR REPLACE TABLE %[1]s AS SELECT * REPLACE (CAST(%[2]s AS %[3]s) AS %[2]s) FROM %[1]s", target, ident(from.Name), to.Type)
	}
	return "ALTER TABLE " + target + " ALTER COLUMN " + ident(from.Name) + " SET DATA TYPE " + to.typeName()
}

// addColumns adds NULLABLE columns to a target through the API (a
// tables.patch of its schema, which changes metadata only; the emulator
// accepts ALTER TABLE ADD COLUMN but does not add the column).
func (w *Warehouse) addColumns(ctx context.Context, table string, cols []column) error {
	ctx, cancel := w.call(ctx)
	defer cancel()
	t := w.client.Dataset(w.cfg.Dataset).Table(table)
	md, err := t.Metadata(ctx)
	if err != nil {
		return fmt.Errorf("describe %s: %w", table, err)
	}
	sch := append(bq.Schema{}, md.Schema...)
	var fresh []column // the columns the table lacks
	for _, c := range cols {
		if _, ok := lookupCol(columnsOfSchema(sch), c.Name); ok {
			continue
		}
		fresh = append(fresh, c)
		sch = append(sch, &bq.FieldSchema{Name: c.Name, Type: bq.FieldType(c.Type), Precision: int64(c.Precision), Scale: int64(c.Scale)})
	}
	if len(fresh) == 0 {
		return nil
	}
	if _, err := t.Update(ctx, bq.TableMetadataToUpdate{Schema: sch}, md.ETag); err != nil {
		return fmt.Errorf("add columns to %s: %w", table, err)
	}
	if w.columnsQueryable(ctx, table, fresh) {
		return nil
	}
	return w.rebuildWith(ctx, table, md, sch, fresh)
}

// columnsQueryable reports whether a query can read the columns: a dry
// run, free. Real BigQuery's schema patch adds them; the emulator's
// changes only the table's metadata, which its analyzer does not read.
func (w *Warehouse) columnsQueryable(ctx context.Context, table string, cols []column) bool {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = ident(c.Name)
	}
	_, err := w.EstimateBytes(ctx, "SELECT "+strings.Join(names, ", ")+" FROM "+w.target(table)+" WHERE FALSE")
	return err == nil
}

// rebuildWith gives a table new NULLABLE columns by copying it: for an
// engine whose schema patch adds no column a query can read (the
// emulator; real BigQuery never comes here). The rows go to a copy in
// shp's dataset, the table is made again with the new columns and its
// layout (sch: the old columns, descriptions included, then fresh; md:
// partitioning, clustering), and the rows come
// back. Not atomic: a crash between the drop and the copy back leaves
// the rows in the copy (__shp_rebuild_<table>_..., which expires with
// staging_expiration).
func (w *Warehouse) rebuildWith(ctx context.Context, table string, md *bq.TableMetadata, sch bq.Schema, fresh []column) error {
	copyName := w.cfg.ShpDataset + ".__shp_rebuild_" + sanitize(table) + "_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	extra := make([]string, len(fresh))
	for i, c := range fresh {
		extra[i] = "CAST(NULL AS " + c.typeName() + ") AS " + ident(c.Name)
	}
	m := jobMeta{step: w.nextStep("rebuild")}
	script := fmt.Sprintf("CREATE TABLE %[1]s %[4]s AS SELECT t.*, %[2]s FROM %[3]s t;\nDROP TABLE %[3]s;\n",
		ident(copyName), strings.Join(extra, ", "), w.target(table), w.expiration())
	if _, err := w.exec(ctx, m, script); err != nil {
		return fmt.Errorf("add columns to %s: copy it: %w", table, err)
	}
	nm := &bq.TableMetadata{Schema: sch, TimePartitioning: md.TimePartitioning, Clustering: md.Clustering,
		RequirePartitionFilter: md.RequirePartitionFilter, Description: md.Description, Labels: md.Labels}
	cctx, cancel := w.call(ctx)
	err := w.client.Dataset(w.cfg.Dataset).Table(table).Create(cctx, nm)
	cancel()
	if err != nil {
		return fmt.Errorf("add columns to %s: make it again (its rows are in %s): %w", table, copyName, err)
	}
	names := make([]string, len(sch))
	for i, f := range sch {
		names[i] = ident(f.Name)
	}
	back := fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s;\nDROP TABLE %s;\n", w.target(table), strings.Join(names, ", "), strings.Join(names, ", "), ident(copyName), ident(copyName))
	if _, err := w.exec(ctx, jobMeta{step: w.nextStep("rebuild")}, back); err != nil {
		return fmt.Errorf("add columns to %s: copy its rows back from %s: %w", table, copyName, err)
	}
	return nil
}

// columnsOfSchema describes an API schema's columns.
func columnsOfSchema(s bq.Schema) []column {
	out := make([]column, len(s))
	for i, f := range s {
		out[i] = fieldOfSchema(f)
	}
	return out
}

// findTable finds a target table by its name ignoring case; "" when
// there is none.
func (w *Warehouse) findTable(ctx context.Context, table string) (string, error) {
	ctx, cancel := w.call(ctx)
	defer cancel()
	it := w.client.Dataset(w.cfg.Dataset).Tables(ctx)
	for {
		t, err := it.Next()
		if err == iterator.Done {
			return "", nil
		}
		if err != nil {
			return "", err
		}
		if strings.EqualFold(t.TableID, table) {
			return t.TableID, nil
		}
	}
}

// createTarget creates a new target through the API with its columns,
// their descriptions from the schema file, and the pipeline's layout
// (partitioning, clustering): the API rather than DDL, since the
// emulator keeps a layout only from table metadata. A target made
// meanwhile by another commit is kept as it is.
func (w *Warehouse) createTarget(ctx context.Context, spec warehouse.CommitSpec, cols []column) error {
	md, err := tableMetadata(cols, spec.Design, w.descriptions(spec.Objects))
	if err != nil {
		return fmt.Errorf("create %s: %w", spec.Target, err)
	}
	ctx, cancel := w.call(ctx)
	defer cancel()
	if err := w.client.Dataset(w.cfg.Dataset).Table(spec.Target).Create(ctx, md); err != nil && !isAlreadyExists(err) {
		return fmt.Errorf("create %s: %w", spec.Target, err)
	}
	return nil
}

// tableMetadata is a new table's schema and layout. A partitioning
// column must be a DATE, TIMESTAMP or DATETIME column of the table, and
// clustering columns must be the table's.
func tableMetadata(cols []column, d *warehouse.TableDesign, desc map[string]string) (*bq.TableMetadata, error) {
	md := &bq.TableMetadata{}
	for _, c := range cols {
		md.Schema = append(md.Schema, &bq.FieldSchema{Name: c.Name, Type: bq.FieldType(c.Type),
			Precision: int64(c.Precision), Scale: int64(c.Scale), Description: desc[strings.ToLower(c.Name)]})
	}
	if d == nil {
		return md, nil
	}
	if d.PartitionBy != "" || d.IngestionTime {
		gran := strings.ToUpper(d.Granularity)
		switch gran {
		case "":
			gran = "DAY"
		case "DAY", "HOUR", "MONTH", "YEAR":
		default:
			return nil, fmt.Errorf("partition granularity %q: want DAY, HOUR, MONTH or YEAR", d.Granularity)
		}
		tp := &bq.TimePartitioning{Type: bq.TimePartitioningType(gran), Expiration: d.PartitionExpiration}
		if d.PartitionBy != "" {
			i, ok := lookupCol(cols, d.PartitionBy)
			if !ok {
				return nil, fmt.Errorf("partition_by %s: the table has no such column", d.PartitionBy)
			}
			switch cols[i].Type {
			case "DATE", "TIMESTAMP", "DATETIME":
			default:
				return nil, fmt.Errorf("partition_by %s: a %s column; want DATE, TIMESTAMP or DATETIME", d.PartitionBy, cols[i].Type)
			}
			if cols[i].Type == "DATE" && gran == "HOUR" {
				return nil, fmt.Errorf("partition_by %s: a DATE column has no HOUR partitions", d.PartitionBy)
			}
			tp.Field = cols[i].Name
		}
		md.TimePartitioning = tp
		md.RequirePartitionFilter = d.RequirePartitionFilter
	}
	if len(d.ClusterBy) > 4 {
		return nil, fmt.Errorf("cluster_by: %d columns, BigQuery clusters by at most 4", len(d.ClusterBy))
	}
	if len(d.ClusterBy) > 0 {
		cl := &bq.Clustering{}
		for _, name := range d.ClusterBy {
			i, ok := lookupCol(cols, name)
			if !ok {
				return nil, fmt.Errorf("cluster_by %s: the table has no such column", name)
			}
			cl.Fields = append(cl.Fields, cols[i].Name)
		}
		md.Clustering = cl
	}
	return md, nil
}

// descriptions are the column descriptions the objects' schema files
// give, by lower-case column name.
func (w *Warehouse) descriptions(objects []*warehouse.Staged) map[string]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string]string{}
	for _, o := range objects {
		for k, v := range w.describe[o.Table] {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}
