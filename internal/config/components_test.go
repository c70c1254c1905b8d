package config

// The components shp comes with register the specs the configuration is
// checked against; none of these packages links DuckDB (duckdbspec is the
// DuckDB warehouse's spec without the warehouse).
import (
	_ "github.com/shp-dev/shp/internal/source"
	_ "github.com/shp-dev/shp/internal/source/apisource"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)
