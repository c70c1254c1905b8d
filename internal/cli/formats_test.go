package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// formatsProject declares a day-first DATE, a dotted DATETIME, a US
// TIMESTAMP with a 12-hour clock and an offset, and a TIME, each with its
// format; the data files go to data/.
func formatsProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	os.WriteFile(filepath.Join(dir, "schema.json"), []byte(`[
  {"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
  {"name": "day", "type": "DATE", "format": "%d/%m/%Y"},
  {"name": "seen", "type": "DATETIME", "format": "%d.%m.%Y %H:%M"},
  {"name": "arrived", "type": "TIMESTAMP", "format": "%m/%d/%Y %I:%M %p %z"},
  {"name": "opens", "type": "TIME", "format": "%Hh%M"}
]`), 0o644)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: formats\ndefaults:\n  max_quarantine_ratio: 0.5\npipelines:\n  events:\n    source: files\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  files:\n    type: file\n    path: data/*\n    schema: schema.json\n"), 0o644)
	// Every strategy may act: none may second-guess a declared format.
	os.WriteFile(filepath.Join(dir, "self_healing.yaml"), []byte(allStage), 0o644)
	return dir
}

// TestDeclaredFormats: a column whose schema declares a format is read
// with it, in CSV and in JSON Lines, for DATE, DATETIME, TIMESTAMP and
// TIME: 03/04/2026 is 3 April because the schema says so, with no
// escalation. ISO 8601 still reads; a value that neither reads is set
// aside with its reason (never NULL), and no strategy guesses another
// layout for the column.
func TestDeclaredFormats(t *testing.T) {
	dir := formatsProject(t)
	writeDay(t, dir, "a.csv", "id,day,seen,arrived,opens\n"+
		"1,03/04/2026,03.04.2026 14:05,04/03/2026 02:30 PM +0200,08h30\n"+
		"2,2026-04-05,2026-04-05 06:00:00,2026-04-05 06:00:00+00,09:15:00\n"+
		"3,04/13/2026,05.04.2026 07:00,04/05/2026 11:00 AM +0000,10h00\n")
	writeDay(t, dir, "b.jsonl", `{"id": 4, "day": "11/12/2026", "seen": "11.12.2026 23:59", "arrived": "12/11/2026 12:00 AM +0100", "opens": "07h45"}`+"\n"+
		`{"id": 5, "day": "01/02/2026", "seen": "01.02.2026 00:01", "arrived": "02/01/2026 01:15 PM -0500", "opens": "23h00"}`+"\n"+
		`{"id": 6, "day": "02/01/2026", "seen": "31.02.2026 10:00", "arrived": "02/01/2026 01:15 PM -0500", "opens": "12h00"}`+"\n")
	code, out, errOut := shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "quarantined 2") {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	got := queryJSON(t, dir, `SELECT string_agg(id || '|' || day || '|' || seen || '|' || strftime(arrived AT TIME ZONE 'UTC', '%Y-%m-%d %H:%M') || '|' || opens, '; ' ORDER BY id) AS r FROM events`)
	want := "1|2026-04-03|2026-04-03 14:05:00|2026-04-03 12:30|08:30:00; " +
		"2|2026-04-05|2026-04-05 06:00:00|2026-04-05 06:00|09:15:00; " +
		"4|2026-12-11|2026-12-11 23:59:00|2026-12-10 23:00|07:45:00; " +
		"5|2026-02-01|2026-02-01 00:01:00|2026-02-01 18:15|23:00:00"
	if fmt.Sprint(got[0]["r"]) != want {
		t.Fatalf("target:\n%v\nwant\n%s", got[0]["r"], want)
	}
	q := queryJSON(t, dir, "SELECT string_agg(reason, ' | ' ORDER BY reason) AS r FROM events__quarantine")
	reasons := fmt.Sprint(q[0]["r"])
	for _, want := range []string{`column day): Could not convert string "04/13/2026"`, `column seen): Could not convert string "31.02.2026 10:00"`} {
		if !strings.Contains(reasons, want) {
			t.Errorf("quarantine reasons %q lack %q", reasons, want)
		}
	}
	for _, a := range actions(t, dir) {
		if a.Strategy == "parse_date_format" || a.Strategy == "parse_epoch" || a.Strategy == "widen_type" {
			t.Errorf("a strategy second-guessed a declared format: %+v", a)
		}
	}

	// shp validate reads the file with the schema's formats too.
	suite := filepath.Join(dir, "suite.json")
	os.WriteFile(suite, []byte(`{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "day"}}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "ok.csv"), []byte("id,day,seen,arrived,opens\n1,03/04/2026,03.04.2026 14:05,04/03/2026 02:30 PM +0200,08h30\n"), 0o644)
	if code, out, errOut := shp(t, "validate", "--data", filepath.Join(dir, "ok.csv"), "--schema", filepath.Join(dir, "schema.json"), "--suite", suite); code != 0 || !strings.Contains(out, `"success": true`) {
		t.Fatalf("validate: %d %s %s", code, out, errOut)
	}
}

// TestDeclaredFormatErrors: shp config validate names the field of a
// format that cannot read its column.
func TestDeclaredFormatErrors(t *testing.T) {
	dir := formatsProject(t)
	os.WriteFile(filepath.Join(dir, "schema.json"), []byte(`[{"name": "id", "type": "INTEGER"}, {"name": "day", "type": "DATE", "format": "%d/%m"}]`), 0o644)
	code, _, errOut := shp(t, "config", "validate", dir)
	if want := `field 2 "day": format "%d/%m" does not read a whole date`; code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("config validate: %d %s, want %s", code, errOut, want)
	}
}
