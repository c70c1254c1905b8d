package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/optimize"
)

// TestOptimizeIndexes: a B-tree index tried on two copies of the table
// (its rows the same, the table untouched) speeds up a selective lookup
// with the same results; applied, it is on the table and Describe lists
// it; reverted, it is gone. A partition is declined as unsupported.
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
	if _, err := w.Trial(ctx, "events", optimize.Change{Kind: "partition", Columns: []string{"day"}, Granularity: "MONTH"}, queries); !errors.Is(err, optimize.ErrUnsupported) {
		t.Errorf("a partition: %v", err)
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
