package format

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	pqformat "github.com/parquet-go/parquet-go/format"
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

// OpenFlatParquet opens the Parquet file at path to read its rows and
// returns its top-level columns, refusing a file with a nested column (a
// list or a group), which engine, the warehouse named in the message,
// does not read. The caller closes the *os.File.
func OpenFlatParquet(path, engine string) (*parquet.File, *os.File, []*parquet.Column, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, nil, err
	}
	info, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	pf, cols, err := OpenFlatParquetAt(f, info.Size(), engine)
	if err != nil {
		f.Close()
		return nil, nil, nil, err
	}
	return pf, f, cols, nil
}

// OpenFlatParquetAt is OpenFlatParquet on a reader of size bytes (such as
// a staged object read by ranges, when only its footer is wanted).
func OpenFlatParquetAt(r io.ReaderAt, size int64, engine string) (*parquet.File, []*parquet.Column, error) {
	pf, err := parquet.OpenFile(r, size, parquet.SkipBloomFilters(true))
	if err != nil {
		return nil, nil, fmt.Errorf("read parquet: %w", err)
	}
	cols := pf.Root().Columns()
	for _, c := range cols {
		if !c.Leaf() || c.Repeated() {
			return nil, nil, fmt.Errorf("parquet column %q is nested (a list or a group): the %s warehouse reads flat Parquet files only", c.Name(), engine)
		}
	}
	return pf, cols, nil
}

// ForEachParquetRow calls fn with each row of pf (its values by leaf
// column) and its 1-based number, row group by row group; it stops at
// fn's first error and returns it.
func ForEachParquetRow(pf *parquet.File, fn func(n int64, row parquet.Row) error) error {
	var n int64
	buf := make([]parquet.Row, 256)
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			k, err := rows.ReadRows(buf)
			for i := 0; i < k; i++ {
				n++
				if ferr := fn(n, buf[i]); ferr != nil {
					rows.Close()
					return ferr
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fmt.Errorf("read parquet: %w", err)
			}
		}
		rows.Close()
	}
	return nil
}

// ParquetLogical is what a Parquet leaf column's logical type (in an
// older file, its converted type) says of its values.
type ParquetLogical struct {
	Text      bool // UTF-8 text: a string, an enum or JSON
	JSON      bool
	UUID      bool
	Decimal   bool
	Precision int
	Scale     int
	Date      bool
	Timestamp bool
	UTC       bool // a timestamp adjusted to UTC
	TimeOfDay bool
	// Unit is a timestamp's or a time of day's: time.Millisecond,
	// time.Microsecond (also when the type does not say) or
	// time.Nanosecond.
	Unit     time.Duration
	Unsigned bool
	Bits     int // an integer's width, when its type gives it
}

// DescribeParquet reads the logical type of t, else its converted type.
func DescribeParquet(t parquet.Type) ParquetLogical {
	p := ParquetLogical{Unit: time.Microsecond}
	unit := func(u *pqformat.TimeUnit) time.Duration {
		switch u.Value.(type) {
		case *pqformat.MilliSeconds:
			return time.Millisecond
		case *pqformat.NanoSeconds:
			return time.Nanosecond
		}
		return time.Microsecond
	}
	if lt := t.LogicalType(); lt != nil && lt.Value != nil {
		switch v := lt.Value.(type) {
		case *pqformat.StringType, *pqformat.EnumType:
			p.Text = true
		case *pqformat.JsonType:
			p.Text, p.JSON = true, true
		case *pqformat.UUIDType:
			p.UUID = true
		case *pqformat.DecimalType:
			p.Decimal, p.Scale, p.Precision = true, int(v.Scale), int(v.Precision)
		case *pqformat.DateType:
			p.Date = true
		case *pqformat.TimestampType:
			p.Timestamp, p.UTC, p.Unit = true, v.IsAdjustedToUTC, unit(&v.Unit)
		case *pqformat.TimeType:
			p.TimeOfDay, p.Unit = true, unit(&v.Unit)
		case *pqformat.IntType:
			p.Unsigned, p.Bits = !v.IsSigned, int(v.BitWidth)
		}
		return p
	}
	if ct := t.ConvertedType(); ct != nil {
		switch *ct {
		case deprecated.UTF8, deprecated.Enum:
			p.Text = true
		case deprecated.Json:
			p.Text, p.JSON = true, true
		case deprecated.Date:
			p.Date = true
		case deprecated.TimestampMillis:
			p.Timestamp, p.UTC, p.Unit = true, true, time.Millisecond
		case deprecated.TimestampMicros:
			p.Timestamp, p.UTC = true, true
		case deprecated.TimeMillis:
			p.TimeOfDay, p.Unit = true, time.Millisecond
		case deprecated.TimeMicros:
			p.TimeOfDay = true
		case deprecated.Uint8:
			p.Unsigned, p.Bits = true, 8
		case deprecated.Uint16:
			p.Unsigned, p.Bits = true, 16
		case deprecated.Uint32:
			p.Unsigned, p.Bits = true, 32
		case deprecated.Uint64:
			p.Unsigned, p.Bits = true, 64
		case deprecated.Int8:
			p.Bits = 8
		case deprecated.Int16:
			p.Bits = 16
		}
	}
	return p
}

// ParquetUnscaled is the unscaled integer of a Parquet DECIMAL value of
// physical kind kind: an INT32 or an INT64, else big-endian two's
// complement bytes.
func ParquetUnscaled(v parquet.Value, kind parquet.Kind) *big.Int {
	switch kind {
	case parquet.Int32:
		return big.NewInt(int64(v.Int32()))
	case parquet.Int64:
		return big.NewInt(v.Int64())
	}
	b := v.ByteArray()
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}
