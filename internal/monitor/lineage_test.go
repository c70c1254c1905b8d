package monitor

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	_ "github.com/shp-dev/shp/internal/warehouse/postgres/postgresspec"
)

// TestLineageMakesUpstream: a pipeline reading the table another loads
// into the warehouse is downstream of it, as depends_on makes it.
func TestLineageMakesUpstream(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml": `project: t
warehouse:
  type: postgres
  dsn: postgres://shp@10.0.0.9:5432/wh
pipelines:
  orders:
    source: shop
    target: orders
  daily:
    source: wh_orders
    target: daily_orders
  weekly:
    source: wh_daily
    target: weekly
    depends_on: [orders]
  other:
    source: shop
    target: other
`,
		"sources.yaml": `sources:
  shop:
    type: postgres
    dsn: postgres://app@10.0.0.5:5432/shop
    table: orders
  wh_orders:
    type: postgres
    dsn: postgres://shp@10.0.0.9:5432/wh
    table: orders
  wh_daily:
    type: postgres
    dsn: postgres://shp@10.0.0.9/wh
    table: public.daily_orders
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	up := upstreamOf(p)
	if !slices.Equal(up["daily"], []string{"orders"}) || !slices.Equal(up["weekly"], []string{"orders", "daily"}) || len(up["orders"]) != 0 ||
		len(up["other"]) != 0 {
		t.Fatalf("upstream %v", up)
	}
	if got := ancestors("weekly", up); !slices.Equal(got, []string{"orders", "daily"}) {
		t.Fatalf("ancestors of weekly %v", got)
	}
}
