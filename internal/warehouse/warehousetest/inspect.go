package warehousetest

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// inspector is the warehouse's Inspector; the test is skipped when it has
// none (the Inspector is optional).
func inspector(t *testing.T, w warehouse.Warehouse) warehouse.Inspector {
	t.Helper()
	in, ok := w.(warehouse.Inspector)
	if !ok {
		t.Skip("the warehouse implements no warehouse.Inspector")
	}
	return in
}

// testInspector checks what stage strategies read of a staging.
func (s *suite) testInspector(t *testing.T) {
	s.run(t, "rejects", func(t *testing.T) {
		w := s.fresh(t)
		in := inspector(t, w)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "day", "type": "DATE"}, {"name": "amount", "type": "FLOAT64"}, {"name": "city", "type": "STRING"}]`)
		data := "id,day,amount,city\n1,2026-01-02,1,a\n2,27/11/2026,2,b\n3,28/11/2026,x,c\n,2026-01-02,4,d\n5,2026-01-02,5\n6,2026-01-02,6,K\xf6ln\n"
		path := writeFile(t, t.TempDir(), "r.csv", []byte(data))
		st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "r.csv", Path: path, Format: format.CSV, Schema: sch})
		if st.Loaded != 1 || st.Quarantined != 5 {
			t.Fatalf("staged %d, set aside %d; want 1 and 5", st.Loaded, st.Quarantined)
		}
		rejects, err := in.Rejects(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, r := range rejects {
			got = append(got, fmt.Sprintf("%s %s %d", r.Kind, r.Column, r.Rows))
		}
		sort.Strings(got)
		// Row 3 has two problems and counts in both groups.
		want := []string{"cast amount 1", "cast day 2", "encoding  1", "null id 1", "other  1"}
		if strings.Join(got, "; ") != strings.Join(want, "; ") {
			t.Errorf("rejects %q, want %q", got, want)
		}
		vals, err := in.RejectedValues(ctx, st, "day", 10)
		sort.Strings(vals)
		if err != nil || strings.Join(vals, ",") != "27/11/2026,28/11/2026" {
			t.Errorf("rejected days %q, %v", vals, err)
		}
		if vals, err := in.RejectedValues(ctx, st, "amount", 10); err != nil || strings.Join(vals, ",") != "x" {
			t.Errorf("rejected amounts %q, %v", vals, err)
		}
		if vals, err := in.RejectedValues(ctx, st, "day", 1); err != nil || len(vals) != 1 {
			t.Errorf("one rejected day: %q, %v", vals, err)
		}
		if err := in.Discard(ctx, st); err != nil {
			t.Fatal(err)
		}
		if _, err := tryQuery(w, "SELECT count(*) FROM {"+st.Table+"}"); err == nil {
			t.Error("a discarded staging table is still there")
		}
	})
	s.run(t, "repeated rows", func(t *testing.T) {
		w := s.fresh(t)
		in := inspector(t, w)
		st := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n2,b,2\n"})
		if n, err := in.RepeatedRows(ctx, st, "t"); err != nil || n != 0 {
			t.Errorf("no target: %d, %v", n, err)
		}
		appendTo(t, w, "r1", "p", "t", st)
		again := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n1,a,1\n2,b,2.5\n3,c,3\n"})
		if n, err := in.RepeatedRows(ctx, again, "t"); err != nil || n != 1 {
			t.Errorf("repeated rows %d, %v; want 1 (row 2 changed, row 3 is new)", n, err)
		}
	})
	s.run(t, "overlap", func(t *testing.T) {
		w := s.fresh(t)
		in := inspector(t, w)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64"}, {"name": "cust_id", "type": "INT64"}]`)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", sch: sch,
			body: "id,cust_id\n1,101\n2,102\n3,103\n4,104\n"}))
		path := writeFile(t, t.TempDir(), "b.csv", []byte("id,customer,empty\n5,101,\n6,102,\n7,999,\n"))
		spec := warehouse.LoadSpec{RunID: "r2", Pipeline: "p", Target: "t", ObjectKey: "b.csv", Path: path, Format: format.CSV, Schema: sch}
		if share, err := in.Overlap(ctx, spec, "customer", "cust_id"); err != nil || math.Abs(share-2.0/3) > 1e-9 {
			t.Errorf("overlap %v, %v; want 2/3", share, err)
		}
		if share, err := in.Overlap(ctx, spec, "customer", "nope"); err != nil || share != -1 {
			t.Errorf("overlap with a column the target lacks: %v, %v; want -1", share, err)
		}
		if share, err := in.Overlap(ctx, spec, "empty", "cust_id"); err != nil || share != 0 {
			t.Errorf("overlap of a column without values: %v, %v; want 0", share, err)
		}
	})
}
