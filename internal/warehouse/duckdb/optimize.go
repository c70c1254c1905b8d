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
	if err := w.measureDecimals(ctx, &t); err != nil {
		return t, err
	}
	if err := w.describeIndexes(ctx, &t); err != nil {
		return t, err
	}
	if err := w.db.QueryRowContext(ctx, `SELECT coalesce(sum(compressed_size), 0) FROM pragma_storage_info(?)`, table).Scan(&t.Bytes); err != nil {
		t.Bytes = 0 // an estimate only; a table being written may not say
	}
	return t, nil
}

// measureDecimals reads, in one scan, the integer digits of the largest
// value of each DECIMAL of more than 18 digits (Column.IntDigits), for
// the rule that narrows them.
func (w *Warehouse) measureDecimals(ctx context.Context, t *optimize.Table) error {
	var wide []int
	var items []string
	for i, c := range t.Columns {
		if p, _, ok := decimalWidth(c.Type); ok && p > 18 {
			wide = append(wide, i)
			items = append(items, "CAST(max(abs("+ident(c.Name)+")) AS VARCHAR)")
		}
	}
	if len(wide) == 0 {
		return nil
	}
	vals := make([]sql.NullString, len(wide))
	ptrs := make([]any, len(wide))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := w.db.QueryRowContext(ctx, "SELECT "+strings.Join(items, ", ")+" FROM "+qualified("main", t.Name)).Scan(ptrs...); err != nil {
		return fmt.Errorf("duckdb: measure the decimals of %s: %w", t.Name, err)
	}
	for i, col := range wide {
		if !vals[i].Valid {
			continue // no value yet: nothing says how wide they are
		}
		n := optimize.IntegerDigits(vals[i].String)
		t.Columns[col].IntDigits = &n
	}
	return nil
}

// describeIndexes lists the table's indexes (Layout.Indexes), each by
// its columns as DuckDB's catalog gives its expressions.
func (w *Warehouse) describeIndexes(ctx context.Context, t *optimize.Table) error {
	rows, err := w.db.QueryContext(ctx, `SELECT CAST(expressions AS VARCHAR) FROM duckdb_indexes() WHERE schema_name = 'main' AND lower(table_name) = lower(?)`, t.Name)
	if err != nil {
		return fmt.Errorf("duckdb: the indexes of %s: %w", t.Name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var expr string
		if err := rows.Scan(&expr); err != nil {
			return fmt.Errorf("duckdb: the indexes of %s: %w", t.Name, err)
		}
		var cols []string
		for _, c := range strings.Split(strings.Trim(expr, "[]"), ",") {
			cols = append(cols, strings.Trim(strings.TrimSpace(c), `'"`))
		}
		t.Layout.Indexes = append(t.Layout.Indexes, cols)
	}
	return rows.Err()
}

// decimalWidth reads a DECIMAL(p,s) (NUMERIC too), not BigQuery's wide
// kinds, which DuckDB has none of.
func decimalWidth(typ string) (precision, scale int, ok bool) {
	p, sc, big, ok := optimize.DecimalType(typ)
	return p, sc, ok && !big
}

// typeChange is one column of a type change and the type it had, as
// Apply keeps it for Revert.
type typeChange struct {
	Column string `json:"column"`
	Was    string `json:"was"`
	// Now is the type Apply gave it: a revert is refused when the column
	// has another since (a repair widened it), which the old type might
	// not hold exactly.
	Now string `json:"now"`
}

// typePrefix starts the undo of a type change.
const typePrefix = "type:"

// alterTypes are the statements that give columns new DECIMAL types,
// written from the precision and scale read (never the text as given).
func alterTypes(table string, cols, types []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		p, s, _ := decimalWidth(types[i])
		out[i] = fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s SET DATA TYPE DECIMAL(%d,%d)", qualified("main", table), ident(c), p, s)
	}
	return out
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
	case c.Kind == "type" && len(c.Types) == len(c.Columns):
		for _, typ := range c.Types {
			if p, _, ok := decimalWidth(typ); !ok || p > 18 {
				return fmt.Errorf("duckdb: %s: %w (a type change narrows a DECIMAL to 18 digits at most, not to %q)", c, optimize.ErrUnsupported, typ)
			}
		}
		return nil
	}
	return fmt.Errorf("duckdb: %s: %w (it sorts tables, adds ART indexes and narrows decimals; it has no partitions or clusters)", c, optimize.ErrUnsupported)
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
	copied := "CREATE TABLE " + qualified("main", into) + " AS SELECT * FROM " + qualified("main", table)
	switch c.Kind {
	case "sort":
		return []string{sortedCopy(into, table, c)}
	case "type":
		return append([]string{copied}, alterTypes(into, c.Columns, c.Types)...)
	}
	return []string{copied, createIndex(indexPrefix+into, into, c.Columns)}
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
	if change.Kind == "type" {
		return w.applyTypes(ctx, table, change)
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

// ErrChangedSince is optimize.ErrChangedSince: Revert's refusal once the
// table changed since the change was applied.
var ErrChangedSince = optimize.ErrChangedSince

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
	if doc, ok := strings.CutPrefix(undo, typePrefix); ok {
		return w.revertTypes(ctx, table, doc)
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

// applyTypes narrows the change's columns in one transaction (mu held);
// a value the new type cannot hold fails it, changing nothing. The undo
// keeps the types they had.
func (w *Warehouse) applyTypes(ctx context.Context, table string, change optimize.Change) (string, error) {
	was := map[string]string{}
	rows, err := w.conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND lower(table_name) = lower(?)`, table)
	if err != nil {
		return "", fmt.Errorf("duckdb: narrow %s: %w", table, err)
	}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			rows.Close()
			return "", fmt.Errorf("duckdb: narrow %s: %w", table, err)
		}
		was[strings.ToLower(name)] = typ
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return "", fmt.Errorf("duckdb: narrow %s: %w", table, err)
	}
	if len(was) == 0 {
		return "", fmt.Errorf("duckdb: narrow %s: no such table", table)
	}
	undo := make([]typeChange, len(change.Columns))
	for i, c := range change.Columns {
		typ, ok := was[strings.ToLower(c)]
		if !ok {
			return "", fmt.Errorf("duckdb: narrow %s: no column %q", table, c)
		}
		p, sc, _ := decimalWidth(change.Types[i])
		undo[i] = typeChange{Column: c, Was: typ, Now: fmt.Sprintf("DECIMAL(%d,%d)", p, sc)}
	}
	err = w.inTx(ctx, func(tx *sql.Tx) error {
		for _, stmt := range alterTypes(table, change.Columns, change.Types) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("duckdb: %s on %s: %w", change, table, err)
	}
	doc, _ := json.Marshal(undo)
	return typePrefix + string(doc), nil
}

// revertTypes gives the columns of a type change the types they had
// (wider: every value fits).
func (w *Warehouse) revertTypes(ctx context.Context, table, doc string) error {
	var undo []typeChange
	if err := json.Unmarshal([]byte(doc), &undo); err != nil || len(undo) == 0 {
		return fmt.Errorf("duckdb: revert the types of %s: %q is not what Apply returned", table, typePrefix+doc)
	}
	cols, types := make([]string, len(undo)), make([]string, len(undo))
	for i, u := range undo {
		if _, _, ok := decimalWidth(u.Was); !ok {
			return fmt.Errorf("duckdb: revert the types of %s: %q is not a type it narrows", table, u.Was)
		}
		cols[i], types[i] = u.Column, u.Was
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	err := w.inTx(ctx, func(tx *sql.Tx) error {
		for _, u := range undo {
			var now string
			err := tx.QueryRowContext(ctx, `SELECT data_type FROM information_schema.columns
				WHERE table_schema = 'main' AND lower(table_name) = lower(?) AND lower(column_name) = lower(?)`, table, u.Column).Scan(&now)
			if err != nil {
				return fmt.Errorf("column %s: %w", u.Column, err)
			}
			if u.Now != "" && !strings.EqualFold(strings.ReplaceAll(now, " ", ""), u.Now) {
				return fmt.Errorf("%w: column %s is %s now, not the %s it was narrowed to", ErrChangedSince, u.Column, now, u.Now)
			}
		}
		for _, stmt := range alterTypes(table, cols, types) {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("duckdb: revert the types of %s: %w", table, err)
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
