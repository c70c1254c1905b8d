package format

import (
	"fmt"
	"io"

	"github.com/parquet-go/parquet-go"
)

// ParquetRowCount returns the number of rows a Parquet file holds, read from
// its footer; no column data is read.
func ParquetRowCount(ra io.ReaderAt, size int64) (int64, error) {
	f, err := parquet.OpenFile(ra, size, parquet.SkipPageIndex(true), parquet.SkipBloomFilters(true))
	if err != nil {
		return 0, fmt.Errorf("parquet footer: %w", err)
	}
	return f.NumRows(), nil
}
