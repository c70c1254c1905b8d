package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/quality/qualitytest"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// qualityRows is the table size: 10 million rows unless SHP_BENCH_QUALITY_ROWS says otherwise.
func qualityRows() int {
	if s := os.Getenv("SHP_BENCH_QUALITY_ROWS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 10_000_000
}

// benchSuite is qualitytest.BenchSuite: 30 expectations over seven
// columns, all of which hold on the generated data.
func benchSuite() *quality.Suite { return qualitytest.BenchSuite() }

// handWritten is the same checks as one aggregate query, as a person would
// write them for DuckDB.
const handWritten = `SELECT count(*),
 count(*) FILTER (WHERE id IS NULL), count(*) FILTER (WHERE region IS NULL), count(*) FILTER (WHERE qty IS NULL),
 count(*) FILTER (WHERE price IS NULL), count(*) FILTER (WHERE sku IS NULL), count(*) FILTER (WHERE email IS NULL),
 count(*) FILTER (WHERE created IS NULL),
 count(*) FILTER (WHERE id < 0), count(*) FILTER (WHERE qty < 1 OR qty > 50), count(*) FILTER (WHERE price < 0 OR price > 1000),
 count(*) FILTER (WHERE created < DATE '2020-01-01' OR created > DATE '2030-01-01'),
 count(*) FILTER (WHERE region NOT IN ('EMEA', 'APAC', 'AMER')), count(*) FILTER (WHERE region IN ('XX', 'YY')),
 count(*) FILTER (WHERE NOT regexp_matches(sku, '^SKU-[0-9]+$')), count(*) FILTER (WHERE regexp_matches(email, '\s')),
 count(*) FILTER (WHERE email NOT LIKE '%@%'), count(*) FILTER (WHERE sku LIKE '%--%'),
 count(*) FILTER (WHERE length(sku) < 5 OR length(sku) > 12), count(*) FILTER (WHERE length(email) < 5 OR length(email) > 40),
 count(*) FILTER (WHERE length(region) <> 4),
 count(*) FILTER (WHERE NOT (regexp_matches(region, '^EMEA$') OR regexp_matches(region, '^APAC$') OR regexp_matches(region, '^AMER$'))),
 count(*) FILTER (WHERE NOT (email LIKE '%.com' OR email LIKE '%.org')), count(*) FILTER (WHERE sku LIKE '% %' OR sku LIKE '%;%'),
 count(*) FILTER (WHERE qty <= 0), count(*) FILTER (WHERE qty NOT IN (1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20)),
 count(*) FILTER (WHERE qty IN (0, -1)), count(*) FILTER (WHERE price < 0.5),
 count(*) FILTER (WHERE NOT regexp_matches(email, '^[a-z0-9.]+@')), count(*) FILTER (WHERE id IS NOT NULL),
 count(*) FILTER (WHERE NOT (qty * price < 20000))
FROM t`

func BenchmarkQualitySuite(b *testing.B) {
	ctx := context.Background()
	rows := qualityRows()
	w, err := duckdb.Open(ctx, warehouse.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	db := w.DB()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE t AS SELECT i AS id,
		['EMEA','APAC','AMER'][i %% 3 + 1] AS region, CAST(1 + i %% 20 AS INTEGER) AS qty, 1 + (i %% 997) * 0.5 AS price,
		'SKU-' || (i %% 100000) AS sku, 'user' || (i %% 50000) || '@example.' || CASE WHEN i %% 2 = 0 THEN 'com' ELSE 'org' END AS email,
		DATE '2024-01-01' + CAST(i %% 700 AS INTEGER) AS created
		FROM range(%d) r(i)`, rows)); err != nil {
		b.Fatal(err)
	}
	table := quality.Table{Name: "t", Index: "rowid"}
	for _, c := range []struct{ n, t string }{{"id", "BIGINT"}, {"region", "VARCHAR"}, {"qty", "INTEGER"}, {"price", "DECIMAL"},
		{"sku", "VARCHAR"}, {"email", "VARCHAR"}, {"created", "DATE"}} {
		table.Columns = append(table.Columns, quality.Column{Name: c.n, Type: c.t})
	}
	hand := func() { scanRow(b, db.QueryRowContext(ctx, handWritten), len(benchSuite().Expectations)+1) }
	compareQuality(b, quality.SQLQueryer(db), quality.DuckDB, table, hand, fmt.Sprintf("DuckDB, %d rows", rows))
}

// scanRow reads one row of n columns.
func scanRow(b *testing.B, r *sql.Row, n int) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := r.Scan(ptrs...); err != nil {
		b.Fatal(err)
	}
}

// compareQuality times, in one run, the suite through shp, the
// hand-written query and the naive plan, and prints the table.
func compareQuality(b *testing.B, q quality.Queryer, d quality.Dialect, table quality.Table, hand func(), what string) {
	ctx := context.Background()
	suite := benchSuite()
	run := func(s *quality.Suite) {
		res, err := quality.Validate(ctx, q, d, table, s, quality.Summary)
		if err != nil {
			b.Fatal(err)
		}
		if !res.Success {
			for _, r := range res.Results {
				if !r.Success {
					b.Fatalf("%s failed: %v %v", r.Config.Type, r.Result, r.Exception)
				}
			}
		}
	}
	naive := func() {
		for _, e := range suite.Expectations {
			run(&quality.Suite{Name: "one", Expectations: []quality.Config{e}})
		}
	}
	timeIt := func(f func()) time.Duration {
		start := time.Now()
		f()
		return time.Since(start)
	}
	best := map[string]time.Duration{}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for name, f := range map[string]func(){"shp": func() { run(suite) }, "hand": hand, "naive": naive} {
			if d := timeIt(f); best[name] == 0 || d < best[name] {
				best[name] = d
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(best["shp"].Seconds()/best["hand"].Seconds(), "x_hand")
	b.ReportMetric(best["naive"].Seconds()/best["shp"].Seconds(), "naive_x_slower")
	fmt.Printf("\n%d-expectation suite (%s, best of %d)\n", len(suite.Expectations), what, b.N)
	fmt.Printf("%-40s %10s %8s\n", "plan", "wall", "ratio")
	fmt.Printf("%-40s %10s %8s\n", "hand-written single aggregate query", best["hand"].Round(time.Millisecond), "1.00x")
	fmt.Printf("%-40s %10s %7.2fx\n", "shp (batched: one shared scan)", best["shp"].Round(time.Millisecond), best["shp"].Seconds()/best["hand"].Seconds())
	fmt.Printf("%-40s %10s %7.2fx\n", "naive: one query per expectation", best["naive"].Round(time.Millisecond), best["naive"].Seconds()/best["hand"].Seconds())
	fmt.Printf("shp vs hand-written: %.2fx (target <= 1.3x); naive vs shp: %.1fx slower (target >= 5x)\n\n",
		best["shp"].Seconds()/best["hand"].Seconds(), best["naive"].Seconds()/best["shp"].Seconds())
}

// BenchmarkQualitySuitePostgres is the same comparison on PostgreSQL, a
// row store where every scan reads whole rows (2,000,000 rows unless
// SHP_BENCH_PG_ROWS says otherwise).
func BenchmarkQualitySuitePostgres(b *testing.B) {
	ctx := context.Background()
	rows := 2_000_000
	if s := os.Getenv("SHP_BENCH_PG_ROWS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			rows = n
		}
	}
	db, err := sql.Open("pgx", testutil.PostgresDSN(b))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE UNLOGGED TABLE t AS SELECT i::bigint AS id,
		(ARRAY['EMEA','APAC','AMER'])[i %% 3 + 1] AS region, (1 + i %% 20)::integer AS qty, (1 + (i %% 997) * 0.5)::numeric AS price,
		'SKU-' || (i %% 100000) AS sku, 'user' || (i %% 50000) || '@example.' || CASE WHEN i %% 2 = 0 THEN 'com' ELSE 'org' END AS email,
		DATE '2024-01-01' + (i %% 700)::integer AS created
		FROM generate_series(0, %d) i`, rows-1)); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE t"); err != nil {
		b.Fatal(err)
	}
	table := quality.Table{Name: "t", Index: "id"}
	for _, c := range []struct{ n, t string }{{"id", "BIGINT"}, {"region", "TEXT"}, {"qty", "INTEGER"}, {"price", "NUMERIC"},
		{"sku", "TEXT"}, {"email", "TEXT"}, {"created", "DATE"}} {
		table.Columns = append(table.Columns, quality.Column{Name: c.n, Type: c.t})
	}
	pgHand := regexp.MustCompile(`regexp_matches\((\w+), ('[^']*')\)`).ReplaceAllString(handWritten, "($1 ~ $2)")
	hand := func() { scanRow(b, db.QueryRowContext(ctx, pgHand), len(benchSuite().Expectations)+1) }
	compareQuality(b, quality.SQLQueryer(db), quality.Postgres, table, hand, fmt.Sprintf("PostgreSQL, %d rows", rows))
}
