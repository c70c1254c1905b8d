package postgres

import (
	"context"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/warehousetest"
)

// TestWarehouseSuite runs the specification of a warehouse
// (internal/warehouse/warehousetest) against PostgreSQL: each storage key
// is a pair of schemas of its own (targets, shp's tables).
func TestWarehouseSuite(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	base := cfg.RuntimeParams["search_path"]
	var mu sync.Mutex
	made := map[string]bool{}
	t.Cleanup(func() {
		for s := range made {
			testutil.PostgresExec(t, dsn, "DROP SCHEMA IF EXISTS "+ident(s)+" CASCADE", "DROP SCHEMA IF EXISTS "+ident(s+"_shp")+" CASCADE")
		}
	})
	open := func(t *testing.T, key string) warehouse.Warehouse {
		s := base + "_" + key
		mu.Lock()
		made[s] = true
		mu.Unlock()
		w, err := Open(context.Background(), Config{DSN: dsn, Schema: s, InternalSchema: s + "_shp"})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		return w
	}
	warehousetest.Run(t, open)
}
