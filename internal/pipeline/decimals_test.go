package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestDecimalsKeepTheTargetType: a PostgreSQL numeric column without a
// precision is discovered from its values; when a later run finds values
// with more decimals than the target's DECIMAL keeps, they are set aside
// with the reason, not rounded into the target, and the rest loads.
func TestDecimalsKeepTheTargetType(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE t (id int PRIMARY KEY, v numeric, updated int NOT NULL)",
		"INSERT INTO t VALUES (1, 1.25, 1), (2, -7, 1)")
	e := newEnv(t, "    mode: append\n    max_quarantine_ratio: 1\n")
	t.Setenv("SHP_TEST_DECIMALS_DSN", dsn)
	os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    dsn: ${SHP_TEST_DECIMALS_DSN}\n"+
		"    table: t\n    incremental: {column: updated}\n"), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	if _, err := e.runner.Run(ctx, "p", Options{}); err != nil {
		t.Fatal(err)
	}
	// Values that need 12 decimals, and one that needs 2, arrive.
	testutil.PostgresExec(t, dsn, "INSERT INTO t VALUES (3, 123.4567890123, 2), (4, 0.000000000001, 2), (5, 2.5, 2)")
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 1 || res.Quarantined != 2 {
		t.Fatalf("loaded %d, quarantined %d; want 1 and 2", res.Loaded, res.Quarantined)
	}
	got := e.strings(t, "SELECT id || '=' || CAST(v AS VARCHAR) || ':' || typeof(v) FROM p ORDER BY id")
	if strings.Join(got, ",") != "1=1.250000000:DECIMAL(38,9),2=-7.000000000:DECIMAL(38,9),5=2.500000000:DECIMAL(38,9)" {
		t.Fatalf("target %v", got)
	}
	reasons := e.strings(t, "SELECT reason FROM p__quarantine ORDER BY line")
	if len(reasons) != 2 || !strings.Contains(reasons[0], `"123.4567890123 (more than 9 decimals: not rounded)"`) ||
		!strings.Contains(reasons[1], `"0.000000000001 (more than 9 decimals: not rounded)"`) {
		t.Fatalf("quarantine %q", reasons)
	}
}
