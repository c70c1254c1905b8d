package format

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
)

type parquetRow struct {
	ID   int64  `parquet:"id"`
	Name string `parquet:"name"`
}

// writeParquet writes rows in row groups of at most perGroup rows.
func writeParquet(t *testing.T, path string, rows, perGroup int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := parquet.NewGenericWriter[parquetRow](f, parquet.MaxRowsPerRowGroup(int64(perGroup)))
	batch := make([]parquetRow, 0, rows)
	for i := 0; i < rows; i++ {
		batch = append(batch, parquetRow{ID: int64(i), Name: "n"})
	}
	if _, err := w.Write(batch); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestParquetRowCount(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		rows     int
		perGroup int
	}{
		{name: "empty", rows: 0, perGroup: 10},
		{name: "one group", rows: 7, perGroup: 10},
		{name: "many groups", rows: 2500, perGroup: 1000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name+".parquet")
			writeParquet(t, path, tt.rows, tt.perGroup)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			st, err := f.Stat()
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParquetRowCount(f, st.Size())
			if err != nil {
				t.Fatal(err)
			}
			if got != int64(tt.rows) {
				t.Fatalf("ParquetRowCount = %d, want %d", got, tt.rows)
			}
		})
	}
}

func TestParquetRowCountInvalid(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{name: "csv", data: "a,b\n1,2\n"},
		{name: "empty", data: ""},
		{name: "truncated", data: "PAR1\x00\x00PAR1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParquetRowCount(bytes.NewReader([]byte(tt.data)), int64(len(tt.data)))
			if err == nil || !strings.Contains(err.Error(), "parquet footer") {
				t.Fatalf("error = %v, want a parquet footer error", err)
			}
		})
	}
}

// TestForEachParquetRow: every row of every row group, numbered from 1,
// and fn's error ends the walk.
func TestForEachParquetRow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rows.parquet")
	writeParquet(t, path, 700, 300)
	pf, f, cols, err := OpenFlatParquet(path, "Test")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(cols) != 2 || cols[0].Name() != "id" || cols[1].Name() != "name" {
		t.Fatalf("columns %v", cols)
	}
	var last int64
	err = ForEachParquetRow(pf, func(n int64, row parquet.Row) error {
		if id := row[0].Int64(); id != n-1 {
			t.Fatalf("row %d holds id %d", n, id)
		}
		last = n
		return nil
	})
	if err != nil || last != 700 {
		t.Fatalf("%d rows, %v", last, err)
	}
	stop := errors.New("stop")
	if err := ForEachParquetRow(pf, func(n int64, _ parquet.Row) error {
		if n == 5 {
			return stop
		}
		return nil
	}); err != stop {
		t.Fatalf("fn's error: %v", err)
	}
}

// TestOpenFlatParquet: a nested column is refused, naming the engine.
func TestOpenFlatParquet(t *testing.T) {
	type nested struct {
		Tags []string `parquet:"tags,list"`
	}
	path := filepath.Join(t.TempDir(), "nested.parquet")
	if err := parquet.WriteFile(path, []nested{{Tags: []string{"a"}}}); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := OpenFlatParquet(path, "Test"); err == nil || !strings.Contains(err.Error(), `"tags" is nested`) || !strings.Contains(err.Error(), "the Test warehouse") {
		t.Fatalf("a nested column: %v", err)
	}
}

// TestDescribeParquet reads logical types and the converted types of
// older files.
func TestDescribeParquet(t *testing.T) {
	for _, c := range []struct {
		name string
		typ  parquet.Type
		want ParquetLogical
	}{
		{"string", parquet.String().Type(), ParquetLogical{Text: true, Unit: time.Microsecond}},
		{"json", parquet.JSON().Type(), ParquetLogical{Text: true, JSON: true, Unit: time.Microsecond}},
		{"decimal", parquet.Decimal(2, 10, parquet.Int64Type).Type(), ParquetLogical{Decimal: true, Precision: 10, Scale: 2, Unit: time.Microsecond}},
		{"timestamp ms", parquet.Timestamp(parquet.Millisecond).Type(), ParquetLogical{Timestamp: true, UTC: true, Unit: time.Millisecond}},
		{"time ns", parquet.Time(parquet.Nanosecond).Type(), ParquetLogical{TimeOfDay: true, Unit: time.Nanosecond}},
		{"uint16", parquet.Uint(16).Type(), ParquetLogical{Unsigned: true, Bits: 16, Unit: time.Microsecond}},
		{"int64", parquet.Int64Type, ParquetLogical{Bits: 64, Unit: time.Microsecond}},
		{"double", parquet.DoubleType, ParquetLogical{Unit: time.Microsecond}},
	} {
		if got := DescribeParquet(c.typ); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}

// TestParquetUnscaled: a decimal's integer from INT32, INT64 and two's
// complement bytes, negative ones included.
func TestParquetUnscaled(t *testing.T) {
	for _, c := range []struct {
		v    parquet.Value
		kind parquet.Kind
		want string
	}{
		{parquet.Int32Value(-12345), parquet.Int32, "-12345"},
		{parquet.Int64Value(9007199254740993), parquet.Int64, "9007199254740993"},
		{parquet.ByteArrayValue([]byte{0x01, 0x00}), parquet.ByteArray, "256"},
		{parquet.ByteArrayValue([]byte{0xff, 0x38}), parquet.ByteArray, "-200"},
		{parquet.FixedLenByteArrayValue([]byte{0x80, 0x00, 0x00}), parquet.FixedLenByteArray, "-8388608"},
		{parquet.ByteArrayValue(nil), parquet.ByteArray, "0"},
	} {
		if got := ParquetUnscaled(c.v, c.kind).String(); got != c.want {
			t.Errorf("%v: %s, want %s", c.v, got, c.want)
		}
	}
}
