package postgres

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
)

// benchRows is the size of the generated sales file: 5 million rows
// unless SHP_BENCH_ROWS says otherwise.
func benchRows() int {
	if s := os.Getenv("SHP_BENCH_ROWS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n > 0 {
			return n
		}
	}
	return 5_000_000
}

// generateSales writes the seven-column sales CSV of bench/ (make bench),
// deterministically.
func generateSales(path string, rows int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	regions := []string{"EMEA", "APAC", "AMER"}
	fmt.Fprintln(w, "order_id,order_date,customer_id,product,quantity,unit_price,region")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(w, "%d,2026-%02d-%02d,C%07d,product-%03d,%d,%.2f,%s\n", i, 1+rng.IntN(12), 1+rng.IntN(28),
			rng.IntN(1_000_000), rng.IntN(500), 1+rng.IntN(20), 1+rng.Float64()*500, regions[rng.IntN(3)])
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

var salesSchema = schema.Schema{
	{Name: "order_id", Type: "INT64", Mode: "REQUIRED"},
	{Name: "order_date", Type: "DATE"},
	{Name: "customer_id", Type: "STRING"},
	{Name: "product", Type: "STRING"},
	{Name: "quantity", Type: "INT64"},
	{Name: "unit_price", Type: "NUMERIC", Precision: 12, Scale: 2},
	{Name: "region", Type: "STRING"},
}

// BenchmarkLoad loads the sales CSV (SHP_BENCH_ROWS rows, 5 million by
// default) into PostgreSQL twice per iteration, in the same run: a bare
// COPY ... FROM STDIN (FORMAT csv) into an unindexed table of the same
// types, and shp's Stage + Commit (append) into a new target (the commit
// attaches the staged table as the target). It reports the best time of
// each and their ratio (target: at most 1.5), and the median of the
// iterations' ratios (each pair measured back to back, which a busy
// machine disturbs less).
//
//	SHP_BENCH_ROWS=1000000 go test -run '^$' -bench BenchmarkLoad -benchtime 3x ./internal/warehouse/postgres/
func BenchmarkLoad(b *testing.B) { benchLoad(b, false) }

// BenchmarkLoadExisting is BenchmarkLoad into a target that exists
// (empty, as shp would make it): the commit appends the staged rows with
// INSERT ... SELECT, as every load after a target's first does.
func BenchmarkLoadExisting(b *testing.B) { benchLoad(b, true) }

func benchLoad(b *testing.B, existing bool) {
	rows := benchRows()
	path := filepath.Join(b.TempDir(), "sales.csv")
	if err := generateSales(path, rows); err != nil {
		b.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	w := openDSN(b, testutil.PostgresDSN(b))
	ctx := context.Background()
	cols := "order_id BIGINT, order_date DATE, customer_id VARCHAR, product VARCHAR, quantity BIGINT, unit_price DECIMAL(12,2), region VARCHAR"
	var bare, shp []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The bare load.
		table := w.target(fmt.Sprintf("bare_%d", i))
		if _, err := w.pool.Exec(ctx, "CREATE TABLE "+table+" ("+cols+")"); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		conn, err := w.pool.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		tag, err := conn.Conn().PgConn().CopyFrom(ctx, bufio.NewReaderSize(f, 1<<20), "COPY "+table+" FROM STDIN (FORMAT csv, HEADER true)")
		conn.Release()
		f.Close()
		if err != nil || tag.RowsAffected() != int64(rows) {
			b.Fatalf("bare copy: %v (%d rows)", err, tag.RowsAffected())
		}
		bare = append(bare, time.Since(start))

		// shp.
		target := fmt.Sprintf("sales_%d", i)
		if existing {
			if _, err := w.pool.Exec(ctx, "CREATE TABLE "+w.target(target)+" ("+cols+")"); err != nil {
				b.Fatal(err)
			}
		}
		start = time.Now()
		st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: fmt.Sprint("run-", i), Pipeline: target, Target: target, ObjectKey: "sales.csv",
			Fingerprint: "fp", Path: path, Format: format.CSV, Schema: salesSchema})
		if err != nil {
			b.Fatal(err)
		}
		staged := time.Since(start)
		res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: fmt.Sprint("run-", i), Pipeline: target, Target: target, Mode: warehouse.ModeAppend,
			Objects: []*warehouse.Staged{st}})
		if err != nil {
			b.Fatal(err)
		}
		shp = append(shp, time.Since(start))
		if st.Loaded != int64(rows) || res.Inserted != int64(rows) {
			b.Fatalf("shp loaded %d, inserted %d of %d rows", st.Loaded, res.Inserted, rows)
		}
		var bareSize, shpSize int64
		if err := w.pool.QueryRow(ctx, "SELECT pg_total_relation_size($1), pg_total_relation_size($2)", table, w.target(target)).Scan(&bareSize, &shpSize); err != nil {
			b.Fatal(err)
		}
		b.Logf("iteration %d: bare COPY %v, shp %v (stage %v, commit %v), ratio %.2f; tables %d and %d MiB", i, bare[i].Round(time.Millisecond),
			shp[i].Round(time.Millisecond), staged.Round(time.Millisecond), (shp[i] - staged).Round(time.Millisecond),
			shp[i].Seconds()/bare[i].Seconds(), bareSize>>20, shpSize>>20)
		for _, t := range []string{table, w.target(target)} {
			if _, err := w.pool.Exec(ctx, "DROP TABLE "+t); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	best := func(d []time.Duration) time.Duration {
		m := d[0]
		for _, x := range d {
			m = min(m, x)
		}
		return m
	}
	ratios := make([]float64, len(bare))
	for i := range bare {
		ratios[i] = shp[i].Seconds() / bare[i].Seconds()
	}
	sort.Float64s(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "median-ratio")
	b.ReportMetric(best(bare).Seconds(), "bare-s")
	b.ReportMetric(best(shp).Seconds(), "shp-s")
	b.ReportMetric(best(shp).Seconds()/best(bare).Seconds(), "ratio")
	b.ReportMetric(float64(rows)/best(shp).Seconds(), "shp-rows/s")
	b.ReportMetric(float64(info.Size())/(1<<20), "MiB")
}
