package quality

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"

	"github.com/shp-dev/shp/internal/testutil"
)

func TestAsRecords(t *testing.T) {
	got := asRecords([]any{[]any{int64(1), nil}, int64(3)}, []string{"a", "b"})
	want := []any{map[string]any{"a": int64(1), "b": nil}, map[string]any{"a": int64(3)}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("asRecords %#v", got)
	}
}

// TestPostgresAggregateAndMulticolumn runs the aggregate, table, pair and
// multicolumn expectations on the real PostgreSQL server, with a row
// condition, so the SQL of both dialects' paths is exercised.
func TestPostgresAggregateAndMulticolumn(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE m (pos INTEGER, a INTEGER, b INTEGER, c INTEGER, s TEXT, amt NUMERIC(10,2), keep BOOLEAN)`,
		`INSERT INTO m VALUES
			(0, 1, 1, 2, 'x', 1.50, TRUE), (1, 2, 1, 1, 'y', 2.50, TRUE), (2, 3, 3, 0, 'x', 3.00, TRUE),
			(3, 4, NULL, 0, 'z', NULL, TRUE), (4, NULL, NULL, 4, NULL, NULL, TRUE), (5, 1, 1, 2, 'x', 9.00, FALSE)`,
		`CREATE TABLE other (id INTEGER)`,
		`INSERT INTO other VALUES (1), (2), (3), (4), (5)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "m", Index: `"pos"`, Columns: []Column{{"pos", "INTEGER"}, {"a", "INTEGER"}, {"b", "INTEGER"}, {"c", "INTEGER"}, {"s", "TEXT"}, {"amt", "NUMERIC"}, {"keep", "BOOLEAN"}}}
	n := func(s string) json.Number { return json.Number(s) }
	cond := `col("pos") < 5`
	kw := func(kv ...any) map[string]any {
		m := map[string]any{"row_condition": cond}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		typ      string
		kw       map[string]any
		success  bool
		observed string // fmt of observed_value, "" to skip
		list     string // fmt of unexpected_list, "" to skip
	}{
		{"expect_table_row_count_to_be_between", kw("min_value", n("5"), "max_value", n("5")), true, "5", ""},
		{"expect_table_row_count_to_equal", kw("value", n("6")), false, "5", ""},
		{"expect_table_row_count_to_equal_other_table", kw("other_table_name", "other"), true, "map[other:5 self:5]", ""},
		{"expect_column_min_to_be_between", kw("column", "a", "min_value", n("1")), true, "1", ""},
		{"expect_column_max_to_be_between", kw("column", "a", "max_value", n("3")), false, "4", ""},
		{"expect_column_mean_to_be_between", kw("column", "a", "min_value", n("2.5"), "max_value", n("2.5")), true, "2.5", ""},
		{"expect_column_median_to_be_between", kw("column", "a", "min_value", n("2.5"), "max_value", n("2.5")), true, "2.5", ""},
		{"expect_column_sum_to_be_between", kw("column", "amt", "min_value", n("7")), true, "7", ""},
		{"expect_column_stdev_to_be_between", kw("column", "c", "min_value", n("1"), "max_value", n("2")), true, "", ""},
		{"expect_column_unique_value_count_to_be_between", kw("column", "s", "min_value", n("3")), true, "3", ""},
		{"expect_column_proportion_of_unique_values_to_be_between", kw("column", "b", "max_value", n("0.5")), false, "0.6666666666666666", ""},
		{"expect_column_quantile_values_to_be_between", kw("column", "a", "quantile_ranges", map[string]any{
			"quantiles": []any{n("0"), n("0.5"), n("1")}, "value_ranges": []any{[]any{n("1"), n("1")}, []any{n("2"), n("2")}, []any{nil, n("4")}}}),
			true, "map[quantiles:[0 0.5 1] values:[1 2 4]]", ""},
		{"expect_column_distinct_values_to_be_in_set", kw("column", "s", "value_set", []any{"x", "y", "z", "w"}), true, "[x y z]", ""},
		{"expect_column_distinct_values_to_contain_set", kw("column", "s", "value_set", []any{"x", "w"}), false, "[x y z]", ""},
		{"expect_column_distinct_values_to_equal_set", kw("column", "a", "value_set", []any{n("4"), n("3"), n("2"), n("1")}), true, "[1 2 3 4]", ""},
		{"expect_column_most_common_value_to_be_in_set", kw("column", "b", "value_set", []any{n("1")}), true, "[1]", ""},
		{"expect_column_most_common_value_to_be_in_set", kw("column", "c", "value_set", []any{n("1")}), false, "[0]", ""},
		{"expect_column_pair_values_to_be_equal", kw("column_A", "a", "column_B", "b"), false, "", "[[2 1] [4 <nil>]]"},
		{"expect_column_pair_values_to_be_equal", kw("column_A", "a", "column_B", "b", "ignore_row_if", "either_value_is_missing"), false, "", "[[2 1]]"},
		{"expect_column_pair_values_a_to_be_greater_than_b", kw("column_A", "a", "column_B", "b", "or_equal", true, "ignore_row_if", "either_value_is_missing"), true, "", "[]"},
		{"expect_column_pair_values_a_to_be_greater_than_b", kw("column_A", "a", "column_B", "c", "ignore_row_if", "neither"), false, "", "[[1 2] [<nil> 4]]"},
		{"expect_column_pair_values_to_be_in_set", kw("column_A", "a", "column_B", "b", "value_pairs_set", []any{[]any{n("1"), n("1")}, []any{n("3"), n("3")}, []any{n("4"), nil}}), false, "", "[[2 1]]"},
		{"expect_compound_columns_to_be_unique", kw("column_list", []any{"c"}), false, "", "[map[c:0] map[c:0]]"},
		{"expect_compound_columns_to_be_unique", kw("column_list", []any{"a", "b"}), true, "", "[]"},
		{"expect_select_column_values_to_be_unique_within_record", kw("column_list", []any{"a", "b", "c"}), false, "", "[map[a:1 b:1 c:2] map[a:2 b:1 c:1] map[a:3 b:3 c:0] map[a:<nil> b:<nil> c:4]]"},
		{"expect_multicolumn_sum_to_equal", kw("column_list", []any{"a", "c"}, "sum_total", n("3")), false, "", "[map[a:4 c:0] map[a:<nil> c:4]]"},
		{"expect_multicolumn_sum_to_equal", kw("column_list", []any{"a", "c"}, "sum_total", n("3"), "mostly", n("0.5")), true, "", ""},
	}
	suite := &Suite{Name: "pg-aggregates"}
	for _, c := range cases {
		suite.Expectations = append(suite.Expectations, Config{Type: c.typ, Kwargs: c.kw})
	}
	res, err := Validate(ctx, sqlQueryer(db), Postgres, table, suite, Complete)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := res.Results[i]
		if r.Exception.Raised {
			t.Errorf("%d %s raised: %s", i, c.typ, r.Exception.Message)
			continue
		}
		if r.Success != c.success {
			t.Errorf("%d %s: success %v, want %v (%v)", i, c.typ, r.Success, c.success, r.Result)
		}
		if c.observed != "" {
			if got := fmt.Sprint(r.Result["observed_value"]); got != c.observed {
				t.Errorf("%d %s: observed %s, want %s", i, c.typ, got, c.observed)
			}
		}
		if c.list != "" {
			if got := fmtList(r.Result["unexpected_list"]); got != c.list {
				t.Errorf("%d %s: unexpected_list %s, want %s", i, c.typ, got, c.list)
			}
		}
	}
}
