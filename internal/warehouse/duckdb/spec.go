package duckdb

// The warehouse's configuration is declared apart, without cgo, so that
// internal/config can check it without linking DuckDB; importing it here
// registers it wherever the warehouse is.
import _ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
