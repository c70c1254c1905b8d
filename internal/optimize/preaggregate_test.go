package optimize

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// aggRun is a query run n times, each taking each; {n} in its text is the
// run's number (a literal that varies from run to run).
type aggRun struct {
	text string
	n    int
	each time.Duration
}

// aggHistory is the records of the runs, as the service records them.
func aggHistory(runs ...aggRun) []Record {
	var out []Record
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, r := range runs {
		for i := range r.n {
			out = append(out, Record{ID: int64(len(out) + 1), At: at.Add(time.Duration(len(out)) * time.Minute), Source: "user",
				Text: strings.ReplaceAll(r.text, "{n}", strconv.Itoa(i+1)), Duration: r.each, Calls: 1})
		}
	}
	return out
}

// eventsTable is a table whose names are quoted, in mixed case.
var eventsTable = Table{Name: "Events", Rows: 50_000_000, Columns: []Column{
	{Name: "EventId", Type: "BIGINT"}, {Name: "EventTime", Type: "TIMESTAMP WITH TIME ZONE"}, {Name: "Country", Type: "TEXT"}, {Name: "Device", Type: "TEXT"}, {Name: "UserId", Type: "TEXT"}}}

// preaggregates are the pre-aggregates among the recommendations.
func preaggregates(recs []Recommendation) []Change {
	out := []Change{}
	for _, r := range recs {
		if r.Rule == "preaggregate" {
			out = append(out, r.Change)
		}
	}
	return out
}

// TestPreaggregate: recurring queries that aggregate a whole table (or a
// range of its dates) get a pre-aggregate keyed by what they group by;
// selective, rare, joined and row-returning queries get none.
func TestPreaggregate(t *testing.T) {
	// Point lookups make a workload large enough for any rule to speak.
	lookups := aggRun{`SELECT order_id, quantity, unit_price FROM sales WHERE order_id = {n}`, 20, 5 * time.Millisecond}
	byRegion := aggRun{`SELECT region, sum(quantity * unit_price) AS revenue FROM sales GROUP BY region ORDER BY revenue DESC`, 30, 2 * time.Second}
	last30 := aggRun{`SELECT region, product, sum(quantity) FROM sales WHERE order_date >= current_date - INTERVAL 30 DAY GROUP BY region, product`, 24, 3 * time.Second}
	options := func(minQueries int64) Options {
		o := DefaultOptions
		o.MinQueries = minQueries
		return o
	}
	for _, tc := range []struct {
		name      string
		runs      []aggRun
		table     Table
		warehouse string
		options   Options
		want      []Change
	}{
		{"a recurring GROUP BY over the whole table", []aggRun{byRegion, lookups}, sales, "duckdb", Options{},
			[]Change{{Kind: "preaggregate", Columns: []string{"region"}}}},
		{"the last 30 days by region and product: the date first", []aggRun{last30, lookups}, sales, "bigquery", Options{},
			[]Change{{Kind: "preaggregate", Columns: []string{"order_date", "region", "product"}}}},
		{"a rollup by the date it filters: the date once", []aggRun{{`SELECT order_date, sum(quantity) FROM sales WHERE order_date BETWEEN '2026-01-01' AND '2026-03-{n}' GROUP BY order_date ORDER BY 1`, 12, time.Second}},
			sales, "postgres", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"order_date"}}}},
		{"GROUP BY positions and aliases", []aggRun{{`SELECT date_trunc('month', order_date) AS month, region, count(*) FROM sales GROUP BY 1, 2 -- run {n}`, 10, time.Second},
			{`SELECT upper(product) AS p, avg(unit_price) FROM sales GROUP BY p`, 8, 500 * time.Millisecond}},
			sales, "postgres", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"order_date", "region"}},
				{Kind: "preaggregate", Columns: []string{"product"}}}},
		{"a CTE of the last 30 days", []aggRun{{`WITH recent AS (SELECT * FROM sales WHERE order_date > current_date - 30) SELECT region, count(*) FROM recent GROUP BY region`, 10, time.Second}},
			sales, "duckdb", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"order_date", "region"}}}},
		{"a selective equality filter", []aggRun{{`SELECT product, sum(quantity) FROM sales WHERE customer_id = 'C{n}' GROUP BY product`, 50, time.Second}},
			sales, "duckdb", Options{}, []Change{}},
		{"one day: a partition serves it", []aggRun{{`SELECT region, sum(quantity) FROM sales WHERE order_date = DATE '2026-01-{n}' GROUP BY region`, 28, time.Second}},
			sales, "bigquery", Options{}, []Change{}},
		{"a range on a number selects rows", []aggRun{{`SELECT region, count(*) FROM sales WHERE quantity > {n} GROUP BY region`, 30, time.Second}},
			sales, "duckdb", Options{}, []Change{}},
		{"a range and an equality", []aggRun{{`SELECT product, sum(quantity) FROM sales WHERE order_date >= '2026-01-{n}' AND region = 'EMEA' GROUP BY product`, 30, time.Second}},
			sales, "postgres", Options{}, []Change{}},
		{"a query that ran once", []aggRun{{`SELECT region, count(*) FROM sales GROUP BY region`, 1, time.Minute}, lookups}, sales, "duckdb", Options{}, []Change{}},
		{"fewer runs than min_queries", []aggRun{{`SELECT region, count(*) FROM sales GROUP BY region -- {n}`, 4, time.Minute}, lookups},
			sales, "duckdb", Options{}, []Change{}},
		{"as many runs as min_queries", []aggRun{{`SELECT region, count(*) FROM sales GROUP BY region -- {n}`, 5, time.Minute}, lookups},
			sales, "duckdb", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"region"}}}},
		{"min_queries 1 still asks for a second run", []aggRun{{`SELECT region, count(*) FROM sales GROUP BY region`, 1, time.Minute}},
			sales, "duckdb", options(1), []Change{}},
		{"a join", []aggRun{{`SELECT c.segment, sum(s.quantity) FROM sales s JOIN customers c ON s.customer_id = c.customer_id GROUP BY c.segment`, 30, 5 * time.Second},
			{`SELECT s.region, count(*) FROM sales s, returns r WHERE s.order_id = r.order_id GROUP BY s.region`, 30, 5 * time.Second}},
			sales, "bigquery", Options{}, []Change{}},
		{"rows, not totals", []aggRun{{`SELECT order_id, order_date, quantity FROM sales ORDER BY order_date DESC LIMIT 100`, 30, time.Second},
			{`SELECT * FROM sales WHERE order_date >= current_date - 7`, 30, time.Second},
			{`SELECT order_id, sum(quantity) OVER (PARTITION BY region ORDER BY order_date) FROM sales`, 30, time.Second},
			{`SELECT * FROM sales WHERE quantity > (SELECT avg(quantity) FROM sales)`, 30, time.Second}},
			sales, "duckdb", Options{}, []Change{}},
		{"a key the table lacks", []aggRun{{`SELECT ghost, count(*) FROM sales GROUP BY ghost`, 30, time.Second}}, sales, "duckdb", Options{}, []Change{}},
		{"no more than three, the most time first", []aggRun{
			{`SELECT product, count(*) FROM sales GROUP BY product`, 10, time.Second},                // 10s
			{`SELECT region, sum(quantity) FROM sales GROUP BY region`, 5, 4 * time.Second},          // 20s, with the next: 26s
			{`SELECT region, count(*) FROM sales GROUP BY region`, 6, time.Second},                   // the same keys
			{`SELECT customer_id, max(order_date) FROM sales GROUP BY 1`, 6, 500 * time.Millisecond}, // 3s
			{`SELECT note, count(*) FROM sales GROUP BY note`, 7, 2 * time.Second},                   // 14s
			{`SELECT count(*) FROM sales`, 20, 100 * time.Millisecond},                               // 2s
		}, sales, "duckdb", Options{}, []Change{
			{Kind: "preaggregate", Columns: []string{"region"}},
			{Kind: "preaggregate", Columns: []string{"note"}},
			{Kind: "preaggregate", Columns: []string{"product"}}}},
		{"quoted names in mixed case: the day of a timestamp", []aggRun{
			{`SELECT "Country", COUNT(*) AS "Visits" FROM "analytics"."Events" WHERE "EventTime" >= NOW() - INTERVAL '7 days' GROUP BY "Country"`, 40, 8 * time.Second}},
			eventsTable, "postgres", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"EventTime", "Country"}, Granularity: "DAY"}}},
		{"a timestamp the queries group by is kept as they group it", []aggRun{
			{`SELECT date_trunc('hour', "EventTime") AS "Hour", count(*) FROM "Events" WHERE "EventTime" >= now() - interval '1 day' GROUP BY 1`, 40, 8 * time.Second}},
			eventsTable, "postgres", Options{}, []Change{{Kind: "preaggregate", Columns: []string{"EventTime"}}}},
		{"unquoted names fold to the table's", []aggRun{{`SELECT Region, SUM(Quantity) FROM Sales GROUP BY Region`, 20, time.Second}},
			Table{Name: "Sales", Rows: 10_000_000, Columns: []Column{{Name: "Region", Type: "STRING"}, {Name: "Quantity", Type: "INT64"}, {Name: "OrderDate", Type: "DATE"}}}, "bigquery", Options{},
			[]Change{{Kind: "preaggregate", Columns: []string{"Region"}}}},
		{"COUNT(*) of the whole table: DuckDB counts its row groups", []aggRun{{`SELECT count(*) FROM sales -- dashboard tile {n}`, 40, 300 * time.Millisecond}, lookups},
			sales, "duckdb", Options{}, []Change{}},
		{"a sum of the whole table: duckdb", []aggRun{{`SELECT count(*), sum(quantity) FROM sales -- tile {n}`, 40, 300 * time.Millisecond}, lookups},
			sales, "duckdb", Options{}, []Change{{Kind: "preaggregate", Columns: []string{}}}},
		{"COUNT(*) of the whole table: postgres", []aggRun{{`SELECT COUNT(*) AS n FROM public.sales`, 40, 2 * time.Second}},
			sales, "postgres", Options{}, []Change{{Kind: "preaggregate", Columns: []string{}}}},
		{"COUNT(*) of the whole table: BigQuery reads its metadata", []aggRun{{"SELECT COUNT(*) FROM `shop.sales`", 40, time.Second}},
			sales, "bigquery", Options{}, []Change{}},
		{"a sum of the whole table: BigQuery scans it", []aggRun{{"SELECT COUNT(*), SUM(quantity) FROM `shop.sales`", 40, time.Second}},
			sales, "bigquery", Options{}, []Change{{Kind: "preaggregate", Columns: []string{}}}},
		{"a range on a date the table is partitioned by: no full scan", []aggRun{last30}, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{PartitionBy: "order_date"}}, "bigquery", Options{}, []Change{}},
		{"a range on a date the table is sorted by", []aggRun{last30}, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{SortedBy: []string{"region", "order_date"}}}, "duckdb", Options{}, []Change{}},
		{"a BRIN index on the date", []aggRun{last30}, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{Indexes: [][]string{{"order_date"}}}}, "postgres", Options{}, []Change{}},
		{"the whole table's rollup, partitioned or not", []aggRun{byRegion}, Table{Name: "sales", Rows: sales.Rows, Columns: sales.Columns,
			Layout: Layout{PartitionBy: "order_date", ClusterBy: []string{"region"}}}, "bigquery", Options{},
			[]Change{{Kind: "preaggregate", Columns: []string{"region"}}}},
		{"a small table", []aggRun{byRegion}, Table{Name: "sales", Rows: 40_000, Columns: sales.Columns}, "duckdb", Options{}, []Change{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The usage of the table (BigQuery's `shop.sales` is named so).
			work := Summarize(aggHistory(tc.runs...))
			u := work[tc.table.Name]
			for name, w := range work {
				if len(work) == 1 || strings.EqualFold(name, tc.table.Name) {
					u = w
				}
			}
			if u == nil {
				t.Fatalf("no usage of %s", tc.table.Name)
			}
			recs := Recommend(Input{Table: tc.table, Usage: *u, Warehouse: tc.warehouse, Options: tc.options})
			if got := preaggregates(recs); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("pre-aggregates %+v, want %+v", got, tc.want)
			}
			for _, r := range recs {
				if r.Rule != "preaggregate" {
					continue
				}
				if len(r.Evidence) < 2 || r.Benefit == "" || r.Risk == "" || r.Table != tc.table.Name || !r.Change.Advice() {
					t.Errorf("recommendation %+v", r)
				}
			}
		})
	}
}

// TestPreaggregateSays: the evidence names the runs, their time, its
// share, the rows they read and the query; the benefit and the risk say
// what each warehouse does.
func TestPreaggregateSays(t *testing.T) {
	recs := aggHistory(
		aggRun{`SELECT region, sum(quantity) FROM sales WHERE order_date >= current_date - 90 GROUP BY region`, 30, 2 * time.Second},
		aggRun{`SELECT region, count(*) FROM sales WHERE order_date >= current_date - 7 GROUP BY 1`, 10, time.Second},
		aggRun{`SELECT * FROM sales WHERE order_id = {n}`, 20, 500 * time.Millisecond},
	)
	for i := range recs[:30] {
		recs[i].RowsScanned = 10_000_000
	}
	// An imported history's record stands for many runs.
	recs = append(recs, Record{Source: SourceImport, Text: `SELECT region, avg(quantity) FROM sales WHERE order_date BETWEEN $1 AND $2 GROUP BY region`,
		Calls: 120, Duration: 2 * time.Minute})
	u := Summarize(recs)["sales"]
	for _, tc := range []struct {
		warehouse string
		evidence  []string
		benefit   []string
		risk      []string
	}{
		{"duckdb", []string{
			"120 runs took 2m0s (60% of the table's query time): select region, avg (quantity) from sales where order_date between ? and ? group by region",
			"30 runs took 1m0s (30% of the table's query time), reading 300000000 rows: select region, sum (quantity) from sales where order_date >= current_date - ? group by region",
			"10 runs took 10s (5% of the table's query time): select region, count (*) from sales where order_date >= current_date - ? group by ?",
			"no filter but a range on order_date (DATE), which the pre-aggregate keeps as its first key (order_date); the table has 10000000 rows"},
			[]string{"second pipeline step", "CREATE OR REPLACE TABLE ... AS SELECT order_date, region, <the queries' aggregates> FROM sales GROUP BY order_date, region", "must name the summary table"},
			[]string{"stale between refreshes", "storage", "re-reads the whole table on every load", "how many distinct values order_date, region have"}},
		{"postgres", nil,
			[]string{"CREATE MATERIALIZED VIEW", "unique index on its keys", "REFRESH MATERIALIZED VIEW CONCURRENTLY", "must name the view"},
			[]string{"stale between refreshes", "storage"}},
		{"bigquery", nil,
			[]string{"CREATE MATERIALIZED VIEW", "refreshes it incrementally", "rewrites matching queries to read it"},
			[]string{"invalidates it", "storage", "refresh is billed"}},
	} {
		got := preaggregateRule{}.Recommend(Input{Table: sales, Usage: *u, Warehouse: tc.warehouse, Options: DefaultOptions})
		if len(got) != 1 {
			t.Fatalf("%s: %+v", tc.warehouse, got)
		}
		r := got[0]
		if tc.evidence != nil && !reflect.DeepEqual(r.Evidence, tc.evidence) {
			t.Errorf("%s evidence:\n%s", tc.warehouse, strings.Join(r.Evidence, "\n"))
		}
		for _, s := range tc.benefit {
			if !strings.Contains(r.Benefit, s) {
				t.Errorf("%s benefit lacks %q: %s", tc.warehouse, s, r.Benefit)
			}
		}
		for _, s := range tc.risk {
			if !strings.Contains(r.Risk, s) {
				t.Errorf("%s risk lacks %q: %s", tc.warehouse, s, r.Risk)
			}
		}
	}

	// Shapes with the same keys are one pre-aggregate, with the evidence
	// of each; the whole table's totals another, whose risk has no keys
	// to speak of.
	u = Summarize(aggHistory(aggRun{`SELECT region, sum(quantity) FROM sales GROUP BY region`, 5, 4 * time.Second},
		aggRun{`SELECT region, count(*) FROM sales GROUP BY 1`, 6, time.Second}, aggRun{`SELECT count(*) FROM sales`, 8, time.Second}))["sales"]
	got := preaggregateRule{}.Recommend(Input{Table: sales, Usage: *u, Warehouse: "postgres", Options: DefaultOptions})
	if len(got) != 2 || !reflect.DeepEqual(got[0].Change.Columns, []string{"region"}) || len(got[0].Evidence) != 3 ||
		!strings.HasPrefix(got[0].Evidence[1], "6 runs took 6s") || len(got[1].Change.Columns) != 0 || strings.Contains(got[1].Risk, "distinct values") {
		t.Errorf("merged: %+v", got)
	}

	// Quoted names stay quoted in the SQL the benefit gives; a
	// timestamp's day is its key.
	u = Summarize(aggHistory(aggRun{`SELECT "Country", count(*) FROM "Events" WHERE "EventTime" > now() - interval '7 days' GROUP BY "Country"`, 10, time.Second}))["Events"]
	for wh, want := range map[string]string{
		"postgres": `SELECT date_trunc('day', "EventTime"), "Country", <the queries' aggregates> FROM "Events" GROUP BY date_trunc('day', "EventTime"), "Country"`,
		"bigquery": "SELECT DATE(EventTime), Country, <the queries' aggregates> FROM Events GROUP BY DATE(EventTime), Country",
	} {
		got := preaggregateRule{}.Recommend(Input{Table: eventsTable, Usage: *u, Warehouse: wh, Options: DefaultOptions})
		if len(got) != 1 || !strings.Contains(got[0].Benefit, want) ||
			got[0].Evidence[len(got[0].Evidence)-1] != "no filter but a range on EventTime (TIMESTAMP WITH TIME ZONE), which the pre-aggregate keeps as its first key (the day of EventTime); the table has 50000000 rows" {
			t.Errorf("%s: %+v", wh, got)
		}
	}
}

// TestPreaggregateChange: how a pre-aggregate reads, and that it is
// advice, as the queries' advice is, and no layout change is.
func TestPreaggregateChange(t *testing.T) {
	for _, tc := range []struct {
		c      Change
		want   string
		advice bool
	}{
		{Change{Kind: "preaggregate", Columns: []string{"order_date", "region"}},
			"pre-aggregate by order_date, region (a materialised view or a summary table refreshed after each load)", true},
		{Change{Kind: "preaggregate", Columns: []string{"EventTime", "Country"}, Granularity: "DAY"},
			"pre-aggregate by the day of EventTime, Country (a materialised view or a summary table refreshed after each load)", true},
		{Change{Kind: "preaggregate", Columns: []string{}},
			"pre-aggregate the whole table into one row (a materialised view or a summary table refreshed after each load)", true},
		{Change{Kind: "advice", Columns: []string{"note"}}, "name the columns the queries use instead of SELECT * (never named: note)", true},
		{Change{Kind: "sort", Columns: []string{"region"}}, "sort by region", false},
		{Change{Kind: "partition", Columns: []string{"order_date"}, Granularity: "DAY"}, "partition by order_date (day)", false},
		{Change{Kind: "cluster", Columns: []string{"region"}}, "cluster by region", false},
		{Change{Kind: "index", Columns: []string{"region"}, Method: "btree"}, "btree index on region", false},
	} {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
		if tc.c.Advice() != tc.advice {
			t.Errorf("%+v: advice %v", tc.c, !tc.advice)
		}
	}
}

func TestCountsOnly(t *testing.T) {
	for sql, want := range map[string]bool{
		`SELECT count(*) FROM sales`:                  true,
		`SELECT COUNT(1) AS n FROM sales`:             true,
		`SELECT count(*) n, count(*) AS m FROM sales`: true,
		`SELECT count(*), sum(quantity) FROM sales`:   false,
		`SELECT count(DISTINCT region) FROM sales`:    false,
		`SELECT count(region) FROM sales`:             false,
		`SELECT count(*) + 1 FROM sales`:              false,
		`SELECT count(*)`:                             false,
		`SELECT region, count(*) FROM sales`:          false,
		`WITH x AS (SELECT 1) SELECT count(*) FROM x`: false,
	} {
		if got := countsOnly(Normalize(sql)); got != want {
			t.Errorf("%s: %v", sql, got)
		}
	}
}

// TestPreaggregateName: a name the benefit's SQL can take bare stays
// bare; a keyword, a capital (outside BigQuery), a space or a leading
// digit is quoted in the warehouse's way.
func TestPreaggregateName(t *testing.T) {
	for _, c := range []struct{ name, warehouse, want string }{
		{"region", "duckdb", "region"},
		{"order_date", "postgres", "order_date"},
		{"order", "duckdb", `"order"`},
		{"group", "postgres", `"group"`},
		{"date", "bigquery", "`date`"},
		{"user", "postgres", `"user"`},
		{"Region", "duckdb", `"Region"`},
		{"Region", "bigquery", "Region"},
		{"1st", "duckdb", `"1st"`},
		{`odd"name`, "duckdb", `"odd""name"`},
		{"a b", "bigquery", "`a b`"},
	} {
		if got := preaggregateName(c.name, c.warehouse); got != c.want {
			t.Errorf("%s on %s: %s, want %s", c.name, c.warehouse, got, c.want)
		}
	}
}
