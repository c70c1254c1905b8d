package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
	"github.com/shp-dev/shp/internal/warehouse/postgres"
)

// BenchmarkOptimizeDuckDB: a table of 10M orders in load order (by day),
// a recorded query mix (customers looked up by equality, a month's range
// of days, aggregations over all), the rules' recommendation for it, and
// the whole mix replayed before and after the change on a copy of the
// table in one run. It reports the time before over after of each class
// of query and the worst slowdown of one query.
func BenchmarkOptimizeDuckDB(b *testing.B) {
	ctx := context.Background()
	w, rows := optBenchDuckDB(b)
	if _, err := w.DB().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE sales AS SELECT i AS order_id,
		DATE '2025-01-01' + CAST(i * 730 // %d AS INTEGER) AS order_date,
		'C' || lpad(CAST(hash(i) %% 200000 AS VARCHAR), 6, '0') AS customer_id,
		['EMEA','APAC','AMER'][i %% 3 + 1] AS region, (i %% 997) * 0.5 AS amount
		FROM range(%d) r(i)`, rows, rows)); err != nil {
		b.Fatal(err)
	}
	mixTrials(b, w, "duckdb")
}

// optBenchDuckDB opens a DuckDB warehouse for an optimisation benchmark,
// closed when it ends, and the rows to make (SHP_BENCH_OPT_ROWS, 10M by
// default).
func optBenchDuckDB(b *testing.B) (*duckdb.Warehouse, int) {
	rows := 10_000_000
	if s := os.Getenv("SHP_BENCH_OPT_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	w, err := duckdb.Open(context.Background(), warehouse.Options{Path: b.TempDir() + "/w.duckdb", TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { w.Close() })
	return w, rows
}

// classes are the kinds of query of the mix.
var classes = []struct{ name, tmpl string }{
	{"selective", `SELECT count(*), sum(amount) FROM sales WHERE customer_id = 'C%06d'`},
	{"range", `SELECT region, sum(amount) FROM sales WHERE order_date >= DATE '2025-01-01' + %d AND order_date < DATE '2025-01-01' + %d GROUP BY region`},
	{"aggregate", `SELECT region, count(*), sum(amount) FROM sales WHERE amount > %d GROUP BY region`},
}

// mixTrials records the mix, asks the rules what would serve it on
// warehouse, and tries each recommendation.
func mixTrials(b *testing.B, eng optimize.Engine, warehouse string) {
	ctx := context.Background()
	var recs []optimize.Record
	var queries []string
	kind := map[string]string{}
	for i := range 40 {
		q := fmt.Sprintf(classes[0].tmpl, i*4999)
		queries, kind[q] = append(queries, q), "selective"
	}
	for i := range 20 {
		q := fmt.Sprintf(classes[1].tmpl, i*30, i*30+30)
		queries, kind[q] = append(queries, q), "range"
	}
	for i := range 10 {
		q := fmt.Sprintf(classes[2].tmpl, i)
		queries, kind[q] = append(queries, q), "aggregate"
	}
	for _, q := range queries {
		recs = append(recs, optimize.Record{Source: "user", Text: q, Duration: time.Millisecond, Calls: 1})
	}
	table, err := eng.Describe(ctx, "sales")
	if err != nil {
		b.Fatal(err)
	}
	use := optimize.Summarize(recs)["sales"]
	// The mix filters order_date by range in 29% of its queries: the
	// project sets partition_share to 0.25 (the default, half, would
	// leave the date to the cluster rule alone).
	// (min_rows 100,000: a smaller SHP_BENCH_OPT_ROWS gets them too.)
	opts := optimize.DefaultOptions
	opts.PartitionShare, opts.MinRows = 0.25, 100_000
	got := optimize.Recommend(optimize.Input{Table: table, Usage: *use, Warehouse: warehouse, Options: opts})
	if len(got) == 0 {
		b.Fatalf("nothing recommended")
	}
	for b.Loop() {
		for _, rec := range got {
			if rec.Change.Advice() {
				continue
			}
			b.Logf("recommended: %s (%s)", rec.Change, strings.Join(rec.Evidence, "; "))
			trial(b, eng, rec.Change, queries, kind)
		}
	}
}

func trial(b *testing.B, eng optimize.Engine, change optimize.Change, queries []string, kind map[string]string) {
	ctx := context.Background()
	{
		ts, err := eng.Trial(ctx, "sales", change, queries)
		if err != nil {
			b.Fatal(err)
		}
		before, after := map[string]time.Duration{}, map[string]time.Duration{}
		scannedBefore, scannedAfter := map[string]int64{}, map[string]int64{}
		bytesBefore, bytesAfter := map[string]int64{}, map[string]int64{}
		worst := 0.0
		for _, t := range ts {
			if !t.SameResult {
				b.Fatalf("another result after the change: %+v", t)
			}
			before[kind[t.Query]] += t.Before
			after[kind[t.Query]] += t.After
			scannedBefore[kind[t.Query]] += t.RowsScannedBefore
			scannedAfter[kind[t.Query]] += t.RowsScannedAfter
			bytesBefore[kind[t.Query]] += t.BytesBefore
			bytesAfter[kind[t.Query]] += t.BytesAfter
			worst = max(worst, float64(t.After)/float64(t.Before))
		}
		label := change.Kind
		switch {
		case change.Kind == "sort" && change.Granularity != "":
			label = "zoned-" + label // the month of the date, then the rest
		case change.Method != "":
			label = change.Method + "-" + label
		}
		for _, c := range classes {
			b.ReportMetric(float64(before[c.name])/float64(after[c.name]), label+"-"+c.name+"-x")
			b.ReportMetric(float64(scannedBefore[c.name])/float64(max(scannedAfter[c.name], 1)), label+"-"+c.name+"-scan-x")
			if bytesBefore[c.name] > 0 {
				b.ReportMetric(float64(bytesBefore[c.name])/float64(max(bytesAfter[c.name], 1)), label+"-"+c.name+"-bytes-x")
			}
			b.Logf("%-9s before %8s after %8s  %.1fx; rows scanned %d -> %d; bytes %d -> %d", c.name, before[c.name].Round(time.Millisecond),
				after[c.name].Round(time.Millisecond), float64(before[c.name])/float64(after[c.name]), scannedBefore[c.name], scannedAfter[c.name],
				bytesBefore[c.name], bytesAfter[c.name])
		}
		b.ReportMetric(worst, label+"-worst-after/before")
		b.Logf("verdict: %s", optimize.Judge(ts, optimize.Thresholds{}).Why)
	}
}

// BenchmarkOptimizePostgres: the same table and mix on the PostgreSQL
// warehouse (SHP_BENCH_OPT_ROWS rows, 5M by default: a trial samples a
// larger table to 5M rows anyway): the rules' recommendations for
// PostgreSQL (a B-tree index, a BRIN index, monthly partitions), each
// tried on two copies with the mix replayed, and what EXPLAIN (ANALYZE,
// BUFFERS) says the queries read on each.
func BenchmarkOptimizePostgres(b *testing.B) {
	ctx := context.Background()
	rows := 5_000_000
	if s := os.Getenv("SHP_BENCH_OPT_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	dsn := testutil.PostgresDSN(b)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	internal := cfg.RuntimeParams["search_path"] + "_shp"
	w, err := postgres.Open(ctx, postgres.Config{DSN: dsn, InternalSchema: internal})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		w.Close()
		testutil.PostgresExec(b, dsn, `DROP SCHEMA IF EXISTS "`+internal+`" CASCADE`)
	})
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE TABLE sales AS SELECT i AS order_id,
			DATE '2025-01-01' + (i * 730 / %d)::int AS order_date,
			'C' || lpad((abs(hashint8(i)) %% 200000)::text, 6, '0') AS customer_id,
			(ARRAY['EMEA','APAC','AMER'])[i %% 3 + 1] AS region, (i %% 997) * 0.5 AS amount
			FROM generate_series(0::bigint, %d - 1) g(i)`, rows, rows),
		`VACUUM ANALYZE sales`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	mixTrials(b, w, "postgres")
}

// BenchmarkOptimizeNarrow: 10M orders whose amounts are kept as
// DECIMAL(38,2), as shp loads a PostgreSQL numeric without a precision,
// though none has more than 6 integer digits. The narrow_types rule's
// recommendation (DECIMAL(18,2)) is tried with a mix of aggregations and
// filters on the amount, and a load of the amounts from text is timed
// into each type, in the same run.
func BenchmarkOptimizeNarrow(b *testing.B) {
	ctx := context.Background()
	w, rows := optBenchDuckDB(b)
	db := w.DB()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(`CREATE TABLE sales AS SELECT i AS order_id,
		['EMEA','APAC','AMER'][i %% 3 + 1] AS region,
		CAST((hash(i) %% 100000000) / 100 AS DECIMAL(38,2)) AS amount
		FROM range(%d) r(i)`, rows)); err != nil {
		b.Fatal(err)
	}
	var queries []string
	var recs []optimize.Record
	for i := range 10 {
		for _, q := range []string{
			fmt.Sprintf(`SELECT region, sum(amount), avg(amount) FROM sales WHERE order_id %% 10 <> %d GROUP BY region`, i),
			fmt.Sprintf(`SELECT count(*) FROM sales WHERE amount BETWEEN %d AND %d`, i*1000, i*1000+50),
			fmt.Sprintf(`SELECT max(amount * 3 + %d) FROM sales`, i),
		} {
			queries = append(queries, q)
			recs = append(recs, optimize.Record{Source: "user", Text: q, Duration: time.Millisecond, Calls: 1})
		}
	}
	table, err := w.Describe(ctx, "sales")
	if err != nil {
		b.Fatal(err)
	}
	var change *optimize.Change
	for _, rec := range optimize.Recommend(optimize.Input{Table: table, Usage: *optimize.Summarize(recs)["sales"], Warehouse: "duckdb",
		Options: optimize.Options{MinRows: 100_000, MinQueries: 5, PartitionShare: 0.5, ClusterShare: 0.2}}) {
		if rec.Change.Kind == "type" {
			change = &rec.Change
			b.Logf("recommended: %s (%s)", rec.Change, strings.Join(rec.Evidence, "; "))
		}
	}
	if change == nil {
		b.Fatal("no type change recommended")
	}
	// The load: the amounts as text (as a CSV or a database sends them),
	// cast into each type; the faster of three.
	if _, err := db.ExecContext(ctx, `CREATE TABLE amounts_text AS SELECT CAST(amount AS VARCHAR) AS v FROM sales`); err != nil {
		b.Fatal(err)
	}
	load := func(typ string) time.Duration {
		best := time.Duration(0)
		for range 3 {
			start := time.Now()
			if _, err := db.ExecContext(ctx, `CREATE OR REPLACE TABLE loaded AS SELECT CAST(v AS `+typ+`) AS v FROM amounts_text`); err != nil {
				b.Fatal(err)
			}
			if d := time.Since(start); best == 0 || d < best {
				best = d
			}
		}
		return best
	}
	for b.Loop() {
		ts, err := w.Trial(ctx, "sales", *change, queries)
		if err != nil {
			b.Fatal(err)
		}
		var before, after time.Duration
		worst := 0.0
		for _, t := range ts {
			if !t.SameResult || t.ErrorAfter != "" {
				b.Fatalf("another result after the change: %+v", t)
			}
			before += t.Before
			after += t.After
			worst = max(worst, float64(t.After)/float64(t.Before))
		}
		wide, narrow := load("DECIMAL(38,2)"), load("DECIMAL(18,2)")
		b.ReportMetric(float64(before)/float64(after), "queries-x")
		b.ReportMetric(worst, "worst-after/before")
		b.ReportMetric(float64(wide)/float64(narrow), "load-x")
		b.Logf("queries before %s after %s (%.2fx); worst query %.2fx its time; load from text: DECIMAL(38,2) %s, DECIMAL(18,2) %s (%.2fx)",
			before.Round(time.Millisecond), after.Round(time.Millisecond), float64(before)/float64(after), worst,
			wide.Round(time.Millisecond), narrow.Round(time.Millisecond), float64(wide)/float64(narrow))
		b.Logf("verdict: %s", optimize.Judge(ts, optimize.Thresholds{}).Why)
	}
}
