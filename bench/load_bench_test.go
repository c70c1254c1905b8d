// Package bench measures shp end to end against the engine's bare load of
// the same file, in the same run, so the figures are ratios on one machine.
// Run it with `make bench`.
package bench

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// benchRows is the size of the generated sales file: 5 million rows (about
// 250 MB) unless SHP_BENCH_ROWS says otherwise.
func benchRows() int { return envRows("SHP_BENCH_ROWS", 5_000_000) }

// envRows is the positive integer the environment variable name holds,
// else def.
func envRows(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// generate writes a seven-column sales CSV, deterministically.
func generate(path string, rows int) error {
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

const schemaJSON = `[
 {"name":"order_id","type":"INTEGER","mode":"REQUIRED"},
 {"name":"order_date","type":"DATE"},
 {"name":"customer_id","type":"STRING"},
 {"name":"product","type":"STRING"},
 {"name":"quantity","type":"INTEGER"},
 {"name":"unit_price","type":"NUMERIC","precision":"12","scale":"2"},
 {"name":"region","type":"STRING"}]`

func project(b *testing.B, dir, dataDir string) {
	b.Helper()
	files := map[string]string{
		"config.yaml": "project: bench\n" + benchWarehouse() + "pipelines:\n  sales:\n    source: sales\n    target: sales\n",
		"sources.yaml": fmt.Sprintf("sources:\n  sales:\n    type: file\n    path: %s/*.csv\n    format: csv\n    schema: schema.json\n",
			filepath.ToSlash(dataDir)),
		"schema.json": schemaJSON,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}

type measure struct {
	wall   time.Duration
	maxRSS int64 // bytes
}

func runMeasured(b *testing.B, bin string, args ...string) measure {
	b.Helper()
	cmd := exec.Command(bin, args...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%s %v: %v\n%s", bin, args, err, out)
	}
	m := measure{}
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		m.maxRSS = ru.Maxrss * 1024
	}
	return m
}

func BenchmarkLoad(b *testing.B) {
	root, err := filepath.Abs("testdata")
	if err != nil {
		b.Fatal(err)
	}
	rows := benchRows()
	dataDir := filepath.Join(root, fmt.Sprintf("sales-%d", rows))
	csvPath := filepath.Join(dataDir, "sales.csv")
	if _, err := os.Stat(csvPath); err != nil {
		if err := os.MkdirAll(dataDir, 0o755); err != nil {
			b.Fatal(err)
		}
		if err := generate(csvPath, rows); err != nil {
			b.Fatal(err)
		}
	}
	st, err := os.Stat(csvPath)
	if err != nil {
		b.Fatal(err)
	}
	bin := buildShp(b)

	var bare, shp []measure
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bareDir, shpDir := b.TempDir(), b.TempDir()
		project(b, bareDir, dataDir)
		project(b, shpDir, dataDir)

		start := time.Now()
		m := runMeasured(b, bin, "query", "--config", bareDir,
			fmt.Sprintf("CREATE TABLE bare AS SELECT * FROM read_csv('%s')", csvPath))
		m.wall = time.Since(start)
		bare = append(bare, m)

		start = time.Now()
		m = runMeasured(b, bin, "run", "--quiet", "--config", shpDir)
		m.wall = time.Since(start)
		shp = append(shp, m)
	}
	b.StopTimer()
	bm, sm := best(bare), best(shp)
	ratio := sm.wall.Seconds() / bm.wall.Seconds()
	b.ReportMetric(ratio, "x_bare")
	b.ReportMetric(float64(sm.maxRSS)/(1<<20), "MiB_peak_shp")
	fmt.Printf("\n%-34s %12s %12s %10s\n", "load of "+strconv.Itoa(rows)+" rows", "wall (best)", "peak RSS", "rows/s")
	fmt.Printf("%-34s %12s %10.0f MiB %10.0f\n", "DuckDB CREATE TABLE AS read_csv", bm.wall.Round(time.Millisecond), float64(bm.maxRSS)/(1<<20), float64(rows)/bm.wall.Seconds())
	fmt.Printf("%-34s %12s %10.0f MiB %10.0f\n", "shp run (stage+count+load+commit)", sm.wall.Round(time.Millisecond), float64(sm.maxRSS)/(1<<20), float64(rows)/sm.wall.Seconds())
	fmt.Printf("file %.0f MiB; shp / bare = %.2fx (target <= 1.5x); shp peak RSS %.0f MiB (target < 1024)\n\n",
		float64(st.Size())/(1<<20), ratio, float64(sm.maxRSS)/(1<<20))
}

// best is the fastest of the repetitions; its memory is the worst seen.
func best(ms []measure) measure {
	out := ms[0]
	for _, m := range ms[1:] {
		if m.wall < out.wall {
			out.wall = m.wall
		}
		if m.maxRSS > out.maxRSS {
			out.maxRSS = m.maxRSS
		}
	}
	return out
}
