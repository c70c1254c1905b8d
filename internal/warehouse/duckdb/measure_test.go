package duckdb

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestBatchMetrics: the rows, each column's non-NULL values and the
// newest event time, the event-time column matched ignoring case.
func TestBatchMetrics(t *testing.T) {
	ctx := context.Background()
	w, st, _ := stagePlanRows(t)
	if w.Dialect() != quality.DuckDB {
		t.Fatal(w.Dialect())
	}
	m, err := w.BatchMetrics(ctx, st, "TS")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"id": 7, "s": 6, "i": 5, "d": 5, "day": 5, "ts": 5, "dt": 5, "b": 5}
	if m.Rows != 7 || fmt.Sprint(m.NonNull) != fmt.Sprint(want) || m.EventColumn != "ts" || m.EventNotTime ||
		!m.Newest.Equal(time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v", m)
	}
	if m, err = w.BatchMetrics(ctx, st, "s"); err != nil || m.EventColumn != "s" || !m.EventNotTime || !m.Newest.IsZero() {
		t.Fatalf("text event time: %+v %v", m, err)
	}
	if m, err = w.BatchMetrics(ctx, st, ""); err != nil || m.EventColumn != "" || m.Rows != 7 {
		t.Fatalf("no event time: %+v %v", m, err)
	}
	if m, err = w.BatchMetrics(ctx, &warehouse.Staged{Table: "gone"}, ""); err != nil || m.Rows != 0 {
		t.Fatalf("no columns: %+v %v", m, err)
	}
	if _, err := w.BatchMetrics(ctx, &warehouse.Staged{Table: "gone", Columns: st.Columns}, ""); err == nil {
		t.Fatal("a missing staging table was measured")
	}
}

// TestTargetSchema: a target's columns in shp's types, found ignoring
// case; nil for no table.
func TestTargetSchema(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	if _, err := w.DB().ExecContext(ctx, `CREATE TABLE "Orders" (id BIGINT NOT NULL, amount DECIMAL(10,2), name VARCHAR, seen TIMESTAMPTZ)`); err != nil {
		t.Fatal(err)
	}
	got, err := w.TargetSchema(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := schema.Schema{
		{Name: "id", Type: schema.TypeInt64, Mode: schema.ModeRequired},
		{Name: "amount", Type: schema.TypeNumeric, Mode: schema.ModeNullable, Precision: 10, Scale: 2},
		{Name: "name", Type: schema.TypeString, Mode: schema.ModeNullable},
		{Name: "seen", Type: schema.TypeTimestamp, Mode: schema.ModeNullable},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("%+v", got)
	}
	if got, err := w.TargetSchema(ctx, "nothing"); err != nil || got != nil {
		t.Fatalf("no table: %+v %v", got, err)
	}
}

// TestQuarantinedRows: a run's set-aside rows, committed or kept by
// SetAside, with their columns' types.
func TestQuarantinedRows(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	read := func(target string) ([]warehouse.Column, []string) {
		t.Helper()
		rows, err := w.QuarantinedRows(ctx, "run-1", target)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		cols, err := rows.ColumnTypes()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for rows.Next() {
			var obj, reason, raw, state string
			var line int64
			if err := rows.Scan(&obj, &line, &reason, &raw, &state); err != nil {
				t.Fatal(err)
			}
			out = append(out, fmt.Sprintf("%s:%d %s", obj, line, state))
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		return cols, out
	}
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.SetAside(ctx, "run-1", "p", []*warehouse.Staged{st}); err != nil {
		t.Fatal(err)
	}
	cols, kept := read("")
	if fmt.Sprint(cols) != "[{source_object VARCHAR} {line BIGINT} {reason VARCHAR} {raw VARCHAR} {state VARCHAR}]" ||
		len(kept) != int(st.Quarantined) || kept[0] != "defects.csv:3 not committed" {
		t.Fatalf("%v %v", cols, kept)
	}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
	if _, committed := read("t"); len(committed) != len(kept) || committed[0] != "defects.csv:3 committed" {
		t.Fatalf("%v", committed)
	}
	if _, err := w.QuarantinedRows(ctx, "run-1", "nothing"); err == nil {
		t.Fatal("a missing target was read")
	}
}
