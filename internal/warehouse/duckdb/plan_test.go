package duckdb

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// planSchema has a column of each kind a repair meets: VARCHAR, BIGINT,
// DOUBLE, DATE, TIMESTAMPTZ, TIMESTAMP and BOOLEAN.
var planSchema = schema.Schema{
	{Name: "id", Type: "INT64", Mode: "REQUIRED"},
	{Name: "s", Type: "STRING"},
	{Name: "i", Type: "INT64"},
	{Name: "d", Type: "FLOAT64"},
	{Name: "day", Type: "DATE"},
	{Name: "ts", Type: "TIMESTAMP"},
	{Name: "dt", Type: "DATETIME"},
	{Name: "b", Type: "BOOL"},
}

// planRows hold NULLs in every column, unicode text, and duplicates.
const planRows = `{"id":1,"s":" émea","i":1,"d":1.5,"day":"2026-01-02","ts":"2026-01-02T03:04:05Z","dt":"2026-01-02 03:04:05","b":true}
{"id":2,"s":"Ünïcode ✓","i":null,"d":null,"day":null,"ts":null,"dt":null,"b":null}
{"id":3,"s":null,"i":2,"d":-0.25,"day":"2025-12-31","ts":"2025-12-31T23:59:59.5Z","dt":"2025-12-31 23:59:59.5","b":false}
{"id":4,"s":"ÉMEA","i":1,"d":1.5,"day":"2026-01-02","ts":"2026-01-02T03:04:05Z","dt":"2026-01-02 03:04:05","b":true}
{"id":5,"s":"apac ","i":3,"d":0.001,"day":"2024-02-29","ts":"2024-02-29T12:00:00Z","dt":"2024-02-29 12:00:00","b":false}
{"id":6,"s":" émea","i":4,"d":2,"day":"2026-01-03","ts":"2026-01-03T00:00:00Z","dt":"2026-01-03 00:00:00","b":true}
{"id":7,"s":"Ünïcode ✓","i":null,"d":null,"day":null,"ts":null,"dt":null,"b":null}
`

// planColumns are planSchema's names, in order.
func planColumns() []string {
	out := make([]string, len(planSchema))
	for i, f := range planSchema {
		out[i] = f.Name
	}
	return out
}

// dump renders a table's rows, ordered by id, each as its columns' text
// (NULL as "NULL"); id -> row.
func dump(t *testing.T, w *Warehouse, table string) map[int64][]string {
	t.Helper()
	cols := planColumns()
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "coalesce(CAST(" + ident(c) + " AS VARCHAR), 'NULL')"
	}
	rows, err := w.conn.QueryContext(context.Background(), "SELECT id, "+strings.Join(parts, ", ")+" FROM "+table+" ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[int64][]string{}
	for rows.Next() {
		var id int64
		vals := make([]string, len(cols))
		dest := []any{&id}
		for i := range vals {
			dest = append(dest, &vals[i])
		}
		if err := rows.Scan(dest...); err != nil {
			t.Fatal(err)
		}
		out[id] = vals
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// render is the engine's text of a value of type typ.
func render(t *testing.T, w *Warehouse, v any, typ string) string {
	t.Helper()
	var s string
	if err := w.conn.QueryRowContext(context.Background(), "SELECT CAST(CAST(? AS "+typ+") AS VARCHAR)", v).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

// stagePlanRows opens a warehouse and stages planRows.
func stagePlanRows(t *testing.T) (*Warehouse, *warehouse.Staged, warehouse.LoadSpec) {
	t.Helper()
	w := open(t)
	sp := repairSpec(t, "rows.jsonl", planRows, format.JSONL, planSchema)
	st, err := w.Stage(context.Background(), sp)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 7 || st.Quarantined != 0 {
		t.Fatalf("staged %d, set aside %d", st.Loaded, st.Quarantined)
	}
	return w, st, sp
}

func colIndex(name string) int {
	for i, c := range planColumns() {
		if c == name {
			return i
		}
	}
	panic(name)
}

func copyRows(m map[int64][]string) map[int64][]string {
	out := map[int64][]string{}
	for k, v := range m {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func rowNames(st *warehouse.Staged) []string {
	var out []string
	for _, c := range st.Columns {
		out = append(out, c.Name)
	}
	return out
}

// TestRewriteOperations applies each rewrite on each kind of column,
// checks the rows, undoes it, applies it again and keeps it, commits, and
// reverts it in the target: the original values are back, NULLs and
// unicode included.
func TestRewriteOperations(t *testing.T) {
	ts := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		op     func(t *testing.T, w *Warehouse, st *warehouse.Staged) warehouse.RepairOp
		typ    string // the column's type, to render the new value
		ids    []int64
		newVal any
	}{
		{"map varchar (trim, fold, unicode)", fixed(warehouse.MapValues{Column: "s", Trim: true, FoldCase: true,
			Mapping: map[string]string{"émea": "ÉMEA", "apac": "APAC"}}), "VARCHAR", []int64{1, 5, 6}, nil},
		{"map integer", fixed(warehouse.MapValues{Column: "i", Mapping: map[string]string{"1": "10"}}), "BIGINT", []int64{1, 4}, "10"},
		{"map double", fixed(warehouse.MapValues{Column: "d", Mapping: map[string]string{"1.5": "2.5"}}), "DOUBLE", []int64{1, 4}, "2.5"},
		{"map date", fixed(warehouse.MapValues{Column: "day", Mapping: map[string]string{"2026-01-02": "2026-02-01"}}), "DATE", []int64{1, 4}, "2026-02-01"},
		{"map timestamp", fixed(warehouse.MapValues{Column: "dt", Mapping: map[string]string{"2026-01-02 03:04:05": "2026-01-02 03:04:06"}}),
			"TIMESTAMP", []int64{1, 4}, "2026-01-02 03:04:06"},
		{"map timestamptz, as the engine writes it", func(t *testing.T, w *Warehouse, st *warehouse.Staged) warehouse.RepairOp {
			vals, err := w.DistinctValues(context.Background(), st, "ts", 10)
			if err != nil || len(vals) == 0 || vals[0].Rows != 2 {
				t.Fatalf("distinct ts: %+v %v", vals, err)
			}
			return warehouse.MapValues{Column: "ts", Mapping: map[string]string{vals[0].Value: "2030-01-01 00:00:00+00"}}
		}, "TIMESTAMPTZ", []int64{1, 4}, "2030-01-01 00:00:00+00"},
		{"map boolean", fixed(warehouse.MapValues{Column: "b", FoldCase: true, Mapping: map[string]string{"TRUE": "false"}}), "BOOLEAN", []int64{1, 4, 6}, "false"},
		{"fill varchar", fixed(warehouse.FillDefault{Column: "s", Value: "—ünknown—"}), "VARCHAR", []int64{3}, "—ünknown—"},
		{"fill integer", fixed(warehouse.FillDefault{Column: "i", Value: int64(0)}), "BIGINT", []int64{2, 7}, int64(0)},
		{"fill double", fixed(warehouse.FillDefault{Column: "d", Value: 0.5}), "DOUBLE", []int64{2, 7}, 0.5},
		{"fill date", fixed(warehouse.FillDefault{Column: "day", Value: "2000-01-01"}), "DATE", []int64{2, 7}, "2000-01-01"},
		{"fill timestamptz", fixed(warehouse.FillDefault{Column: "ts", Value: ts}), "TIMESTAMPTZ", []int64{2, 7}, ts},
		{"fill timestamp", fixed(warehouse.FillDefault{Column: "dt", Value: "2000-01-01 00:00:00"}), "TIMESTAMP", []int64{2, 7}, "2000-01-01 00:00:00"},
		{"fill boolean", fixed(warehouse.FillDefault{Column: "b", Value: false}), "BOOLEAN", []int64{2, 7}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w, st, _ := stagePlanRows(t)
			op := tc.op(t, w, st)
			col := op.Rewritten()
			original := dump(t, w, stagingRef(st.Table))
			want := copyRows(original)
			for _, id := range tc.ids {
				v := tc.newVal
				if v == nil { // the VARCHAR mapping: each its own value
					v = map[int64]string{1: "ÉMEA", 5: "APAC", 6: "ÉMEA"}[id]
				}
				want[id][colIndex(col)] = render(t, w, v, tc.typ)
			}

			p, err := w.PreviewRepair(ctx, st, op, 10)
			if err != nil || p.Rows != int64(len(tc.ids)) || len(p.Before) != len(tc.ids) || len(p.After) != len(tc.ids) {
				t.Fatalf("preview %+v %v, want %d rows", p, err, len(tc.ids))
			}
			if got := dump(t, w, stagingRef(st.Table)); !reflect.DeepEqual(got, original) {
				t.Fatal("a preview changed rows")
			}

			// Applied, then undone: the staged rows are as loaded.
			res, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "first", Op: op})
			if err != nil || res.Rows != int64(len(tc.ids)) {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if got := dump(t, w, stagingRef(st.Table)); !reflect.DeepEqual(got, want) {
				t.Fatalf("applied:\n%v\nwant\n%v", got, want)
			}
			if err := w.UndoRepair(ctx, st, "first"); err != nil {
				t.Fatal(err)
			}
			if got := dump(t, w, stagingRef(st.Table)); !reflect.DeepEqual(got, original) {
				t.Fatalf("undone:\n%v\nwant\n%v", got, original)
			}
			if err := w.KeepRepair(ctx, st, "first"); err == nil {
				t.Fatal("an undone repair was kept")
			}

			// Applied and kept, committed, reverted in the target.
			if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "second", Op: op}); err != nil {
				t.Fatal(err)
			}
			if err := w.KeepRepair(ctx, st, "second"); err != nil {
				t.Fatal(err)
			}
			commit(t, w, st)
			if got := dump(t, w, qualified("main", "t")); !reflect.DeepEqual(got, want) {
				t.Fatalf("committed:\n%v\nwant\n%v", got, want)
			}
			n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Token: "second", Column: col, RowColumns: rowNames(st)})
			if err != nil || n != int64(len(tc.ids)) {
				t.Fatalf("revert: %d %v", n, err)
			}
			if got := dump(t, w, qualified("main", "t")); !reflect.DeepEqual(got, original) {
				t.Fatalf("reverted:\n%v\nwant\n%v", got, original)
			}
		})
	}
}

func fixed(op warehouse.RepairOp) func(*testing.T, *Warehouse, *warehouse.Staged) warehouse.RepairOp {
	return func(*testing.T, *Warehouse, *warehouse.Staged) warehouse.RepairOp { return op }
}

// TestSetAsideOperations sets rows aside by key and by typed predicates
// on each kind of column, checks which rows left, commits, and reverts:
// the rows come back from the quarantine with their types.
func TestSetAsideOperations(t *testing.T) {
	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		op   warehouse.RepairOp
		ids  []int64 // the rows set aside
	}{
		{"duplicates of varchar (unicode)", warehouse.QuarantineDuplicates{Keys: []string{"s"}, Reason: "dup"}, []int64{1, 2}},
		{"duplicates of integer, NULL keys left alone", warehouse.QuarantineDuplicates{Keys: []string{"i"}, Reason: "dup"}, []int64{1}},
		{"duplicates of double", warehouse.QuarantineDuplicates{Keys: []string{"d"}, Reason: "dup"}, []int64{1}},
		{"duplicates of date", warehouse.QuarantineDuplicates{Keys: []string{"day"}, Reason: "dup"}, []int64{1}},
		{"duplicates of timestamptz", warehouse.QuarantineDuplicates{Keys: []string{"ts"}, Reason: "dup"}, []int64{1}},
		{"duplicates of timestamp", warehouse.QuarantineDuplicates{Keys: []string{"dt"}, Reason: "dup"}, []int64{1}},
		{"duplicates of boolean", warehouse.QuarantineDuplicates{Keys: []string{"b"}, Reason: "dup"}, []int64{1, 3, 4}},
		{"duplicates of a compound key", warehouse.QuarantineDuplicates{Keys: []string{"i", "day"}, Reason: "dup"}, []int64{1}},
		{"varchar equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "s", Value: "Ünïcode ✓"}, Reason: "r"}, []int64{2, 7}},
		{"integer equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "i", Value: 1}, Reason: "r"}, []int64{1, 4}},
		{"double equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "d", Value: 1.5}, Reason: "r"}, []int64{1, 4}},
		{"date equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "day", Value: "2026-01-02"}, Reason: "r"}, []int64{1, 4}},
		{"timestamptz equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "ts", Value: day}, Reason: "r"}, []int64{1, 4}},
		{"timestamp equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "dt", Value: "2026-01-02 03:04:05"}, Reason: "r"}, []int64{1, 4}},
		{"boolean equals", warehouse.Quarantine{Where: warehouse.Eq{Column: "b", Value: true}, Reason: "r"}, []int64{1, 4, 6}},
		{"is null", warehouse.Quarantine{Where: warehouse.IsNull{Column: "i"}, Reason: "r"}, []int64{2, 7}},
		{"and, not, in", warehouse.Quarantine{Where: warehouse.And{warehouse.Not{Of: warehouse.IsNull{Column: "b"}},
			warehouse.Not{Of: warehouse.In{Column: "i", Values: []any{1, 2}}}}, Reason: "r"}, []int64{5, 6}},
		{"or", warehouse.Quarantine{Where: warehouse.Or{warehouse.Eq{Column: "i", Value: 2}, warehouse.Eq{Column: "s", Value: " émea"}}, Reason: "r"}, []int64{1, 3, 6}},
		{"a value the column cannot hold matches nothing", warehouse.Quarantine{Where: warehouse.Eq{Column: "i", Value: "x"}, Reason: "r"}, nil},
		{"an empty list matches nothing", warehouse.Quarantine{Where: warehouse.In{Column: "s"}, Reason: "r"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			w, st, sp := stagePlanRows(t)
			original := dump(t, w, stagingRef(st.Table))
			want := copyRows(original)
			for _, id := range tc.ids {
				delete(want, id)
			}
			p, err := w.PreviewRepair(ctx, st, tc.op, 10)
			if err != nil || p.Rows != int64(len(tc.ids)) || len(p.Before) != len(tc.ids) {
				t.Fatalf("preview %+v %v, want %d rows", p, err, len(tc.ids))
			}
			res, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Op: tc.op})
			if err != nil || res.Rows != int64(len(tc.ids)) {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if st.Loaded != 7-res.Rows || st.Quarantined != res.Rows {
				t.Fatalf("counts %d/%d after setting %d aside", st.Loaded, st.Quarantined, res.Rows)
			}
			if got := dump(t, w, stagingRef(st.Table)); !reflect.DeepEqual(got, want) {
				t.Fatalf("applied:\n%v\nwant\n%v", got, want)
			}
			commit(t, w, st)
			if got := dump(t, w, qualified("main", "t")); !reflect.DeepEqual(got, want) {
				t.Fatalf("committed:\n%v\nwant\n%v", got, want)
			}
			n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertSetAside, Target: "t",
				RunID: sp.RunID, Pipeline: sp.Pipeline, ObjectKey: sp.ObjectKey, Reason: tc.op.SetAsideReason()})
			if err != nil || n != int64(len(tc.ids)) {
				t.Fatalf("revert: %d %v", n, err)
			}
			if got := dump(t, w, qualified("main", "t")); !reflect.DeepEqual(got, original) {
				t.Fatalf("reverted:\n%v\nwant\n%v", got, original)
			}
			if left := queryStrings(t, w, "SELECT CAST(count(*) AS VARCHAR) FROM t__quarantine"); left[0] != "0" {
				t.Fatalf("%s rows left in quarantine", left[0])
			}
		})
	}
}

// TestRepairRefusals: values that do not fit, unknown columns, plans
// without a token or a condition, and keeps of nothing are errors, and
// change nothing.
func TestRepairRefusals(t *testing.T) {
	ctx := context.Background()
	w, st, _ := stagePlanRows(t)
	original := dump(t, w, stagingRef(st.Table))
	for _, op := range []warehouse.RepairOp{
		warehouse.FillDefault{Column: "i", Value: "n/a"},
		warehouse.FillDefault{Column: "day", Value: "tomorrow"},
		warehouse.FillDefault{Column: "b", Value: nil},
		warehouse.MapValues{Column: "d", Mapping: map[string]string{"1.5": "one and a half"}},
	} {
		if _, err := w.PreviewRepair(ctx, st, op, 10); !errors.Is(err, warehouse.ErrValueDoesNotFit) {
			t.Errorf("preview %+v: %v", op, err)
		}
		if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "x", Op: op}); !errors.Is(err, warehouse.ErrValueDoesNotFit) {
			t.Errorf("apply %+v: %v", op, err)
		}
	}
	for _, c := range []struct {
		plan warehouse.RepairPlan
		want string
	}{
		{warehouse.RepairPlan{Token: "x", Op: warehouse.FillDefault{Column: "nope", Value: 1}}, `no column "nope"`},
		{warehouse.RepairPlan{Op: warehouse.FillDefault{Column: "i", Value: 1}}, "no token"},
		{warehouse.RepairPlan{Token: "x", Op: warehouse.MapValues{Column: "s"}}, "mapping is empty"},
		{warehouse.RepairPlan{Op: warehouse.Quarantine{Reason: "r"}}, "no condition"},
		{warehouse.RepairPlan{Op: warehouse.Quarantine{Where: warehouse.Not{}, Reason: "r"}}, "Not of nothing"},
		{warehouse.RepairPlan{Op: warehouse.QuarantineDuplicates{Reason: "r"}}, "no key columns"},
		{warehouse.RepairPlan{Op: warehouse.QuarantineDuplicates{Keys: []string{"i"}}}, "no reason"},
		{warehouse.RepairPlan{}, "no repair operation"},
	} {
		if _, err := w.ApplyRepair(ctx, st, c.plan); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.plan, err, c.want)
		}
	}
	if err := w.KeepRepair(ctx, st, "never"); err == nil {
		t.Error("kept a repair never applied")
	}
	if err := w.UndoRepair(ctx, st, "never"); err == nil {
		t.Error("undid a repair never applied")
	}
	if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "twice", Op: warehouse.FillDefault{Column: "i", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "twice", Op: warehouse.FillDefault{Column: "d", Value: 0}}); err == nil {
		t.Error("a token in use was taken again")
	}
	if err := w.UndoRepair(ctx, st, "twice"); err != nil {
		t.Fatal(err)
	}
	if got := dump(t, w, stagingRef(st.Table)); !reflect.DeepEqual(got, original) {
		t.Fatalf("refusals changed rows:\n%v", got)
	}
	// A discarded staging takes its pending originals with it.
	if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "gone", Op: warehouse.FillDefault{Column: "i", Value: 0}}); err != nil {
		t.Fatal(err)
	}
	if err := w.Discard(ctx, st); err != nil {
		t.Fatal(err)
	}
	if len(w.pending) != 0 {
		t.Fatalf("pending after discard: %v", w.pending)
	}
	if n := queryStringsConn(t, w, "SELECT CAST(count(*) AS VARCHAR) FROM information_schema.tables WHERE table_catalog = 'temp'"); n != "0" {
		t.Fatalf("%s temporary tables left", n)
	}
}

// TestRevertOfChangedRowsChangesNothing: a repaired row changed since the
// commit makes the revert refuse, all or nothing.
func TestRevertOfChangedRowsChangesNothing(t *testing.T) {
	ctx := context.Background()
	w, st, _ := stagePlanRows(t)
	op := warehouse.MapValues{Column: "d", Mapping: map[string]string{"1.5": "2.5"}}
	if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "tok", Op: op}); err != nil {
		t.Fatal(err)
	}
	if err := w.KeepRepair(ctx, st, "tok"); err != nil {
		t.Fatal(err)
	}
	commit(t, w, st)
	if _, err := w.DB().Exec("UPDATE t SET s = 'changed' WHERE id = 4"); err != nil {
		t.Fatal(err)
	}
	before := dump(t, w, qualified("main", "t"))
	_, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Token: "tok", Column: "d", RowColumns: rowNames(st)})
	var changed *warehouse.ChangedSinceError
	if !errors.As(err, &changed) || changed.Changed != 1 || changed.Kept != 2 {
		t.Fatalf("revert: %v", err)
	}
	if got := dump(t, w, qualified("main", "t")); !reflect.DeepEqual(got, before) {
		t.Fatal("a refused revert changed rows")
	}
	if _, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Token: "tok", Column: "nope"}); err == nil ||
		!strings.Contains(err.Error(), `has no column "nope"`) {
		t.Fatalf("unknown column: %v", err)
	}
	if _, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "absent"}); err == nil {
		t.Fatal("a revert in a missing target")
	}
}

// TestProbes counts by predicate and lists distinct values.
func TestProbes(t *testing.T) {
	ctx := context.Background()
	w, st, _ := stagePlanRows(t)
	for _, c := range []struct {
		where warehouse.Predicate
		want  int64
	}{
		{nil, 7},
		{warehouse.IsNull{Column: "s"}, 1},
		{warehouse.Not{Of: warehouse.IsNull{Column: "i"}}, 5},
		{warehouse.Not{Of: warehouse.Eq{Column: "i", Value: 1}}, 3}, // NULLs are neither
		{warehouse.In{Column: "day", Values: []any{"2026-01-02", "2024-02-29", "not a date"}}, 3},
		{warehouse.And{}, 7},
		{warehouse.Or{}, 0},
		{warehouse.Eq{Column: "S", Value: "ÉMEA"}, 1}, // names as the engine resolves them
	} {
		n, err := w.CountRows(ctx, st, c.where)
		if err != nil || n != c.want {
			t.Errorf("count %+v: %d %v, want %d", c.where, n, err, c.want)
		}
	}
	if _, err := w.CountRows(ctx, st, warehouse.IsNull{Column: "nope"}); err == nil {
		t.Error("counted by a missing column")
	}
	vals, err := w.DistinctValues(ctx, st, "s", 3)
	want := []warehouse.ValueCount{{Value: " émea", Rows: 2}, {Value: "Ünïcode ✓", Rows: 2}, {Value: "apac ", Rows: 1}}
	if err != nil || !reflect.DeepEqual(vals, want) {
		t.Fatalf("distinct: %+v %v", vals, err)
	}
	dup, err := w.PreviewRepair(ctx, st, warehouse.QuarantineDuplicates{Keys: []string{"s"}, Reason: "r"}, 10)
	if err != nil || fmt.Sprint(dup.Before) != "[ émea Ünïcode ✓]" {
		t.Fatalf("duplicate keys: %+v %v", dup, err)
	}
}

// TestRunQueryHoldsTheDataPlaneUntilDone: a query sees the staging
// tables, and the data plane is free again once its rows are read or
// closed.
func TestRunQueryHoldsTheDataPlaneUntilDone(t *testing.T) {
	ctx := context.Background()
	w, st, _ := stagePlanRows(t)
	free := func() {
		t.Helper()
		done := make(chan error, 1)
		go func() {
			_, err := w.CountRows(ctx, st, nil)
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the data plane is still held")
		}
	}
	rows, err := w.RunQuery(ctx, "SELECT id FROM "+ident(st.Table)+" WHERE id > ? ORDER BY id", 5)
	if err != nil {
		t.Fatal(err)
	}
	cols, err := rows.Columns()
	if err != nil || !reflect.DeepEqual(cols, []string{"id"}) {
		t.Fatalf("columns %v %v", cols, err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil || !reflect.DeepEqual(ids, []int64{6, 7}) {
		t.Fatalf("ids %v %v", ids, err)
	}
	free()
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err = w.RunQuery(ctx, "SELECT id FROM "+ident(st.Table))
	if err != nil {
		t.Fatal(err)
	}
	rows.Next()
	rows.Close()
	free()
	if _, err := w.RunQuery(ctx, "SELEKT"); err == nil {
		t.Fatal("a bad query ran")
	}
	free()
}

// TestKeepAndRevertARescue: the rows a stage repair rescued are kept with
// the lines they came from; the revert moves them back to quarantine with
// a note, and a rescue that would replace rows of the target by key keeps
// nothing.
func TestKeepAndRevertARescue(t *testing.T) {
	ctx := context.Background()
	w := open(t)
	data := "id,day,amount\n1,2026-11-02,1.5\n2,27/11/2026,2\n3,28/11/2026,3\n4,oops,4\n"
	sp := repairSpec(t, "r.csv", data, format.CSV, eventSchema)
	before, err := w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	fixed := sp.Clone()
	fixed.Parse = map[string]warehouse.ColumnParse{"day": {Layouts: []string{"%d/%m/%Y"}}}
	after, err := w.Stage(ctx, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if before.Quarantined != 3 || after.Quarantined != 1 {
		t.Fatalf("set aside %d then %d", before.Quarantined, after.Quarantined)
	}
	r, err := w.KeepRescued(ctx, sp, before, after)
	if err != nil || r.Token == "" || r.ReplacesKeys || !reflect.DeepEqual(r.RowColumns, []string{"id", "day", "amount"}) {
		t.Fatalf("keep: %+v %v", r, err)
	}
	if err := w.Discard(ctx, before); err != nil {
		t.Fatal(err)
	}
	commit(t, w, after)
	if got := queryStrings(t, w, "SELECT CAST(id AS VARCHAR) FROM t ORDER BY id"); !reflect.DeepEqual(got, []string{"1", "2", "3"}) {
		t.Fatalf("target %v", got)
	}
	n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRescue, Target: "t", Token: r.Token, RowColumns: r.RowColumns,
		RunID: "run-1", Pipeline: "p", Note: " (set aside again)"})
	if err != nil || n != 2 {
		t.Fatalf("revert: %d %v", n, err)
	}
	if got := queryStrings(t, w, "SELECT CAST(id AS VARCHAR) FROM t ORDER BY id"); !reflect.DeepEqual(got, []string{"1"}) {
		t.Fatalf("target after revert %v", got)
	}
	got := queryStrings(t, w, "SELECT CAST(line AS VARCHAR) || ':' || json_extract_string(raw, '$.day') FROM t__quarantine "+
		"WHERE ends_with(reason, ' (set aside again)') ORDER BY line")
	if !reflect.DeepEqual(got, []string{"3:27/11/2026", "4:28/11/2026"}) {
		t.Fatalf("quarantine after revert %v", got)
	}

	// Staged again over a merge target that holds the keys: the rescued
	// rows would replace rows, so nothing is kept.
	sp.Key = []string{"id"}
	before, err = w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	after, err = w.Stage(ctx, fixed)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.DB().Exec("INSERT INTO t (id) VALUES (2)"); err != nil {
		t.Fatal(err)
	}
	if r, err := w.KeepRescued(ctx, sp, before, after); err != nil || !r.ReplacesKeys || r.Token != "" {
		t.Fatalf("keep over existing keys: %+v %v", r, err)
	}
	// Nothing rescued, nothing kept.
	if r, err := w.KeepRescued(ctx, sp, after, after); err != nil || r.Token != "" || r.ReplacesKeys {
		t.Fatalf("keep of nothing: %+v %v", r, err)
	}
}

// TestRepairOpKinds: each operation says whether it rewrites a column or
// sets rows aside.
func TestRepairOpKinds(t *testing.T) {
	var kinds []string
	for _, op := range []warehouse.RepairOp{warehouse.MapValues{Column: "a"}, warehouse.FillDefault{Column: "a"},
		warehouse.QuarantineDuplicates{Reason: "r"}, warehouse.Quarantine{Reason: "r"}} {
		kinds = append(kinds, op.Rewritten()+"/"+op.SetAsideReason())
	}
	sort.Strings(kinds)
	if fmt.Sprint(kinds) != "[/r /r a/ a/]" {
		t.Fatal(kinds)
	}
}
