package postgres

// This file checks the PostgreSQL warehouse against shp's DuckDB
// warehouse, value for value: the same objects staged in both must load
// the same values and set aside the same rows, with the same line,
// reason and raw text. It links DuckDB (cgo), which takes a while to
// build.

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// outcome is what a warehouse made of one object.
type outcome struct {
	loaded, quarantined int64
	columns             []string          // name and type family
	drift               []string          // the drift notes
	values              map[string]string // id -> the value's text (DuckDB's VARCHAR), "NULL"
	rows                [][]string        // every staged row's values, in file order
	setAside            map[string]string // id (or line) -> "line | reason | raw"
}

func openDuck(t *testing.T) *duckdb.Warehouse {
	t.Helper()
	dir := t.TempDir()
	d, err := duckdb.Open(context.Background(), warehouse.Options{TempDir: dir, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// family names a column type the same way in both warehouses.
func family(typ string) string {
	switch t := strings.ToUpper(typ); t {
	case "DOUBLE", "DOUBLE PRECISION":
		return "DOUBLE"
	case "BLOB", "BYTEA":
		return "BYTES"
	case "JSON", "JSONB":
		return "JSON"
	case "TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ":
		return "TIMESTAMPTZ"
	// types PostgreSQL lacks, and their PostgreSQL column
	case "FLOAT", "REAL":
		return "REAL"
	case "TINYINT", "UTINYINT":
		return "SMALLINT"
	case "USMALLINT":
		return "INTEGER"
	case "UINTEGER":
		return "BIGINT"
	case "UBIGINT":
		return "DECIMAL(20,0)"
	case "UUID":
		return "VARCHAR"
	default:
		return t
	}
}

// idOf finds the row's id in a quarantined raw text.
func idOf(raw string) string {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) == nil {
		if v, ok := m["id"]; ok {
			return fmt.Sprint(v)
		}
	}
	id, _, _ := strings.Cut(raw, ",")
	return id
}

func duckOutcome(t *testing.T, d *duckdb.Warehouse, sp warehouse.LoadSpec) (*outcome, error) {
	t.Helper()
	ctx := context.Background()
	st, err := d.Stage(ctx, sp)
	if err != nil {
		return nil, err
	}
	defer d.Discard(ctx, st)
	o := &outcome{loaded: st.Loaded, quarantined: st.Quarantined, drift: st.Drift, values: map[string]string{}, setAside: map[string]string{}}
	for _, c := range st.Columns {
		o.columns = append(o.columns, c.Name+" "+family(c.Type))
	}
	if hasColumn(st, "v") && hasColumn(st, "id") {
		rows, err := d.RunQuery(ctx, fmt.Sprintf(`SELECT CAST(id AS VARCHAR), coalesce(CAST(v AS VARCHAR), 'NULL'), typeof(v) FROM %q`, st.Table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var id, v, typ string
			if err := rows.Scan(&id, &v, &typ); err != nil {
				t.Fatal(err)
			}
			o.values[id] = v
		}
		rows.Close()
	}
	if len(st.Columns) > 0 {
		var sel []string
		for _, c := range st.Columns {
			sel = append(sel, fmt.Sprintf("coalesce(CAST(%q AS VARCHAR), 'NULL')", c.Name))
		}
		rows, err := d.RunQuery(ctx, fmt.Sprintf(`SELECT concat_ws(chr(1), %s) FROM %q ORDER BY rowid`, strings.Join(sel, ", "), st.Table))
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			o.rows = append(o.rows, strings.Split(r, "\x01"))
		}
		rows.Close()
	}
	rows, err := d.RunQuery(ctx, fmt.Sprintf(`SELECT coalesce(CAST(line AS VARCHAR), 'NULL'), reason, coalesce(raw, 'NULL') FROM %q`, st.Table+"_q"))
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var line, reason, raw string
		if err := rows.Scan(&line, &reason, &raw); err != nil {
			t.Fatal(err)
		}
		o.setAside[line+"/"+idOf(raw)] = line + " | " + reason + " | " + raw
	}
	rows.Close()
	return o, nil
}

func hasColumn(st *warehouse.Staged, name string) bool {
	for _, c := range st.Columns {
		if c.Name == name {
			return true
		}
	}
	return false
}

// pgText renders a PostgreSQL value as DuckDB's VARCHAR of it.
func pgText(typ colType, s string) string {
	switch typ.kind {
	case kFloat64, kFloat32:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return "?" + s
		}
		if typ.kind == kFloat32 {
			return string(appendDuckFloat32(nil, float32(f)))
		}
		return string(appendDuckDouble(nil, f))
	case kDate, kTimestamp, kTimestamptz:
		if rest, bc := strings.CutSuffix(s, " BC"); bc {
			date, tm, _ := strings.Cut(rest, " ")
			if tm == "" {
				return date + " (BC)"
			}
			return date + " (BC) " + tm
		}
		return s
	case kBytes:
		b, err := hex.DecodeString(strings.TrimPrefix(s, `\x`))
		if err != nil {
			return "?" + s
		}
		return string(appendDuckBlob(nil, string(b)))
	}
	return s
}

func pgOutcome(t *testing.T, w *Warehouse, sp warehouse.LoadSpec) (*outcome, error) {
	t.Helper()
	ctx := context.Background()
	st, err := w.Stage(ctx, sp)
	if err != nil {
		return nil, err
	}
	defer w.Discard(ctx, st)
	o := &outcome{loaded: st.Loaded, quarantined: st.Quarantined, drift: st.Drift, values: map[string]string{}, setAside: map[string]string{}}
	var vt colType
	for _, c := range st.Columns {
		o.columns = append(o.columns, c.Name+" "+family(c.Type))
		if c.Name == "v" {
			vt = parseType(c.Type)
		}
	}
	if hasColumn(st, "v") && hasColumn(st, "id") {
		for _, r := range queryStrings(t, w, fmt.Sprintf(`SELECT id::text || '|' || coalesce(v::text, 'NULL') FROM %s`, w.staging(st.Table))) {
			id, v, _ := strings.Cut(r, "|")
			if v != "NULL" {
				v = pgText(vt, v)
			}
			o.values[id] = v
		}
	}
	if len(st.Columns) > 0 {
		var sel []string
		for _, c := range st.Columns {
			sel = append(sel, fmt.Sprintf("coalesce(%s::text, 'NULL')", ident(c.Name)))
		}
		for _, r := range queryStrings(t, w, fmt.Sprintf(`SELECT concat_ws(chr(1), VARIADIC ARRAY[%s]) FROM %s ORDER BY %s`, strings.Join(sel, ", "), w.staging(st.Table), ident(rowCol))) {
			vals := strings.Split(r, "\x01")
			for i, c := range st.Columns {
				if i < len(vals) && vals[i] != "NULL" {
					vals[i] = pgText(parseType(c.Type), vals[i])
				}
			}
			o.rows = append(o.rows, vals)
		}
	}
	for _, r := range queryStrings(t, w, fmt.Sprintf(`SELECT coalesce(line::text, 'NULL') || E'\x01' || reason || E'\x01' || coalesce(raw, 'NULL') FROM %s`, w.staging(st.Table+"_q"))) {
		parts := strings.SplitN(r, "\x01", 3)
		o.setAside[parts[0]+"/"+idOf(parts[2])] = strings.Join(parts, " | ")
	}
	return o, nil
}

// sameValue compares two values' texts: JSON as JSON (numbers by value),
// the rest as text. PostgreSQL keeps no sign of a NaN.
func sameValue(typ string, a, b string) bool {
	if a == b || a == "-nan" && b == "nan" {
		return true
	}
	if family(typ) == "JSON" {
		return sameJSONValue(a, b)
	}
	return false
}

// sameJSONValue compares two JSON texts as values; DuckDB's may have
// trailing commas, which PostgreSQL's jsonb drops.
func sameJSONValue(a, b string) bool {
	norm, err := rewriteJSON(nil, a, stylePG, true)
	if err != nil {
		return false
	}
	decode := func(s string) (any, bool) {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		return v, d.Decode(&v) == nil
	}
	x, ok1 := decode(string(norm))
	y, ok2 := decode(b)
	return ok1 && ok2 && jsonEqual(x, y)
}

func jsonEqual(x, y any) bool {
	switch a := x.(type) {
	case json.Number:
		b, ok := y.(json.Number)
		if !ok {
			return false
		}
		fa, _, err1 := big.ParseFloat(string(a), 10, 4096, big.ToNearestEven)
		fb, _, err2 := big.ParseFloat(string(b), 10, 4096, big.ToNearestEven)
		return err1 == nil && err2 == nil && fa.Cmp(fb) == 0
	case map[string]any:
		b, ok := y.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, v := range a {
			if !jsonEqual(v, b[k]) {
				return false
			}
		}
		return true
	case []any:
		b, ok := y.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(x, y)
}

// compareOutcomes reports every difference between DuckDB's outcome and
// PostgreSQL's; rows PostgreSQL cannot hold (a reason of its own) are
// allowed to differ.
func compareOutcomes(t *testing.T, typ string, duck, pg *outcome) {
	t.Helper()
	pgOnly := 0
	for k, r := range pg.setAside {
		if _, ok := duck.setAside[k]; !ok && strings.Contains(r, "PostgreSQL") {
			pgOnly++
			delete(pg.setAside, k)
			_, id, _ := strings.Cut(k, "/")
			delete(duck.values, id)
		}
	}
	if duck.loaded-int64(pgOnly) != pg.loaded || duck.quarantined+int64(pgOnly) != pg.quarantined {
		t.Errorf("loaded/quarantined: DuckDB %d/%d, PostgreSQL %d/%d (%d set aside for PostgreSQL's sake)", duck.loaded, duck.quarantined, pg.loaded, pg.quarantined, pgOnly)
	}
	if strings.Join(duck.columns, ", ") != strings.Join(pg.columns, ", ") {
		t.Errorf("columns: DuckDB %v, PostgreSQL %v", duck.columns, pg.columns)
	}
	if strings.Join(duck.drift, "\n") != strings.Join(pg.drift, "\n") {
		t.Errorf("drift: DuckDB %q, PostgreSQL %q", duck.drift, pg.drift)
	}
	if len(duck.values) == 0 && pgOnly == 0 {
		// whole files: compare every row
		if len(duck.rows) != len(pg.rows) {
			t.Errorf("rows: DuckDB %d, PostgreSQL %d", len(duck.rows), len(pg.rows))
		}
		for i := 0; i < len(duck.rows) && i < len(pg.rows); i++ {
			for j := range duck.rows[i] {
				typ := ""
				if j < len(duck.columns) {
					_, typ, _ = strings.Cut(duck.columns[j], " ")
				}
				if j >= len(pg.rows[i]) || !sameValue(typ, duck.rows[i][j], pg.rows[i][j]) {
					t.Errorf("row %d: DuckDB %q, PostgreSQL %q", i, duck.rows[i], pg.rows[i])
					break
				}
			}
		}
	}
	var ids []string
	for id := range duck.values {
		ids = append(ids, id)
	}
	for id := range pg.values {
		if _, ok := duck.values[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		a, inDuck := duck.values[id]
		b, inPG := pg.values[id]
		switch {
		case !inDuck:
			t.Errorf("id %s: PostgreSQL loads %q, DuckDB sets it aside", id, b)
		case !inPG:
			t.Errorf("id %s: DuckDB loads %q, PostgreSQL sets it aside", id, a)
		case !sameValue(typ, a, b):
			t.Errorf("id %s: DuckDB loads %q, PostgreSQL %q", id, a, b)
		}
	}
	var keys []string
	for k := range duck.setAside {
		keys = append(keys, k)
	}
	for k := range pg.setAside {
		if _, ok := duck.setAside[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		a, b := duck.setAside[k], pg.setAside[k]
		// DuckDB's CSV reader names the JSON type now 'JSON', now
		// 'VARCHAR' (as for "+42"); PostgreSQL's always 'VARCHAR'.
		if strings.Contains(a, "Error when converting column") {
			a = strings.Replace(a, "to 'JSON' | ", "to 'VARCHAR' | ", 1)
		}
		if a != b && !sameRaw(a, b) {
			t.Errorf("set aside %s:\n  DuckDB     %q\n  PostgreSQL %q", k, a, b)
		}
	}
}

// sameRaw compares two quarantined rows whose raw JSON may spell the
// same values differently.
func sameRaw(a, b string) bool {
	pa, pb := strings.SplitN(a, " | ", 3), strings.SplitN(b, " | ", 3)
	if len(pa) != 3 || len(pb) != 3 || pa[0] != pb[0] || pa[1] != pb[1] {
		return false
	}
	var x, y any
	return json.Unmarshal([]byte(pa[2]), &x) == nil && json.Unmarshal([]byte(pb[2]), &y) == nil && reflect.DeepEqual(x, y)
}

// conversionTypes are the declared types the equivalence covers.
var conversionTypes = []string{"INT64", "FLOAT64", "NUMERIC", "NUMERIC(12,2)", "BIGNUMERIC", "BOOL", "DATE", "DATETIME", "TIMESTAMP", "TIME", "BYTES", "JSON", "STRING"}

// jsonValues are raw JSON values (not strings) for the JSON formats.
var jsonValues = []string{"1.50", "1e2", "12345678901234567890123", "true", "false", "null", `{"b": 1, "a" : [1, 2.50]}`, "[ 1,2 ]",
	"-0", "1E+2", "0.1000000000000000055511151231257827", `""`, "1e400", "1e16", "1e15", "1e-5", "0.0001", "-0.0", "42", "9223372036854775808",
	`{"k":"\u00e9\n\t\"x"}`, `"2026-01-02"`, `"03:04:05"`, `"  7 "`, `"\u65e5\u672c"`}

func writeValues(t *testing.T, d *duckdb.Warehouse, dir, name string, f format.Format, vals []string, raw bool) string {
	t.Helper()
	p := filepath.Join(dir, name+"."+string(f))
	var b strings.Builder
	switch f {
	case format.CSV:
		b.WriteString("id,v\n")
		for i, v := range vals {
			fmt.Fprintf(&b, "%d,\"%s\"\n", i+1, strings.ReplaceAll(v, `"`, `""`))
		}
		fmt.Fprintf(&b, "%d,\n", len(vals)+1) // NULL
	case format.JSONL, format.JSON:
		var recs []string
		for i, v := range vals {
			s := v
			if !raw {
				j, _ := json.Marshal(v)
				s = string(j)
			}
			recs = append(recs, fmt.Sprintf(`{"id": %d, "v": %s}`, i+1, s))
		}
		recs = append(recs, fmt.Sprintf(`{"id": %d, "v": null}`, len(vals)+1), fmt.Sprintf(`{"id": %d}`, len(vals)+2))
		if f == format.JSON {
			b.WriteString("[" + strings.Join(recs, ",\n") + "]\n")
		} else {
			b.WriteString(strings.Join(recs, "\n") + "\n")
		}
	case format.Parquet:
		var sel []string
		for i, v := range vals {
			sel = append(sel, fmt.Sprintf("SELECT %d AS id, '%s' AS v", i+1, strings.ReplaceAll(v, "'", "''")))
		}
		sel = append(sel, fmt.Sprintf("SELECT %d AS id, NULL AS v", len(vals)+1))
		if _, err := d.DB().ExecContext(context.Background(), fmt.Sprintf("COPY (%s ORDER BY id) TO '%s' (FORMAT parquet)", strings.Join(sel, " UNION ALL "), p)); err != nil {
			t.Fatal(err)
		}
		return p
	}
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func loadCorpus(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("testdata/corpus.json")
	if err != nil {
		t.Fatal(err)
	}
	var c []string
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	// Values with a NUL, or that DuckDB's VARCHAR cannot hold, are not in
	// the corpus; time zone names go last (DuckDB's ICU keeps a zone a
	// row named for the rows after it in the same vector).
	return c
}

func conversionSpec(p string, f format.Format, typ string) warehouse.LoadSpec {
	sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, fieldOf(typ)}
	return warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: filepath.Base(p),
		Fingerprint: "fp", Path: p, Format: f, Schema: sch}
}

// TestConversionsMatchDuckDB stages every value of the corpus (good,
// bad, NULL, Unicode), in every declared type and every format, in both
// warehouses, and checks they load the same values and set aside the
// same rows for the same reasons.
func TestConversionsMatchDuckDB(t *testing.T) {
	w := open(t)
	d := openDuck(t)
	corpus := loadCorpus(t)
	dir := t.TempDir()
	files := map[format.Format]string{}
	for _, f := range []format.Format{format.CSV, format.JSONL, format.JSON, format.Parquet} {
		files[f] = writeValues(t, d, dir, "corpus", f, corpus, false)
	}
	rawFiles := map[format.Format]string{}
	for _, f := range []format.Format{format.JSONL, format.JSON} {
		rawFiles[f] = writeValues(t, d, dir, "raw", f, jsonValues, true)
	}
	for _, typ := range conversionTypes {
		for _, f := range []format.Format{format.CSV, format.JSONL, format.JSON, format.Parquet} {
			t.Run(typ+"/"+string(f), func(t *testing.T) {
				check(t, w, d, typ, conversionSpec(files[f], f, typ))
				if p, ok := rawFiles[f]; ok {
					check(t, w, d, typ, conversionSpec(p, f, typ))
				}
			})
		}
	}
	for _, typ := range []string{"DATE", "DATETIME", "TIMESTAMP"} {
		t.Run(typ+"/month first", func(t *testing.T) {
			sp := conversionSpec(files[format.CSV], format.CSV, typ)
			sp.MonthFirst = true
			check(t, w, d, typ, sp)
		})
	}
}

func check(t *testing.T, w *Warehouse, d *duckdb.Warehouse, typ string, sp warehouse.LoadSpec) {
	t.Helper()
	duck, derr := duckOutcome(t, d, sp)
	pg, perr := pgOutcome(t, w, sp)
	if (derr == nil) != (perr == nil) {
		t.Fatalf("DuckDB: %v, PostgreSQL: %v", derr, perr)
	}
	if derr != nil {
		return
	}
	compareOutcomes(t, typ, duck, pg)
}

// TestParseRulesMatchDuckDB: a repair's ways of reading a column (null
// tokens, decimal commas, thousands separators, date layouts, epoch
// units) read the same values in both warehouses.
func TestParseRulesMatchDuckDB(t *testing.T) {
	w := open(t)
	d := openDuck(t)
	dir := t.TempDir()
	cases := []struct {
		name  string
		typ   string
		parse warehouse.ColumnParse
		vals  []string
	}{
		{"null tokens", "INT64", warehouse.ColumnParse{NullTokens: []string{"NA", " n/a ", "-"}}, []string{"1", "NA", "na", " N/A ", "-", "--", "x", ""}},
		{"decimal comma", "FLOAT64", warehouse.ColumnParse{DecimalComma: true}, []string{"1,5", "1.234,25", "1.234.567,5", "2", "1,2,3", "abc", " 3,5 ", "-0,5", "1e3"}},
		{"decimal comma into numeric", "NUMERIC(12,2)", warehouse.ColumnParse{DecimalComma: true}, []string{"1,5", "1.234,255", "1.234.567,5", "2"}},
		{"thousands", "INT64", warehouse.ColumnParse{Thousands: ","}, []string{"1,234", "1,234,567", "1234", "1,234.5", "1,23", "x,1"}},
		{"thousands into numeric", "NUMERIC", warehouse.ColumnParse{Thousands: ","}, []string{"1,234.5", "12,345,678.123456789", "1.5"}},
		{"day-first layouts", "DATE", warehouse.ColumnParse{Layouts: []string{"%d/%m/%Y"}}, []string{"28/12/2025", "01/02/2026", "2026-01-02", "12/28/2025", "31/02/2026", "1/2/2026"}},
		{"layouts with times", "DATETIME", warehouse.ColumnParse{Layouts: []string{"%d/%m/%Y %H:%M", "%d.%m.%Y %I:%M %p"}}, []string{"28/12/2025 13:45", "28.12.2025 01:45 PM", "28.12.2025 12:00 am", "2026-01-02T03:04:05", "28/12/2025"}},
		{"layouts with zones", "TIMESTAMP", warehouse.ColumnParse{Layouts: []string{"%d/%m/%Y %H:%M %z"}}, []string{"28/12/2025 13:45 +0200", "28/12/2025 13:45 -05:30", "2026-01-02 03:04:05+01"}},
		{"epoch seconds", "DATETIME", warehouse.ColumnParse{EpochUnit: "s"}, []string{"1700000000", "1700000000.5", "-1", "2026-01-02", "17e8", "abc"}},
		{"epoch milliseconds", "TIMESTAMP", warehouse.ColumnParse{EpochUnit: "ms"}, []string{"1700000000000", "1700000000123", "0"}},
		{"epoch into a date", "DATE", warehouse.ColumnParse{EpochUnit: "s"}, []string{"1700000000", "86399", "-86401"}},
		{"null tokens and layouts", "DATE", warehouse.ColumnParse{NullTokens: []string{"unknown"}, Layouts: []string{"%Y%m%d"}}, []string{"20260102", "Unknown", "2026-01-02", "2026013"}},
	}
	for _, c := range cases {
		for _, f := range []format.Format{format.CSV, format.JSONL} {
			t.Run(c.name+"/"+string(f), func(t *testing.T) {
				p := writeValues(t, d, dir, strings.ReplaceAll(c.name, " ", "_"), f, c.vals, false)
				sp := conversionSpec(p, f, c.typ)
				sp.Parse = map[string]warehouse.ColumnParse{"v": c.parse}
				check(t, w, d, c.typ, sp)
			})
		}
	}
}

// TestFilesMatchDuckDB stages whole files, with and without a schema,
// in both warehouses: the same rows load, the same are set aside, with
// the same drift.
func TestFilesMatchDuckDB(t *testing.T) {
	w := open(t)
	d := openDuck(t)
	dir := t.TempDir()
	files := []struct {
		name  string
		f     format.Format
		data  string
		sch   schema.Schema
		csv   warehouse.CSVOptions
		key   []string
		parse map[string]warehouse.ColumnParse
		typed bool
		enc   string
	}{
		{name: "defects", f: format.CSV, data: "id,name,amount\n1,a,1.5\n2,b\n3,c,xx\n4,\"d\ne\",2\n5,e,3,extra\n6,\xff\xfe,4\n\n7,g,5\n", sch: testSchema},
		{name: "structural", f: format.CSV, data: "id,name,amount\n1\n2,b\n3,c,1,4,5\n4,\xff,\xfe\n5,\"x\n", sch: testSchema},
		{name: "null keys", f: format.CSV, data: "id,name,amount\n1,a,1\n,b,2\n3,,\n", sch: testSchema, key: []string{"name"}},
		{name: "quoted nulls", f: format.CSV, data: "id,name,amount\n1,\"\",\"\"\n2, \"sp\",1\n3, 3 ,4.5 \n4,\"a\"\"b\",\n", sch: testSchema},
		{name: "quoted nulls are text", f: format.CSV, data: "id,name,amount\n1,\"\",\n2,,\n", sch: testSchema, csv: warehouse.CSVOptions{QuotedNullsAreText: true}},
		{name: "semicolons", f: format.CSV, data: "id;name;amount\n1;\"a,b;c\";1.5\n2;\"x|y\";2.5\n3;z;\n", sch: testSchema},
		{name: "crlf", f: format.CSV, data: "id,name,amount\r\n1,a,1.5\r\n2,b,x\r\n", sch: testSchema},
		{name: "extra and missing", f: format.CSV, data: "id,amount,note\n1,1.5,x\n2,2.5,y\n", sch: testSchema},
		{name: "no schema csv", f: format.CSV, data: "a,b,c,d,e,f\n1,x,1.5,true,2026-01-02,03:04:05\n2,y,2,false,2026-01-03,04:05:06\n"},
		{name: "no schema mixed", f: format.CSV, data: "a,b\n1,1\nx,2.5\n"},
		{name: "json lines", f: format.JSONL, data: "{\"id\":1,\"name\":\"a\",\"amount\":1.5}\n\n{\"id\":2,\"name\":\"b\",\"amount\":\"oops\"}\nnot json\n[1,2]\n{\"id\":3,\"name\":\"c\",\"amount\":3,\"tags\":{\"x\":1}}\n", sch: testSchema},
		{name: "json array", f: format.JSON, data: `[{"id":1,"name":"a","amount":1},{"id":2,"name":"b","amount":2}, 7]`, sch: testSchema},
		{name: "json no schema", f: format.JSONL, data: "{\"i\":1,\"f\":1.5,\"s\":\"a\",\"b\":true,\"n\":null,\"d\":\"2026-01-02\"}\n{\"i\":2,\"f\":2,\"s\":\"b\",\"b\":false,\"n\":null,\"d\":\"2026-02-03\"}\n"},
		{name: "json case and missing keys", f: format.JSONL, data: "{\"ID\":1,\"Name\":\"a\"}\n{\"ID\":2}\n", sch: testSchema},
		// the DuckDB warehouse's dialect tests
		{name: "trailing empty header cells", f: format.CSV, data: "id,name,amount,,,\n1,a,1.5\n2,b,2.5\n", sch: testSchema},
		{name: "trailing empty cells everywhere", f: format.CSV, data: "id,name,amount,,,\r\n1,a,1.5,,,\r\n2,b,2.5,, ,\"\"\r\n", sch: testSchema},
		{name: "a row short of the trailing cells", f: format.CSV, data: "id,name,amount,,,\n1,a,1.5,,,\n2,b,2.5,,,\n3,c,3.5\n", sch: testSchema},
		{name: "a trailing column with a value", f: format.CSV, data: "id,name,amount,\n1,a,1.5,\n2,b,2.5,note\n", sch: testSchema},
		{name: "row names first", f: format.CSV, data: "\"\",id,name,amount\n\"r1\",1,a,1.5\n\"r2\",2,b,2.5\n", sch: testSchema},
		{name: "two unnamed columns", f: format.CSV, data: ",Unnamed: 0,,id,name,amount\n7,x,y,1,a,1.5\n", sch: testSchema},
		{name: "semicolons, row names, trailing cells", f: format.CSV, data: ";id;name;amount;;\n0;1;a;1.5;;\n1;2;\"b;c\";2.5;;\n", sch: testSchema},
		{name: "no schema: row names", f: format.CSV, data: "\"\",id,amount\n0,1,1.5\n1,2,2.5\n"},
		{name: "tab", f: format.CSV, data: "id\tname\tamount\n1\t\"a,b;c|d\"\t1.5\n2\t\"two\nlines\"\t2.5\n", sch: testSchema},
		{name: "pipe", f: format.CSV, data: "id|name|amount\n1|\"a|b, c; d\"|1.5\n2|b|2.5\n", sch: testSchema},
		{name: "single quotes", f: format.CSV, data: "id;name;amount\n1;'a;b';1.5\n2;'c;d;e';2.5\n3;f;3\n", sch: testSchema},
		{name: "no schema semicolons", f: format.CSV, data: "a;b;c\n1;x,y;2,5\n2;z;3\n"},
		{name: "declared delimiter is wrong", f: format.CSV, data: "id;name;amount\n1;a;1.5\n2;\"b,c\";2.5\n", sch: testSchema, csv: warehouse.CSVOptions{Delimiter: ",", Quote: `"`}},
		{name: "declared pipe is wrong", f: format.CSV, data: "id\tname\n1\ta\n", sch: testSchema, csv: warehouse.CSVOptions{Delimiter: "|", Quote: `"`}},
		{name: "decimal commas read by a repair", f: format.CSV, data: "id;name;amount\n1;a;1,5\n2;b;1.234,25\n", sch: testSchema,
			parse: map[string]warehouse.ColumnParse{"amount": {DecimalComma: true}}},
		{name: "decimal commas not yet repaired", f: format.CSV, data: "id;name;amount\n1;a;1,5\n2;b;2\n", sch: testSchema},
		{name: "no header", f: format.CSV, data: "1,a,1\n2,b,2\n", sch: testSchema, csv: warehouse.CSVOptions{NoHeader: true}},
		{name: "null strings", f: format.CSV, data: "a;b\n1;NA\n2;x\n", csv: warehouse.CSVOptions{Delimiter: ";", NullValues: []string{"NA"}}},
		{name: "typed extraction", f: format.CSV, typed: true, data: "id,name,amount,day,at,flag,blob\n1,\\N,1.50,2026-01-02,2026-01-02 03:04:05+00,true,\\x41\n2,\"\\N\",2.5,\\N,2026-01-02 03:04:05.5+02,f,\\N\n3,x,2.567,2026-13-01,junk,maybe,\\xZZ\n",
			sch: schema.Schema{{Name: "id", Type: "INT64"}, {Name: "name", Type: "STRING"}, {Name: "amount", Type: "NUMERIC", Precision: 12, Scale: 2},
				{Name: "day", Type: "DATE"}, {Name: "at", Type: "TIMESTAMP"}, {Name: "flag", Type: "BOOL"}, {Name: "blob", Type: "BYTES"}},
			csv: warehouse.CSVOptions{NullValues: []string{`\N`}, QuotedNullsAreText: true}},
		{name: "latin-1", f: format.CSV, data: "id,name,amount\n1,Caf\xe9 blend,1.5\n2,\xc6ble,2\n", sch: testSchema, enc: "latin-1"},
		{name: "latin-1 json lines", f: format.JSONL, data: "{\"id\":1,\"name\":\"Caf\xe9\"}\n", sch: testSchema, enc: "windows-1252"},
		{name: "hundreds of keys", f: format.JSONL, data: manyKeys()},
		{name: "keys only in a late record", f: format.JSONL, data: lateKeys()},
	}
	for _, c := range files {
		t.Run(c.name, func(t *testing.T) {
			for _, gz := range []bool{false, true} {
				data, comp := []byte(c.data), format.None
				name := c.name + "." + string(c.f)
				if gz {
					var b bytes.Buffer
					zw := gzip.NewWriter(&b)
					zw.Write(data)
					zw.Close()
					data, comp, name = b.Bytes(), format.Gzip, name+".gz"
				}
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				sp := warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t_" + strings.ReplaceAll(c.name, " ", "_"), ObjectKey: c.name,
					Path: p, Format: c.f, Compression: comp, Schema: c.sch, CSV: c.csv, Key: c.key, Parse: c.parse, Typed: c.typed, Encoding: c.enc}
				duck, derr := duckOutcome(t, d, sp)
				pg, perr := pgOutcome(t, w, sp)
				if (derr == nil) != (perr == nil) {
					t.Fatalf("gzip %t: DuckDB: %v, PostgreSQL: %v", gz, derr, perr)
				}
				if derr != nil {
					continue
				}
				compareOutcomes(t, "", duck, pg)
			}
		})
	}
}

// commitStep stages objects in both warehouses and commits them.
type commitStep struct {
	objects []string // CSV (or JSON Lines when it starts with '{') contents
	mode    string
	key     []string
	rebuild bool
	sql     [2]string // statements run on the target before: DuckDB's, PostgreSQL's
	schema  schema.Schema
}

// TestCommitsMatchDuckDB runs the same commits in both warehouses and
// compares what each reports and what the target, its quarantine and the
// ledger hold afterwards: append, replace, rebuild, merge (duplicates in
// the batch and in the target, columns an object lacks, composite keys)
// and the target's schema evolving.
func TestCommitsMatchDuckDB(t *testing.T) {
	sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "region", Type: "STRING"},
		{Name: "name", Type: "STRING"}, {Name: "amount", Type: "NUMERIC", Precision: 10, Scale: 2}}
	full := "id,region,name,amount\n1,eu,a,1.50\n2,eu,b,2.50\n3,us,c,3.50\n"
	wide := append(append(schema.Schema{}, sch...), schema.Field{Name: "note", Type: "STRING"})
	scenarios := []struct {
		name  string
		steps []commitStep
	}{
		{"append, replace, rebuild", []commitStep{
			{objects: []string{full}, mode: "append"},
			{objects: []string{full, "id,region,name,amount\n4,us,d,x\n5,us,e,5\n"}, mode: "append"},
			{objects: []string{"id,region,name,amount\n9,eu,z,9\n"}, mode: "replace"},
			{objects: []string{full}, mode: "append", rebuild: true},
		}},
		{"merge with duplicates and a key held twice", []commitStep{
			{objects: []string{full}, mode: "merge", key: []string{"id"}},
			{sql: [2]string{"INSERT INTO t VALUES (2, 'eu', 'b', 2.50)", "INSERT INTO t VALUES (2, 'eu', 'b', 2.50)"},
				objects: []string{"id,region,name,amount\n2,eu,b1,1\n2,eu,b2,2\n4,us,d,4\n", "id,region,name,amount\n4,us,d2,5\n,us,nokey,6\n"}, mode: "merge", key: []string{"id"}},
		}},
		{"merge keeps values the batch lacks", []commitStep{
			{objects: []string{full}, mode: "merge", key: []string{"id"}},
			{objects: []string{"id,region,name\n2,eu,B\n3,us,C\n4,us,d\n"}, mode: "merge", key: []string{"id"}},
			{objects: []string{"id,region\n2,eu\n5,us\n"}, mode: "merge", key: []string{"id"}},
			{objects: []string{`{"id":3,"region":"us","amount":30}`}, mode: "merge", key: []string{"id"}},
		}},
		{"merge with objects that lack a column and duplicates", []commitStep{
			{objects: []string{full}, mode: "merge", key: []string{"id"}},
			{sql: [2]string{"INSERT INTO t VALUES (2, 'eu', 'b', 2.50)", "INSERT INTO t VALUES (2, 'eu', 'b', 2.50)"},
				objects: []string{"id,region,name,amount\n1,eu,a,9.00\n4,us,d,7.00\n2,eu,b,\n", "id,region,name\n1,eu,a1\n4,us,d1\n2,eu,b2\n5,us,e\n"}, mode: "merge", key: []string{"id"}},
			{objects: []string{"id,region,name,amount\n1,eu,x,1\n", "id,region,name\n2,eu,y\n"}, mode: "merge", key: []string{"id"}},
		}},
		{"composite key", []commitStep{
			{objects: []string{full}, mode: "merge", key: []string{"id", "region"}},
			{objects: []string{"id,region,name\n2,eu,B\n3,eu,x\n3,eu,y\n"}, mode: "merge", key: []string{"id", "region"}},
		}},
		{"schema evolves", []commitStep{
			{objects: []string{full}, mode: "append"},
			{objects: []string{"id,region,name,amount,note\n7,eu,g,7,hello\n"}, mode: "append", schema: wide},
			{objects: []string{"id,region,name,amount,note\n7,eu,h,8,bye\n"}, mode: "merge", key: []string{"id"}, schema: wide},
		}},
	}
	dsn := testutil.PostgresDSN(t)
	for si, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			d := openDuck(t)
			w := openDSN(t, dsn)
			ctx := context.Background()
			target := fmt.Sprintf("t%d", si)
			dir := t.TempDir()
			for i, step := range sc.steps {
				run := fmt.Sprintf("r%d", i)
				stepSchema := sch
				if step.schema != nil {
					stepSchema = step.schema
				}
				if step.sql[0] != "" {
					if _, err := d.DB().ExecContext(ctx, strings.ReplaceAll(step.sql[0], "INTO t ", "INTO "+target+" ")); err != nil {
						t.Fatal(err)
					}
					if _, err := w.pool.Exec(ctx, strings.ReplaceAll(step.sql[1], "INTO t ", "INTO "+w.target(target)+" ")); err != nil {
						t.Fatal(err)
					}
				}
				var dst, pst []*warehouse.Staged
				for j, body := range step.objects {
					f := format.CSV
					if strings.HasPrefix(body, "{") {
						f = format.JSONL
					}
					p := filepath.Join(dir, fmt.Sprintf("s%d_%d.%s", i, j, f))
					if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
						t.Fatal(err)
					}
					sp := warehouse.LoadSpec{RunID: run, Pipeline: "p", Target: target, ObjectKey: filepath.Base(p), Fingerprint: "fp",
						ContentHash: fmt.Sprint("h", i, j), Path: p, Format: f, Schema: stepSchema, Key: step.key}
					a, err := d.Stage(ctx, sp)
					if err != nil {
						t.Fatal(err)
					}
					b, err := w.Stage(ctx, sp)
					if err != nil {
						t.Fatal(err)
					}
					dst, pst = append(dst, a), append(pst, b)
				}
				cs := warehouse.CommitSpec{RunID: run, Pipeline: "p", Target: target, Mode: step.mode, Key: step.key, Rebuild: step.rebuild}
				cs.Objects = dst
				dres, derr := d.Commit(ctx, cs)
				cs.Objects = pst
				pres, perr := w.Commit(ctx, cs)
				if (derr == nil) != (perr == nil) {
					t.Fatalf("step %d: DuckDB %v, PostgreSQL %v", i, derr, perr)
				}
				if derr != nil {
					continue
				}
				if got, want := resultText(pres), resultText(dres); got != want {
					t.Errorf("step %d: PostgreSQL reports %s, DuckDB %s", i, got, want)
				}
				for _, q := range []struct{ duck, pg string }{
					{fmt.Sprintf(`SELECT concat_ws('|', %s) FROM %s ORDER BY 1`, "id, region, coalesce(name, 'NULL'), coalesce(CAST(amount AS VARCHAR), 'NULL')", target),
						fmt.Sprintf(`SELECT concat_ws('|', %s) FROM %s ORDER BY 1`, "id, region, coalesce(name, 'NULL'), coalesce(amount::text, 'NULL')", w.target(target))},
					{fmt.Sprintf(`SELECT concat_ws('|', run_id, source_object, coalesce(CAST(line AS VARCHAR), 'NULL'), reason) FROM %s ORDER BY 1`, target+"__quarantine"),
						fmt.Sprintf(`SELECT concat_ws('|', run_id, source_object, coalesce(line::text, 'NULL'), reason) FROM %s ORDER BY 1`, w.target(target+"__quarantine"))},
					{`SELECT concat_ws('|', object_key, run_id, rows_loaded, rows_quarantined, coalesce(content_hash, 'NULL')) FROM _shp.loads ORDER BY 1`,
						`SELECT concat_ws('|', object_key, run_id, rows_loaded, rows_quarantined, coalesce(content_hash, 'NULL')) FROM ` + w.ledger() + ` ORDER BY 1`},
				} {
					rows, err := d.RunQuery(ctx, q.duck)
					if err != nil {
						t.Fatal(err)
					}
					var want []string
					for rows.Next() {
						var s string
						if err := rows.Scan(&s); err != nil {
							t.Fatal(err)
						}
						want = append(want, s)
					}
					rows.Close()
					if got := queryStrings(t, w, q.pg); strings.Join(got, "\n") != strings.Join(want, "\n") {
						t.Errorf("step %d: PostgreSQL holds\n%s\nDuckDB\n%s", i, strings.Join(got, "\n"), strings.Join(want, "\n"))
					}
				}
			}
		})
	}
}

// resultText writes a commit's result with the types named as in both
// warehouses.
func resultText(r *warehouse.CommitResult) string {
	var changes []string
	for _, c := range r.SchemaChanges {
		changes = append(changes, c.Column+" "+c.Kind+" "+family(c.From)+" "+family(c.To))
	}
	var kept []string
	for k, v := range r.Kept {
		kept = append(kept, fmt.Sprintf("%s=%d", k, v))
	}
	sort.Strings(kept)
	return fmt.Sprintf("inserted %d updated %d deduplicated %d quarantined %d kept %v changes %v",
		r.Inserted, r.Updated, r.Deduplicated, r.Quarantined, kept, changes)
}

func manyKeys() string {
	var b strings.Builder
	for i := 0; i < 300; i++ {
		fmt.Fprintf(&b, "{\"id\":%d,\"k%d\":%d,\"gone\":null}\n", i, i, i)
	}
	return b.String()
}

func lateKeys() string {
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		fmt.Fprintf(&b, "{\"id\":%d}\n", i)
	}
	b.WriteString("{\"id\":3000,\"later\":null,\"value\":\"x\"}\n")
	return b.String()
}

// TestParquetMatchesDuckDB stages a Parquet file of typed columns (written
// by DuckDB) without a schema, and into declared types, in both
// warehouses.
func TestParquetMatchesDuckDB(t *testing.T) {
	w := open(t)
	d := openDuck(t)
	p := filepath.Join(t.TempDir(), "typed.parquet")
	if _, err := d.DB().ExecContext(context.Background(), `COPY (SELECT * FROM (VALUES
		(1, 10::INTEGER, 2.5::DOUBLE, 1.5::FLOAT, 12.34::DECIMAL(10,2), 1234567890123.4567890123::DECIMAL(38,10), DATE '2026-01-02',
		 TIMESTAMP '2026-01-02 03:04:05.123456', TIMESTAMPTZ '2026-01-02 03:04:05+02', TIME '03:04:05', true, 'héllo', '\xAA\x00'::BLOB,
		 '8f0e5c9e-1d3b-4c8a-9a3e-1c2b3d4e5f60'::UUID, 200::UTINYINT, 18446744073709551615::UBIGINT, -5::SMALLINT, '2'),
		(2, NULL, -0.0::DOUBLE, 'inf'::FLOAT, -0.5::DECIMAL(10,2), 0::DECIMAL(38,10), DATE '0044-03-15 (BC)',
		 TIMESTAMP '1969-12-31 23:59:59', TIMESTAMPTZ '2026-06-30 23:00:00+00', TIME '24:00:00', false, '', ''::BLOB,
		 NULL, 0::UTINYINT, 0::UBIGINT, 32767::SMALLINT, 'x'),
		(3, (-2147483647)::INTEGER, 1e300::DOUBLE, 'nan'::FLOAT, 99999999.99::DECIMAL(10,2), -1e27::DECIMAL(38,10), DATE '9999-12-31',
		 TIMESTAMP '2262-04-11 23:47:16', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, '3.0')
		) v(id, i, dbl, flt, dec, bigdec, day, ts, tstz, tm, flag, txt, bin, uid, u8, u64, small, num)) TO '`+p+`' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	specs := []schema.Schema{nil,
		{{Name: "id", Type: "INT64"}, {Name: "i", Type: "STRING"}, {Name: "dbl", Type: "INT64"}, {Name: "flt", Type: "NUMERIC", Precision: 12, Scale: 2},
			{Name: "dec", Type: "INT64"}, {Name: "bigdec", Type: "FLOAT64"}, {Name: "day", Type: "TIMESTAMP"}, {Name: "ts", Type: "DATE"},
			{Name: "tstz", Type: "DATETIME"}, {Name: "tm", Type: "STRING"}, {Name: "flag", Type: "STRING"}, {Name: "txt", Type: "JSON"},
			{Name: "bin", Type: "STRING"}, {Name: "uid", Type: "STRING"}, {Name: "u8", Type: "INT64"}, {Name: "u64", Type: "NUMERIC", Precision: 20, Scale: 0},
			{Name: "small", Type: "FLOAT64"}, {Name: "num", Type: "NUMERIC"}, {Name: "absent", Type: "STRING"}},
	}
	for i, sch := range specs {
		t.Run(fmt.Sprint("schema ", i), func(t *testing.T) {
			sp := warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: fmt.Sprint("pq", i), ObjectKey: "typed.parquet", Path: p, Format: format.Parquet, Schema: sch}
			duck, derr := duckOutcome(t, d, sp)
			pg, perr := pgOutcome(t, w, sp)
			if (derr == nil) != (perr == nil) {
				t.Fatalf("DuckDB: %v, PostgreSQL: %v", derr, perr)
			}
			if derr != nil {
				return
			}
			compareOutcomes(t, "", duck, pg)
		})
	}
}
