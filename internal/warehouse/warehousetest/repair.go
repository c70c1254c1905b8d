package warehousetest

import (
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// planSchema has a column of each kind a repair meets.
const planSchema = `[
	{"name": "id", "type": "INT64", "mode": "REQUIRED"},
	{"name": "s", "type": "STRING"},
	{"name": "i", "type": "INT64"},
	{"name": "d", "type": "FLOAT64"},
	{"name": "day", "type": "DATE"},
	{"name": "ts", "type": "TIMESTAMP"},
	{"name": "dt", "type": "DATETIME"},
	{"name": "b", "type": "BOOL"}
]`

// planColumns are planSchema's names, in order.
var planColumns = []string{"id", "s", "i", "d", "day", "ts", "dt", "b"}

// planRows hold NULLs in every column, unicode text, and duplicates.
const planRows = `{"id":1,"s":" émea","i":1,"d":1.5,"day":"2026-01-02","ts":"2026-01-02T03:04:05Z","dt":"2026-01-02 03:04:05","b":true}
{"id":2,"s":"Ünïcode ✓","i":null,"d":null,"day":null,"ts":null,"dt":null,"b":null}
{"id":3,"s":null,"i":2,"d":-0.25,"day":"2025-12-31","ts":"2025-12-31T23:59:59.5Z","dt":"2025-12-31 23:59:59.5","b":false}
{"id":4,"s":"ÉMEA","i":1,"d":1.5,"day":"2026-01-02","ts":"2026-01-02T03:04:05Z","dt":"2026-01-02 03:04:05","b":true}
{"id":5,"s":"apac ","i":3,"d":0.001,"day":"2024-02-29","ts":"2024-02-29T12:00:00Z","dt":"2024-02-29 12:00:00","b":false}
{"id":6,"s":" émea","i":4,"d":2,"day":"2026-01-03","ts":"2026-01-03T00:00:00Z","dt":"2026-01-03 00:00:00","b":true}
{"id":7,"s":"Ünïcode ✓","i":null,"d":null,"day":null,"ts":null,"dt":null,"b":null}
`

// stagePlanRows stages planRows (merge key id, when key).
func stagePlanRows(t *testing.T, w warehouse.Warehouse, run string, key bool) (*warehouse.Staged, warehouse.LoadSpec) {
	t.Helper()
	path := writeFile(t, t.TempDir(), "rows.jsonl", []byte(planRows))
	spec := warehouse.LoadSpec{RunID: run, Pipeline: "p", Target: "t", ObjectKey: "rows.jsonl", Fingerprint: "fp", Path: path,
		Format: format.JSONL, Schema: mustSchema(t, planSchema)}
	if key {
		spec.Key = []string{"id"}
	}
	st := stage(t, w, spec)
	if st.Loaded != 7 || st.Quarantined != 0 {
		t.Fatalf("staged %d, set aside %d", st.Loaded, st.Quarantined)
	}
	return st, spec
}

// dump renders a table's plan columns, by id.
func dump(t *testing.T, w warehouse.Warehouse, table string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, r := range query(t, w, "SELECT {id}, {s}, {i}, {d}, {day}, {ts}, {dt}, {b} FROM {"+table+"} ORDER BY {id}") {
		out[r[0]] = r
	}
	return out
}

func copyRows(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func colIndex(name string) int {
	for i, c := range planColumns {
		if c == name {
			return i
		}
	}
	panic(name)
}

func commitPlan(t *testing.T, w warehouse.Warehouse, st *warehouse.Staged) {
	t.Helper()
	appendTo(t, w, "r1", "p", "t", st)
}

// testRepair checks every repair operation, its probes and its revert.
func (s *suite) testRepair(t *testing.T) {
	ts := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		op   func(t *testing.T, w warehouse.Warehouse, st *warehouse.Staged) warehouse.RepairOp
		ids  []string
		want string // the rendered new value; "" for the VARCHAR mapping's own values
	}{
		{"MapValues/varchar, trimmed and case folded, unicode", fixed(warehouse.MapValues{Column: "s", Trim: true, FoldCase: true,
			Mapping: map[string]string{"émea": "ÉMEA", "apac": "APAC"}}), []string{"1", "5", "6"}, ""},
		{"MapValues/integer", fixed(warehouse.MapValues{Column: "i", Mapping: map[string]string{"1": "10"}}), []string{"1", "4"}, "10"},
		{"MapValues/double", fixed(warehouse.MapValues{Column: "d", Mapping: map[string]string{"1.5": "2.5"}}), []string{"1", "4"}, "2.5"},
		{"MapValues/date", fixed(warehouse.MapValues{Column: "day", Mapping: map[string]string{"2026-01-02": "2026-02-01"}}), []string{"1", "4"}, "2026-02-01"},
		{"MapValues/datetime", fixed(warehouse.MapValues{Column: "dt", Mapping: map[string]string{"2026-01-02 03:04:05": "2026-01-02 03:04:06"}}),
			[]string{"1", "4"}, "2026-01-02 03:04:06"},
		{"MapValues/timestamp, as the engine writes it", func(t *testing.T, w warehouse.Warehouse, st *warehouse.Staged) warehouse.RepairOp {
			vals, err := w.DistinctValues(ctx, st, "ts", 10)
			if err != nil || len(vals) == 0 || vals[0].Rows != 2 {
				t.Fatalf("distinct ts: %+v %v", vals, err)
			}
			return warehouse.MapValues{Column: "ts", Mapping: map[string]string{vals[0].Value: "2030-01-01 00:00:00+00"}}
		}, []string{"1", "4"}, "2030-01-01 00:00:00"},
		{"MapValues/boolean", fixed(warehouse.MapValues{Column: "b", FoldCase: true, Mapping: map[string]string{"TRUE": "false"}}), []string{"1", "4", "6"}, "false"},
		{"FillDefault/varchar", fixed(warehouse.FillDefault{Column: "s", Value: "—ünknown—"}), []string{"3"}, "—ünknown—"},
		{"FillDefault/integer", fixed(warehouse.FillDefault{Column: "i", Value: int64(0)}), []string{"2", "7"}, "0"},
		{"FillDefault/double", fixed(warehouse.FillDefault{Column: "d", Value: 0.5}), []string{"2", "7"}, "0.5"},
		{"FillDefault/date", fixed(warehouse.FillDefault{Column: "day", Value: "2000-01-01"}), []string{"2", "7"}, "2000-01-01"},
		{"FillDefault/timestamp", fixed(warehouse.FillDefault{Column: "ts", Value: ts}), []string{"2", "7"}, "2000-01-01 00:00:00"},
		{"FillDefault/datetime", fixed(warehouse.FillDefault{Column: "dt", Value: "2000-01-01 00:00:00"}), []string{"2", "7"}, "2000-01-01 00:00:00"},
		{"FillDefault/boolean", fixed(warehouse.FillDefault{Column: "b", Value: false}), []string{"2", "7"}, "false"},
	} {
		s.run(t, c.name, func(t *testing.T) {
			w := s.fresh(t)
			st, _ := stagePlanRows(t, w, "r1", false)
			op := c.op(t, w, st)
			col := op.Rewritten()
			original := dump(t, w, st.Table)
			want := copyRows(original)
			for _, id := range c.ids {
				v := c.want
				if v == "" {
					v = map[string]string{"1": "ÉMEA", "5": "APAC", "6": "ÉMEA"}[id]
				}
				want[id][colIndex(col)] = v
			}
			p, err := w.PreviewRepair(ctx, st, op, 10)
			if err != nil || p.Rows != int64(len(c.ids)) || len(p.Before) != len(c.ids) || len(p.After) != len(c.ids) {
				t.Fatalf("preview %+v %v, want %d rows with samples before and after", p, err, len(c.ids))
			}
			if got := dump(t, w, st.Table); !reflect.DeepEqual(got, original) {
				t.Fatal("a preview changed rows")
			}
			// Applied, then undone: the staged rows are as loaded.
			res, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "first", Op: op})
			if err != nil || res.Rows != int64(len(c.ids)) {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if got := dump(t, w, st.Table); !reflect.DeepEqual(got, want) {
				t.Fatalf("applied:\n%v\nwant\n%v", got, want)
			}
			if err := w.UndoRepair(ctx, st, "first"); err != nil {
				t.Fatal(err)
			}
			if got := dump(t, w, st.Table); !reflect.DeepEqual(got, original) {
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
			commitPlan(t, w, st)
			if got := dump(t, w, "t"); !reflect.DeepEqual(got, want) {
				t.Fatalf("committed:\n%v\nwant\n%v", got, want)
			}
			n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Token: "second", Column: col, RowColumns: columnNames(st)})
			if err != nil || n != int64(len(c.ids)) {
				t.Fatalf("revert: %d %v", n, err)
			}
			if got := dump(t, w, "t"); !reflect.DeepEqual(got, original) {
				t.Fatalf("reverted:\n%v\nwant\n%v", got, original)
			}
		})
	}

	day := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, c := range []struct {
		name string
		op   warehouse.RepairOp
		ids  []string // the rows set aside
	}{
		{"QuarantineDuplicates/varchar, unicode", warehouse.QuarantineDuplicates{Keys: []string{"s"}, Reason: "dup"}, []string{"1", "2"}},
		{"QuarantineDuplicates/integer, NULL keys left alone", warehouse.QuarantineDuplicates{Keys: []string{"i"}, Reason: "dup"}, []string{"1"}},
		{"QuarantineDuplicates/double", warehouse.QuarantineDuplicates{Keys: []string{"d"}, Reason: "dup"}, []string{"1"}},
		{"QuarantineDuplicates/date", warehouse.QuarantineDuplicates{Keys: []string{"day"}, Reason: "dup"}, []string{"1"}},
		{"QuarantineDuplicates/timestamp", warehouse.QuarantineDuplicates{Keys: []string{"ts"}, Reason: "dup"}, []string{"1"}},
		{"QuarantineDuplicates/datetime", warehouse.QuarantineDuplicates{Keys: []string{"dt"}, Reason: "dup"}, []string{"1"}},
		{"QuarantineDuplicates/boolean", warehouse.QuarantineDuplicates{Keys: []string{"b"}, Reason: "dup"}, []string{"1", "3", "4"}},
		{"QuarantineDuplicates/compound key", warehouse.QuarantineDuplicates{Keys: []string{"i", "day"}, Reason: "dup"}, []string{"1"}},
		{"Quarantine/Eq varchar", warehouse.Quarantine{Where: warehouse.Eq{Column: "s", Value: "Ünïcode ✓"}, Reason: "r"}, []string{"2", "7"}},
		{"Quarantine/Eq integer", warehouse.Quarantine{Where: warehouse.Eq{Column: "i", Value: 1}, Reason: "r"}, []string{"1", "4"}},
		{"Quarantine/Eq double", warehouse.Quarantine{Where: warehouse.Eq{Column: "d", Value: 1.5}, Reason: "r"}, []string{"1", "4"}},
		{"Quarantine/Eq date", warehouse.Quarantine{Where: warehouse.Eq{Column: "day", Value: "2026-01-02"}, Reason: "r"}, []string{"1", "4"}},
		{"Quarantine/Eq timestamp", warehouse.Quarantine{Where: warehouse.Eq{Column: "ts", Value: day}, Reason: "r"}, []string{"1", "4"}},
		{"Quarantine/Eq datetime", warehouse.Quarantine{Where: warehouse.Eq{Column: "dt", Value: "2026-01-02 03:04:05"}, Reason: "r"}, []string{"1", "4"}},
		{"Quarantine/Eq boolean", warehouse.Quarantine{Where: warehouse.Eq{Column: "b", Value: true}, Reason: "r"}, []string{"1", "4", "6"}},
		{"Quarantine/IsNull", warehouse.Quarantine{Where: warehouse.IsNull{Column: "i"}, Reason: "r"}, []string{"2", "7"}},
		{"Quarantine/In", warehouse.Quarantine{Where: warehouse.In{Column: "i", Values: []any{1, 3}}, Reason: "r"}, []string{"1", "4", "5"}},
		{"Quarantine/Not, NULL neither way", warehouse.Quarantine{Where: warehouse.Not{Of: warehouse.Eq{Column: "i", Value: 1}}, Reason: "r"}, []string{"3", "5", "6"}},
		{"Quarantine/And, Not, In", warehouse.Quarantine{Where: warehouse.And{warehouse.Not{Of: warehouse.IsNull{Column: "b"}},
			warehouse.Not{Of: warehouse.In{Column: "i", Values: []any{1, 2}}}}, Reason: "r"}, []string{"5", "6"}},
		{"Quarantine/Or", warehouse.Quarantine{Where: warehouse.Or{warehouse.Eq{Column: "i", Value: 2}, warehouse.Eq{Column: "s", Value: " émea"}}, Reason: "r"}, []string{"1", "3", "6"}},
		{"Quarantine/a value the column cannot hold matches nothing", warehouse.Quarantine{Where: warehouse.Eq{Column: "i", Value: "x"}, Reason: "r"}, nil},
		{"Quarantine/an empty In matches nothing", warehouse.Quarantine{Where: warehouse.In{Column: "s"}, Reason: "r"}, nil},
		{"Quarantine/an empty Or matches nothing", warehouse.Quarantine{Where: warehouse.Or{}, Reason: "r"}, nil},
		{"Quarantine/an empty And matches every row", warehouse.Quarantine{Where: warehouse.And{}, Reason: "r"}, []string{"1", "2", "3", "4", "5", "6", "7"}},
	} {
		s.run(t, c.name, func(t *testing.T) {
			w := s.fresh(t)
			st, spec := stagePlanRows(t, w, "r1", false)
			original := dump(t, w, st.Table)
			want := copyRows(original)
			for _, id := range c.ids {
				delete(want, id)
			}
			p, err := w.PreviewRepair(ctx, st, c.op, 10)
			if err != nil || p.Rows != int64(len(c.ids)) || len(p.Before) != len(c.ids) {
				t.Fatalf("preview %+v %v, want %d rows", p, err, len(c.ids))
			}
			res, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Op: c.op})
			if err != nil || res.Rows != int64(len(c.ids)) {
				t.Fatalf("apply: %+v %v", res, err)
			}
			if st.Loaded != 7-res.Rows || st.Quarantined != res.Rows {
				t.Fatalf("counts %d/%d after setting %d aside", st.Loaded, st.Quarantined, res.Rows)
			}
			if got := dump(t, w, st.Table); !reflect.DeepEqual(got, want) {
				t.Fatalf("applied:\n%v\nwant\n%v", got, want)
			}
			commitPlan(t, w, st)
			if got := dump(t, w, "t"); !reflect.DeepEqual(got, want) {
				t.Fatalf("committed:\n%v\nwant\n%v", got, want)
			}
			q := quarantine(t, w, "r1", "t")
			if len(q) != len(c.ids) {
				t.Fatalf("set aside %v, want %d rows", q, len(c.ids))
			}
			for _, r := range q {
				if r.Reason != c.op.SetAsideReason() || r.Object != spec.ObjectKey || !strings.HasPrefix(r.Raw, "{") {
					t.Errorf("set aside %s, want the reason %q and the row as JSON", r, c.op.SetAsideReason())
				}
			}
			n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertSetAside, Target: "t",
				RunID: spec.RunID, Pipeline: spec.Pipeline, ObjectKey: spec.ObjectKey, Reason: c.op.SetAsideReason()})
			if err != nil || n != int64(len(c.ids)) {
				t.Fatalf("revert: %d %v", n, err)
			}
			if got := dump(t, w, "t"); !reflect.DeepEqual(got, original) {
				t.Fatalf("reverted:\n%v\nwant\n%v", got, original)
			}
			if q := quarantine(t, w, "r1", "t"); len(q) != 0 {
				t.Errorf("the reverted rows are still set aside: %v", q)
			}
		})
	}

	s.run(t, "probes", func(t *testing.T) {
		w := s.fresh(t)
		st, _ := stagePlanRows(t, w, "r1", false)
		for _, c := range []struct {
			where warehouse.Predicate
			want  int64
		}{
			{nil, 7},
			{warehouse.IsNull{Column: "i"}, 2},
			{warehouse.Eq{Column: "s", Value: "Ünïcode ✓"}, 2},
			{warehouse.In{Column: "i", Values: []any{1, 2}}, 3},
			{warehouse.Not{Of: warehouse.Eq{Column: "b", Value: true}}, 2},
			{warehouse.Eq{Column: "day", Value: "2026-01-02"}, 2},
		} {
			if n, err := w.CountRows(ctx, st, c.where); err != nil || n != c.want {
				t.Errorf("CountRows(%#v) = %d, %v; want %d", c.where, n, err, c.want)
			}
		}
		vals, err := w.DistinctValues(ctx, st, "s", 10)
		want := []warehouse.ValueCount{{Value: " émea", Rows: 2}, {Value: "Ünïcode ✓", Rows: 2}, {Value: "apac ", Rows: 1}, {Value: "ÉMEA", Rows: 1}}
		if err != nil || !reflect.DeepEqual(vals, want) {
			t.Errorf("DistinctValues(s) = %+v, %v; want %+v", vals, err, want)
		}
		vals, err = w.DistinctValues(ctx, st, "i", 2)
		if err != nil || !reflect.DeepEqual(vals, []warehouse.ValueCount{{Value: "1", Rows: 2}, {Value: "2", Rows: 1}}) {
			t.Errorf("DistinctValues(i, 2) = %+v, %v", vals, err)
		}
		for _, op := range []warehouse.RepairOp{
			warehouse.FillDefault{Column: "i", Value: "x"},
			warehouse.FillDefault{Column: "day", Value: "soon"},
			warehouse.MapValues{Column: "i", Mapping: map[string]string{"1": "ten"}},
		} {
			if _, err := w.PreviewRepair(ctx, st, op, 5); !errors.Is(err, warehouse.ErrValueDoesNotFit) {
				t.Errorf("preview %+v: %v, want ErrValueDoesNotFit", op, err)
			}
			if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "x", Op: op}); !errors.Is(err, warehouse.ErrValueDoesNotFit) {
				t.Errorf("apply %+v: %v, want ErrValueDoesNotFit", op, err)
			}
		}
		original := dump(t, w, st.Table)
		dup, err := w.PreviewRepair(ctx, st, warehouse.QuarantineDuplicates{Keys: []string{"s"}, Reason: "r"}, 10)
		if err != nil || fmt.Sprint(dup.Before) != "[ émea Ünïcode ✓]" {
			t.Errorf("the keys of duplicates: %+v, %v; want the keys as text", dup, err)
		}
		for _, plan := range []warehouse.RepairPlan{
			{Token: "x", Op: warehouse.FillDefault{Column: "nope", Value: 1}},
			{Op: warehouse.FillDefault{Column: "i", Value: 1}}, // a rewrite without a token
			{Token: "x", Op: warehouse.MapValues{Column: "s"}},
			{Op: warehouse.Quarantine{Reason: "r"}},
			{Op: warehouse.Quarantine{Where: warehouse.Not{}, Reason: "r"}},
			{Op: warehouse.QuarantineDuplicates{Reason: "r"}},
			{Op: warehouse.QuarantineDuplicates{Keys: []string{"i"}}},
			{},
		} {
			if _, err := w.ApplyRepair(ctx, st, plan); err == nil {
				t.Errorf("applied %+v", plan)
			}
		}
		if _, err := w.CountRows(ctx, st, warehouse.IsNull{Column: "nope"}); err == nil {
			t.Error("counted by a column the rows lack")
		}
		if err := w.KeepRepair(ctx, st, "never"); err == nil {
			t.Error("kept a repair never applied")
		}
		if err := w.UndoRepair(ctx, st, "never"); err == nil {
			t.Error("undid a repair never applied")
		}
		if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "twice", Op: warehouse.FillDefault{Column: "i", Value: int64(0)}}); err != nil {
			t.Fatal(err)
		}
		if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "twice", Op: warehouse.FillDefault{Column: "d", Value: 0.0}}); err == nil {
			t.Error("a token in use was taken again")
		}
		if err := w.UndoRepair(ctx, st, "twice"); err != nil {
			t.Fatal(err)
		}
		if got := dump(t, w, st.Table); !reflect.DeepEqual(got, original) || got["2"][colIndex("i")] != "NULL" {
			t.Errorf("refused repairs changed rows: %v", got)
		}
		if _, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "absent", Token: "twice", Column: "i"}); err == nil {
			t.Error("reverted in a target that does not exist")
		}
	})

	s.run(t, "revert refused when the rows changed since", func(t *testing.T) {
		w := s.fresh(t)
		st, _ := stagePlanRows(t, w, "r1", true)
		op := warehouse.FillDefault{Column: "i", Value: int64(0)}
		if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Token: "fill", Op: op}); err != nil {
			t.Fatal(err)
		}
		if err := w.KeepRepair(ctx, st, "fill"); err != nil {
			t.Fatal(err)
		}
		commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: []string{"id"}, Objects: []*warehouse.Staged{st}})
		path := writeFile(t, t.TempDir(), "later.jsonl", []byte(`{"id":2,"s":"later","i":99}`+"\n"))
		later := stage(t, w, warehouse.LoadSpec{RunID: "r2", Pipeline: "p", Target: "t", ObjectKey: "later.jsonl", Path: path, Format: format.JSONL,
			Schema: mustSchema(t, planSchema), Key: []string{"id"}})
		commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: []string{"id"}, Objects: []*warehouse.Staged{later}})
		before := dump(t, w, "t")
		n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRewrite, Target: "t", Token: "fill", Column: "i", RowColumns: columnNames(st)})
		var changed *warehouse.ChangedSinceError
		if !errors.As(err, &changed) || changed.Changed != 1 || changed.Kept != 2 {
			t.Fatalf("revert: %d, %v; want a ChangedSinceError for 1 of 2 rows", n, err)
		}
		if got := dump(t, w, "t"); !reflect.DeepEqual(got, before) || got["7"][colIndex("i")] != "0" || got["2"][colIndex("i")] != "99" {
			t.Errorf("a refused revert changed rows:\n%v\nwant\n%v", got, before)
		}
	})

	s.run(t, "stage repair kept and reverted", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "day", "type": "DATE"}, {"name": "amount", "type": "FLOAT64"}]`)
		path := writeFile(t, t.TempDir(), "d.csv", []byte("id,day,amount\n1,2026-11-02,1.5\n2,27/11/2026,2\n3,28/11/2026,3\n"))
		spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "d.csv", Path: path, Format: format.CSV, Schema: sch}
		before := stage(t, w, spec)
		if before.Loaded != 1 || before.Quarantined != 2 {
			t.Fatalf("staged %d, set aside %d; 27/11/2026 is not ISO 8601", before.Loaded, before.Quarantined)
		}
		repaired := spec.Clone()
		repaired.Parse = map[string]warehouse.ColumnParse{"day": {Layouts: []string{"%d/%m/%Y"}}}
		after := stage(t, w, repaired)
		if after.Loaded != 3 || after.Quarantined != 0 {
			t.Fatalf("repaired: staged %d, set aside %d", after.Loaded, after.Quarantined)
		}
		rescue, err := w.KeepRescued(ctx, spec, before, after)
		if err != nil || rescue.Token == "" || rescue.ReplacesKeys {
			t.Fatalf("keep rescued: %+v, %v", rescue, err)
		}
		discard(t, w, before)
		appendTo(t, w, "r1", "p", "t", after)
		if got := lines(t, w, "SELECT {id}, {day} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|2026-11-02,2|2026-11-27,3|2026-11-28" {
			t.Errorf("target %v", got)
		}
		n, err := w.RevertRepair(ctx, warehouse.RevertSpec{Kind: warehouse.RevertRescue, Target: "t", Token: rescue.Token, RowColumns: rescue.RowColumns,
			RunID: "r1", Pipeline: "p", ObjectKey: "d.csv", Note: "; set aside again: repair #1 was reverted"})
		if err != nil || n != 2 {
			t.Fatalf("revert: %d, %v; want 2 rows", n, err)
		}
		if got := lines(t, w, "SELECT {id}, {day} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|2026-11-02" {
			t.Errorf("target after the revert %v", got)
		}
		q := quarantine(t, w, "r1", "t")
		if len(q) != 2 {
			t.Fatalf("set aside %v, want the 2 rescued lines back", q)
		}
		for i, r := range q {
			line := int64(i + 3)
			if r.Line != line || !strings.Contains(r.Reason, "day") || !strings.HasSuffix(r.Reason, "repair #1 was reverted") ||
				!strings.Contains(r.Raw, fmt.Sprintf("%d/11/2026", 24+line)) || r.Object != filepath.Base(path) {
				t.Errorf("set aside again %s, want line %d with its first reason and the note", r, line)
			}
		}
	})
}

func fixed(op warehouse.RepairOp) func(*testing.T, warehouse.Warehouse, *warehouse.Staged) warehouse.RepairOp {
	return func(*testing.T, warehouse.Warehouse, *warehouse.Staged) warehouse.RepairOp { return op }
}
