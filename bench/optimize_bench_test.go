package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// BenchmarkOptimizeDuckDB: a table of 10M orders in load order (by day),
// a recorded query mix (customers looked up by equality, a month's range
// of days, aggregations over all), the rules' recommendation for it, and
// the whole mix replayed before and after the change on a copy of the
// table in one run. It reports the time before over after of each class
// of query and the worst slowdown of one query.
func BenchmarkOptimizeDuckDB(b *testing.B) {
	ctx := context.Background()
	rows := 10_000_000
	if s := os.Getenv("SHP_BENCH_OPT_ROWS"); s != "" {
		rows, _ = strconv.Atoi(s)
	}
	w, err := duckdb.Open(ctx, warehouse.Options{Path: b.TempDir() + "/w.duckdb", TempDir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	if _, err := w.DB().ExecContext(ctx, fmt.Sprintf(`CREATE TABLE sales AS SELECT i AS order_id,
		DATE '2025-01-01' + CAST(i * 730 // %d AS INTEGER) AS order_date,
		'C' || lpad(CAST(hash(i) %% 200000 AS VARCHAR), 6, '0') AS customer_id,
		['EMEA','APAC','AMER'][i %% 3 + 1] AS region, (i %% 997) * 0.5 AS amount
		FROM range(%d) r(i)`, rows, rows)); err != nil {
		b.Fatal(err)
	}
	classes := []struct{ name, tmpl string }{
		{"selective", `SELECT count(*), sum(amount) FROM sales WHERE customer_id = 'C%06d'`},
		{"range", `SELECT region, sum(amount) FROM sales WHERE order_date >= DATE '2025-01-01' + %d AND order_date < DATE '2025-01-01' + %d GROUP BY region`},
		{"aggregate", `SELECT region, count(*), sum(amount) FROM sales WHERE amount > %d GROUP BY region`},
	}
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
	table, err := w.Describe(ctx, "sales")
	if err != nil {
		b.Fatal(err)
	}
	use := optimize.Summarize(recs)["sales"]
	// The mix filters order_date by range in 29% of its queries: the
	// project sets partition_share to 0.25 (the default, half, would
	// leave the date to the cluster rule's sort alone).
	opts := optimize.DefaultOptions
	opts.PartitionShare = 0.25
	got := optimize.Recommend(optimize.Input{Table: table, Usage: *use, Warehouse: "duckdb", Options: opts})
	if len(got) == 0 {
		b.Fatalf("nothing recommended")
	}
	for b.Loop() {
		for _, rec := range got {
			b.Logf("recommended: %s (%s)", rec.Change, strings.Join(rec.Evidence, "; "))
			trial(b, w, rec.Change, queries, kind, classes)
		}
	}
}

func trial(b *testing.B, w *duckdb.Warehouse, change optimize.Change, queries []string, kind map[string]string, classes []struct{ name, tmpl string }) {
	ctx := context.Background()
	{
		ts, err := w.Trial(ctx, "sales", change, queries)
		if err != nil {
			b.Fatal(err)
		}
		before, after := map[string]time.Duration{}, map[string]time.Duration{}
		scannedBefore, scannedAfter := map[string]int64{}, map[string]int64{}
		worst := 0.0
		for _, t := range ts {
			if !t.SameResult {
				b.Fatalf("another result after the change: %+v", t)
			}
			before[kind[t.Query]] += t.Before
			after[kind[t.Query]] += t.After
			scannedBefore[kind[t.Query]] += t.RowsScannedBefore
			scannedAfter[kind[t.Query]] += t.RowsScannedAfter
			worst = max(worst, float64(t.After)/float64(t.Before))
		}
		label := change.Kind
		if change.Granularity != "" {
			label = "zoned-" + label // the month of the date, then the rest
		}
		for _, c := range classes {
			b.ReportMetric(float64(before[c.name])/float64(after[c.name]), label+"-"+c.name+"-x")
			b.ReportMetric(float64(scannedBefore[c.name])/float64(max(scannedAfter[c.name], 1)), label+"-"+c.name+"-scan-x")
			b.Logf("%-9s before %8s after %8s  %.1fx; rows scanned %d -> %d", c.name, before[c.name].Round(time.Millisecond),
				after[c.name].Round(time.Millisecond), float64(before[c.name])/float64(after[c.name]), scannedBefore[c.name], scannedAfter[c.name])
		}
		b.ReportMetric(worst, label+"-worst-after/before")
		b.Logf("verdict: %s", optimize.Judge(ts, optimize.Thresholds{}).Why)
	}
}
