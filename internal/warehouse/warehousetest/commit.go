package warehousetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// simpleSchema is the schema of the commit fixtures.
const simpleSchema = `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT64"}]`

// object is a CSV object to stage.
type object struct {
	run, pipeline, target, name, body string
	key                               []string
	sch                               schema.Schema // simpleSchema when nil
}

// stageObject writes o into a fresh folder and stages it.
func stageObject(t *testing.T, w warehouse.Warehouse, o object) *warehouse.Staged {
	t.Helper()
	if o.sch == nil {
		o.sch = mustSchema(t, simpleSchema)
	}
	path := writeFile(t, t.TempDir(), o.name, []byte(o.body))
	return stage(t, w, warehouse.LoadSpec{RunID: o.run, Pipeline: o.pipeline, Target: o.target, ObjectKey: o.name,
		Fingerprint: "fp-" + o.name, Path: path, Format: format.CSV, Schema: o.sch, Key: o.key})
}

// rowsOf renders a target's id, name and amount, ordered by id.
func rowsOf(t *testing.T, w warehouse.Warehouse, target string) string {
	t.Helper()
	return strings.Join(lines(t, w, "SELECT {id}, {name}, {amount} FROM {"+target+"} ORDER BY {id}, {name}"), ",")
}

// testCommit checks the write modes.
func (s *suite) testCommit(t *testing.T) {
	s.run(t, "append", func(t *testing.T) {
		w := s.fresh(t)
		a := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1.5\n2,b,x\n3,c,3\n"})
		b := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n4,d,4\n,e,5\n"})
		res := appendTo(t, w, "r1", "p", "t", a, b)
		if res.Inserted != 3 || res.Quarantined != 2 || res.Updated != 0 || res.Deduplicated != 0 {
			t.Errorf("result %+v, want 3 inserted and 2 set aside", *res)
		}
		for _, st := range []*warehouse.Staged{a, b} {
			if _, err := tryQuery(w, "SELECT count(*) FROM {"+st.Table+"}"); err == nil {
				t.Errorf("the commit left the staging table %s", st.Table)
			}
		}
		if got := rowsOf(t, w, "t"); got != "1|a|1.5,3|c|3,4|d|4" {
			t.Errorf("target %s", got)
		}
		q := quarantine(t, w, "r1", "t")
		if len(q) != 2 || q[0].Object != "a.csv" || q[0].Line != 3 || q[1].Object != "b.csv" || !strings.Contains(q[1].Reason, `"id"`) {
			t.Errorf("set aside %v, want a.csv:3 then b.csv's NULL id (ordered by object and line)", q)
		}
		c := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "c.csv", body: "id,name,amount\n1,a,1.5\n"})
		if res := appendTo(t, w, "r2", "p", "t", c); res.Inserted != 1 {
			t.Errorf("second append inserted %d", res.Inserted)
		}
		if got := rowsOf(t, w, "t"); got != "1|a|1.5,1|a|1.5,3|c|3,4|d|4" {
			t.Errorf("an append keeps what the target holds: %s", got)
		}
	})
	s.run(t, "replace", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n2,b,2\n3,c,3\n"}))
		a := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n5,e,5\n"})
		b := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "c.csv", body: "id,name,amount\n6,f,6\n7,g,y\n"})
		res := commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeReplace, Objects: []*warehouse.Staged{a, b}})
		if res.Inserted != 2 || res.Quarantined != 1 {
			t.Errorf("result %+v, want 2 inserted and 1 set aside", *res)
		}
		if got := rowsOf(t, w, "t"); got != "5|e|5,6|f|6" {
			t.Errorf("a replace leaves the batch's rows only: %s", got)
		}
	})
	s.run(t, "merge", func(t *testing.T) {
		w := s.fresh(t)
		key := []string{"id"}
		merge := func(run string, objects ...*warehouse.Staged) *warehouse.CommitResult {
			return commit(t, w, warehouse.CommitSpec{RunID: run, Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: key, Objects: objects})
		}
		first := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", key: key, body: "id,name,amount\n1,a,1\n2,b,2\n3,c,3\n"})
		if res := merge("r1", first); res.Inserted != 3 || res.Updated != 0 {
			t.Errorf("a merge into a new target: %+v", *res)
		}
		// Within the batch the later object, and the later line, wins.
		a := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", key: key, body: "id,name,amount\n2,a2,20\n4,a4,40\n"})
		b := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "c.csv", key: key, body: "id,name,amount\n2,b2,21\n4,b4,41\n4,b4x,42\n"})
		res := merge("r2", a, b)
		if res.Inserted != 1 || res.Updated != 1 || res.Deduplicated != 3 || len(res.Kept) != 0 {
			t.Errorf("result %+v, want 1 inserted (4), 1 updated (2), 3 de-duplicated", *res)
		}
		if got := rowsOf(t, w, "t"); got != "1|a|1,2|b2|21,3|c|3,4|b4x|42" {
			t.Errorf("target %s", got)
		}
		// An object without the amount column keeps the target's
		// amounts for the keys it replaces; a new key reads NULL.
		c := stageObject(t, w, object{run: "r3", pipeline: "p", target: "t", name: "d.csv", key: key, body: "id,name\n1,a1\n5,e\n"})
		if strings.Join(c.Missing, ",") != "amount" {
			t.Errorf("missing %v, want amount", c.Missing)
		}
		res = merge("r3", c)
		if res.Inserted != 1 || res.Updated != 1 || res.Kept["amount"] != 1 || len(res.Kept) != 1 {
			t.Errorf("result %+v, want amount kept for 1 row", *res)
		}
		if got := rowsOf(t, w, "t"); got != "1|a1|1,2|b2|21,3|c|3,4|b4x|42,5|e|NULL" {
			t.Errorf("target %s", got)
		}
	})
	s.run(t, "merge on a NULL key", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64"}, {"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT64"}]`)
		st := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", key: []string{"id"}, sch: sch, body: "id,name,amount\n1,a,1\n,b,2\n"})
		if st.Loaded != 1 || st.Quarantined != 1 {
			t.Fatalf("staged %d, set aside %d; a NULL merge key is set aside", st.Loaded, st.Quarantined)
		}
		commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: []string{"id"}, Objects: []*warehouse.Staged{st}})
		if q := quarantine(t, w, "r1", "t"); len(q) != 1 || !strings.Contains(q[0].Reason, `"id"`) || !strings.Contains(strings.ToLower(q[0].Reason), "null") {
			t.Errorf("set aside %v, want the NULL key with its reason", q)
		}
	})
	s.run(t, "merge on a compound key", func(t *testing.T) {
		w := s.fresh(t)
		sch := mustSchema(t, `[{"name": "id", "type": "INT64"}, {"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT64"}]`)
		key := []string{"id", "name"}
		for i, body := range []string{"id,name,amount\n1,eu,1\n1,us,2\n", "id,name,amount\n1,eu,10\n2,eu,20\n"} {
			run := fmt.Sprint("r", i)
			st := stageObject(t, w, object{run: run, pipeline: "p", target: "t", name: run + ".csv", key: key, sch: sch, body: body})
			res := commit(t, w, warehouse.CommitSpec{RunID: run, Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: key, Objects: []*warehouse.Staged{st}})
			if i == 1 && (res.Inserted != 1 || res.Updated != 1) {
				t.Errorf("result %+v, want 1 inserted and 1 updated", *res)
			}
		}
		if got := rowsOf(t, w, "t"); got != "1|eu|10,1|us|2,2|eu|20" {
			t.Errorf("target %s", got)
		}
	})
	s.run(t, "full refresh", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n2,b,x\n"}))
		st := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n3,c,3\n"})
		commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Rebuild: true, Objects: []*warehouse.Staged{st}})
		if got := rowsOf(t, w, "t"); got != "3|c|3" {
			t.Errorf("target %s, want what the refresh loaded only", got)
		}
		if got := ledgerKeys(t, w, "p"); got != "b.csv" {
			t.Errorf("ledger %s, want b.csv only", got)
		}
		if q := quarantine(t, w, "r1", "t"); len(q) != 0 {
			t.Errorf("the refresh left the earlier run's rows set aside: %v", q)
		}
	})
	s.run(t, "refused", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n"}))
		for _, c := range []struct {
			name string
			spec warehouse.CommitSpec
		}{
			{"unknown mode", warehouse.CommitSpec{Mode: "upsert"}},
			{"merge without a key", warehouse.CommitSpec{Mode: warehouse.ModeMerge}},
			{"merge on a column the target lacks", warehouse.CommitSpec{Mode: warehouse.ModeMerge, Key: []string{"nope"}}},
		} {
			st := stageObject(t, w, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n2,b,2\n3,c,z\n"})
			c.spec.RunID, c.spec.Pipeline, c.spec.Target, c.spec.Objects = "r2", "p", "t", []*warehouse.Staged{st}
			if _, err := w.Commit(ctx, c.spec); err == nil {
				t.Errorf("%s: committed", c.name)
			}
			if got := rowsOf(t, w, "t"); got != "1|a|1" {
				t.Errorf("%s: target %s", c.name, got)
			}
			if got := ledgerKeys(t, w, "p"); got != "a.csv" {
				t.Errorf("%s: ledger %s", c.name, got)
			}
			if q := quarantine(t, w, "r2", "t"); len(q) != 0 {
				t.Errorf("%s: set aside %v", c.name, q)
			}
		}
	})
}

// testLedger checks that the load ledger is written with the rows.
func (s *suite) testLedger(t *testing.T) {
	s.run(t, "a failed commit leaves no trace", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n"}))
		// The first object adds a column; the second declares amount as
		// text, which the target's FLOAT64 column cannot take.
		withCity := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING"}, {"name": "amount", "type": "FLOAT64"}, {"name": "city", "type": "STRING"}]`)
		asText := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "name", "type": "STRING"}, {"name": "amount", "type": "STRING"}]`)
		stageBoth := func(run string, sch schema.Schema, amount string) []*warehouse.Staged {
			return []*warehouse.Staged{
				stageObject(t, w, object{run: run, pipeline: "p", target: "t", name: "b.csv", sch: withCity, body: "id,name,amount,city\n2,b,2,Köln\n,x,0,y\n"}),
				stageObject(t, w, object{run: run, pipeline: "p", target: "t", name: "c.csv", sch: sch, body: "id,name,amount\n3,c," + amount + "\n"}),
			}
		}
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend,
			Objects: stageBoth("r2", asText, "lots")}); err == nil {
			t.Fatal(`a commit put the text "lots" in a FLOAT64 column`)
		}
		if got := rowsOf(t, w, "t"); got != "1|a|1" {
			t.Errorf("target %s after a failed commit", got)
		}
		if got := ledgerKeys(t, w, "p"); got != "a.csv" {
			t.Errorf("ledger %s after a failed commit", got)
		}
		if q := quarantine(t, w, "r2", "t"); len(q) != 0 {
			t.Errorf("a failed commit set rows aside: %v", q)
		}
		sch, err := w.TargetSchema(ctx, "t")
		if err != nil || len(sch) != 3 {
			t.Errorf("target schema %v (%v) after a failed commit, want its 3 columns", sch, err)
		}
		// Staged again, as the next run does, the batch commits whole.
		res := appendTo(t, w, "r3", "p", "t", stageBoth("r3", mustSchema(t, simpleSchema), "3")...)
		if res.Inserted != 2 || res.Quarantined != 1 {
			t.Errorf("result %+v", *res)
		}
		if got := rowsOf(t, w, "t"); got != "1|a|1,2|b|2,3|c|3" {
			t.Errorf("target %s", got)
		}
		if got := ledgerKeys(t, w, "p"); got != "a.csv,b.csv,c.csv" {
			t.Errorf("ledger %s", got)
		}
	})
	s.run(t, "entries", func(t *testing.T) {
		w := s.fresh(t)
		if got := ledger(t, w, "p"); len(got) != 0 {
			t.Errorf("a new warehouse's ledger: %v", got)
		}
		path := writeFile(t, t.TempDir(), "a.csv", []byte("id,name,amount\n1,a,1\n2,b,2\n"))
		spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "in/a.csv", Fingerprint: "size=20 gen=7",
			ContentHash: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", Path: path, Format: format.CSV, Schema: mustSchema(t, simpleSchema)}
		appendTo(t, w, "r1", "p", "t", stage(t, w, spec))
		other := spec
		other.Pipeline, other.Target, other.ObjectKey, other.ContentHash, other.Fingerprint = "q", "u", "in/b.csv", "", "fp-b"
		appendTo(t, w, "r1", "q", "u", stage(t, w, other))
		if got := ledger(t, w, "p"); len(got) != 1 || got[0] != (warehouse.LoadedObject{Key: "in/a.csv", Fingerprint: "size=20 gen=7", RunID: "r1", ContentHash: spec.ContentHash}) {
			t.Errorf("ledger of p: %+v", got)
		}
		if got := ledger(t, w, "q"); len(got) != 1 || got[0] != (warehouse.LoadedObject{Key: "in/b.csv", Fingerprint: "fp-b", RunID: "r1"}) {
			t.Errorf("ledger of q: %+v", got)
		}
		// Merged again, the same object changes no row.
		before := rowsOf(t, w, "t")
		spec.RunID, spec.Key = "r2", []string{"id"}
		res := commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: spec.Key, Objects: []*warehouse.Staged{stage(t, w, spec)}})
		if res.Inserted != 0 || res.Updated != 2 {
			t.Errorf("result %+v, want the 2 rows replaced by themselves", *res)
		}
		if after := rowsOf(t, w, "t"); after != before || before != "1|a|1,2|b|2" {
			t.Errorf("target %s, then %s", before, after)
		}
		found := false
		for _, o := range ledger(t, w, "p") {
			found = found || (o.Key == "in/a.csv" && o.RunID == "r2")
		}
		if !found {
			t.Errorf("ledger %+v lacks the second commit of in/a.csv", ledger(t, w, "p"))
		}
	})
}

// testCrash checks that a warehouse opened after a crash drops what the
// dead one left staged and keeps what it committed.
func (s *suite) testCrash(t *testing.T) {
	s.run(t, "leftover staging", func(t *testing.T) {
		key := s.key()
		first := s.open(t, key)
		appendTo(t, first, "r1", "p", "t", stageObject(t, first, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,1\n2,b,x\n"}))
		left := stageObject(t, first, object{run: "r2", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n3,c,3\n4,d,y\n"})
		if _, err := tryQuery(first, "SELECT count(*) FROM {"+left.Table+"}"); err != nil {
			t.Fatalf("the staged rows are not visible to RunQuery: %v", err)
		}
		// The process dies before its commit.
		if err := first.Close(); err != nil {
			t.Fatal(err)
		}
		second := s.open(t, key)
		if err := second.DropStaging(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := tryQuery(second, "SELECT count(*) FROM {"+left.Table+"}"); err == nil {
			t.Errorf("the staging table %s outlived DropStaging", left.Table)
		}
		if got := rowsOf(t, second, "t"); got != "1|a|1" {
			t.Errorf("target %s after the crash", got)
		}
		if got := ledgerKeys(t, second, "p"); got != "a.csv" {
			t.Errorf("ledger %s after the crash", got)
		}
		if q := quarantine(t, second, "r1", "t"); len(q) != 1 {
			t.Errorf("the committed run's set-aside rows: %v", q)
		}
		// The next run loads the object again, once.
		appendTo(t, second, "r3", "p", "t", stageObject(t, second, object{run: "r3", pipeline: "p", target: "t", name: "b.csv", body: "id,name,amount\n3,c,3\n4,d,y\n"}))
		if got := rowsOf(t, second, "t"); got != "1|a|1,3|c|3" {
			t.Errorf("target %s", got)
		}
		if got := ledgerKeys(t, second, "p"); got != "a.csv,b.csv" {
			t.Errorf("ledger %s", got)
		}
		if err := second.DropStaging(ctx); err != nil {
			t.Fatal(err)
		}
		if got := rowsOf(t, second, "t"); got != "1|a|1,3|c|3" {
			t.Errorf("DropStaging changed the target: %s", got)
		}
	})
}

// testQuarantine checks QuarantineWhere and what QuarantinedRows reads.
func (s *suite) testQuarantine(t *testing.T) {
	s.run(t, "where", func(t *testing.T) {
		w := s.fresh(t)
		st := stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,5\n2,b,50\n3,c,500\n4,d,x\n"})
		d := w.Dialect()
		n, err := w.QuarantineWhere(ctx, st, d.Ident("amount")+" > "+d.Placeholder(1), []any{10.0}, "amount over 10")
		if err != nil || n != 2 {
			t.Fatalf("set aside %d, %v; want 2", n, err)
		}
		if st.Loaded != 1 || st.Quarantined != 3 {
			t.Errorf("counts %d and %d, want 1 staged and 3 set aside", st.Loaded, st.Quarantined)
		}
		if n, err := w.QuarantineWhere(ctx, st, d.Ident("name")+" = "+d.Placeholder(1), []any{"nobody"}, "none"); err != nil || n != 0 {
			t.Errorf("a predicate no row meets: %d, %v", n, err)
		}
		appendTo(t, w, "r1", "p", "t", st)
		if got := rowsOf(t, w, "t"); got != "1|a|5" {
			t.Errorf("target %s", got)
		}
		var reasons []string
		for _, r := range quarantine(t, w, "r1", "t") {
			if r.Reason == "amount over 10" && !(strings.Contains(r.Raw, `"b"`) || strings.Contains(r.Raw, `"c"`)) {
				t.Errorf("raw %q is not the row", r.Raw)
			}
			reasons = append(reasons, r.Reason)
		}
		if len(reasons) != 3 || strings.Count(strings.Join(reasons, "|"), "amount over 10") != 2 {
			t.Errorf("reasons %q", reasons)
		}
	})
	s.run(t, "nothing set aside", func(t *testing.T) {
		w := s.fresh(t)
		appendTo(t, w, "r1", "p", "t", stageObject(t, w, object{run: "r1", pipeline: "p", target: "t", name: "a.csv", body: "id,name,amount\n1,a,5\n"}))
		if q := quarantine(t, w, "r1", "t"); len(q) != 0 {
			t.Errorf("set aside %v", q)
		}
		if q := quarantine(t, w, "r1", ""); len(q) != 0 {
			t.Errorf("kept by SetAside %v", q)
		}
	})
}
