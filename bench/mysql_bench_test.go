package bench

import (
	"context"
	"database/sql"
	"encoding/csv"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/shp-dev/shp/internal/testutil"
)

// mysqlRows is the size of the MariaDB table: 1 million rows unless
// SHP_BENCH_MYSQL_ROWS says otherwise.
func mysqlRows() int { return envRows("SHP_BENCH_MYSQL_ROWS", 1_000_000) }

// mysqlChecks are the figures a load must reproduce: rows, distinct
// keys and the sums of the numeric columns, as text.
const mysqlChecks = "SELECT COUNT(*), COUNT(DISTINCT id), CAST(SUM(amount) AS CHAR), CAST(SUM(big) AS CHAR), " +
	"CAST(SUM(qty) AS CHAR), COUNT(at), COUNT(doc), SUM(CHAR_LENGTH(note)) FROM orders"

// duckChecks are mysqlChecks in DuckDB, over the loaded target.
const duckChecks = "SELECT COUNT(*), COUNT(DISTINCT id), CAST(SUM(amount) AS VARCHAR), CAST(SUM(big) AS VARCHAR), " +
	"CAST(SUM(qty) AS VARCHAR), COUNT(\"at\"), COUNT(doc), SUM(length(note)) FROM orders"

// BenchmarkMySQLExtract compares, in one run, `shp run` of a pipeline
// that extracts a MariaDB table with the types issue 17 names
// (DECIMAL(20,6), BIGINT UNSIGNED, DATETIME, text, JSON) into DuckDB
// with the `mysql` client reading the same table to nowhere
// (`mysql --quick -e "SELECT * ..." > /dev/null`), and checks the
// loaded target's counts and sums against the source's.
func BenchmarkMySQLExtract(b *testing.B) {
	ctx := context.Background()
	dsn := testutil.MySQLDSN(b)
	client, err := exec.LookPath("mysql")
	if err != nil {
		b.Skip("no mysql client on PATH (apt-get install mariadb-client)")
	}
	rows := mysqlRows()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range testutil.MySQLOrders(rows) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	want, err := mysqlFigures(ctx, db)
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	host, port := "127.0.0.1", "3306"
	if h, p, ok := strings.Cut(cfg.Addr, ":"); ok {
		host, port = h, p
	}
	bin := buildShp(b)
	var bare, shp []measure
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cmd := exec.Command(client, "--quick", "-h", host, "-P", port, "-u", cfg.User, cfg.DBName, "-e", "SELECT * FROM orders")
		var stderr strings.Builder
		cmd.Stderr = &stderr // stdout is discarded
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("mysql client: %v\n%s", err, stderr.String())
		}
		bare = append(bare, measure{wall: time.Since(start)})

		dir := b.TempDir()
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: bench\n"+benchWarehouse()+"pipelines:\n  orders:\n    source: my\n    target: orders\n    mode: "+benchMode()+"\n    key: [id]\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte(fmt.Sprintf(
			"sources:\n  my:\n    type: mysql\n    dsn: %q\n    table: orders\n    key: id\n    chunk_size: 250000\n%s", dsn,
			strings.ReplaceAll(benchIncremental(), "aid", "id"))), 0o644)
		start = time.Now()
		m := runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		shp = append(shp, m)
		if got := duckFigures(b, bin, dir); got != want {
			b.Fatalf("loaded target: %s\nsource:        %s", got, want)
		}
	}
	b.StopTimer()
	bm, sm := best(bare), best(shp)
	ratio := bm.wall.Seconds() / sm.wall.Seconds()
	b.ReportMetric(ratio, "x_client_rate")
	b.ReportMetric(float64(sm.maxRSS)/(1<<20), "MiB_peak_shp")
	fmt.Printf("\n%-44s %12s %12s %10s\n", "MariaDB -> DuckDB, "+strconv.Itoa(rows)+" rows", "wall (best)", "peak RSS", "rows/s")
	fmt.Printf("%-44s %12s %12s %10.0f\n", "mysql --quick -e 'SELECT *' > /dev/null", bm.wall.Round(time.Millisecond), "-", float64(rows)/bm.wall.Seconds())
	fmt.Printf("%-44s %12s %8.0f MiB %10.0f\n", "shp run (extract+stage+load+"+benchMode()+")", sm.wall.Round(time.Millisecond), float64(sm.maxRSS)/(1<<20), float64(rows)/sm.wall.Seconds())
	fmt.Printf("shp rate / client rate = %.2fx (target >= 0.5x); counts and sums match the source\n\n", ratio)
}

// mysqlFigures reads mysqlChecks, joined with "|".
func mysqlFigures(ctx context.Context, db *sql.DB) (string, error) {
	vals := make([]sql.NullString, 8)
	ptrs := make([]any, len(vals))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := db.QueryRowContext(ctx, mysqlChecks).Scan(ptrs...); err != nil {
		return "", err
	}
	out := make([]string, len(vals))
	for i, v := range vals {
		out[i] = normalizeNumber(v.String)
	}
	return strings.Join(out, "|"), nil
}

// duckFigures runs duckChecks on the project's warehouse with shp query.
func duckFigures(b *testing.B, bin, dir string) string {
	b.Helper()
	cmd := exec.Command(bin, "query", "--config", dir, "--format", "csv", duckChecks)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("shp query: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) != 2 {
		b.Fatalf("shp query output %q: %v", out, err)
	}
	vals := make([]string, len(recs[1]))
	for i, v := range recs[1] {
		vals[i] = normalizeNumber(v)
	}
	return strings.Join(vals, "|")
}

// normalizeNumber writes a decimal without trailing zeros after its
// point, so that MariaDB's and DuckDB's sums compare.
func normalizeNumber(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}
