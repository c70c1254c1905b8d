package monitor

// The components a test project names: the default warehouse's spec
// (without linking DuckDB), and the file and SQL source types.
import (
	_ "github.com/shp-dev/shp/internal/source"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)
