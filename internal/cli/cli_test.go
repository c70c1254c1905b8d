package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/sample"
	"github.com/shp-dev/shp/internal/testutil"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// shp runs the command line in-process and returns exit code and output.
func shp(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
	return code, out.String(), errOut.String()
}

func initProject(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "proj")
	if code, out, errOut := shp(t, "init", dir); code != 0 {
		t.Fatalf("init: %d %s %s", code, out, errOut)
	}
	return dir
}

func TestQuickstartEndToEnd(t *testing.T) {
	dir := initProject(t)

	code, out, errOut := shp(t, "run", "--config", dir)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	// Five days of 750 rows: one malformed row and two bad values are
	// quarantined; one corrected order replaces its earlier copy. The
	// engine reads day 2 as Latin-1, adds day 4's discount column and
	// reads day 5's day-first dates (see TestQuickstartHeals).
	for _, want := range []string{
		"sales_2026-01-01.csv  750      750     0",
		"sales_2026-01-02.csv  750      749     1",
		"sales_2026-01-03.csv  750      748     2",
		"sales_2026-01-04.csv  750      750     0",
		"sales_2026-01-05.csv  750      750     0",
		"rows in 3750 = loaded 3746 + quarantined 3 + de-duplicated 1  [ok]",
		"sales_2026-01-02.csv:102: MISSING COLUMNS (column quantity, unit_price, region): Expected Number of Columns: 7 Found: 4\n",
		`Could not convert string "two" to 'BIGINT'`,
		"query it:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("run output lacks %q:\n%s", want, out)
		}
	}

	code, out, _ = shp(t, "query", "--config", dir, "--format", "csv", "SELECT count(*) AS n, count(DISTINCT order_id) AS d FROM sales")
	if code != 0 || out != "n,d\n3746,3746\n" {
		t.Fatalf("count: %d %q", code, out)
	}
	code, out, _ = shp(t, "query", "--config", dir, "--format", "json", "SELECT quantity FROM sales WHERE order_id = 100011")
	if code != 0 || !strings.Contains(out, `{"quantity":7}`) {
		t.Fatalf("the corrected order should win: %d %q", code, out)
	}
	code, out, _ = shp(t, "query", "--config", dir, "SELECT source_object, line FROM sales__quarantine ORDER BY source_object, line")
	if code != 0 || !strings.Contains(out, "sales_2026-01-02.csv  102") || !strings.Contains(out, "(3 rows)") {
		t.Fatalf("quarantine: %d\n%s", code, out)
	}

	// A second run finds nothing new; a full refresh rebuilds, not doubles.
	code, out, _ = shp(t, "run", "--config", dir)
	if code != 0 || !strings.Contains(out, "5 file(s) already loaded") || !strings.Contains(out, "no new files") {
		t.Fatalf("second run: %d\n%s", code, out)
	}
	code, out, _ = shp(t, "run", "--config", dir, "--full-refresh", "--format", "json")
	if code != 0 {
		t.Fatalf("full refresh: %d %s", code, out)
	}
	var results []resultJSON
	if err := json.Unmarshal([]byte(out), &results); err != nil || len(results) != 1 || results[0].Loaded != 3746 || !results[0].InvariantOK {
		t.Fatalf("full refresh json: %v %s", err, out)
	}
	_, out, _ = shp(t, "query", "--config", dir, "--format", "csv", "SELECT count(*) FROM sales UNION ALL SELECT count(*) FROM sales__quarantine")
	if out != "count_star()\n3746\n3\n" {
		t.Fatalf("after full refresh: %q", out)
	}

	code, out, _ = shp(t, "runs", "--config", dir, "--format", "json")
	var runs []runJSON
	if err := json.Unmarshal([]byte(out), &runs); err != nil || code != 0 || len(runs) != 3 {
		t.Fatalf("runs: %d %v %s", code, err, out)
	}
	if runs[0].Status != "succeeded" || !runs[0].FullRefresh || runs[2].RowsIn != 3750 || runs[2].Deduplicated != 1 {
		t.Fatalf("runs: %+v", runs)
	}
	code, out, _ = shp(t, "runs", "--config", dir)
	if code != 0 || !strings.Contains(out, "succeeded") || !strings.Contains(out, "DEDUPLICATED") {
		t.Fatalf("runs table: %s", out)
	}
}

func TestExitCodes(t *testing.T) {
	dir := initProject(t)
	broken := filepath.Join(t.TempDir(), "broken")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(broken, "config.yaml"), []byte("project: x\npipelines:\n  p:\n    source: nope\n"), 0o644)
	os.WriteFile(filepath.Join(broken, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: x/\n    colour: red\n"), 0o644)

	strict := initProject(t)
	cfg := filepath.Join(strict, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(b, []byte("max_quarantine_ratio: 0.05"), []byte("max_quarantine_ratio: 0.0001"), 1), 0o644)

	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"valid config", []string{"config", "validate", dir}, 0, "is valid"},
		{"invalid config", []string{"config", "validate", broken}, 2, "sources.yaml:5:5"},
		{"dangling reference", []string{"config", "validate", broken}, 2, "config.yaml:4:13"},
		{"run with invalid config", []string{"run", "--config", broken}, 2, "sources.yaml:5:5"},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"unknown pipeline", []string{"run", "--config", dir, "--pipeline", "nope"}, 2, `pipeline "nope" is not defined`},
		{"bad format flag", []string{"query", "--config", dir, "--format", "xml", "SELECT 1"}, 2, "--format"},
		{"bad SQL", []string{"query", "--config", dir, "SELEKT"}, 1, "syntax error"},
		{"quarantine above threshold", []string{"run", "--config", strict}, 1, "quarantined share above threshold: 3 of 3750 rows"},
		{"version", []string{"version"}, 0, "shp "},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, out, errOut := shp(t, tc.args...)
			if code != tc.code || !strings.Contains(out+errOut, tc.want) {
				t.Fatalf("exit %d (want %d), output lacks %q:\n%s\n%s", code, tc.code, tc.want, out, errOut)
			}
		})
	}
	// The failed run is recorded, with nothing committed.
	_, out, _ := shp(t, "runs", "--config", strict, "--format", "json")
	if !strings.Contains(out, `"status": "failed"`) {
		t.Fatalf("failed run not recorded: %s", out)
	}
	_, out, _ = shp(t, "query", "--config", strict, "--format", "csv", "SELECT count(*) FROM information_schema.tables WHERE table_name = 'sales'")
	if out != "count_star()\n0\n" {
		t.Fatalf("a failed run must commit nothing: %q", out)
	}
}

func TestInitRefusesToOverwrite(t *testing.T) {
	dir := initProject(t)
	if code, _, errOut := shp(t, "init", dir); code != 2 || !strings.Contains(errOut, "already exists") {
		t.Fatalf("init over a project: %d %s", code, errOut)
	}
}

func TestExampleMatchesSample(t *testing.T) {
	for name, want := range sample.Files() {
		got, err := os.ReadFile(filepath.Join("..", "..", "examples", "quickstart", filepath.FromSlash(name)))
		if err != nil {
			t.Fatalf("examples/quickstart is out of date (regenerate with `go run ./cmd/shp init`): %v", err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("examples/quickstart/%s differs from `shp init` output; regenerate it", name)
		}
	}
}

// TestSeedExampleValidates loads the seed README's sources.yaml example as
// written, next to a schema file like the quick start's.
func TestSeedExampleValidates(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"config.yaml", "sources.yaml"} {
		b, err := os.ReadFile(filepath.Join("..", "config", "testdata", "seed", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, f), b, 0o644)
	}
	code, _, errOut := shp(t, "config", "validate", dir)
	if code != 2 || !strings.Contains(errOut, `sources.yaml:8:13: source "sales_data": schema file "schemas/sales_schema.json" not found`) {
		t.Fatalf("without its schema file: %d %s", code, errOut)
	}
	os.MkdirAll(filepath.Join(dir, "schemas"), 0o755)
	os.WriteFile(filepath.Join(dir, "schemas", "sales_schema.json"), sample.Files()["schemas/sales_schema.json"], 0o644)
	code, out, errOut := shp(t, "config", "validate", dir)
	if code != 0 || !strings.Contains(out, "is valid: project quickstart, pipelines sales, sources 1") {
		t.Fatalf("seed example: %d %s %s", code, out, errOut)
	}
}

// TestPostgresMetadataStore runs the quick start with its run records in
// the real PostgreSQL server.
func TestPostgresMetadataStore(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	t.Setenv("SHP_TEST_METADATA_DSN", dsn)
	dir := initProject(t)
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	b = bytes.Replace(b, []byte("  type: sqlite "), []byte("  type: postgres\n  dsn: ${SHP_TEST_METADATA_DSN}\n  #"), 1)
	b = bytes.Replace(b, []byte("  path: .shp/metadata.db\n"), nil, 1)
	os.WriteFile(cfg, b, 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d\n%s\n%s", code, out, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".shp", "metadata.db")); err == nil {
		t.Fatal("an SQLite store was created although the config names PostgreSQL")
	}
	code, out, _ := shp(t, "runs", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(out, `"rows_in": 3750`) || !strings.Contains(out, `"invariant_ok": true`) {
		t.Fatalf("runs from postgres: %d %s", code, out)
	}
}

// runJSON is a run as shp runs --format json prints it.
type runJSON struct {
	ID           string     `json:"id"`
	Pipeline     string     `json:"pipeline"`
	Status       string     `json:"status"`
	StartedAt    time.Time  `json:"started_at"`
	EndedAt      *time.Time `json:"ended_at,omitempty"`
	RowsIn       int64      `json:"rows_in"`
	Loaded       int64      `json:"rows_loaded"`
	Quarantined  int64      `json:"rows_quarantined"`
	Deduplicated int64      `json:"rows_deduplicated"`
	Objects      int64      `json:"objects"`
	Bytes        int64      `json:"bytes"`
	InvariantOK  bool       `json:"invariant_ok"`
	FullRefresh  bool       `json:"full_refresh"`
	Error        string     `json:"error,omitempty"`
	LogicalDate  *time.Time `json:"logical_date,omitempty"`
	Trigger      string     `json:"trigger"`
	Attempt      int        `json:"attempt"`
	// Metrics are the batch's measures for anomaly detection.
	Metrics map[string]float64 `json:"metrics,omitempty"`
}
