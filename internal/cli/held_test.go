package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestHeldRunIsNotFailed: a run held for approval ends with status held
// and its own exit code; it committed nothing and says so (its invariant
// holds, its rows are staged, not loaded), its set-aside rows can be
// read, and `shp runs --status held` finds it. Approved, the next run
// commits and the kept rows move to the quarantine.
func TestHeldRunIsNotFailed(t *testing.T) {
	for _, c := range []struct {
		name, header string
	}{
		{"a suspected rename", "id,day,seen_at,amount,town"},
		{"a rename among new columns", "id,day,seen_at,amount,city_name,channel"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := eventsProject(t, allStage)
			body := c.header + "\n1,2026-11-01,2026-11-01 08:00:00,1,Bern" + strings.Repeat(",x", strings.Count(c.header, ",")-4) +
				"\n2,2026-11-02,2026-11-02 08:00:00,oops,Chur" + strings.Repeat(",x", strings.Count(c.header, ",")-4) + "\n"
			writeDay(t, dir, "d1.csv", body)
			code, out, errOut := shp(t, "run", "--config", dir, "--format", "json")
			if code != ExitHeld || !strings.Contains(errOut, "commit held for approval") {
				t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
			}
			var res []resultJSON
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.Status != "held" || r.Committed || !r.InvariantOK || r.Loaded != 0 || r.SetAside != 1 ||
				r.Objects[0].Loaded != 0 || r.Objects[0].Staged != 1 || r.Objects[0].Quarantined != 1 {
				t.Fatalf("held run: %+v", r)
			}
			code, out, _ = shp(t, "runs", "--config", dir, "--status", "held", "--format", "json")
			if code != 0 || !strings.Contains(out, r.RunID) {
				t.Fatalf("runs --status held: %d %s", code, out)
			}
			code, out, _ = shp(t, "runs", "show", r.RunID, "--config", dir, "--quarantine", "--format", "csv")
			if code != 0 || !strings.Contains(out, `d1.csv,3,`) || !strings.Contains(out, "oops") || !strings.Contains(out, "not committed") {
				t.Fatalf("runs show --quarantine: %d %s", code, out)
			}
			id := awaitProposal(t, dir, "rename_column")
			if code, out, errOut := shp(t, "healing", "approve", fmt.Sprint(id), "--config", dir); code != 0 {
				t.Fatalf("approve: %d %s %s", code, out, errOut)
			}
			code, out, errOut = shp(t, "run", "--config", dir, "--format", "json")
			if code != 0 {
				t.Fatalf("run after the approval: %d %s %s", code, out, errOut)
			}
			if err := json.Unmarshal([]byte(out), &res); err != nil || !res[0].Committed || res[0].Loaded != 1 || res[0].Quarantined != 1 {
				t.Fatalf("run after the approval: %s", out)
			}
			kept := queryJSON(t, dir, "SELECT count(*) AS n FROM _shp.set_aside")
			q := queryJSON(t, dir, "SELECT count(*) AS n FROM events__quarantine")
			if fmt.Sprint(kept[0]["n"]) != "0" || fmt.Sprint(q[0]["n"]) != "1" {
				t.Fatalf("after the commit: %v set aside, %v quarantined", kept, q)
			}
			if got := queryJSON(t, dir, "SELECT city FROM events"); fmt.Sprint(got[0]["city"]) != "Bern" {
				t.Fatalf("target: %v", got)
			}
		})
	}
}

// TestFailedBatchRowsAreVisible: a run that fails on max_quarantine_ratio
// commits nothing, yet the rows it set aside can be read with the run.
func TestFailedBatchRowsAreVisible(t *testing.T) {
	dir := eventsProject(t, allStage)
	writeDay(t, dir, "d1.csv", "id,day,seen_at,amount,city\n1,2026-11-01,2026-11-01 08:00:00,bad,Bern\n2,2026-11-02,2026-11-02 08:00:00,worse,Chur\n3,2026-11-03,2026-11-03 08:00:00,3,Genf\n")
	code, out, errOut := shp(t, "run", "--config", dir)
	if code != ExitFailed || !strings.Contains(errOut, "nothing was committed") || !strings.Contains(out, "2 row(s) set aside are kept with the run") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	code, out, _ = shp(t, "runs", "--config", dir, "--format", "json")
	var runs []struct {
		ID        string `json:"id"`
		Status    string `json:"status"`
		Invariant bool   `json:"invariant_ok"`
		Loaded    int64  `json:"rows_loaded"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 || runs[0].Status != "failed" || !runs[0].Invariant || runs[0].Loaded != 0 {
		t.Fatalf("runs: %d %s", code, out)
	}
	code, out, _ = shp(t, "runs", "show", runs[0].ID, "--config", dir, "--quarantine", "--format", "json")
	if code != 0 || strings.Count(out, "not committed") != 2 || !strings.Contains(out, "worse") {
		t.Fatalf("runs show --quarantine: %d %s", code, out)
	}
}
