package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/quality"
)

// writeValueSetCase writes a 750-row CSV (a code column, one row in 50
// outside the set) and a suite with the in-set, not-in-set and
// distinct-values expectations over a value_set of size n.
func writeValueSetCase(tb testing.TB, dir string, n int, types ...string) (data, suite string) {
	tb.Helper()
	var b strings.Builder
	b.WriteString("id,code\n")
	for i := 0; i < 750; i++ {
		code := fmt.Sprintf("C%07d", (i*7919)%n)
		if i%50 == 0 {
			code = "unknown"
		}
		fmt.Fprintf(&b, "%d,%s\n", i, code)
	}
	data = filepath.Join(dir, "data.csv")
	if err := os.WriteFile(data, []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
	set := make([]string, n)
	for i := range set {
		set[i] = fmt.Sprintf("C%07d", i)
	}
	if len(types) == 0 {
		types = []string{"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set", "expect_column_distinct_values_to_be_in_set"}
	}
	var exps []any
	for _, t := range types {
		exps = append(exps, map[string]any{"type": t, "kwargs": map[string]any{"column": "code", "value_set": set}})
	}
	js, _ := json.Marshal(map[string]any{"name": "bench", "expectations": exps})
	suite = filepath.Join(dir, "suite.json")
	if err := os.WriteFile(suite, js, 0o644); err != nil {
		tb.Fatal(err)
	}
	return data, suite
}

// BenchmarkValidateValueSet times `shp validate` of a 750-row file
// against the set expectations with value sets of 1,000 to 200,000
// values: linear in the set's size (a large set is a semi-join against
// one bound list, see quality's inSet; distinct values are looked up in
// an index), where listing the values in SQL and comparing them one by
// one grew faster than linearly.
func BenchmarkValidateValueSet(b *testing.B) {
	for _, n := range []int{1000, 10000, 100000, 200000} {
		for _, typ := range []string{"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set", "expect_column_distinct_values_to_be_in_set"} {
			b.Run(fmt.Sprintf("%s/%d", strings.TrimPrefix(typ, "expect_column_"), n), func(b *testing.B) {
				data, suite := writeValueSetCase(b, b.TempDir(), n, typ)
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					res, err := validateFile(context.Background(), data, "", suite, quality.Summary)
					if err != nil {
						b.Fatal(err)
					}
					if res.Results[0].Exception.Raised {
						b.Fatal(res.Results[0].Exception.Message)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n), "ns/value")
			})
		}
	}
}

// TestLargeValueSetValidates: a 20,000-value set (joined against) finds
// the 15 rows outside it, as a listed set would.
func TestLargeValueSetValidates(t *testing.T) {
	data, suite := writeValueSetCase(t, t.TempDir(), 20000)
	res, err := validateFile(context.Background(), data, "", suite, quality.Complete)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []struct {
		success    bool
		unexpected any
	}{{false, int64(15)}, {false, int64(735)}, {false, nil}} {
		r := res.Results[i]
		if r.Exception.Raised || r.Success != want.success || want.unexpected != nil && r.Result["unexpected_count"] != want.unexpected {
			t.Errorf("%s: %v %v %v", r.Config.Type, r.Success, r.Result["unexpected_count"], r.Exception)
		}
	}
	if obs, _ := res.Results[2].Result["observed_value"].([]any); len(obs) == 0 || obs[len(obs)-1] != "unknown" {
		t.Errorf("distinct values: %v", res.Results[2].Result["observed_value"])
	}
}

// TestConfigValidateChecksRules: `shp config validate` refuses a rule
// that would fail every run, naming it and its kwarg.
func TestConfigValidateChecksRules(t *testing.T) {
	dir := initProject(t)
	rules := filepath.Join(dir, "quality_rules.yaml")
	base, err := os.ReadFile(rules)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		rule, want string
	}{
		{"{expectation: expect_column_values_to_be_between, name: qty, kwargs: {column: quantity, min_value: abc}}",
			`rules[1] (qty): invalid expectation configuration: min_value "abc" does not fit column "quantity" of type`},
		{"{expectation: expect_column_values_to_match_regex, kwargs: {column: product, regex: '(a)\\1'}}",
			`rules[1] (expect_column_values_to_match_regex(product)): invalid expectation configuration: regex "(a)\\1": backreference`},
		{"{expectation: expect_column_values_to_not_be_null, kwargs: {column: product, mostlyy: 0.5}}",
			`takes no kwarg "mostlyy" (did you mean mostly?)`},
	} {
		os.WriteFile(rules, append(append([]byte{}, base...), []byte("      - "+tc.rule+"\n")...), 0o644)
		code, out, errOut := shp(t, "config", "validate", dir)
		if code != 2 || !strings.Contains(errOut, tc.want) {
			t.Errorf("%s: exit %d\n%s%s\nwant %s", tc.rule, code, out, errOut, tc.want)
		}
	}
	os.WriteFile(rules, append(append([]byte{}, base...), []byte("      - {expectation: expect_column_values_to_be_between, kwargs: {column: quantity, min_value: 1}}\n")...), 0o644)
	if code, out, errOut := shp(t, "config", "validate", dir); code != 0 {
		t.Errorf("a valid rule: exit %d %s %s", code, out, errOut)
	}
}
