//go:build duckdb_arrow

package duckdb

import (
	"bufio"
	"context"
	"database/sql/driver"
	"fmt"
	"os"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	duckdb "github.com/duckdb/duckdb-go/v2"
)

// ReadsArrow implements warehouse.ArrowReader: built with the
// duckdb_arrow tag, DuckDB scans Arrow IPC chunks through its Arrow
// interface, without parsing text.
func (w *Warehouse) ReadsArrow() bool { return true }

// stageArrow stages an Arrow IPC stream (an extractor's typed batches,
// whose lineCol numbers its rows): DuckDB scans its record batches as a
// view, which stageTyped types.
func (s *stager) stageArrow(ctx context.Context, declared []declaredColumn) error {
	f, err := os.Open(s.spec.Path)
	if err != nil {
		return err
	}
	defer f.Close()
	rdr, err := ipc.NewReader(bufio.NewReaderSize(f, 1<<20), ipc.WithAllocator(s.w.batches))
	if err != nil {
		return fmt.Errorf("read arrow stream: %w", err)
	}
	defer rdr.Release()
	view := "__shp_arrow_" + sanitize(s.table)
	var release func()
	if err := s.conn.Raw(func(dc any) error {
		c, ok := dc.(driver.Conn)
		if !ok {
			return fmt.Errorf("not a DuckDB connection: %T", dc)
		}
		a, err := duckdb.NewArrowFromConn(c)
		if err != nil {
			return err
		}
		release, err = a.RegisterView(rdr, view)
		return err
	}); err != nil {
		return fmt.Errorf("scan arrow stream: %w", err)
	}
	defer release()
	return s.stageTyped(ctx, ident(view), declared)
}
