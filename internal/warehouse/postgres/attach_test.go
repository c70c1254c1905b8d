package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse"
)

// persistence is a table's relpersistence ('p' logged, 'u' unlogged), ""
// when there is no such table.
func persistence(t *testing.T, w *Warehouse, table string) string {
	t.Helper()
	var p *string
	if err := w.pool.QueryRow(context.Background(), "SELECT (SELECT relpersistence::text FROM pg_class WHERE oid = to_regclass($1))", table).Scan(&p); err != nil {
		t.Fatal(err)
	}
	if p == nil {
		return ""
	}
	return *p
}

// attached reports whether the target is a staging table put in place:
// it keeps shp's row number as a dropped column.
func attached(t *testing.T, w *Warehouse, target string) bool {
	t.Helper()
	var n int
	if err := w.pool.QueryRow(context.Background(), "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass($1) AND attisdropped", w.target(target)).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func stageAs(t *testing.T, w *Warehouse, file, run string, sch schema.Schema) *warehouse.Staged {
	t.Helper()
	s := spec(file, format.CSV, sch)
	s.RunID = run
	st, err := w.Stage(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func one(t *testing.T, w *Warehouse, q string, args ...any) string {
	t.Helper()
	got := queryStrings(t, w, q, args...)
	if len(got) != 1 {
		t.Fatalf("%s: %v", q, got)
	}
	return got[0]
}

func TestNewTargetIsTheStagedTable(t *testing.T) {
	w := open(t)
	st := stageAs(t, w, "defects.csv", "r1", testSchema)
	if p := persistence(t, w, w.staging(st.Table)); p != "p" {
		t.Fatalf("staging table of a new target: relpersistence %q, want logged", p)
	}
	// Validation moves a row to the quarantine before the commit.
	if n, err := w.QuarantineWhere(context.Background(), st, `"name" = 'g'`, nil, "rule: no g"); err != nil || n != 1 {
		t.Fatalf("quarantine where: %d %v", n, err)
	}
	res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || res.Quarantined != 5 || st.Loaded != 2 {
		t.Fatalf("result %+v, loaded %d", *res, st.Loaded)
	}
	if !attached(t, w, "t") || persistence(t, w, w.target("t")) != "p" {
		t.Fatal("the target was not attached, or is not logged")
	}
	if got := strings.Join(queryStrings(t, w, `SELECT id || '=' || amount FROM t ORDER BY id`), ","); got != "1=1.5,4=2" {
		t.Fatalf("target rows %s", got)
	}
	if got := one(t, w, `SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_schema = $1 AND table_name = 't'`, w.schema); got != "id bigint, name character varying, amount double precision" {
		t.Fatalf("target columns %s", got)
	}
	if got := one(t, w, `SELECT count(*)::text FROM t__quarantine`); got != "5" {
		t.Fatalf("quarantine rows %s", got)
	}
	if got := one(t, w, `SELECT count(*)::text FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'stage%'`, w.internal); got != "0" {
		t.Fatalf("%s staging tables left", got)
	}
	// The next run appends to the target it made, from an unlogged table.
	st = stageAs(t, w, "good.csv", "r2", testSchema)
	if p := persistence(t, w, w.staging(st.Table)); p != "u" {
		t.Fatalf("staging table of an existing target: relpersistence %q, want unlogged", p)
	}
	res = commit(t, w, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || one(t, w, `SELECT count(*)::text FROM t`) != "4" {
		t.Fatalf("second append: %+v", *res)
	}
	if ledger, err := w.LoadedObjects(context.Background(), "p"); err != nil || len(ledger) != 2 {
		t.Fatalf("ledger %v %v", ledger, err)
	}
}

func TestExistingTargetKeepsWhatTheUserMade(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	for _, q := range []string{
		`CREATE TABLE t (id BIGINT NOT NULL CHECK (id > 0), name TEXT, amount DOUBLE PRECISION)`,
		`CREATE UNIQUE INDEX t_id ON t (id)`,
		`GRANT SELECT ON t TO PUBLIC`,
		`COMMENT ON TABLE t IS 'made by hand'`,
	} {
		if _, err := w.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	oid := one(t, w, `SELECT to_regclass('t')::oid::text`)
	st := stageAs(t, w, "good.csv", "r1", testSchema)
	if p := persistence(t, w, w.staging(st.Table)); p != "u" {
		t.Fatalf("staging table of an existing target: relpersistence %q, want unlogged", p)
	}
	res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeReplace, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || one(t, w, `SELECT count(*)::text FROM t`) != "2" {
		t.Fatalf("result %+v", *res)
	}
	if attached(t, w, "t") || one(t, w, `SELECT to_regclass('t')::oid::text`) != oid {
		t.Fatal("the existing target was replaced")
	}
	if got := one(t, w, `SELECT (SELECT count(*) FROM pg_index WHERE indrelid = 't'::regclass) || ' ' ||
		(SELECT count(*) FROM pg_constraint WHERE conrelid = 't'::regclass AND contype = 'c') || ' ' ||
		has_table_privilege('public', 't', 'SELECT') || ' ' || obj_description('t'::regclass, 'pg_class')`); got != "1 1 true made by hand" {
		t.Fatalf("index, check, grant, comment: %s", got)
	}
}

// failLedger makes every insert into the load ledger fail until the
// returned function is called.
func failLedger(t *testing.T, w *Warehouse) func() {
	t.Helper()
	ctx := context.Background()
	fn := qualified(w.internal, "fail_ledger")
	for _, q := range []string{
		`CREATE FUNCTION ` + fn + `() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'ledger refused'; END $$`,
		`CREATE TRIGGER fail_ledger BEFORE INSERT ON ` + w.ledger() + ` FOR EACH ROW EXECUTE FUNCTION ` + fn + `()`,
	} {
		if _, err := w.pool.Exec(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		if _, err := w.pool.Exec(ctx, `DROP TRIGGER fail_ledger ON `+w.ledger()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFailedCommitLeavesTheTarget(t *testing.T) {
	ctx := context.Background()
	t.Run("new target", func(t *testing.T) {
		w := open(t)
		restore := failLedger(t, w)
		st := stageAs(t, w, "good.csv", "r1", testSchema)
		_, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
		if err == nil || !strings.Contains(err.Error(), "ledger refused") {
			t.Fatalf("commit: %v", err)
		}
		if p := persistence(t, w, w.target("t")); p != "" {
			t.Fatal("a failed commit left a target")
		}
		if p := persistence(t, w, w.target("t__quarantine")); p != "" {
			t.Fatal("a failed commit left a quarantine table")
		}
		if got := one(t, w, `SELECT count(*)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname IN ($1, $2) AND relname LIKE 'stage%'`, w.schema, w.internal); got != "0" {
			t.Fatalf("%s staging tables left", got)
		}
		// The retry of the run stages and attaches again.
		restore()
		st = stageAs(t, w, "good.csv", "r1", testSchema)
		res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
		if res.Inserted != 2 || !attached(t, w, "t") || one(t, w, `SELECT count(*)::text FROM t`) != "2" {
			t.Fatalf("retry: %+v", *res)
		}
	})
	t.Run("existing target", func(t *testing.T) {
		w := open(t)
		st := stageAs(t, w, "good.csv", "r1", testSchema)
		commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
		before := one(t, w, `SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM t`)
		restore := failLedger(t, w)
		defer restore()
		for _, mode := range []string{warehouse.ModeAppend, warehouse.ModeReplace} {
			st = stageAs(t, w, "good.csv", "r2", testSchema)
			if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "r2", Pipeline: "p", Target: "t", Mode: mode, Objects: []*warehouse.Staged{st}}); err == nil {
				t.Fatalf("%s: the commit did not fail", mode)
			}
			if got := one(t, w, `SELECT string_agg(id || '=' || name, ',' ORDER BY id) FROM t`); got != before {
				t.Fatalf("%s: target %s after a failed commit, was %s", mode, got, before)
			}
		}
	})
}

func TestNewTargetFromSeveralObjects(t *testing.T) {
	ctx := context.Background()
	narrow := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "name", Type: "STRING"}}
	for _, tc := range []struct {
		name     string
		first    schema.Schema
		mode     string
		rebuild  bool
		attached bool
	}{
		{"same columns", testSchema, warehouse.ModeAppend, false, true},
		{"replace", testSchema, warehouse.ModeReplace, false, true},
		{"full refresh", testSchema, warehouse.ModeAppend, true, true},
		// The second object adds a column: the target is made and filled
		// by INSERT.
		{"a later object adds a column", narrow, warehouse.ModeAppend, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := open(t)
			a := stageAs(t, w, "good.csv", "r1", tc.first)
			b := stageAs(t, w, "good.csv", "r1", testSchema)
			if persistence(t, w, w.staging(a.Table)) != "p" || persistence(t, w, w.staging(b.Table)) != "u" {
				t.Fatal("only the first object of a new target is staged logged")
			}
			b.ObjectKey = "again.csv"
			res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: tc.mode, Rebuild: tc.rebuild, Objects: []*warehouse.Staged{a, b}})
			if res.Inserted != 4 || one(t, w, `SELECT count(*)::text FROM t`) != "4" {
				t.Fatalf("result %+v", *res)
			}
			if got := attached(t, w, "t"); got != tc.attached {
				t.Fatalf("attached %v, want %v", got, tc.attached)
			}
			if got := one(t, w, `SELECT count(amount)::text FROM t`); got != map[bool]string{true: "4", false: "2"}[tc.attached] {
				t.Fatalf("%s amounts", got)
			}
			if ledger, err := w.LoadedObjects(ctx, "p"); err != nil || len(ledger) != 2 {
				t.Fatalf("ledger %v %v", ledger, err)
			}
		})
	}
	t.Run("merge", func(t *testing.T) {
		w := open(t)
		s := spec("good.csv", format.CSV, testSchema)
		s.Key = []string{"id"}
		st, err := w.Stage(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		if persistence(t, w, w.staging(st.Table)) != "u" {
			t.Fatal("a merge's staging table is logged")
		}
		res := commit(t, w, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: warehouse.ModeMerge, Key: []string{"id"}, Objects: []*warehouse.Staged{st}})
		if res.Inserted != 2 || attached(t, w, "t") {
			t.Fatalf("merge: %+v", *res)
		}
	})
}

func TestNewTargetWithInternalSchemaShared(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	sch := cfg.RuntimeParams["search_path"]
	w, err := Open(context.Background(), Config{DSN: dsn, InternalSchema: sch})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	st := stageAs(t, w, "good.csv", "r1", testSchema)
	res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || !attached(t, w, "t") || one(t, w, `SELECT count(*)::text FROM t`) != "2" {
		t.Fatalf("result %+v", *res)
	}
}

// A default privilege on the targets' schema would be lost by a table
// made elsewhere: the target is then made and filled by INSERT.
func TestNewTargetTakesTheSchemasDefaultPrivileges(t *testing.T) {
	w := open(t)
	if _, err := w.pool.Exec(context.Background(), "ALTER DEFAULT PRIVILEGES IN SCHEMA "+ident(w.schema)+" GRANT SELECT ON TABLES TO PUBLIC"); err != nil {
		t.Fatal(err)
	}
	st := stageAs(t, w, "good.csv", "r1", testSchema)
	res := commit(t, w, warehouse.CommitSpec{RunID: "r1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || attached(t, w, "t") {
		t.Fatalf("result %+v, attached %v", *res, attached(t, w, "t"))
	}
	if one(t, w, `SELECT has_table_privilege('public', 't', 'SELECT')::text`) != "true" {
		t.Fatal("the target lacks the schema's default privilege")
	}
}

// JSON staging tables also keep each record's line: it is dropped too.
func TestNewTargetFromJSON(t *testing.T) {
	w := open(t)
	st, err := w.Stage(context.Background(), spec("mixed.jsonl", format.JSONL, testSchema))
	if err != nil {
		t.Fatal(err)
	}
	res := commit(t, w, warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: warehouse.ModeAppend, Objects: []*warehouse.Staged{st}})
	if res.Inserted != 2 || res.Quarantined != 3 || !attached(t, w, "t") {
		t.Fatalf("result %+v", *res)
	}
	if got := one(t, w, `SELECT count(*) || ' ' || string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 't'::regclass AND attnum > 0 AND NOT attisdropped`); got != "3 id,name,amount" {
		t.Fatalf("columns %s", got)
	}
	if got := strings.Join(queryStrings(t, w, `SELECT id::text FROM t ORDER BY id`), ","); got != "1,3" {
		t.Fatalf("ids %s", got)
	}
}
