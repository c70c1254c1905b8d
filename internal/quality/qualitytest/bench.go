package qualitytest

import "github.com/shp-dev/shp/internal/quality"

// BenchSuite is 30 expectations over seven columns (id, region, qty,
// price, sku, email, created), all of which hold on the benchmarks'
// data, so that a comparison of plans is about computing the metrics,
// not printing samples: the quality benchmarks' suite, and the one
// whose bytes scanned BigQuery's warehouse reports.
func BenchSuite() *quality.Suite {
	e := func(typ string, kw map[string]any) quality.Config {
		return quality.Config{Type: typ, Kwargs: kw, Severity: quality.SeverityCritical, Action: quality.ActionFail}
	}
	var exps []quality.Config
	for _, c := range []string{"id", "region", "qty", "price", "sku", "email", "created"} {
		exps = append(exps, e("expect_column_values_to_not_be_null", map[string]any{"column": c}))
	}
	exps = append(exps,
		e("expect_column_values_to_be_between", map[string]any{"column": "id", "min_value": 0}),
		e("expect_column_values_to_be_between", map[string]any{"column": "qty", "min_value": 1, "max_value": 50}),
		e("expect_column_values_to_be_between", map[string]any{"column": "price", "min_value": 0, "max_value": 1000}),
		e("expect_column_values_to_be_between", map[string]any{"column": "created", "min_value": "2020-01-01", "max_value": "2030-01-01"}),
		e("expect_column_values_to_be_in_set", map[string]any{"column": "region", "value_set": []any{"EMEA", "APAC", "AMER"}}),
		e("expect_column_values_to_not_be_in_set", map[string]any{"column": "region", "value_set": []any{"XX", "YY"}}),
		e("expect_column_values_to_match_regex", map[string]any{"column": "sku", "regex": "^SKU-[0-9]+$"}),
		e("expect_column_values_to_not_match_regex", map[string]any{"column": "email", "regex": "\\s"}),
		e("expect_column_values_to_match_like_pattern", map[string]any{"column": "email", "like_pattern": "%@%"}),
		e("expect_column_values_to_not_match_like_pattern", map[string]any{"column": "sku", "like_pattern": "%--%"}),
		e("expect_column_value_lengths_to_be_between", map[string]any{"column": "sku", "min_value": 5, "max_value": 12}),
		e("expect_column_value_lengths_to_be_between", map[string]any{"column": "email", "min_value": 5, "max_value": 40}),
		e("expect_column_value_lengths_to_equal", map[string]any{"column": "region", "value": 4}),
		e("expect_column_values_to_match_regex_list", map[string]any{"column": "region", "regex_list": []any{"^EMEA$", "^APAC$", "^AMER$"}}),
		e("expect_column_values_to_match_like_pattern_list", map[string]any{"column": "email", "like_pattern_list": []any{"%.com", "%.org"}}),
		e("expect_column_values_to_not_match_like_pattern_list", map[string]any{"column": "sku", "like_pattern_list": []any{"% %", "%;%"}}),
		e("expect_column_values_to_be_between", map[string]any{"column": "qty", "min_value": 0, "strict_min": true}),
		e("expect_column_values_to_be_in_set", map[string]any{"column": "qty", "value_set": []any{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}}),
		e("expect_column_values_to_not_be_in_set", map[string]any{"column": "qty", "value_set": []any{0, -1}}),
		e("expect_column_values_to_be_between", map[string]any{"column": "price", "min_value": 0.5, "mostly": 0.99}),
		e("expect_column_values_to_match_regex", map[string]any{"column": "email", "regex": "^[a-z0-9.]+@"}),
		e("expect_column_values_to_be_null", map[string]any{"column": "id", "mostly": 0}),
		e("expect_rows_to_satisfy_sql", map[string]any{"predicate": "qty * price < 20000"}),
	)
	return &quality.Suite{Name: "bench", Expectations: exps}
}
