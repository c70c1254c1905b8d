package format

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
