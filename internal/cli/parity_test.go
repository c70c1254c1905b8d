package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAPIParityCommands: what the API reads and writes for pipelines,
// quality and healing the CLI does too, through the same service.
func TestAPIParityCommands(t *testing.T) {
	dir := initProject(t)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	code, out, _ := shp(t, "pipelines", "list", "--config", dir)
	if code != 0 || !strings.Contains(out, "sales") || !strings.Contains(out, "succeeded") {
		t.Fatalf("pipelines list: %d %s", code, out)
	}
	code, out, _ = shp(t, "pipelines", "show", "sales", "--config", dir)
	var p struct {
		LastRun struct {
			Status string `json:"status"`
		} `json:"last_run"`
		Quality struct {
			Rules []string `json:"rules"`
		} `json:"quality"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &p) != nil || p.LastRun.Status != "succeeded" || len(p.Quality.Rules) == 0 {
		t.Fatalf("pipelines show: %d %s", code, out)
	}
	if code, _, errOut := shp(t, "pipelines", "show", "nope", "--config", dir); code != 2 || !strings.Contains(errOut, "not found") {
		t.Fatalf("an unknown pipeline: %d %s", code, errOut)
	}

	rule := filepath.Join(dir, "rule.yaml")
	os.WriteFile(rule, []byte("expectation: expect_column_values_to_be_between\nkwargs: {column: quantity, min_value: 0}\nseverity: warning\naction: warn\n"), 0o644)
	if code, out, errOut := shp(t, "quality", "rules", "add", "--config", dir, "--pipeline", "sales", "--file", rule); code != 0 || !strings.Contains(out, "added to sales") {
		t.Fatalf("rules add: %d %s %s", code, out, errOut)
	}
	os.WriteFile(rule, []byte("- expectation: expect_column_values_to_be_between\n  kwargs: {column: no_such_column, min_value: 0}\n"), 0o644)
	if code, _, errOut := shp(t, "quality", "rules", "add", "--config", dir, "--pipeline", "sales", "--file", rule); code != 2 || !strings.Contains(errOut, "no_such_column") {
		t.Fatalf("a rule on a column the schema lacks: %d %s", code, errOut)
	}
	suite := filepath.Join(dir, "suite.json")
	os.WriteFile(suite, []byte(`{"name": "s", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "quantity"}}]}`), 0o644)
	if code, out, errOut := shp(t, "quality", "rules", "add", "--config", dir, "--pipeline", "sales", "--file", suite); code != 0 || !strings.Contains(out, "added to sales") {
		t.Fatalf("rules add of a GE suite: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "quality", "rules", "list", "--config", dir, "--pipeline", "sales")
	if code != 0 || strings.Count(out, `"origin": "stored"`) != 2 {
		t.Fatalf("rules list: %d %s", code, out)
	}
	// The stored rule applies from the next run on.
	if code, out, errOut := shp(t, "run", "--config", dir, "--full-refresh"); code != 0 {
		t.Fatalf("run with the stored rule: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "quality", "metrics", "--config", dir, "--pipeline", "sales", "--format", "json")
	var m struct {
		Scores []json.RawMessage `json:"scores"`
		Rules  []struct {
			Rule string `json:"rule"`
		} `json:"rules"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &m) != nil || len(m.Scores) != 2 || !strings.Contains(out, "expect_column_values_to_be_between(quantity)") {
		t.Fatalf("quality metrics: %d %s", code, out)
	}
	code, out, _ = shp(t, "quality", "validations", "--config", dir, "--pipeline", "sales")
	var vs []struct {
		Result struct {
			Results []json.RawMessage `json:"results"`
		} `json:"result"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &vs) != nil || len(vs) == 0 || len(vs[0].Result.Results) == 0 {
		t.Fatalf("quality validations: %d %.300s", code, out)
	}
	if code, out, _ := shp(t, "healing", "strategies", "--config", dir); code != 0 || !strings.Contains(out, "quarantine_duplicates") || !strings.Contains(out, "parse_date_format") {
		t.Fatalf("healing strategies: %d %s", code, out)
	}
}
