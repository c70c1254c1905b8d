// Package duckdb is the embedded Warehouse: DuckDB reads staged files itself
// (read_csv, read_json, read_parquet), sets rows it cannot type aside with
// the reason, and commits batches into target tables in one transaction.
// It is the only package that links DuckDB (cgo).
package duckdb

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"

	duckdbdriver "github.com/duckdb/duckdb-go/v2"

	"github.com/shp-dev/shp/internal/arrowmem"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

func init() {
	warehouse.Register("duckdb", func(ctx context.Context, opts warehouse.Options) (warehouse.Warehouse, error) {
		w, err := Open(ctx, opts)
		if err != nil {
			return nil, err // not a typed nil in the interface
		}
		return w, nil
	})
}

// Internal objects live in their own schema so a user's tables never clash
// with them.
const (
	internalSchema = "_shp"
	ledgerTable    = internalSchema + ".loads"
	// layoutTable keeps the sort an applied layout change gave a target,
	// which commits keep in each batch they append.
	layoutTable   = internalSchema + ".table_layouts"
	setAsideTable = warehouse.SetAsideTable
	qualityTable  = internalSchema + ".quality_results"
	stagePrefix   = "stage_"
	// attachPrefix names the one staging table a run may stage in the
	// database's main schema, followed by digits only (see claimAttach):
	// the tables made from its name (its quarantine, "_q", and the
	// others) are temporary like every other staging table.
	attachPrefix = "__shp_attach_"
)

// Warehouse is a DuckDB database file (or an in-memory database when Path
// is empty).
//
// Staging tables are temporary tables: they never reach the database file,
// so a load writes its rows to disk once, into the target. Temporary tables
// belong to one connection, so the data plane (Stage, Commit, DropStaging)
// runs on one dedicated connection, one operation at a time. The first
// object a run stages for a target that does not exist is the exception:
// it is staged in the main schema, and the commit that creates the target
// renames that table into its place (see claimAttach).
type Warehouse struct {
	db      *sql.DB
	mu      sync.Mutex // guards conn
	conn    *sql.Conn
	tempDir string
	seq     atomic.Int64
	// pending are the rewrites applied whose original values wait for
	// KeepRepair or UndoRepair, by token (guarded by mu).
	pending map[string]pendingRewrite
	// attach are the targets, by run and target, for which the run
	// claimed a staging table the commit may attach (see claimAttach;
	// guarded by mu).
	attach map[string]bool
	// live are this process's staging tables in the main schema, while
	// automatic checkpoints are held for them, and threshold the
	// checkpoint_threshold to restore after (see holdCheckpoints; guarded
	// by mu).
	live      map[string]bool
	threshold string
	// batches holds the buffers of Arrow batches read, for the next
	// (see arrowmem).
	batches *arrowmem.Pool
	// memoryLimit is warehouse.memory_limit, which an operation that runs
	// out of memory under it is retried without (see roomFor).
	memoryLimit string
	log         *slog.Logger
}

var _ warehouse.Warehouse = (*Warehouse)(nil)

// Open opens or creates the database and its internal schema.
func Open(ctx context.Context, opts warehouse.Options) (*Warehouse, error) {
	if strings.ContainsAny(opts.Path, "%?") {
		// The driver parses its DSN as a URL: '?' starts options and '%'
		// an escape, so such a path would open another file or none.
		return nil, fmt.Errorf("duckdb: the warehouse path %s holds '%%' or '?', which the DuckDB driver reads as URL syntax: "+
			"move the project, or set warehouse.path in config.yaml to a path without them", opts.Path)
	}
	if opts.Path != "" {
		if err := os.MkdirAll(filepath.Dir(opts.Path), 0o755); err != nil {
			return nil, fmt.Errorf("duckdb: create directory for %s: %w", opts.Path, err)
		}
	}
	tempDir := opts.TempDir
	if tempDir == "" {
		tempDir = os.TempDir()
	}
	if err := os.MkdirAll(tempDir, 0o755); err != nil {
		return nil, fmt.Errorf("duckdb: create temp directory %s: %w", tempDir, err)
	}
	connector, err := duckdbdriver.NewConnector(opts.Path, func(execer driver.ExecerContext) error {
		settings := []string{
			"SET temp_directory = " + literal(tempDir),
			// Rows keep file order, so "the later row wins" in a merge
			// means the later line of the later file.
			"SET preserve_insertion_order = true",
		}
		if opts.MemoryLimit != "" {
			settings = append(settings, "SET memory_limit = "+literal(opts.MemoryLimit))
		}
		if opts.Threads > 0 {
			settings = append(settings, fmt.Sprintf("SET threads = %d", opts.Threads))
		}
		for _, s := range settings {
			if _, err := execer.ExecContext(context.Background(), s, nil); err != nil {
				return fmt.Errorf("%s: %w", s, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("duckdb: open %s: %w", describePath(opts.Path), err)
	}
	w := &Warehouse{db: sql.OpenDB(connector), tempDir: tempDir, batches: arrowmem.NewPool(16 << 20),
		memoryLimit: opts.MemoryLimit, log: opts.Logger}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	if w.conn, err = w.db.Conn(ctx); err != nil {
		w.db.Close()
		return nil, fmt.Errorf("duckdb: open %s: %w", describePath(opts.Path), err)
	}
	for _, stmt := range []string{
		"CREATE SCHEMA IF NOT EXISTS " + internalSchema,
		`CREATE TABLE IF NOT EXISTS ` + layoutTable + ` (table_name VARCHAR PRIMARY KEY, change VARCHAR NOT NULL)`,
		`CREATE TABLE IF NOT EXISTS ` + ledgerTable + ` (
			pipeline VARCHAR NOT NULL,
			object_key VARCHAR NOT NULL,
			fingerprint VARCHAR NOT NULL,
			run_id VARCHAR NOT NULL,
			target VARCHAR NOT NULL,
			rows_loaded BIGINT NOT NULL,
			rows_quarantined BIGINT NOT NULL,
			committed_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp,
			content_hash VARCHAR)`,
		`CREATE TABLE IF NOT EXISTS ` + qualityTable + ` (
			run_id VARCHAR NOT NULL,
			pipeline VARCHAR NOT NULL,
			target VARCHAR NOT NULL,
			object_key VARCHAR NOT NULL,
			rule VARCHAR NOT NULL,
			expectation VARCHAR NOT NULL,
			severity VARCHAR NOT NULL,
			action VARCHAR NOT NULL,
			success BOOLEAN NOT NULL,
			quality_score DOUBLE NOT NULL,
			result JSON,
			validated_at TIMESTAMPTZ NOT NULL DEFAULT current_timestamp)`,
		// The rows of uncommitted runs: a quarantine table of its own.
		`CREATE TABLE IF NOT EXISTS ` + setAsideTable + ` ` + quarantineColumns,
	} {
		if _, err := logExec(ctx, w.db, stmt); err != nil {
			w.Close()
			return nil, fmt.Errorf("duckdb: initialise %s: %w", describePath(opts.Path), err)
		}
	}
	// Since issue 13 the ledger keeps the SHA-256 of each object's bytes,
	// which finds a re-delivery under another name. A ledger made before
	// gains the column, checkpointed at once: DuckDB 1.5 fails to replay
	// an ALTER of a table outside the main schema from its write-ahead
	// log after a crash.
	var has bool
	err = w.db.QueryRowContext(ctx, `SELECT count(*) > 0 FROM information_schema.columns
		WHERE table_schema = ? AND table_name = 'loads' AND column_name = 'content_hash'`, internalSchema).Scan(&has)
	if err == nil && !has {
		if _, err = logExec(ctx, w.db, `ALTER TABLE `+ledgerTable+` ADD COLUMN content_hash VARCHAR`); err == nil {
			_, err = logExec(ctx, w.db, `CHECKPOINT`)
		}
	}
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("duckdb: initialise %s: add the ledger's content_hash: %w", describePath(opts.Path), err)
	}
	// A process that died between staging and committing a new target
	// left its staging table in the database: no one else can have the
	// file open, so it is dropped.
	if err := w.dropAttachTables(ctx, true); err != nil {
		w.Close()
		return nil, fmt.Errorf("duckdb: initialise %s: %w", describePath(opts.Path), err)
	}
	return w, nil
}

func describePath(p string) string {
	if p == "" {
		return "in-memory database"
	}
	return p
}

// Close closes the database.
func (w *Warehouse) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return errors.Join(w.conn.Close(), w.db.Close())
}

// DB exposes the database for tests and benchmarks in this module.
func (w *Warehouse) DB() *sql.DB { return w.db }

// LoadedObjects reads the load ledger of a pipeline.
func (w *Warehouse) LoadedObjects(ctx context.Context, pipeline string) ([]warehouse.LoadedObject, error) {
	rows, err := w.db.QueryContext(ctx,
		`SELECT object_key, fingerprint, run_id, coalesce(content_hash, '') FROM `+ledgerTable+` WHERE pipeline = ? ORDER BY committed_at, object_key`, pipeline)
	if err != nil {
		return nil, fmt.Errorf("duckdb: read load ledger of %s: %w", pipeline, err)
	}
	defer rows.Close()
	var out []warehouse.LoadedObject
	for rows.Next() {
		var o warehouse.LoadedObject
		if err := rows.Scan(&o.Key, &o.Fingerprint, &o.RunID, &o.ContentHash); err != nil {
			return nil, fmt.Errorf("duckdb: read load ledger of %s: %w", pipeline, err)
		}
		out = append(out, o)
	}
	return out, rows.Err()
}

// DropStaging drops the staging tables of this process; the temporary
// ones of a process that died went with it, its table in the main schema
// (see claimAttach) is dropped here or when the database is next opened.
func (w *Warehouse) DropStaging(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.dropAttachTables(ctx, false); err != nil {
		return err
	}
	w.attach = nil
	w.releaseCheckpoints(ctx, "")
	rows, err := w.conn.QueryContext(ctx,
		`SELECT table_name FROM information_schema.tables WHERE table_catalog = 'temp' AND (table_name LIKE 'stage%' OR starts_with(table_name, ?))`, attachPrefix)
	if err != nil {
		return fmt.Errorf("duckdb: list staging tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("duckdb: list staging tables: %w", err)
		}
		names = append(names, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("duckdb: list staging tables: %w", err)
	}
	for _, n := range names {
		if _, err := logExec(ctx, w.conn, "DROP TABLE IF EXISTS "+stagingRef(n)); err != nil {
			return fmt.Errorf("duckdb: drop staging table %s: %w", n, err)
		}
	}
	w.pending = nil // their originals were staging tables too
	return nil
}

// columns lists a table's columns, or nil when the table does not exist.
// Staging tables are looked up among the temporary tables (but a table to
// attach, see stagingRef), others in the database's main schema.
func columns(ctx context.Context, q queryer, table string, staging bool) ([]warehouse.Column, error) {
	where := `table_catalog = current_database() AND table_schema = 'main'`
	if staging && !attachTable(table) {
		where = `table_catalog = 'temp'`
	}
	rows, err := q.QueryContext(ctx,
		`SELECT column_name, data_type FROM information_schema.columns
		 WHERE `+where+` AND table_name = ? ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", table, err)
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, fmt.Errorf("describe %s: %w", table, err)
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// ident quotes an SQL identifier.
func ident(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

func qualified(schemaName, table string) string { return ident(schemaName) + "." + ident(table) }

// stagingRef names a staging table: a temporary table of the data-plane
// connection, but the table a commit may attach as a new target (named
// attachPrefix and digits, see claimAttach), in the main schema.
func stagingRef(table string) string {
	if attachTable(table) {
		return qualified("main", table)
	}
	return "temp.main." + ident(table)
}

// createStaging starts the statement that creates a staging table:
// temporary, but a table to attach.
func createStaging(table string) string {
	if attachTable(table) {
		return "CREATE TABLE " + stagingRef(table)
	}
	return "CREATE TEMP TABLE " + stagingRef(table)
}

// literal quotes an SQL string literal. Only used where DuckDB does not
// accept a bound parameter (table function options, SET).
func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func exec(ctx context.Context, e execer, stmt string, args ...any) (int64, error) {
	res, err := logExec(ctx, e, stmt, args...)
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	return n, nil
}

// QuarantineWhere moves the staged rows matching pred to the object's
// quarantine staging table, with the reason and the row as JSON.
func (w *Warehouse) QuarantineWhere(ctx context.Context, st *warehouse.Staged, pred string, args []any, reason string) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.quarantineWhere(ctx, st, pred, args, reason)
}

// quarantineWhere is QuarantineWhere on the data plane the caller holds.
func (w *Warehouse) quarantineWhere(ctx context.Context, st *warehouse.Staged, pred string, args []any, reason string) (int64, error) {
	cols, err := columns(ctx, w.conn, st.Table, true)
	if err != nil {
		return 0, err
	}
	line := "NULL"
	var parts []string
	for _, c := range cols {
		if c.Name == lineCol {
			line = ident(lineCol)
			continue
		}
		parts = append(parts, literal(c.Name)+", "+ident(c.Name))
	}
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	table := stagingRef(st.Table)
	n, err := exec(ctx, tx, fmt.Sprintf("INSERT INTO %s SELECT %s, %s, CAST(json_object(%s) AS VARCHAR) FROM %s WHERE %s",
		stagingRef(st.Table+"_q"), line, literal(reason), strings.Join(parts, ", "), table, pred), args...)
	if err != nil {
		return 0, fmt.Errorf("duckdb: quarantine rows of %s: %w", st.ObjectKey, err)
	}
	if _, err := logExec(ctx, tx, "DELETE FROM "+table+" WHERE "+pred, args...); err != nil {
		return 0, fmt.Errorf("duckdb: quarantine rows of %s: %w", st.ObjectKey, err)
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	st.Loaded -= n
	st.Quarantined += n
	return n, nil
}

var _ warehouse.Inspector = (*Warehouse)(nil)

// Rejects groups a staged object's set-aside rows by problem and column.
func (w *Warehouse) Rejects(ctx context.Context, st *warehouse.Staged) ([]warehouse.Reject, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out, err := sqlplan.Rejects(ctx, sqlplan.DB(w.conn), duck, stagingRef(st.Table+"_q"))
	if err != nil {
		return nil, fmt.Errorf("duckdb: group rejected rows of %s: %w", st.ObjectKey, err)
	}
	return out, nil
}

// RejectedValues returns distinct values of column among the rows set
// aside because it did not convert: from the row's JSON when the reader
// kept one, else from the CSV reader's message, which quotes the value.
func (w *Warehouse) RejectedValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]string, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	path := `$."` + strings.ReplaceAll(column, `"`, `\"`) + `"`
	quoted := regexp.QuoteMeta(column)
	csvMsg := `CAST \(column ` + quoted + `\): Error when converting column "` + quoted + `"\. Could not convert string "(.*?)" to '`
	rows, err := logQuery(ctx, w.conn, `SELECT v FROM (
			SELECT DISTINCT CASE WHEN starts_with(raw, '{') AND json_valid(raw) THEN json_extract_string(raw, ?)
			                     ELSE regexp_extract(reason, ?, 1) END AS v
			FROM `+stagingRef(st.Table+"_q")+` WHERE contains(reason, ?))
		WHERE v IS NOT NULL AND v <> '' ORDER BY v LIMIT ?`, path, csvMsg, "CAST (column "+column+")", limit)
	if err != nil {
		return nil, fmt.Errorf("duckdb: rejected values of %s in %s: %w", column, st.ObjectKey, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("duckdb: rejected values of %s in %s: %w", column, st.ObjectKey, err)
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// RepeatedRows implements warehouse.Inspector.
func (w *Warehouse) RepeatedRows(ctx context.Context, st *warehouse.Staged, target string) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tcols, err := columns(ctx, w.conn, target, false)
	if err != nil || len(tcols) == 0 {
		return 0, err
	}
	var common []warehouse.Column
	for _, c := range st.Columns {
		if hasColumn(tcols, c.Name) {
			common = append(common, c)
		}
	}
	if len(common) == 0 {
		return 0, nil
	}
	list := selectList(common)
	var n int64
	if err := w.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT count(*) FROM (SELECT %s FROM %s INTERSECT ALL SELECT %s FROM %s)",
		list, stagingRef(st.Table), list, qualified("main", target))).Scan(&n); err != nil {
		return 0, fmt.Errorf("duckdb: rows of %s already in %s: %w", st.ObjectKey, target, err)
	}
	return n, nil
}

// SetAside implements warehouse.Warehouse.
func (w *Warehouse) SetAside(ctx context.Context, runID, pipeline string, objects []*warehouse.Staged) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var total int64
	for _, o := range objects {
		var exists bool
		if err := tx.QueryRowContext(ctx, `SELECT count(*) > 0 FROM information_schema.tables WHERE table_catalog = 'temp' AND table_name = ?`,
			o.Table+"_q").Scan(&exists); err != nil || !exists {
			continue // dropped already: nothing to keep
		}
		n, err := exec(ctx, tx, `INSERT INTO `+setAsideTable+` (run_id, pipeline, source_object, line, reason, raw)
			SELECT ?, ?, ?, line, reason, raw FROM `+stagingRef(o.Table+"_q")+` ORDER BY line`, runID, pipeline, o.ObjectKey)
		if err != nil {
			return 0, fmt.Errorf("duckdb: keep the rows set aside from %s: %w", o.ObjectKey, err)
		}
		total += n
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("duckdb: keep the rows set aside by run %s: %w", runID, err)
	}
	return total, nil
}

// overlapSample bounds the values Overlap compares: distinct values of
// the file's column, and the target's most recent rows.
const (
	overlapFileValues = 1000
	overlapTargetRows = 100000
)

// Overlap implements warehouse.Inspector.
func (w *Warehouse) Overlap(ctx context.Context, spec warehouse.LoadSpec, fileColumn, targetColumn string) (float64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	tcols, err := columns(ctx, w.conn, spec.Target, false)
	if err != nil || !hasColumn(tcols, targetColumn) {
		return -1, err
	}
	var filled bool
	if err := w.conn.QueryRowContext(ctx, fmt.Sprintf("SELECT EXISTS (SELECT 1 FROM %s WHERE %s IS NOT NULL)",
		qualified("main", spec.Target), ident(targetColumn))).Scan(&filled); err != nil || !filled {
		return -1, err
	}
	var src string
	col := ident(fileColumn)
	switch spec.Format {
	case format.CSV:
		st := &stager{spec: spec}
		delim, quote, nulls := st.csvOptions()
		src = fmt.Sprintf("read_csv(%s, header=%t, delim=%s, quote=%s, escape=%s, compression=%s, nullstr=%s, all_varchar=true, ignore_errors=true, null_padding=true)",
			literal(spec.Path), !spec.CSV.NoHeader, literal(delim), literal(quote), literal(quote), literal(st.compression()), listLiteral(nulls))
	case format.JSON, format.JSONL:
		src = fmt.Sprintf("read_json(%s, columns={%s: 'VARCHAR'}, ignore_errors=true)", literal(spec.Path), literal(fileColumn))
	case format.Parquet:
		src = fmt.Sprintf("read_parquet(%s)", literal(spec.Path))
	default:
		return 0, nil
	}
	var share sql.NullFloat64
	err = w.conn.QueryRowContext(ctx, fmt.Sprintf(`WITH f AS (SELECT DISTINCT trim(CAST(%s AS VARCHAR)) AS v FROM %s WHERE %s IS NOT NULL LIMIT %d),
		t AS (SELECT DISTINCT trim(CAST(%s AS VARCHAR)) AS v FROM (SELECT %s FROM %s ORDER BY rowid DESC LIMIT %d) WHERE %s IS NOT NULL)
		SELECT CAST(count(*) FILTER (WHERE v IN (SELECT v FROM t)) AS DOUBLE) / nullif(count(*), 0) FROM f WHERE v <> ''`,
		col, src, col, overlapFileValues, ident(targetColumn), ident(targetColumn), qualified("main", spec.Target), overlapTargetRows, ident(targetColumn))).Scan(&share)
	if err != nil {
		// A file the reader cannot take this way has no measurable
		// overlap; the rename is then judged by its name alone.
		return 0, nil
	}
	return share.Float64, nil
}

// Discard drops a staged object's tables.
func (w *Warehouse) Discard(ctx context.Context, st *warehouse.Staged) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.dropPending(ctx, st.Table)
	for _, t := range []string{st.Table, st.Table + "_q"} {
		if _, err := logExec(ctx, w.conn, "DROP TABLE IF EXISTS "+stagingRef(t)); err != nil {
			return fmt.Errorf("duckdb: discard staging of %s: %w", st.ObjectKey, err)
		}
	}
	w.releaseCheckpoints(ctx, st.Table)
	return nil
}

// roomFor runs op (named what). When DuckDB runs out of memory under
// warehouse.memory_limit, which bounds what staging holds but not what
// every operator needs (a merge's delete of millions of replaced rows
// cannot spill), op runs once more under DuckDB's own limit (80% of the
// machine's memory), and the configured limit is set again after it. op
// must undo its own work when it fails: a transaction, or staging tables
// it drops. The caller holds w.mu.
func (w *Warehouse) roomFor(ctx context.Context, what string, op func() error) error {
	err := op()
	var de *duckdbdriver.Error
	if err == nil || w.memoryLimit == "" || !errors.As(err, &de) || de.Type != duckdbdriver.ErrorTypeOutOfMemory {
		return err
	}
	// RESET gives the setting DuckDB's default but leaves the buffer
	// manager's limit as it was: SET applies it.
	bg := context.WithoutCancel(ctx)
	var limit string
	if _, rerr := w.conn.ExecContext(bg, "RESET memory_limit"); rerr != nil {
		return err
	}
	if rerr := w.conn.QueryRowContext(bg, "SELECT current_setting('memory_limit')").Scan(&limit); rerr != nil {
		return err
	}
	defer func() {
		if _, serr := w.conn.ExecContext(bg, "SET memory_limit = "+literal(w.memoryLimit)); serr != nil {
			w.log.Warn("duckdb: could not set memory_limit back", "memory_limit", w.memoryLimit, "error", serr)
		}
	}()
	if _, rerr := w.conn.ExecContext(bg, "SET memory_limit = "+literal(limit)); rerr != nil {
		return err
	}
	w.log.Warn("duckdb ran out of memory under warehouse.memory_limit; retrying with DuckDB's own limit",
		"operation", what, "memory_limit", w.memoryLimit, "retry_limit", limit, "error", de.Msg)
	return op()
}
