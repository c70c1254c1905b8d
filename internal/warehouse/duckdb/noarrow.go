//go:build !duckdb_arrow

package duckdb

import (
	"context"
	"errors"
)

// ReadsArrow implements warehouse.ArrowReader: without the duckdb_arrow
// build tag DuckDB's Arrow interface is not linked, and extractors write
// text.
func (w *Warehouse) ReadsArrow() bool { return false }

// stageArrow refuses an Arrow stream in a build without the Arrow
// interface (no extractor writes one for it).
func (s *stager) stageArrow(context.Context, []declaredColumn) error {
	return errors.New("this shp was built without the duckdb_arrow tag: it does not read Arrow streams")
}
