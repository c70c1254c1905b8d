package optimize

import (
	"reflect"
	"testing"
)

func ref(table, col string) ColumnRef { return ColumnRef{Table: table, Column: col} }

func TestAnalyze(t *testing.T) {
	for _, tc := range []struct {
		name       string
		sql        string
		tables     []string
		filters    []Filter
		groupBy    []ColumnRef
		joins      []ColumnRef
		selectStar bool
	}{
		{name: "equality and range", sql: `SELECT sum(amount) FROM sales WHERE region = 'EMEA' AND order_date >= DATE '2026-01-01' AND order_date < DATE '2026-02-01'`,
			tables:  []string{"sales"},
			filters: []Filter{{ref("sales", "region"), Equality}, {ref("sales", "order_date"), Range}}},
		{name: "between and in", sql: `select count(*) from sales where order_date between '2026-01-01' and '2026-01-31' and customer_id in ('C1','C2',"C3")`,
			tables:  []string{"sales"},
			filters: []Filter{{ref("sales", "order_date"), Range}, {ref("sales", "customer_id"), Equality}}},
		{name: "in with literals", sql: `SELECT * FROM sales WHERE customer_id IN ('C1', 'C2') AND quantity > 3`,
			tables: []string{"sales"}, selectStar: true,
			filters: []Filter{{ref("sales", "customer_id"), Equality}, {ref("sales", "quantity"), Range}}},
		{name: "value on the left", sql: `SELECT id FROM events WHERE 100 < amount AND '2026-01-01' <= ts`,
			tables:  []string{"events"},
			filters: []Filter{{ref("events", "amount"), Range}, {ref("events", "ts"), Range}}},
		{name: "parameters and casts", sql: `SELECT id FROM main.events e WHERE e.user_id = $1 AND e.ts::date >= ?`,
			tables:  []string{"events"},
			filters: []Filter{{ref("events", "user_id"), Equality}, {ref("events", "ts"), Range}}},
		{name: "join with aliases", sql: `SELECT c.name, sum(o.total) FROM orders AS o JOIN customers c ON o.customer_id = c.id WHERE o.status = 'paid' GROUP BY c.name`,
			tables:  []string{"orders", "customers"},
			filters: []Filter{{ref("orders", "status"), Equality}},
			groupBy: []ColumnRef{ref("customers", "name")},
			joins:   []ColumnRef{ref("orders", "customer_id"), ref("customers", "id")}},
		{name: "quoted names and schema", sql: `SELECT "Region", count(*) FROM "analytics"."Sales" WHERE "Region" = 'x' GROUP BY 1`,
			tables:  []string{"Sales"},
			filters: []Filter{{ref("Sales", "Region"), Equality}}},
		{name: "cte is not a table", sql: `WITH recent AS (SELECT * FROM sales WHERE order_date > current_date - INTERVAL 7 DAY) SELECT region, count(*) FROM recent GROUP BY region`,
			tables: []string{"sales"}, selectStar: true,
			filters: []Filter{{ref("sales", "order_date"), Range}},
			groupBy: []ColumnRef{{Column: "region", Table: "sales"}}},
		{name: "function of a column is not a filter on it", sql: `SELECT * FROM t WHERE lower(name) = 'x'`,
			tables: []string{"t"}, selectStar: true},
		{name: "comments and semicolon", sql: "-- daily\nSELECT a /* the key */ FROM t WHERE b = 1;",
			tables:  []string{"t"},
			filters: []Filter{{ref("t", "b"), Equality}}},
		{name: "not equal is no filter to cluster by", sql: `SELECT a FROM t WHERE b <> 1 AND c != 2`, tables: []string{"t"}},
		{name: "backticks (BigQuery)", sql: "SELECT * FROM `proj.ds.sales` WHERE `region` = 'EMEA'",
			tables: []string{"proj.ds.sales"}, selectStar: true,
			filters: []Filter{{ref("proj.ds.sales", "region"), Equality}}},
		{name: "t.star", sql: `SELECT s.* FROM sales s`, tables: []string{"sales"}, selectStar: true},
		{name: "table function", sql: `SELECT * FROM read_csv('x.csv') WHERE a = 1`, selectStar: true,
			filters: []Filter{{ColumnRef{Column: "a"}, Equality}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := Analyze(tc.sql)
			if tc.tables == nil {
				tc.tables = []string{}
			}
			if tc.filters == nil {
				tc.filters = []Filter{}
			}
			if tc.groupBy == nil {
				tc.groupBy = []ColumnRef{}
			}
			if tc.joins == nil {
				tc.joins = []ColumnRef{}
			}
			if !reflect.DeepEqual(q.Tables, tc.tables) {
				t.Errorf("tables %v, want %v", q.Tables, tc.tables)
			}
			if !reflect.DeepEqual(q.Filters, tc.filters) {
				t.Errorf("filters %v, want %v", q.Filters, tc.filters)
			}
			if !reflect.DeepEqual(q.GroupBy, tc.groupBy) {
				t.Errorf("group by %v, want %v", q.GroupBy, tc.groupBy)
			}
			if !reflect.DeepEqual(q.Joins, tc.joins) {
				t.Errorf("joins %v, want %v", q.Joins, tc.joins)
			}
			if q.SelectStar != tc.selectStar {
				t.Errorf("select star %v", q.SelectStar)
			}
		})
	}
}

func TestFingerprint(t *testing.T) {
	same := []string{
		`SELECT sum(x) FROM t WHERE d >= '2026-01-01' AND r IN ('a','b','c')`,
		"select  SUM(x)\nfrom T where d >= '2025-12-01' and r in ('z') -- other day",
		`SELECT sum(x) FROM t WHERE d >= ? AND r IN (?, ?)`,
	}
	for _, s := range same[1:] {
		if Fingerprint(s) != Fingerprint(same[0]) {
			t.Errorf("%q and %q differ: %q vs %q", s, same[0], Normalize(s), Normalize(same[0]))
		}
	}
	for _, other := range []string{
		`SELECT sum(x) FROM t WHERE d > '2026-01-01' AND r IN ('a')`,
		`SELECT sum(y) FROM t WHERE d >= '2026-01-01' AND r IN ('a')`,
		`SELECT sum(x) FROM "T" WHERE d >= '2026-01-01' AND r IN ('a')`,
	} {
		if Fingerprint(other) == Fingerprint(same[0]) {
			t.Errorf("%q reads as %q", other, same[0])
		}
	}
	if n := Normalize(`SELECT a.b, 'it''s' FROM t WHERE x = -1.5e3;`); n != "select a.b, ? from t where x = - ?" {
		t.Errorf("normalized %q", n)
	}
}

func TestRewriteTable(t *testing.T) {
	for _, tc := range []struct{ sql, want string }{
		{`SELECT * FROM sales WHERE region = 'sales'`, `SELECT * FROM "__t" WHERE region = 'sales'`},
		{`SELECT sales.region, count(*) FROM main.sales JOIN x ON sales.id = x.id GROUP BY 1`,
			`SELECT "__t".region, count(*) FROM "__t" JOIN x ON "__t".id = x.id GROUP BY 1`},
		{`select s.sales from Sales s, other o`, `select s.sales from "__t" s, other o`},
		{`SELECT sales FROM t`, `SELECT sales FROM t`},
		{`SELECT * FROM "sales" -- sales`, `SELECT * FROM "__t" -- sales`},
		{`SELECT * FROM "Sales"`, `SELECT * FROM "Sales"`},
	} {
		if got := RewriteTable(tc.sql, "sales", `"__t"`); got != tc.want {
			t.Errorf("%s\n got %s\nwant %s", tc.sql, got, tc.want)
		}
	}
}
