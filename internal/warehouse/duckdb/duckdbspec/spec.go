// Package duckdbspec declares the configuration of the DuckDB warehouse:
// its keys under warehouse: in config.yaml. It is apart from package
// duckdb, which links DuckDB (cgo), so that the configuration can be
// checked, and its reference written, without DuckDB: package duckdb
// imports it, so linking the warehouse registers its spec.
package duckdbspec

import (
	"fmt"

	"github.com/shp-dev/shp/internal/config/spec"
)

// Name is the warehouse's type in config.yaml.
const Name = "duckdb"

// DefaultPath is the database file when warehouse.path is not set.
const DefaultPath = ".shp/warehouse.duckdb"

// DefaultMemoryLimit is warehouse.memory_limit when it is not set: the
// memory DuckDB's buffer manager may hold before spilling.
const DefaultMemoryLimit = "192MB"

func init() {
	spec.Register(spec.Spec{
		Kind:    spec.KindWarehouse,
		Name:    Name,
		Summary: "The embedded DuckDB database: one file, one writer, no server.",
		Fields: []spec.Field{
			{Name: "path", Type: spec.String, Default: DefaultPath,
				Doc: "The database file, relative to the config folder unless absolute; `:memory:` for a database that lasts one command."},
			{Name: "memory_limit", Type: spec.String, Default: DefaultMemoryLimit, Example: "2GB",
				Doc: "DuckDB's memory limit: staged batches and query state beyond it spill to the temp directory. The default keeps a 5M-row load under 500 MiB and loads no slower than more memory would; raise it for heavy `shp query` joins and sorts. DuckDB's own default would be 80% of the machine's memory."},
			{Name: "threads", Type: spec.Int, Default: 0, Check: checkThreads,
				Doc: "Threads DuckDB may use; 0 for one per core."},
		},
	})
}

// checkThreads refuses a negative thread count.
func checkThreads(v any) string {
	if n, _ := v.(int); n < 0 {
		return fmt.Sprintf("must be 0 or more, got %d", n)
	}
	return ""
}
