package quality

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseSuiteBothLayouts(t *testing.T) {
	tests := []struct {
		name, in, suite, typ string
		err                  string
	}{
		{"0.x", `{"expectation_suite_name": "old", "expectations": [{"expectation_type": "expect_column_to_exist", "kwargs": {"column": "a"}}]}`, "old", "expect_column_to_exist", ""},
		{"1.x", `{"name": "new", "expectations": [{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}, "meta": {"severity": "Warning", "action": "warn"}}]}`, "new", "expect_column_values_to_not_be_null", ""},
		{"no type", `{"name": "x", "expectations": [{"kwargs": {}}]}`, "", "", "expectation 1 has no type"},
		{"not json", `[1, 2`, "", "", "not a GE expectation suite"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseSuite([]byte(tc.in), "s.json")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "s.json") {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || s.Name != tc.suite || s.Expectations[0].Type != tc.typ {
				t.Fatalf("%+v %v", s, err)
			}
		})
	}
	s, _ := ParseSuite([]byte(`{"name": "n", "expectations": [{"type": "t", "kwargs": {"column": "a"}, "meta": {"severity": "Warning", "action": "WARN"}}]}`), "s")
	if c := s.Expectations[0]; c.Severity != SeverityWarning || c.Action != ActionWarn || c.RuleName() != "t(a)" {
		t.Fatalf("meta severity/action: %+v %s", c, c.RuleName())
	}
	if _, err := LoadSuite(filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Fatal("missing suite file")
	}
}

func TestParseRules(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "s.json"), []byte(`{"name": "s", "expectations": [
		{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
		{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "b"}, "meta": {"severity": "info"}}]}`), 0o644)
	raw := map[string]any{"pipelines": map[string]any{"sales": map[string]any{
		"suites": []any{map[string]any{"path": "s.json", "severity": "warning", "action": "warn"}},
		"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_in_set", "kwargs": map[string]any{"column": "c", "value_set": []any{"x"}},
			"action": "quarantine", "name": "c_known"},
			map[string]any{"expectation": "expect_column_values_to_not_be_null", "kwargs": map[string]any{"column": "d"}, "default": "web",
				"meta": map[string]any{"owner": "ana"}}},
	}}}
	rules, err := ParseRules(raw, dir)
	if err != nil {
		t.Fatal(err)
	}
	s := rules["sales"]
	if len(s.Expectations) != 4 {
		t.Fatalf("%+v", s)
	}
	if m := s.Expectations[3].Meta; m[MetaDefault] != "web" || m["owner"] != "ana" {
		t.Errorf("declared default: meta %v", m)
	}
	s.Expectations = s.Expectations[:3]
	if e := s.Expectations[0]; e.Severity != SeverityWarning || e.Action != ActionWarn {
		t.Errorf("suite defaults not applied: %+v", e)
	}
	if e := s.Expectations[1]; e.Severity != SeverityInfo {
		t.Errorf("an expectation's own severity wins: %+v", e)
	}
	if e := s.Expectations[2]; e.Action != ActionQuarantine || e.RuleName() != "c_known" || e.Severity != SeverityCritical {
		t.Errorf("inline rule: %+v", e)
	}
	res := &Result{Results: []ExpectationResult{{Success: true}, {Success: false}, {Success: false}}}
	// weights: warning 2 (ok), info 1 (failed), critical 3 (failed)
	if got := Score(s, res); got != 100*2.0/6 {
		t.Errorf("score %v", got)
	}
	if got := Score(s, &Result{}); got != 100 {
		t.Errorf("empty score %v", got)
	}

	bad := []struct {
		raw  map[string]any
		want string
	}{
		{map[string]any{"pipes": 1}, `unknown key "pipes"`},
		{map[string]any{"pipelines": 3}, "pipelines must be a mapping"},
		{map[string]any{"pipelines": map[string]any{"p": 1}}, "must be a mapping"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"checks": 1}}}, `unknown key "checks"`},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"suites": []any{map[string]any{}}}}}, "path is required"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"suites": []any{map[string]any{"path": "nope.json"}}}}}, "nope.json"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_x"}}}}}, `unknown expectation "expect_x"`},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"kwargs": map[string]any{}}}}}}, "expectation is required"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_null", "severity": "huge"}}}}}, `severity "huge"`},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_null", "action": "explode"}}}}}, `action "explode"`},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_null", "colour": 1}}}}}, `unknown key "colour"`},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_null", "default": 1}}}}}, "default applies to expect_column_values_to_not_be_null only"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_not_be_null", "default": []any{1}}}}}}, "default must be a single value"},
		{map[string]any{"pipelines": map[string]any{"p": map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_not_be_null", "meta": map[string]any{"default": map[string]any{"x": 1}}}}}}}, "meta.default must be a single value"},
	}
	for _, tc := range bad {
		if _, err := ParseRules(tc.raw, dir); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err = %v, want %q", tc.raw, err, tc.want)
		}
	}
	if r, err := ParseRules(nil, dir); err != nil || len(r) != 0 {
		t.Errorf("no rules file: %v %v", r, err)
	}
}

func TestKwargsAndFormats(t *testing.T) {
	kw := Kwargs{"n": json.Number("2.5"), "s": "x", "b": true, "l": []any{"a", 1}, "mostly": 2.0, "i": 3}
	if _, err := kw.Column(); err == nil {
		t.Error("missing column")
	}
	if _, err := kw.requiredString("n"); err == nil {
		t.Error("number as string")
	}
	if n, _ := kw.Number("n"); *n != 2.5 {
		t.Error("json number")
	}
	if _, err := kw.Number("s"); err == nil {
		t.Error("string as number")
	}
	if _, err := kw.Bool("s", false); err == nil {
		t.Error("string as bool")
	}
	if _, err := kw.Strings("l"); err == nil {
		t.Error("mixed list as strings")
	}
	if _, err := kw.Strings("zz"); err == nil {
		t.Error("missing list")
	}
	if _, _, err := kw.List("s"); err == nil {
		t.Error("string as list")
	}
	if _, err := kw.Mostly(); err == nil {
		t.Error("mostly 2")
	}
	for in, want := range map[string]ResultFormat{"basic": Basic, "COMPLETE": Complete, "Summary": Summary, "boolean_only": BooleanOnly} {
		if f, err := ParseResultFormat(in); err != nil || f != want {
			t.Errorf("ParseResultFormat(%s) = %s %v", in, f, err)
		}
	}
	if _, err := ParseResultFormat("loud"); err == nil {
		t.Error("bad format")
	}
	if sqlValue(json.Number("3")) != int64(3) || sqlValue(json.Number("3.5")) != 3.5 {
		t.Error("sqlValue")
	}
	if len(Types()) < 10 {
		t.Errorf("types %v", Types())
	}
}

func TestRowConditionParsing(t *testing.T) {
	env := &Env{D: DuckDB, T: Table{Name: "t", Columns: []Column{{"a", "BIGINT"}, {"b", "VARCHAR"}}}}
	tests := []struct {
		cond, want, err string
	}{
		{`col("a") > 5`, `("a" > ?)`, ""},
		{`(col("a")>=1) & (col("b")=="x")`, `("a" >= ? AND "b" = ?)`, ""},
		{`col("a") != 2 | col("b").notNull()`, `("a" <> ?) OR ("b" IS NOT NULL)`, ""},
		{`a > 5`, "", "is not col"},
		{`col("z") > 5`, "", `column "z" does not exist`},
		{`col("a") > five`, "", "neither a number nor a quoted string"},
	}
	for _, tc := range tests {
		e := *env
		err := e.parseCondition(Kwargs{"row_condition": tc.cond, "condition_parser": "great_expectations"})
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: err = %v", tc.cond, err)
			}
			continue
		}
		got, _ := e.render(e.cond)
		if err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.cond, got, err, tc.want)
		}
	}
	e := *env
	if err := e.parseCondition(Kwargs{"row_condition": `a > 1`, "condition_parser": "pandas"}); err == nil {
		t.Error("pandas parser accepted")
	}
	if err := e.parseCondition(Kwargs{"row_condition": 5}); err == nil {
		t.Error("non-string condition accepted")
	}
}

func TestCheckRule(t *testing.T) {
	cols := []Column{{Name: "id", Type: "BIGINT"}, {Name: "region", Type: "VARCHAR"}}
	for _, tc := range []struct {
		cfg  Config
		cols []Column
		want string // "" for no error
	}{
		{Config{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "id"}}, cols, ""},
		{Config{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "nope"}}, cols, `column "nope" does not exist`},
		{Config{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{"column": "nope"}}, nil, ""},
		{Config{Type: "expect_column_values_to_not_be_null", Kwargs: map[string]any{}}, nil, "column"},
		{Config{Type: "expect_column_values_to_be_in_set", Kwargs: map[string]any{"column": "region", "value_set": "EMEA"}}, cols, "value_set"},
		{Config{Type: "expect_nothing"}, cols, "unknown expectation"},
	} {
		err := CheckRule(tc.cfg, tc.cols)
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
}
