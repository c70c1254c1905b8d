package duckdb

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/warehouse"
)

// events makes a table of n rows in load order (by day), whose customer
// column is spread over every row group: a filter on it reads them all
// until the table is sorted by it.
func events(t *testing.T, w *Warehouse, n int) {
	t.Helper()
	_, err := w.db.ExecContext(context.Background(), fmt.Sprintf(`CREATE TABLE events AS
		SELECT i AS id, DATE '2026-01-01' + CAST(i * 365 // %d AS INTEGER) AS day,
		       'C' || lpad(CAST((i * 7919) %% 5000 AS VARCHAR), 5, '0') AS customer,
		       (i %% 97) * 1.5 AS amount
		FROM range(%d) t(i)`, n, n))
	if err != nil {
		t.Fatal(err)
	}
}

func TestOptimizeDescribeTrialApplyRevert(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	events(t, w, 1_000_000)

	tab, err := w.Describe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows != 1_000_000 || len(tab.Columns) != 4 || tab.ColumnType("day") != "DATE" || tab.ColumnType("customer") != "VARCHAR" {
		t.Fatalf("described %+v", tab)
	}
	if _, err := w.Describe(ctx, "nothing"); err == nil {
		t.Error("a table that is not there was described")
	}

	sortBy := optimize.Change{Kind: "sort", Columns: []string{"customer"}}
	queries := []string{
		`SELECT count(*), sum(amount) FROM events WHERE customer = 'C00042'`,
		`SELECT day, sum(amount) FROM events WHERE customer IN ('C00007', 'C01234') GROUP BY day`,
		`SELECT count(*) FROM main.events e WHERE e.customer = 'C04999' AND e.day >= DATE '2026-06-01'`,
		`SELECT * FROM events WHERE no_such_column = 1`,
	}
	ts, err := w.Trial(ctx, "events", sortBy, queries)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 4 || ts[3].ErrorBefore == "" {
		t.Fatalf("timings %+v", ts)
	}
	for _, tm := range ts[:3] {
		if !tm.SameResult || tm.Rows == 0 || tm.Before <= 0 || tm.After <= 0 {
			t.Errorf("replayed %s: %+v", tm.Query, tm)
		}
	}
	v := optimize.Judge(ts, optimize.Thresholds{})
	t.Logf("trial: %s", v.Why)
	// The profiler counts the rows the scans read: every row of the copy
	// in load order; about one row group of the sorted copy, whose zone
	// maps rule the others out.
	if lookup := ts[0]; lookup.RowsScannedBefore != 1_000_000 || lookup.RowsScannedAfter == 0 || lookup.RowsScannedAfter > 250_000 {
		t.Errorf("rows scanned by %s: %d before, %d after", lookup.Query, lookup.RowsScannedBefore, lookup.RowsScannedAfter)
	}
	if v.ScannedBefore <= v.ScannedAfter {
		t.Errorf("the trial's scans: %d rows before, %d after", v.ScannedBefore, v.ScannedAfter)
	}
	var left int
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_tables() WHERE table_name LIKE '__shp_trial_%'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("the trial left %d tables (%v)", left, err)
	}
	if _, err := w.Trial(ctx, "events", optimize.Change{Kind: "partition", Columns: []string{"day"}}, queries); err == nil ||
		!errors.Is(err, optimize.ErrUnsupported) {
		t.Errorf("a partition on DuckDB: %v", err)
	}

	sum := func() (n int64, s float64) {
		if err := w.db.QueryRowContext(ctx, `SELECT count(*), sum(amount) FROM events`).Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		return
	}
	n0, s0 := sum()
	undo, err := w.Apply(ctx, "events", sortBy)
	if err != nil {
		t.Fatal(err)
	}
	if n, s := sum(); n != n0 || s != s0 {
		t.Fatalf("after sorting: %d rows, sum %v; before %d, %v", n, s, n0, s0)
	}
	// Sorted: the first rows are the first customer's.
	var first string
	if err := w.db.QueryRowContext(ctx, `SELECT customer FROM events LIMIT 1`).Scan(&first); err != nil || first != "C00000" {
		t.Errorf("the first row's customer after sorting: %q %v", first, err)
	}
	if err := w.Revert(ctx, "events", "nonsense"); err == nil {
		t.Error("a revert with a made-up undo")
	}
	if err := w.Revert(ctx, "events", undo); err != nil {
		t.Fatal(err)
	}
	if n, s := sum(); n != n0 || s != s0 {
		t.Fatalf("after reverting: %d rows, sum %v", n, s)
	}
	var id int64
	if err := w.db.QueryRowContext(ctx, `SELECT id FROM events LIMIT 1`).Scan(&id); err != nil || id != 0 {
		t.Errorf("the first row after reverting: %d %v (want the load order back)", id, err)
	}

	// A commit after the sort: reverting would lose its rows, so it is
	// refused and the table stays.
	undo, err = w.Apply(ctx, "events", sortBy)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.db.ExecContext(ctx, `INSERT INTO events VALUES (-1, DATE '2027-01-01', 'C99999', 1)`); err != nil {
		t.Fatal(err)
	}
	if err := w.Revert(ctx, "events", undo); !errors.Is(err, ErrChangedSince) {
		t.Errorf("a revert after a commit: %v", err)
	}
	if n, _ := sum(); n != n0+1 {
		t.Errorf("after the refused revert: %d rows", n)
	}
}

// TestOptimizeZonedSort: DuckDB's partition, the table sorted by the
// month of its date column, then by customer: the same results; a
// month's range reads no more than in load order (a million rows are
// too few row groups for a look-up to skip some: BenchmarkOptimizeDuckDB
// measures that on 10M); applied, each month's rows are together and
// sorted by customer within it.
func TestOptimizeZonedSort(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	events(t, w, 1_000_000)
	zoned := optimize.Change{Kind: "sort", Columns: []string{"day", "customer"}, Granularity: "MONTH"}
	ts, err := w.Trial(ctx, "events", zoned, []string{
		`SELECT count(*), sum(amount) FROM events WHERE customer = 'C00042'`,
		`SELECT count(*), sum(amount) FROM events WHERE day >= DATE '2026-06-01' AND day < DATE '2026-07-01'`,
	})
	if err != nil {
		t.Fatal(err)
	}
	lookup, month := ts[0], ts[1]
	t.Logf("look-up: %d -> %d rows scanned; month: %d -> %d", lookup.RowsScannedBefore, lookup.RowsScannedAfter, month.RowsScannedBefore, month.RowsScannedAfter)
	if !lookup.SameResult || !month.SameResult || lookup.RowsScannedAfter > lookup.RowsScannedBefore || month.RowsScannedAfter > month.RowsScannedBefore*3/2 {
		t.Errorf("trial %+v", ts)
	}
	if _, err := w.Trial(ctx, "events", optimize.Change{Kind: "sort", Columns: []string{"day"}, Granularity: "WEEK"}, nil); !errors.Is(err, optimize.ErrUnsupported) {
		t.Errorf("a week's sort: %v", err)
	}
	if _, err := w.Apply(ctx, "events", zoned); err != nil {
		t.Fatal(err)
	}
	// In order: months ascending; customers ascending within a month.
	var disorder int64
	if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM (
		SELECT date_trunc('month', day) AS m, customer, lag(date_trunc('month', day)) OVER w AS pm, lag(customer) OVER w AS pc
		FROM (SELECT *, row_number() OVER () AS rn FROM events) WINDOW w AS (ORDER BY rn))
		WHERE pm > m OR (pm = m AND pc > customer)`).Scan(&disorder); err != nil || disorder != 0 {
		t.Errorf("rows out of the zoned order: %d %v", disorder, err)
	}
}

// TestOptimizeIndex: an ART index tried on a copy finds the rows of a
// selective filter without reordering the table; applied, it is there;
// reverted, it is gone; the table's rows and order never change.
func TestOptimizeIndex(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	events(t, w, 300_000)
	ix := optimize.Change{Kind: "index", Columns: []string{"customer"}, Method: "art"}
	ts, err := w.Trial(ctx, "events", ix, []string{`SELECT count(*), sum(amount) FROM events WHERE customer = 'C00042'`})
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || !ts[0].SameResult || ts[0].Rows != 1 {
		t.Fatalf("timings %+v", ts)
	}
	undo, err := w.Apply(ctx, "events", ix)
	if err != nil {
		t.Fatal(err)
	}
	count := func() (n int) {
		if err := w.db.QueryRowContext(ctx, `SELECT count(*) FROM duckdb_indexes() WHERE table_name = 'events'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return
	}
	if count() != 1 || !strings.HasPrefix(undo, "index:__shp_idx_events_customer") {
		t.Fatalf("after applying: %d indexes, undo %q", count(), undo)
	}
	if tab, err := w.Describe(ctx, "events"); err != nil || fmt.Sprint(tab.Layout.Indexes) != "[[customer]]" {
		t.Errorf("the index as described: %+v %v", tab.Layout, err)
	}
	var first int64
	if err := w.db.QueryRowContext(ctx, `SELECT id FROM events LIMIT 1`).Scan(&first); err != nil || first != 0 {
		t.Errorf("the load order after indexing: %d %v", first, err)
	}
	// The risk the recommendation states: DuckDB does not alter the type
	// of an indexed table's column (a load that widens one fails).
	if _, err := w.db.ExecContext(ctx, `ALTER TABLE events ALTER COLUMN amount TYPE DOUBLE`); err == nil {
		t.Error("DuckDB altered a column of an indexed table: the cluster rule's risk text is out of date")
	}
	if err := w.Revert(ctx, "events", undo); err != nil || count() != 0 {
		t.Errorf("after reverting: %d indexes, %v", count(), err)
	}
	if _, err := w.Apply(ctx, "events", optimize.Change{Kind: "index", Columns: []string{"customer"}, Method: "brin"}); err == nil {
		t.Error("a BRIN index on DuckDB")
	}
}

// TestSortedTableKeepsItsOrderInBatches: once a sort is applied, each
// batch a commit appends (append or merge) goes in in that order; after
// the revert, batches go in as they came; a sort whose column is gone
// no longer orders them (and the commit still succeeds).
func TestSortedTableKeepsItsOrderInBatches(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	dir := t.TempDir()
	batch := func(name string, ids ...int) warehouse.LoadSpec {
		body := "id,name,amount\n"
		for _, id := range ids {
			body += fmt.Sprintf("%d,%c,1.5\n", id, 'a'+rune(id%26))
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		s := spec(name, format.CSV, testSchema)
		s.Path, s.ObjectKey, s.Fingerprint, s.RunID = path, name, "fp-"+name, "run-"+name
		return s
	}
	commit := func(s warehouse.LoadSpec, mode string) {
		t.Helper()
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		spec := warehouse.CommitSpec{RunID: s.RunID, Pipeline: "p", Target: "t", Mode: mode, Objects: []*warehouse.Staged{st}}
		if mode == warehouse.ModeMerge {
			spec.Key = []string{"id"}
		}
		if _, err := w.Commit(ctx, spec); err != nil {
			t.Fatalf("commit %s: %v", s.ObjectKey, err)
		}
	}
	order := func() string {
		t.Helper()
		return queryStringsConn(t, w, `SELECT string_agg(CAST(id AS VARCHAR), ',') FROM (SELECT id FROM t)`)
	}
	commit(batch("b0.csv", 5, 3, 4), warehouse.ModeAppend)
	byName := optimize.Change{Kind: "sort", Columns: []string{"name"}}
	undo, err := w.Apply(ctx, "t", byName)
	if err != nil {
		t.Fatal(err)
	}
	if got := order(); got != "3,4,5" {
		t.Fatalf("sorted: %s", got)
	}
	commit(batch("b1.csv", 9, 7, 8), warehouse.ModeAppend)
	commit(batch("b2.csv", 12, 10, 11), warehouse.ModeMerge)
	if got := order(); got != "3,4,5,7,8,9,10,11,12" {
		t.Errorf("batches after the sort: %s, want each sorted by name", got)
	}
	// A file without the sort's column: its rows go in as they came, in
	// an append and in a merge.
	for i, mode := range []string{warehouse.ModeAppend, warehouse.ModeMerge} {
		name := fmt.Sprintf("noname%d.csv", i)
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(fmt.Sprintf("id,amount\n%d,1\n%d,2\n", 21+10*i, 20+10*i)), 0o644)
		s := spec(name, format.CSV, testSchema)
		s.Path, s.ObjectKey, s.Fingerprint, s.RunID = path, name, "fp-"+name, "run-"+name
		commit(s, mode)
	}
	if got := order(); got != "3,4,5,7,8,9,10,11,12,21,20,31,30" {
		t.Errorf("batches without the sort's column: %s", got)
	}
	if err := w.Revert(ctx, "t", undo); !errors.Is(err, ErrChangedSince) {
		t.Fatalf("a revert after commits: %v", err)
	}

	// A second table, sorted then reverted: its batches go in as they come.
	w2 := open(t)
	w = w2
	commit(batch("c0.csv", 2, 1), warehouse.ModeAppend)
	undo, err = w.Apply(ctx, "t", byName)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Revert(ctx, "t", undo); err != nil {
		t.Fatal(err)
	}
	commit(batch("c1.csv", 6, 4, 5), warehouse.ModeAppend)
	if got := order(); got != "2,1,6,4,5" {
		t.Errorf("batches after the revert: %s, want the order they came in", got)
	}
	// Sorted by a column that a later load no longer has: unsorted, loaded.
	if _, err := w.Apply(ctx, "t", optimize.Change{Kind: "sort", Columns: []string{"amount", "name"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.conn.ExecContext(ctx, `UPDATE _shp.table_layouts SET change = '{"kind":"sort","columns":["gone"]}'`); err != nil {
		t.Fatal(err)
	}
	commit(batch("c2.csv", 9, 7), warehouse.ModeAppend)
	if got := order(); !strings.HasSuffix(got, ",9,7") {
		t.Errorf("a batch whose sort column is gone: %s", got)
	}
}

// TestZonedSortEveryDateType: a DATE, TIMESTAMP or TIMESTAMPTZ column's
// day, month or year orders the table, then the other column, with no
// row lost.
func TestZonedSortEveryDateType(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	for _, typ := range []string{"DATE", "TIMESTAMP", "TIMESTAMPTZ"} {
		for _, gran := range []string{"DAY", "MONTH", "YEAR"} {
			table := strings.ToLower("z_" + typ + "_" + gran)
			if _, err := w.db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE %s AS
				SELECT i AS id, CAST(TIMESTAMP '2025-12-31 23:30:00' + i * INTERVAL '7 hours' AS %s) AS ts, 'c' || (i * 7919 %% 13) AS c
				FROM range(300) r(i)`, table, typ)); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Apply(ctx, table, optimize.Change{Kind: "sort", Columns: []string{"ts", "c"}, Granularity: gran}); err != nil {
				t.Fatalf("%s by %s: %v", typ, gran, err)
			}
			var n, disorder int64
			if err := w.db.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE pz > z OR (pz = z AND pc > c)) FROM (
				SELECT date_trunc('%s', ts) AS z, c, lag(date_trunc('%s', ts)) OVER w AS pz, lag(c) OVER w AS pc
				FROM (SELECT *, row_number() OVER () AS rn FROM %s) WINDOW w AS (ORDER BY rn))`, gran, gran, table)).Scan(&n, &disorder); err != nil {
				t.Fatal(err)
			}
			if n != 300 || disorder != 0 {
				t.Errorf("%s by %s: %d rows, %d out of order", typ, gran, n, disorder)
			}
		}
	}
}

// TestOptimizeNarrowTypes: Describe measures each wide decimal's largest
// value; a trial narrows it on a copy, with the same results; Apply
// narrows the table in one transaction (all or nothing), Revert widens it
// again, losing nothing.
func TestOptimizeNarrowTypes(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	if _, err := w.db.ExecContext(ctx, `CREATE TABLE money AS
		SELECT i AS id, CAST((i % 1000) * 12.34 AS DECIMAL(38,2)) AS amount, CAST(-i AS DECIMAL(38,0)) AS neg,
		       CAST(NULL AS DECIMAL(30,4)) AS empty, CAST(i AS DECIMAL(18,2)) AS narrow, 'x' AS note
		FROM range(200000) t(i)`); err != nil {
		t.Fatal(err)
	}
	tab, err := w.Describe(ctx, "money")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range tab.Columns {
		d := "-"
		if c.IntDigits != nil {
			d = fmt.Sprint(*c.IntDigits)
		}
		got[c.Name] = c.Type + " " + d
	}
	// 999*12.34 = 12327.66 (5 digits); -199999 (6); all NULL: nothing
	// says how wide; the narrow and the non-decimal columns are not
	// measured.
	want := map[string]string{"id": "BIGINT -", "amount": "DECIMAL(38,2) 5", "neg": "DECIMAL(38,0) 6", "empty": "DECIMAL(30,4) -",
		"narrow": "DECIMAL(18,2) -", "note": "VARCHAR -"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("described %v, want %v", got, want)
	}

	narrow := optimize.Change{Kind: "type", Columns: []string{"amount", "neg"}, Types: []string{"DECIMAL(18,2)", "DECIMAL(18,0)"}}
	ts, err := w.Trial(ctx, "money", narrow, []string{`SELECT sum(amount), min(neg) FROM money`, `SELECT id FROM money WHERE amount > 12000 ORDER BY id LIMIT 5`})
	if err != nil {
		t.Fatal(err)
	}
	for _, tm := range ts {
		if !tm.SameResult || tm.ErrorAfter != "" || tm.ErrorBefore != "" {
			t.Errorf("timing %+v", tm)
		}
	}
	types := func() string {
		var out []string
		rows, err := w.db.QueryContext(ctx, `SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'money' ORDER BY ordinal_position`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var s string
			rows.Scan(&s)
			out = append(out, s)
		}
		return strings.Join(out, ", ")
	}
	const wide = "id BIGINT, amount DECIMAL(38,2), neg DECIMAL(38,0), empty DECIMAL(30,4), narrow DECIMAL(18,2), note VARCHAR"
	if types() != wide {
		t.Fatalf("a trial changed the table: %s", types())
	}
	var sumBefore string
	w.db.QueryRowContext(ctx, `SELECT CAST(sum(amount) AS VARCHAR) FROM money`).Scan(&sumBefore)

	undo, err := w.Apply(ctx, "money", narrow)
	if err != nil {
		t.Fatal(err)
	}
	if types() != "id BIGINT, amount DECIMAL(18,2), neg DECIMAL(18,0), empty DECIMAL(30,4), narrow DECIMAL(18,2), note VARCHAR" {
		t.Fatalf("applied: %s", types())
	}
	var sumAfter string
	w.db.QueryRowContext(ctx, `SELECT CAST(sum(amount) AS VARCHAR) FROM money`).Scan(&sumAfter)
	if sumAfter != sumBefore || sumBefore == "" {
		t.Errorf("the sum was %s, is %s", sumBefore, sumAfter)
	}
	// A column widened since (by a repair, say) is not narrowed back by a
	// revert: its values might not fit the old type exactly.
	if _, err := w.db.ExecContext(ctx, `ALTER TABLE money ALTER COLUMN neg SET DATA TYPE DOUBLE`); err != nil {
		t.Fatal(err)
	}
	if err := w.Revert(ctx, "money", undo); !errors.Is(err, ErrChangedSince) || !strings.Contains(err.Error(), "column neg is DOUBLE now") {
		t.Fatalf("a revert over a widened column: %v", err)
	}
	if _, err := w.db.ExecContext(ctx, `ALTER TABLE money ALTER COLUMN neg SET DATA TYPE DECIMAL(18,0)`); err != nil {
		t.Fatal(err)
	}
	if err := w.Revert(ctx, "money", undo); err != nil {
		t.Fatal(err)
	}
	if types() != wide {
		t.Fatalf("reverted: %s", types())
	}

	// All or nothing: a type that cannot hold a value fails the apply and
	// leaves every column as it was.
	if _, err := w.Apply(ctx, "money", optimize.Change{Kind: "type", Columns: []string{"neg", "amount"}, Types: []string{"DECIMAL(18,0)", "DECIMAL(5,2)"}}); err == nil {
		t.Error("a type too narrow for the values was applied")
	}
	if types() != wide {
		t.Errorf("after a failed apply: %s", types())
	}
	for _, bad := range []optimize.Change{
		{Kind: "type", Columns: []string{"amount"}, Types: []string{"DECIMAL(38,2)"}},
		{Kind: "type", Columns: []string{"amount"}, Types: []string{"VARCHAR"}},
		{Kind: "type", Columns: []string{"amount"}, Types: []string{"DECIMAL(18,2)); DROP TABLE money; --"}},
		{Kind: "type", Columns: []string{"amount", "neg"}, Types: []string{"DECIMAL(18,2)"}},
	} {
		if _, err := w.Apply(ctx, "money", bad); !errors.Is(err, optimize.ErrUnsupported) {
			t.Errorf("%+v: %v", bad, err)
		}
	}
	if _, err := w.Apply(ctx, "money", optimize.Change{Kind: "type", Columns: []string{"nope"}, Types: []string{"DECIMAL(18,2)"}}); err == nil ||
		!strings.Contains(err.Error(), `no column "nope"`) {
		t.Errorf("an unknown column: %v", err)
	}
	for _, undo := range []string{"type:", "type:[]", `type:[{"column":"amount","was":"VARCHAR"}]`, "type:{"} {
		if err := w.Revert(ctx, "money", undo); err == nil {
			t.Errorf("revert %q", undo)
		}
	}
	if types() != wide {
		t.Errorf("after bad reverts: %s", types())
	}
}
