package postgres

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
)

var testSchema = schema.Schema{
	{Name: "id", Type: "INT64", Mode: "REQUIRED"},
	{Name: "name", Type: "STRING", Mode: "NULLABLE"},
	{Name: "amount", Type: "FLOAT64", Mode: "NULLABLE"},
}

// openDSN opens a warehouse on a test's schema (targets) and a schema of
// its own for shp's tables, dropped when the test ends.
func openDSN(t testing.TB, dsn string) *Warehouse {
	t.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	internal := cfg.RuntimeParams["search_path"] + "_shp"
	w, err := Open(context.Background(), Config{DSN: dsn, InternalSchema: internal})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.Close()
		testutil.PostgresExec(t, dsn, "DROP SCHEMA IF EXISTS "+ident(internal)+" CASCADE")
	})
	return w
}

func open(t testing.TB) *Warehouse {
	t.Helper()
	return openDSN(t, testutil.PostgresDSN(t))
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

func queryStrings(t testing.TB, w *Warehouse, q string, args ...any) []string {
	t.Helper()
	rows, err := w.RunQuery(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s *string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		if s == nil {
			out = append(out, "NULL")
		} else {
			out = append(out, *s)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func commit(t testing.TB, w *Warehouse, cs warehouse.CommitSpec) *warehouse.CommitResult {
	t.Helper()
	res, err := w.Commit(context.Background(), cs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestStageCSVQuarantinesBadLines(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 3 || st.Quarantined != 4 {
		t.Fatalf("loaded %d quarantined %d, want 3 and 4", st.Loaded, st.Quarantined)
	}
	if len(st.Samples) != 4 || st.Samples[0].Line != 3 {
		t.Fatalf("samples %v", st.Samples)
	}
	commit(t, w, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}})
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
	if names := queryStrings(t, w, `SELECT name FROM t ORDER BY id`); strings.Join(names, "|") != "a|d\ne|g" {
		t.Fatalf("target names %q", names)
	}
	ledger, err := w.LoadedObjects(ctx, "p")
	if err != nil || len(ledger) != 1 || ledger[0].Key != "defects.csv" || ledger[0].RunID != "run-1" {
		t.Fatalf("ledger %v %v", ledger, err)
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
		{"missing_col.csv", 1, `column "name" is missing from the file; loaded as NULL`, "NULL"},
	}
	for i, tc := range tests {
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
			if tc.file == "extra_col.csv" && (len(st.Extra) != 1 || st.Extra[0].Type != "FLOAT64") {
				t.Fatalf("extra %v", st.Extra)
			}
			target := fmt.Sprintf("t%d", i)
			commit(t, w, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: target, Mode: "append", Objects: []*warehouse.Staged{st}})
			if names := queryStrings(t, w, `SELECT name FROM `+target+` ORDER BY id`); strings.Join(names, "|") != tc.wantNames {
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
		if got := strings.Join(st.Drift, "; "); got != `extra column "tags" is not in the schema; ignored` {
			t.Fatalf("drift %q", got)
		}
		commit(t, w, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "j", Mode: "append", Objects: []*warehouse.Staged{st}})
		got := queryStrings(t, w, `SELECT line || ': ' || reason || ' | ' || raw FROM j__quarantine ORDER BY line`)
		if len(got) != 3 || got[0] != `3: CAST (column amount): Could not convert string "oops" to 'DOUBLE' | {"id":"2","name":"b","amount":"oops"}` ||
			!strings.HasPrefix(got[1], "4: invalid JSON") || !strings.HasPrefix(got[2], "5: record is a JSON array") {
			t.Fatalf("quarantine %q", got)
		}
		if ids := queryStrings(t, w, `SELECT id::text FROM j ORDER BY id`); strings.Join(ids, ",") != "1,3" {
			t.Fatalf("ids %v", ids)
		}
	})
	t.Run("json array without schema infers types", func(t *testing.T) {
		s := spec("array.json", format.JSON, nil)
		s.Target = "fresh"
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if st.Loaded != 2 || st.Quarantined != 1 {
			t.Fatalf("loaded %d quarantined %d", st.Loaded, st.Quarantined)
		}
		if got := columnList(st); got != "id BIGINT, name VARCHAR, amount BIGINT" {
			t.Fatalf("columns %s", got)
		}
		if err := w.Discard(ctx, st); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("no good records", func(t *testing.T) {
		st, err := w.Stage(ctx, spec("allbad.jsonl", format.JSONL, testSchema))
		if err != nil {
			t.Fatal(err)
		}
		if st.Loaded != 0 || st.Quarantined != 2 || len(st.Columns) != 3 {
			t.Fatalf("loaded %d quarantined %d columns %v", st.Loaded, st.Quarantined, st.Columns)
		}
		w.Discard(ctx, st)
	})
}

func columnList(st *warehouse.Staged) string {
	var cols []string
	for _, c := range st.Columns {
		cols = append(cols, c.Name+" "+c.Type)
	}
	return strings.Join(cols, ", ")
}

func TestCommitModes(t *testing.T) {
	ctx := context.Background()
	stage := func(t *testing.T, w *Warehouse, file, run string, key []string) *warehouse.Staged {
		s := spec(file, format.CSV, testSchema)
		s.Key, s.RunID = key, run
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	t.Run("merge keeps the last row per key and counts the rest", func(t *testing.T) {
		w := open(t)
		first := stage(t, w, "good.csv", "r1", []string{"id"})
		commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{first}})
		st := stage(t, w, "dupes.csv", "r2", []string{"id"})
		if st.Loaded != 3 || st.Quarantined != 1 {
			t.Fatalf("dupes: loaded %d quarantined %d", st.Loaded, st.Quarantined)
		}
		res := commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: "merge", Key: []string{"id"}, Objects: []*warehouse.Staged{st}})
		if res.Kept != nil || res.Inserted != 0 || res.Updated != 2 || res.Deduplicated != 1 || res.Quarantined != 1 {
			t.Fatalf("result %+v", *res)
		}
		if got := queryStrings(t, w, `SELECT id || '=' || name FROM t ORDER BY id`); strings.Join(got, ",") != "1=a2,2=b" {
			t.Fatalf("target %v", got)
		}
		if got := queryStrings(t, w, `SELECT reason || ' | ' || coalesce(line::text, 'NULL') || ' | ' || raw FROM t__quarantine`); got[0] != `NULL: required column "id" is null | NULL | {"id":null,"name":"nokey","amount":4.0}` {
			t.Fatalf("quarantine %v", got)
		}
		ledger, err := w.LoadedObjects(ctx, "p")
		if err != nil || len(ledger) != 2 || ledger[1].RunID != "r2" {
			t.Fatalf("ledger %v %v", ledger, err)
		}
	})
	t.Run("replace and rebuild", func(t *testing.T) {
		w := open(t)
		for i, mode := range []string{"append", "append", "replace"} {
			run := fmt.Sprint("r", i)
			st := stage(t, w, "good.csv", run, nil)
			commit(t, w, warehouse.CommitSpec{RunID: run, Pipeline: "p", Target: "t", Mode: mode, Objects: []*warehouse.Staged{st}})
			want := []string{"2", "4", "2"}[i]
			if got := queryStrings(t, w, `SELECT count(*)::text FROM t`); got[0] != want {
				t.Fatalf("after %s: %s rows, want %s", mode, got[0], want)
			}
		}
		st := stage(t, w, "extra_col.csv", "r9", nil)
		commit(t, w, warehouse.CommitSpec{RunID: "r9", Pipeline: "p", Target: "t", Mode: "append", Rebuild: true, Objects: []*warehouse.Staged{st}})
		if got := queryStrings(t, w, `SELECT count(*)::text FROM `+w.ledger()); got[0] != "1" {
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
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+w.target("t")+` (id BIGINT, name VARCHAR, amount DOUBLE PRECISION)`); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, nil))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 3 || st.Quarantined != 4 {
		t.Fatalf("loaded %d quarantined %d", st.Loaded, st.Quarantined)
	}
	sch, err := w.TargetSchema(ctx, "T")
	if err != nil || fmt.Sprint(sch) != "[{id INT64 NULLABLE  0 0  []} {name STRING NULLABLE  0 0  []} {amount FLOAT64 NULLABLE  0 0  []}]" {
		t.Fatalf("target schema %v %v", sch, err)
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
	if _, err := Open(ctx, Config{}); err == nil {
		t.Fatal("no DSN accepted")
	}
	if kinds := warehouse.Kinds(); !strings.Contains(strings.Join(kinds, ","), "postgres") {
		t.Fatalf("kinds %v", kinds)
	}
	if got := queryStrings(t, w, `SELECT count(*)::text FROM pg_tables WHERE schemaname = $1`, w.internal); got[0] != "3" {
		t.Fatalf("%s tables in the internal schema after failed stagings, want the 3 of shp", got[0])
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
		{name: "inferred types", file: "good.csv", loaded: 2, columns: "id BIGINT, name VARCHAR, amount DOUBLE PRECISION"},
		{name: "delimiter and null strings", file: "semi.csv", csv: warehouse.CSVOptions{Delimiter: ";", NullValues: []string{"NA"}}, loaded: 2, columns: "a BIGINT, b VARCHAR"},
		{name: "unsniffable file is read as text", file: "unsniffable.csv", loaded: 0, columns: "id VARCHAR, name VARCHAR"},
		{name: "no header takes schema names", file: "noheader.csv", sch: testSchema, csv: warehouse.CSVOptions{NoHeader: true}, loaded: 2, columns: "id BIGINT, name VARCHAR, amount DOUBLE PRECISION"},
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
			defer w.Discard(ctx, st)
			if st.Loaded != tc.loaded || columnList(st) != tc.columns {
				t.Fatalf("loaded %d columns %q, want %d %q", st.Loaded, columnList(st), tc.loaded, tc.columns)
			}
		})
	}
}

func TestCommitEvolvesTheTargetSchema(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	if _, err := w.pool.Exec(ctx, `CREATE TABLE `+w.target("t")+` (id INTEGER NOT NULL, note TEXT NOT NULL DEFAULT 'x')`); err != nil {
		t.Fatal(err)
	}
	st, err := w.Stage(ctx, spec("good.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	res := commit(t, w, warehouse.CommitSpec{RunID: "r", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}})
	if got := fmt.Sprint(res.SchemaChanges); got != "[{id widened INTEGER BIGINT} {name added  VARCHAR} {amount added  DOUBLE PRECISION} {note widened VARCHAR NOT NULL VARCHAR}]" {
		t.Fatalf("schema changes %s", got)
	}
	if got := queryStrings(t, w, `SELECT name || coalesce(note, '-') FROM t ORDER BY id`); strings.Join(got, ",") != "a-,b-" {
		t.Fatalf("rows: %v", got)
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
	if got := queryStrings(t, w, `SELECT count(*)::text FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'stage%'`, w.internal); got[0] != "0" {
		t.Fatalf("%s staging tables left", got[0])
	}
}

// TestTwoRunsOfOnePipelineCannotBothCommit: runs of one pipeline that
// overlap cannot both commit; runs of different pipelines commit side by
// side, and one pipeline's commit does not wait for another's.
func TestTwoRunsOfOnePipelineCannotBothCommit(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	a, b := openDSN(t, dsn), openDSN(t, dsn)
	ctx := context.Background()
	stage := func(w *Warehouse, run, pipeline, target string) *warehouse.Staged {
		s := spec("good.csv", format.CSV, testSchema)
		s.RunID, s.Pipeline, s.Target = run, pipeline, target
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	first, second := stage(a, "run-a", "p", "t"), stage(b, "run-b", "p", "t")
	commit(t, a, warehouse.CommitSpec{RunID: "run-a", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{first}})
	_, err := b.Commit(ctx, warehouse.CommitSpec{RunID: "run-b", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{second}})
	if !errors.Is(err, ErrConcurrentRun) {
		t.Fatalf("second run's commit: %v", err)
	}
	if got := queryStrings(t, a, `SELECT count(*)::text FROM t`); got[0] != "2" {
		t.Fatalf("%s rows, want those of one run", got[0])
	}
	// A commit into another target does not wait for a transaction that
	// holds the first target's lock.
	tx, err := a.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", "shp.commit:"+a.schema+".t"); err != nil {
		t.Fatal(err)
	}
	other := stage(b, "run-c", "q", "u")
	waitCtx, cancel := context.WithTimeout(ctx, 10e9)
	defer cancel()
	if _, err := b.Commit(waitCtx, warehouse.CommitSpec{RunID: "run-c", Pipeline: "q", Target: "u", Mode: "append", Objects: []*warehouse.Staged{other}}); err != nil {
		t.Fatalf("another pipeline's commit waited or failed: %v", err)
	}
	// ... while one into the locked target waits.
	blocked := stage(b, "run-d", "p2", "t")
	shortCtx, cancel2 := context.WithTimeout(ctx, 5e8)
	defer cancel2()
	if _, err := b.Commit(shortCtx, warehouse.CommitSpec{RunID: "run-d", Pipeline: "p2", Target: "t", Mode: "append", Objects: []*warehouse.Staged{blocked}}); err == nil {
		t.Fatal("a commit into a locked target did not wait")
	}
}

// TestDropStagingRecoversFromACrash: the staging tables of a process
// that died are dropped by the next DropStaging; those of a live process,
// and this process's in use, are not.
func TestDropStagingRecoversFromACrash(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	live := openDSN(t, dsn)
	ctx := context.Background()
	dead, err := Open(ctx, Config{DSN: dsn, InternalSchema: live.internal})
	if err != nil {
		t.Fatal(err)
	}
	stDead, err := dead.Stage(ctx, spec("good.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	stLive, err := live.Stage(ctx, spec("good.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	// Another process that is alive keeps its tables.
	if err := live.DropStaging(ctx); err != nil {
		t.Fatal(err)
	}
	count := func() string {
		return queryStrings(t, live, `SELECT count(*)::text FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'stage%'`, live.internal)[0]
	}
	if got := count(); got != "4" {
		t.Fatalf("%s staging tables, want 4", got)
	}
	dead.Close() // the process dies: its connections close
	// The server ends the dead process's session a moment after its
	// connections close; until then the process still looks alive.
	got := ""
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if err := live.DropStaging(ctx); err != nil {
			t.Fatal(err)
		}
		if got = count(); got == "2" || time.Now().After(deadline) {
			break
		}
	}
	if got != "2" {
		t.Fatalf("%s staging tables after the crash, want the live one's 2", got)
	}
	_ = stDead
	if _, err := live.SetAside(ctx, "run-1", "p", []*warehouse.Staged{stLive}); err != nil {
		t.Fatal(err)
	}
	if err := live.DropStaging(ctx); err != nil {
		t.Fatal(err)
	}
	if got := count(); got != "0" {
		t.Fatalf("%s staging tables after the run was abandoned", got)
	}
}

func TestSetAsideAndQuarantinedRows(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	n, err := w.SetAside(ctx, "run-1", "p", []*warehouse.Staged{st})
	if err != nil || n != 4 {
		t.Fatalf("set aside %d %v", n, err)
	}
	rows, err := w.QuarantinedRows(ctx, "run-1", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var obj, reason, raw, state string
		var line *int64
		if err := rows.Scan(&obj, &line, &reason, &raw, &state); err != nil {
			t.Fatal(err)
		}
		got = append(got, fmt.Sprintf("%s:%d %s", obj, *line, state))
	}
	rows.Close()
	if strings.Join(got, ",") != "defects.csv:3 not committed,defects.csv:4 not committed,defects.csv:6 not committed,defects.csv:7 not committed" {
		t.Fatalf("set aside %v", got)
	}
	// A later commit of the object supersedes them.
	st, err = w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	commit(t, w, warehouse.CommitSpec{RunID: "run-2", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}})
	if got := queryStrings(t, w, `SELECT count(*)::text FROM `+w.setAsideTable()); got[0] != "0" {
		t.Fatalf("%s set-aside rows after the commit", got[0])
	}
}

func TestInspector(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	st, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	rej, err := w.Rejects(ctx, st)
	if err != nil || fmt.Sprint(rej) != "[{cast amount 1} {encoding  1} {other  2}]" {
		t.Fatalf("rejects %v %v", rej, err)
	}
	vals, err := w.RejectedValues(ctx, st, "amount", 10)
	if err != nil || fmt.Sprint(vals) != "[xx]" {
		t.Fatalf("rejected values %v %v", vals, err)
	}
	n, err := w.QuarantineWhere(ctx, st, `name = $1`, []any{"a"}, "rule failed")
	if err != nil || n != 1 || st.Loaded != 2 || st.Quarantined != 5 {
		t.Fatalf("quarantine where: %d %v (%d, %d)", n, err, st.Loaded, st.Quarantined)
	}
	if got := queryStrings(t, w, `SELECT coalesce(line::text, 'NULL') || ' ' || reason || ' ' || raw FROM `+w.staging(st.Table+"_q")+` WHERE reason = 'rule failed'`); got[0] != `NULL rule failed {"id":1,"name":"a","amount":1.5}` {
		t.Fatalf("quarantined by rule: %v", got)
	}
	m, err := w.BatchMetrics(ctx, st, "ID")
	if err != nil || m.Rows != 2 || m.NonNull["name"] != 2 || m.EventColumn != "id" || !m.EventNotTime {
		t.Fatalf("metrics %+v %v", m, err)
	}
	commit(t, w, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}})
	again, err := w.Stage(ctx, spec("defects.csv", format.CSV, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.RepeatedRows(ctx, again, "t"); err != nil || n != 2 {
		t.Fatalf("repeated rows %d %v", n, err)
	}
	if share, err := w.Overlap(ctx, spec("good.csv", format.CSV, testSchema), "name", "name"); err != nil || share != 0 {
		t.Fatalf("overlap %v %v", share, err)
	}
	if share, err := w.Overlap(ctx, spec("defects.csv", format.CSV, testSchema), "name", "name"); err != nil || share != 0.4 {
		t.Fatalf("overlap %v %v", share, err)
	}
	if share, err := w.Overlap(ctx, spec("defects.csv", format.CSV, testSchema), "name", "nope"); err != nil || share != -1 {
		t.Fatalf("overlap with a missing column %v %v", share, err)
	}
	if err := w.Discard(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got := w.Dialect().Name(); got != "postgres" {
		t.Fatalf("dialect %s", got)
	}
}
