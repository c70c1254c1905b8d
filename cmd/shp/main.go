// Command shp is the self-healing data pipeline: one binary that extracts,
// validates, heals and loads data, locally on DuckDB or on GCP.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/shp-dev/shp/internal/cli"
	_ "github.com/shp-dev/shp/internal/warehouse/bigquery" // warehouse.type: bigquery
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb"   // the embedded warehouse
	_ "github.com/shp-dev/shp/internal/warehouse/postgres" // warehouse.type: postgres
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
