package optimize

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
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
			filters: []Filter{{ref("Sales", "Region"), Equality}},
			groupBy: []ColumnRef{ref("Sales", "Region")}}, // GROUP BY 1: the first item's column
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
		{name: "an aggregate's filter reads every row", sql: `SELECT count(*) FILTER (WHERE status = 'paid') FROM orders WHERE region = 'EU'`,
			tables: []string{"orders"}, filters: []Filter{{ref("orders", "region"), Equality}}},
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

func TestReadOnly(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{"SELECT 1", true},
		{"select * from t where a = 1;", true},
		{"WITH x AS (SELECT 1) SELECT * FROM x", true},
		{"SELECT 1; INSERT INTO t SELECT * FROM u; SELECT 2", false},
		{"WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x", false},
		{"INSERT INTO t VALUES (1)", false},
		{"CREATE TABLE t AS SELECT 1", false},
		{"SELECT * FROM t WHERE note = 'DROP TABLE x'", true},
		{"PRAGMA version", false},
		{"", false},
		{"-- nothing", false},
	} {
		if got := ReadOnly(tc.sql); got != tc.want {
			t.Errorf("ReadOnly(%q) = %v", tc.sql, got)
		}
	}
}

// TestOddInput: text the analyser cannot make sense of gives what it can,
// never a panic.
func TestOddInput(t *testing.T) {
	for _, sql := range []string{"", "'", "\"", "`", "/*", "--", "SELECT (", "SELECT )))", "WHERE", "FROM", "SELECT a FROM t WHERE b::",
		"SELECT count(*) FROM events WHERE flag::BOOLEAN", "SELECT * FROM t WHERE a = ", "SELECT * FROM t WHERE a BETWEEN", "$", "$1$2", "1e", ".5.5",
		"SELECT day, sales.sales FROM sales", "SELECT * FROM sales.sales", "SELECT x FROM \"a\"\"b\" WHERE \"a\"\"b\".c = 1"} {
		q := Analyze(sql)
		_ = Normalize(sql)
		_ = RewriteTable(sql, "sales", `"__t"`)
		_ = ReadOnly(sql)
		if q.Tables == nil || q.Filters == nil {
			t.Errorf("%q: nil lists", sql)
		}
	}
	if q := Analyze(`SELECT count(*) FROM events WHERE customer::VARCHAR = 'x'`); len(q.Filters) != 1 || q.Filters[0].Column != "customer" {
		t.Errorf("a cast's type read as a column: %+v", q.Filters)
	}
	if got := RewriteTable("SELECT day, sales.sales FROM sales", "sales", `"__t"`); got != `SELECT day, "__t".sales FROM "__t"` {
		t.Errorf("rewritten %s", got)
	}
}

func TestJudge(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name   string
		ts     []Timing
		accept bool
		why    string
	}{
		{"faster in all", []Timing{{Before: 100 * ms, After: 10 * ms, SameResult: true}, {Before: 100 * ms, After: 90 * ms, SameResult: true}}, true, "as fast in all"},
		{"some much faster, none slower", []Timing{{Before: 10 * ms, After: 2 * ms, SameResult: true}, {Before: 1000 * ms, After: 1000 * ms, SameResult: true}}, true, "up to 5.0x"},
		{"one slower", []Timing{{Before: 100 * ms, After: 10 * ms, SameResult: true}, {Before: 100 * ms, After: 200 * ms, SameResult: true}}, false, "2.00x slower"},
		{"no gain", []Timing{{Before: 100 * ms, After: 95 * ms, SameResult: true}}, false, "below"},
		{"another result", []Timing{{Before: 100 * ms, After: 10 * ms, SameResult: false}}, false, "another result"},
		{"failed after", []Timing{{Before: 100 * ms, After: 10 * ms, ErrorAfter: "boom"}}, false, "failed after"},
		{"all failed before", []Timing{{ErrorBefore: "no such column"}}, false, "no replayed query ran"},
		{"none", nil, false, "no replayed query ran"},
		// The same pages and rows read on both: the slower time is noise.
		{"noise on a query the change does not touch", []Timing{
			{Before: 100 * ms, After: 10 * ms, SameResult: true, BytesBefore: 8192 * 1000, BytesAfter: 8192, RowsScannedBefore: 1000, RowsScannedAfter: 1},
			{Before: 100 * ms, After: 130 * ms, SameResult: true, BytesBefore: 8192 * 500, BytesAfter: 8192 * 500, RowsScannedBefore: 500, RowsScannedAfter: 500}},
			true, "1 that read the same pages and rows on both left out"},
		// Nor does an untouched query's faster time count as a gain.
		{"noise is no gain either", []Timing{
			{Before: 100 * ms, After: 98 * ms, SameResult: true, BytesBefore: 8192 * 1000, BytesAfter: 8192 * 999, RowsScannedBefore: 1000, RowsScannedAfter: 999},
			{Before: 1000 * ms, After: 400 * ms, SameResult: true, BytesBefore: 8192 * 500, BytesAfter: 8192 * 500, RowsScannedBefore: 500, RowsScannedAfter: 500}},
			false, "below the 1.20x"},
		// More pages, or no pages measured (DuckDB): the slower time counts.
		{"slower with more pages", []Timing{
			{Before: 100 * ms, After: 10 * ms, SameResult: true, BytesBefore: 8192 * 1000, BytesAfter: 8192, RowsScannedBefore: 1000, RowsScannedAfter: 1},
			{Before: 100 * ms, After: 130 * ms, SameResult: true, BytesBefore: 8192 * 500, BytesAfter: 8192 * 501, RowsScannedBefore: 500, RowsScannedAfter: 500}},
			false, "1.30x slower"},
		{"slower, the same rows, no pages measured", []Timing{
			{Before: 100 * ms, After: 10 * ms, SameResult: true, RowsScannedBefore: 1000, RowsScannedAfter: 1},
			{Before: 100 * ms, After: 130 * ms, SameResult: true, RowsScannedBefore: 500, RowsScannedAfter: 500}},
			false, "1.30x slower"},
	} {
		v := Judge(tc.ts, Thresholds{})
		if v.Accept != tc.accept || !strings.Contains(v.Why, tc.why) {
			t.Errorf("%s: %v %q", tc.name, v.Accept, v.Why)
		}
	}
}

func TestCompare(t *testing.T) {
	rows := func(vals ...[]any) Result {
		var r Result
		for _, v := range vals {
			r.Add(v)
		}
		return r
	}
	// The order of the rows does not count; their values do.
	if rows([]any{1, "a"}, []any{2, "b"}) != rows([]any{2, "b"}, []any{1, "a"}) || rows([]any{1, "a"}) == rows([]any{1, "b"}) {
		t.Fatal("checksums")
	}
	// A float sum in another order is the same result; another value is not.
	x, y, z := 0.1, 0.2, 0.3
	if (x+y)+z == (z+y)+x {
		t.Fatal("the sums should differ in their last bits")
	}
	if rows([]any{(x + y) + z}) != rows([]any{(z + y) + x}) || rows([]any{0.6}) == rows([]any{0.61}) || rows([]any{float32(1.5)}) != rows([]any{float32(1.5)}) {
		t.Fatal("float checksums")
	}
	runs := 0
	d, r, err := Replay(3, func() (Result, error) { runs++; return rows([]any{runs}), nil })
	if err != nil || runs != 3 || d < 0 || r != rows([]any{3}) {
		t.Errorf("replay: %d runs, %v %v", runs, r, err)
	}
	if _, _, err := Replay(3, func() (Result, error) { return Result{}, errors.New("boom") }); err == nil {
		t.Error("a failed replay")
	}
	ok := func(q string) (time.Duration, Result, error) { return time.Millisecond, rows([]any{q}), nil }
	bad := func(q string) (time.Duration, Result, error) {
		if q == "broken" {
			return 0, Result{}, errors.New("no such column")
		}
		return time.Millisecond, rows([]any{"other"}), nil
	}
	ts := Compare([]string{"q1", "broken"}, ok, ok)
	if len(ts) != 2 || !ts[0].SameResult || ts[0].Rows != 1 || ts[1].ErrorBefore != "" {
		t.Errorf("compare %+v", ts)
	}
	ts = Compare([]string{"q1", "broken"}, ok, bad)
	if ts[0].SameResult || ts[1].ErrorAfter == "" {
		t.Errorf("compare with another result and a failure after %+v", ts)
	}
	var ran []string
	run := func(q string) (Result, error) {
		ran = append(ran, q)
		if strings.Contains(q, "nothing") {
			return Result{}, errors.New("no column nothing")
		}
		return rows([]any{1}), nil
	}
	ts = CompareCopies([]string{"SELECT * FROM sales WHERE a = 1"}, "sales", "b", "c", 2, run, nil)
	if len(ts) != 1 || !ts[0].SameResult || strings.Join(ran, "|") != "SELECT * FROM b WHERE a = 1|SELECT * FROM b WHERE a = 1|SELECT * FROM c WHERE a = 1|SELECT * FROM c WHERE a = 1" {
		t.Errorf("copies: %+v %q", ts, ran)
	}
	// Measured once on each copy, after the timed runs; a query that
	// failed is not measured.
	var measured []string
	measure := func(q string) (Scanned, error) {
		measured = append(measured, q)
		if strings.Contains(q, " c ") {
			return Scanned{Rows: 10, Bytes: 80}, nil
		}
		return Scanned{Rows: 1000, Bytes: 8000}, nil
	}
	ts = CompareCopies([]string{"SELECT * FROM sales WHERE a = 1", "SELECT nothing FROM sales"}, "sales", "b", "c", 1, run, measure)
	if len(ts) != 2 || ts[0].RowsScannedBefore != 1000 || ts[0].RowsScannedAfter != 10 || ts[0].BytesBefore != 8000 || ts[0].BytesAfter != 80 ||
		ts[1].RowsScannedBefore != 0 || strings.Join(measured, "|") != "SELECT * FROM b WHERE a = 1|SELECT * FROM c WHERE a = 1" {
		t.Errorf("measured: %+v %q", ts, measured)
	}
	if v := Judge(ts, Thresholds{}); v.ScannedBefore != 1000 || v.ScannedAfter != 10 || v.BytesBefore != 8000 || v.BytesAfter != 80 {
		t.Errorf("verdict's scans %+v", v)
	}
	ts = Compare([]string{"broken"}, bad, ok)
	if ts[0].ErrorBefore == "" {
		t.Errorf("compare with a failure before %+v", ts)
	}
}

// TestClauses: a subquery's clauses end with it; a FROM inside a
// function's arguments starts no table list.
func TestClauses(t *testing.T) {
	for _, tc := range []struct {
		sql     string
		tables  []string
		filters []Filter
	}{
		{`SELECT count(*) FROM events WHERE EXTRACT(year FROM day) = 2025 AND customer = 'C1'`, []string{"events"},
			[]Filter{{ref("events", "customer"), Equality}}},
		{`SELECT * FROM orders WHERE id IN (SELECT order_id FROM refunds) AND created >= DATE '2026-01-01'`, []string{"orders", "refunds"},
			[]Filter{{ColumnRef{Column: "id"}, Equality}, {ColumnRef{Column: "created"}, Range}}},
		{`SELECT * FROM t WHERE a IS DISTINCT FROM b AND c = 1`, []string{"t"}, []Filter{{ref("t", "c"), Equality}}},
		{`SELECT trim(both ' ' FROM name) FROM t WHERE k = 2`, []string{"t"}, []Filter{{ref("t", "k"), Equality}}},
	} {
		q := Analyze(tc.sql)
		if !reflect.DeepEqual(q.Tables, tc.tables) || !reflect.DeepEqual(q.Filters, tc.filters) {
			t.Errorf("%s\n tables %v filters %v\n want  %v %v", tc.sql, q.Tables, q.Filters, tc.tables, tc.filters)
		}
	}
}

// TestAggregates: a query aggregates when its own SELECT list calls an
// aggregate function, not as a window, and not in a subquery or a CTE.
func TestAggregates(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want bool
	}{
		{`SELECT count(*) FROM sales`, true},
		{`SELECT region, SUM(quantity * unit_price) AS revenue FROM sales GROUP BY region`, true},
		{`SELECT round(avg(quantity), 2) FROM sales`, true},
		{`SELECT "Region", COUNT(DISTINCT "CustomerId") FROM "Sales" GROUP BY "Region"`, true},
		{`SELECT count(*) FILTER (WHERE quantity > 1), max(order_date) FROM sales`, true},
		{`SELECT approx_count_distinct(customer_id) FROM sales`, true},
		{`WITH recent AS (SELECT * FROM sales WHERE order_date > current_date - 7) SELECT region, count(*) FROM recent GROUP BY region`, true},
		{`SELECT count(*) FROM a UNION ALL SELECT count(*) FROM b`, true},
		{`SELECT * FROM sales`, false},
		{`SELECT order_id, quantity FROM sales WHERE region = 'EMEA'`, false},
		{`SELECT order_id, sum(quantity) OVER (PARTITION BY region ORDER BY order_date) FROM sales`, false},
		{`SELECT order_id, count(*) FILTER (WHERE quantity > 1) OVER (PARTITION BY region) FROM sales`, false},
		{`SELECT order_id, (SELECT max(order_date) FROM sales) AS latest FROM sales`, false},
		{`SELECT * FROM sales WHERE quantity > (SELECT avg(quantity) FROM sales)`, false},
		{`WITH t AS (SELECT region, count(*) AS n FROM sales GROUP BY region) SELECT * FROM t ORDER BY n DESC`, false},
		{`SELECT region FROM sales GROUP BY region`, false},
		{`SELECT s.count FROM stats s`, false},
		{`SELECT DISTINCT ON (region) region, order_date FROM sales ORDER BY region, order_date DESC`, false},
		{`SELECT DISTINCT ON (region) region, max(order_date) FROM sales GROUP BY region`, true},
		{`INSERT INTO daily SELECT order_date, sum(quantity) FROM sales GROUP BY order_date`, true},
		{``, false},
	} {
		if got := Analyze(tc.sql).Aggregates; got != tc.want {
			t.Errorf("%s: aggregates %v, want %v", tc.sql, got, tc.want)
		}
	}
}

// TestGroupByItems: GROUP BY a position, an alias or ALL groups by the
// columns of the SELECT list's item it names.
func TestGroupByItems(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want []ColumnRef
	}{
		{`SELECT region, product, sum(quantity) FROM sales GROUP BY 1, 2`, []ColumnRef{ref("sales", "region"), ref("sales", "product")}},
		{`SELECT date_trunc('month', order_date) AS month, sum(quantity) FROM sales GROUP BY month`, []ColumnRef{ref("sales", "order_date")}},
		{`SELECT upper(region) r, count(*) FROM sales GROUP BY r ORDER BY 2 DESC`, []ColumnRef{ref("sales", "region")}},
		{`SELECT region AS region, count(*) FROM sales GROUP BY region`, []ColumnRef{ref("sales", "region")}},
		{`SELECT "Region", "Product" AS p, count(*) FROM "Sales" GROUP BY ALL`, []ColumnRef{ref("Sales", "Region"), ref("Sales", "Product")}},
		{`SELECT s.region, count(*) FROM sales s GROUP BY 1 HAVING count(*) > 10`, []ColumnRef{ref("sales", "region")}},
		{`SELECT 'all' AS scope, count(*) FROM sales GROUP BY 1`, []ColumnRef{}},
		{`SELECT region, count(*) FROM sales GROUP BY 3`, []ColumnRef{}}, // no third item
		{`SELECT region, count(*) FROM sales GROUP BY region, order_date`, []ColumnRef{ref("sales", "region"), ref("sales", "order_date")}},
		{`SELECT * FROM (SELECT product, sum(quantity) AS q FROM sales GROUP BY 1) t WHERE q > 5`, []ColumnRef{ref("sales", "product")}},
		{`SELECT c.name AS customer, sum(o.total) FROM orders o JOIN customers c ON o.customer_id = c.id GROUP BY 1`,
			[]ColumnRef{ref("customers", "name")}},
	} {
		if got := Analyze(tc.sql).GroupBy; !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: group by %v, want %v", tc.sql, got, tc.want)
		}
	}
	// Odd text: what can be read, never a panic.
	for _, sql := range []string{"GROUP BY", "GROUP BY 1", "SELECT GROUP BY 1", "SELECT a GROUP BY 99999999999999999999", "SELECT DISTINCT ON (",
		"SELECT DISTINCT ON (a", "SELECT count(", "SELECT count(*) FILTER (", "SELECT sum(x) OVER", "SELECT (SELECT", "SELECT a, GROUP BY ALL",
		"SELECT a AS GROUP BY a", ") SELECT count(*) FROM t GROUP BY 1 (", "SELECT a FROM t GROUP BY (1), ALL"} {
		_ = Analyze(sql)
	}
}
