package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/testutil"
)

// extractRows is the size of the PostgreSQL table: 5 million rows (the
// size of pgbench_accounts at scale 50) unless SHP_BENCH_PG_EXTRACT_ROWS
// says otherwise.
func extractRows() int { return envRows("SHP_BENCH_PG_EXTRACT_ROWS", 5_000_000) }

// BenchmarkPostgresExtract compares, in one run, `shp run` of a pipeline
// that extracts a pgbench_accounts-shaped table from PostgreSQL into
// DuckDB with the bare `COPY (SELECT ...) TO STDOUT` of the same table
// read to nowhere.
func BenchmarkPostgresExtract(b *testing.B) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(b)
	rows := extractRows()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE TABLE pgbench_accounts AS SELECT g AS aid, (g - 1) / 100000 + 1 AS bid, 0 AS abalance,
			CAST('' AS char(84)) AS filler FROM generate_series(1, %d) g`, rows),
		`ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)`,
		`VACUUM ANALYZE pgbench_accounts`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	bin := filepath.Join(b.TempDir(), "shp")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/shp").CombinedOutput(); err != nil {
		b.Fatalf("build shp: %v\n%s", err, out)
	}
	var bare, shp []measure
	var copied int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		tag, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY (SELECT * FROM pgbench_accounts) TO STDOUT WITH (FORMAT csv)")
		if err != nil {
			b.Fatal(err)
		}
		copied = tag.RowsAffected()
		bare = append(bare, measure{wall: time.Since(start)})

		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: bench\nwarehouse:\n  memory_limit: 1GB\npipelines:\n  accounts:\n    source: pg\n    mode: "+benchMode()+"\n    key: [aid]\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(fmt.Sprintf(
			"sources:\n  pg:\n    type: postgres\n    dsn: %q\n    table: pgbench_accounts\n    key: aid\n    chunk_size: 500000\n%s", dsn, benchIncremental())), 0o644)
		start = time.Now()
		m := runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		shp = append(shp, m)
	}
	b.StopTimer()
	if copied != int64(rows) {
		b.Fatalf("COPY read %d rows, want %d", copied, rows)
	}
	bm, sm := best(bare), best(shp)
	ratio := bm.wall.Seconds() / sm.wall.Seconds()
	b.ReportMetric(ratio, "x_copy_rate")
	b.ReportMetric(float64(sm.maxRSS)/(1<<20), "MiB_peak_shp")
	fmt.Printf("\n%-40s %12s %12s %10s\n", "PostgreSQL -> DuckDB, "+strconv.Itoa(rows)+" rows", "wall (best)", "peak RSS", "rows/s")
	fmt.Printf("%-40s %12s %12s %10.0f\n", "COPY (SELECT *) TO STDOUT > /dev/null", bm.wall.Round(time.Millisecond), "-", float64(rows)/bm.wall.Seconds())
	fmt.Printf("%-40s %12s %8.0f MiB %10.0f\n", "shp run (extract+stage+load+merge)", sm.wall.Round(time.Millisecond), float64(sm.maxRSS)/(1<<20), float64(rows)/sm.wall.Seconds())
	fmt.Printf("shp rate / COPY rate = %.2fx (target >= 0.7x)\n\n", ratio)
}

// benchIncremental makes the source incremental for an append: a source
// that reads the whole table each run cannot append (each run would add
// every row again). The first run of an incremental source reads it all.
func benchIncremental() string {
	if benchMode() == "append" {
		return "    incremental: {column: aid}\n"
	}
	return ""
}

// benchMode is the pipeline's mode: merge (upsert on the key), unless
// SHP_BENCH_PG_MODE says append.
func benchMode() string {
	if m := os.Getenv("SHP_BENCH_PG_MODE"); m != "" {
		return m
	}
	return "merge"
}
