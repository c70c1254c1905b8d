package sqlsource

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/go-sql-driver/mysql"

	"github.com/shp-dev/shp/internal/arrowmem"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// fakeRows is a driver's result: columns of database types, and rows of
// the values the driver decodes, then err (io.EOF when nil).
type fakeRows struct {
	names, types []string
	rows         [][]driver.Value
	err          error
}

func (r *fakeRows) Columns() []string                       { return r.names }
func (r *fakeRows) Close() error                            { return nil }
func (r *fakeRows) ColumnTypeDatabaseTypeName(i int) string { return r.types[i] }
func (r *fakeRows) Next(dest []driver.Value) error {
	if len(r.rows) == 0 {
		if r.err != nil {
			return r.err
		}
		return io.EOF
	}
	copy(dest, r.rows[0])
	r.rows = r.rows[1:]
	return nil
}

// TestWriteRowBatches writes every kind of value the MySQL driver decodes
// (text and binary protocols) into Arrow and reads them back.
func TestWriteRowBatches(t *testing.T) {
	rows := &fakeRows{
		names: []string{"i", "u", "f", "d", "y", "s", "big"},
		types: []string{"INT", "UNSIGNED BIGINT", "FLOAT", "DOUBLE", "BLOB", "DECIMAL", "BIGINT"},
		rows: [][]driver.Value{
			{int64(math.MinInt32), uint64(math.MaxUint64), float32(0.1), 1e308, []byte{0, 0xff}, []byte("12345678901234.123456"), int64(math.MinInt64)},
			{nil, nil, nil, nil, nil, nil, nil},
			{uint64(7), int64(0), []byte("2.5"), float32(-3.5), []byte{}, "text", []byte("-9223372036854775808")},
			{[]byte("-1"), []byte("18446744073709551615"), float64(math.Inf(1)), []byte("NaN"), []byte("\\N"), int64(-5), uint64(1)},
			{int64(1), uint64(1), float32(float32(math.NaN())), 0.0, []byte("x"), float32(0.1), int64(2)},
			{int64(1), uint64(1), 0.5, 0.0, []byte("x"), 1e-7, int64(3)},
			{int64(1), uint64(1), 0.5, 0.0, []byte("x"), uint64(math.MaxUint64), int64(4)},
		},
	}
	var out bytes.Buffer
	n, err := writeRowBatches(rows, []bool{false, false, false, false, true}, &out, arrowmem.NewPool(1<<20))
	if err != nil || n != 7 {
		t.Fatalf("wrote %d rows: %v", n, err)
	}
	got, _ := readBack(t, out.Bytes())
	want := []string{
		"-2147483648|18446744073709551615|0.1|1e+308|AP8=|12345678901234.123456|-9223372036854775808|1",
		"(null)|(null)|(null)|(null)|(null)|(null)|(null)|2",
		"7|0|2.5|-3.5||text|-9223372036854775808|3",
		"-1|18446744073709551615|+Inf|NaN|XE4=|-5|1|4",
		"1|1|NaN|0|eA==|0.1|2|5",
		"1|1|0.5|0|eA==|1e-07|3|6",
		"1|1|0.5|0|eA==|18446744073709551615|4|7",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("read back:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestWriteRowBatchesRefuses names the row and column of a value that
// does not fit its column, and passes on the driver's error.
func TestWriteRowBatchesRefuses(t *testing.T) {
	broken := errors.New("connection lost")
	tests := []struct {
		name, typ string
		v         driver.Value
		err       error
		want      string
	}{
		{"unsigned beyond a signed column", "INT", uint64(math.MaxInt64 + 1), nil, `row 2, column "c": integer 9223372036854775808 out of range`},
		{"negative unsigned", "UNSIGNED BIGINT", int64(-1), nil, `row 2, column "c": unsigned integer -1 out of range`},
		{"integer text", "BIGINT", []byte("1.5"), nil, `row 2, column "c": strconv.ParseInt: parsing "1.5": invalid syntax`},
		{"unsigned text", "UNSIGNED BIGINT", []byte("-1"), nil, `row 2, column "c": strconv.ParseUint: parsing "-1": invalid syntax`},
		{"float text", "DOUBLE", []byte("x"), nil, `row 2, column "c": strconv.ParseFloat: parsing "x": invalid syntax`},
		{"a time for an integer", "INT", 1.5, nil, `row 2, column "c": unexpected float64 value for a column of kind i`},
		{"a number for bytes", "BLOB", int64(1), nil, `row 2, column "c": unexpected int64 value for a column of kind y`},
		{"a bool for text", "VARCHAR", true, nil, `row 2, column "c": unexpected bool value`},
		{"the driver fails", "INT", int64(1), broken, "connection lost"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rows := &fakeRows{names: []string{"c"}, types: []string{tt.typ}, err: tt.err,
				rows: [][]driver.Value{{nil}, {tt.v}}}
			if tt.err != nil {
				rows.rows = rows.rows[:1]
			}
			n, err := writeRowBatches(rows, []bool{tt.typ == "BLOB"}, io.Discard, memory.DefaultAllocator)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
			if tt.err != nil && (!errors.Is(err, broken) || n != 1) {
				t.Errorf("after %d rows: %v, want the driver's error after 1", n, err)
			}
		})
	}
}

func TestUTF8Results(t *testing.T) {
	for cs, want := range map[string]bool{"utf8mb4": true, "UTF8MB3": true, "utf8": true, "latin1": false, "": false, "binary": false} {
		if got := utf8Results(cs); got != want {
			t.Errorf("utf8Results(%q) = %v", cs, got)
		}
	}
}

// TestUseBatchesMySQL extracts a MariaDB table in chunks of typed
// batches; a session whose results are not UTF-8 and a query binding
// parameters keep text, and a query failing midway fails the extraction.
func TestUseBatchesMySQL(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn, "CREATE TABLE b (id BIGINT PRIMARY KEY, name VARCHAR(20), r FLOAT, u BIGINT UNSIGNED)",
		"INSERT INTO b SELECT seq, CONCAT('n', seq), seq / 10, seq * 1000000000000 FROM seq_1_to_2500")
	rows, sink := extractBatches(t, mustOpen(t, "mysql", map[string]any{"dsn": dsn, "table": "b", "key": "id", "chunk_size": 1000}))
	if len(rows) != 2500 || sink.rows() != 2500 || len(sink.committed) != 3 || rows[0] != "1|n1|0.1|1000000000000|1" ||
		rows[2499] != "2500|n2500|250|2500000000000000|500" {
		t.Errorf("%d rows (%d counted) in %d chunks, first %q, last %q", len(rows), sink.rows(), len(sink.committed), rows[0], rows[len(rows)-1])
	}

	failing := mustOpen(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT id, IF(id < 2000, 1, CAST(-1 AS UNSIGNED) + id) AS x FROM b ORDER BY id"})
	if on, err := failing.(source.BatchExtractor).UseBatches(ctx); !on || err != nil {
		t.Fatalf("UseBatches: %v, %v", on, err)
	}
	fsch, err := failing.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var myErr *mysql.MySQLError
	if _, err := failing.Extract(ctx, source.ExtractRequest{Schema: fsch}, &memSink{}); !errors.As(err, &myErr) || myErr.Number != 1690 {
		t.Errorf("a query failing midway: %v, want the server's out of range error (1690)", err)
	}

	for name, ex := range map[string]source.Extractor{
		"latin1 results": mustOpen(t, "mysql", map[string]any{"dsn": mysqlDSNWith(dsn, "charset=latin1"), "table": "b"}),
		"parameters":     mustOpen(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT * FROM b WHERE id > {{params.min}}"}),
	} {
		if on, err := ex.(source.BatchExtractor).UseBatches(ctx); on || err != nil || ex.Format() != format.CSV {
			t.Errorf("%s: %v, %v, %s", name, on, err, ex.Format())
		}
	}
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		scale int32
		want  string // the unscaled integer, or "error"
	}{
		{"0", 0, "0"},
		{"0.000", 3, "0"},
		{"-0.5", 2, "-50"},
		{"+7", 3, "7000"},
		{".5", 1, "5"},
		{"5.", 2, "500"},
		{"12345678901234.123456", 6, "12345678901234123456"},
		{"-99999999999999.999999", 6, "-99999999999999999999"},
		{"18446744073709551616", 0, "18446744073709551616"},
		{"99999999999999999999999999999999999999", 0, "99999999999999999999999999999999999999"},
		{"-99999999999999999999999999999999.999999", 6, "-99999999999999999999999999999999999999"},
		{"9999999999999999999999999999999999999", 1, "99999999999999999999999999999999999990"},
		{"999999999999999999999999999999999999999", 0, "error"},
		{"9999999999999999999999999999999999999", 2, "error"},
		{"1.55", 1, "error"},
		{"1e5", 0, "error"},
		{"1.2.3", 2, "error"},
		{"", 0, "error"},
		{"-", 0, "error"},
		{" 1", 0, "error"},
	}
	for _, tt := range tests {
		n, err := parseDecimal([]byte(tt.in), tt.scale)
		got := "error"
		if err == nil {
			got = n.BigInt().String()
		}
		if got != tt.want {
			t.Errorf("parseDecimal(%q, %d) = %s (%v), want %s", tt.in, tt.scale, got, err, tt.want)
		}
	}
}

// decimalRows is fakeRows that reports DECIMAL columns' precision and
// scale, as the MySQL driver does.
type decimalRows struct {
	fakeRows
	precision, scale []int64
}

func (r *decimalRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	return r.precision[i], r.scale[i], r.precision[i] > 0
}

// TestWriteRowBatchesDecimals writes DECIMAL columns as 128-bit decimals
// of their scale when Arrow can hold them, else as their text.
func TestWriteRowBatchesDecimals(t *testing.T) {
	rows := &decimalRows{
		fakeRows: fakeRows{
			names: []string{"d2", "d0", "wide", "unknown"},
			types: []string{"DECIMAL", "DECIMAL", "DECIMAL", "DECIMAL"},
			rows: [][]driver.Value{
				{[]byte("-12.50"), []byte("18446744073709551615"), []byte("1.000000000000000000000000000000000000001"), []byte("3.25")},
				{nil, nil, nil, nil},
				{[]byte("0.01"), []byte("-0"), []byte("-5"), []byte("-0.000")},
			},
		},
		precision: []int64{12, 20, 65, 0},
		scale:     []int64{2, 0, 39, 0},
	}
	var out bytes.Buffer
	n, err := writeRowBatches(rows, nil, &out, arrowmem.NewPool(1<<20))
	if err != nil || n != 3 {
		t.Fatalf("wrote %d rows: %v", n, err)
	}
	r, err := ipc.NewReader(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Release()
	var types []string
	for _, f := range r.Schema().Fields() {
		types = append(types, f.Type.String())
	}
	if got := strings.Join(types, " "); got != "decimal(38, 2) decimal(38, 0) utf8 utf8 int64" {
		t.Errorf("types %s", got)
	}
	got, _ := readBack(t, out.Bytes())
	want := "-12.5|18446744073709551615|1.000000000000000000000000000000000000001|3.25|1\n" +
		"(null)|(null)|(null)|(null)|2\n" +
		"0.01|0|-5|-0.000|3"
	if strings.Join(got, "\n") != want {
		t.Errorf("read back:\n%s\nwant\n%s", strings.Join(got, "\n"), want)
	}
	bad := &decimalRows{fakeRows: fakeRows{names: []string{"d"}, types: []string{"DECIMAL"}, rows: [][]driver.Value{{[]byte("1.234")}}},
		precision: []int64{5}, scale: []int64{2}}
	if _, err := writeRowBatches(bad, nil, io.Discard, memory.DefaultAllocator); err == nil || !strings.Contains(err.Error(), `row 1, column "d": "1.234" has more than 2 decimals`) {
		t.Errorf("a value beyond the scale: %v", err)
	}
}
