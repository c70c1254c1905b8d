package cli

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMergeCorrectionsAreNotQuarantined: in a merge pipeline, a later
// line for a key is a correction: a uniqueness rule on exactly the key is
// met by the merge (de-duplicated, the later line wins), while the same
// rule in an append pipeline, or a uniqueness rule on another column,
// still sets the rows aside.
func TestMergeCorrectionsAreNotQuarantined(t *testing.T) {
	cases := []struct {
		name, mode, key, rule string
		wantLoaded, wantQ     int64
		wantDedup             int64
		wantAmount            string // amount of id 1 in the target; "" when both rows are set aside
	}{
		{"unique key in a merge", "merge", "[id]", "{expectation: expect_column_values_to_be_unique, kwargs: {column: id}, action: quarantine}", 2, 0, 1, "9.00"},
		{"unique key, default action", "merge", "[id]", "{expectation: expect_column_values_to_be_unique, kwargs: {column: id}}", 2, 0, 1, "9.00"},
		{"compound key in a merge", "merge", "[id, city]", "{expectation: expect_compound_columns_to_be_unique, kwargs: {column_list: [city, id]}, action: quarantine}", 2, 0, 1, "9.00"},
		{"unique on another column", "merge", "[id]", "{expectation: expect_column_values_to_be_unique, kwargs: {column: seen_at}, action: quarantine}", 1, 2, 0, ""},
		{"unique key in an append", "append", "", "{expectation: expect_column_values_to_be_unique, kwargs: {column: id}, action: quarantine}", 1, 2, 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := eventsProject(t, allStage)
			cfg := "project: ev\ndefaults:\n  max_quarantine_ratio: 0.9\npipelines:\n  events:\n    source: files\n    mode: " + c.mode + "\n"
			if c.key != "" {
				cfg += "    key: " + c.key + "\n"
			}
			os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(cfg), 0o644)
			os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte("pipelines:\n  events:\n    rules:\n      - "+c.rule+"\n"), 0o644)
			writeDay(t, dir, "d1.csv", "id,day,seen_at,amount,city\n1,2026-11-01,2026-11-01 08:00:00,2,Bern\n2,2026-11-01,2026-11-01 09:00:00,3,Chur\n"+
				"1,2026-11-01,2026-11-01 08:00:00,9,Bern\n")
			code, out, errOut := shp(t, "run", "--config", dir, "--format", "json")
			if code != 0 {
				t.Fatalf("run: %d %s %s", code, out, errOut)
			}
			var res []resultJSON
			if err := json.Unmarshal([]byte(out), &res); err != nil {
				t.Fatal(err)
			}
			r := res[0]
			if r.Loaded != c.wantLoaded || r.Quarantined != c.wantQ || r.Deduplicated != c.wantDedup || !r.InvariantOK {
				t.Fatalf("loaded %d quarantined %d de-duplicated %d, want %d %d %d", r.Loaded, r.Quarantined, r.Deduplicated, c.wantLoaded, c.wantQ, c.wantDedup)
			}
			got := queryJSON(t, dir, "SELECT CAST(amount AS VARCHAR) AS a FROM events WHERE id = 1")
			if c.wantAmount == "" && len(got) != 0 || c.wantAmount != "" && (len(got) != 1 || fmt.Sprint(got[0]["a"]) != c.wantAmount) {
				t.Fatalf("id 1: %v, want %s", got, c.wantAmount)
			}
			if c.wantDedup > 0 {
				q := queryJSON(t, dir, "SELECT CAST(result AS VARCHAR) AS r FROM _shp.quality_results")
				if len(q) != 1 || !strings.Contains(fmt.Sprint(q[0]["r"]), "de-duplicated by the merge") {
					t.Fatalf("the rule's recorded result does not say the merge resolved it: %v", q)
				}
			}
		})
	}
}

// TestFailedRulesAreIssues: a rule that fails with no repair (a column
// entirely NULL) and rows set aside with no repair are recorded as
// escalated issues with a diagnosis; the same issue on the next run
// counts on the open action instead of adding another.
func TestFailedRulesAreIssues(t *testing.T) {
	dir := eventsProject(t, allStage)
	os.WriteFile(filepath.Join(dir, "quality_rules.yaml"), []byte("pipelines:\n  events:\n    rules:\n"+
		"      - {expectation: expect_column_values_to_not_be_null, kwargs: {column: city}, action: warn}\n"), 0o644)
	for i, day := range []string{"d1.csv", "d2.csv"} {
		writeDay(t, dir, day, fmt.Sprintf("id,day,seen_at,amount,city\n%d,2026-11-01,2026-11-01 08:00:00,2,\n%d,2026-11-02,someday,3,\n", 2*i+1, 2*i+2))
		if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
			t.Fatalf("run %d: %d %s %s", i, code, out, errOut)
		}
	}
	var rule, rows []actionWithID
	for _, a := range actionsWithID(t, dir) {
		switch a.Strategy {
		case "report_rule_failure":
			rule = append(rule, a)
		case "report_quarantine":
			rows = append(rows, a)
		}
	}
	if len(rule) != 1 || rule[0].Status != "escalated" || rule[0].Category == "" || rule[0].Confidence <= 0 {
		t.Fatalf("rule failures: %+v", rule)
	}
	if len(rows) != 1 || rows[0].Status != "escalated" || rows[0].Category == "" {
		t.Fatalf("rows set aside: %+v", rows)
	}
	code, out, _ := shp(t, "healing", "actions", "--config", dir, "--format", "json")
	var views []struct {
		Strategy    string `json:"strategy"`
		Occurrences int    `json:"occurrences"`
		LastSeenAt  string `json:"last_seen_at"`
	}
	if err := json.Unmarshal([]byte(out), &views); code != 0 || err != nil {
		t.Fatalf("actions: %d %s", code, out)
	}
	for _, v := range views {
		if (v.Strategy == "report_rule_failure" || v.Strategy == "report_quarantine") && (v.Occurrences != 2 || v.LastSeenAt == "") {
			t.Fatalf("%s seen %d times (last %q), want 2", v.Strategy, v.Occurrences, v.LastSeenAt)
		}
	}
}
