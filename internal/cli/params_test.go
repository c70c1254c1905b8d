package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTriggerChecksParameters: shp trigger refuses, before anything runs,
// a parameter that would climb out of a path's folder, one the source
// does not declare and one not of its declared type.
func TestTriggerChecksParameters(t *testing.T) {
	dir := dailyProject(t)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(`sources:
  daily:
    type: file
    path: data/{{ds}}/*.csv
  picked:
    type: file
    path: data/{{params.day}}/*.csv
    parameters:
      day: date
`), 0o644)
	for _, tc := range []struct{ param, want string }{
		{"day=..", `parameter day must be a date YYYY-MM-DD (date), got ".."`},
		{"day=2026-01-02/..", `parameter day must be a date YYYY-MM-DD (date), got "2026-01-02/.."`},
		{"region=eu", "parameter region is not declared by source picked (declared: day)"},
	} {
		code, _, errOut := shp(t, "trigger", "adhoc", "--config", dir, "--param", tc.param)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: %d %s", tc.param, code, errOut)
		}
	}
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  daily:\n    type: file\n    path: data/{{ds}}/*.csv\n"+
		"  picked:\n    type: file\n    path: data/{{params.day}}/*.csv\n"), 0o644)
	if code, _, errOut := shp(t, "trigger", "adhoc", "--config", dir, "--param", "day=.."); code != 2 ||
		!strings.Contains(errOut, `parameter day is "..", which would climb out of its folder`) {
		t.Errorf("undeclared ..: %d %s", code, errOut)
	}
	if code, out, errOut := shp(t, "trigger", "adhoc", "--config", dir, "--param", "day=2026-01-02"); code != 0 || !strings.Contains(out, "succeeded") {
		t.Errorf("good day: %d %s %s", code, out, errOut)
	}
}
