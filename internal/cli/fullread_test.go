package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/testutil"
)

// TestFullTableSourceIsNotDoubled: a PostgreSQL table without incremental
// is read whole on every run. Its pipeline, with no mode set, replaces the
// target: run twice (and a third time after the table changed) the
// target holds the table's rows once each. config validate says which mode
// it chose and why; an explicit append is refused with where and what to
// do instead.
func TestFullTableSourceIsNotDoubled(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, `CREATE TABLE items (id integer PRIMARY KEY, name text, price numeric(8,2))`,
		`INSERT INTO items VALUES (1, 'pen', 1.50), (2, 'ink', 4.00), (3, 'pad', 2.25)`)
	dir := t.TempDir()
	t.Setenv("SHP_TEST_FULLREAD_DSN", dsn)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: full\npipelines:\n  items:\n    source: db\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  db:\n    type: postgres\n    dsn: ${SHP_TEST_FULLREAD_DSN}\n    table: items\n"), 0o644)

	code, out, errOut := shp(t, "config", "validate", dir)
	if code != 0 || !strings.Contains(out, `pipeline items: mode replace (not set): source db reads every row on every run (no incremental)`) {
		t.Fatalf("config validate: %d %s %s", code, out, errOut)
	}
	target := func() string {
		t.Helper()
		got := queryJSON(t, dir, "SELECT count(*) AS n, string_agg(id || ':' || name || ':' || price, ',' ORDER BY id) AS r FROM items")
		return fmt.Sprintf("%v %v", got[0]["n"], got[0]["r"])
	}
	for run := 1; run <= 2; run++ {
		if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
			t.Fatalf("run %d: %d %s %s", run, code, out, errOut)
		}
		if got := target(); got != "3 1:pen:1.50,2:ink:4.00,3:pad:2.25" {
			t.Fatalf("after run %d the target holds %s, want each of the 3 rows once", run, got)
		}
	}
	testutil.PostgresExec(t, dsn, `UPDATE items SET price = 5.00 WHERE id = 2`, `DELETE FROM items WHERE id = 3`, `INSERT INTO items VALUES (4, 'cap', 0.75)`)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run 3: %d %s %s", code, out, errOut)
	}
	if got := target(); got != "3 1:pen:1.50,2:ink:5.00,4:cap:0.75" {
		t.Fatalf("after the table changed the target holds %s", got)
	}

	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: full\npipelines:\n  items:\n    source: db\n    mode: append\n"), 0o644)
	want := `config.yaml:5:11: pipeline "items": mode append would load all of source "db" again on every run, doubling the target: ` +
		`the postgres table items without incremental reads every row each time; set incremental on the source`
	if code, _, errOut := shp(t, "config", "validate", dir); code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("config validate with append: %d %s", code, errOut)
	}
	if code, _, errOut := shp(t, "run", "--config", dir); code != 2 || !strings.Contains(errOut, want) {
		t.Fatalf("run with append: %d %s", code, errOut)
	}
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: full\npipelines:\n  items:\n    source: db\n"), 0o644)
	if got := target(); got != "3 1:pen:1.50,2:ink:5.00,4:cap:0.75" {
		t.Fatalf("a refused run changed the target: %s", got)
	}
}
