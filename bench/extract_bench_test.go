package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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
	dsn, conn, bin := pgAccounts(b, "")
	rows := extractRows()
	var bare, floor, write, shp []measure
	var copied int64
	const sums = "SELECT count(*) || '|' || count(DISTINCT aid) || '|' || sum(bid) || '|' || sum(abalance) FROM pgbench_accounts"
	var want string
	if err := conn.QueryRow(ctx, sums).Scan(&want); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		tag, err := conn.PgConn().CopyTo(ctx, io.Discard, "COPY (SELECT * FROM pgbench_accounts) TO STDOUT WITH (FORMAT csv)")
		if err != nil {
			b.Fatal(err)
		}
		copied = tag.RowsAffected()
		bare = append(bare, measure{wall: time.Since(start)})

		floor = append(floor, enginesAlone(b, conn, bin, dsn, sums, want))
		write = append(write, duckdbWrite(b, bin, dsn, rows))

		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: bench\n"+benchWarehouse()+"pipelines:\n  accounts:\n    source: pg\n    mode: "+benchMode()+"\n    key: [aid]\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(fmt.Sprintf(
			"sources:\n  pg:\n    type: postgres\n    dsn: %q\n    table: pgbench_accounts\n    key: aid\n    chunk_size: 500000\n%s", dsn, benchIncremental())), 0o644)
		start = time.Now()
		m := runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		shp = append(shp, m)
		b.StopTimer()
		if got := shpQuery(b, bin, dir, strings.Replace(sums, "pgbench_accounts", "accounts", 1)); got != want {
			b.Fatalf("target: rows|keys|sum(bid)|sum(abalance) = %s, source %s", got, want)
		}
		b.StartTimer()
	}
	b.StopTimer()
	if copied != int64(rows) {
		b.Fatalf("COPY read %d rows, want %d", copied, rows)
	}
	bm, fm, wm, sm := best(bare), best(floor), best(write), best(shp)
	ratio := bm.wall.Seconds() / sm.wall.Seconds()
	b.ReportMetric(ratio, "x_copy_rate")
	b.ReportMetric(bm.wall.Seconds()/fm.wall.Seconds(), "x_copy_rate_engines_alone")
	b.ReportMetric(float64(sm.maxRSS)/(1<<20), "MiB_peak_shp")
	fmt.Printf("\n%-40s %12s %12s %10s\n", "PostgreSQL -> DuckDB, "+strconv.Itoa(rows)+" rows", "wall (best)", "peak RSS", "rows/s")
	fmt.Printf("%-40s %12s %12s %10.0f\n", "COPY (SELECT *) TO STDOUT > /dev/null", bm.wall.Round(time.Millisecond), "-", float64(rows)/bm.wall.Seconds())
	fmt.Printf("%-40s %12s %8.0f MiB %10.0f\n", "DuckDB writing the rows, generated", wm.wall.Round(time.Millisecond), float64(wm.maxRSS)/(1<<20), float64(rows)/wm.wall.Seconds())
	fmt.Printf("%-40s %12s %8.0f MiB %10.0f\n", "engines alone: COPY > file; read_csv CTAS", fm.wall.Round(time.Millisecond), float64(fm.maxRSS)/(1<<20), float64(rows)/fm.wall.Seconds())
	fmt.Printf("%-40s %12s %8.0f MiB %10.0f\n", "shp run (extract+stage+load+merge)", sm.wall.Round(time.Millisecond), float64(sm.maxRSS)/(1<<20), float64(rows)/sm.wall.Seconds())
	fmt.Printf("shp rate / COPY rate = %.2fx (target >= 0.8x); engines alone %.2fx\n\n", ratio, bm.wall.Seconds()/fm.wall.Seconds())
}

// enginesAlone is the floor of any PostgreSQL → DuckDB load on this
// machine, timed as one: the server's CSV COPY into a file, then DuckDB's
// own CREATE TABLE AS read_csv of that file (in the shp binary, under the
// same memory limit), checked against the source's sums. Its RSS is
// DuckDB's.
func enginesAlone(b *testing.B, conn *pgx.Conn, bin, dsn, sums, want string) measure {
	b.Helper()
	dir := pgProject(b, dsn, "merge", "")
	csvPath := filepath.Join(dir, "accounts.csv")
	start := time.Now()
	f, err := os.Create(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := conn.PgConn().CopyTo(context.Background(), f, "COPY (SELECT * FROM pgbench_accounts) TO STDOUT WITH (FORMAT csv, HEADER)"); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	m := runMeasured(b, bin, "query", "--config", dir, fmt.Sprintf("CREATE TABLE accounts AS SELECT * FROM read_csv('%s')", csvPath))
	m.wall = time.Since(start)
	b.StopTimer()
	if got := shpQuery(b, bin, dir, strings.Replace(sums, "pgbench_accounts", "accounts", 1)); got != want {
		b.Fatalf("engines alone: rows|keys|sum(bid)|sum(abalance) = %s, source %s", got, want)
	}
	b.StartTimer()
	return m
}

// duckdbWrite times DuckDB alone writing a table of the same shape from
// generated rows (no source, no staging): with the COPY above, what a load
// of the table costs at least on this machine.
func duckdbWrite(b *testing.B, bin, dsn string, rows int) measure {
	b.Helper()
	dir := pgProject(b, dsn, "merge", "")
	start := time.Now()
	m := runMeasured(b, bin, "query", "--config", dir, fmt.Sprintf(`CREATE TABLE accounts AS SELECT range + 1 AS aid,
		range // 100000 + 1 AS bid, 0 AS abalance, repeat(' ', 84) AS filler FROM range(%d)`, rows))
	m.wall = time.Since(start)
	return m
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

// benchWarehouse is config.yaml's warehouse section: DuckDB's memory
// limit from SHP_BENCH_MEMORY_LIMIT (e.g. 1GB), else shp's default.
func benchWarehouse() string {
	if m := os.Getenv("SHP_BENCH_MEMORY_LIMIT"); m != "" {
		return "warehouse:\n  memory_limit: " + m + "\n"
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

// pgAccounts makes the pgbench_accounts-shaped table (extractRows rows,
// with extra columns such as ", 0::bigint AS rev") in a schema of the
// benchmark's own and builds shp; it returns the DSN, a connection
// closed with the benchmark, and the binary.
func pgAccounts(b *testing.B, extra string) (string, *pgx.Conn, string) {
	b.Helper()
	ctx := context.Background()
	dsn := testutil.PostgresDSN(b)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close(context.Background()) })
	for _, stmt := range []string{
		fmt.Sprintf(`CREATE TABLE pgbench_accounts AS SELECT g AS aid, (g - 1) / 100000 + 1 AS bid, 0 AS abalance,
			CAST('' AS char(84)) AS filler%s FROM generate_series(1, %d) g`, extra, extractRows()),
		`ALTER TABLE pgbench_accounts ADD PRIMARY KEY (aid)`,
		`VACUUM ANALYZE pgbench_accounts`,
	} {
		if _, err := conn.Exec(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	bin := buildShp(b)
	return dsn, conn, bin
}

// buildShp builds shp for a benchmark, with DuckDB's Arrow interface
// (typed batches) unless SHP_BENCH_TEXT=1 asks for the text path.
func buildShp(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "shp")
	args := []string{"build", "-tags", "duckdb_arrow", "-o", bin, "../cmd/shp"}
	if os.Getenv("SHP_BENCH_TEXT") == "1" {
		args = []string{"build", "-o", bin, "../cmd/shp"}
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		b.Fatalf("build shp: %v\n%s", err, out)
	}
	return bin
}

// pgProject writes a project that extracts pgbench_accounts in chunks of
// 500,000 rows into the DuckDB target accounts with mode (merge on aid).
func pgProject(b *testing.B, dsn, mode, incremental string) string {
	b.Helper()
	dir := b.TempDir()
	key := ""
	if mode == "merge" {
		key = "    key: [aid]\n"
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: bench\n"+benchWarehouse()+"pipelines:\n  accounts:\n    source: pg\n    target: accounts\n    mode: "+mode+"\n"+key), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(fmt.Sprintf(
		"sources:\n  pg:\n    type: postgres\n    dsn: %q\n    table: pgbench_accounts\n    key: aid\n    chunk_size: 500000\n%s", dsn, incremental)), 0o644)
	return dir
}

// BenchmarkPostgresMerge compares, in one run, a merge of the whole
// pgbench_accounts-shaped table onto a DuckDB target that holds it
// already (every key matches: 5M rows replaced) with an append of the
// same rows into a new target (issue 17: at most 1.3x).
func BenchmarkPostgresMerge(b *testing.B) {
	dsn, _, bin := pgAccounts(b, "")
	var appends, merges []measure
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dir := pgProject(b, dsn, "append", "    incremental: {column: aid}\n")
		start := time.Now()
		m := runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		appends = append(appends, m)

		dir = pgProject(b, dsn, "merge", "")
		b.StopTimer()
		runMeasured(b, bin, "run", "--quiet", "--config", dir) // the target holds the table
		b.StartTimer()
		start = time.Now()
		m = runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		merges = append(merges, m)
		if got := shpQuery(b, bin, dir, "SELECT count(*) || '|' || count(DISTINCT aid) FROM accounts"); got != fmt.Sprintf("%d|%d", extractRows(), extractRows()) {
			b.Fatalf("after the merge the target holds %s (rows|keys)", got)
		}
	}
	b.StopTimer()
	am, mm := best(appends), best(merges)
	ratio := mm.wall.Seconds() / am.wall.Seconds()
	b.ReportMetric(ratio, "x_append")
	fmt.Printf("\n%-48s %12s %12s\n", fmt.Sprintf("PostgreSQL -> DuckDB, %d rows", extractRows()), "wall (best)", "peak RSS")
	fmt.Printf("%-48s %12s %8.0f MiB\n", "append into a new target (baseline)", am.wall.Round(time.Millisecond), float64(am.maxRSS)/(1<<20))
	fmt.Printf("%-48s %12s %8.0f MiB\n", "merge onto the target holding every key", mm.wall.Round(time.Millisecond), float64(mm.maxRSS)/(1<<20))
	fmt.Printf("merge / append = %.2fx (target <= 1.3x)\n\n", ratio)
}
