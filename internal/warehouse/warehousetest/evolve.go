package warehousetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// discard drops a staged object the test will not commit, when the
// warehouse can (warehouse.Inspector).
func discard(t *testing.T, w warehouse.Warehouse, st *warehouse.Staged) {
	t.Helper()
	if in, ok := w.(warehouse.Inspector); ok {
		if err := in.Discard(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
}

// hasChange reports whether a commit changed column's schema that way
// ("added" or "widened").
func hasChange(res *warehouse.CommitResult, column, kind string) bool {
	for _, c := range res.SchemaChanges {
		if c.Column == column && c.Kind == kind {
			return true
		}
	}
	return false
}

// typeOf is a target column's type (and mode) as TargetSchema says.
func typeOf(t *testing.T, w warehouse.Warehouse, table, column string) string {
	t.Helper()
	sch, err := w.TargetSchema(ctx, table)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range sch {
		if f.Name == column {
			if f.Precision > 0 {
				return fmt.Sprintf("%s(%d,%d) %s", f.Type, f.Precision, f.Scale, f.Mode)
			}
			return f.Type + " " + f.Mode
		}
	}
	return "absent"
}

// testSchemaEvolution checks how a target's schema follows its data.
func (s *suite) testSchemaEvolution(t *testing.T) {
	idName := `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING"}]`
	s.run(t, "new nullable column", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", sch: mustSchema(t, idName), body: "id,name\n1,a\n"}))
		withCity := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING"}, {"name": "city", "type": "STRING"}]`)
		res := appendTo(t, w, "r2", "p", "t", stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", sch: withCity, body: "id,name,city\n2,b,Köln\n"}))
		if !hasChange(res, "city", "added") {
			t.Errorf("schema changes %+v, want city added", res.SchemaChanges)
		}
		if got := typeOf(t, w, "t", "city"); got != "STRING NULLABLE" {
			t.Errorf("city is %s", got)
		}
		// A later object under the old schema still loads.
		appendTo(t, w, "r3", "p", "t", stageObject(t, w, object{run: "r3", pipeline: "p", target: "t", name: "c.csv", sch: mustSchema(t, idName), body: "id,name\n3,c\n"}))
		if got := lines(t, w, "SELECT {id}, {name}, {city} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|a|NULL,2|b|Köln,3|c|NULL" {
			t.Errorf("target %v", got)
		}
	})
	s.run(t, "column the file has and the schema lacks", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, idName)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", sch: sch, body: "id,name\n1,a\n"}))
		path := writeFile(t, t.TempDir(), "b.csv", []byte("id,name,city\n2,b,Köln\n"))
		spec := warehouse.LoadSpec{RunID: "r2", Pipeline: "p", Target: "t", ObjectKey: "b.csv", Path: path, Format: format.CSV, Schema: sch}
		st := stage(t, w, spec)
		if len(st.Extra) != 1 || st.Extra[0].Name != "city" || st.Extra[0].Type != "STRING" || st.Extra[0].Mode != "NULLABLE" || len(st.Drift) == 0 {
			t.Errorf("extra %+v, drift %v; want city, a NULLABLE STRING, reported", st.Extra, st.Drift)
		}
		if strings.Join(columnNames(st), ",") != "id,name" {
			t.Errorf("staged columns %v: an extra column is not loaded", columnNames(st))
		}
		discard(t, w, st)
		spec.Extend = st.Extra
		st = stage(t, w, spec)
		res := appendTo(t, w, "r2", "p", "t", st)
		if !hasChange(res, "city", "added") || typeOf(t, w, "t", "city") != "STRING NULLABLE" {
			t.Errorf("schema changes %+v; city is %s", res.SchemaChanges, typeOf(t, w, "t", "city"))
		}
		if got := lines(t, w, "SELECT {id}, {city} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|NULL,2|Köln" {
			t.Errorf("target %v", got)
		}
	})
	s.run(t, "relax required", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING", "mode": "REQUIRED"}]`)
		path := writeFile(t, t.TempDir(), "a.csv", []byte("id,name\n1,a\n2,\n"))
		spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "a.csv", Path: path, Format: format.CSV, Schema: sch}
		st := stage(t, w, spec)
		if st.Loaded != 1 || st.Quarantined != 1 {
			t.Fatalf("staged %d, set aside %d; a NULL in a REQUIRED column is set aside", st.Loaded, st.Quarantined)
		}
		discard(t, w, st)
		spec.Relax = []string{"name"}
		st = stage(t, w, spec)
		if st.Loaded != 2 || st.Quarantined != 0 {
			t.Fatalf("relaxed: staged %d, set aside %d", st.Loaded, st.Quarantined)
		}
		appendTo(t, w, "r1", "p", "t", st)
		if got := lines(t, w, "SELECT {id}, {name} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|a,2|NULL" {
			t.Errorf("target %v", got)
		}
	})
	for _, c := range []struct {
		name, from, to, first, second, later string
		wantType, want                       string
	}{
		{"widen INT64 to FLOAT64", "INT64", "FLOAT64", "1", "2.5", "4.5", "FLOAT64 NULLABLE", "1|1,2|2.5,3|3,4|4.5"},
		{"widen INT64 to NUMERIC", "INT64", "NUMERIC", "1", "2.25", "4.5", "NUMERIC(38,9) NULLABLE", "1|1.000000000,2|2.250000000,3|3.000000000,4|4.500000000"},
		{"widen DATE to DATETIME", "DATE", "DATETIME", "2026-01-01", "2026-01-02 10:30:00", "2026-01-04 08:00:00", "DATETIME NULLABLE",
			"1|2026-01-01 00:00:00,2|2026-01-02 10:30:00,3|2026-01-03 00:00:00,4|2026-01-04 08:00:00"},
	} {
		s.run(t, c.name, func(t *testing.T) {
			w := s.fresh(t)
			sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "v", "type": "`+c.from+`"}]`)
			appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", sch: sch, body: "id,v\n1," + c.first + "\n"}))
			third := map[string]string{"INT64": "3", "DATE": "2026-01-03"}[c.from]
			path := writeFile(t, t.TempDir(), "b.csv", []byte("id,v\n2,"+c.second+"\n3,"+third+"\n"))
			spec := warehouse.LoadSpec{RunID: "r2", Pipeline: "p", Target: "t", ObjectKey: "b.csv", Path: path, Format: format.CSV, Schema: sch}
			// (That the value does not fit the narrower type is Load's.)
			spec.Widen = map[string]string{"v": c.to}
			st := stage(t, w, spec)
			if st.Loaded != 2 || st.Quarantined != 0 {
				t.Fatalf("widened: staged %d, set aside %d", st.Loaded, st.Quarantined)
			}
			res := appendTo(t, w, "r2", "p", "t", st)
			if !hasChange(res, "v", "widened") {
				t.Errorf("schema changes %+v, want v widened", res.SchemaChanges)
			}
			if got := typeOf(t, w, "t", "v"); got != c.wantType {
				t.Errorf("v is %s, want %s", got, c.wantType)
			}
			// Later objects declare the old schema: the target's wider
			// type is kept.
			appendTo(t, w, "r3", "p", "t", stageObject(t, w, object{run: "r3", pipeline: "p", target: "t", name: "c.csv", sch: sch, body: "id,v\n4," + c.later + "\n"}))
			sel := "SELECT {id}, {v} FROM {t} ORDER BY {id}"
			if c.to == "NUMERIC" {
				sel = "SELECT {id}, {text:v} FROM {t} ORDER BY {id}"
			}
			var want [][]string
			for _, r := range strings.Split(c.want, ",") {
				want = append(want, strings.Split(r, "|"))
			}
			if got := query(t, w, sel); !sameRows(got, want) {
				t.Errorf("target %v, want %s", got, c.want)
			}
		})
	}
	s.run(t, "rename", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, idName)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", sch: sch, body: "id,name\n1,a\n"}))
		path := writeFile(t, t.TempDir(), "b.csv", []byte("ident,name\n2,b\n"))
		spec := warehouse.LoadSpec{RunID: "r2", Pipeline: "p", Target: "t", ObjectKey: "b.csv", Path: path, Format: format.CSV, Schema: sch}
		st := stage(t, w, spec)
		if st.Loaded != 0 || st.Quarantined != 1 || strings.Join(st.Missing, ",") != "id" || len(st.Extra) != 1 || st.Extra[0].Name != "ident" {
			t.Fatalf("staged %d, set aside %d, missing %v, extra %v; want the row set aside (id is REQUIRED), id missing, ident extra",
				st.Loaded, st.Quarantined, st.Missing, st.Extra)
		}
		discard(t, w, st)
		spec.Rename = map[string]string{"ident": "id"}
		st = stage(t, w, spec)
		if st.Loaded != 1 || len(st.Missing) != 0 || len(st.Extra) != 0 {
			t.Fatalf("renamed: staged %d, missing %v, extra %v", st.Loaded, st.Missing, st.Extra)
		}
		appendTo(t, w, "r2", "p", "t", st)
		if got := lines(t, w, "SELECT {id}, {name} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|a,2|b" {
			t.Errorf("target %v", got)
		}
	})
	s.run(t, "target schema", func(t *testing.T) {
		w := s.fresh(t)
		if sch, err := w.TargetSchema(ctx, "typed"); err != nil || sch != nil {
			t.Errorf("no table: %v, %v", sch, err)
		}
		path := writeFile(t, t.TempDir(), "a.jsonl", []byte(`{"id": 1, "note": "x"}`+"\n"))
		appendTo(t, w, "r1", "p", "typed", stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "typed", ObjectKey: "a.jsonl",
			Path: path, Format: format.JSONL, Schema: mustSchema(t, typedSchemaJSON)}))
		sch, err := w.TargetSchema(ctx, "TYPED")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range sch {
			d := f.Name + " " + f.Type
			if f.Precision > 0 {
				d += fmt.Sprintf("(%d,%d)", f.Precision, f.Scale)
			}
			got = append(got, d)
		}
		want := "id INT64, qty INT64, serial INT64, ratio FLOAT64, price NUMERIC(10,2), active BOOL, day DATE, seen_at TIMESTAMP, local_at DATETIME, note STRING"
		if strings.Join(got, ", ") != want {
			t.Errorf("target schema %s\nwant          %s", strings.Join(got, ", "), want)
		}
	})
}
