//go:build duckdb_arrow

package duckdb

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/decimal128"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestBatchesNarrowedBySchema stages typed batches into declared types
// narrower than the batches' own: an unsigned integer into INT64, a
// 38-digit decimal into NUMERIC(10,2) and NUMERIC(10,4), a double into
// INT64. A value that does not fit, or would round, is set aside with
// its reason and the row as read; none is loaded rounded or NULL.
func TestBatchesNarrowedBySchema(t *testing.T) {
	sch := arrow.NewSchema([]arrow.Field{
		{Name: "u", Type: arrow.PrimitiveTypes.Uint64, Nullable: true},
		{Name: "d", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "e", Type: &arrow.Decimal128Type{Precision: 38, Scale: 2}, Nullable: true},
		{Name: "f", Type: arrow.PrimitiveTypes.Float64, Nullable: true},
		{Name: format.LineField, Type: arrow.PrimitiveTypes.Int64},
	}, nil)
	b := array.NewRecordBuilder(memory.DefaultAllocator, sch)
	defer b.Release()
	rows := []struct {
		u    uint64
		d, e int64 // hundredths
		f    float64
	}{
		{1, 12345, 1, 3},                   // fits
		{math.MaxUint64, 1, 1, 1},          // u overflows INT64
		{2, 99999999999, 1, 1},             // d overflows NUMERIC(10,2)
		{3, 1, 1, 2.5},                     // f would round into INT64
		{math.MaxInt64, -9999999999, 1, 0}, // fits at the ends
	}
	for i, r := range rows {
		b.Field(0).(*array.Uint64Builder).Append(r.u)
		b.Field(1).(*array.Decimal128Builder).Append(decimal128.FromI64(r.d))
		b.Field(2).(*array.Decimal128Builder).Append(decimal128.FromI64(r.e))
		b.Field(3).(*array.Float64Builder).Append(r.f)
		b.Field(4).(*array.Int64Builder).Append(int64(i + 1))
	}
	path := filepath.Join(t.TempDir(), "b.arrow")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	iw := ipc.NewWriter(f, ipc.WithSchema(sch))
	rec := b.NewRecordBatch()
	if err := iw.Write(rec); err != nil {
		t.Fatal(err)
	}
	rec.Release()
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()

	w := open(t)
	declared := schema.Schema{{Name: "u", Type: "INT64"}, {Name: "d", Type: "NUMERIC", Precision: 10, Scale: 2},
		{Name: "e", Type: "NUMERIC", Precision: 10, Scale: 4}, {Name: "f", Type: "INT64"}}
	st, err := w.Stage(context.Background(), warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: "b.arrow",
		Fingerprint: "fp", Path: path, Format: format.Arrow, Schema: declared})
	if err != nil {
		t.Fatal(err)
	}
	commit(t, w, st)
	got := queryStrings(t, w, "SELECT line || ' ' || reason || ' ' || raw FROM t__quarantine ORDER BY line")
	want := []string{
		`2 CAST (column u): Could not convert string "18446744073709551615" to 'BIGINT' {"u":18446744073709551615,"d":0.01,"e":0.01,"f":1.0}`,
		`3 CAST (column d): Could not convert string "999999999.99" to 'DECIMAL(10,2)' {"u":2,"d":999999999.99,"e":0.01,"f":1.0}`,
		`4 CAST (column f): Could not convert string "2.5" to 'BIGINT' {"u":3,"d":0.01,"e":0.01,"f":2.5}`,
	}
	if len(got) != len(want) {
		t.Fatalf("set aside %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("set aside\n%s\nwant\n%s", got[i], want[i])
		}
	}
	if loaded := queryStrings(t, w, "SELECT string_agg(u || '|' || d || '|' || e || '|' || f, ',' ORDER BY u) FROM t"); loaded[0] != "1|123.45|0.0100|3,9223372036854775807|-99999999.99|0.0100|0" {
		t.Errorf("loaded %q", loaded[0])
	}
}
