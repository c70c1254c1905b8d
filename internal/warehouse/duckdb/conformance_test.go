package duckdb

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/warehousetest"
)

// TestWarehouseSuite runs the specification of a warehouse
// (internal/warehouse/warehousetest) against DuckDB: each storage key is
// a database file of its own.
func TestWarehouseSuite(t *testing.T) {
	base := t.TempDir()
	open := func(t *testing.T, key string) warehouse.Warehouse {
		dir := filepath.Join(base, key)
		w, err := Open(context.Background(), warehouse.Options{Path: filepath.Join(dir, "w.duckdb"), TempDir: filepath.Join(dir, "tmp"), Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = w.Close() })
		return w
	}
	warehousetest.Run(t, open)
}
