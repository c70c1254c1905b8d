package quality

import (
	"strings"
	"testing"
)

func TestBigQueryDialect(t *testing.T) {
	d := BigQuery
	for _, c := range []struct{ got, want string }{
		{d.Name(), "bigquery"},
		{d.Ident("order id"), "`order id`"},
		{d.Ident("_shp.stage_1"), "`_shp.stage_1`"},
		{d.Ident("a`b\\c"), "`a\\`b\\\\c`"},
		{d.Placeholder(3), "?"},
		{d.RegexMatch("`s`", "?"), "REGEXP_CONTAINS(`s`, ?)"},
		{d.Text("`x`"), "CAST(`x` AS STRING)"},
		{d.Float("'NaN'"), "CAST('NaN' AS FLOAT64)"},
		{d.StdDev("`x`"), "STDDEV_SAMP(`x`)"},
		{d.Length("`s`"), "CHAR_LENGTH(`s`)"},
		{d.TryJSON("`j`"), "(SAFE.PARSE_JSON(`j`) IS NOT NULL)"},
		{textType(d), "STRING"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
	med := d.Median("`x`")
	if !strings.Contains(med, "ARRAY_AGG(") || !strings.Contains(med, "IGNORE NULLS ORDER BY") || !strings.Contains(med, "SAFE_OFFSET(DIV(") {
		t.Errorf("median %s", med)
	}
	if q := d.Quantile("`x`", "?"); strings.Count(q, "?") != 1 || !strings.Contains(q, "CEIL((?) * COUNT(") {
		t.Errorf("quantile %s: the fraction must be bound once", q)
	}
	if err := d.CheckRegex(`(a)\1`); err == nil || !strings.Contains(err.Error(), "BigQuery") {
		t.Errorf("backreference: %v", err)
	}
	if err := d.CheckRegex(`^[a-z]+\d{2}$`); err != nil {
		t.Error(err)
	}
}

func TestBigQueryFilterAggregate(t *testing.T) {
	d := BigQuery.(AggregateFilterer)
	for _, c := range []struct{ agg, want string }{
		{"count(*)", "COUNTIF(c > 1)"},
		{"count(`x`)", "count(IF(c > 1, `x`, NULL))"},
		{"count(DISTINCT `x`)", "count(DISTINCT IF(c > 1, `x`, NULL))"},
		{"sum(CASE WHEN `x` IS NULL THEN 1 ELSE 0 END)", "sum(IF(c > 1, CASE WHEN `x` IS NULL THEN 1 ELSE 0 END, NULL))"},
		{"max(length(`x`))", "max(IF(c > 1, length(`x`), NULL))"},
		{"min(`x`) + max(`x`)", "ERROR('a row_condition cannot restrict this aggregate on BigQuery')"},
		{"corr(`x`, `y`)", "ERROR('a row_condition cannot restrict this aggregate on BigQuery')"},
		{"max(')(')", "max(IF(c > 1, ')(', NULL))"},
	} {
		if got := d.FilterAggregate(c.agg, "c > 1"); got != c.want {
			t.Errorf("%s: got %s, want %s", c.agg, got, c.want)
		}
	}
	med := d.FilterAggregate(BigQuery.Median("`x`"), "c > 1")
	if strings.Contains(med, bqFilterMark) || strings.Count(med, "IF((c > 1), `x`, NULL)") != 6 {
		t.Errorf("median restricted: %s", med)
	}
	if got := filterAggregate(DuckDB, "count(*)", "c"); got != "count(*) FILTER (WHERE c)" {
		t.Errorf("duckdb: %s", got)
	}
}

func TestBigQueryInValues(t *testing.T) {
	var bound []any
	bind := func(v any) string { bound = append(bound, v); return "?" }
	for _, c := range []struct {
		typ    string
		values []any
		want   string
	}{
		{"STRING", []any{"a", "b"}, "`x` IN UNNEST(?)"},
		{"DATE", []any{"2026-01-02"}, "`x` IN (SELECT SAFE_CAST(shp_v AS DATE) FROM UNNEST(?) AS shp_v)"},
		{"INT64", []any{int64(1), int64(2)}, "`x` IN UNNEST(?)"},
		{"INT64", []any{int64(1), 2.5}, "`x` IN UNNEST(?)"},
		{"FLOAT64", []any{int64(1), 2.5}, "`x` IN UNNEST(?)"},
		{"BOOL", []any{true}, "`x` IN UNNEST(?)"},
		{"STRING", []any{int64(1)}, ""},
		{"", []any{"a"}, ""},
		{"STRING", []any{"a", int64(1)}, ""},
	} {
		if got := BigQuery.InValues("`x`", c.typ, c.values, bind); got != c.want {
			t.Errorf("%s %v: got %q, want %q", c.typ, c.values, got, c.want)
		}
	}
	if _, ok := bound[4].([]float64); !ok {
		t.Errorf("integers among floats are bound as %T", bound[4])
	}
}

// TestBigQueryRowValues: GoogleSQL has no (a, b) IN (SELECT a, b ...);
// the compound-uniqueness check compares STRUCTs there, row values
// elsewhere.
func TestBigQueryRowValues(t *testing.T) {
	rv, ok := BigQuery.(rowValues)
	if !ok {
		t.Fatal("the BigQuery dialect writes no STRUCT row values")
	}
	cols := []string{"`a`", "`b c`"}
	if got := rv.RowValue(cols); got != "STRUCT(`a`, `b c`)" {
		t.Errorf("RowValue: %s", got)
	}
	if got := rv.SelectRowValue(cols); got != "AS STRUCT `a`, `b c`" {
		t.Errorf("SelectRowValue: %s", got)
	}
	for _, d := range []Dialect{DuckDB, Postgres} {
		if _, ok := d.(rowValues); ok {
			t.Errorf("%s has row values of its own", d.Name())
		}
	}
}
