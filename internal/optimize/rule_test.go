package optimize

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

// workload makes records: each query text run n times.
func workload(mix map[string]int) []Record {
	var out []Record
	i := 0
	for text, n := range mix {
		for range n {
			i++
			out = append(out, Record{ID: int64(i), Text: fmt.Sprintf(text, i%28+1), Duration: 10 * time.Millisecond, Calls: 1})
		}
	}
	return out
}

var sales = Table{Name: "sales", Rows: 10_000_000, Columns: []Column{
	{Name: "order_id", Type: "BIGINT"}, {Name: "order_date", Type: "DATE"}, {Name: "customer_id", Type: "VARCHAR"}, {Name: "region", Type: "VARCHAR"},
	{Name: "product", Type: "VARCHAR"}, {Name: "quantity", Type: "BIGINT"}, {Name: "unit_price", Type: "DECIMAL(10,2)"}, {Name: "note", Type: "VARCHAR"}}}

func changes(recs []Recommendation) []Change {
	out := []Change{}
	for _, r := range recs {
		out = append(out, r.Change)
	}
	return out
}

// TestRulesChooseAsAnExpertWould: small workloads whose right answer is
// known, on each warehouse, including those where the right answer is
// to change nothing.
func TestRulesChooseAsAnExpertWould(t *testing.T) {
	dateAndRegion := map[string]int{
		`SELECT sum(quantity) FROM sales WHERE order_date >= '2026-01-%02d' AND order_date < '2026-02-01'`:               40,
		`SELECT count(*) FROM sales WHERE region = 'EMEA' AND order_date BETWEEN '2026-01-01' AND '2026-01-%02d'`:        30,
		`SELECT product, sum(quantity) FROM sales WHERE order_date > DATE '2026-01-%02d' AND region = 'APAC' GROUP BY 1`: 30,
	}
	equalityOnly := map[string]int{
		`SELECT * FROM sales WHERE customer_id = 'C%05d'`:                                 60,
		`SELECT sum(quantity) FROM sales WHERE customer_id = 'C%d' AND product = 'beans'`: 25,
		`SELECT count(*) FROM sales WHERE region = 'EMEA' AND product = 'x%d'`:            15,
	}
	fullScans := map[string]int{
		`SELECT region, sum(quantity) FROM sales GROUP BY region -- %d`: 50,
		`SELECT count(*) FROM sales -- %d`:                              50,
	}
	rare := map[string]int{
		`SELECT * FROM sales WHERE customer_id = 'C%05d'`: 10,
		`SELECT count(*) FROM sales -- %d`:                90, // customer_id in 10%: below the 20% a cluster needs
	}
	rangeOnText := map[string]int{`SELECT * FROM sales WHERE note > 'm%d'`: 50}

	for _, tc := range []struct {
		name      string
		mix       map[string]int
		table     Table
		warehouse string
		want      []Change
	}{
		{"bigquery: date ranges and a region", dateAndRegion, sales, "bigquery", []Change{
			{Kind: "cluster", Columns: []string{"region"}},
			{Kind: "partition", Columns: []string{"order_date"}, Granularity: "DAY", RequireFilter: true},
			{Kind: "preaggregate", Columns: []string{"order_date"}}}}, // sum(quantity) over a range of days
		{"duckdb: date ranges and a region", dateAndRegion, sales, "duckdb", []Change{
			{Kind: "index", Columns: []string{"region"}, Method: "art"},
			{Kind: "sort", Columns: []string{"region", "order_date"}},
			{Kind: "sort", Columns: []string{"order_date", "region"}, Granularity: "MONTH"},
			{Kind: "preaggregate", Columns: []string{"order_date"}}}},
		{"postgres: date ranges and a region", dateAndRegion, sales, "postgres", []Change{
			{Kind: "index", Columns: []string{"region"}, Method: "btree"},
			{Kind: "index", Columns: []string{"order_date"}, Method: "brin"},
			{Kind: "partition", Columns: []string{"order_date"}, Granularity: "MONTH"},
			{Kind: "preaggregate", Columns: []string{"order_date"}}}},
		// 60% of the queries select every column; four are never named.
		{"bigquery: equality, most filtered first", equalityOnly, sales, "bigquery", []Change{
			{Kind: "cluster", Columns: []string{"customer_id", "product"}}, // region: 15%, below 20%
			{Kind: "advice", Columns: []string{"note", "order_date", "order_id", "unit_price"}}}},
		{"duckdb: equality, most filtered first", equalityOnly, sales, "duckdb", []Change{
			{Kind: "index", Columns: []string{"customer_id"}, Method: "art"},
			{Kind: "sort", Columns: []string{"customer_id", "product"}},
			{Kind: "advice", Columns: []string{"note", "order_date", "order_id", "unit_price"}}}},
		{"select * where every column is used", map[string]int{
			`SELECT * FROM sales -- a %d`: 30,
			`SELECT order_id, order_date, customer_id, region, product, quantity, unit_price, note FROM sales -- %d`: 70}, sales, "bigquery",
			[]Change{}},
		{"select * in few queries", map[string]int{`SELECT * FROM sales -- %d`: 15, `SELECT count(*) FROM sales -- %d`: 85}, sales, "duckdb",
			[]Change{}}, // DuckDB counts a table's rows from its row groups
		// No layout helps full scans; a pre-aggregate does (BigQuery counts
		// a table's rows from its metadata).
		{"full scans: no layout helps", fullScans, sales, "bigquery", []Change{{Kind: "preaggregate", Columns: []string{"region"}}}},
		{"full scans on duckdb", fullScans, sales, "duckdb", []Change{{Kind: "preaggregate", Columns: []string{"region"}}}},
		{"full scans on postgres", fullScans, sales, "postgres", []Change{
			{Kind: "preaggregate", Columns: []string{}}, {Kind: "preaggregate", Columns: []string{"region"}}}},
		{"a column in too few queries", rare, sales, "duckdb", []Change{}},
		{"a range on a text column is no partition", rangeOnText, sales, "bigquery", []Change{
			{Kind: "advice", Columns: []string{"customer_id", "order_date", "order_id", "product", "quantity", "region", "unit_price"}}}},
		{"a small table", dateAndRegion, Table{Name: "sales", Rows: 50_000, Columns: sales.Columns}, "bigquery", []Change{}},
		{"already so", dateAndRegion, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{PartitionBy: "order_date", ClusterBy: []string{"region"}}}, "bigquery", []Change{}},
		{"already sorted", dateAndRegion, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{SortedBy: []string{"region", "order_date", "product"}}}, "duckdb", []Change{}},
		{"too few queries", map[string]int{`SELECT * FROM sales WHERE region = 'x%d'`: 3}, sales, "bigquery", []Change{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			use := Summarize(workload(tc.mix))["sales"]
			if use == nil {
				t.Fatal("no usage of sales")
			}
			got := Recommend(Input{Table: tc.table, Usage: *use, Warehouse: tc.warehouse})
			if !reflect.DeepEqual(changes(got), tc.want) {
				t.Errorf("changes %+v, want %+v", changes(got), tc.want)
			}
			for _, r := range got {
				if len(r.Evidence) == 0 || r.Benefit == "" || r.Risk == "" || r.Table != "sales" {
					t.Errorf("recommendation without evidence, benefit or risk: %+v", r)
				}
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	recs := []Record{
		{Text: `SELECT * FROM sales s JOIN customers c ON s.customer_id = c.id WHERE s.region = 'EMEA'`, Duration: time.Second, Calls: 1},
		{Text: `SELECT * FROM sales s JOIN customers c ON s.customer_id = c.id WHERE s.region = 'APAC'`, Duration: 2 * time.Second, Calls: 1},
		{Text: `SELECT region, count(*) FROM sales GROUP BY region`, Duration: time.Second, Calls: 3},
		{Text: `SELECT broken FROM sales WHERE`, Error: "syntax error", Calls: 1},
	}
	u := Summarize(recs)
	s, c := u["sales"], u["customers"]
	if s == nil || c == nil {
		t.Fatalf("usage %v", u)
	}
	if s.Queries != 5 || s.Shapes != 2 || s.Time != 4*time.Second || s.SelectStar != 2 || s.Equality["region"] != 2 ||
		s.GroupBy["region"] != 3 || s.Join["customer_id"] != 2 || s.Filtered != 2 {
		t.Errorf("sales %+v", s)
	}
	if c.Queries != 2 || c.Join["id"] != 2 || c.Equality["region"] != 0 {
		t.Errorf("customers %+v", c)
	}
	if len(s.Top) != 2 || s.Top[0].Calls != 2 || s.Top[0].Time != 3*time.Second {
		t.Errorf("top shapes %+v", s.Top)
	}
}

// TestRulesUseTheTablesColumns: a column the history names that the
// table lacks is never recommended.
func TestRulesUseTheTablesColumns(t *testing.T) {
	use := Summarize(workload(map[string]int{`SELECT count(*) FROM sales WHERE ghost = 'x%d'`: 20}))["sales"]
	if got := Recommend(Input{Table: sales, Usage: *use, Warehouse: "duckdb"}); len(got) != 0 {
		t.Errorf("recommended on a column sales lacks: %+v", changes(got))
	}
}

// TestTemporalTypes: every engine's date and timestamp types make a
// column one to partition by; other types never do.
func TestTemporalTypes(t *testing.T) {
	mix := map[string]int{`SELECT count(*) FROM sales WHERE order_date >= '2026-01-%02d'`: 20}
	for _, tc := range []struct {
		warehouse, typ string
		partition      bool
	}{
		{"bigquery", "DATE", true}, {"bigquery", "TIMESTAMP", true}, {"bigquery", "DATETIME", true}, {"bigquery", "STRING", false},
		{"bigquery", "INT64", false}, {"bigquery", "TIME", false},
		{"postgres", "DATE", true}, {"postgres", "TIMESTAMP WITH TIME ZONE", true}, {"postgres", "TIMESTAMP WITHOUT TIME ZONE", true},
		{"postgres", "timestamptz", true}, {"postgres", "INTERVAL", false}, {"postgres", "TEXT", false}, {"postgres", "TIME WITH TIME ZONE", false},
		{"duckdb", "TIMESTAMP_NS", true}, {"duckdb", "TIMESTAMP WITH TIME ZONE", true}, {"duckdb", "VARCHAR", false},
	} {
		table := Table{Name: "sales", Rows: 10_000_000, Columns: []Column{{Name: "order_date", Type: tc.typ}, {Name: "region", Type: "VARCHAR"}}}
		use := Summarize(workload(mix))["sales"]
		got := changes(Recommend(Input{Table: table, Usage: *use, Warehouse: tc.warehouse}))
		partitioned := false
		for _, c := range got {
			if c.Kind == "partition" || c.Kind == "sort" || c.Kind == "index" && c.Method == "brin" {
				partitioned = true
			}
		}
		if partitioned != tc.partition {
			t.Errorf("%s %s: %+v", tc.warehouse, tc.typ, got)
		}
	}
}

// TestChangeString: a change as a person reads it in recommend's output.
func TestChangeString(t *testing.T) {
	for _, tc := range []struct {
		c    Change
		want string
	}{
		{Change{Kind: "sort", Columns: []string{"customer_id", "order_date"}}, "sort by customer_id, order_date"},
		{Change{Kind: "sort", Columns: []string{"order_date", "region", "product"}, Granularity: "MONTH"}, "sort by the month of order_date, then region, product"},
		{Change{Kind: "sort", Columns: []string{"order_date"}, Granularity: "MONTH"}, "sort by the month of order_date"},
		{Change{Kind: "partition", Columns: []string{"order_date"}, Granularity: "DAY", RequireFilter: true}, "partition by order_date (day), partition filter required"},
		{Change{Kind: "cluster", Columns: []string{"region", "product"}}, "cluster by region, product"},
		{Change{Kind: "index", Columns: []string{"customer_id"}, Method: "art"}, "art index on customer_id"},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
}
