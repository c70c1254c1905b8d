package sqlsource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"strconv"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shp-dev/shp/internal/arrowmem"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// copyStream builds a binary COPY stream of rows (nil is NULL).
func copyStream(rows [][][]byte) []byte {
	var b bytes.Buffer
	b.WriteString(pgCopySignature)
	binary.Write(&b, binary.BigEndian, int32(0))
	binary.Write(&b, binary.BigEndian, int32(0))
	for _, r := range rows {
		binary.Write(&b, binary.BigEndian, int16(len(r)))
		for _, v := range r {
			if v == nil {
				binary.Write(&b, binary.BigEndian, int32(-1))
				continue
			}
			binary.Write(&b, binary.BigEndian, int32(len(v)))
			b.Write(v)
		}
	}
	binary.Write(&b, binary.BigEndian, int16(-1))
	return b.Bytes()
}

func be(v any) []byte {
	var b bytes.Buffer
	binary.Write(&b, binary.BigEndian, v)
	return b.Bytes()
}

var batchCols = []pgColumn{{"i2", 'i'}, {"i4", 'i'}, {"i8", 'i'}, {"o", 'o'}, {"f4", 'f'}, {"f8", 'd'}, {"b", 'b'}, {"t", 't'}, {"s", 's'}}

func batchSchema() *arrow.Schema {
	var fs []arrow.Field
	for _, c := range batchCols {
		t := arrow.DataType(arrow.BinaryTypes.String)
		switch c.kind {
		case 'i', 'o':
			t = arrow.PrimitiveTypes.Int64
		case 'f', 'd':
			t = arrow.PrimitiveTypes.Float64
		case 'b':
			t = arrow.FixedWidthTypes.Boolean
		}
		fs = append(fs, arrow.Field{Name: c.name, Type: t, Nullable: true})
	}
	fs = append(fs, arrow.Field{Name: format.LineField, Type: arrow.PrimitiveTypes.Int64})
	return arrow.NewSchema(fs, nil)
}

// readBack reads an IPC stream's rows as text, a row per line.
func readBack(t *testing.T, b []byte) (rows []string, batches int) {
	t.Helper()
	r, err := ipc.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	for r.Next() {
		rec := r.RecordBatch()
		batches++
		for i := 0; i < int(rec.NumRows()); i++ {
			var cells []string
			for _, col := range rec.Columns() {
				cells = append(cells, col.ValueStr(i))
			}
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return rows, batches
}

// TestWriteBatches decodes binary COPY values of every kind the batches
// carry, at their limits, into Arrow and reads them back.
func TestWriteBatches(t *testing.T) {
	rows := [][][]byte{
		{be(int16(-32768)), be(int32(math.MaxInt32)), be(int64(math.MinInt64)), be(uint32(math.MaxUint32)), be(math.Float32bits(0.1)),
			be(math.Float64bits(1e308)), {1}, []byte("a,\"b\"\nc"), []byte("0044-03-15 BC")},
		{nil, nil, nil, nil, nil, nil, nil, nil, nil},
		{be(int16(7)), be(int32(-1)), be(int64(1)), be(uint32(0)), be(math.Float32bits(float32(math.NaN()))),
			be(math.Float64bits(math.Inf(-1))), {0}, []byte(""), []byte("é𝄞")},
		{be(int16(0)), be(int32(0)), be(int64(0)), be(uint32(1)), be(math.Float32bits(3.4028235e38)), be(math.Float64bits(5e-324)), {1}, []byte("ab  "), []byte(`\N`)},
	}
	var out bytes.Buffer
	n, err := writeBatches(bufio.NewReader(bytes.NewReader(copyStream(rows))), batchCols, batchSchema(), &out, arrowmem.NewPool(1<<20))
	if err != nil || n != 4 {
		t.Fatalf("wrote %d rows: %v", n, err)
	}
	got, batches := readBack(t, out.Bytes())
	want := []string{
		"-32768|2147483647|-9223372036854775808|4294967295|0.1|1e+308|true|a,\"b\"\nc|0044-03-15 BC|1",
		"(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|(null)|2",
		"7|-1|1|0|NaN|-Inf|false||é𝄞|3",
		"0|0|0|1|3.4028235e+38|5e-324|true|ab  |\\N|4",
	}
	if batches != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%d batches:\n%s\nwant\n%s", batches, strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWriteBatchesSplits writes more rows than a batch holds, and none.
func TestWriteBatchesSplits(t *testing.T) {
	cols := []pgColumn{{"id", 'i'}}
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true}, {Name: format.LineField, Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, n := range []int{0, 1, batchRows, batchRows + 1} {
		rows := make([][][]byte, n)
		for i := range rows {
			rows[i] = [][]byte{be(int64(i))}
		}
		var out bytes.Buffer
		wrote, err := writeBatches(bufio.NewReader(bytes.NewReader(copyStream(rows))), cols, sch, &out, arrowmem.NewPool(1<<20))
		if err != nil || wrote != int64(n) {
			t.Fatalf("%d rows: wrote %d, %v", n, wrote, err)
		}
		got, batches := readBack(t, out.Bytes())
		if len(got) != n || batches != max(1, (n+batchRows-1)/batchRows) {
			t.Errorf("%d rows: read %d in %d batches", n, len(got), batches)
		}
		if n > 0 && got[n-1] != strconv.Itoa(n-1)+"|"+strconv.Itoa(n) {
			t.Errorf("%d rows: last row %q", n, got[n-1])
		}
	}
}

// TestWriteBatchesReuse writes batches whose text grows, shrinks and
// vanishes from one batch to the next through one pool: each batch's
// builders are sized from the one before and take its released buffers,
// and every value must still come back, with no buffer left held.
func TestWriteBatchesReuse(t *testing.T) {
	cols := []pgColumn{{"id", 'i'}, {"s", 't'}}
	sch := arrow.NewSchema([]arrow.Field{{Name: "id", Type: arrow.PrimitiveTypes.Int64, Nullable: true},
		{Name: "s", Type: arrow.BinaryTypes.String, Nullable: true}, {Name: format.LineField, Type: arrow.PrimitiveTypes.Int64}}, nil)
	text := func(i int) []byte {
		switch b := i / batchRows; b {
		case 0:
			return []byte("x")
		case 1:
			return bytes.Repeat([]byte{byte('a' + i%26)}, 200) // 200x the batch before
		case 2:
			if i%2 == 0 {
				return nil
			}
			return []byte{}
		default:
			return []byte(strconv.Itoa(i))
		}
	}
	n := 4*batchRows + 123
	rows := make([][][]byte, n)
	for i := range rows {
		rows[i] = [][]byte{be(int64(i)), text(i)}
	}
	mem := memory.NewCheckedAllocator(arrowmem.NewPool(4 << 20))
	for run := range 2 { // the second run starts from a pool the first filled
		var out bytes.Buffer
		wrote, err := writeBatches(bufio.NewReader(bytes.NewReader(copyStream(rows))), cols, sch, &out, mem)
		if err != nil || wrote != int64(n) {
			t.Fatalf("run %d: wrote %d, %v", run, wrote, err)
		}
		got, batches := readBack(t, out.Bytes())
		if len(got) != n || batches != 5 {
			t.Fatalf("run %d: read %d rows in %d batches", run, len(got), batches)
		}
		for i, g := range got {
			v := "(null)"
			if s := text(i); s != nil {
				v = string(s)
			}
			if want := strconv.Itoa(i) + "|" + v + "|" + strconv.Itoa(i+1); g != want {
				t.Fatalf("run %d row %d: %q, want %q", run, i, g, want)
			}
		}
	}
	mem.AssertSize(t, 0)
}

// TestWriteBatchesRefuses names what is wrong with a stream.
func TestWriteBatchesRefuses(t *testing.T) {
	cols := []pgColumn{{"a", 'i'}, {"b", 'o'}, {"c", 'f'}, {"d", 'd'}, {"e", 'b'}}
	good := [][]byte{be(int32(1)), be(uint32(1)), be(math.Float32bits(1)), be(math.Float64bits(1)), {1}}
	with := func(i int, v []byte) [][]byte {
		r := append([][]byte(nil), good...)
		r[i] = v
		return r
	}
	stream := copyStream([][][]byte{good})
	tests := []struct {
		name, want string
		in         []byte
	}{
		{"not a COPY stream", "not a binary COPY stream", append([]byte("PGCOPX\n\xff\r\n\x00"), stream[11:]...)},
		{"no header", "binary copy header", []byte("PG")},
		{"a field too few", "1 fields, want 5", copyStream([][][]byte{{be(int32(1))}})},
		{"an integer of 3 bytes", `column "a": an integer of 3 bytes`, copyStream([][][]byte{with(0, []byte{1, 2, 3})})},
		{"an oid of 8 bytes", `column "b": an oid of 8 bytes`, copyStream([][][]byte{with(1, be(int64(1)))})},
		{"a float4 of 8 bytes", `column "c": a float4 of 8 bytes`, copyStream([][][]byte{with(2, be(int64(1)))})},
		{"a float8 of 4 bytes", `column "d": a float8 of 4 bytes`, copyStream([][][]byte{with(3, be(int32(1)))})},
		{"a bool of 2 bytes", `column "e": a bool of 2 bytes`, copyStream([][][]byte{with(4, []byte{1, 0})})},
		{"cut short", "binary copy row 1", stream[:len(stream)-6]},
	}
	sch := arrow.NewSchema([]arrow.Field{{Name: "a", Type: arrow.PrimitiveTypes.Int64}, {Name: "b", Type: arrow.PrimitiveTypes.Int64},
		{Name: "c", Type: arrow.PrimitiveTypes.Float64}, {Name: "d", Type: arrow.PrimitiveTypes.Float64}, {Name: "e", Type: arrow.FixedWidthTypes.Boolean},
		{Name: format.LineField, Type: arrow.PrimitiveTypes.Int64}}, nil)
	for _, tt := range tests {
		_, err := writeBatches(bufio.NewReader(bytes.NewReader(tt.in)), cols, sch, &bytes.Buffer{}, arrowmem.NewPool(1<<20))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.want)
		}
	}
}

// extractBatches switches ex to typed batches, extracts it all, and
// returns the rows its chunks hold (as readBack writes them) and its sink.
func extractBatches(t *testing.T, ex source.Extractor) ([]string, *memSink) {
	t.Helper()
	ctx := context.Background()
	on, err := ex.(source.BatchExtractor).UseBatches(ctx)
	if err != nil || !on || ex.Format() != format.Arrow {
		t.Fatalf("UseBatches: %v, %v; format %s", on, err, ex.Format())
	}
	sch, err := ex.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if _, err := ex.Extract(ctx, source.ExtractRequest{Schema: sch}, sink); err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, c := range sink.committed {
		got, _ := readBack(t, c.buf.Bytes())
		rows = append(rows, got...)
	}
	return rows, sink
}

// TestUseBatches switches a PostgreSQL table source to Arrow chunks that
// hold every row, and leaves a query with parameters on CSV.
func TestUseBatches(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE b (id bigint PRIMARY KEY, name text, r real)",
		"INSERT INTO b SELECT g, 'n' || g, g / 10.0 FROM generate_series(1, 2500) g")
	rows, sink := extractBatches(t, mustOpen(t, "postgres", map[string]any{"dsn": dsn, "table": "b", "key": "id", "chunk_size": 1000}))
	if len(rows) != 2500 || sink.rows() != 2500 || len(sink.committed) != 3 || rows[0] != "1|n1|0.1|1" || rows[2499] != "2500|n2500|250|500" {
		t.Errorf("%d rows (%d counted) in %d chunks, first %q, last %q", len(rows), sink.rows(), len(sink.committed), rows[0], rows[len(rows)-1])
	}

	// A COPY that fails midway fails the extraction with the server's error.
	failing := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT id, 1 / (id - 2000) AS x FROM b ORDER BY id"})
	if on, err := failing.(source.BatchExtractor).UseBatches(ctx); !on || err != nil {
		t.Fatalf("UseBatches: %v, %v", on, err)
	}
	fsch, err := failing.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var pgErr *pgconn.PgError
	if _, err := failing.Extract(ctx, source.ExtractRequest{Schema: fsch}, &memSink{}); !errors.As(err, &pgErr) || pgErr.Code != "22012" {
		t.Errorf("a COPY failing midway: %v, want division by zero (22012)", err)
	}

	withParams := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT * FROM b WHERE id > {{params.min}}"})
	if on, err := withParams.(source.BatchExtractor).UseBatches(ctx); on || err != nil || withParams.Format() != format.CSV {
		t.Errorf("a query with parameters: %v, %v, %s", on, err, withParams.Format())
	}
}
