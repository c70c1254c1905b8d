package postgres

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestOpenFromSettings opens the warehouse as the configuration does,
// by type and config.yaml's keys (warehouse.Options.Settings): the
// schemas are the settings', the DSN's search_path gives the targets'
// schema when schema is not set, and Path is not read.
func TestOpenFromSettings(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	base := cfg.RuntimeParams["search_path"]
	ctx := context.Background()
	for _, c := range []struct {
		settings         map[string]any
		schema, internal string
	}{
		{map[string]any{"dsn": dsn, "schema": base + "_t", "internal_schema": base + "_i", "max_connections": 3}, base + "_t", base + "_i"},
		{map[string]any{"dsn": dsn, "internal_schema": base + "_j"}, base, base + "_j"},
	} {
		wh, err := warehouse.Open(ctx, "postgres", warehouse.Options{Path: "ignored.duckdb", Settings: c.settings})
		if err != nil {
			t.Fatal(err)
		}
		w := wh.(*Warehouse)
		if w.Schema() != c.schema || w.InternalSchema() != c.internal {
			t.Errorf("%v: schemas %s, %s, want %s, %s", c.settings, w.Schema(), w.InternalSchema(), c.schema, c.internal)
		}
		if c.settings["max_connections"] == 3 && w.Pool().Config().MaxConns != 3 {
			t.Errorf("max_connections 3: pool of %d", w.Pool().Config().MaxConns)
		}
		wh.Close()
		testutil.PostgresExec(t, dsn, "DROP SCHEMA IF EXISTS "+ident(c.internal)+" CASCADE")
		if c.schema != base {
			testutil.PostgresExec(t, dsn, "DROP SCHEMA IF EXISTS "+ident(c.schema)+" CASCADE")
		}
	}
	if _, err := warehouse.Open(ctx, "postgres", warehouse.Options{Path: dsn}); err == nil || !strings.Contains(err.Error(), "dsn is required") {
		t.Errorf("a DSN in Path: %v, want the settings' dsn required", err)
	}
}

// TestOpenMasksPassword: the errors of a warehouse that cannot open show
// no password, whether the server is not there, or refuses the database,
// or the DSN does not parse.
func TestOpenMasksPassword(t *testing.T) {
	const pw = "PLANTED-open-pw-5b2e"
	ctx := context.Background()
	dsns := []string{
		"postgres://shp:" + pw + "@127.0.0.1:1/dw?connect_timeout=2",
		"host=127.0.0.1 port=1 user=shp password=" + pw + " connect_timeout=2",
		"postgres://shp:" + pw + "@127.0.0.1:notaport/dw",
	}
	// The test server, asked for a database it does not have (or, when it
	// is not running, refusing the connection).
	server := os.Getenv(testutil.PostgresDSNEnv)
	if server == "" {
		server = testutil.DefaultPostgresDSN
	}
	if u, err := pgx.ParseConfig(server); err == nil && u.Password == "" {
		dsns = append(dsns, "host="+u.Host+" port="+strconv.Itoa(int(u.Port))+" user="+u.User+" password="+pw+
			" dbname=shp_no_such_database connect_timeout=2")
	}
	for _, dsn := range dsns {
		_, err := warehouse.Open(ctx, "postgres", warehouse.Options{Settings: map[string]any{"dsn": dsn}})
		if err == nil {
			t.Errorf("%s: opened", dsn)
			continue
		}
		if strings.Contains(err.Error(), pw) {
			t.Errorf("the error shows the password: %v", err)
		}
	}
}
