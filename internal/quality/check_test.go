package quality

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// kwargOf is the kwarg a check error names, "" when it names none.
func kwargOf(err error) string {
	var ke *KwargError
	if errors.As(err, &ke) {
		return ke.Kwarg
	}
	return ""
}

// TestCheckRuleRegexes: a regular expression DuckDB's RE2 cannot compile
// is refused when stored, naming the kwarg, for every expectation that
// takes one.
func TestCheckRuleRegexes(t *testing.T) {
	cols := []Column{{Name: "name", Type: "VARCHAR"}}
	for typ, key := range regexKwargs {
		for _, tc := range []struct {
			pattern, want string // want "" for no error
		}{
			{`^[a-z]+$`, ""},
			{`(a)\1`, `backreference \1`},
			{`(?=a)b`, "lookaround (?="},
			{`(?!a)b`, "lookaround (?!"},
			{`(?<=a)b`, "lookaround (?<"},
			{`a[`, "missing closing ]"},
			{`a{2,1}`, "invalid repeat count"},
		} {
			var v any = tc.pattern
			if strings.HasSuffix(key, "_list") {
				v = []any{"^ok$", tc.pattern}
			}
			err := CheckRule(Config{Type: typ, Kwargs: map[string]any{"column": "name", key: v}}, cols)
			if tc.want == "" {
				if err != nil {
					t.Errorf("%s %s: %v", typ, tc.pattern, err)
				}
				continue
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) || kwargOf(err) != key || !errors.Is(err, ErrInvalidKwargs) {
				t.Errorf("%s %s: %v (kwarg %q), want %q naming %s", typ, tc.pattern, err, kwargOf(err), tc.want, key)
			}
		}
	}
}

// TestRegexDialects: PostgreSQL's regular expressions have what RE2
// lacks, and lack named groups.
func TestRegexDialects(t *testing.T) {
	for _, tc := range []struct {
		pattern    string
		duck, post bool // accepted
	}{
		{`^\d{4}-\d{2}$`, true, true},
		{`(a)\1`, false, true},
		{`(?=a)b`, false, true},
		{`(?<!a)b`, false, true},
		{`(?P<year>\d{4})`, true, false},
		{`(?<year>\d{4})`, true, false},
		{`\\1`, true, true}, // an escaped backslash, then 1
		{`a(`, false, false},
	} {
		if err := DuckDB.CheckRegex(tc.pattern); (err == nil) != tc.duck {
			t.Errorf("duckdb %s: %v", tc.pattern, err)
		}
		if err := Postgres.CheckRegex(tc.pattern); (err == nil) != tc.post {
			t.Errorf("postgres %s: %v", tc.pattern, err)
		}
	}
}

// TestCheckRuleBounds: min_value and max_value, evaluation parameters
// evaluated, are type-checked against the column's type where a column's
// value is compared, and must be numbers where a number is.
func TestCheckRuleBounds(t *testing.T) {
	cols := []Column{{Name: "qty", Type: "INTEGER"}, {Name: "price", Type: "DECIMAL(10,2)"}, {Name: "name", Type: "VARCHAR"},
		{Name: "day", Type: "DATE"}, {Name: "at", Type: "TIMESTAMP"}, {Name: "ok", Type: "BOOLEAN"}}
	now := map[string]any{"$PARAMETER": "now() - timedelta(days=1)"}
	for typ, kind := range boundKinds {
		for _, tc := range []struct {
			col       string
			lo, hi    any
			wantKwarg string // where the column's value is compared; "" for no error
		}{
			{"qty", 1, 10, ""},
			{"qty", "abc", nil, "min_value"},
			{"qty", nil, "abc", "max_value"},
			{"qty", "5", nil, "min_value"},
			{"qty", now, nil, "min_value"},
			{"price", 1.5, nil, ""},
			{"name", "a", "m", ""},
			{"name", 1, nil, "min_value"},
			{"day", "2026-01-01", "2026-12-31", ""},
			{"day", 20260101, nil, "min_value"},
			{"day", "soon", nil, "min_value"},
			{"day", now, nil, ""},
			{"at", nil, now, ""},
			{"ok", 0, 1, ""},
		} {
			kw := map[string]any{"min_value": tc.lo, "max_value": tc.hi}
			if typ != "expect_table_row_count_to_be_between" && typ != "expect_table_column_count_to_be_between" {
				kw["column"] = tc.col
			}
			want := tc.wantKwarg
			if kind == boundsNumeric {
				// A number is compared, whatever the column.
				want = ""
				for _, k := range []string{"min_value", "max_value"} {
					if _, isNum := toFloat(kw[k]); kw[k] != nil && !isNum && want == "" {
						want = k
					}
				}
			}
			err := checkBounds(Table{Columns: cols}, typ, resolved(t, kw))
			if got := kwargOf(err); got != want || (want == "") != (err == nil) {
				t.Errorf("%s on %s %v..%v: %v (kwarg %q), want kwarg %q", typ, tc.col, tc.lo, tc.hi, err, got, want)
			}
		}
	}
	// Through CheckRule, which evaluates the parameters first.
	err := CheckRule(Config{Type: "expect_column_values_to_be_between", Kwargs: map[string]any{"column": "qty", "min_value": "abc"}}, cols)
	if kwargOf(err) != "min_value" || !strings.Contains(err.Error(), `"abc"`) || !strings.Contains(err.Error(), "INTEGER") {
		t.Errorf("min_value abc on an integer column: %v", err)
	}
	if err := CheckRule(Config{Type: "expect_column_values_to_be_between", Kwargs: map[string]any{"column": "day", "min_value": now}}, cols); err != nil {
		t.Errorf("an evaluated date for a date column: %v", err)
	}
	if err := CheckRule(Config{Type: "expect_column_values_to_be_between", Kwargs: map[string]any{"column": "qty", "max_value": now}}, cols); kwargOf(err) != "max_value" {
		t.Errorf("an evaluated date for an integer column: %v", err)
	}
	// Without the table's columns, only what is compared with a number is checked.
	if err := CheckRule(Config{Type: "expect_column_values_to_be_between", Kwargs: map[string]any{"column": "qty", "min_value": "abc"}}, nil); err != nil {
		t.Errorf("no columns known: %v", err)
	}
	if err := CheckRule(Config{Type: "expect_column_value_lengths_to_be_between", Kwargs: map[string]any{"column": "x", "min_value": "abc"}}, nil); kwargOf(err) != "min_value" {
		t.Errorf("a length bound that is not a number: %v", err)
	}
}

func resolved(t *testing.T, kw map[string]any) Kwargs {
	t.Helper()
	out, err := resolveParams(Kwargs(kw), time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC), nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCheckRuleUnknownKwargs: every built-in expectation knows its kwargs
// and refuses others, with a hint for a misspelling.
func TestCheckRuleUnknownKwargs(t *testing.T) {
	for _, typ := range Types() {
		known, ok := kwargsOf(typ)
		if !ok {
			t.Errorf("%s: its kwargs are not declared", typ)
			continue
		}
		kw := map[string]any{"mostlyy": 0.5}
		err := CheckRule(Config{Type: typ, Kwargs: kw}, nil)
		if kwargOf(err) != "mostlyy" || !strings.Contains(err.Error(), typ) {
			t.Errorf("%s with mostlyy: %v", typ, err)
		}
		if known["mostly"] && !strings.Contains(err.Error(), "did you mean mostly?") {
			t.Errorf("%s: no hint: %v", typ, err)
		}
		for _, common := range []string{"result_format", "catch_exceptions", "row_condition", "condition_parser", "include_config", "meta"} {
			if !known[common] {
				t.Errorf("%s does not take %s", typ, common)
			}
		}
	}
	// The kwargs GE's own test cases give are all known.
	for typ, keys := range map[string][]string{
		"expect_column_values_to_be_between":               {"allow_cross_type_comparisons", "parse_strings_as_datetimes", "output_strftime_format", "strict_min", "strict_max", "mostly"},
		"expect_column_kl_divergence_to_be_less_than":      {"partition_object", "threshold", "internal_weight_holdout", "tail_weight_holdout", "bucketize_data"},
		"expect_column_values_to_match_regex_list":         {"regex_list", "match_on"},
		"expect_column_pair_values_a_to_be_greater_than_b": {"column_A", "column_B", "or_equal", "ignore_row_if"},
		"expect_column_quantile_values_to_be_between":      {"quantile_ranges", "allow_relative_error"},
	} {
		known, _ := kwargsOf(typ)
		for _, k := range keys {
			if !known[k] {
				t.Errorf("%s does not take %s", typ, k)
			}
		}
	}
	// A type of one's own is checked once its kwargs are declared.
	Register("expect_test_custom_kwargs", func(env *Env, kw Kwargs) (*Plan, error) { return staticPlan(true, nil), nil })
	if err := CheckRule(Config{Type: "expect_test_custom_kwargs", Kwargs: map[string]any{"anything": 1}}, nil); err != nil {
		t.Errorf("undeclared kwargs are not checked: %v", err)
	}
	RegisterKwargs("expect_test_custom_kwargs", "threshold")
	if err := CheckRule(Config{Type: "expect_test_custom_kwargs", Kwargs: map[string]any{"threshold": 1, "result_format": "BASIC"}}, nil); err != nil {
		t.Errorf("declared kwargs: %v", err)
	}
	if err := CheckRule(Config{Type: "expect_test_custom_kwargs", Kwargs: map[string]any{"treshold": 1}}, nil); kwargOf(err) != "treshold" ||
		!strings.Contains(err.Error(), "did you mean threshold?") {
		t.Errorf("an undeclared kwarg: %v", err)
	}
}

// TestCheckRuleSize: a list kwarg holds at most MaxListEntries entries,
// and a rule's kwargs take at most MaxRuleBytes.
func TestCheckRuleSize(t *testing.T) {
	set := make([]any, MaxListEntries)
	for i := range set {
		set[i] = i
	}
	cfg := Config{Type: "expect_column_values_to_be_in_set", Kwargs: map[string]any{"column": "c", "value_set": set}}
	if err := CheckRule(cfg, nil); err != nil {
		t.Fatalf("a set at the limit: %v", err)
	}
	cfg.Kwargs["value_set"] = append(set, -1)
	if err := CheckRule(cfg, nil); kwargOf(err) != "value_set" || !strings.Contains(err.Error(), "at most 1000000") {
		t.Errorf("a set over the limit: %v", err)
	}
	cfg.Kwargs["value_set"] = []any{strings.Repeat("x", MaxRuleBytes)}
	if err := CheckRule(cfg, nil); err == nil || !strings.Contains(err.Error(), "MaxRuleBytes") {
		t.Errorf("kwargs over the byte limit: %v", err)
	}
}

// TestParseRulesChecksRules: quality_rules.yaml's rules, and the
// expectations of the suites it names, are checked when it is loaded,
// and an error names the rule.
func TestParseRulesChecksRules(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte(`{"name": "s", "expectations": [
		{"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "a"}},
		{"type": "expect_column_values_to_match_regex", "kwargs": {"column": "a", "regex": "(x)\\1"}}]}`), 0o644)
	os.WriteFile(filepath.Join(dir, "params.json"), []byte(`{"name": "p", "evaluation_parameters": {"floor": 5},
		"expectations": [{"type": "expect_column_values_to_be_between", "kwargs": {"column": "q", "min_value": {"$PARAMETER": "floor * 2"}}}]}`), 0o644)
	rule := func(kv ...any) map[string]any {
		kw := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			kw[kv[i].(string)] = kv[i+1]
		}
		return map[string]any{"expectation": "expect_column_values_to_be_between", "kwargs": kw, "name": "q_range"}
	}
	pipelines := func(p map[string]any) map[string]any {
		return map[string]any{"pipelines": map[string]any{"sales": p}}
	}
	cols := func(string) ([]Column, error) { return []Column{{Name: "q", Type: "BIGINT"}}, nil }
	for _, tc := range []struct {
		name    string
		raw     map[string]any
		columns func(string) ([]Column, error)
		want    string // "" for no error
	}{
		{"valid", pipelines(map[string]any{"rules": []any{rule("column", "q", "min_value", 1)}}), cols, ""},
		{"unknown kwarg", pipelines(map[string]any{"rules": []any{rule("column", "q", "min_value", 1, "mostlyy", 0.9)}}), nil,
			`pipeline sales: rules[0] (q_range): invalid expectation configuration: expect_column_values_to_be_between takes no kwarg "mostlyy" (did you mean mostly?)`},
		{"bound of another type", pipelines(map[string]any{"rules": []any{rule("column", "q", "min_value", "abc")}}), cols,
			`rules[0] (q_range): invalid expectation configuration: min_value "abc" does not fit column "q" of type BIGINT`},
		{"types unknown", pipelines(map[string]any{"rules": []any{rule("column", "q", "min_value", "abc")}}), nil, ""},
		{"suite", pipelines(map[string]any{"suites": []any{map[string]any{"path": "bad.json"}}}), nil,
			`suites[0] (` + filepath.Join(dir, "bad.json") + `): expectation 2 (expect_column_values_to_match_regex(a)): invalid expectation configuration: regex "(x)\\1": backreference \1`},
		{"suite parameters", pipelines(map[string]any{"suites": []any{map[string]any{"path": "params.json"}},
			"rules": []any{rule("column", "q", "max_value", map[string]any{"$PARAMETER": "floor * 10"})}}), cols, ""},
		{"set too large", pipelines(map[string]any{"rules": []any{map[string]any{"expectation": "expect_column_values_to_be_in_set", "name": "known",
			"kwargs": map[string]any{"column": "q", "value_set": make([]any, MaxListEntries+1)}}}}), nil,
			"pipeline sales: rules[0] (known): invalid expectation configuration: value_set holds 1000001 entries; a rule may hold at most 1000000"},
	} {
		rules, err := ParseRulesFor(tc.raw, dir, tc.columns)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v\nwant %s", tc.name, err, tc.want)
		}
		if rules != nil {
			t.Errorf("%s: rules despite the error", tc.name)
		}
	}
	// The suites' evaluation parameters reach the validation.
	rules, err := ParseRules(pipelines(map[string]any{"suites": []any{map[string]any{"path": "params.json"}}}), dir)
	if err != nil || rules["sales"].Params["floor"] == nil {
		t.Fatalf("suite parameters: %v %+v", err, rules["sales"])
	}
}
