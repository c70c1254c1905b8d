package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestValidateNonFinite validates real data in DuckDB against a suite as
// Python's json module writes it: NaN, Infinity and -Infinity bare.
func TestValidateNonFinite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "py.csv")
	os.WriteFile(data, []byte("i,f,d,s\n1,1.5,2025-01-01,a\n2,NaN,2025-01-02,NaN\n3,-inf,2025-01-03,b\n4,inf,,c\n"), 0o644)
	sch := filepath.Join(dir, "schema.json")
	os.WriteFile(sch, []byte(`[{"name":"i","type":"INT64"},{"name":"f","type":"FLOAT64"},{"name":"d","type":"DATE"},{"name":"s","type":"STRING"}]`), 0o644)
	cases := []struct {
		expectation string
		success     bool
		unexpected  float64 // -1: an aggregate
	}{
		{`"expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": -Infinity, "max_value": 3}`, false, 1},
		{`"expect_column_values_to_be_between", "kwargs": {"column": "i", "min_value": 2, "max_value": Infinity}`, false, 1},
		// NaN is above Infinity in DuckDB.
		{`"expect_column_values_to_be_between", "kwargs": {"column": "f", "min_value": -Infinity, "max_value": Infinity}`, false, 1},
		{`"expect_column_values_to_be_between", "kwargs": {"column": "f", "min_value": -Infinity, "strict_min": true, "max_value": 2}`, false, 3},
		{`"expect_column_values_to_be_between", "kwargs": {"column": "d", "min_value": -Infinity, "max_value": "2025-01-02"}`, false, 1},
		{`"expect_column_values_to_be_in_set", "kwargs": {"column": "f", "value_set": [1.5, NaN, -Infinity]}`, false, 1},
		{`"expect_column_values_to_be_in_set", "kwargs": {"column": "i", "value_set": [1, 2, NaN]}`, false, 2},
		{`"expect_column_values_to_be_in_set", "kwargs": {"column": "s", "value_set": ["a", "b", "c", "NaN"]}`, true, 0},
		{`"expect_column_max_to_be_between", "kwargs": {"column": "i", "min_value": -Infinity, "max_value": Infinity}`, true, -1},
		{`"expect_table_row_count_to_be_between", "kwargs": {"min_value": -Infinity, "max_value": 3}`, false, -1},
	}
	var exps []string
	for _, c := range cases {
		exps = append(exps, `{"type": `+c.expectation+`}`)
	}
	suite := filepath.Join(dir, "suite.json")
	os.WriteFile(suite, []byte("{\"name\": \"py\", \"expectations\": [\n"+strings.Join(exps, ",\n")+"]}"), 0o644)
	code, out, errOut := shp(t, "validate", "--data", data, "--schema", sch, "--suite", suite)
	if code != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	var res struct {
		Results []struct {
			Success bool           `json:"success"`
			Result  map[string]any `json:"result"`
			Config  struct {
				Kwargs map[string]any `json:"kwargs"`
			} `json:"expectation_config"`
			Exc struct {
				Raised  bool   `json:"raised_exception"`
				Message string `json:"exception_message"`
			} `json:"exception_info"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) != len(cases) {
		t.Fatalf("%v\n%s", err, out)
	}
	for i, c := range cases {
		r := res.Results[i]
		if r.Exc.Raised {
			t.Errorf("%s raised: %s", c.expectation, r.Exc.Message)
			continue
		}
		if r.Success != c.success || (c.unexpected >= 0 && r.Result["unexpected_count"] != c.unexpected) {
			t.Errorf("%s: success %v, %v unexpected; want %v, %v (%v)", c.expectation, r.Success, r.Result["unexpected_count"], c.success, c.unexpected, r.Result)
		}
	}
	if got := compact(res.Results[0].Config.Kwargs["min_value"]); got != `{"$numberDouble":"-Infinity"}` {
		t.Errorf("expectation_config shows min_value %s", got)
	}

	for _, tc := range []struct{ name, suite, want string }{
		{"NaNx", "{\"expectations\": [\n{\"type\": \"t\", \"kwargs\": {\"a\": NaN, \"b\": NaNx}}]}", "suite.json:2:41: not a GE expectation suite: invalid character 'N'"},
		{"Infinityy", "{\"expectations\": [\n{\"type\": \"t\", \"kwargs\": {\"a\": Infinityy}}]}", "suite.json:2:31: not a GE expectation suite: invalid character 'I'"},
	} {
		os.WriteFile(suite, []byte(tc.suite), 0o644)
		if code, _, errOut := shp(t, "validate", "--data", data, "--suite", suite); code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d, stderr %q lacks %q", tc.name, code, errOut, tc.want)
		}
	}
}

// TestRulesAddNonFinite adds rules with NaN and infinities from a GE suite
// and from YAML, whose unquoted NaN stays text, and lists them.
func TestRulesAddNonFinite(t *testing.T) {
	dir := initProject(t)
	for _, tc := range []struct {
		name, file, body string
		want             map[string]string // rule name: its kwargs, listed
	}{
		{"suite", "suite.json", `{"name": "py", "expectations": [
			{"type": "expect_column_values_to_be_between", "kwargs": {"column": "quantity", "min_value": -Infinity, "max_value": Infinity}},
			{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region", "value_set": ["NaN", NaN, "-Infinity x"]}}]}`,
			map[string]string{
				"expect_column_values_to_be_between(quantity)": `{"column":"quantity","max_value":{"$numberDouble":"Infinity"},"min_value":{"$numberDouble":"-Infinity"}}`,
				"expect_column_values_to_be_in_set(region)":    `{"column":"region","value_set":["NaN",{"$numberDouble":"NaN"},"-Infinity x"]}`,
			}},
		{"JSON rule", "rule.json", `{"expectation": "expect_column_values_to_be_between", "kwargs": {"column": "unit_price", "min_value": 0, "max_value": Infinity}}`,
			map[string]string{"expect_column_values_to_be_between(unit_price)": `{"column":"unit_price","max_value":{"$numberDouble":"Infinity"},"min_value":0}`}},
		{"YAML rule", "rule.yaml", "expectation: expect_column_values_to_be_in_set\nkwargs: {column: product, value_set: [NaN, .nan, -.inf]} # NaN\n",
			map[string]string{"expect_column_values_to_be_in_set(product)": `{"column":"product","value_set":["NaN",{"$numberDouble":"NaN"},{"$numberDouble":"-Infinity"}]}`}},
	} {
		file := filepath.Join(dir, tc.file)
		os.WriteFile(file, []byte(tc.body), 0o644)
		if code, out, errOut := shp(t, "quality", "rules", "add", "--config", dir, "--pipeline", "sales", "--file", file); code != 0 || !strings.Contains(out, "added to sales") {
			t.Fatalf("%s: rules add: %d %s %s", tc.name, code, out, errOut)
		}
		code, out, _ := shp(t, "quality", "rules", "list", "--config", dir, "--pipeline", "sales")
		var rules []struct {
			Name   string         `json:"name"`
			Kwargs map[string]any `json:"kwargs"`
		}
		if err := json.Unmarshal([]byte(out), &rules); code != 0 || err != nil {
			t.Fatalf("%s: rules list: %d %v %s", tc.name, code, err, out)
		}
		listed := map[string]string{}
		for _, r := range rules {
			listed[r.Name] = compact(r.Kwargs)
		}
		for name, kw := range tc.want {
			if listed[name] != kw {
				t.Errorf("%s: %s listed with kwargs %s, want %s", tc.name, name, listed[name], kw)
			}
		}
	}
}
