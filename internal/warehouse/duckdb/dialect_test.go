package duckdb

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// dialectFile writes content (gzipped when gz) and returns a spec for it.
func dialectFile(t *testing.T, name, content string, gz bool, sch schema.Schema) warehouse.LoadSpec {
	t.Helper()
	data := []byte(content)
	c := format.None
	if gz {
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		zw.Write(data)
		zw.Close()
		data, c, name = b.Bytes(), format.Gzip, name+".gz"
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: name, Fingerprint: "fp",
		Path: p, Format: format.CSV, Compression: c, Schema: sch}
}

// stagedRows reads a staged table's rows as "v1|v2|...", ordered by its
// first column, NULL as "-".
func stagedRows(t *testing.T, w *Warehouse, st *warehouse.Staged) string {
	t.Helper()
	var parts []string
	for _, c := range st.Columns {
		parts = append(parts, fmt.Sprintf("coalesce(CAST(%s AS VARCHAR), '-')", ident(c.Name)))
	}
	return queryStringsConn(t, w, fmt.Sprintf("SELECT coalesce(string_agg(concat_ws('|', %s), '; ' ORDER BY %s), '') FROM %s",
		strings.Join(parts, ", "), ident(st.Columns[0].Name), stagingRef(st.Table)))
}

// recordsIn counts the file's records as a pipeline does: with the
// dialect detected from a sample of the decompressed stream.
func recordsIn(t *testing.T, sp warehouse.LoadSpec) int64 {
	t.Helper()
	r, err := format.OpenFile(sp.Path, sp.Compression)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	sample, truncated, rest := format.PeekSample(r)
	var delim, quote byte
	if sp.CSV.Delimiter != "" {
		delim = sp.CSV.Delimiter[0]
	}
	if sp.CSV.Quote != "" {
		quote = sp.CSV.Quote[0]
	}
	known := func(name string) bool { _, ok := sp.Schema.Lookup(name); return ok }
	if len(sp.Schema) == 0 {
		known = nil
	}
	c := format.ResolveCSVDialect(sample, truncated, delim, quote, !sp.CSV.NoHeader, known)
	n, err := format.CountCSV(rest, format.CSVDialect{Header: !sp.CSV.NoHeader, Delimiter: c.Delimiter, Quote: c.Quote})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func columnList(st *warehouse.Staged) string {
	var cols []string
	for _, c := range st.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	return strings.Join(cols, ", ")
}

func extraList(st *warehouse.Staged) string {
	var names []string
	for _, f := range st.Extra {
		names = append(names, f.Name)
	}
	return strings.Join(names, ", ")
}

// TestStageCSVHeaderCellsWithoutAName: trailing empty columns are not
// read, an unnamed column with values is read as pandas names it; with a
// schema it is an extra column like any other, without one (shp validate)
// a column of the table. Rows in = loaded + quarantined throughout.
func TestStageCSVHeaderCellsWithoutAName(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	const trailing = "header columns 4 to 6 have no name and no value in any row; not read"
	tests := []struct {
		name        string
		data        string
		sch         schema.Schema
		loaded, bad int64
		rows        string // the staged rows, see stagedRows
		columns     string // checked when set
		extra       string
		drift       []string
	}{
		{name: "trailing empty cells in the header only", data: "id,name,amount,,,\n1,a,1.5\n2,b,2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", drift: []string{trailing}},
		{name: "trailing empty cells in the header and the rows", data: "id,name,amount,,,\r\n1,a,1.5,,,\r\n2,b,2.5,, ,\"\"\r\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", drift: []string{trailing}},
		{name: "a row short of the trailing cells is set aside", data: "id,name,amount,,,\n1,a,1.5,,,\n2,b,2.5,,,\n3,c,3.5\n", sch: testSchema,
			loaded: 2, bad: 1, rows: "1|a|1.5; 2|b|2.5", drift: []string{trailing}},
		{name: "a trailing column with a value is read", data: "id,name,amount,\n1,a,1.5,\n2,b,2.5,note\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", extra: "Unnamed: 3",
			drift: []string{`header column 4 has no name; read as "Unnamed: 3"`, `extra column "Unnamed: 3" is not in the schema; ignored`}},
		{name: "row names first", data: "\"\",id,name,amount\n\"r1\",1,a,1.5\n\"r2\",2,b,2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", extra: "Unnamed: 0",
			drift: []string{`header column 1 has no name; read as "Unnamed: 0"`, `extra column "Unnamed: 0" is not in the schema; ignored`}},
		{name: "unnamed middle column", data: "id,,name,amount\n1,x,a,1.5\n2,,b,2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", extra: "Unnamed: 1",
			drift: []string{`header column 2 has no name; read as "Unnamed: 1"`, `extra column "Unnamed: 1" is not in the schema; ignored`}},
		{name: "two unnamed columns and a literal Unnamed: 0", data: ",Unnamed: 0,,id,name,amount\n7,x,y,1,a,1.5\n", sch: testSchema,
			loaded: 1, rows: "1|a|1.5", extra: "Unnamed: 0.1, Unnamed: 0, Unnamed: 2",
			drift: []string{`header column 1 has no name; read as "Unnamed: 0.1"`, `header column 3 has no name; read as "Unnamed: 2"`,
				`extra column "Unnamed: 0.1" is not in the schema; ignored`, `extra column "Unnamed: 0" is not in the schema; ignored`,
				`extra column "Unnamed: 2" is not in the schema; ignored`}},
		{name: "semicolons, row names and trailing cells", data: ";id;name;amount;;\n0;1;a;1.5;;\n1;2;\"b;c\";2.5;;\n", sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b;c|2.5", extra: "Unnamed: 0",
			drift: []string{`detected delimiter ";"`, `header column 1 has no name; read as "Unnamed: 0"`,
				"header columns 5 to 6 have no name and no value in any row; not read", `extra column "Unnamed: 0" is not in the schema; ignored`}},
		{name: "no schema: trailing cells in the header only", data: "id,name,amount,,,\n1,a,1.5\n2,b,2.5\n",
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", columns: "id BIGINT, name VARCHAR, amount DOUBLE", drift: []string{trailing}},
		{name: "no schema: trailing cells everywhere", data: "id,name,amount,,,\n1,a,1.5,,,\n2,b,2.5,,,\n",
			loaded: 2, rows: "1|a|1.5; 2|b|2.5", columns: "id BIGINT, name VARCHAR, amount DOUBLE", drift: []string{trailing}},
		{name: "no schema: row names", data: "\"\",id,amount\n0,1,1.5\n1,2,2.5\n",
			loaded: 2, rows: "0|1|1.5; 1|2|2.5", columns: "Unnamed: 0 BIGINT, id BIGINT, amount DOUBLE",
			drift: []string{`header column 1 has no name; read as "Unnamed: 0"`}},
	}
	for i, tc := range tests {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%t", tc.name, gz), func(t *testing.T) {
				sp := dialectFile(t, "f.csv", tc.data, gz, tc.sch)
				sp.Target = fmt.Sprintf("t%d_%t", i, gz)
				st, err := w.Stage(ctx, sp)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Discard(ctx, st)
				if st.Loaded != tc.loaded || st.Quarantined != tc.bad {
					t.Fatalf("loaded %d quarantined %d, want %d and %d (%v)", st.Loaded, st.Quarantined, tc.loaded, tc.bad, st.Samples)
				}
				if in := recordsIn(t, sp); in != st.Loaded+st.Quarantined {
					t.Fatalf("%d records in, %d loaded + %d quarantined", in, st.Loaded, st.Quarantined)
				}
				if got := stagedRows(t, w, st); got != tc.rows {
					t.Fatalf("rows %q, want %q", got, tc.rows)
				}
				if got := strings.Join(st.Drift, "\n"); got != strings.Join(tc.drift, "\n") {
					t.Fatalf("drift\n%s\nwant\n%s", got, strings.Join(tc.drift, "\n"))
				}
				if got := extraList(st); got != tc.extra {
					t.Fatalf("extra %q, want %q", got, tc.extra)
				}
				if tc.columns != "" && columnList(st) != tc.columns {
					t.Fatalf("columns %q, want %q", columnList(st), tc.columns)
				}
			})
		}
	}
}

// TestStageCSVDetectsTheDialect: without a declared delimiter the file's
// own is found, quoted fields holding the other candidates included; a
// declared delimiter that reads none of the schema's columns gives way to
// the one alternative that does. The drift says what was used.
func TestStageCSVDetectsTheDialect(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	tests := []struct {
		name        string
		data        string
		csv         warehouse.CSVOptions
		sch         schema.Schema
		parse       map[string]warehouse.ColumnParse
		loaded, bad int64
		rows        string
		columns     string
		drift       []string
	}{
		{name: "comma has no note", data: "id,name,amount\n1,\"a;b|c\",1.5\n2,b,2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a;b|c|1.5; 2|b|2.5"},
		{name: "semicolon", data: "id;name;amount\n1;\"a,b;c\";1.5\n2;\"x|y\";2.5\n3;z;\n", sch: testSchema,
			loaded: 3, rows: "1|a,b;c|1.5; 2|x|y|2.5; 3|z|-", drift: []string{`detected delimiter ";"`}},
		{name: "semicolon with decimal commas read by a repair", data: "id;name;amount\n1;a;1,5\n2;b;1.234,25\n",
			sch: testSchema, parse: map[string]warehouse.ColumnParse{"amount": {DecimalComma: true}},
			loaded: 2, rows: "1|a|1.5; 2|b|1234.25", drift: []string{`detected delimiter ";"`}},
		{name: "semicolon with decimal commas not yet repaired", data: "id;name;amount\n1;a;1,5\n2;b;2\n", sch: testSchema,
			loaded: 1, bad: 1, rows: "2|b|2.0", drift: []string{`detected delimiter ";"`}},
		{name: "tab", data: "id\tname\tamount\n1\t\"a,b;c|d\"\t1.5\n2\t\"two\nlines\"\t2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a,b;c|d|1.5; 2|two\nlines|2.5", drift: []string{`detected delimiter "\t"`}},
		{name: "pipe", data: "id|name|amount\n1|\"a|b, c; d\"|1.5\n2|b|2.5\n", sch: testSchema,
			loaded: 2, rows: "1|a|b, c; d|1.5; 2|b|2.5", drift: []string{`detected delimiter "|"`}},
		{name: "single quotes", data: "id;name;amount\n1;'a;b';1.5\n2;'c;d;e';2.5\n3;f;3\n", sch: testSchema,
			loaded: 3, rows: "1|a;b|1.5; 2|c;d;e|2.5; 3|f|3.0", drift: []string{`detected delimiter ";"`, `detected quote character "'"`}},
		{name: "no schema", data: "a;b;c\n1;x,y;2,5\n2;z;3\n",
			loaded: 2, rows: "1|x,y|2,5; 2|z|3", columns: "a BIGINT, b VARCHAR, c VARCHAR", drift: []string{`detected delimiter ";"`}},
		{name: "declared delimiter is wrong", data: "id;name;amount\n1;a;1.5\n2;\"b,c\";2.5\n", csv: warehouse.CSVOptions{Delimiter: ",", Quote: `"`}, sch: testSchema,
			loaded: 2, rows: "1|a|1.5; 2|b,c|2.5",
			drift: []string{`the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 3 of them`}},
		{name: "declared pipe is wrong", data: "id\tname\n1\ta\n", csv: warehouse.CSVOptions{Delimiter: "|", Quote: `"`}, sch: testSchema,
			loaded: 1, rows: "1|a|-",
			drift: []string{`the declared delimiter "|" reads none of the schema's columns; read with delimiter "\t", which reads 2 of them`,
				`column "amount" is missing from the file; loaded as NULL`}},
		{name: "detected by the caller", data: "id;name;amount\n1;a;1.5\n", csv: warehouse.CSVOptions{Delimiter: ";", Quote: `"`, Notes: []string{`detected delimiter ";"`}},
			sch: testSchema, loaded: 1, rows: "1|a|1.5", drift: []string{`detected delimiter ";"`}},
	}
	for i, tc := range tests {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%t", tc.name, gz), func(t *testing.T) {
				sp := dialectFile(t, "f.csv", tc.data, gz, tc.sch)
				sp.Target = fmt.Sprintf("t%d_%t", i, gz)
				sp.CSV, sp.Parse = tc.csv, tc.parse
				st, err := w.Stage(ctx, sp)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Discard(ctx, st)
				if st.Loaded != tc.loaded || st.Quarantined != tc.bad {
					t.Fatalf("loaded %d quarantined %d, want %d and %d (%v)", st.Loaded, st.Quarantined, tc.loaded, tc.bad, st.Samples)
				}
				if in := recordsIn(t, sp); in != st.Loaded+st.Quarantined {
					t.Fatalf("%d records in, %d loaded + %d quarantined", in, st.Loaded, st.Quarantined)
				}
				if got := stagedRows(t, w, st); got != tc.rows {
					t.Fatalf("rows %q, want %q", got, tc.rows)
				}
				if got := strings.Join(st.Drift, "\n"); got != strings.Join(tc.drift, "\n") {
					t.Fatalf("drift\n%s\nwant\n%s", got, strings.Join(tc.drift, "\n"))
				}
				if tc.columns != "" && columnList(st) != tc.columns {
					t.Fatalf("columns %q, want %q", columnList(st), tc.columns)
				}
			})
		}
	}

	t.Run("a wrong delimiter no alternative fixes is still an error", func(t *testing.T) {
		sp := dialectFile(t, "f.csv", "x;y\n1;2\n", false, testSchema)
		sp.CSV = warehouse.CSVOptions{Delimiter: ",", Quote: `"`}
		if _, err := w.Stage(ctx, sp); err == nil || !strings.Contains(err.Error(), "is the delimiter right?") {
			t.Fatalf("err = %v", err)
		}
	})
}

// TestStageJSONKeepsEveryKey: without a schema every key of any record is
// a column, one that is null in every record too, and so are keys that
// only later records have, however many keys there are.
func TestStageJSONKeepsEveryKey(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	var many strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&many, "{\"id\":%d,\"k%d\":%d,\"gone\":null}\n", i, i, i)
	}
	var late strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&late, "{\"id\":%d}\n", i)
	}
	late.WriteString("{\"id\":3000,\"later\":null,\"value\":\"x\"}\n")
	tests := []struct {
		name   string
		f      format.Format
		data   string
		loaded int64
		want   map[string]string // column -> type
		check  string            // a query on the staged table, "{t}" its name
		result string
	}{
		{name: "all-null key in json lines", f: format.JSONL, data: "{\"a\":1,\"b\":null}\n{\"a\":2,\"b\":null}\n",
			loaded: 2, want: map[string]string{"a": "BIGINT", "b": "JSON"}, check: "SELECT count(*) FILTER (WHERE b IS NULL) FROM {t}", result: "2"},
		{name: "all-null key in a json array", f: format.JSON, data: `[{"a":1,"b":null},{"a":2,"b":null,"c":null}]`,
			loaded: 2, want: map[string]string{"a": "BIGINT", "b": "JSON", "c": "JSON"}},
		{name: "only key is null", f: format.JSONL, data: "{\"b\":null}\n{\"b\":null}\n", loaded: 2, want: map[string]string{"b": "JSON"}},
		{name: "keys only in a late record", f: format.JSONL, data: late.String(),
			loaded: 3001, want: map[string]string{"id": "BIGINT", "later": "JSON", "value": "VARCHAR"},
			check: "SELECT value FROM {t} WHERE id = 3000", result: "x"},
		{name: "hundreds of keys", f: format.JSONL, data: many.String(),
			loaded: 300, want: map[string]string{"id": "BIGINT", "k0": "BIGINT", "k299": "BIGINT", "gone": "JSON"},
			check: "SELECT CAST(k299 AS VARCHAR) FROM {t} WHERE id = 299", result: "299"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			name := "f.jsonl"
			if tc.f == format.JSON {
				name = "f.json"
			}
			sp := repairSpec(t, name, tc.data, tc.f, nil)
			st, err := w.Stage(ctx, sp)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Discard(ctx, st)
			if st.Loaded != tc.loaded || st.Quarantined != 0 {
				t.Fatalf("loaded %d quarantined %d, want %d", st.Loaded, st.Quarantined, tc.loaded)
			}
			types := map[string]string{}
			for _, c := range st.Columns {
				types[c.Name] = c.Type
			}
			for col, typ := range tc.want {
				if types[col] != typ {
					t.Errorf("column %s is %q, want %q (columns %s)", col, types[col], typ, columnList(st))
				}
			}
			if tc.check != "" {
				if got := queryStringsConn(t, w, strings.ReplaceAll(tc.check, "{t}", stagingRef(st.Table))); got != tc.result {
					t.Fatalf("%s = %q, want %q", tc.check, got, tc.result)
				}
			}
		})
	}
}
