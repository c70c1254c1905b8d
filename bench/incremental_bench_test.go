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

	_ "github.com/duckdb/duckdb-go/v2" // the baseline's DuckDB
	"github.com/jackc/pgx/v5"
)

// BenchmarkPostgresIncremental measures the run after the first: 1% of
// a pgbench_accounts-shaped table's rows updated and 0.2% new, picked up
// by an incremental source (a revision column as the watermark) and
// merged on the key into the DuckDB target that holds the rest. The
// baseline, in the same run, is the same delta by hand with the same
// libraries: COPY of the changed rows to a CSV file, then one DuckDB
// transaction that deletes their keys from its own copy of the target
// and inserts them. Both targets are checked against the source (rows,
// distinct keys, the sum of abalance).
func BenchmarkPostgresIncremental(b *testing.B) {
	ctx := context.Background()
	dsn, conn, bin := pgAccounts(b, ", 0::bigint AS rev")
	rows := extractRows()
	if _, err := conn.Exec(ctx, "CREATE INDEX ON pgbench_accounts (rev)"); err != nil {
		b.Fatal(err)
	}
	dir := pgProject(b, dsn, "merge", "    incremental: {column: rev}\n")
	runMeasured(b, bin, "run", "--quiet", "--config", dir) // the first, full run

	// The baseline's own target: the same rows.
	full := filepath.Join(b.TempDir(), "full.csv")
	if err := copyTo(ctx, conn, "COPY (SELECT aid, bid, abalance, filler FROM pgbench_accounts) TO STDOUT WITH (FORMAT csv, HEADER)", full); err != nil {
		b.Fatal(err)
	}
	duck, err := sql.Open("duckdb", filepath.Join(b.TempDir(), "baseline.duckdb"))
	if err != nil {
		b.Fatal(err)
	}
	defer duck.Close()
	readCSV := func(path string) string {
		return fmt.Sprintf("read_csv('%s', header=true, columns={'aid':'BIGINT','bid':'INTEGER','abalance':'INTEGER','filler':'VARCHAR'})", path)
	}
	if _, err := duck.ExecContext(ctx, "CREATE TABLE accounts AS SELECT * FROM "+readCSV(full)); err != nil {
		b.Fatal(err)
	}
	os.Remove(full)

	changed := rows / 100
	added := rows / 500
	next := rows
	var bare, shp []measure
	var delta int
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		b.StopTimer()
		rev := strconv.Itoa(i)
		for _, stmt := range []string{
			fmt.Sprintf("UPDATE pgbench_accounts SET abalance = abalance + %d, rev = %s WHERE aid %% 100 = %d", i, rev, i%100),
			fmt.Sprintf(`INSERT INTO pgbench_accounts SELECT g, (g - 1) / 100000 + 1, %d, '', %s FROM generate_series(%d, %d) g`, i, rev, next+1, next+added),
		} {
			if _, err := conn.Exec(ctx, stmt); err != nil {
				b.Fatal(err)
			}
		}
		next += added
		delta = changed + added
		b.StartTimer()

		start := time.Now()
		path := filepath.Join(b.TempDir(), "delta.csv")
		if err := copyTo(ctx, conn, "COPY (SELECT aid, bid, abalance, filler FROM pgbench_accounts WHERE rev = "+rev+") TO STDOUT WITH (FORMAT csv, HEADER)", path); err != nil {
			b.Fatal(err)
		}
		tx, err := duck.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		for _, stmt := range []string{
			"CREATE TEMP TABLE d AS SELECT * FROM " + readCSV(path),
			"DELETE FROM accounts WHERE aid IN (SELECT aid FROM d)",
			"INSERT INTO accounts SELECT * FROM d",
			"DROP TABLE d",
		} {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		bare = append(bare, measure{wall: time.Since(start)})

		start = time.Now()
		m := runMeasured(b, bin, "run", "--quiet", "--config", dir)
		m.wall = time.Since(start)
		shp = append(shp, m)

		b.StopTimer()
		var want string
		if err := conn.QueryRow(ctx, "SELECT count(*) || '|' || count(DISTINCT aid) || '|' || sum(abalance) FROM pgbench_accounts").Scan(&want); err != nil {
			b.Fatal(err)
		}
		var base string
		if err := duck.QueryRowContext(ctx, "SELECT count(*) || '|' || count(DISTINCT aid) || '|' || sum(abalance) FROM accounts").Scan(&base); err != nil {
			b.Fatal(err)
		}
		if got := shpQuery(b, bin, dir, "SELECT count(*) || '|' || count(DISTINCT aid) || '|' || sum(abalance) FROM accounts"); got != want || base != want {
			b.Fatalf("shp's target %s, the baseline's %s, the source %s", got, base, want)
		}
		b.StartTimer()
	}
	b.StopTimer()
	bm, sm := best(bare), best(shp)
	ratio := bm.wall.Seconds() / sm.wall.Seconds()
	b.ReportMetric(ratio, "x_copy_rate")
	b.ReportMetric(float64(sm.maxRSS)/(1<<20), "MiB_peak_shp")
	fmt.Printf("\n%-52s %12s %12s\n", fmt.Sprintf("incremental: %d changed rows of %d", delta, rows), "wall (best)", "peak RSS")
	fmt.Printf("%-52s %12s %12s\n", "COPY of the delta + DuckDB delete/insert (baseline)", bm.wall.Round(time.Millisecond), "-")
	fmt.Printf("%-52s %12s %8.0f MiB\n", "shp run (incremental extract + merge)", sm.wall.Round(time.Millisecond), float64(sm.maxRSS)/(1<<20))
	fmt.Printf("shp rate / baseline rate = %.2fx (target >= 0.7x); both targets match the source\n\n", ratio)
}

// copyTo runs a COPY ... TO STDOUT into a file.
func copyTo(ctx context.Context, conn *pgx.Conn, query, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := conn.PgConn().CopyTo(ctx, f, query); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// shpQuery runs a query of one value on a project's warehouse with shp
// query and returns the value.
func shpQuery(b *testing.B, bin, dir, query string) string {
	b.Helper()
	cmd := exec.Command(bin, "query", "--config", dir, "--format", "csv", query)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("shp query: %v\n%s", err, stderr.String())
	}
	recs, err := csv.NewReader(strings.NewReader(string(out))).ReadAll()
	if err != nil || len(recs) != 2 || len(recs[1]) != 1 {
		b.Fatalf("shp query output %q: %v", out, err)
	}
	return recs[1][0]
}
