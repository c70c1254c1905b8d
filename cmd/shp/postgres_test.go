package main

import (
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/testutil"
)

// quickstartWarehouse is the warehouse section of examples/quickstart's
// config.yaml, which the PostgreSQL quick start replaces with one line.
const quickstartWarehouse = "warehouse:\n  type: duckdb\n  path: .shp/warehouse.duckdb\n"

// quickstartAccounting is the quick start's first run's row accounting,
// on every warehouse.
const quickstartAccounting = "rows in 3750 = loaded 3746 + quarantined 3 + de-duplicated 1  [ok]"

// quickstartOn copies examples/quickstart with its warehouse section
// replaced by line and returns the copy's folder and a function that runs
// the real binary on it, failing the test on an error; every output is
// also written to shown, when there is one.
func quickstartOn(t *testing.T, line string, shown *strings.Builder) (string, func(args ...string) string) {
	t.Helper()
	bin := buildShp(t)
	dir := copyQuickstart(t)
	cfgPath := filepath.Join(dir, "config.yaml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(cfg), quickstartWarehouse) {
		t.Fatalf("examples/quickstart/config.yaml has no section\n%s", quickstartWarehouse)
	}
	if err := os.WriteFile(cfgPath, []byte(strings.Replace(string(cfg), quickstartWarehouse, line, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append(args, "--config", dir)...).CombinedOutput()
		if shown != nil {
			shown.Write(out)
		}
		if err != nil {
			t.Fatalf("shp %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
}

// salesCount is the quick start's sales table's rows and distinct order
// ids, as "rows,ids".
func salesCount(shp func(args ...string) string) string {
	out := shp("query", "--format", "csv", "SELECT count(*), count(DISTINCT order_id) FROM sales")
	return strings.TrimSpace(strings.Split(strings.TrimSpace(out), "\n")[1])
}

// copyQuickstart copies examples/quickstart, without anything a run left
// in it, into a new folder.
func copyQuickstart(t *testing.T) string {
	t.Helper()
	src, dst := filepath.Join("..", "..", "examples", "quickstart"), t.TempDir()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".shp" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestQuickstartOnPostgres runs examples/quickstart with the real binary
// against the local PostgreSQL, its config.yaml changed in one line (the
// warehouse section): schemas of the test's own for the targets and for
// shp's tables, dropped at the end. The run's row accounting and the
// target match the DuckDB quick start's; a second run and a full refresh
// change nothing; shp query reads the warehouse. The DSN's password, from
// the environment, is in no output and no file the runs leave.
func TestQuickstartOnPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the real binary and loads into PostgreSQL; skipped with -short")
	}
	dsn := testutil.PostgresDSN(t) // a schema of the test's own, first on its search_path
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		t.Skipf("the test DSN is not a URL with a user")
	}
	schema := u.Query().Get("search_path")
	var b [6]byte
	_, _ = rand.Read(b[:])
	internal := "shp_test_qs_" + hex.EncodeToString(b[:]) + "_shp"
	t.Cleanup(func() {
		testutil.PostgresExec(t, dsn, "DROP SCHEMA IF EXISTS "+pgx.Identifier{internal}.Sanitize()+" CASCADE")
	})
	// The DSN's own password, or one planted (a trust server ignores it).
	password, ok := u.User.Password()
	if !ok || password == "" {
		password = "PLANTED-wh-pw-93c1"
		u.User = url.UserPassword(u.User.Username(), password)
	}
	q := u.Query()
	q.Del("search_path") // the schema setting says where the targets are
	u.RawQuery = q.Encode()
	t.Setenv("SHP_WAREHOUSE_DSN", u.String())

	line := `warehouse: {type: postgres, dsn: "${SHP_WAREHOUSE_DSN}", schema: ` + schema + `, internal_schema: ` + internal + "}\n"
	var shown strings.Builder // every command's output, searched for the password
	dir, shp := quickstartOn(t, line, &shown)
	count := func() string { return salesCount(shp) }

	shp("config", "validate")
	if out := shp("run"); !strings.Contains(out, quickstartAccounting) {
		t.Fatalf("the first run's summary lacks %q:\n%s", quickstartAccounting, out)
	}
	if got := count(); got != "3746,3746" {
		t.Fatalf("sales holds count, distinct ids %s, want 3746,3746", got)
	}
	// The tables are where the settings say.
	if out := shp("query", "--format", "csv", "SELECT table_schema || '.' || table_name AS t FROM information_schema.tables "+
		"WHERE table_schema IN ('"+schema+"', '"+internal+"') AND table_name IN ('sales', 'sales__quarantine', 'loads') ORDER BY 1"); !strings.Contains(out,
		schema+".sales\n"+schema+".sales__quarantine\n") || !strings.Contains(out, internal+".loads") {
		t.Errorf("tables:\n%s", out)
	}
	if out := shp("query", "--format", "csv", "SELECT count(*) FROM sales__quarantine"); !strings.Contains(out, "\n3\n") {
		t.Errorf("sales__quarantine:\n%s", out)
	}

	// Idempotent: nothing new, then every file again.
	if out := shp("run"); !strings.Contains(out, "no new files") {
		t.Errorf("the second run:\n%s", out)
	}
	if got := count(); got != "3746,3746" {
		t.Errorf("after the second run, count, distinct ids %s, want 3746,3746", got)
	}
	if out := shp("run", "--full-refresh"); !strings.Contains(out, quickstartAccounting) {
		t.Errorf("the full refresh's summary lacks %q:\n%s", quickstartAccounting, out)
	}
	if got := count(); got != "3746,3746" {
		t.Errorf("after a full refresh, count, distinct ids %s, want 3746,3746", got)
	}
	shp("healing", "actions", "--limit", "20")
	shp("runs", "--format", "json")
	if out := shp("lineage", "--format", "json"); !strings.Contains(out, "postgres://") || !strings.Contains(out, schema+".sales") {
		t.Errorf("lineage does not name the PostgreSQL target:\n%s", out)
	}

	if strings.Contains(shown.String(), password) {
		t.Errorf("the DSN's password is in shp's output")
	}
	_ = filepath.WalkDir(filepath.Join(dir, ".shp"), func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, _ := os.ReadFile(path); strings.Contains(string(b), password) {
				t.Errorf("the DSN's password is in %s", path)
			}
		}
		return nil
	})
}
