package postgresspec_test

import (
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config/configtest"
	"github.com/shp-dev/shp/internal/warehouse/postgres/postgresspec"
)

// TestConfigYAML checks warehouse.type: postgres in config.yaml against
// the registered spec, as `shp config validate` does: the DSN from the
// environment, the defaults, and messages that never show the password.
func TestConfigYAML(t *testing.T) {
	const pw = "PLANTED-cfg-4a9d"
	t.Setenv("SHP_TEST_WAREHOUSE_DSN", "postgres://shp:"+pw+"@db.example:5432/dw?sslmode=disable")
	// The quick start's one line.
	p, err := configtest.WarehouseProject(t, ` {type: postgres, dsn: "${SHP_TEST_WAREHOUSE_DSN}"}`)
	if err != nil {
		t.Fatal(err)
	}
	w := p.Config.Warehouse
	if w.Type != "postgres" || w.Path != "" {
		t.Fatalf("type %q, path %q", w.Type, w.Path)
	}
	c, err := postgresspec.Decode(w.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(c.DSN, pw) || c.Schema != "" || c.InternalSchema != "_shp" || c.MaxConnections != 0 {
		t.Errorf("settings decoded as %+v", c)
	}
	p, err = configtest.WarehouseProject(t, "\n  type: postgres\n  dsn: ${SHP_TEST_WAREHOUSE_DSN}\n  schema: mart\n  internal_schema: mart_shp\n  max_connections: 4")
	if err != nil {
		t.Fatal(err)
	}
	if c, err = postgresspec.Decode(p.Config.Warehouse.Settings); err != nil || c.Schema != "mart" || c.InternalSchema != "mart_shp" || c.MaxConnections != 4 {
		t.Errorf("settings %+v decoded as %+v, %v", p.Config.Warehouse.Settings, c, err)
	}

	t.Setenv("SHP_TEST_BAD_DSN", "postgres://shp:"+pw+"@db.example:port/dw")
	for _, bad := range []struct{ yaml, says string }{
		{"\n  type: postgres", `"warehouse.dsn"`},
		{"\n  type: postgres\n  dsn: ${SHP_TEST_WAREHOUSE_DSN}\n  path: .shp/w.duckdb", "path"},
		{"\n  type: postgres\n  dsn: ${SHP_TEST_BAD_DSN}", "not a PostgreSQL connection string"},
		{"\n  type: postgres\n  dsn: [${SHP_TEST_WAREHOUSE_DSN}]", "must be a string"},
		{"\n  type: postgres\n  dsn: ${SHP_TEST_WAREHOUSE_DSN}\n  max_connections: 1", "at least 2"},
	} {
		_, err := configtest.WarehouseProject(t, bad.yaml)
		if err == nil || !strings.Contains(err.Error(), bad.says) {
			t.Errorf("%s: %v, want an error saying %s", bad.yaml, err, bad.says)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("%s: the message shows the DSN's password: %v", bad.yaml, err)
		}
	}
}
