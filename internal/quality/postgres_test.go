package quality

import (
	"context"
	"database/sql"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/shp-dev/shp/internal/testutil"
)

// TestPostgresDialect runs a suite on the real PostgreSQL server: the same
// expectations, compiled for its dialect, with the same results.
func TestPostgresDialect(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE orders (pos INTEGER, id INTEGER, name TEXT, amount DOUBLE PRECISION)`,
		`INSERT INTO orders VALUES (0, 1, 'ann', 10), (1, 2, 'bob', 20), (2, 3, NULL, 30), (3, 4, 'dave', 400)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "orders", Index: `"pos"`, Columns: []Column{{"pos", "INTEGER"}, {"id", "INTEGER"}, {"name", "TEXT"}, {"amount", "DOUBLE PRECISION"}}}
	kw := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	suite := &Suite{Name: "pg", Expectations: []Config{
		{Type: "expect_column_values_to_not_be_null", Kwargs: kw("column", "name")},
		{Type: "expect_column_values_to_be_between", Kwargs: kw("column", "amount", "min_value", 0, "max_value", 100)},
		{Type: "expect_column_values_to_match_regex", Kwargs: kw("column", "name", "regex", "^[a-z]{3}$")},
		{Type: "expect_column_values_to_be_in_set", Kwargs: kw("column", "id", "value_set", []any{1, 2, 3, 4}, "row_condition", `col("amount") > 15`)},
		{Type: "expect_column_value_lengths_to_be_between", Kwargs: kw("column", "name", "min_value", 3, "max_value", 3)},
		{Type: "expect_column_values_to_match_like_pattern", Kwargs: kw("column", "name", "like_pattern", "%a%")},
	}}
	res, err := Validate(ctx, sqlQueryer(db), Postgres, table, suite, Complete)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		success    bool
		unexpected int64
		list       string
	}{
		{false, 1, "[<nil>]"},
		{false, 1, "[400]"},
		{false, 1, "[dave]"},
		{true, 0, "[]"},
		{false, 1, "[dave]"},
		{false, 1, "[bob]"},
	}
	for i, w := range want {
		r := res.Results[i]
		if r.Exception.Raised {
			t.Fatalf("%s raised: %s", r.Config.Type, r.Exception.Message)
		}
		got := toInt(r.Result["unexpected_count"])
		if r.Success != w.success || got != w.unexpected {
			t.Errorf("%s: success %v unexpected %d, want %v %d (%v)", r.Config.Type, r.Success, got, w.success, w.unexpected, r.Result)
		}
		if l := fmtList(r.Result["unexpected_list"]); i > 0 && l != w.list {
			t.Errorf("%s: unexpected_list %s, want %s", r.Config.Type, l, w.list)
		}
	}
	if res.Statistics.Evaluated != 6 || res.Statistics.Successful != 1 {
		t.Fatalf("statistics %+v", res.Statistics)
	}
}

// TestPostgresProfileSuggestAndFormats profiles a PostgreSQL table,
// suggests a suite from it and validates the table with it in every
// result format.
func TestPostgresProfileSuggestAndFormats(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE sales (pos INTEGER, id BIGINT, region TEXT, qty INTEGER, day DATE)`,
		`INSERT INTO sales SELECT g - 1, g, (ARRAY['EMEA','APAC','AMER'])[1 + g % 3], 1 + g % 5, DATE '2026-01-01' + g % 10 FROM generate_series(1, 60) g`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "sales", Index: `"pos"`, Columns: []Column{{"id", "BIGINT"}, {"region", "TEXT"}, {"qty", "INTEGER"}, {"day", "DATE"}}}
	p, err := ProfileTable(ctx, sqlQueryer(db), Postgres, table)
	if err != nil {
		t.Fatal(err)
	}
	if p.Rows != 60 || p.Columns[1].Distinct != 3 || len(p.Columns[1].Values) != 3 || toInt(p.Columns[2].Max) != 5 {
		t.Fatalf("profile %+v", p)
	}
	suite := Suggest("sales", p)
	for _, f := range []ResultFormat{BooleanOnly, Basic, Summary, Complete} {
		res, err := Validate(ctx, sqlQueryer(db), Postgres, table, suite, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Results {
			if !r.Success || r.Exception.Raised {
				t.Fatalf("%s: suggested %s fails its own batch: %v %v", f, r.Config.Type, r.Result, r.Exception)
			}
		}
		// The first column map result (table expectations have no samples).
		var hasPartial bool
		for _, r := range res.Results {
			if _, isMap := r.Result["unexpected_count"]; isMap || f == BooleanOnly {
				_, hasPartial = r.Result["partial_unexpected_list"]
				break
			}
		}
		if hasPartial != (f != BooleanOnly) {
			t.Errorf("%s: partial_unexpected_list present = %v", f, hasPartial)
		}
	}
	more := &Suite{Name: "more", Expectations: []Config{
		{Type: "expect_column_values_to_not_be_in_set", Kwargs: map[string]any{"column": "region", "value_set": []any{"APAC"}}},
		{Type: "expect_column_values_to_match_regex_list", Kwargs: map[string]any{"column": "region", "regex_list": []any{"^E", "^A"}, "match_on": "all"}},
		{Type: "expect_column_values_to_not_match_like_pattern_list", Kwargs: map[string]any{"column": "region", "like_pattern_list": []any{"%M%"}}},
		{Type: "expect_column_values_to_be_null", Kwargs: map[string]any{"column": "qty"}},
		{Type: "expect_rows_to_satisfy_sql", Kwargs: map[string]any{"predicate": "qty < 5"}},
		{Type: "unexpected_rows_expectation", Kwargs: map[string]any{"unexpected_rows_query": "SELECT * FROM {batch} WHERE qty > 4"}},
	}}
	res, err := Validate(ctx, sqlQueryer(db), Postgres, table, more, Summary)
	if err != nil {
		t.Fatal(err)
	}
	wantUnexpected := []int64{20, 60, 40, 60, 12}
	for i, w := range wantUnexpected {
		if got := toInt(res.Results[i].Result["unexpected_count"]); got != w || res.Results[i].Success {
			t.Errorf("%s: unexpected %d (success %v), want %d", more.Expectations[i].Type, got, res.Results[i].Success, w)
		}
	}
	if got := res.Results[5].Result["observed_value"]; got != "12 unexpected rows" {
		t.Errorf("unexpected_rows_expectation observed %v", got)
	}
	if got := res.Results[0].Result["partial_unexpected_index_list"]; fmtList(got) != "[0 3 6 9 12 15 18 21 24 27 30 33 36 39 42 45 48 51 54 57]" {
		t.Errorf("index list %v", got)
	}
}

// TestPostgresColumnAndDistributionalExpectations runs the order, type,
// parsing and distributional expectations on PostgreSQL.
func TestPostgresColumnAndDistributionalExpectations(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE obs (pos INTEGER, x DOUBLE PRECISION, seq INTEGER, dup INTEGER, cat TEXT, d TEXT, js TEXT)`,
		`INSERT INTO obs SELECT g, (g + 0.5) / 100, g, g % 50,
		   CASE g % 4 WHEN 2 THEN 'B' WHEN 3 THEN 'C' ELSE 'A' END,
		   CASE WHEN g = 99 THEN 'nope' ELSE '2026-01-' || lpad((1 + g % 28)::text, 2, '0') END,
		   CASE WHEN g = 5 THEN '{bad' ELSE '{"a": ' || g || '}' END
		 FROM generate_series(0, 99) g`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "obs", Index: `"pos"`, Columns: []Column{{"pos", "INTEGER"}, {"x", "DOUBLE PRECISION"}, {"seq", "INTEGER"}, {"dup", "INTEGER"}, {"cat", "TEXT"}, {"d", "TEXT"}, {"js", "TEXT"}}}
	halves := map[string]any{"bins": []any{0.0, 0.5, 1.0}, "weights": []any{0.5, 0.5}}
	cats := map[string]any{"values": []any{"A", "B", "C"}, "weights": []any{0.5, 0.25, 0.25}}
	cases := []struct {
		typ        string
		kw         map[string]any
		success    bool
		unexpected int64 // -1: an aggregate without unexpected_count
	}{
		{"expect_column_values_to_be_unique", map[string]any{"column": "seq"}, true, 0},
		{"expect_column_values_to_be_unique", map[string]any{"column": "dup"}, false, 100},
		{"expect_column_values_to_be_increasing", map[string]any{"column": "seq", "strictly": true}, true, 0},
		{"expect_column_values_to_be_decreasing", map[string]any{"column": "seq"}, false, 99},
		{"expect_column_value_z_scores_to_be_less_than", map[string]any{"column": "x", "threshold": 1.6}, false, 8},
		{"expect_column_values_to_be_of_type", map[string]any{"column": "seq", "type_": "INTEGER"}, true, -1},
		{"expect_column_values_to_be_in_type_list", map[string]any{"column": "x", "type_list": []any{"TEXT", "BOOLEAN"}}, false, -1},
		{"expect_column_values_to_be_dateutil_parseable", map[string]any{"column": "d"}, false, 1},
		{"expect_column_values_to_match_strftime_format", map[string]any{"column": "d", "strftime_format": "%Y-%m-%d"}, false, 1},
		{"expect_column_values_to_match_json_schema", map[string]any{"column": "js", "json_schema": map[string]any{"required": []any{"a"}}}, false, 1},
		{"expect_column_values_to_be_json_parseable", map[string]any{"column": "js", "mostly": 0.9}, true, 1},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "x", "partition_object": halves, "threshold": 0.01}, true, -1},
		{"expect_column_kl_divergence_to_be_less_than", map[string]any{"column": "cat", "partition_object": cats, "threshold": 0.01}, true, -1},
		{"expect_column_chisquare_test_p_value_to_be_greater_than", map[string]any{"column": "cat", "partition_object": cats, "p": 0.05}, true, -1},
		{"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", map[string]any{"column": "x", "distribution": "uniform", "params": []any{0.0, 1.0}}, true, -1},
		{"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than", map[string]any{"column": "x", "distribution": "norm", "params": map[string]any{"mean": 0.5, "std_dev": 0.05}}, false, -1},
		{"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than", map[string]any{"column": "x", "partition_object": halves}, true, -1},
	}
	suite := &Suite{Name: "pg2"}
	for _, c := range cases {
		suite.Expectations = append(suite.Expectations, Config{Type: c.typ, Kwargs: c.kw})
	}
	res, err := Validate(ctx, sqlQueryer(db), Postgres, table, suite, Summary)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		r := res.Results[i]
		if r.Exception.Raised {
			t.Errorf("%s %v raised: %s", c.typ, c.kw, r.Exception.Message)
			continue
		}
		if r.Success != c.success {
			t.Errorf("%s %v: success %v, want %v (%v)", c.typ, c.kw, r.Success, c.success, r.Result)
		}
		if c.unexpected >= 0 {
			if got := toInt(r.Result["unexpected_count"]); got != c.unexpected {
				t.Errorf("%s %v: %d unexpected, want %d", c.typ, c.kw, got, c.unexpected)
			}
		}
	}
	if ov := res.Results[11].Result["observed_value"]; ov != 0.0 {
		t.Errorf("KL divergence of a matching histogram = %v, want 0", ov)
	}
}
