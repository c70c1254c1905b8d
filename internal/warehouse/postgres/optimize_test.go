package postgres

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestOptimizeIndexes: a B-tree index tried on two copies of the table
// (its rows the same, the table untouched) speeds up a selective lookup
// with the same results; applied, it is on the table and Describe lists
// it; reverted, it is gone. A sort is declined as unsupported.
func TestOptimizeIndexes(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+qualified(w.schema, "events")+` AS
		SELECT i AS id, DATE '2026-01-01' + (i * 365 / 200000) AS day,
		       'C' || lpad(((i * 7919) % 5000)::text, 5, '0') AS customer, (i % 97) * 1.5 AS amount
		FROM generate_series(0, 199999) AS g(i)`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `ANALYZE `+qualified(w.schema, "events")); err != nil {
		t.Fatal(err)
	}
	tab, err := w.Describe(ctx, "events")
	if err != nil {
		t.Fatal(err)
	}
	if tab.Rows < 190_000 || tab.Rows > 210_000 || tab.ColumnType("day") != "DATE" || tab.Bytes == 0 || len(tab.Layout.Indexes) != 0 {
		t.Fatalf("described %+v", tab)
	}
	if _, err := w.Describe(ctx, "nothing"); err == nil {
		t.Error("a table that is not there was described")
	}
	ix := optimize.Change{Kind: "index", Columns: []string{"customer"}, Method: "btree"}
	queries := []string{
		`SELECT count(*), sum(amount) FROM events WHERE customer = 'C00042'`,
		`SELECT e.day, sum(e.amount) FROM events e WHERE e.customer IN ('C00007', 'C01234') GROUP BY e.day`,
		`SELECT nothing FROM events`,
	}
	ts, err := w.Trial(ctx, "events", ix, queries)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 3 || ts[2].ErrorBefore == "" {
		t.Fatalf("timings %+v", ts)
	}
	for _, tm := range ts[:2] {
		if !tm.SameResult || tm.Rows == 0 {
			t.Errorf("replayed %s: %+v", tm.Query, tm)
		}
	}
	v := optimize.Judge(ts, optimize.Thresholds{})
	t.Logf("trial: %s", v.Why)
	if !v.Accept || v.Speedup < 2 {
		t.Errorf("a B-tree index on a selective lookup: %s", v.Why)
	}
	// EXPLAIN (ANALYZE, BUFFERS): the sequential scan reads every row and
	// page; the index scan the 40 rows of the customer and their pages.
	if lookup := ts[0]; lookup.RowsScannedBefore < 190_000 || lookup.RowsScannedAfter == 0 || lookup.RowsScannedAfter > 1000 ||
		lookup.BytesBefore <= 10*lookup.BytesAfter || lookup.BytesAfter == 0 {
		t.Errorf("scanned by %s: %d rows, %d bytes before; %d rows, %d bytes after", lookup.Query, lookup.RowsScannedBefore, lookup.BytesBefore,
			lookup.RowsScannedAfter, lookup.BytesAfter)
	}
	var left int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '\_\_shp\_trial%'`, w.internal).Scan(&left); err != nil || left != 0 {
		t.Errorf("the trial left %d tables (%v)", left, err)
	}
	if _, err := w.Trial(ctx, "events", optimize.Change{Kind: "sort", Columns: []string{"day"}}, queries); !errors.Is(err, optimize.ErrUnsupported) {
		t.Errorf("a sort: %v", err)
	}

	undo, err := w.Apply(ctx, "events", ix)
	if err != nil {
		t.Fatal(err)
	}
	if tab, err = w.Describe(ctx, "events"); err != nil || len(tab.Layout.Indexes) != 1 || strings.Join(tab.Layout.Indexes[0], ",") != "customer" {
		t.Fatalf("after applying: %+v %v", tab.Layout, err)
	}
	brin := optimize.Change{Kind: "index", Columns: []string{"day"}, Method: "brin"}
	undo2, err := w.Apply(ctx, "events", brin)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Revert(ctx, "events", "index:not_ours"); err == nil {
		t.Error("a revert of an index shp did not make")
	}
	for _, u := range []string{undo, undo2} {
		if err := w.Revert(ctx, "events", u); err != nil {
			t.Fatal(err)
		}
	}
	if tab, err = w.Describe(ctx, "events"); err != nil || len(tab.Layout.Indexes) != 0 {
		t.Errorf("after reverting: %+v %v", tab.Layout, err)
	}
}

// TestImportHistory: pg_stat_statements read as the query history, this
// database's top-level statements only, slowest first; where the
// extension is not loaded, the error says what it needs. (The server
// here has no shared_preload_libraries, so the view is a table of the
// same columns in the warehouse's schema, which the search path finds.)
func TestImportHistory(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	if _, err := w.ImportHistory(ctx, 10); err == nil {
		t.Log("pg_stat_statements is loaded on this server: its real rows were read")
	} else if !strings.Contains(err.Error(), "shared_preload_libraries") {
		t.Errorf("without pg_stat_statements: %v", err)
	}
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+qualified(w.schema, "pg_stat_statements")+` (
		userid oid, dbid oid, toplevel bool, queryid bigint, query text, calls bigint, total_exec_time double precision, rows bigint,
		shared_blks_hit bigint, shared_blks_read bigint)`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO `+qualified(w.schema, "pg_stat_statements")+` VALUES
		(10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 1, 'SELECT * FROM events WHERE customer = $1', 120, 3500.5, 240, 1000, 24),
		(10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 2, 'SELECT count(*) FROM events', 3, 9000, 3, 50000, 0),
		(10, (SELECT oid FROM pg_database WHERE datname = current_database()), false, 3, 'SELECT 1 FROM inside_a_function', 9, 99999, 9, 0, 0),
		(10, (SELECT oid FROM pg_database WHERE datname = current_database()), true, 4, 'SELECT never_called', 0, 0, 0, 0, 0),
		(10, 0, true, 5, 'SELECT * FROM another_database', 50, 99999, 50, 0, 0)`); err != nil {
		t.Fatal(err)
	}
	recs, err := w.ImportHistory(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].Text != "SELECT count(*) FROM events" || recs[0].Calls != 3 || recs[0].Duration != 9*time.Second ||
		recs[0].BytesScanned != 50000*8192 || recs[1].Calls != 120 || recs[1].Rows != 240 || recs[1].Duration != 3500500*time.Microsecond ||
		recs[1].Source != optimize.SourceImport || recs[1].At.IsZero() {
		t.Fatalf("imported %+v", recs)
	}
	if recs, err := w.ImportHistory(ctx, 1); err != nil || len(recs) != 1 {
		t.Errorf("a limit of 1: %+v %v", recs, err)
	}
}

// TestOptimizePartition: a table partitioned by month of its date,
// tried on a copy: a month's range reads one partition (EXPLAIN's pages
// and rows), the results the same; applied, the table is partitioned
// with the same rows and Describe says by what; loads go on (a row out
// of every month goes to the default partition); the revert is refused
// once a row was added, and puts the table back when none was.
func TestOptimizePartition(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+qualified(w.schema, "sales")+` AS
		SELECT i AS id, DATE '2026-01-01' + (i * 365 / 120000) AS day, 'C' || (i % 997) AS customer, (i % 97) * 1.5 AS amount
		FROM generate_series(0, 119999) AS g(i)`); err != nil {
		t.Fatal(err)
	}
	byMonth := optimize.Change{Kind: "partition", Columns: []string{"day"}, Granularity: "MONTH"}
	ts, err := w.Trial(ctx, "sales", byMonth, []string{
		`SELECT count(*), sum(amount) FROM sales WHERE day >= DATE '2026-03-01' AND day < DATE '2026-04-01'`,
		`SELECT count(*) FROM sales WHERE customer = 'C42'`,
	})
	if err != nil {
		t.Fatal(err)
	}
	month, lookup := ts[0], ts[1]
	t.Logf("month: %d -> %d rows, %d -> %d bytes; look-up %d -> %d bytes", month.RowsScannedBefore, month.RowsScannedAfter,
		month.BytesBefore, month.BytesAfter, lookup.BytesBefore, lookup.BytesAfter)
	if !month.SameResult || !lookup.SameResult || month.RowsScannedAfter*8 > month.RowsScannedBefore || month.BytesAfter*8 > month.BytesBefore {
		t.Errorf("a month's range on the partitioned copy: %+v", month)
	}
	var left int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = $1 AND tablename LIKE '\_\_shp\_trial%'`, w.internal).Scan(&left); err != nil || left != 0 {
		t.Errorf("the trial left %d tables (%v)", left, err)
	}
	if _, err := w.Trial(ctx, "sales", optimize.Change{Kind: "partition", Columns: []string{"day"}, Granularity: "WEEK"}, nil); !errors.Is(err, optimize.ErrUnsupported) {
		t.Errorf("a week's partitions: %v", err)
	}

	sum := func() string {
		var n int64
		var s float64
		if err := w.pool.QueryRow(ctx, `SELECT count(*), sum(amount) FROM `+qualified(w.schema, "sales")).Scan(&n, &s); err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(n, s)
	}
	before := sum()
	undo, err := w.Apply(ctx, "sales", byMonth)
	if err != nil {
		t.Fatal(err)
	}
	tab, err := w.Describe(ctx, "sales")
	if err != nil || tab.Layout.PartitionBy != "day" || tab.Rows != 120000 || tab.Bytes == 0 {
		t.Fatalf("described after partitioning: %+v %v", tab, err)
	}
	if got := sum(); got != before {
		t.Fatalf("after partitioning: %s, before %s", got, before)
	}
	var parts int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass`, qualified(w.schema, "sales")).Scan(&parts); err != nil || parts != 13 {
		t.Errorf("partitions: %d %v (want 12 months and a default)", parts, err)
	}
	if err := w.Revert(ctx, "sales", undo); err != nil {
		t.Fatal(err)
	}
	if tab, _ := w.Describe(ctx, "sales"); tab.Layout.PartitionBy != "" || sum() != before {
		t.Fatalf("after the revert: %+v", tab)
	}

	undo, err = w.Apply(ctx, "sales", byMonth)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.pool.Exec(ctx, `INSERT INTO `+qualified(w.schema, "sales")+` VALUES (-1, DATE '2031-01-01', 'C1', 1), (-2, NULL, 'C2', 2)`); err != nil {
		t.Fatalf("a load into the partitioned table: %v", err)
	}
	if err := w.Revert(ctx, "sales", undo); !errors.Is(err, ErrChangedSince) {
		t.Errorf("a revert after a load: %v", err)
	}
	if err := w.Revert(ctx, "sales", "partition:nonsense"); err == nil {
		t.Error("a revert with a made-up undo")
	}
	// A table a view reads is not partitioned: the view would go on
	// reading the table as it was.
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+qualified(w.schema, "viewed")+` AS SELECT DATE '2026-01-01' + i AS day FROM generate_series(0, 99) i;
		CREATE VIEW `+qualified(w.schema, "recent")+` AS SELECT * FROM `+qualified(w.schema, "viewed")+` WHERE day > DATE '2026-03-01'`); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Apply(ctx, "viewed", byMonth); !errors.Is(err, optimize.ErrUnsupported) || !strings.Contains(err.Error(), "recent") {
		t.Errorf("partitioning a table a view reads: %v", err)
	}
	if tab, _ := w.Describe(ctx, "viewed"); tab.Layout.PartitionBy != "" {
		t.Errorf("partitioned anyway: %+v", tab)
	}
}

// TestLoadsIntoAPartitionedTarget: once a target is partitioned, commits
// go on into it, appended and merged, rows of a new month and without a
// date included (the default partition).
func TestLoadsIntoAPartitionedTarget(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "day", Type: "DATE"}, {Name: "amount", Type: "FLOAT64"}}
	dir := t.TempDir()
	commit := func(name, body, mode string) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte("id,day,amount\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
		s := spec(name, format.CSV, sch)
		s.Path, s.RunID = path, "run-"+name
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		cs := warehouse.CommitSpec{RunID: s.RunID, Pipeline: "p", Target: "t", Mode: mode, Objects: []*warehouse.Staged{st}}
		if mode == warehouse.ModeMerge {
			cs.Key = []string{"id"}
		}
		if _, err := w.Commit(ctx, cs); err != nil {
			t.Fatalf("commit %s into the partitioned target: %v", name, err)
		}
	}
	commit("a.csv", "1,2026-01-05,1.5\n2,2026-02-07,2.5\n", warehouse.ModeAppend)
	if _, err := w.Apply(ctx, "t", optimize.Change{Kind: "partition", Columns: []string{"day"}, Granularity: "MONTH"}); err != nil {
		t.Fatal(err)
	}
	commit("b.csv", "3,2026-01-09,3.5\n4,2027-05-01,4.5\n5,,5.5\n", warehouse.ModeAppend)
	commit("c.csv", "2,2026-02-08,9.5\n6,2026-02-10,6.5\n", warehouse.ModeMerge)
	got := queryStrings(t, w, `SELECT string_agg(id || '@' || coalesce(day::text, '-') || '=' || amount, ' ' ORDER BY id) FROM t`)
	if want := "1@2026-01-05=1.5 2@2026-02-08=9.5 3@2026-01-09=3.5 4@2027-05-01=4.5 5@-=5.5 6@2026-02-10=6.5"; strings.Join(got, "") != want {
		t.Errorf("rows %q, want %q", got, want)
	}
	var inDefault int
	if err := w.pool.QueryRow(ctx, `SELECT count(*) FROM `+qualified(w.schema, "t_pdefault")).Scan(&inDefault); err != nil || inDefault != 2 {
		t.Errorf("rows in the default partition: %d %v", inDefault, err)
	}
}

// TestPartitionEveryDateType: a table is partitioned by month, day or
// year of a DATE, TIMESTAMP or TIMESTAMPTZ column, with every row in the
// partition of its own period (none in the default but the NULL) and
// none lost.
func TestPartitionEveryDateType(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	for _, typ := range []string{"DATE", "TIMESTAMP", "TIMESTAMPTZ"} {
		for _, gran := range []string{"DAY", "MONTH", "YEAR"} {
			table := strings.ToLower("p_" + typ + "_" + gran)
			if _, err := w.pool.Exec(ctx, fmt.Sprintf(`CREATE TABLE %s AS
				SELECT i AS id, (TIMESTAMPTZ '2025-12-31 23:30:00+00' + i * INTERVAL '7 hours 13 minutes')::%s AS at FROM generate_series(0, 199) i
				UNION ALL SELECT 200, NULL`, qualified(w.schema, table), typ)); err != nil {
				t.Fatal(err)
			}
			if _, err := w.Apply(ctx, table, optimize.Change{Kind: "partition", Columns: []string{"at"}, Granularity: gran}); err != nil {
				t.Fatalf("%s by %s: %v", typ, gran, err)
			}
			var n, outside, inDefault int
			if err := w.pool.QueryRow(ctx, fmt.Sprintf(`SELECT count(*),
				count(*) FILTER (WHERE at IS NOT NULL AND tableoid::regclass::text NOT LIKE '%%' || to_char(date_trunc('%s', at), '%s')),
				count(*) FILTER (WHERE tableoid::regclass::text LIKE '%%_pdefault')
				FROM %s`, strings.ToLower(gran), map[string]string{"DAY": "YYYYMMDD", "MONTH": "YYYYMM", "YEAR": "YYYY"}[gran], qualified(w.schema, table))).
				Scan(&n, &outside, &inDefault); err != nil {
				t.Fatal(err)
			}
			if n != 201 || outside != 0 || inDefault != 1 {
				t.Errorf("%s by %s: %d rows, %d in another period's partition, %d in the default", typ, gran, n, outside, inDefault)
			}
		}
	}
}
