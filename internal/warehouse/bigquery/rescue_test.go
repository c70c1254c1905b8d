package bigquery

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestRescueRevertCopies checks what the conformance suite does not: a
// revert takes out exactly the copies a stage repair rescued when the
// target holds identical rows that loaded otherwise, refuses (and changes
// nothing) once a rescued row is gone, and a rescued row whose key the
// target holds is not kept.
func TestRescueRevertCopies(t *testing.T) {
	ctx := context.Background()
	w := openTest(t, freshKey())
	sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "day", "type": "DATE"}]`)
	stage := func(spec warehouse.LoadSpec) *warehouse.Staged {
		t.Helper()
		st, err := w.Stage(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	commit := func(run string, st *warehouse.Staged) {
		t.Helper()
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: run, Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}}); err != nil {
			t.Fatal(err)
		}
	}
	// A row that loaded before, identical to the two the repair rescues.
	other := stage(warehouse.LoadSpec{RunID: "r0", Pipeline: "p", Target: "t", ObjectKey: "o.csv", Path: writeFile(t, "o.csv", "id,day\n2,2026-11-27\n"),
		Format: format.CSV, Schema: sch})
	commit("r0", other)

	spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "d.csv",
		Path: writeFile(t, "d.csv", "id,day\n1,2026-11-02\n2,27/11/2026\n2,27/11/2026\n"), Format: format.CSV, Schema: sch}
	before := stage(spec)
	repaired := spec.Clone()
	repaired.Parse = map[string]warehouse.ColumnParse{"day": {Layouts: []string{"%d/%m/%Y"}}}
	after := stage(repaired)
	if before.Quarantined != 2 || after.Quarantined != 0 || after.Loaded != 3 {
		t.Fatalf("before: %d set aside; after: %d staged, %d set aside", before.Quarantined, after.Loaded, after.Quarantined)
	}
	keyed := spec.Clone()
	keyed.Key = []string{"id"}
	if r, err := w.KeepRescued(ctx, keyed, before, after); err != nil || !r.ReplacesKeys || r.Token != "" {
		t.Fatalf("keep rescued with id 2 in the target: %+v, %v; want ReplacesKeys and nothing kept", r, err)
	}
	rescue, err := w.KeepRescued(ctx, spec, before, after)
	if err != nil || rescue.Token == "" || rescue.ReplacesKeys {
		t.Fatalf("keep rescued: %+v, %v", rescue, err)
	}
	if err := w.Discard(ctx, before); err != nil {
		t.Fatal(err)
	}
	commit("r1", after)
	target := func() string {
		return strings.Join(lines(t, w, "SELECT id, CAST(day AS STRING) FROM t ORDER BY id"), ",")
	}
	if got := target(); got != "1|2026-11-02,2|2026-11-27,2|2026-11-27,2|2026-11-27" {
		t.Fatalf("target %s", got)
	}
	revert := warehouse.RevertSpec{Kind: warehouse.RevertRescue, Target: "t", Token: rescue.Token, RowColumns: rescue.RowColumns,
		RunID: "r2", Pipeline: "p", ObjectKey: "d.csv", Note: "; reverted"}
	n, err := w.RevertRepair(ctx, revert)
	if err != nil || n != 2 {
		t.Fatalf("revert: %d, %v; want 2 rows", n, err)
	}
	if got := target(); got != "1|2026-11-02,2|2026-11-27" {
		t.Errorf("after the revert, target %s; want the row that loaded before and row 1", got)
	}
	back := "SELECT line, reason FROM t" + warehouse.QuarantineSuffix + " WHERE run_id = 'r2' ORDER BY line"
	q := lines(t, w, back)
	if len(q) != 2 || !strings.HasPrefix(q[0], "3|") || !strings.HasPrefix(q[1], "4|") || !strings.HasSuffix(q[1], "; reverted") {
		t.Fatalf("set aside again %v", q)
	}

	// Reverted again, the target holds one of the two rows: refused,
	// nothing changed.
	_, err = w.RevertRepair(ctx, revert)
	var changed *warehouse.ChangedSinceError
	if !errors.As(err, &changed) || changed.Changed != 1 || changed.Kept != 2 {
		t.Fatalf("revert again: %v; want a ChangedSinceError for 1 of 2 rows", err)
	}
	if got := target(); got != "1|2026-11-02,2|2026-11-27" {
		t.Errorf("a refused revert changed the target: %s", got)
	}
	if got := lines(t, w, back); len(got) != 2 {
		t.Errorf("a refused revert set aside %v", got)
	}
}
