package duckdb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/warehouse"
)

var _ optimize.Engine = (*Warehouse)(nil)

// Names of the tables the optimisation layer makes beside a target.
const (
	trialPrefix  = "__shp_trial_"
	sortedPrefix = "__shp_sorted_"
	beforePrefix = "__shp_before_"
)

// replays is how many times a trial runs each query on each layout; the
// fastest run counts.
const replays = 3

// Describe implements optimize.Engine: the table's row count and columns.
// DuckDB keeps no sort order in its catalog: the layout is what the
// optimisation layer applied (its record says).
func (w *Warehouse) Describe(ctx context.Context, table string) (optimize.Table, error) {
	sch, err := w.TargetSchema(ctx, table)
	if err != nil {
		return optimize.Table{}, err
	}
	if len(sch) == 0 {
		return optimize.Table{}, fmt.Errorf("duckdb: describe %s: no such table", table)
	}
	t := optimize.Table{Name: table}
	rows, err := w.db.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND lower(table_name) = lower(?) ORDER BY ordinal_position`, table)
	if err != nil {
		return t, fmt.Errorf("duckdb: describe %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c optimize.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return t, fmt.Errorf("duckdb: describe %s: %w", table, err)
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return t, fmt.Errorf("duckdb: describe %s: %w", table, err)
	}
	if err := w.db.QueryRowContext(ctx, "SELECT count(*) FROM "+qualified("main", table)).Scan(&t.Rows); err != nil {
		return t, fmt.Errorf("duckdb: count %s: %w", table, err)
	}
	if err := w.db.QueryRowContext(ctx, `SELECT coalesce(sum(compressed_size), 0) FROM pragma_storage_info(?)`, table).Scan(&t.Bytes); err != nil {
		t.Bytes = 0 // an estimate only; a table being written may not say
	}
	return t, nil
}

// sortKeys is the ORDER BY of a sort: its columns; with a granularity,
// the first column's day, month or year, then the others, then the
// first itself.
func sortKeys(c optimize.Change) string {
	var keys []string
	if c.Granularity != "" {
		keys = append(keys, "date_trunc('"+strings.ToLower(c.Granularity)+"', "+ident(c.Columns[0])+")")
	}
	for _, col := range c.Columns[min(len(c.Columns), len(keys)):] {
		keys = append(keys, ident(col))
	}
	if c.Granularity != "" {
		keys = append(keys, ident(c.Columns[0]))
	}
	return strings.Join(keys, ", ")
}

// sortedCopy is the statement that copies a table sorted as the change
// says.
func sortedCopy(into, table string, c optimize.Change) string {
	return "CREATE TABLE " + qualified("main", into) + " AS SELECT * FROM " + qualified("main", table) + " ORDER BY " + sortKeys(c)
}

// batchSort is the sort an applied change gave target, which a commit
// keeps in each batch it appends so that the batch is clustered as the
// table is; nil when none is applied.
func (w *Warehouse) batchSort(ctx context.Context, tx *sql.Tx, target string) (*optimize.Change, error) {
	var doc string
	err := tx.QueryRowContext(ctx, "SELECT change FROM "+layoutTable+" WHERE table_name = ?", target).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the sort of %s: %w", target, err)
	}
	var c optimize.Change
	if err := json.Unmarshal([]byte(doc), &c); err != nil || c.Kind != "sort" || len(c.Columns) == 0 {
		w.log.Warn("the target's recorded sort is not one; batches go in unsorted", "target", target, "sort", doc)
		return nil, nil
	}
	return &c, nil
}

// orderFor is the ORDER BY that sorts rows of the given columns as c
// does; "" when c is nil or one of its columns is not among them (rows
// of a file that lacks the column go in as they came, with a warning).
func (w *Warehouse) orderFor(c *optimize.Change, cols []warehouse.Column) string {
	if c == nil {
		return ""
	}
	for _, want := range c.Columns {
		if !slices.ContainsFunc(cols, func(col warehouse.Column) bool { return strings.EqualFold(col.Name, want) }) {
			w.log.Warn("the rows lack a column of the target's sort; they go in unsorted", "column", want)
			return ""
		}
	}
	return " ORDER BY " + sortKeys(*c)
}

func checkChange(c optimize.Change) error {
	switch {
	case len(c.Columns) == 0:
	case c.Kind == "sort" && (c.Granularity == "" || c.Granularity == "DAY" || c.Granularity == "MONTH" || c.Granularity == "YEAR"):
		return nil
	case c.Kind == "index" && (c.Method == "" || c.Method == "art"):
		return nil
	}
	return fmt.Errorf("duckdb: %s: %w (it sorts tables and adds ART indexes; it has no partitions or clusters)", c, optimize.ErrUnsupported)
}

// indexPrefix names the indexes the optimisation layer adds.
const indexPrefix = "__shp_idx_"

// createIndex is the statement that adds an ART index.
func createIndex(name, table string, cols []string) string {
	keys := make([]string, len(cols))
	for i, c := range cols {
		keys[i] = ident(c)
	}
	return "CREATE INDEX " + ident(name) + " ON " + qualified("main", table) + " (" + strings.Join(keys, ", ") + ")"
}

// copyFor is the statement that copies a table for a trial of a change:
// sorted, or as it is (to be indexed).
func copyFor(c optimize.Change, into, table string) []string {
	if c.Kind == "sort" {
		return []string{sortedCopy(into, table, c)}
	}
	return []string{"CREATE TABLE " + qualified("main", into) + " AS SELECT * FROM " + qualified("main", table),
		createIndex(indexPrefix+into, into, c.Columns)}
}

// Trial implements optimize.Engine: two copies of the table, one with
// the change (sorted, or indexed), each query run on both (the fastest of
// three runs), the results compared (row count and an order-independent
// checksum), the copies dropped. The table itself is only read.
func (w *Warehouse) Trial(ctx context.Context, table string, change optimize.Change, queries []string) ([]optimize.Timing, error) {
	if err := checkChange(change); err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	// Two copies made the same way, one with the change: a fresh copy is
	// compacted, and the table it came from may not be; the change alone
	// makes the difference.
	base, trial := trialPrefix+"base_"+table, trialPrefix+table
	drop := "DROP TABLE IF EXISTS " + qualified("main", base) + "; DROP TABLE IF EXISTS " + qualified("main", trial)
	if _, err := w.conn.ExecContext(ctx, drop); err != nil {
		return nil, fmt.Errorf("duckdb: trial of %s: %w", table, err)
	}
	defer w.conn.ExecContext(context.WithoutCancel(ctx), drop)
	stmts := append([]string{"CREATE TABLE " + qualified("main", base) + " AS SELECT * FROM " + qualified("main", table)},
		copyFor(change, trial, base)...)
	for _, stmt := range stmts {
		if _, err := w.conn.ExecContext(ctx, stmt); err != nil {
			return nil, fmt.Errorf("duckdb: trial of %s: copy it with %s: %w", table, change, err)
		}
	}
	run := func(q string) (optimize.Result, error) { return w.runOnce(ctx, q) }
	measure := func(q string) (optimize.Scanned, error) {
		if err := w.startProfile(ctx); err != nil {
			return optimize.Scanned{}, err
		}
		defer w.endProfile()
		if _, err := w.runOnce(ctx, q); err != nil {
			return optimize.Scanned{}, err
		}
		s := w.profile()
		return optimize.Scanned{Rows: s.RowsScanned, Bytes: s.Bytes}, nil
	}
	return optimize.CompareCopies(queries, table, qualified("main", base), qualified("main", trial), replays, run, measure), ctx.Err()
}

// runOnce runs a query and reads its result (mu held).
func (w *Warehouse) runOnce(ctx context.Context, q string) (optimize.Result, error) {
	var res optimize.Result
	rows, err := w.conn.QueryContext(ctx, q)
	if err != nil {
		return res, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return res, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for j := range vals {
		ptrs[j] = &vals[j]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return res, err
		}
		res.Add(vals)
	}
	return res, rows.Err()
}

// Apply implements optimize.Engine. A sort rewrites the table sorted, in
// one transaction, and keeps the table as it was beside it for Revert
// (the undo names it with its row count); an index is added (the undo
// names it).
func (w *Warehouse) Apply(ctx context.Context, table string, change optimize.Change) (string, error) {
	if err := checkChange(change); err != nil {
		return "", err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if change.Kind == "index" {
		name := indexPrefix + table + "_" + strings.Join(change.Columns, "_")
		if _, err := w.conn.ExecContext(ctx, createIndex(name, table, change.Columns)); err != nil {
			return "", fmt.Errorf("duckdb: index %s on %s: %w", table, strings.Join(change.Columns, ", "), err)
		}
		return "index:" + name, nil
	}
	before := beforePrefix + table + "_" + strconv.FormatInt(time.Now().UnixNano(), 36)
	sorted := sortedPrefix + table
	var rows int64
	err := w.inTx(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+qualified("main", table)).Scan(&rows); err != nil {
			return err
		}
		for _, stmt := range []string{
			sortedCopy(sorted, table, change),
			"ALTER TABLE " + qualified("main", table) + " RENAME TO " + ident(before),
			"ALTER TABLE " + qualified("main", sorted) + " RENAME TO " + ident(table),
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		// Commits keep the order in each batch they append.
		doc, _ := json.Marshal(change)
		_, err := tx.ExecContext(ctx, "INSERT OR REPLACE INTO "+layoutTable+" VALUES (?, ?)", table, string(doc))
		return err
	})
	if err != nil {
		return "", fmt.Errorf("duckdb: sort %s by %s: %w", table, strings.Join(change.Columns, ", "), err)
	}
	return before + ":" + strconv.FormatInt(rows, 10), nil
}

// ErrChangedSince is returned by Revert when the table's rows changed
// after the change was applied: restoring the table as it was would lose
// them.
var ErrChangedSince = errors.New("the table changed since the change was applied")

// Revert implements optimize.Engine. An index is dropped. For a sort, the
// table as it was before Apply takes its place again, when the table
// still holds the same rows (a sort changes no row; a commit since would
// be lost), and the sorted table is dropped.
func (w *Warehouse) Revert(ctx context.Context, table, undo string) error {
	if name, ok := strings.CutPrefix(undo, "index:"); ok && strings.HasPrefix(name, indexPrefix) {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, err := w.conn.ExecContext(ctx, "DROP INDEX IF EXISTS "+qualified("main", name)); err != nil {
			return fmt.Errorf("duckdb: drop the index %s: %w", name, err)
		}
		return nil
	}
	i := strings.LastIndexByte(undo, ':')
	ok := i > 0
	before, count := undo[:max(i, 0)], undo[i+1:]
	want, err := strconv.ParseInt(count, 10, 64)
	if !ok || err != nil || !strings.HasPrefix(before, beforePrefix) {
		return fmt.Errorf("duckdb: revert the layout of %s: %q is not what Apply returned", table, undo)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err = w.inTx(ctx, func(tx *sql.Tx) error {
		var now, was int64
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+qualified("main", table)).Scan(&now); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+qualified("main", before)).Scan(&was); err != nil {
			return err
		}
		if now != want || was != want {
			return fmt.Errorf("%w: %d rows now, %d when it was sorted", ErrChangedSince, now, want)
		}
		// The same rows, both ways: nothing in one that is not in the other.
		var diff int64
		q := "SELECT count(*) FROM (SELECT * FROM " + qualified("main", table) + " EXCEPT ALL SELECT * FROM " + qualified("main", before) + ")"
		if err := tx.QueryRowContext(ctx, q).Scan(&diff); err != nil {
			return err
		}
		if diff != 0 {
			return fmt.Errorf("%w: %d rows differ", ErrChangedSince, diff)
		}
		for _, stmt := range []string{
			"DROP TABLE " + qualified("main", table),
			"ALTER TABLE " + qualified("main", before) + " RENAME TO " + ident(table),
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "DELETE FROM "+layoutTable+" WHERE table_name = ?", table)
		return err
	})
	if err != nil {
		return fmt.Errorf("duckdb: revert the layout of %s: %w", table, err)
	}
	return nil
}

// inTx runs fn in a transaction of the data-plane connection (mu held).
func (w *Warehouse) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := w.conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		return errors.Join(err, tx.Rollback())
	}
	return tx.Commit()
}
