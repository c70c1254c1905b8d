package duckdb

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// writeFile writes content into a fresh file and returns a spec for it.
func repairSpec(t *testing.T, name, content string, f format.Format, sch schema.Schema) warehouse.LoadSpec {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return warehouse.LoadSpec{RunID: "run-1", Pipeline: "p", Target: "t", ObjectKey: name, Fingerprint: "fp", Path: p, Format: f, Schema: sch}
}

var eventSchema = schema.Schema{
	{Name: "id", Type: "INT64", Mode: "REQUIRED"},
	{Name: "day", Type: "DATE", Mode: "NULLABLE"},
	{Name: "amount", Type: "FLOAT64", Mode: "NULLABLE"},
}

func commit(t *testing.T, w *Warehouse, st *warehouse.Staged) {
	t.Helper()
	if _, err := w.Commit(context.Background(), warehouse.CommitSpec{RunID: "run-1", Pipeline: "p", Target: "t", Mode: "append", Objects: []*warehouse.Staged{st}}); err != nil {
		t.Fatal(err)
	}
}

func TestAmbiguousDatesAreSetAsideAndRejectedValuesFound(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    format.Format
		data string
	}{
		{"d.csv", format.CSV, "id,day,amount\n1,2026-11-02,1.5\n2,27/11/2026,2\n3,03/04/2026,3\n4,27/11/2026,4\n"},
		{"d.jsonl", format.JSONL, `{"id":1,"day":"2026-11-02","amount":1.5}` + "\n" + `{"id":2,"day":"27/11/2026","amount":2}` + "\n" +
			`{"id":3,"day":"03/04/2026","amount":3}` + "\n" + `{"id":4,"day":"27/11/2026","amount":4}` + "\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := open(t)
			ctx := context.Background()
			st, err := w.Stage(ctx, repairSpec(t, tc.name, tc.data, tc.f, eventSchema))
			if err != nil {
				t.Fatal(err)
			}
			// 03/04/2026 is not read as March 4th on a guess.
			if st.Loaded != 1 || st.Quarantined != 3 {
				t.Fatalf("loaded %d quarantined %d, want 1 and 3", st.Loaded, st.Quarantined)
			}
			rejects, err := w.Rejects(ctx, st)
			if err != nil {
				t.Fatal(err)
			}
			if want := []warehouse.Reject{{Kind: warehouse.RejectCast, Column: "day", Rows: 3}}; !reflect.DeepEqual(rejects, want) {
				t.Fatalf("rejects %+v, want %+v", rejects, want)
			}
			vals, err := w.RejectedValues(ctx, st, "day", 10)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{"03/04/2026", "27/11/2026"}; !reflect.DeepEqual(vals, want) {
				t.Fatalf("values %q, want %q", vals, want)
			}

			// Read with the day-first layout the batch shows, every row loads.
			fixed := repairSpec(t, tc.name, tc.data, tc.f, eventSchema)
			fixed.Parse = map[string]warehouse.ColumnParse{"day": {Layouts: []string{"%d/%m/%Y"}}}
			st2, err := w.Stage(ctx, fixed)
			if err != nil {
				t.Fatal(err)
			}
			if st2.Loaded != 4 || st2.Quarantined != 0 {
				t.Fatalf("repaired: loaded %d quarantined %d, want 4 and 0", st2.Loaded, st2.Quarantined)
			}
			if err := w.Discard(ctx, st); err != nil {
				t.Fatal(err)
			}
			commit(t, w, st2)
			got := queryStrings(t, w, "SELECT id || '=' || CAST(day AS VARCHAR) FROM t ORDER BY id")
			if want := []string{"1=2026-11-02", "2=2026-11-27", "3=2026-04-03", "4=2026-11-27"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("target %q, want %q", got, want)
			}
		})
	}
}

func TestParseEpochDecimalCommaAndLeftovers(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	sch := schema.Schema{{Name: "id", Type: "INT64"}, {Name: "at", Type: "TIMESTAMP"}, {Name: "amount", Type: "NUMERIC", Precision: 12, Scale: 2}}
	sp := repairSpec(t, "e.csv", "id;at;amount\n1;1700000000000;1.234,50\n2;1700000001500;7,25\n3;2026-01-02 03:04:05;oops\n", format.CSV, sch)
	sp.CSV.Delimiter = ";"
	sp.Parse = map[string]warehouse.ColumnParse{"at": {EpochUnit: "ms"}, "amount": {DecimalComma: true}}
	st, err := w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	// "oops" is not a number in any notation: its row is set aside with
	// the reason, and its value is found among the rejected ones.
	if st.Loaded != 2 || st.Quarantined != 1 {
		t.Fatalf("loaded %d quarantined %d, want 2 and 1", st.Loaded, st.Quarantined)
	}
	vals, err := w.RejectedValues(ctx, st, "amount", 10)
	if err != nil || !reflect.DeepEqual(vals, []string{"oops"}) {
		t.Fatalf("rejected %q, %v", vals, err)
	}
	commit(t, w, st)
	got := queryStrings(t, w, "SELECT id || '|' || CAST(\"at\" AS VARCHAR) || '|' || CAST(amount AS VARCHAR) FROM t ORDER BY id")
	if want := []string{"1|2023-11-14 22:13:20+00|1234.50", "2|2023-11-14 22:13:21.5+00|7.25"}; !reflect.DeepEqual(got, want) {
		t.Fatalf("target %q, want %q", got, want)
	}
}

func TestEncodingExtendWidenRelaxRename(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	// Day 1 creates the target.
	st, err := w.Stage(ctx, repairSpec(t, "a.csv", "id,day,amount\n1,2026-01-01,1\n", format.CSV, eventSchema))
	if err != nil {
		t.Fatal(err)
	}
	commit(t, w, st)

	// Day 2: Latin-1 text, a new column, a timestamp in the DATE column,
	// a NULL id and the id column renamed.
	data := "ident,day,amount,city\n2,2026-01-02 10:30:00,2,K\xf6ln\n,2026-01-03,3,Z\xfcrich\n"
	sp := repairSpec(t, "b.csv", data, format.CSV, eventSchema)
	st, err = w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := w.Rejects(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	// The renamed id is missing, so both rows lack a REQUIRED value; the
	// first is set aside for its time of day in the DATE column first (it
	// would be lost in a DATE).
	if want := []warehouse.Reject{{Kind: warehouse.RejectCast, Column: "day", Rows: 1}, {Kind: warehouse.RejectNull, Column: "id", Rows: 1}}; !reflect.DeepEqual(rejects, want) {
		t.Fatalf("rejects %+v, want %+v", rejects, want)
	}
	if err := w.Discard(ctx, st); err != nil {
		t.Fatal(err)
	}
	sp.Encoding = "latin-1"
	st, err = w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	if want := []schema.Field{{Name: "ident", Type: "INT64", Mode: "NULLABLE"}, {Name: "city", Type: "STRING", Mode: "NULLABLE"}}; !reflect.DeepEqual(st.Extra, want) {
		t.Fatalf("extra %+v, want %+v", st.Extra, want)
	}
	if !reflect.DeepEqual(st.Missing, []string{"id"}) {
		t.Fatalf("missing %v", st.Missing)
	}
	if err := w.Discard(ctx, st); err != nil {
		t.Fatal(err)
	}

	sp.Rename = map[string]string{"ident": "id"}
	sp.Extend = []schema.Field{{Name: "city", Type: "STRING", Mode: "NULLABLE"}}
	sp.Widen = map[string]string{"day": "DATETIME"}
	sp.Relax = []string{"id"}
	st, err = w.Stage(ctx, sp)
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 2 || st.Quarantined != 0 || len(st.Extra) != 0 || len(st.Missing) != 0 {
		t.Fatalf("loaded %d quarantined %d extra %v missing %v", st.Loaded, st.Quarantined, st.Extra, st.Missing)
	}
	commit(t, w, st)
	got := queryStrings(t, w, "SELECT coalesce(CAST(id AS VARCHAR), 'NULL') || '|' || CAST(day AS VARCHAR) || '|' || coalesce(city, '-') FROM t ORDER BY day")
	want := []string{"1|2026-01-01 00:00:00|-", "2|2026-01-02 10:30:00|Köln", "NULL|2026-01-03 00:00:00|Zürich"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("target %q, want %q", got, want)
	}
	if typ := queryStrings(t, w, "SELECT data_type FROM information_schema.columns WHERE table_name = 't' AND column_name = 'day'"); typ[0] != "TIMESTAMP" {
		t.Fatalf("day is %s, want TIMESTAMP after widening", typ[0])
	}

	// Day 3 declares the old schema again: the evolved target keeps its
	// column and its wider type, with no drift to report.
	st, err = w.Stage(ctx, repairSpec(t, "c.csv", "id,day,amount,city\n4,2026-01-04 08:00:00,4,Bern\n", format.CSV, eventSchema))
	if err != nil {
		t.Fatal(err)
	}
	if st.Loaded != 1 || len(st.Drift) != 0 {
		t.Fatalf("loaded %d drift %v", st.Loaded, st.Drift)
	}
	if err := w.Discard(ctx, st); err != nil {
		t.Fatal(err)
	}
}

func TestWidens(t *testing.T) {
	for _, tc := range []struct {
		from, to string
		want     bool
	}{
		{"INTEGER", "BIGINT", true}, {"BIGINT", "INTEGER", false}, {"BIGINT", "DOUBLE", true}, {"BIGINT", "DECIMAL(38,9)", true},
		{"DATE", "TIMESTAMP", true}, {"TIMESTAMP", "DATE", false}, {"DOUBLE", "BIGINT", false}, {"VARCHAR", "VARCHAR", false},
		{"DECIMAL(12,2)", "DOUBLE", true}, {"FLOAT", "DOUBLE", true},
	} {
		if got := Widens(tc.from, tc.to); got != tc.want {
			t.Errorf("Widens(%s, %s) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func TestRejectsGroupsEncodingAndStructuralErrors(t *testing.T) {
	w := open(t)
	ctx := context.Background()
	sch := schema.Schema{{Name: "id", Type: "INT64"}, {Name: "city", Type: "STRING"}}
	st, err := w.Stage(ctx, repairSpec(t, "x.csv", "id,city\n1,K\xf6ln\n2\n3,Bern\n", format.CSV, sch))
	if err != nil {
		t.Fatal(err)
	}
	rejects, err := w.Rejects(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	want := []warehouse.Reject{{Kind: warehouse.RejectEncoding, Rows: 1}, {Kind: warehouse.RejectOther, Rows: 1}}
	if !reflect.DeepEqual(rejects, want) {
		t.Fatalf("rejects %+v, want %+v", rejects, want)
	}
}

// TestIntegersAreNotRounded: DuckDB's cast rounds "2.5" to 3; shp sets
// the row aside instead, with its line, in every format.
func TestIntegersAreNotRounded(t *testing.T) {
	sch := schema.Schema{{Name: "id", Type: "INT64"}, {Name: "qty", Type: "INTEGER"}}
	for _, tc := range []struct {
		name string
		f    format.Format
		data string
		line string
	}{
		{"q.csv", format.CSV, "id,qty\n1,2\nx,3\n3,2.5\n4,7\n", "4"}, // the header is line 1
		{"q.jsonl", format.JSONL, `{"id":1,"qty":2}` + "\n" + `{"id":"x","qty":3}` + "\n" + `{"id":3,"qty":2.5}` + "\n" + `{"id":4,"qty":7}` + "\n", "3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := open(t)
			st, err := w.Stage(context.Background(), repairSpec(t, tc.name, tc.data, tc.f, sch))
			if err != nil {
				t.Fatal(err)
			}
			commit(t, w, st)
			got := queryStrings(t, w, "SELECT line || ': ' || reason FROM t__quarantine ORDER BY line")
			if len(got) != 2 || got[1] != tc.line+`: CAST (column qty): Could not convert string "2.5" to 'BIGINT'` {
				t.Fatalf("quarantine %q", got)
			}
			if ids := queryStrings(t, w, "SELECT string_agg(id || '=' || qty, ',' ORDER BY id) FROM t"); ids[0] != "1=2,4=7" {
				t.Fatalf("target %v", ids)
			}
		})
	}
}

// TestLinesOfALargeCSV sets aside values shp converts itself, and lines
// DuckDB's reader rejects, across a file large enough for DuckDB to read
// in parallel: each set-aside row keeps its own line (its ordinal is the
// staging table's rowid, which follows the file's order), in a new
// target's table of the main schema and in a temporary one alike.
func TestLinesOfALargeCSV(t *testing.T) {
	const rows = 1_200_000 // about 30 MB: several of the reader's buffers
	bad := map[int]string{ // data row (from 1) -> what is wrong
		3: "fraction", 250_001: "fraction", 250_002: "fields", 777_777: "date", 1_199_999: "fraction", rows: "fields"}
	var b strings.Builder
	b.WriteString("id,qty,day,note\n")
	var want []string
	for i := 1; i <= rows; i++ {
		line := strconv.Itoa(i + 1) // after the header
		switch bad[i] {
		case "fraction":
			fmt.Fprintf(&b, "%d,2.5,2026-01-02,n%d\n", i, i)
			want = append(want, line+` CAST (column qty): Could not convert string "2.5" to 'BIGINT'`)
		case "date":
			fmt.Fprintf(&b, "%d,7,2026-13-40,n%d\n", i, i)
			want = append(want, line+` CAST (column day)`)
		case "fields":
			fmt.Fprintf(&b, "%d,7,2026-01-02,n%d,extra\n", i, i)
			want = append(want, line+` TOO MANY COLUMNS`)
		default:
			fmt.Fprintf(&b, "%d,%d,2026-01-02,n%d\n", i, i%100, i)
		}
	}
	sch := schema.Schema{{Name: "id", Type: "INT64", Mode: "REQUIRED"}, {Name: "qty", Type: "INTEGER"}, {Name: "day", Type: "DATE"}, {Name: "note", Type: "STRING"}}
	for _, existing := range []bool{false, true} {
		t.Run(map[bool]string{false: "new target", true: "existing target"}[existing], func(t *testing.T) {
			w := open(t)
			if existing {
				if _, err := w.DB().Exec(`CREATE TABLE t (id BIGINT, qty BIGINT, day DATE, note VARCHAR)`); err != nil {
					t.Fatal(err)
				}
			}
			st, err := w.Stage(context.Background(), repairSpec(t, "big.csv", b.String(), format.CSV, sch))
			if err != nil {
				t.Fatal(err)
			}
			if attachTable(st.Table) == existing {
				t.Fatalf("staged in %s", st.Table)
			}
			commit(t, w, st)
			got := queryStrings(t, w, "SELECT line || ' ' || reason FROM t__quarantine ORDER BY line")
			if len(got) != len(want) {
				t.Fatalf("%d rows set aside, want %d: %q", len(got), len(want), got)
			}
			for i := range want {
				if !strings.HasPrefix(got[i], want[i]) {
					t.Errorf("set aside %q, want %q...", got[i], want[i])
				}
			}
			if n := queryStrings(t, w, "SELECT CAST(count(*) AS VARCHAR) || ' ' || CAST(sum(id) AS VARCHAR) FROM t"); n[0] != fmt.Sprintf("%d %d", rows-len(bad), rows*(rows+1)/2-3-250_001-250_002-777_777-1_199_999-rows) {
				t.Errorf("target: %s", n[0])
			}
			// Every loaded row is the one its line holds.
			if n := queryStrings(t, w, "SELECT CAST(count(*) AS VARCHAR) FROM t WHERE note <> 'n' || id OR qty <> id % 100"); n[0] != "0" {
				t.Errorf("%s rows loaded with another line's values", n[0])
			}
		})
	}
}
