package duckdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	duckdb "github.com/duckdb/duckdb-go/v2"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

var testSchema = schema.Schema{
	{Name: "id", Type: "INT64", Mode: "REQUIRED"},
	{Name: "name", Type: "STRING", Mode: "NULLABLE"},
	{Name: "amount", Type: "FLOAT64", Mode: "NULLABLE"},
}

func open(t *testing.T) *Warehouse {
	t.Helper()
	dir := t.TempDir()
	w, err := Open(context.Background(), warehouse.Options{Path: filepath.Join(dir, "w.duckdb"), TempDir: filepath.Join(dir, "tmp"), Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	return w
}

func spec(file string, f format.Format, sch schema.Schema) warehouse.LoadSpec {
	c := format.None
	if strings.HasSuffix(file, ".gz") {
		c = format.Gzip
	}
	return warehouse.LoadSpec{
		RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: file, Fingerprint: "fp-" + file,
		Path: filepath.Join("testdata", file), Format: f, Compression: c, Schema: sch,
	}
}

func queryStrings(t *testing.T, w *Warehouse, q string) []string {
	t.Helper()
	rows, err := w.DB().QueryContext(context.Background(), q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestStageCSVQuarantinesBadLines(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	// 7 data records: 1,a / 4,"d\ne" / 7,g load; 2,b (missing column), 3 (bad amount),
	// 5 (extra field) and 6 (not UTF-8) are quarantined.
	if st.Loaded != 3 || st.Quarantined != 4 {
		t.Fatalf("loaded %d quarantined %d, want 3 and 4", st.Loaded, st.Quarantined)
	}
	if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
	got := queryStrings(t, w, `SELECT source_object || ':' || line || ': ' || reason || ' | ' || raw FROM t__quarantine ORDER BY line`)
	want := []string{
		"defects.csv:3: MISSING COLUMNS (column amount): Expected Number of Columns: 3 Found: 2 | 2,b",
		`defects.csv:4: CAST (column amount): Could not convert string "xx" to 'DOUBLE' | {"id":"3","name":"c","amount":"xx"}`,
		"defects.csv:6: TOO MANY COLUMNS: Expected Number of Columns: 3 Found: 4 | 5,e,3,extra",
		"defects.csv:7: INVALID ENCODING (column name): Invalid unicode (byte sequence mismatch) detected. This file is not utf-8 encoded. | 6,??,4",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("quarantine:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	names := queryStrings(t, w, `SELECT name FROM t ORDER BY id`)
	if strings.Join(names, "|") != "a|d\ne|g" {
		t.Fatalf("target names %q", names)
	}
	for _, q := range []string{`SELECT run_id FROM t__quarantine LIMIT 1`, `SELECT pipeline FROM t__quarantine LIMIT 1`} {
		if got := queryStrings(t, w, q); got[0] != "run-1" && got[0] != "p" {
			t.Fatalf("%s = %v", q, got)
		}
	}
}

func TestStageCSVGzipAndSchemaDrift(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	tests := []struct {
		file      string
		loaded    int64
		drift     string
		wantNames string
	}{
		{"good_gz.csv.gz", 2, "", "a|b"},
		{"extra_col.csv", 2, `extra column "discount" is not in the schema; ignored`, "x|y"},
		{"missing_col.csv", 1, `column "name" is missing from the file; loaded as NULL`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			st, err := w.Stage(ctx, spec(tc.file, format.CSV, testSchema))
			if err != nil {
				t.Fatal(err)
			}
			if st.Loaded != tc.loaded || st.Quarantined != 0 {
				t.Fatalf("loaded %d quarantined %d", st.Loaded, st.Quarantined)
			}
			if got := strings.Join(st.Drift, "; "); got != tc.drift {
				t.Fatalf("drift %q, want %q", got, tc.drift)
			}
			if len(st.Columns) != 3 || st.Columns[0].Name != "id" || st.Columns[0].Type != "BIGINT" {
				t.Fatalf("columns %v", st.Columns)
			}
			if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t_" + sanitize(tc.file), Mode: "append", Objects: []*warehouse.Staged{st}}); err != nil {
				t.Fatal(err)
			}
			names := queryStrings(t, w, `SELECT coalesce(name, '') FROM t_`+sanitize(tc.file)+` ORDER BY id`)
			if strings.Join(names, "|") != tc.wantNames {
				t.Fatalf("names %q", names)
			}
		})
	}
}

func TestStageJSON(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	t.Run("json lines with bad records", func(t *testing.T) {
		st, err := w.Stage(ctx, spec("mixed.jsonl", format.JSONL, testSchema))
		if err != nil {
			t.Fatal(err)
		}
		if st.Loaded != 2 || st.Quarantined != 3 {
			t.Fatalf("loaded %d quarantined %d, want 2 and 3", st.Loaded, st.Quarantined)
		}
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "j", Mode: "append", Objects: []*warehouse.Staged{st}}); err != nil {
			t.Fatal(err)
		}
		got := queryStrings(t, w, `SELECT line || ': ' || reason FROM j__quarantine ORDER BY line`)
		if len(got) != 3 || !strings.HasPrefix(got[0], `3: CAST (column amount): Could not convert string "oops" to 'DOUBLE'`) ||
			!strings.HasPrefix(got[1], "4: ") || !strings.HasPrefix(got[2], "5: ") {
			t.Fatalf("quarantine %q", got)
		}
		if ids := queryStrings(t, w, `SELECT CAST(id AS VARCHAR) FROM j ORDER BY id`); strings.Join(ids, ",") != "1,3" {
			t.Fatalf("ids %v", ids)
		}
	})
	t.Run("json array without schema infers types", func(t *testing.T) {
		st, err := w.Stage(ctx, spec("array.json", format.JSON, nil))
		if err != nil {
			t.Fatal(err)
		}
		if st.Loaded != 2 || st.Quarantined != 1 {
			t.Fatalf("loaded %d quarantined %d", st.Loaded, st.Quarantined)
		}
		if st.Columns[0].Name != "id" || st.Columns[0].Type != "BIGINT" {
			t.Fatalf("columns %v", st.Columns)
		}
		if err := w.DropStaging(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

func TestStageParquet(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	pq := filepath.Join(t.TempDir(), "in.parquet")
	if _, err := w.DB().ExecContext(ctx, `COPY (SELECT * FROM (VALUES (1, 'a', '1.5'), (2, 'b', 'bad'), (3, NULL, '3')) v(id, name, amount)) TO '`+pq+`' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	s := spec("in.parquet", format.Parquet, testSchema)
	s.Path = pq
	st, err := w.Stage(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 2 || st.Quarantined != 1 || st.Samples[0].Line != 2 {
		t.Fatalf("loaded %d quarantined %d samples %v", st.Loaded, st.Quarantined, st.Samples)
	}
	s.Schema = nil
	s.Target = "fresh"
	st, err = w.Stage(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 3 || st.Columns[2].Type != "VARCHAR" {
		t.Fatalf("no-schema parquet: loaded %d columns %v", st.Loaded, st.Columns)
	}
}

func TestCommitModes(t *testing.T) {
	ctx := context.Background()
	stage := func(t *testing.T, w *Warehouse, file string, key []string) *warehouse.Staged {
		s := spec(file, format.CSV, testSchema)
		s.Key = key
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Run("merge keeps the last row per key and counts the rest", func(t *testing.T) {
		w := open(t)
		first := stage(t, w, "good.csv", []string{"id"})
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{first}}); err != nil {
			t.Fatal(err)
		}
		st := stage(t, w, "dupes.csv", []string{"id"})
		if st.Loaded != 3 || st.Quarantined != 1 {
			t.Fatalf("dupes: loaded %d quarantined %d", st.Loaded, st.Quarantined)
		}
		res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{st}})
		if err != nil {
			t.Fatal(err)
		}
		if res.Kept != nil || res.Inserted != 0 || res.Updated != 2 || res.Deduplicated != 1 || res.Quarantined != 1 {
			t.Fatalf("result %+v", *res)
		}
		if got := queryStrings(t, w, `SELECT id || '=' || name FROM t ORDER BY id`); strings.Join(got, ",") != "1=a2,2=b" {
			t.Fatalf("target %v", got)
		}
		if got := queryStrings(t, w, `SELECT reason FROM t__quarantine`); got[0] != `NULL: required column "id" is null` {
			t.Fatalf("reason %v", got)
		}
		ledger, err := w.LoadedObjects(ctx, "p")
		if err != nil || len(ledger) != 2 || ledger[1].RunID != "r2" {
			t.Fatalf("ledger %v %v", ledger, err)
		}
	})
	t.Run("replace and rebuild", func(t *testing.T) {
		w := open(t)
		for i, mode := range []string{"append", "append", "replace"} {
			st := stage(t, w, "good.csv", nil)
			if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: mode, Objects: []*warehouse.Staged{st}}); err != nil {
				t.Fatal(err)
			}
			want := []string{"2", "4", "2"}[i]
			if got := queryStrings(t, w, `SELECT CAST(count(*) AS VARCHAR) FROM t`); got[0] != want {
				t.Fatalf("after %s: %s rows, want %s", mode, got[0], want)
			}
		}
		st := stage(t, w, "extra_col.csv", nil)
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: "append", Rebuild: true, Objects: []*warehouse.Staged{st}}); err != nil {
			t.Fatal(err)
		}
		if got := queryStrings(t, w, `SELECT CAST(count(*) AS VARCHAR) FROM _shp.loads`); got[0] != "1" {
			t.Fatalf("ledger after rebuild: %v", got)
		}
	})
	t.Run("bad mode and merge without key", func(t *testing.T) {
		w := open(t)
		for _, cs := range []warehouse.CommitSpec{{Mode: "upsert", Target: "t"}, {Mode: "merge", Target: "t"}} {
			if _, err := w.Commit(ctx, cs); err == nil {
				t.Fatalf("%+v: no error", cs)
			}
		}
	})
}

func TestTargetSchemaUsedWithoutDeclaredSchema(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE TABLE t (id BIGINT, name VARCHAR, amount DOUBLE)`); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, nil))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 3 || st.Quarantined != 4 {
		t.Fatalf("loaded %d quarantined %d", st.Loaded, st.Quarantined)
	}
}

func TestStageErrors(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	s := spec("nope.csv", format.CSV, testSchema)
	if _, err := w.Stage(ctx, s); err == nil || !strings.Contains(err.Error(), "nope.csv") {
		t.Fatalf("missing file: %v", err)
	}
	s = spec("good.csv", format.Format("xml"), testSchema)
	if _, err := w.Stage(ctx, s); err == nil || !strings.Contains(err.Error(), `unsupported format "xml"`) {
		t.Fatalf("bad format: %v", err)
	}
	if _, err := warehouse.Open(ctx, "oracle", warehouse.Options{}); !errors.Is(err, warehouse.ErrUnknownKind) {
		t.Fatalf("unknown kind: %v", err)
	}
}

func TestTypeOf(t *testing.T) {
	tests := []struct {
		f    schema.Field
		want string
	}{
		{schema.Field{Type: "STRING"}, "VARCHAR"},
		{schema.Field{Type: "GEOGRAPHY"}, "VARCHAR"},
		{schema.Field{Type: "BYTES"}, "BLOB"},
		{schema.Field{Type: "INT64"}, "BIGINT"},
		{schema.Field{Type: "FLOAT64"}, "DOUBLE"},
		{schema.Field{Type: "NUMERIC"}, "DECIMAL(38,9)"},
		{schema.Field{Type: "NUMERIC", Precision: 12, Scale: 2}, "DECIMAL(12,2)"},
		{schema.Field{Type: "BIGNUMERIC"}, "DECIMAL(38,18)"},
		{schema.Field{Type: "BOOL"}, "BOOLEAN"},
		{schema.Field{Type: "TIMESTAMP"}, "TIMESTAMPTZ"},
		{schema.Field{Type: "DATETIME"}, "TIMESTAMP"},
		{schema.Field{Type: "DATE"}, "DATE"},
		{schema.Field{Type: "TIME"}, "TIME"},
		{schema.Field{Type: "JSON"}, "JSON"},
		{schema.Field{Type: "RECORD"}, "JSON"},
		{schema.Field{Type: "STRING", Mode: "REPEATED"}, "JSON"},
	}
	for _, tc := range tests {
		if got := TypeOf(tc.f); got != tc.want {
			t.Errorf("TypeOf(%+v) = %s, want %s", tc.f, got, tc.want)
		}
	}
}

func TestStageCSVOptionsAndInference(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	tests := []struct {
		name    string
		file    string
		sch     schema.Schema
		csv     warehouse.CSVOptions
		loaded  int64
		columns string
		err     string
	}{
		{name: "inferred types", file: "good.csv", loaded: 2, columns: "id BIGINT, name VARCHAR, amount DOUBLE"},
		{name: "delimiter and null strings", file: "semi.csv", csv: warehouse.CSVOptions{Delimiter: ";", NullValues: []string{"NA"}}, loaded: 2, columns: "a BIGINT, b VARCHAR"},
		{name: "unsniffable file is read as text", file: "unsniffable.csv", loaded: 0, columns: "id VARCHAR, name VARCHAR"},
		{name: "no header takes schema names", file: "noheader.csv", sch: testSchema, csv: warehouse.CSVOptions{NoHeader: true}, loaded: 2, columns: "id BIGINT, name VARCHAR, amount DOUBLE"},
		{name: "duplicate header", file: "dup_header.csv", err: `header names column "id" twice`},
		{name: "empty header name", file: "empty_header.csv", loaded: 1, columns: "id BIGINT, Unnamed: 1 BIGINT, x BIGINT"},
		{name: "no schema column in file", file: "semi.csv", sch: testSchema, csv: warehouse.CSVOptions{Delimiter: ";"}, err: "none of the file's columns [a b] is in the schema"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := spec(tc.file, format.CSV, tc.sch)
			s.CSV = tc.csv
			s.Target = fmt.Sprintf("t%d", i)
			st, err := w.Stage(ctx, s)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), tc.file) {
					t.Fatalf("err = %v, want %q naming the file", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var cols []string
			for _, c := range st.Columns {
				cols = append(cols, c.Name+" "+c.Type)
			}
			if st.Loaded != tc.loaded || strings.Join(cols, ", ") != tc.columns {
				t.Fatalf("loaded %d columns %q, want %d %q", st.Loaded, strings.Join(cols, ", "), tc.loaded, tc.columns)
			}
		})
	}
}

func TestStageJSONWithNoGoodRecords(t *testing.T) {
	w := open(t)
	st, err := w.Stage(context.Background(), spec("allbad.jsonl", format.JSONL, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 0 || st.Quarantined != 2 || len(st.Columns) != 3 {
		t.Fatalf("loaded %d quarantined %d columns %v", st.Loaded, st.Quarantined, st.Columns)
	}
}

func TestCommitEvolvesTheTargetSchema(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	if _, err := w.DB().ExecContext(ctx, `CREATE TABLE t (id INTEGER)`); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stage(ctx, spec("good.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	res, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(res.SchemaChanges); got != "[{id widened INTEGER BIGINT} {name added  VARCHAR} {amount added  DOUBLE}]" {
		t.Fatalf("schema changes %s", got)
	}
	if got := queryStrings(t, w, `SELECT name FROM t ORDER BY id`); strings.Join(got, ",") != "a,b" {
		t.Fatalf("new column not added: %v", got)
	}
	st, err = w.Stage(ctx, spec("good.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	_, err = w.Commit(ctx, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"nope"}, Objects: []*warehouse.Staged{st}})
	if err == nil || !strings.Contains(err.Error(), `merge key "nope" is not a column of t`) {
		t.Fatalf("err = %v", err)
	}
	// A failed commit leaves no staging tables behind.
	if got := queryStringsConn(t, w, `SELECT CAST(count(*) AS VARCHAR) FROM information_schema.tables WHERE table_catalog = 'temp'`); got != "0" {
		t.Fatalf("%s staging tables left", got)
	}
}

func queryStringsConn(t *testing.T, w *Warehouse, q string) string {
	t.Helper()
	var s string
	if err := w.conn.QueryRowContext(context.Background(), q).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestOpenOptionsAndQueryErrors(t *testing.T) {
	ctx := context.Background()
	w, err := Open(ctx, warehouse.Options{MemoryLimit: "512MB", Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var limit string
	if err := w.DB().QueryRow(`SELECT current_setting('memory_limit')`).Scan(&limit); err != nil || !strings.Contains(limit, "MiB") {
		t.Fatalf("memory_limit = %q %v", limit, err)
	}
	if _, err := w.RunQuery(ctx, "SELEKT 1"); err == nil || !strings.Contains(err.Error(), "duckdb: query") {
		t.Fatalf("bad query: %v", err)
	}
	if _, err := Open(ctx, warehouse.Options{MemoryLimit: "lots"}); err == nil {
		t.Fatal("bad memory limit accepted")
	}
	if got := describePath(""); got != "in-memory database" {
		t.Fatal(got)
	}
	if err := w.DropStaging(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestRoomFor runs an operation that cannot spill under a memory limit
// too small for it: it runs once more under DuckDB's own limit, says so
// in the log, and the configured limit holds again after it. Other
// errors, and a warehouse without a configured limit, are not retried.
func TestRoomFor(t *testing.T) {
	ctx := context.Background()
	var logs bytes.Buffer
	w, err := Open(ctx, warehouse.Options{MemoryLimit: "2MB", Threads: 1, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	limit := func() string { return queryStringsConn(t, w, "SELECT current_setting('memory_limit')") }
	configured := limit()
	// 12,888,890 digits and 1,999,999 commas.
	const big = "SELECT length(string_agg(CAST(i AS VARCHAR), ',')) FROM range(2000000) t(i)"
	var attempts []string
	var n int64
	err = w.roomFor(ctx, "aggregate", func() error {
		attempts = append(attempts, limit())
		return w.conn.QueryRowContext(ctx, big).Scan(&n)
	})
	if err != nil || n != 12888890+1999999 {
		t.Fatalf("after %d attempts (limits %q): %d, %v", len(attempts), attempts, n, err)
	}
	if len(attempts) != 2 || attempts[0] != configured || attempts[1] == configured {
		t.Errorf("attempts under limits %q, want %s then DuckDB's own", attempts, configured)
	}
	if got := limit(); got != configured {
		t.Errorf("memory_limit after the retry = %s, want %s again", got, configured)
	}
	if !strings.Contains(logs.String(), "ran out of memory") || !strings.Contains(logs.String(), "operation=aggregate") {
		t.Errorf("log: %s", logs.String())
	}

	calls := 0
	other := errors.New("not memory")
	if err := w.roomFor(ctx, "x", func() error { calls++; return other }); err != other || calls != 1 {
		t.Errorf("another error: %v after %d calls, want it after 1", err, calls)
	}
	unlimited, err := Open(ctx, warehouse.Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer unlimited.Close()
	calls = 0
	oom := &duckdb.Error{Type: duckdb.ErrorTypeOutOfMemory, Msg: "Out of Memory Error: x"}
	if err := unlimited.roomFor(ctx, "x", func() error { calls++; return oom }); err != oom || calls != 1 {
		t.Errorf("no configured limit: %v after %d calls, want the error after 1", err, calls)
	}
}
