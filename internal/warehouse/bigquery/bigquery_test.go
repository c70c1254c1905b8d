package bigquery

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func writeFile(t *testing.T, name, data string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func mustSchema(t *testing.T, js string) schema.Schema {
	t.Helper()
	s, err := schema.Parse([]byte(js), "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// lines runs a query and renders its rows as "a|b" lines.
func lines(t *testing.T, w *Warehouse, q string, args ...any) []string {
	t.Helper()
	rows, err := w.RunQuery(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = render(v)
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func render(v any) string {
	if v == nil {
		return "NULL"
	}
	return strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(fmtValue(v), "\n", " "), "  ", " "))
}

func TestStageAndCommitCSV(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	sch := mustSchema(t, `[{"name":"id","type":"INT64","mode":"REQUIRED"},{"name":"name","type":"STRING"},{"name":"amount","type":"FLOAT64"},{"name":"day","type":"DATE"}]`)
	path := writeFile(t, "a.csv", "id,name,amount,day\n1,a,1.5,2026-01-02\n2,b,x,2026-01-03\n,c,3,2026-01-04\n4,d,4,2026-02-30\n5,\"e, quoted\",5,\n6,f\n")
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "a.csv", Path: path, Format: format.CSV, Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 2 || st.Quarantined != 4 {
		t.Errorf("staged %d, set aside %d: %+v", st.Loaded, st.Quarantined, st.Samples)
	}
	for _, s := range st.Samples {
		t.Logf("sample %d: %s", s.Line, s.Reason)
	}
	res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 2 || res.Quarantined != 4 {
		t.Errorf("commit %+v", res)
	}
	if got := strings.Join(lines(t, w, "SELECT id, name, amount, day FROM t ORDER BY id"), ","); got != "1|a|1.5|2026-01-02,5|e, quoted|5|NULL" {
		t.Errorf("target %s", got)
	}
	led, err := w.LoadedObjects(ctx, "p")
	if err != nil || len(led) != 1 || led[0].Key != "a.csv" {
		t.Errorf("ledger %v, %v", led, err)
	}
	q := lines(t, w, "SELECT source_object, line, reason FROM t__quarantine ORDER BY line")
	t.Logf("quarantine %q", q)
	if len(q) != 4 {
		t.Errorf("quarantine %v", q)
	}
	t.Logf("cost %+v", w.RunCost("r1"))
}

func fmtValue(v any) string { return strings.TrimSpace(sprint(v)) }

func TestQuarantineWhere(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	sch := mustSchema(t, `[{"name":"id","type":"INT64"},{"name":"name","type":"STRING"},{"name":"amount","type":"FLOAT64"}]`)
	path := writeFile(t, "a.csv", "id,name,amount\n1,a,5\n2,b,50\n3,c,500\n4,d,x\n")
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "a.csv", Path: path, Format: format.CSV, Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.QuarantineWhere(ctx, st, "`amount` > ?", []any{10.0}, "amount over 10")
	if err != nil || n != 2 || st.Loaded != 1 || st.Quarantined != 3 {
		t.Fatalf("set aside %d, %v; staged %d, set aside %d", n, err, st.Loaded, st.Quarantined)
	}
	path = writeFile(t, "b.csv", "id,name,amount\n1,a,5\n")
	if _, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "b.csv", Path: path, Format: format.CSV, Schema: sch}); err != nil {
		t.Fatal(err)
	}
}

func TestCostAndDryRun(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	sch := mustSchema(t, `[{"name":"id","type":"INT64"},{"name":"name","type":"STRING"}]`)
	path := writeFile(t, "a.jsonl", `{"id": 1, "name": "a"}`+"\n"+`{"id": 2, "name": "b"}`+"\n")
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "run-9", Pipeline: "p", Target: "t", ObjectKey: "a.jsonl", Path: path, Format: format.JSONL, Schema: sch})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "run-9", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
	c := w.RunCost("run-9")
	if c.Jobs < 3 {
		t.Errorf("cost %+v: want the load, staging and commit jobs", c)
	}
	if _, err := w.EstimateBytes(ctx, "SELECT id FROM t WHERE id > ?", int64(1)); err != nil {
		t.Errorf("dry run: %v", err)
	}
	if w.jobID(jobMeta{run: "r", object: "o", step: "s"}) != w.jobID(jobMeta{run: "r", object: "o", step: "s"}) {
		t.Error("job ids are not deterministic")
	}
	if w.labels(jobMeta{run: "Run 1", pipeline: "Sales"})["shp_run"] != "run_1" {
		t.Errorf("labels %v", w.labels(jobMeta{run: "Run 1", pipeline: "Sales"}))
	}
}
