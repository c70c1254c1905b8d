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
	warehousetest.Run(t, open,
		// DuckDB's cast of text to DATE accepts a timestamp and drops its
		// time of day ('2026-01-02 10:30:00' reads 2026-01-02), so such
		// a value loads changed instead of being set aside, and
		// widen_type's DATE to DATETIME never sees it.
		warehousetest.KnownGap("Load/time_of_day_in_a_DATE_column",
			"DuckDB reads a timestamp's text as a DATE, dropping its time of day, where the README promises it is set aside"))
}
