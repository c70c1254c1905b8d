package cli

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestCommittedRunQuarantine: `runs show --quarantine` reads a committed
// run's set-aside rows from its target's quarantine table.
func TestCommittedRunQuarantine(t *testing.T) {
	dir := eventsProject(t, "")
	writeDay(t, dir, "d1.csv", "id,day,seen_at,amount,city\n1,2026-11-01,2026-11-01 08:00:00,bad,Bern\n2,2026-11-02,2026-11-02 08:00:00,2,Chur\n3,2026-11-03,2026-11-03 08:00:00,3,Genf\n")
	if code, out, errOut := shp(t, "run", "--config", dir); code != ExitOK {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	_, out, _ := shp(t, "runs", "--config", dir, "--format", "json")
	var runs []struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil || len(runs) != 1 {
		t.Fatalf("runs: %s", out)
	}
	code, out, _ := shp(t, "runs", "show", runs[0].ID, "--config", dir, "--quarantine", "--format", "csv")
	if code != ExitOK || !strings.HasPrefix(out, "source_object,line,reason,raw,state\n") || strings.Count(out, ",committed\n") != 1 ||
		!strings.Contains(out, "d1.csv,2,") || !strings.Contains(out, "bad") {
		t.Fatalf("runs show --quarantine: %d %s", code, out)
	}
}
