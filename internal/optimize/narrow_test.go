package optimize

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func digits(n int) *int { return &n }

// TestNarrowTypes: a wide decimal whose values are small is narrowed,
// keeping its scale and two digits of headroom, on the warehouses where
// the width costs; never a column whose values need the width, one no
// query reads, one not measured, or any on PostgreSQL.
func TestNarrowTypes(t *testing.T) {
	queries := func(cols ...string) map[string]*Usage {
		var recs []Record
		for i := range 10 {
			recs = append(recs, Record{Source: "user", Text: fmt.Sprintf("SELECT region, sum(%s) FROM orders WHERE region = 'R%d' GROUP BY region",
				strings.Join(cols, ") + sum("), i), Duration: time.Second})
		}
		return Summarize(recs)
	}
	wide := func(name, typ string, d *int) Column { return Column{Name: name, Type: typ, IntDigits: d} }
	for _, tc := range []struct {
		name      string
		warehouse string
		cols      []Column
		read      []string
		want      string // the change, "" for none
	}{
		{"duckdb: money in DECIMAL(38,2)", "duckdb", []Column{wide("amount", "DECIMAL(38,2)", digits(7))}, []string{"amount"},
			"narrow amount to DECIMAL(18,2)"},
		{"duckdb: whole numbers in DECIMAL(38,0)", "duckdb", []Column{wide("qty", "DECIMAL(38,0)", digits(4))}, []string{"qty"},
			"narrow qty to DECIMAL(18,0)"},
		{"duckdb: NUMERIC spelled so, with a space", "duckdb", []Column{wide("amount", "numeric(30, 4)", digits(3))}, []string{"amount"},
			"narrow amount to DECIMAL(18,4)"},
		{"duckdb: two columns in one change", "duckdb", []Column{wide("amount", "DECIMAL(38,2)", digits(7)), wide("tax", "DECIMAL(38,9)", digits(1))},
			[]string{"amount", "tax"}, "narrow amount to DECIMAL(18,2), tax to DECIMAL(18,9)"},
		{"duckdb: exactly the headroom", "duckdb", []Column{wide("amount", "DECIMAL(38,2)", digits(14))}, []string{"amount"},
			"narrow amount to DECIMAL(18,2)"},
		{"duckdb: one digit short of the headroom", "duckdb", []Column{wide("amount", "DECIMAL(38,2)", digits(15))}, []string{"amount"}, ""},
		{"duckdb: values that need the width", "duckdb", []Column{wide("big", "DECIMAL(38,0)", digits(25))}, []string{"big"}, ""},
		{"duckdb: a scale too wide for 18 digits", "duckdb", []Column{wide("ratio", "DECIMAL(38,20)", digits(0))}, []string{"ratio"}, ""},
		{"duckdb: already 18 digits", "duckdb", []Column{wide("amount", "DECIMAL(18,2)", digits(3))}, []string{"amount"}, ""},
		{"duckdb: not measured", "duckdb", []Column{{Name: "amount", Type: "DECIMAL(38,2)"}}, []string{"amount"}, ""},
		{"duckdb: no query reads it", "duckdb", []Column{wide("amount", "DECIMAL(38,2)", digits(3)), wide("tax", "DECIMAL(38,2)", digits(3))},
			[]string{"tax"}, "narrow tax to DECIMAL(18,2)"},
		{"duckdb: values below 1 (0 integer digits)", "duckdb", []Column{wide("ratio", "DECIMAL(38,6)", digits(0))}, []string{"ratio"},
			"narrow ratio to DECIMAL(18,6)"},
		{"duckdb: a text or float column", "duckdb", []Column{wide("note", "VARCHAR", digits(3)), wide("f", "DOUBLE", digits(3))},
			[]string{"note", "f"}, ""},
		{"bigquery: BIGNUMERIC of small values", "bigquery", []Column{wide("amount", "BIGNUMERIC(40,2)", digits(12))}, []string{"amount"},
			"narrow amount to NUMERIC"},
		{"bigquery: 27 digits to spare whatever the scale", "bigquery", []Column{wide("amount", "BIGNUMERIC(40,9)", digits(27))}, []string{"amount"},
			"narrow amount to NUMERIC"},
		{"bigquery: 28 digits need more than NUMERIC's 29 less 2", "bigquery", []Column{wide("amount", "BIGNUMERIC(40,2)", digits(28))}, []string{"amount"}, ""},
		{"bigquery: BIGNUMERIC with 38 decimals", "bigquery", []Column{wide("amount", "BIGNUMERIC", digits(3))}, []string{"amount"}, ""},
		{"bigquery: NUMERIC is already the narrow one", "bigquery", []Column{wide("amount", "NUMERIC(38,9)", digits(3))}, []string{"amount"}, ""},
		{"postgres: numeric is kept by its digits", "postgres", []Column{wide("amount", "numeric(38,2)", digits(3))}, []string{"amount"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cols := append([]Column{{Name: "region", Type: "VARCHAR"}}, tc.cols...)
			in := Input{Table: Table{Name: "orders", Rows: 20_000_000, Columns: cols}, Usage: *queries(tc.read...)["orders"], Warehouse: tc.warehouse}
			var got []string
			for _, r := range (narrowRule{}).Recommend(in) {
				got = append(got, r.Change.String())
				if r.Rule != "narrow_types" || r.Change.Kind != "type" || len(r.Change.Types) != len(r.Change.Columns) || len(r.Evidence) != len(r.Change.Columns) ||
					r.Benefit == "" || !strings.Contains(r.Risk, "quarantine") {
					t.Errorf("recommendation %+v", r)
				}
			}
			want := []string{}
			if tc.want != "" {
				want = []string{tc.want}
			}
			if got == nil {
				got = []string{}
			}
			if !slices.Equal(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

// TestNarrowEvidence: the evidence says the type, the largest value's
// digits, what the narrower type holds and how many queries read it.
func TestNarrowEvidence(t *testing.T) {
	var recs []Record
	for i := range 8 {
		recs = append(recs, Record{Source: "user", Text: fmt.Sprintf("SELECT sum(amount) FROM orders WHERE day = DATE '2026-01-0%d'", i+1)})
	}
	recs = append(recs, Record{Source: "user", Text: "SELECT region FROM orders"}, Record{Source: "user", Text: "SELECT region FROM orders -- 2"})
	in := Input{Table: Table{Name: "orders", Rows: 5_000_000, Columns: []Column{{Name: "amount", Type: "DECIMAL(38,2)", IntDigits: digits(6)},
		{Name: "region", Type: "VARCHAR"}, {Name: "day", Type: "DATE"}}}, Usage: *Summarize(recs)["orders"], Warehouse: "duckdb"}
	got := (narrowRule{}).Recommend(in)
	if len(got) != 1 {
		t.Fatalf("recommendations %+v", got)
	}
	want := "amount is DECIMAL(38,2); its largest value has 6 integer digits, DECIMAL(18,2) holds 16 (80% of 10 queries read it)"
	if got[0].Evidence[0] != want {
		t.Errorf("evidence %q, want %q", got[0].Evidence[0], want)
	}
	// DuckDB alters no column of an indexed table: nothing for one.
	indexed := in
	indexed.Table.Layout.Indexes = [][]string{{"region"}}
	if got := (narrowRule{}).Recommend(indexed); len(got) != 0 {
		t.Errorf("an indexed table: %+v", got)
	}
	// Through Recommend, with the other rules: a type change of its own.
	in.Options = DefaultOptions
	var kinds []string
	for _, r := range Recommend(in) {
		kinds = append(kinds, r.Change.Kind)
	}
	if !slices.Contains(kinds, "type") {
		t.Errorf("kinds %v", kinds)
	}
}

func TestIntegerDigits(t *testing.T) {
	for v, want := range map[string]int{"": 0, "0.5": 0, "12345.67": 5, "-987654.25": 6, "+7": 1, "000123": 3, "100": 3} {
		if got := IntegerDigits(v); got != want {
			t.Errorf("%q: %d, want %d", v, got, want)
		}
	}
}

func TestDecimalType(t *testing.T) {
	for _, tc := range []struct {
		typ     string
		p, s    int
		big, ok bool
	}{
		{"DECIMAL(38,2)", 38, 2, false, true},
		{"decimal(18, 3)", 18, 3, false, true},
		{"NUMERIC(10)", 10, 0, false, true},
		{"BIGNUMERIC", 76, 38, true, true},
		{"BIGNUMERIC(50,2)", 50, 2, true, true},
		{"BIGDECIMAL", 76, 38, true, true},
		{"NUMERIC", 0, 0, false, false}, // no precision: not a width to narrow
		{"DECIMAL(2,5)", 0, 0, false, false},
		{"DECIMAL(x,2)", 0, 0, false, false},
		{"DECIMAL(38,2", 0, 0, false, false},
		{"INTEGER", 0, 0, false, false},
		{"HUGEINT", 0, 0, false, false},
		{"", 0, 0, false, false},
	} {
		p, s, big, ok := DecimalType(tc.typ)
		if p != tc.p || s != tc.s || big != tc.big || ok != tc.ok {
			t.Errorf("%q: %d %d %v %v", tc.typ, p, s, big, ok)
		}
	}
}
