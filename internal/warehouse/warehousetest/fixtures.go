package warehousetest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
)

// The load fixtures are one table of rows (typedRows), written out in
// every format and dialect the suite loads (variant). Each row knows
// what a warehouse must do with it: load it with the values it renders
// to, or set it aside with a reason naming its column and value.

// typedSchemaJSON declares a column of every type a feed carries, as a
// schema file would (INTEGER and BOOLEAN are read as INT64 and BOOL).
const typedSchemaJSON = `[
	{"name": "id", "type": "INTEGER", "mode": "REQUIRED"},
	{"name": "qty", "type": "INTEGER"},
	{"name": "serial", "type": "INT64"},
	{"name": "ratio", "type": "FLOAT64"},
	{"name": "price", "type": "NUMERIC", "precision": "10", "scale": "2"},
	{"name": "active", "type": "BOOLEAN"},
	{"name": "day", "type": "DATE"},
	{"name": "seen_at", "type": "TIMESTAMP"},
	{"name": "local_at", "type": "DATETIME"},
	{"name": "note", "type": "STRING"}
]`

// mustSchema parses a BigQuery JSON schema.
func mustSchema(t *testing.T, js string) schema.Schema {
	t.Helper()
	sch, err := schema.Parse([]byte(js), "schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// typedSelect selects the typed columns, the NUMERIC one as text, in
// schema order, ordered by id. Compare its rows with sameRows.
const typedSelect = "SELECT {id}, {qty}, {serial}, {ratio}, {text:price}, {active}, {day}, {seen_at}, {local_at}, {note} FROM {%s} ORDER BY {id}"

var typedColumns = []string{"id", "qty", "serial", "ratio", "price", "active", "day", "seen_at", "local_at", "note"}

// Values of a fixture row's cells, beyond a string (text, a JSON string)
// and nil (NULL: an empty CSV field, a key absent from a JSON record).
type (
	// num is a JSON number or literal: unquoted in JSON, as it is in CSV.
	num string
	// token is the CSV NULL token "NA" (CSVOptions.NullValues); an
	// explicit null in JSON and Parquet.
	token struct{}
	// badUTF8 is text with bytes that are not UTF-8; rows holding one are
	// not written to Parquet.
	badUTF8 string
)

// Kinds of fixture rows.
const (
	rowGood     = "good"
	rowCast     = "cast"     // a value that does not convert to its column's type
	rowRequired = "required" // NULL in the REQUIRED column id
	rowEncoding = "encoding" // a value that is not UTF-8
	rowShape    = "shape"    // a record of the wrong shape
)

// typedRow is one logical row of the load fixtures.
type typedRow struct {
	kind string
	vals map[string]any // by column; absent is NULL
	// want are the rendered values of a loaded row that differ from
	// their text.
	want map[string]string
	// bad is the column a rowCast row fails on; the reason names it and
	// quotes vals[bad].
	bad string
	// marker is in the note, so in the raw text of a row set aside.
	marker string
	// csvShape makes a rowShape CSV record: "many" (a field too many) or
	// "few" (two fields); reasons are what the reason says of it.
	csvShape, csvReason string
	// jsonl and array are a rowShape record as a JSON Lines line and as
	// an array element, and jsonReason what the reason says of them.
	jsonl, array, jsonReason string
}

// typedRows are the load fixtures' rows, in file order.
func typedRows() []typedRow {
	return []typedRow{
		{kind: rowGood, marker: "row-01", vals: map[string]any{"id": num("1"), "qty": num("42"), "serial": num("9007199254740993"),
			"ratio": num("1.5"), "price": num("12.34"), "active": num("true"), "day": "2026-01-02", "seen_at": "2026-01-02T03:04:05Z",
			"local_at": "2026-01-02 03:04:05", "note": "row-01"},
			want: map[string]string{"seen_at": "2026-01-02 03:04:05"}},
		{kind: rowGood, marker: "row-02", vals: map[string]any{"id": num("2"), "note": "Ünïcode ✓ 日本語 row-02"}},
		{kind: rowGood, marker: "row-03", vals: map[string]any{"id": num("3"), "qty": num("-7"), "serial": "0", "ratio": num("-2e10"),
			"price": "1.230", "active": "false", "day": "2024-02-29", "seen_at": "2026-01-02 05:04:05+02", "local_at": "2026-01-02T03:04:05.5",
			"note": "line one\nline \"two\"; a,b\tc row-03"},
			want: map[string]string{"ratio": "-2e+10", "price": "1.23", "seen_at": "2026-01-02 03:04:05", "local_at": "2026-01-02 03:04:05.5"}},
		{kind: rowGood, marker: "row-04", vals: map[string]any{"id": num("4"), "qty": token{}, "price": num("-3"), "note": "row-04"},
			want: map[string]string{"price": "-3.00"}},
		{kind: rowCast, bad: "qty", marker: "row-05", vals: map[string]any{"id": num("5"), "qty": num("4.5"), "note": "row-05"}},
		{kind: rowCast, bad: "serial", marker: "row-06", vals: map[string]any{"id": num("6"), "serial": num("9223372036854775808"), "note": "row-06"}},
		{kind: rowCast, bad: "ratio", marker: "row-07", vals: map[string]any{"id": num("7"), "ratio": "abc", "note": "row-07"}},
		{kind: rowCast, bad: "ratio", marker: "row-08", vals: map[string]any{"id": num("8"), "ratio": num("1e400"), "note": "row-08"}},
		{kind: rowCast, bad: "price", marker: "row-09", vals: map[string]any{"id": num("9"), "price": num("1.234"), "note": "row-09"}},
		{kind: rowCast, bad: "active", marker: "row-10", vals: map[string]any{"id": num("10"), "active": "maybe", "note": "row-10"}},
		{kind: rowCast, bad: "day", marker: "row-11", vals: map[string]any{"id": num("11"), "day": "2026-02-30", "note": "row-11"}},
		{kind: rowCast, bad: "seen_at", marker: "row-12", vals: map[string]any{"id": num("12"), "seen_at": "yesterday noon", "note": "row-12"}},
		{kind: rowCast, bad: "local_at", marker: "row-13", vals: map[string]any{"id": num("13"), "local_at": "2026-01-02 25:00:00", "note": "row-13"}},
		{kind: rowEncoding, marker: "row-14", vals: map[string]any{"id": num("14"), "note": badUTF8("row-14 K\xf6ln \xff")}},
		{kind: rowRequired, marker: "row-15", vals: map[string]any{"qty": num("15"), "note": "row-15"}},
		{kind: rowShape, marker: "row-16", vals: map[string]any{"id": num("16"), "qty": num("16"), "note": "row-16"},
			csvShape: "many", csvReason: "too many columns",
			jsonl: `{"id": 16, "note": "row-16"`, array: `"row-16"`, jsonReason: "invalid JSON|not an object"},
		{kind: rowShape, marker: "row-17", vals: map[string]any{"id": num("17"), "note": "row-17"},
			csvShape: "few", csvReason: "missing columns",
			jsonl: `["row-17"]`, array: `["row-17"]`, jsonReason: "not an object"},
		{kind: rowGood, marker: "row-18", vals: map[string]any{"id": num("18"), "qty": num("18"), "note": "row-18"}},
		{kind: rowCast, bad: "qty", marker: "row-19", vals: map[string]any{"id": num("19"), "qty": "x19", "note": "row-19"}},
	}
}

// text is a cell's text as CSV and Parquet carry it; null says it is
// NULL there.
func text(v any, csvTokens bool) (s string, null bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case token:
		if csvTokens {
			return "NA", false
		}
		return "", true
	case num:
		return string(x), false
	case badUTF8:
		return string(x), false
	case string:
		return x, false
	}
	panic(fmt.Sprintf("fixture value %T", v))
}

// rendered is how a loaded cell of column reads back (see render).
func (r typedRow) rendered(column string) string {
	if w, ok := r.want[column]; ok {
		return w
	}
	s, null := text(r.vals[column], false)
	if null {
		return "NULL"
	}
	return s
}

// variant is one way of writing the fixtures to a file.
type variant struct {
	name   string
	format format.Format
	gzip   bool
	// CSV
	delim     string // written delimiter
	declare   bool   // pass the delimiter in CSVOptions (else detected)
	quoteAll  bool
	crlf      bool
	noHeader  bool
	reordered bool // columns reversed, local_at left out, an unnamed index column first and "unused" last
	// JSON Lines
	blankLine bool // a blank line after the second record
}

// csvColumns are the file's columns ("" for the unnamed index column).
func (v variant) csvColumns() []string {
	if !v.reordered {
		return typedColumns
	}
	cols := []string{""}
	for i := len(typedColumns) - 1; i >= 0; i-- {
		if typedColumns[i] != "local_at" {
			cols = append(cols, typedColumns[i])
		}
	}
	return append(cols, "unused")
}

// written is a fixture file and what a warehouse must make of it.
type written struct {
	path string
	// lines are the rows' lines (or element or row numbers), by marker,
	// for the rows the file holds.
	lines map[string]int64
	// missing is a schema column the file lacks; extra are the file's
	// columns the schema lacks.
	missing string
	extra   []string
}

// write writes the fixtures as v says into dir.
func (v variant) write(t *testing.T, dir string, rows []typedRow) written {
	t.Helper()
	w := written{lines: map[string]int64{}}
	var data []byte
	switch v.format {
	case format.CSV:
		data = v.writeCSV(rows, &w)
	case format.JSONL, format.JSON:
		data = v.writeJSON(rows, &w)
	case format.Parquet:
		data = writeTextParquet(t, rows, &w)
	}
	name := "data." + string(v.format)
	if v.gzip {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write(data)
		_ = zw.Close()
		data, name = b.Bytes(), name+".gz"
	}
	w.path = filepath.Join(dir, name)
	if err := os.WriteFile(w.path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return w
}

func (v variant) writeCSV(rows []typedRow, w *written) []byte {
	cols := v.csvColumns()
	if v.reordered {
		w.missing, w.extra = "local_at", []string{"Unnamed: 0", "unused"}
	}
	eol := "\n"
	if v.crlf {
		eol = "\r\n"
	}
	field := func(s string, null bool) string {
		if v.quoteAll || strings.ContainsAny(s, v.delim+"\"\n\r") {
			return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
		}
		if null {
			return ""
		}
		return s
	}
	var b strings.Builder
	record := int64(0)
	if !v.noHeader {
		names := make([]string, len(cols))
		for i, c := range cols {
			names[i] = field(c, false)
		}
		b.WriteString(strings.Join(names, v.delim) + eol)
		record++
	}
	for i, r := range rows {
		fields := make([]string, len(cols))
		for j, c := range cols {
			switch c {
			case "":
				fields[j] = fmt.Sprint(i)
			case "unused":
				fields[j] = "u"
			default:
				fields[j] = field(text(r.vals[c], true))
			}
		}
		if r.kind == rowShape {
			switch r.csvShape {
			case "many":
				fields = append(fields, "EXTRA")
			case "few":
				fields = []string{field(text(r.vals["id"], true)), field(r.marker, false)}
			default:
				continue
			}
		}
		record++
		w.lines[r.marker] = record
		b.WriteString(strings.Join(fields, v.delim) + eol)
	}
	return []byte(b.String())
}

func (v variant) writeJSON(rows []typedRow, w *written) []byte {
	var recs []string
	line := int64(0)
	for _, r := range rows {
		var rec string
		if r.kind == rowShape {
			rec = r.jsonl
			if v.format == format.JSON {
				rec = r.array
			}
			if rec == "" {
				continue
			}
		} else {
			var members []string
			for _, c := range typedColumns {
				val, ok := r.vals[c]
				if !ok {
					continue // an absent key reads NULL
				}
				k, _ := json.Marshal(c)
				var js string
				switch x := val.(type) {
				case token:
					js = "null"
				case num:
					js = string(x)
				case badUTF8:
					js = `"` + string(x) + `"`
				case string:
					b, _ := json.Marshal(x)
					js = string(b)
				}
				members = append(members, string(k)+": "+js)
			}
			rec = "{" + strings.Join(members, ", ") + "}"
		}
		line++
		w.lines[r.marker] = line
		recs = append(recs, rec)
		if v.blankLine && line == 2 {
			line++
			recs = append(recs, "")
		}
	}
	if v.format == format.JSON {
		return []byte("[\n" + strings.Join(recs, ",\n") + "\n]\n")
	}
	return []byte(strings.Join(recs, "\n") + "\n")
}

// textParquetRow is a fixture row in Parquet, every value as text.
type textParquetRow struct {
	ID      *string `parquet:"id,optional"`
	Qty     *string `parquet:"qty,optional"`
	Serial  *string `parquet:"serial,optional"`
	Ratio   *string `parquet:"ratio,optional"`
	Price   *string `parquet:"price,optional"`
	Active  *string `parquet:"active,optional"`
	Day     *string `parquet:"day,optional"`
	SeenAt  *string `parquet:"seen_at,optional"`
	LocalAt *string `parquet:"local_at,optional"`
	Note    *string `parquet:"note,optional"`
}

func writeTextParquet(t *testing.T, rows []typedRow, w *written) []byte {
	t.Helper()
	var out []textParquetRow
	for _, r := range rows {
		if r.kind == rowShape || r.kind == rowEncoding {
			continue
		}
		cell := func(c string) *string {
			s, null := text(r.vals[c], false)
			if null {
				return nil
			}
			return &s
		}
		out = append(out, textParquetRow{ID: cell("id"), Qty: cell("qty"), Serial: cell("serial"), Ratio: cell("ratio"),
			Price: cell("price"), Active: cell("active"), Day: cell("day"), SeenAt: cell("seen_at"), LocalAt: cell("local_at"), Note: cell("note")})
		w.lines[r.marker] = int64(len(out))
	}
	return writeParquet(t, out)
}

// writeParquet encodes rows as a Parquet file.
func writeParquet[T any](t *testing.T, rows []T) []byte {
	t.Helper()
	var b bytes.Buffer
	pw := parquet.NewGenericWriter[T](&b)
	if _, err := pw.Write(rows); err != nil {
		t.Fatal(err)
	}
	if err := pw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// nativeParquetRow is a row of a Parquet file whose columns have their
// types natively.
type nativeParquetRow struct {
	ID      int64      `parquet:"id"`
	Qty     *int32     `parquet:"qty,optional"`
	Serial  *int64     `parquet:"serial,optional"`
	Ratio   *float64   `parquet:"ratio,optional"`
	Price   *float64   `parquet:"price,optional"`
	Active  *bool      `parquet:"active,optional"`
	Day     *int32     `parquet:"day,optional,date"` // days since 1970-01-01
	SeenAt  *time.Time `parquet:"seen_at,optional,timestamp(microsecond:utc)"`
	LocalAt *time.Time `parquet:"local_at,optional,timestamp(microsecond:local)"`
	Note    *string    `parquet:"note,optional"`
}

func ptr[T any](v T) *T { return &v }

// writeFile writes data into dir/name and returns its path.
func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// rowsIn counts an object's records the way a pipeline counts "rows
// in", independently of the warehouse's reader: CSV with the dialect
// detected from a sample (a declared delimiter checked against the
// schema), JSON by normalising it, Parquet from its footer.
func rowsIn(t *testing.T, path string, f format.Format, c format.Compression, delim string, header bool, sch schema.Schema) int64 {
	t.Helper()
	if f == format.Parquet {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer fh.Close()
		st, err := fh.Stat()
		if err != nil {
			t.Fatal(err)
		}
		n, err := format.ParquetRowCount(fh, st.Size())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	r, err := format.OpenFile(path, c)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if f == format.CSV {
		sample, truncated, rest := format.PeekSample(r)
		var known func(string) bool
		if len(sch) > 0 {
			known = func(name string) bool { _, ok := sch.Lookup(name); return ok }
		}
		var d byte
		if delim != "" {
			d = delim[0]
		}
		choice := format.ResolveCSVDialect(sample, truncated, d, 0, header, known)
		n, err := format.CountCSV(rest, format.CSVDialect{Header: header, Delimiter: choice.Delimiter, Quote: choice.Quote})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	good, bad, err := format.NormalizeJSON(r, io.Discard, f == format.JSONL, func(int64, []byte, string) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	return good + bad
}
