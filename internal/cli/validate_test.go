package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "orders.csv")
	os.WriteFile(data, []byte("id,name,amount\n1,a,10\n2,b,20\n3,,30\n4,d,400\n"), 0o644)
	pass := filepath.Join(dir, "pass.json")
	os.WriteFile(pass, []byte(`{"expectation_suite_name": "s", "expectations": [
		{"expectation_type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
		{"expectation_type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "min_value": 0, "max_value": 1000}}]}`), 0o644)
	fail := filepath.Join(dir, "fail.json")
	os.WriteFile(fail, []byte(`{"name": "s", "expectations": [
		{"type": "expect_column_values_to_be_between", "kwargs": {"column": "amount", "max_value": 100}},
		{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "name", "mostly": 0.5}},
		{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "missing", "value_set": [1]}}]}`), 0o644)

	code, out, _ := shp(t, "validate", "--data", data, "--suite", pass)
	if code != 0 || !strings.Contains(out, `"success": true`) {
		t.Fatalf("passing suite: %d %s", code, out)
	}
	code, out, _ = shp(t, "validate", "--data", data, "--suite", fail, "--result-format", "COMPLETE")
	if code != 1 {
		t.Fatalf("failing suite: exit %d\n%s", code, out)
	}
	var res struct {
		Success bool `json:"success"`
		Results []struct {
			Success bool           `json:"success"`
			Result  map[string]any `json:"result"`
			Exc     struct {
				Raised  bool   `json:"raised_exception"`
				Message string `json:"exception_message"`
			} `json:"exception_info"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r0 := res.Results[0].Result
	if res.Success || res.Results[0].Success || r0["unexpected_count"] != float64(1) ||
		strings.Trim(compact(r0["unexpected_list"]), "[]") != "400" || compact(r0["unexpected_index_list"]) != "[3]" {
		t.Fatalf("between result %v", r0)
	}
	if !res.Results[1].Success || res.Results[1].Result["unexpected_count"] != float64(1) {
		t.Fatalf("mostly: %+v", res.Results[1])
	}
	if !res.Results[2].Exc.Raised || !strings.Contains(res.Results[2].Exc.Message, `column "missing" does not exist`) {
		t.Fatalf("bad kwargs should raise: %+v", res.Results[2])
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"validate", "--data", filepath.Join(dir, "nope.csv"), "--suite", pass}, "nope.csv"},
		{[]string{"validate", "--data", data, "--suite", filepath.Join(dir, "nope.json")}, "nope.json"},
		{[]string{"validate", "--data", data, "--suite", pass, "--result-format", "VERBOSE"}, "unknown result format"},
		{[]string{"validate", "--data", data + ".xml", "--suite", pass}, ".xml"},
		{[]string{"validate", "--data", data, "--suite", pass, "--table", "orders"}, "want NAME=FILE"},
		{[]string{"validate", "--data", data, "--suite", pass, "--table", "o=" + data, "--table", "o=" + data}, "given twice"},
		{[]string{"validate", "--data", data, "--suite", pass, "--table", "o=" + filepath.Join(dir, "gone.csv")}, "gone.csv"},
	} {
		if code, _, errOut := shp(t, tc.args...); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, stderr %q lacks %q", tc.args, code, errOut, tc.want)
		}
	}
}

// TestValidateOtherTable compares the row count with a second file loaded
// by --table, and reads a date layout that is not ISO 8601.
func TestValidateOtherTable(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "orders.csv")
	os.WriteFile(data, []byte("id,day\n1,Jan 01 2026 12:00:01\n2,1/2/2026\n3,2026-01-03\n"), 0o644)
	sch := filepath.Join(dir, "schema.json")
	os.WriteFile(sch, []byte(`[{"name":"id","type":"INT64"},{"name":"day","type":"TIMESTAMP"}]`), 0o644)
	other := filepath.Join(dir, "shipments.jsonl")
	os.WriteFile(other, []byte("{\"id\":1}\n{\"id\":2}\n"), 0o644)
	suite := filepath.Join(dir, "suite.json")
	os.WriteFile(suite, []byte(`{"name": "s", "expectations": [
		{"type": "expect_table_row_count_to_equal_other_table", "kwargs": {"other_table_name": "shipments"}},
		{"type": "expect_column_values_to_be_between", "kwargs": {"column": "day", "min_value": "2026-01-01", "max_value": {"$PARAMETER": "datetime(2026, 1, 2)"}}}]}`), 0o644)
	code, out, errOut := shp(t, "validate", "--data", data, "--schema", sch, "--suite", suite, "--table", "shipments="+other, "--result-format", "COMPLETE")
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Results []struct {
			Success bool           `json:"success"`
			Result  map[string]any `json:"result"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}
	if obs := compact(res.Results[0].Result["observed_value"]); obs != `{"other":2,"self":3}` {
		t.Errorf("row counts %s", obs)
	}
	if got := compact(res.Results[1].Result["unexpected_index_list"]); got != "[2]" {
		t.Errorf("dates after January 2nd at %s, want [2] (%v)", got, res.Results[1].Result)
	}
}

func TestProfileAndSuggest(t *testing.T) {
	data := filepath.Join("..", "..", "examples", "quickstart", "data", "sales_2026-01-01.csv")
	sch := filepath.Join("..", "..", "examples", "quickstart", "schemas", "sales_schema.json")
	code, out, errOut := shp(t, "quality", "profile", "--data", data, "--schema", sch)
	if code != 0 || !strings.Contains(out, "750 rows, 7 columns") || !strings.Contains(out, "region       VARCHAR") {
		t.Fatalf("profile: %d %s %s", code, out, errOut)
	}
	code, out, _ = shp(t, "quality", "profile", "--data", data, "--format", "json")
	if code != 0 || !strings.Contains(out, `"distinct_count": 3`) {
		t.Fatalf("profile json: %d %s", code, out)
	}
	suite := filepath.Join(t.TempDir(), "suite.json")
	code, out, _ = shp(t, "quality", "suggest", "--data", data, "--schema", sch, "-o", suite)
	if code != 0 || !strings.Contains(out, "wrote "+suite) {
		t.Fatalf("suggest: %d %s", code, out)
	}
	b, _ := os.ReadFile(suite)
	for _, want := range []string{`"expect_column_values_to_not_be_null"`, `"expect_column_values_to_be_in_set"`, `"EMEA"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("suggested suite lacks %s", want)
		}
	}
	// The batch it was suggested from passes it.
	if code, out, _ := shp(t, "validate", "--data", data, "--schema", sch, "--suite", suite); code != 0 {
		t.Fatalf("suggested suite fails its own batch: %s", out)
	}
	// A batch with a defect does not.
	bad := filepath.Join("..", "..", "examples", "quickstart", "data", "sales_2026-01-04.csv")
	if code, _, _ := shp(t, "validate", "--data", bad, "--suite", suite); code != 1 {
		t.Fatalf("another day should fail the suggested suite (order ids, dates): exit %d", code)
	}
}
