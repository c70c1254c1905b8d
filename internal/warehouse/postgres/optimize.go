package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/optimize"
)

var _ optimize.Engine = (*Warehouse)(nil)

// Names of what the optimisation layer makes.
const (
	trialPrefix  = "__shp_trial_"
	indexPrefix  = "__shp_idx_"
	partPrefix   = "__shp_part_"
	beforePrefix = "__shp_before_"
)

// maxPartitions bounds the partitions a partitioned copy is made with.
const maxPartitions = 1200

// trialRows bounds a trial's copies: a larger table is sampled to about
// this many rows (both copies the same sample).
const trialRows = 5_000_000

// replays is how many times a trial runs each query on each copy; the
// fastest run counts.
const replays = 3

// Describe implements optimize.Engine: the table's rows (the planner's
// estimate, or a count when it has none), size, columns and indexes.
func (w *Warehouse) Describe(ctx context.Context, table string) (optimize.Table, error) {
	t := optimize.Table{Name: table}
	rows, err := w.pool.Query(ctx, `SELECT column_name, upper(data_type) FROM information_schema.columns
		WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, w.schema, table)
	if err != nil {
		return t, fmt.Errorf("postgres: describe %s: %w", table, err)
	}
	for rows.Next() {
		var c optimize.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			rows.Close()
			return t, fmt.Errorf("postgres: describe %s: %w", table, err)
		}
		t.Columns = append(t.Columns, c)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("postgres: describe %s: %w", table, err)
	}
	if len(t.Columns) == 0 {
		return t, fmt.Errorf("postgres: describe %s: no such table in schema %s", table, w.schema)
	}
	rel := qualified(w.schema, table)
	var est float64
	var partKey *string
	// A partitioned table's own size and estimate are its partitions'.
	if err := w.pool.QueryRow(ctx, `SELECT CASE WHEN c.relkind = 'p' THEN -1 ELSE c.reltuples END,
			CASE WHEN c.relkind = 'p' THEN (SELECT coalesce(sum(pg_total_relation_size(p.relid)), 0) FROM pg_partition_tree(c.oid) p)::bigint
				ELSE pg_total_relation_size(c.oid) END,
			CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END
		FROM pg_class c WHERE c.oid = $1::regclass`, rel).Scan(&est, &t.Bytes, &partKey); err != nil {
		return t, fmt.Errorf("postgres: size of %s: %w", table, err)
	}
	if partKey != nil {
		// RANGE (day): the column of a single-column range key.
		if k, ok := strings.CutPrefix(*partKey, "RANGE ("); ok && !strings.Contains(k, ",") {
			t.Layout.PartitionBy = strings.Trim(strings.TrimSuffix(k, ")"), `"`)
		}
	}
	t.Rows = int64(est)
	if est < 0 { // never analysed, or partitioned
		if err := w.pool.QueryRow(ctx, "SELECT count(*) FROM "+rel).Scan(&t.Rows); err != nil {
			return t, fmt.Errorf("postgres: count %s: %w", table, err)
		}
	}
	ix, err := w.pool.Query(ctx, `SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i
		CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n)
		JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
		WHERE i.indrelid = $1::regclass GROUP BY i.indexrelid`, rel)
	if err != nil {
		return t, fmt.Errorf("postgres: indexes of %s: %w", table, err)
	}
	defer ix.Close()
	for ix.Next() {
		var cols []string
		if err := ix.Scan(&cols); err != nil {
			return t, fmt.Errorf("postgres: indexes of %s: %w", table, err)
		}
		t.Layout.Indexes = append(t.Layout.Indexes, cols)
	}
	return t, ix.Err()
}

func checkChange(c optimize.Change) error {
	switch {
	case c.Kind == "index" && (c.Method == "btree" || c.Method == "brin") && len(c.Columns) > 0:
		return nil
	case c.Kind == "partition" && len(c.Columns) == 1 && (c.Granularity == "DAY" || c.Granularity == "MONTH" || c.Granularity == "YEAR"):
		return nil
	}
	return fmt.Errorf("postgres: %s: %w (it adds B-tree and BRIN indexes and range-partitions a table by a date's day, month or year)", c, optimize.ErrUnsupported)
}

// partitionedCopy makes into (in schema), a table partitioned by range
// of the change's column, one partition per day, month or year of the
// rows of from and a default partition (NULLs, and later rows out of
// every range), and copies from's rows into it. Partitions are named
// after final, the table's name once into takes its place.
func (w *Warehouse) partitionedCopy(ctx context.Context, q interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}, schemaName, into, final, from string, c optimize.Change) error {
	col, unit := ident(c.Columns[0]), strings.ToLower(c.Granularity)
	var lo, hi *time.Time
	if err := q.QueryRow(ctx, fmt.Sprintf("SELECT date_trunc('%s', min(%s))::timestamp, date_trunc('%s', max(%s))::timestamp FROM %s",
		unit, col, unit, col, from)).Scan(&lo, &hi); err != nil {
		return fmt.Errorf("the range of %s: %w", c.Columns[0], err)
	}
	stmts := []string{"CREATE TABLE " + qualified(schemaName, into) + " (LIKE " + from + " INCLUDING DEFAULTS) PARTITION BY RANGE (" + col + ")"}
	if lo != nil && hi != nil {
		step := func(t time.Time) time.Time {
			switch unit {
			case "day":
				return t.AddDate(0, 0, 1)
			case "year":
				return t.AddDate(1, 0, 0)
			}
			return t.AddDate(0, 1, 0)
		}
		for t := *lo; !t.After(*hi); t = step(t) {
			if len(stmts) > maxPartitions {
				return fmt.Errorf("%s spans more than %d %ss: too many partitions", c.Columns[0], maxPartitions, unit)
			}
			name := fmt.Sprintf("%s_p%s", final, t.Format("20060102")[:map[string]int{"day": 8, "month": 6, "year": 4}[unit]])
			stmts = append(stmts, fmt.Sprintf("CREATE TABLE %s PARTITION OF %s FOR VALUES FROM ('%s') TO ('%s')", qualified(schemaName, name),
				qualified(schemaName, into), t.Format("2006-01-02 15:04:05"), step(t).Format("2006-01-02 15:04:05")))
		}
	}
	stmts = append(stmts, "CREATE TABLE "+qualified(schemaName, final+"_pdefault")+" PARTITION OF "+qualified(schemaName, into)+" DEFAULT",
		"INSERT INTO "+qualified(schemaName, into)+" SELECT * FROM "+from,
		"ANALYZE "+qualified(schemaName, into))
	for _, s := range stmts {
		if _, err := q.Exec(ctx, s); err != nil {
			return err
		}
	}
	return nil
}

func createIndex(name, schemaName, table string, c optimize.Change, concurrently bool) string {
	keys := make([]string, len(c.Columns))
	for i, col := range c.Columns {
		keys[i] = ident(col)
	}
	how := "CREATE INDEX "
	if concurrently {
		how += "CONCURRENTLY "
	}
	return how + ident(name) + " ON " + qualified(schemaName, table) + " USING " + c.Method + " (" + strings.Join(keys, ", ") + ")"
}

// Trial implements optimize.Engine: two copies of the table in shp's
// schema, the same rows (a sample of about trialRows of a larger table),
// analysed, the change made on the second; each query runs on both (the
// fastest of three runs), the results are compared, the copies dropped.
// The table itself is not touched.
func (w *Warehouse) Trial(ctx context.Context, table string, change optimize.Change, queries []string) ([]optimize.Timing, error) {
	if err := checkChange(change); err != nil {
		return nil, err
	}
	desc, err := w.Describe(ctx, table)
	if err != nil {
		return nil, err
	}
	src := qualified(w.schema, table)
	sample := ""
	if desc.Rows > trialRows {
		sample = fmt.Sprintf(" TABLESAMPLE SYSTEM (%s) REPEATABLE (42)", strconv.FormatFloat(100*float64(trialRows)/float64(desc.Rows), 'f', 4, 64))
	}
	base, tried := trialPrefix+"base_"+table, trialPrefix+table
	drop := func(ctx context.Context) {
		w.pool.Exec(ctx, "DROP TABLE IF EXISTS "+qualified(w.internal, base)+", "+qualified(w.internal, tried)+" CASCADE")
	}
	drop(ctx)
	defer drop(context.WithoutCancel(ctx))
	stmts := []string{"CREATE UNLOGGED TABLE " + qualified(w.internal, base) + " AS SELECT * FROM " + src + sample}
	if change.Kind == "index" {
		stmts = append(stmts,
			"CREATE UNLOGGED TABLE "+qualified(w.internal, tried)+" AS SELECT * FROM "+qualified(w.internal, base),
			createIndex(indexPrefix+"trial_"+table, w.internal, tried, change, false))
	}
	for _, s := range stmts {
		if _, err := w.pool.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("postgres: trial of %s on %s: %w", change, table, err)
		}
	}
	if change.Kind == "partition" {
		// Partitions are named after the copy, a date after it: a short
		// name for a long table's.
		parts := tried
		if len(parts)+len("_pdefault") > 63 {
			parts = trialPrefix + strconv.FormatUint(uint64(fnvString(table)), 36)
		}
		if err := w.partitionedCopy(ctx, w.pool, w.internal, tried, parts, qualified(w.internal, base), change); err != nil {
			return nil, fmt.Errorf("postgres: trial of %s on %s: %w", change, table, err)
		}
	}
	// Both copies vacuumed as well as analysed: fresh rows' hint bits and
	// the visibility map set alike, so that neither pays for them in its
	// timed runs.
	for _, s := range []string{"VACUUM ANALYZE " + qualified(w.internal, base), "VACUUM ANALYZE " + qualified(w.internal, tried)} {
		if _, err := w.pool.Exec(ctx, s); err != nil {
			return nil, fmt.Errorf("postgres: trial of %s on %s: %w", change, table, err)
		}
	}
	run := func(q string) (optimize.Result, error) { return w.runOnce(ctx, q) }
	measure := func(q string) (optimize.Scanned, error) { return w.explainScan(ctx, q) }
	return optimize.CompareCopies(queries, table, qualified(w.internal, base), qualified(w.internal, tried), replays, run, measure), ctx.Err()
}

// planNode is the part of EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON)'s plan
// explainScan reads.
type planNode struct {
	NodeType       string     `json:"Node Type"`
	Relation       string     `json:"Relation Name"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedFilter  float64    `json:"Rows Removed by Filter"`
	RemovedRecheck float64    `json:"Rows Removed by Index Recheck"`
	SharedHit      int64      `json:"Shared Hit Blocks"`
	SharedRead     int64      `json:"Shared Read Blocks"`
	Plans          []planNode `json:"Plans"`
}

// explainScan runs a read-only query under EXPLAIN (ANALYZE, BUFFERS)
// and reads what it scanned: the rows its scans of tables read (those
// kept and those a filter removed), and the shared buffers it touched
// (hit or read) in bytes.
func (w *Warehouse) explainScan(ctx context.Context, q string) (optimize.Scanned, error) {
	var out []struct{ Plan planNode }
	var doc []byte
	if err := w.pool.QueryRow(ctx, "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+q).Scan(&doc); err != nil {
		return optimize.Scanned{}, fmt.Errorf("postgres: explain: %w", err)
	}
	if err := json.Unmarshal(doc, &out); err != nil {
		return optimize.Scanned{}, fmt.Errorf("postgres: read the plan: %w", err)
	}
	if len(out) == 0 {
		return optimize.Scanned{}, errors.New("postgres: explain gave no plan")
	}
	var rows float64
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.Relation != "" && strings.Contains(n.NodeType, "Scan") {
			rows += (n.ActualRows + n.RemovedFilter + n.RemovedRecheck) * max(n.ActualLoops, 1)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(out[0].Plan)
	top := out[0].Plan
	return optimize.Scanned{Rows: int64(rows), Bytes: (top.SharedHit + top.SharedRead) * pageSize}, nil
}

// pageSize is PostgreSQL's block size (its default, which shp assumes).
const pageSize = 8192

// runOnce runs a query and reads its result.
func (w *Warehouse) runOnce(ctx context.Context, q string) (optimize.Result, error) {
	var res optimize.Result
	rows, err := w.pool.Query(ctx, q)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			return res, err
		}
		res.Add(vals)
	}
	return res, rows.Err()
}

// Apply implements optimize.Engine: the index is built concurrently
// (writes go on meanwhile); the undo names it.
func (w *Warehouse) Apply(ctx context.Context, table string, change optimize.Change) (string, error) {
	if err := checkChange(change); err != nil {
		return "", err
	}
	if change.Kind == "partition" {
		return w.partition(ctx, table, change)
	}
	name := indexPrefix + table + "_" + strings.Join(change.Columns, "_") + "_" + change.Method
	if len(name) > 63 { // PostgreSQL's name limit
		name = name[:55] + "_" + strconv.FormatUint(uint64(fnvString(name)), 36)
	}
	if _, err := w.pool.Exec(ctx, createIndex(name, w.schema, table, change, true)); err != nil {
		// A concurrent build that failed leaves an invalid index behind.
		_, derr := w.pool.Exec(context.WithoutCancel(ctx), "DROP INDEX CONCURRENTLY IF EXISTS "+qualified(w.schema, name))
		return "", errors.Join(fmt.Errorf("postgres: %s on %s: %w", change, table, err), derr)
	}
	return "index:" + name, nil
}

func fnvString(s string) uint32 {
	h := fnv.New32a()
	h.Write([]byte(s))
	return h.Sum32()
}

// partition replaces the table with a copy partitioned by range of the
// change's column, in one transaction, and keeps the table as it was
// beside it for Revert (the undo names it with its row count). Its
// indexes are not carried over.
func (w *Warehouse) partition(ctx context.Context, table string, change optimize.Change) (string, error) {
	suffix := strconv.FormatInt(time.Now().UnixNano(), 36)
	before, part := beforePrefix+table+"_"+suffix, partPrefix+table
	if len(before) > 63 || len(table)+len("_pdefault") > 63 {
		return "", fmt.Errorf("postgres: partition %s: the table's name is too long for the names a partitioned copy needs", table)
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return "", fmt.Errorf("postgres: partition %s: %w", table, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var rows int64
	// The table is locked while it is copied, in the mode the rename at
	// the end needs (a weaker lock taken first would have to be upgraded,
	// and could deadlock with a load waiting behind it): loads and reads
	// wait rather than miss or write rows the copy would miss.
	if _, err := tx.Exec(ctx, "LOCK TABLE "+qualified(w.schema, table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return "", fmt.Errorf("postgres: partition %s: %w", table, err)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+qualified(w.schema, table)).Scan(&rows); err != nil {
		return "", fmt.Errorf("postgres: partition %s: %w", table, err)
	}
	// A view is bound to the table itself, not its name: after the swap
	// it would go on reading the table as it was. Refused rather than
	// left reading stale rows.
	var views []string
	vr, err := tx.Query(ctx, `SELECT DISTINCT r.ev_class::regclass::text FROM pg_depend d JOIN pg_rewrite r ON r.oid = d.objid
		WHERE d.classid = 'pg_rewrite'::regclass AND d.refobjid = $1::regclass AND r.ev_class <> d.refobjid ORDER BY 1`, qualified(w.schema, table))
	if err != nil {
		return "", fmt.Errorf("postgres: partition %s: its views: %w", table, err)
	}
	for vr.Next() {
		var v string
		if err := vr.Scan(&v); err != nil {
			vr.Close()
			return "", fmt.Errorf("postgres: partition %s: its views: %w", table, err)
		}
		views = append(views, v)
	}
	vr.Close()
	if len(views) > 0 {
		return "", fmt.Errorf("postgres: partition %s: %w: views read it (%s); they would go on reading the table as it was: drop them, partition, and make them again",
			table, optimize.ErrUnsupported, strings.Join(views, ", "))
	}
	if err := w.partitionedCopy(ctx, tx, w.schema, part, table, qualified(w.schema, table), change); err != nil {
		return "", fmt.Errorf("postgres: partition %s by %s: %w", table, change.Columns[0], err)
	}
	for _, s := range []string{
		"ALTER TABLE " + qualified(w.schema, table) + " RENAME TO " + ident(before),
		"ALTER TABLE " + qualified(w.schema, part) + " RENAME TO " + ident(table),
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return "", fmt.Errorf("postgres: partition %s: %w", table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("postgres: partition %s: %w", table, err)
	}
	return "partition:" + before + ":" + strconv.FormatInt(rows, 10), nil
}

// ErrChangedSince is optimize.ErrChangedSince: Revert's refusal once the
// table changed since the change was applied.
var ErrChangedSince = optimize.ErrChangedSince

// unpartition puts the table as it was before partition back, when the
// partitioned table holds the same rows.
func (w *Warehouse) unpartition(ctx context.Context, table, undo string) error {
	i := strings.LastIndexByte(undo, ':')
	before, count := undo[:max(i, 0)], undo[i+1:]
	want, err := strconv.ParseInt(count, 10, 64)
	if i <= 0 || err != nil || !strings.HasPrefix(before, beforePrefix) {
		return fmt.Errorf("postgres: revert on %s: %q is not what Apply returned", table, undo)
	}
	tx, err := w.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, "LOCK TABLE "+qualified(w.schema, table)+" IN ACCESS EXCLUSIVE MODE"); err != nil {
		return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
	}
	var now, diff int64
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM "+qualified(w.schema, table)).Scan(&now); err != nil {
		return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
	}
	if now != want {
		return fmt.Errorf("postgres: revert the partitions of %s: %w: %d rows now, %d when it was partitioned", table, ErrChangedSince, now, want)
	}
	if err := tx.QueryRow(ctx, "SELECT count(*) FROM (SELECT * FROM "+qualified(w.schema, table)+" EXCEPT ALL SELECT * FROM "+
		qualified(w.schema, before)+") d").Scan(&diff); err != nil {
		return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
	}
	if diff != 0 {
		return fmt.Errorf("postgres: revert the partitions of %s: %w: %d rows differ", table, ErrChangedSince, diff)
	}
	for _, s := range []string{
		"DROP TABLE " + qualified(w.schema, table) + " CASCADE",
		"ALTER TABLE " + qualified(w.schema, before) + " RENAME TO " + ident(table),
	} {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: revert the partitions of %s: %w", table, err)
	}
	return nil
}

// Revert implements optimize.Engine: an index is dropped concurrently;
// a partitioned table gives way to the table as it was, while it holds
// the same rows.
func (w *Warehouse) Revert(ctx context.Context, table, undo string) error {
	if rest, ok := strings.CutPrefix(undo, "partition:"); ok {
		return w.unpartition(ctx, table, rest)
	}
	name, ok := strings.CutPrefix(undo, "index:")
	if !ok || !strings.HasPrefix(name, indexPrefix) {
		return fmt.Errorf("postgres: revert on %s: %q is not what Apply returned", table, undo)
	}
	if _, err := w.pool.Exec(ctx, "DROP INDEX CONCURRENTLY IF EXISTS "+qualified(w.schema, name)); err != nil {
		return fmt.Errorf("postgres: drop the index %s: %w", name, err)
	}
	return nil
}

// ImportHistory implements service.HistoryImporter with
// pg_stat_statements: the statements run on this database, top-level
// ones, the slowest in all first, each with its calls, total time, rows
// and the shared buffers it touched. The extension must be created in
// the database and loaded (shared_preload_libraries); where it is not,
// the error says so.
func (w *Warehouse) ImportHistory(ctx context.Context, limit int) ([]optimize.Record, error) {
	rows, err := w.pool.Query(ctx, `SELECT query, calls, total_exec_time, rows, shared_blks_hit + shared_blks_read
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND toplevel AND calls > 0
		ORDER BY total_exec_time DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: import the query history from pg_stat_statements "+
			"(it needs CREATE EXTENSION pg_stat_statements in the database and shared_preload_libraries = 'pg_stat_statements' on the server): %w", err)
	}
	defer rows.Close()
	var out []optimize.Record
	now := time.Now()
	for rows.Next() {
		var r optimize.Record
		var ms float64
		var blocks int64
		if err := rows.Scan(&r.Text, &r.Calls, &ms, &r.Rows, &blocks); err != nil {
			return nil, fmt.Errorf("postgres: read pg_stat_statements: %w", err)
		}
		r.At, r.Source = now, optimize.SourceImport
		r.Duration = time.Duration(ms * float64(time.Millisecond))
		r.BytesScanned = blocks * pageSize
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: read pg_stat_statements: %w", err)
	}
	return out, nil
}
