package sqlplan

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// testLeaf converts in the database (as DuckDB does) unless strict,
// when it refuses the values "bad" and 99 (as PostgreSQL's Go
// conversion refuses what a column cannot hold).
type testLeaf struct {
	quality.Dialect
	strict bool
}

func (l testLeaf) Value(c warehouse.Column, v any) (string, any, bool) {
	if l.strict {
		if v == "bad" || v == 99 {
			return "", nil, false
		}
		return "?::" + c.Type, fmt.Sprint(v), true
	}
	return "TRY_CAST(? AS " + c.Type + ")", v, true
}
func (testLeaf) RowID() string { return "rowid" }
func (testLeaf) PartitionKey(c warehouse.Column, q string) string {
	if c.Type == "FLOAT64" {
		return "CAST(" + q + " AS STRING)"
	}
	return q
}
func (testLeaf) RowJSON(alias string, cols []warehouse.Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		if alias != "" {
			names[i] = alias + "." + c.Name
		}
	}
	return "json(" + strings.Join(names, ", ") + ")"
}
func (testLeaf) Matches(table, column, pattern string) string {
	return "matches(" + table + ", " + column + ", " + pattern + ") x"
}
func (testLeaf) ByteOrder(expr string) string { return expr + " BYTES" }

var (
	duck = testLeaf{Dialect: quality.DuckDB}
	pg   = testLeaf{Dialect: quality.Postgres, strict: true}
	cols = []warehouse.Column{{Name: "id", Type: "BIGINT"}, {Name: "Region", Type: "VARCHAR"}, {Name: "f", Type: "FLOAT64"}}
)

func TestPredicate(t *testing.T) {
	for _, tc := range []struct {
		name string
		l    Leaf
		p    warehouse.Predicate
		sql  string
		args []any
		err  string
	}{
		{"nil", duck, nil, "TRUE", nil, ""},
		{"is null, case folded", duck, warehouse.IsNull{Column: "region"}, `"Region" IS NULL`, nil, ""},
		{"eq", duck, warehouse.Eq{Column: "id", Value: 7}, `"id" = TRY_CAST(? AS BIGINT)`, []any{7}, ""},
		{"eq refused", pg, warehouse.Eq{Column: "id", Value: "bad"}, `"id" = NULL`, nil, ""},
		{"in", duck, warehouse.In{Column: "id", Values: []any{1, 2}}, `"id" IN (TRY_CAST(? AS BIGINT), TRY_CAST(? AS BIGINT))`, []any{1, 2}, ""},
		{"in empty", duck, warehouse.In{Column: "id"}, "FALSE", nil, ""},
		{"in all refused", pg, warehouse.In{Column: "id", Values: []any{"bad"}}, `"id" = NULL`, nil, ""},
		{"in some refused", pg, warehouse.In{Column: "id", Values: []any{"bad", 3}}, `"id" IN (?::BIGINT, NULL)`, []any{"3"}, ""},
		{"not", duck, warehouse.Not{Of: warehouse.IsNull{Column: "id"}}, `NOT ("id" IS NULL)`, nil, ""},
		{"not nothing", duck, warehouse.Not{}, "", nil, "Not of nothing"},
		{"and", duck, warehouse.And{warehouse.IsNull{Column: "id"}, warehouse.Eq{Column: "id", Value: 1}},
			`("id" IS NULL) AND ("id" = TRY_CAST(? AS BIGINT))`, []any{1}, ""},
		{"or", duck, warehouse.Or{warehouse.Eq{Column: "id", Value: 1}, warehouse.Eq{Column: "id", Value: 2}},
			`("id" = TRY_CAST(? AS BIGINT)) OR ("id" = TRY_CAST(? AS BIGINT))`, []any{1, 2}, ""},
		{"empty and", duck, warehouse.And{}, "TRUE", nil, ""},
		{"empty or", duck, warehouse.Or{}, "FALSE", nil, ""},
		{"no column", duck, warehouse.Eq{Column: "x"}, "", nil, `no column "x" in the staged rows`},
		{"no column in", duck, warehouse.In{Column: "x"}, "", nil, `no column "x"`},
		{"no column is null", duck, warehouse.IsNull{Column: "x"}, "", nil, `no column "x"`},
		{"no column below not", duck, warehouse.Not{Of: warehouse.IsNull{Column: "x"}}, "", nil, `no column "x"`},
		{"no column in or", duck, warehouse.Or{warehouse.IsNull{Column: "x"}}, "", nil, `no column "x"`},
		{"unknown", duck, odd{}, "", nil, "unknown predicate sqlplan.odd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Predicate(tc.l, tc.p, cols)
			if wantErr(t, err, tc.err) {
				return
			}
			if f.SQL != tc.sql || !reflect.DeepEqual(f.Args, tc.args) {
				t.Fatalf("got %q %v, want %q %v", f.SQL, f.Args, tc.sql, tc.args)
			}
		})
	}
}

// wantErr fails t unless err is the error wanted (one whose text holds
// want), or nil when want is "", and says whether it was an error.
func wantErr(t *testing.T, err error, want string) bool {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Fatalf("unexpected error %v", err)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Fatalf("error %v, want one with %q", err, want)
	}
	return err != nil
}

// odd is a predicate and a repair the compiler does not know.
type odd struct{ warehouse.Predicate }

type oddOp struct{ warehouse.RepairOp }

func TestCompile(t *testing.T) {
	mapping := warehouse.MapValues{Column: "region", Trim: true, FoldCase: true, Mapping: map[string]string{"emea": "EMEA", "apac": "APAC"}}
	for _, tc := range []struct {
		name     string
		l        Leaf
		op       warehouse.RepairOp
		column   string
		set      Frag
		where    Frag
		sample   string
		fits     []any
		err      string
		notFit   bool
		rewrites bool
	}{
		{name: "map values", l: duck, op: mapping, column: `"Region"`, rewrites: true,
			set: Frag{`(CASE lower(trim(CAST("Region" AS VARCHAR))) WHEN lower(trim(CAST(? AS VARCHAR))) THEN TRY_CAST(? AS VARCHAR) WHEN lower(trim(CAST(? AS VARCHAR))) THEN TRY_CAST(? AS VARCHAR) END)`,
				[]any{"apac", "APAC", "emea", "EMEA"}},
			where: Frag{`"Region" IS NOT NULL AND lower(trim(CAST("Region" AS VARCHAR))) IN (lower(trim(CAST(? AS VARCHAR))), lower(trim(CAST(? AS VARCHAR)))) AND "Region" IS DISTINCT FROM ` +
				`(CASE lower(trim(CAST("Region" AS VARCHAR))) WHEN lower(trim(CAST(? AS VARCHAR))) THEN TRY_CAST(? AS VARCHAR) WHEN lower(trim(CAST(? AS VARCHAR))) THEN TRY_CAST(? AS VARCHAR) END)`,
				[]any{"apac", "emea", "apac", "APAC", "emea", "EMEA"}},
			fits: []any{"APAC", "EMEA"}},
		{name: "map values as is", l: pg, op: warehouse.MapValues{Column: "id", Mapping: map[string]string{"one": "1"}}, column: `"id"`, rewrites: true,
			set: Frag{`(CASE CAST("id" AS TEXT) WHEN CAST(? AS TEXT) THEN ?::BIGINT END)`, []any{"one", "1"}},
			where: Frag{`"id" IS NOT NULL AND CAST("id" AS TEXT) IN (CAST(? AS TEXT)) AND "id" IS DISTINCT FROM (CASE CAST("id" AS TEXT) WHEN CAST(? AS TEXT) THEN ?::BIGINT END)`,
				[]any{"one", "one", "1"}},
			fits: []any{"1"}},
		{name: "map value that does not fit", l: pg, op: warehouse.MapValues{Column: "id", Mapping: map[string]string{"one": "bad"}}, notFit: true,
			err: `bad is not a BIGINT (column id)`},
		{name: "map values of no column", l: duck, op: warehouse.MapValues{Column: "x", Mapping: map[string]string{"a": "b"}}, err: `no column "x"`},
		{name: "empty mapping", l: duck, op: warehouse.MapValues{Column: "id"}, err: "map values of id: the mapping is empty"},
		{name: "fill default", l: duck, op: warehouse.FillDefault{Column: "ID", Value: 0}, column: `"id"`, rewrites: true,
			set: Frag{`TRY_CAST(? AS BIGINT)`, []any{0}}, where: Frag{SQL: `"id" IS NULL`}, fits: []any{0}},
		{name: "fill default that does not fit", l: pg, op: warehouse.FillDefault{Column: "id", Value: 99}, notFit: true, err: "99 is not a BIGINT (column id)"},
		{name: "fill default of no column", l: duck, op: warehouse.FillDefault{Column: "x"}, err: `no column "x"`},
		{name: "dedupe", l: duck, op: warehouse.QuarantineDuplicates{Keys: []string{"id", "f"}, Reason: "dup"},
			where:  Frag{SQL: `rowid IN (SELECT shp_rid FROM (SELECT rowid AS shp_rid, row_number() OVER (PARTITION BY "id", CAST("f" AS STRING) ORDER BY rowid DESC) AS shp_rn FROM stg WHERE "id" IS NOT NULL AND "f" IS NOT NULL) shp_d WHERE shp_rn > 1)`},
			sample: `CAST("id" AS VARCHAR) || '|' || CAST("f" AS VARCHAR)`},
		{name: "dedupe without keys", l: duck, op: warehouse.QuarantineDuplicates{Reason: "dup"}, err: "de-duplicate: no key columns"},
		{name: "dedupe without reason", l: duck, op: warehouse.QuarantineDuplicates{Keys: []string{"id"}}, err: "de-duplicate: no reason"},
		{name: "dedupe of no column", l: duck, op: warehouse.QuarantineDuplicates{Keys: []string{"x"}, Reason: "r"}, err: `no column "x"`},
		{name: "quarantine", l: duck, op: warehouse.Quarantine{Where: warehouse.Eq{Column: "id", Value: 1}, Reason: "r"},
			where: Frag{`"id" = TRY_CAST(? AS BIGINT)`, []any{1}}, sample: "json(id, Region, f)"},
		{name: "quarantine all", l: duck, op: warehouse.Quarantine{Reason: "r"}, err: "quarantine: no condition"},
		{name: "quarantine without reason", l: duck, op: warehouse.Quarantine{Where: warehouse.IsNull{Column: "id"}}, err: "quarantine: no reason"},
		{name: "quarantine of no column", l: duck, op: warehouse.Quarantine{Where: warehouse.IsNull{Column: "x"}, Reason: "r"}, err: `no column "x"`},
		{name: "nothing", l: duck, op: nil, err: "no repair operation"},
		{name: "unknown", l: duck, op: oddOp{}, err: "unknown repair operation sqlplan.oddOp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := Compile(tc.l, tc.op, "stg", cols)
			if errors.Is(err, warehouse.ErrValueDoesNotFit) != tc.notFit {
				t.Fatalf("err = %v: ErrValueDoesNotFit %v, want %v", err, !tc.notFit, tc.notFit)
			}
			if wantErr(t, err, tc.err) {
				return
			}
			if o.Column != tc.column || o.Rewrites() != tc.rewrites {
				t.Errorf("column %q (rewrites %v), want %q", o.Column, o.Rewrites(), tc.column)
			}
			if !reflect.DeepEqual(o.Set, tc.set) {
				t.Errorf("set\n got %#v\nwant %#v", o.Set, tc.set)
			}
			if !reflect.DeepEqual(o.Where, tc.where) {
				t.Errorf("where\n got %#v\nwant %#v", o.Where, tc.where)
			}
			if !reflect.DeepEqual(o.Fits, tc.fits) {
				t.Errorf("fits %v, want %v", o.Fits, tc.fits)
			}
			sample := Frag{SQL: tc.sample}
			if tc.rewrites {
				sample = Frag{SQL: o.Column + ", " + o.Set.SQL, Args: o.Set.Args}
			}
			if !reflect.DeepEqual(o.Sample, sample) {
				t.Errorf("sample %#v, want %#v", o.Sample, sample)
			}
		})
	}
}

func TestBind(t *testing.T) {
	for _, tc := range []struct {
		name string
		d    quality.Dialect
		sql  string
		from int
		want string
	}{
		{"question marks stay", quality.DuckDB, "a = ? AND b IN (?, ?)", 1, "a = ? AND b IN (?, ?)"},
		{"numbered", quality.Postgres, "a = ? AND b IN (?, ?)", 1, "a = $1 AND b IN ($2, $3)"},
		{"numbered from", quality.Postgres, "a = ?", 4, "a = $4"},
		{"none", quality.Postgres, "SELECT 1", 1, "SELECT 1"},
		{"named", named{quality.Postgres}, "a = ? OR b = ?", 1, "a = @p1 OR b = @p2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := BindFrom(tc.d, tc.sql, tc.from)
			if tc.from == 1 && Bind(tc.d, tc.sql) != got {
				t.Fatalf("Bind and BindFrom(1) differ")
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// named numbers its parameters as GoogleSQL's named ones.
type named struct{ quality.Dialect }

func (named) Placeholder(n int) string { return fmt.Sprintf("@p%d", n) }

func TestStatements(t *testing.T) {
	fill, err := Compile(duck, warehouse.FillDefault{Column: "id", Value: 0}, "stg", cols)
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(duck, warehouse.Quarantine{Where: warehouse.Eq{Column: "id", Value: 5}, Reason: "r"}, "stg", cols)
	if err != nil {
		t.Fatal(err)
	}
	keep := cols[:2]
	for _, tc := range []struct {
		name string
		got  Frag
		want Frag
	}{
		{"count", Count("stg", Frag{"a = ?", []any{1}}), Frag{"SELECT count(*) FROM stg WHERE a = ?", []any{1}}},
		{"sample a rewrite", Sample(duck, "stg", fill, 3),
			Frag{`SELECT "id", TRY_CAST(? AS BIGINT) FROM stg WHERE "id" IS NULL ORDER BY rowid LIMIT ?`, []any{0, 3}}},
		{"sample a set-aside", Sample(duck, "stg", set, 2),
			Frag{`SELECT json(id, Region, f) FROM stg WHERE "id" = TRY_CAST(? AS BIGINT) ORDER BY rowid LIMIT ?`, []any{5, 2}}},
		{"distinct", Distinct(duck, "stg", `"id"`, 10),
			Frag{`SELECT CAST("id" AS VARCHAR) AS v, count(*) AS n FROM stg WHERE "id" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, CAST("id" AS VARCHAR) BYTES LIMIT ?`, []any{10}}},
		{"save originals", SaveOriginals(duck, "stg", fill), Frag{`SELECT rowid AS shp_rid, "id" AS shp_old FROM stg WHERE "id" IS NULL`, nil}},
		{"rewrite", Rewrite(duck, "stg", "orig", fill), Frag{`UPDATE stg SET "id" = TRY_CAST(? AS BIGINT) WHERE rowid IN (SELECT shp_rid FROM orig)`, []any{0}}},
		{"undo", Frag{SQL: Undo(duck, "stg", "orig", `"id"`)}, Frag{SQL: `UPDATE stg AS t SET "id" = o.shp_old FROM orig o WHERE t.rowid = o.shp_rid`}},
		{"keep originals", Frag{SQL: KeepOriginals(duck, "kept", "stg", "orig", keep)},
			Frag{SQL: `INSERT INTO kept SELECT ?, ?, CAST(o.shp_old AS VARCHAR), json(t.id, t.Region) FROM stg t JOIN orig o ON t.rowid = o.shp_rid`}},
		{"return rescued", Frag{SQL: ReturnRescued("q", "resc")}, Frag{SQL: `INSERT INTO q (run_id, pipeline, source_object, line, reason, raw)
		SELECT ?, ?, object_key, line, reason || ?, raw FROM resc WHERE token = ? AND repaired_row IS NULL ORDER BY line`}},
		{"return rescued at", Frag{SQL: ReturnRescuedAt("q", "resc", "now()")}, Frag{SQL: `INSERT INTO q (run_id, pipeline, source_object, line, reason, raw, quarantined_at)
		SELECT ?, ?, object_key, line, reason || ?, raw, now() FROM resc WHERE token = ? AND repaired_row IS NULL ORDER BY line`}},
		{"rescued rows", Frag{SQL: RescuedRows(duck, "b", "a", `"id"`, keep[:1])}, Frag{SQL: `SELECT "id", a.__shp_j FROM (
			SELECT x.*, row_number() OVER (PARTITION BY x.__shp_j) AS __shp_n FROM (SELECT "id", json(id) AS __shp_j FROM a) x) a
		LEFT JOIN (
			SELECT y.__shp_j, row_number() OVER (PARTITION BY y.__shp_j) AS __shp_n FROM (SELECT json(id) AS __shp_j FROM b) y) b
		ON a.__shp_j = b.__shp_j AND a.__shp_n = b.__shp_n
		WHERE b.__shp_j IS NULL`}},
		{"keep rescued lines", Frag{SQL: KeepRescuedLines("resc", "bq", "aq")}, Frag{SQL: `INSERT INTO resc (token, object_key, line, reason, raw)
		SELECT ?, ?, b.line, b.reason, b.raw FROM bq b
		WHERE NOT EXISTS (SELECT 1 FROM aq a WHERE a.line = b.line)`}},
		{"keep rescued rows", Frag{SQL: KeepRescuedRows(duck, "resc", "b", "a", `"id"`, keep[:1])}, Frag{SQL: `INSERT INTO resc (token, object_key, repaired_row)
		SELECT ?, ?, json(r.id) FROM (SELECT "id" FROM a EXCEPT ALL SELECT "id" FROM b) r`}},
		{"rescued keys", Frag{SQL: RescuedKeys("b", "a", `"id"`, "tgt", "t.id = r.id")},
			Frag{SQL: `SELECT count(*) FROM (SELECT "id" FROM a EXCEPT ALL SELECT "id" FROM b) r JOIN tgt t ON t.id = r.id`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !reflect.DeepEqual(tc.got, tc.want) {
				t.Fatalf("\n got %#v\nwant %#v", tc.got, tc.want)
			}
		})
	}
	restore := RestoreOriginals(pg, "tgt", "ctid", "kept", warehouse.Column{Name: "id", Type: "BIGINT"}, keep)
	for _, want := range []string{`UPDATE tgt AS x SET "id" = CAST(m.old_value AS BIGINT)`, `(SELECT s.ctid AS rid, json(s.id, s.Region) AS j, row_number() OVER (PARTITION BY json(s.id, s.Region) ORDER BY s.ctid) AS n FROM tgt AS s) c`,
		`FROM kept WHERE token = ?) k`, `WHERE x.ctid = m.rid`} {
		if !strings.Contains(restore, want) {
			t.Errorf("restore originals lacks %q:\n%s", want, restore)
		}
	}
	remove := RemoveRescued(duck, "tgt", "rowid", "resc", keep)
	for _, want := range []string{`DELETE FROM tgt WHERE rowid IN (`, `SELECT s.rowid AS rid, json(s.id, s.Region) AS j, row_number() OVER (PARTITION BY json(s.id, s.Region)) AS rn FROM tgt AS s`,
		`FROM resc WHERE token = ? AND repaired_row IS NOT NULL GROUP BY repaired_row) o`} {
		if !strings.Contains(remove, want) {
			t.Errorf("remove rescued lacks %q:\n%s", want, remove)
		}
	}
}

func TestColumns(t *testing.T) {
	tcols := []warehouse.Column{{Name: "ID"}, {Name: "name"}, {Name: "Id2"}}
	if got := KeptColumns(tcols, []string{"name", "id", "gone"}); !reflect.DeepEqual(got, []warehouse.Column{{Name: "name"}, {Name: "ID"}}) {
		t.Errorf("kept columns %v", got)
	}
	for _, tc := range []struct {
		name          string
		before, after []warehouse.Column
		quoted, names []string
		ok            bool
	}{
		{"same", cols, cols, []string{`"id"`, `"Region"`, `"f"`}, []string{"id", "Region", "f"}, true},
		{"fewer after", cols, cols[:1], []string{`"id"`}, []string{"id"}, true},
		{"a column added", cols[:1], cols, nil, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, n, ok := RescueColumns(duck, tc.before, tc.after)
			if ok != tc.ok || !reflect.DeepEqual(q, tc.quoted) || !reflect.DeepEqual(n, tc.names) {
				t.Fatalf("got %v %v %v", q, n, ok)
			}
		})
	}
	if c, err := FindColumn([]warehouse.Column{{Name: "a"}, {Name: "A"}}, "A"); err != nil || c.Name != "A" {
		t.Errorf("exact spelling first: %v %v", c, err)
	}
}

// fakeDB answers the shared steps' queries from canned rows, and records
// them.
type fakeDB struct {
	row     []any   // QueryRow's values
	rows    [][]any // Query's rows
	err     error   // QueryRow's and Query's error
	scanErr error   // Rows.Scan's
	rowsErr error   // Rows.Err's
	queries []string
	args    [][]any
	done    int
}

type fakeRow struct {
	vals []any
	err  error
}

func (r fakeRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	return assign(dest, r.vals)
}

func assign(dest, vals []any) error {
	if len(dest) != len(vals) {
		return fmt.Errorf("scan %d values into %d", len(vals), len(dest))
	}
	for i, d := range dest {
		e := reflect.ValueOf(d).Elem()
		if vals[i] == nil {
			e.Set(reflect.Zero(e.Type()))
			continue
		}
		e.Set(reflect.ValueOf(vals[i]))
	}
	return nil
}

type fakeRows struct {
	db *fakeDB
	i  int
}

func (r *fakeRows) Next() bool { r.i++; return r.i <= len(r.db.rows) }
func (r *fakeRows) Scan(dest ...any) error {
	if r.db.scanErr != nil {
		return r.db.scanErr
	}
	return assign(dest, r.db.rows[r.i-1])
}
func (r *fakeRows) Err() error { return r.db.rowsErr }

func (f *fakeDB) QueryRow(_ context.Context, q string, args ...any) Row {
	f.queries, f.args = append(f.queries, q), append(f.args, args)
	return fakeRow{f.row, f.err}
}

func (f *fakeDB) Query(_ context.Context, q string, args ...any) (Rows, func(), error) {
	f.queries, f.args = append(f.queries, q), append(f.args, args)
	if f.err != nil {
		return nil, nil, f.err
	}
	return &fakeRows{db: f}, func() { f.done++ }, nil
}

func TestPreview(t *testing.T) {
	ctx := context.Background()
	fill, _ := Compile(pg, warehouse.FillDefault{Column: "id", Value: 0}, "stg", cols)
	set, _ := Compile(pg, warehouse.Quarantine{Where: warehouse.IsNull{Column: "id"}, Reason: "r"}, "stg", cols)
	boom := errors.New("boom")
	for _, tc := range []struct {
		name          string
		op            *Op
		sample        int
		db            fakeDB
		want          *warehouse.RepairPreview
		queries       []string
		err           string
		before, after bool
	}{
		{name: "rewrite", op: fill, sample: 2, db: fakeDB{row: []any{int64(2)}, rows: [][]any{{nil, "0"}, {nil, "0"}}},
			want:    &warehouse.RepairPreview{Rows: 2, Before: []any{nil, nil}, After: []any{"0", "0"}},
			queries: []string{`SELECT count(*) FROM stg WHERE "id" IS NULL`, `SELECT "id", $1::BIGINT FROM stg WHERE "id" IS NULL ORDER BY rowid LIMIT $2`}},
		{name: "set-aside", op: set, sample: 1, db: fakeDB{row: []any{int64(1)}, rows: [][]any{{"{}"}}},
			want: &warehouse.RepairPreview{Rows: 1, Before: []any{"{}"}}},
		{name: "no sample", op: set, sample: 0, db: fakeDB{row: []any{int64(4)}}, want: &warehouse.RepairPreview{Rows: 4}},
		{name: "no rows", op: set, sample: 5, db: fakeDB{row: []any{int64(0)}}, want: &warehouse.RepairPreview{}},
		{name: "count fails", op: set, sample: 5, db: fakeDB{err: boom}, err: "count the rows it changes: boom"},
		{name: "scan fails", op: set, sample: 5, db: fakeDB{row: []any{int64(1)}, rows: [][]any{{"x"}}, scanErr: boom}, err: "sample the rows it changes: boom"},
		{name: "rows fail", op: set, sample: 5, db: fakeDB{row: []any{int64(1)}, rowsErr: boom}, err: "sample the rows it changes: boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Preview(ctx, &tc.db, pg, "stg", tc.op, tc.sample)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err || !errors.Is(err, boom) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(p, tc.want) {
				t.Fatalf("got %+v, want %+v", p, tc.want)
			}
			if tc.queries != nil && !reflect.DeepEqual(tc.db.queries, tc.queries) {
				t.Fatalf("queries %q, want %q", tc.db.queries, tc.queries)
			}
		})
	}
	// The sample query fails to run.
	q := &failingRows{fakeDB{row: []any{int64(1)}}}
	if _, err := Preview(ctx, q, pg, "stg", set, 1); err == nil || !strings.Contains(err.Error(), "sample the rows it changes") {
		t.Fatalf("err = %v", err)
	}
}

// failingRows answers QueryRow and fails Query.
type failingRows struct{ fakeDB }

func (f *failingRows) Query(context.Context, string, ...any) (Rows, func(), error) {
	return nil, nil, errors.New("no rows")
}

func TestDistinctValues(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	for _, tc := range []struct {
		name string
		db   fakeDB
		want []warehouse.ValueCount
		err  error
	}{
		{"values", fakeDB{rows: [][]any{{"a", int64(3)}, {"b", int64(1)}}}, []warehouse.ValueCount{{Value: "a", Rows: 3}, {Value: "b", Rows: 1}}, nil},
		{"none", fakeDB{}, nil, nil},
		{"query fails", fakeDB{err: boom}, nil, boom},
		{"scan fails", fakeDB{rows: [][]any{{"a", int64(1)}}, scanErr: boom}, nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DistinctValues(ctx, &tc.db, pg, "stg", cols[1], 5)
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, err, tc.want, tc.err)
			}
			if tc.err == nil && tc.db.queries[0] != `SELECT CAST("Region" AS TEXT) AS v, count(*) AS n FROM stg WHERE "Region" IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, CAST("Region" AS TEXT) BYTES LIMIT $1` {
				t.Fatalf("query %q", tc.db.queries[0])
			}
		})
	}
}

func TestRejects(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	qs := RejectQueries(pg, "q")
	if len(qs) != 4 || qs[0].Kind != warehouse.RejectCast || !strings.Contains(qs[0].SQL, "matches(q, reason, '"+CastPattern+"') x GROUP BY c") ||
		!strings.Contains(qs[3].SQL, "WHERE NOT (reason ~ '"+CastPattern+"|NULL: (required|merge key) column|INVALID ENCODING')") {
		t.Fatalf("queries %q", qs)
	}
	for _, tc := range []struct {
		name string
		db   fakeDB
		want []warehouse.Reject
		err  error
	}{
		{"each kind", fakeDB{rows: [][]any{{"a", int64(2)}}}, []warehouse.Reject{
			{Kind: warehouse.RejectCast, Column: "a", Rows: 2}, {Kind: warehouse.RejectNull, Column: "a", Rows: 2},
			{Kind: warehouse.RejectEncoding, Column: "a", Rows: 2}, {Kind: warehouse.RejectOther, Column: "a", Rows: 2}}, nil},
		{"none", fakeDB{}, nil, nil},
		{"query fails", fakeDB{err: boom}, nil, boom},
		{"scan fails", fakeDB{rows: [][]any{{"a", int64(2)}}, scanErr: boom}, nil, boom},
		{"rows fail", fakeDB{rowsErr: boom}, nil, boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rejects(ctx, &tc.db, pg, "q")
			if !errors.Is(err, tc.err) || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %v %v, want %v %v", got, err, tc.want, tc.err)
			}
			if tc.db.done != len(tc.db.queries) && tc.db.err == nil {
				t.Fatalf("%d queries, %d released", len(tc.db.queries), tc.db.done)
			}
		})
	}
}
