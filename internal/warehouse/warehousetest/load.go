package warehousetest

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
)

// testLoad stages every format and dialect: what loads, what is set
// aside and why, and that nothing is lost.
func (s *suite) testLoad(t *testing.T) {
	for _, v := range []variant{
		{name: "csv/comma", format: format.CSV, delim: ",", declare: true},
		{name: "csv/semicolon, every field quoted", format: format.CSV, delim: ";", declare: true, quoteAll: true},
		{name: "csv/tab, detected", format: format.CSV, delim: "\t"},
		{name: "csv/CRLF line ends", format: format.CSV, delim: ",", crlf: true},
		{name: "csv/no header", format: format.CSV, delim: ",", declare: true, noHeader: true},
		{name: "csv/header reordered, unnamed, extra and missing columns", format: format.CSV, delim: ",", reordered: true},
		{name: "csv/gzip", format: format.CSV, delim: ",", gzip: true},
		{name: "jsonl", format: format.JSONL, blankLine: true},
		{name: "jsonl/gzip", format: format.JSONL, gzip: true},
		{name: "json array", format: format.JSON},
		{name: "parquet/text", format: format.Parquet},
	} {
		s.run(t, v.name, func(t *testing.T) { s.loadVariant(t, v) })
	}
	s.run(t, "parquet/native types", s.loadNativeParquet)
	s.run(t, "csv/header cells without a name", s.loadUnnamedCells)
	s.run(t, "csv/a declared delimiter that reads no column", s.loadWrongDelimiter)
	s.run(t, "csv/a column named twice", s.loadDuplicateHeader)
	for _, c := range conversionCases {
		s.run(t, "every type/"+c.typ, func(t *testing.T) { s.loadConversions(t, c.typ, c.field, c.good, c.bad) })
	}
	for _, f := range []format.Format{format.CSV, format.JSONL, format.Parquet} {
		s.run(t, "null tokens/"+string(f), func(t *testing.T) { s.loadNullTokens(t, f) })
	}
	s.run(t, "time of day in a DATE column", s.loadTimeInDate)
	s.run(t, "no good rows", s.loadNoGoodRows)
	s.run(t, "csv header only", s.loadHeaderOnly)
	s.run(t, "no schema", s.loadNoSchema)
}

// expectedLoad is what a warehouse must make of a fixture file.
type expectedLoad struct {
	good [][]string // rendered rows, by id
	bad  []typedRow // rows set aside, in file order
}

// expect works out which fixture rows the file holds load and which are
// set aside.
func expect(rows []typedRow, wr written) expectedLoad {
	var e expectedLoad
	for _, r := range rows {
		if _, ok := wr.lines[r.marker]; !ok {
			continue
		}
		good := r.kind == rowGood || (r.kind == rowCast && r.bad == wr.missing)
		if !good {
			e.bad = append(e.bad, r)
			continue
		}
		row := make([]string, len(typedColumns))
		for i, c := range typedColumns {
			row[i] = r.rendered(c)
			if c == wr.missing {
				row[i] = "NULL"
			}
		}
		e.good = append(e.good, row)
	}
	sort.SliceStable(e.good, func(i, j int) bool { return idOf(e.good[i]) < idOf(e.good[j]) })
	return e
}

func idOf(row []string) int {
	var n int
	fmt.Sscan(row[0], &n)
	return n
}

// checkSetAside checks the rows QuarantinedRows returned against the
// fixture rows that had to be set aside: one each, with the object, the
// line (NULL allowed for a NULL in a REQUIRED column, which may be found
// after reading), a reason naming the column and quoting the value, and
// the raw text.
func checkSetAside(t *testing.T, got []quarantined, bad []typedRow, wr written, object, state string) {
	t.Helper()
	if len(got) != len(bad) {
		var lines []string
		for _, g := range got {
			lines = append(lines, g.String())
		}
		t.Errorf("%d rows set aside, want %d:\n  %s", len(got), len(bad), strings.Join(lines, "\n  "))
	}
	last := int64(0)
	for _, g := range got {
		if g.Object != object || g.State != state {
			t.Errorf("set aside %s, want object %s and state %q", g, object, state)
		}
		if g.Line != 0 {
			if g.Line < last {
				t.Errorf("rows set aside are not ordered by line: %d after %d", g.Line, last)
			}
			last = g.Line
		}
	}
	for _, r := range bad {
		var found []quarantined
		for _, g := range got {
			if strings.Contains(g.Raw, r.marker) {
				found = append(found, g)
			}
		}
		if len(found) != 1 {
			t.Errorf("%s (%s): %d rows set aside hold it in their raw text, want 1", r.marker, r.kind, len(found))
			continue
		}
		g := found[0]
		if line := wr.lines[r.marker]; g.Line != line && !(r.kind == rowRequired && g.Line == 0) {
			t.Errorf("%s: line %d, want %d: %s", r.marker, g.Line, line, g)
		}
		reason := strings.ToLower(g.Reason)
		var want []string
		switch r.kind {
		case rowCast:
			value, _ := text(r.vals[r.bad], false)
			if !strings.Contains(g.Reason, r.bad) || !strings.Contains(g.Reason, value) {
				t.Errorf("%s: reason %q does not name the column %s and the value %q", r.marker, g.Reason, r.bad, value)
			}
			if !strings.Contains(g.Raw, value) {
				t.Errorf("%s: raw %q lacks the value %q as read", r.marker, g.Raw, value)
			}
		case rowRequired:
			want = []string{`null: required column "id" is null`}
		case rowEncoding:
			want = []string{"encoding", "utf-8"}
		case rowShape:
			alts := r.jsonReason
			if wr.path != "" && strings.Contains(wr.path, ".csv") {
				alts = r.csvReason
			}
			want = strings.Split(strings.ToLower(alts), "|")
		}
		if len(want) > 0 {
			ok := false
			for _, w := range want {
				ok = ok || strings.Contains(reason, w)
			}
			if !ok {
				t.Errorf("%s (%s): reason %q says none of %q", r.marker, r.kind, g.Reason, want)
			}
		}
	}
}

// loadVariant stages a fixture file, keeps what it set aside as a held
// run would, stages it again and commits it.
func (s *suite) loadVariant(t *testing.T, v variant) {
	w := s.fresh(t)
	sch := mustSchema(t, typedSchemaJSON)
	rows := typedRows()
	wr := v.write(t, t.TempDir(), rows)
	e := expect(rows, wr)
	comp := format.None
	if v.gzip {
		comp = format.Gzip
	}
	object := "in/" + filepath.Base(wr.path)
	spec := warehouse.LoadSpec{RunID: "held-1", Pipeline: "load", Target: "typed", ObjectKey: object, Fingerprint: "fp-1",
		ContentHash: "hash-1", Path: wr.path, Format: v.format, Compression: comp, Schema: sch}
	declared := ""
	if v.format == format.CSV {
		spec.CSV = warehouse.CSVOptions{NullValues: []string{"", "NA"}, NoHeader: v.noHeader}
		if v.declare {
			spec.CSV.Delimiter, declared = v.delim, v.delim
		}
	}
	in := rowsIn(t, wr.path, v.format, comp, declared, !v.noHeader, sch)
	if want := int64(len(wr.lines)); in != want {
		t.Fatalf("the fixture holds %d records, the counter says %d", want, in)
	}

	st := stage(t, w, spec)
	if st.Loaded+st.Quarantined != in {
		t.Errorf("rows in %d != staged %d + set aside %d", in, st.Loaded, st.Quarantined)
	}
	if st.Loaded != int64(len(e.good)) || st.Quarantined != int64(len(e.bad)) {
		t.Errorf("staged %d and set aside %d, want %d and %d", st.Loaded, st.Quarantined, len(e.good), len(e.bad))
	}
	if st.Table == "" || st.ObjectKey != object || st.Fingerprint != "fp-1" || st.ContentHash != "hash-1" {
		t.Errorf("staged %+v: want a table, object %s, fingerprint fp-1, hash hash-1", st, object)
	}
	if st.Quarantined > 0 && (len(st.Samples) == 0 || int64(len(st.Samples)) > st.Quarantined) {
		t.Errorf("%d samples of %d rows set aside", len(st.Samples), st.Quarantined)
	}
	names := columnNames(st)
	sort.Strings(names)
	want := append([]string(nil), typedColumns...)
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("staged columns %v, want the schema's %v", names, want)
	}
	if got := strings.Join(st.Missing, ","); got != wr.missing {
		t.Errorf("missing columns %q, want %q", got, wr.missing)
	}
	var extra []string
	for _, f := range st.Extra {
		extra = append(extra, f.Name)
	}
	sort.Strings(extra)
	if strings.Join(extra, ",") != strings.Join(wr.extra, ",") {
		t.Errorf("extra columns %v, want %v", extra, wr.extra)
	}
	if (wr.missing != "" || len(wr.extra) > 0) && len(st.Drift) == 0 {
		t.Error("missing and extra columns are not reported as drift")
	}
	if got := query(t, w, fmt.Sprintf(typedSelect, st.Table)); !sameRows(got, e.good) {
		t.Errorf("staged rows:\n%v\nwant\n%v", got, e.good)
	}

	// A held run keeps what was set aside.
	n, err := w.SetAside(ctx, "held-1", "load", []*warehouse.Staged{st})
	if err != nil || n != st.Quarantined {
		t.Fatalf("set aside: %d, %v; want %d", n, err, st.Quarantined)
	}
	checkSetAside(t, quarantine(t, w, "held-1", ""), e.bad, wr, object, "not committed")

	// The next run commits the object.
	spec.RunID = "run-2"
	st = stage(t, w, spec)
	res := appendTo(t, w, "run-2", "load", "typed", st)
	if res.Inserted != int64(len(e.good)) || res.Quarantined != int64(len(e.bad)) || res.Updated != 0 || res.Deduplicated != 0 {
		t.Errorf("commit result %+v, want %d inserted and %d set aside", *res, len(e.good), len(e.bad))
	}
	if got := query(t, w, fmt.Sprintf(typedSelect, "typed")); !sameRows(got, e.good) {
		t.Errorf("target rows:\n%v\nwant\n%v", got, e.good)
	}
	checkSetAside(t, quarantine(t, w, "run-2", "typed"), e.bad, wr, object, "committed")
	if left := quarantine(t, w, "held-1", ""); len(left) != 0 {
		t.Errorf("the commit of %s left %d rows of the held run set aside", object, len(left))
	}
	if got := ledger(t, w, "load"); len(got) != 1 || got[0] != (warehouse.LoadedObject{Key: object, Fingerprint: "fp-1", RunID: "run-2", ContentHash: "hash-1"}) {
		t.Errorf("ledger %+v", got)
	}
}

// loadNativeParquet stages a Parquet file whose columns have their types:
// values load as they are, a double with more decimals than its NUMERIC
// column (or NaN) is set aside, NaN loads into a FLOAT64 column.
func (s *suite) loadNativeParquet(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, typedSchemaJSON)
	day := int32(time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC).Unix() / 86400)
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	local := time.Date(2026, 1, 2, 3, 4, 5, 500000000, time.UTC)
	rows := []nativeParquetRow{
		{ID: 1, Qty: ptr(int32(42)), Serial: ptr(int64(9007199254740993)), Ratio: ptr(1.5), Price: ptr(12.34), Active: ptr(true),
			Day: &day, SeenAt: &at, LocalAt: &local, Note: ptr("row-01 ✓")},
		{ID: 2, Note: ptr("Ünïcode 日本語 row-02")},
		{ID: 3, Price: ptr(1.234), Note: ptr("row-03")},
		{ID: 4, Ratio: ptr(math.NaN()), Note: ptr("row-04")},
		{ID: 5, Price: ptr(math.NaN()), Note: ptr("row-05")},
	}
	path := writeFile(t, t.TempDir(), "native.parquet", writeParquet(t, rows))
	spec := warehouse.LoadSpec{RunID: "run-1", Pipeline: "load", Target: "native", ObjectKey: "native.parquet", Fingerprint: "fp",
		Path: path, Format: format.Parquet, Schema: sch}
	st := stage(t, w, spec)
	if in := rowsIn(t, path, format.Parquet, format.None, "", true, sch); st.Loaded != 3 || st.Quarantined != 2 || in != 5 {
		t.Fatalf("rows in %d, staged %d, set aside %d; want 5, 3, 2", in, st.Loaded, st.Quarantined)
	}
	appendTo(t, w, "run-1", "load", "native", st)
	want := [][]string{
		{"1", "42", "9007199254740993", "1.5", "12.34", "true", "2026-01-02", "2026-01-02 03:04:05", "2026-01-02 03:04:05.5", "row-01 ✓"},
		{"2", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "Ünïcode 日本語 row-02"},
		{"4", "NULL", "NULL", "NaN", "NULL", "NULL", "NULL", "NULL", "NULL", "row-04"},
	}
	if got := query(t, w, fmt.Sprintf(typedSelect, "native")); !sameRows(got, want) {
		t.Errorf("target rows:\n%v\nwant\n%v", got, want)
	}
	got := quarantine(t, w, "run-1", "native")
	if len(got) != 2 {
		t.Fatalf("set aside %v, want rows 3 and 5", got)
	}
	for i, line := range []int64{3, 5} {
		g := got[i]
		if g.Line != line || !strings.Contains(g.Reason, "price") || !strings.Contains(g.Raw, fmt.Sprintf("row-0%d", line)) {
			t.Errorf("set aside %s, want line %d, a reason naming price, the row", g, line)
		}
	}
	if !strings.Contains(got[0].Reason, "1.234") {
		t.Errorf("reason %q does not quote 1.234", got[0].Reason)
	}
}

// loadNullTokens reads a column's null tokens (ColumnParse.NullTokens,
// trimmed and in any case) as NULL in every format; other values that do
// not convert are still set aside.
func (s *suite) loadNullTokens(t *testing.T, f format.Format) {
	w := s.fresh(t)
	sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "qty", "type": "INT64"}, {"name": "day", "type": "DATE"}]`)
	recs := [][3]string{{"1", "N/A", "-"}, {"2", " n/a ", "2026-01-02"}, {"3", "x", "2026-01-03"}, {"4", "7", "-"}}
	dir := t.TempDir()
	var path string
	switch f {
	case format.CSV:
		b := "id,qty,day\n"
		for _, r := range recs {
			b += strings.Join(r[:], ",") + "\n"
		}
		path = writeFile(t, dir, "n.csv", []byte(b))
	case format.JSONL:
		var b string
		for _, r := range recs {
			b += fmt.Sprintf(`{"id": %s, "qty": %q, "day": %q}`+"\n", r[0], r[1], r[2])
		}
		path = writeFile(t, dir, "n.jsonl", []byte(b))
	case format.Parquet:
		type row struct {
			ID  int64  `parquet:"id"`
			Qty string `parquet:"qty"`
			Day string `parquet:"day"`
		}
		var rows []row
		for _, r := range recs {
			var id int64
			fmt.Sscan(r[0], &id)
			rows = append(rows, row{id, r[1], r[2]})
		}
		path = writeFile(t, dir, "n.parquet", writeParquet(t, rows))
	}
	st := stage(t, w, warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: filepath.Base(path), Path: path, Format: f, Schema: sch,
		Parse: map[string]warehouse.ColumnParse{"qty": {NullTokens: []string{"N/A", "-"}}, "day": {NullTokens: []string{"-"}}}})
	if st.Loaded != 3 || st.Quarantined != 1 {
		t.Fatalf("staged %d, set aside %d; want 3 and 1 (the qty x)", st.Loaded, st.Quarantined)
	}
	appendTo(t, w, "run-1", "p", "t", st)
	if got := lines(t, w, "SELECT {id}, {qty}, {day} FROM {t} ORDER BY {id}"); strings.Join(got, ",") != "1|NULL|NULL,2|NULL|2026-01-02,4|7|NULL" {
		t.Errorf("target rows %v", got)
	}
	if got := quarantine(t, w, "run-1", "t"); len(got) != 1 || got[0].Line != 3+lineOffset(f) || !strings.Contains(got[0].Reason, "qty") {
		t.Errorf("set aside %v, want record 3 for qty", got)
	}
}

// lineOffset is what a format adds to a record's number to make its
// line: the CSV header.
func lineOffset(f format.Format) int64 {
	if f == format.CSV {
		return 1
	}
	return 0
}

// loadNoGoodRows stages an object all of whose records are set aside: its
// staging still has the schema's columns, and its commit makes the target.
func (s *suite) loadNoGoodRows(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "amount", "type": "FLOAT64"}]`)
	path := writeFile(t, t.TempDir(), "bad.jsonl", []byte(`{"id": 1, "amount": "lots"}`+"\n"+`{"id": 2,`+"\n"))
	st := stage(t, w, warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: "bad.jsonl", Path: path, Format: format.JSONL, Schema: sch})
	if st.Loaded != 0 || st.Quarantined != 2 || strings.Join(columnNames(st), ",") != "id,amount" {
		t.Fatalf("staged %d, set aside %d, columns %v; want 0, 2, [id amount]", st.Loaded, st.Quarantined, columnNames(st))
	}
	appendTo(t, w, "run-1", "p", "t", st)
	if n := count(t, w, "t"); n != 0 || !targetExists(t, w, "t") {
		t.Errorf("target holds %d rows (exists: %v), want an empty table", n, targetExists(t, w, "t"))
	}
	if got := quarantine(t, w, "run-1", "t"); len(got) != 2 || got[0].Line != 1 || got[1].Line != 2 {
		t.Errorf("set aside %v, want lines 1 and 2", got)
	}
}

// loadHeaderOnly stages a CSV file with a header and no record.
func (s *suite) loadHeaderOnly(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, `[{"name": "id", "type": "INT64"}, {"name": "name", "type": "STRING"}]`)
	path := writeFile(t, t.TempDir(), "empty.csv", []byte("id,name\n"))
	st := stage(t, w, warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: "empty.csv", Path: path, Format: format.CSV, Schema: sch})
	if in := rowsIn(t, path, format.CSV, format.None, "", true, sch); st.Loaded != 0 || st.Quarantined != 0 || in != 0 {
		t.Fatalf("rows in %d, staged %d, set aside %d; want 0", in, st.Loaded, st.Quarantined)
	}
	appendTo(t, w, "run-1", "p", "t", st)
	if n := count(t, w, "t"); n != 0 {
		t.Errorf("target holds %d rows", n)
	}
}

// loadNoSchema stages objects without a schema: a new target's columns
// are inferred from the data, and once it exists its columns are the
// schema (a value that does not convert to them is set aside).
func (s *suite) loadNoSchema(t *testing.T) {
	w := s.fresh(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		f    format.Format
		data string
	}{
		{"a.jsonl", format.JSONL, `{"id": 1, "name": "a", "amount": 1.5}` + "\n" + `{"id": 2, "name": "b", "amount": 2}` + "\n"},
		{"b.csv", format.CSV, "id,name,amount\n1,a,1.5\n2,b,2.25\n"},
	} {
		target := strings.TrimSuffix(c.name, filepath.Ext(c.name))
		path := writeFile(t, dir, c.name, []byte(c.data))
		st := stage(t, w, warehouse.LoadSpec{RunID: "run-1", Pipeline: target, Target: target, ObjectKey: c.name, Path: path, Format: c.f})
		if st.Loaded != 2 || st.Quarantined != 0 {
			t.Fatalf("%s: staged %d, set aside %d", c.name, st.Loaded, st.Quarantined)
		}
		appendTo(t, w, "run-1", target, target, st)
		sch, err := w.TargetSchema(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range sch {
			got = append(got, f.Name+" "+f.Type)
		}
		if strings.Join(got, ", ") != "id INT64, name STRING, amount FLOAT64" {
			t.Errorf("%s: inferred %v, want id INT64, name STRING, amount FLOAT64", c.name, got)
		}
	}
	// The next object of the JSON target has no schema either: the
	// target's columns are its schema.
	path := writeFile(t, dir, "c.jsonl", []byte(`{"id": "three", "name": "c", "amount": 3}`+"\n"+`{"id": 4, "name": "d", "amount": 4, "color": "red"}`+"\n"))
	st := stage(t, w, warehouse.LoadSpec{RunID: "run-2", Pipeline: "a", Target: "a", ObjectKey: "c.jsonl", Path: path, Format: format.JSONL})
	if st.Loaded != 1 || st.Quarantined != 1 || len(st.Extra) != 1 || st.Extra[0].Name != "color" {
		t.Fatalf("staged %d, set aside %d, extra %v; want 1, 1 (id three) and color", st.Loaded, st.Quarantined, st.Extra)
	}
	appendTo(t, w, "run-2", "a", "a", st)
	if got := quarantine(t, w, "run-2", "a"); len(got) != 1 || !strings.Contains(got[0].Reason, "id") || !strings.Contains(got[0].Reason, "three") {
		t.Errorf("set aside %v, want the row whose id is three", got)
	}
	if got := lines(t, w, "SELECT {id}, {name} FROM {a} ORDER BY {id}"); strings.Join(got, ",") != "1|a,2|b,4|d" {
		t.Errorf("target rows %v", got)
	}
}

// loadTimeInDate stages timestamps into a DATE column: the time of day
// does not fit, so the rows are set aside (for widen_type to read the
// column as DATETIME), never loaded without their time.
func (s *suite) loadTimeInDate(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, {"name": "day", "type": "DATE"}]`)
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		f    format.Format
		data string
	}{
		{"d.csv", format.CSV, "id,day\n1,2026-01-02\n2,2026-01-02 10:30:00\n3,2026-01-02T10:30:00Z\n"},
		{"d.jsonl", format.JSONL, `{"id": 1, "day": "2026-01-02"}` + "\n" + `{"id": 2, "day": "2026-01-02 10:30:00"}` + "\n" + `{"id": 3, "day": "2026-01-02T10:30:00Z"}` + "\n"},
	} {
		path := writeFile(t, dir, c.name, []byte(c.data))
		st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: c.name, Path: path, Format: c.f, Schema: sch})
		if st.Loaded != 1 || st.Quarantined != 2 {
			t.Errorf("%s: staged %d, set aside %d; want 1 and 2 (a time of day is not a DATE): staged %v", c.name, st.Loaded, st.Quarantined,
				lines(t, w, "SELECT {id}, {day} FROM {"+st.Table+"} ORDER BY {id}"))
		}
		discard(t, w, st)
	}
}

// loadUnnamedCells reads header cells without a name as pandas names
// them ("Unnamed: N"), and leaves out trailing columns with no name and
// no value (Excel's "a,b,,,").
func (s *suite) loadUnnamedCells(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, simpleSchema)
	for i, c := range []struct {
		data, extra, rows string
	}{
		{"id,name,amount,,,\n1,a,1.5,,,\n2,b,2.5,,,\n", "", "1|a|1.5,2|b|2.5"},
		{"id,name,amount,,,\r\n1,a,1.5\r\n2,b,2.5\r\n", "", "1|a|1.5,2|b|2.5"},
		{"\"\",id,name,amount\n\"r1\",1,a,1.5\n\"r2\",2,b,2.5\n", "Unnamed: 0", "1|a|1.5,2|b|2.5"},
		{"id,,name,amount\n1,x,a,1.5\n2,,b,2.5\n", "Unnamed: 1", "1|a|1.5,2|b|2.5"},
	} {
		path := writeFile(t, t.TempDir(), "u.csv", []byte(c.data))
		target := fmt.Sprintf("t%d", i)
		st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: target, Target: target, ObjectKey: "u.csv", Path: path, Format: format.CSV, Schema: sch})
		var extra []string
		for _, f := range st.Extra {
			extra = append(extra, f.Name)
		}
		in := rowsIn(t, path, format.CSV, format.None, "", true, sch)
		if st.Loaded+st.Quarantined != in || strings.Join(extra, ",") != c.extra || len(st.Drift) == 0 {
			t.Errorf("%q: rows in %d, staged %d, set aside %d, extra %v, drift %v; want extra %q and the drift said",
				c.data, in, st.Loaded, st.Quarantined, extra, st.Drift, c.extra)
		}
		appendTo(t, w, "r1", target, target, st)
		if got := rowsOf(t, w, target); got != c.rows {
			t.Errorf("%q: target %s, want %s", c.data, got, c.rows)
		}
	}
}

// loadWrongDelimiter reads a file whose declared delimiter names none of
// the schema's columns with the one other delimiter that does, and says
// so in the drift.
func (s *suite) loadWrongDelimiter(t *testing.T) {
	w := s.fresh(t)
	sch := mustSchema(t, simpleSchema)
	path := writeFile(t, t.TempDir(), "s.csv", []byte("id;name;amount\n1;a,b;1.5\n2;c;2\n"))
	st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "s.csv", Path: path, Format: format.CSV, Schema: sch,
		CSV: warehouse.CSVOptions{Delimiter: ","}})
	if in := rowsIn(t, path, format.CSV, format.None, ",", true, sch); st.Loaded != 2 || in != 2 || len(st.Drift) == 0 {
		t.Fatalf("rows in %d, staged %d, drift %v", in, st.Loaded, st.Drift)
	}
	appendTo(t, w, "r1", "p", "t", st)
	if got := rowsOf(t, w, "t"); got != "1|a,b|1.5,2|c|2" {
		t.Errorf("target %s", got)
	}
}

// loadDuplicateHeader refuses a CSV file whose header names a column
// twice, naming the file.
func (s *suite) loadDuplicateHeader(t *testing.T) {
	w := s.fresh(t)
	path := writeFile(t, t.TempDir(), "dup.csv", []byte("id,name,id\n1,a,2\n"))
	for _, sch := range []string{simpleSchema, ""} {
		spec := warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "dup.csv", Path: path, Format: format.CSV}
		if sch != "" {
			spec.Schema = mustSchema(t, sch)
		}
		if _, err := w.Stage(ctx, spec); err == nil || !strings.Contains(err.Error(), "dup.csv") || !strings.Contains(err.Error(), "id") {
			t.Errorf("schema %v: %v, want an error naming the file and the column", spec.Schema != nil, err)
		}
	}
}

// conversionCases list, for every declared type, values that load (good)
// and non-empty values that do not convert (bad): a bad value is set
// aside with its reason, never loaded as NULL.
var conversionCases = []struct {
	typ, field string // the case's name, the schema field
	good, bad  []string
}{
	{"INT64", `{"name": "v", "type": "INT64"}`, []string{"42", "-7", "0", "9223372036854775807"},
		[]string{"1.5", "abc", "9223372036854775808", "12:30", "yesterday", "0x1G"}},
	{"NUMERIC", `{"name": "v", "type": "NUMERIC"}`, []string{"1.25", "-3", "0.000000001", "1.2500000000000", "1e2"},
		[]string{"abc", "1.2.3", "NaN?", "12:30", "1e400", "1.0000000001", "1e-20"}},
	{"NUMERIC(12,2)", `{"name": "v", "type": "NUMERIC", "precision": "12", "scale": "2"}`, []string{"1.25", "-3", "1.230", "12e1", "0.5"},
		[]string{"1.234", "1e-20", "0.001", "12345678901.5", "abc"}},
	{"BIGNUMERIC", `{"name": "v", "type": "BIGNUMERIC"}`, []string{"1.25", "123456789012345678.5"}, []string{"abc", "--1", "two"}},
	{"FLOAT64", `{"name": "v", "type": "FLOAT64"}`, []string{"1.5", "-2e10", "inf", "-Infinity", "NaN"},
		[]string{"abc", "1e400", "-1e999", "1,5,6", "12:30"}},
	{"BOOL", `{"name": "v", "type": "BOOL"}`, []string{"true", "false"}, []string{"maybe", "2", "yesno", "truthy"}},
	{"DATE", `{"name": "v", "type": "DATE"}`, []string{"2026-01-02", "Jan 05 2026"}, []string{"2026-13-45", "yesterday", "1700000000", "32/01/2026", "2026-02-30"}},
	{"DATETIME", `{"name": "v", "type": "DATETIME"}`, []string{"2026-01-02 03:04:05", "2026-01-02T03:04:05"},
		[]string{"2026-01-02 25:00:00", "1700000000", "1700000000000", "noon", "2026-02-30 00:00:00"}},
	{"TIME", `{"name": "v", "type": "TIME"}`, []string{"03:04:05", "23:59:59.5"}, []string{"25:61:00", "noon", "12:99", "1700000000"}},
	{"TIMESTAMP", `{"name": "v", "type": "TIMESTAMP"}`, []string{"2026-01-02T03:04:05Z", "2026-01-02 03:04:05+02", "2026-01-02 03:04:05"},
		[]string{"1700000000", "1700000000000", "yesterday noon", "2026-02-30T00:00:00Z", "2026-01-02 03:04:05 Mars/Olympus"}},
	{"JSON", `{"name": "v", "type": "JSON"}`, []string{`{"a": 1}`, `[1, 2]`, `"text"`, `3`}, []string{`{bad`, `[1,`, `tru`, `{"a": }`}},
	{"BYTES", `{"name": "v", "type": "BYTES"}`, []string{"abc", `\x41\x42`}, []string{`\xZZ`, `\x4`}},
	{"STRING", `{"name": "v", "type": "STRING"}`, []string{"text", "Ünïcode ✓", "1.5", "  spaced  "}, nil},
}

// loadConversions stages id/v records holding each value as text, as a
// feed sends it, in every format: each good value loads (not NULL), each
// bad one is set aside with a reason naming the column.
func (s *suite) loadConversions(t *testing.T, typ, field string, good, bad []string) {
	w := s.fresh(t)
	sch := mustSchema(t, `[{"name": "id", "type": "INT64", "mode": "REQUIRED"}, `+field+`]`)
	vals := append(append([]string{}, good...), bad...)
	dir := t.TempDir()
	for _, f := range []format.Format{format.CSV, format.JSONL, format.JSON, format.Parquet} {
		var data []byte
		switch f {
		case format.CSV:
			b := "id,v\n"
			for i, v := range vals {
				b += fmt.Sprintf("%d,\"%s\"\n", i+1, strings.ReplaceAll(v, `"`, `""`))
			}
			data = []byte(b)
		case format.JSONL, format.JSON:
			var recs []string
			for i, v := range vals {
				js, _ := json.Marshal(v)
				recs = append(recs, fmt.Sprintf(`{"id": %d, "v": %s}`, i+1, js))
			}
			if f == format.JSON {
				data = []byte("[" + strings.Join(recs, ",\n") + "]\n")
			} else {
				data = []byte(strings.Join(recs, "\n") + "\n")
			}
		case format.Parquet:
			type row struct {
				ID int64  `parquet:"id"`
				V  string `parquet:"v"`
			}
			var rows []row
			for i, v := range vals {
				rows = append(rows, row{int64(i + 1), v})
			}
			data = writeParquet(t, rows)
		}
		target := "t_" + string(f)
		path := writeFile(t, dir, "v."+string(f), data)
		st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: target, Target: target, ObjectKey: "v." + string(f), Path: path, Format: f, Schema: sch})
		appendTo(t, w, "r1", target, target, st)
		loaded := map[string]bool{}
		for _, r := range query(t, w, "SELECT {id}, CASE WHEN {v} IS NULL THEN 'NULL' ELSE 'value' END FROM {"+target+"}") {
			loaded[r[0]] = true
			if r[1] == "NULL" {
				t.Errorf("%s: %q loaded as NULL", f, vals[idOf(r)-1])
			}
		}
		aside := map[string]bool{}
		for _, r := range quarantine(t, w, "r1", target) {
			if !strings.Contains(r.Reason, "v") {
				t.Errorf("%s: reason %q does not name the column", f, r.Reason)
			}
			for i := range vals {
				id := fmt.Sprint(i + 1)
				for _, form := range []string{`"id":` + id + `,`, `"id":"` + id + `"`, `"id": ` + id + `,`, id + ","} {
					if strings.HasPrefix(r.Raw, form) || strings.Contains(r.Raw, "{"+form) {
						aside[id] = true
					}
				}
			}
		}
		for i, v := range vals {
			id := fmt.Sprint(i + 1)
			switch {
			case i < len(good) && !loaded[id]:
				t.Errorf("%s: %q did not load", f, v)
			case i >= len(good) && loaded[id]:
				t.Errorf("%s: %q loaded", f, v)
			case i >= len(good) && !aside[id]:
				t.Errorf("%s: %q is neither loaded nor set aside", f, v)
			}
		}
		if st.Loaded != int64(len(good)) || st.Quarantined != int64(len(bad)) {
			t.Errorf("%s: staged %d, set aside %d; want %d and %d", f, st.Loaded, st.Quarantined, len(good), len(bad))
		}
	}
}
