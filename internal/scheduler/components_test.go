package scheduler

// The tests' projects have a file source and the default warehouse, whose
// specs the configuration checks them against: link the specs (the binary
// links every component; duckdbspec is DuckDB's spec without DuckDB).
import (
	_ "github.com/shp-dev/shp/internal/source"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)
