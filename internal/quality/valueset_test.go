package quality

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	_ "github.com/duckdb/duckdb-go/v2"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/shp-dev/shp/internal/testutil"
)

// setCases are value sets for each column type, the awkward ones
// included: values of another type, text for numbers, numbers for text,
// mixed types, NaN, values the column's type cannot read.
var setCases = []struct {
	col string
	set []any
}{
	{"i", []any{json.Number("1"), json.Number("3"), json.Number("99")}},
	{"i", []any{json.Number("1"), json.Number("2.5"), "3"}},
	{"i", []any{2.0, 4.0}},
	{"i", []any{1.5}},
	{"i", []any{"abc"}},
	{"i", []any{true}},
	{"i", []any{json.Number("1"), NonFinite(math.NaN()), NonFinite(math.Inf(1))}},
	{"i", []any{json.Number("9223372036854775807"), json.Number("2")}},
	{"d", []any{json.Number("1"), json.Number("2.5")}},
	{"d", []any{"3", NonFinite(math.NaN())}},
	{"n", []any{1.5, json.Number("2")}},
	{"n", []any{"1.5", 1.499}},
	{"s", []any{"a", "1", "zz"}},
	{"s", []any{json.Number("1"), "a"}},
	{"s", []any{1.0}},
	{"s", []any{true}},
	{"s", []any{"ä", "a'b", `q"uote`, "", " a"}},
	{"dt", []any{"2020-01-01", "2020-01-03"}},
	{"dt", []any{"2020-01-02 00:00:00"}},
	{"dt", []any{"not a date"}},
	{"ts", []any{"2020-01-01", "2020-01-02T10:00:00"}},
	{"b", []any{true}},
	{"b", []any{"false"}},
	{"b", []any{json.Number("1")}},
}

// listedAndJoined validates the set expectations over every case twice,
// the sets listed and the sets joined against, and reports differences.
// Every set is joined against except those mayList allows the dialect
// to keep listed (mixed types whose comparison a list cannot carry).
func listedAndJoined(t *testing.T, ctx context.Context, db *sql.DB, d Dialect, table Table, mayList func(col string, set []any) bool) {
	t.Helper()
	run := func(at int, typ string, col string, set []any) ExpectationResult {
		t.Helper()
		defer func(old int) { largeSetAt = old }(largeSetAt)
		largeSetAt = at
		suite := &Suite{Name: "s", Expectations: []Config{{Type: typ, Kwargs: map[string]any{"column": col, "value_set": set}}}}
		res, err := Validate(ctx, sqlQueryer(db), d, table, suite, Complete)
		if err != nil {
			t.Fatal(err)
		}
		return res.Results[0]
	}
	for _, typ := range []string{"expect_column_values_to_be_in_set", "expect_column_values_to_not_be_in_set"} {
		for _, tc := range setCases {
			listed := run(math.MaxInt, typ, tc.col, tc.set)
			joined := run(1, typ, tc.col, tc.set)
			name := fmt.Sprintf("%s %s %v", typ, tc.col, tc.set)
			if joined.Exception.Raised != listed.Exception.Raised {
				t.Errorf("%s: raised %v (%s) joined, %v (%s) listed", name, joined.Exception.Raised, joined.Exception.Message,
					listed.Exception.Raised, listed.Exception.Message)
				continue
			}
			if listed.Exception.Raised {
				continue
			}
			if pred, _, _ := joined.RowFilter(); !strings.Contains(pred, "unnest(") && !mayList(tc.col, tc.set) {
				t.Errorf("%s: the joined predicate does not join: %s", name, pred)
			}
			for _, k := range []string{"unexpected_count", "unexpected_list", "unexpected_index_list"} {
				if !reflect.DeepEqual(joined.Result[k], listed.Result[k]) {
					t.Errorf("%s: %s %v joined, %v listed", name, k, joined.Result[k], listed.Result[k])
				}
			}
			if joined.Success != listed.Success {
				t.Errorf("%s: success %v joined, %v listed", name, joined.Success, listed.Success)
			}
			// The row filter (what a quarantine rule moves) selects the same rows.
			count := func(r ExpectationResult) int {
				pred, args, _ := r.RowFilter()
				var n int
				if err := db.QueryRowContext(ctx, "SELECT count(*) FROM "+d.Ident(table.Name)+" WHERE "+pred, args...).Scan(&n); err != nil {
					t.Fatalf("%s: row filter %s: %v", name, pred, err)
				}
				return n
			}
			if a, b := count(joined), count(listed); a != b {
				t.Errorf("%s: the row filter selects %d rows joined, %d listed", name, a, b)
			}
		}
	}
}

// TestLargeValueSetsDuckDB: a set joined against compares as the same set
// listed, on DuckDB.
func TestLargeValueSetsDuckDB(t *testing.T) {
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE t (pos INTEGER, i INTEGER, d DOUBLE, n DECIMAL(10,2), s VARCHAR, dt DATE, ts TIMESTAMP, b BOOLEAN)`,
		`INSERT INTO t VALUES (0, 1, 1.0, 1.50, 'a', '2020-01-01', '2020-01-01 00:00:00', true),
			(1, 2, 2.5, 2.00, '1', '2020-01-02', '2020-01-02 10:00:00', false),
			(2, 3, 3, 3, 'ä', NULL, NULL, NULL), (3, NULL, NULL, NULL, NULL, '2020-01-03', NULL, true)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "t", Index: `"pos"`, Columns: []Column{{"i", "INTEGER"}, {"d", "DOUBLE"}, {"n", "DECIMAL(10,2)"},
		{"s", "VARCHAR"}, {"dt", "DATE"}, {"ts", "TIMESTAMP"}, {"b", "BOOLEAN"}}}
	// Texts mixed with numbers stay listed.
	listedAndJoined(t, ctx, db, DuckDB, table, func(_ string, set []any) bool {
		for _, v := range set {
			if _, ok := v.(string); ok {
				return !allText(set)
			}
		}
		return false
	})
}

// TestLargeValueSetsPostgres: the same on PostgreSQL.
func TestLargeValueSetsPostgres(t *testing.T) {
	db, err := sql.Open("pgx", testutil.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for _, stmt := range []string{
		`CREATE TABLE t (pos INTEGER, i INTEGER, d DOUBLE PRECISION, n NUMERIC(10,2), s TEXT, dt DATE, ts TIMESTAMP, b BOOLEAN)`,
		`INSERT INTO t VALUES (0, 1, 1.0, 1.50, 'a', '2020-01-01', '2020-01-01 00:00:00', true),
			(1, 2, 2.5, 2.00, '1', '2020-01-02', '2020-01-02 10:00:00', false),
			(2, 3, 3, 3, 'ä', NULL, NULL, NULL), (3, NULL, NULL, NULL, NULL, '2020-01-03', NULL, true)`,
	} {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			t.Fatal(err)
		}
	}
	table := Table{Name: "t", Index: `"pos"`, Columns: []Column{{"i", "INTEGER"}, {"d", "DOUBLE PRECISION"}, {"n", "NUMERIC(10,2)"},
		{"s", "TEXT"}, {"dt", "DATE"}, {"ts", "TIMESTAMP"}, {"b", "BOOLEAN"}}}
	// Doubles for an integer column stay listed (pgx truncates them).
	listedAndJoined(t, ctx, db, Postgres, table, func(col string, set []any) bool {
		return col == "i" && !allText(set) && fmt.Sprint(set) != "[1 3 99]" && fmt.Sprint(set) != "[9223372036854775807 2]"
	})
}

func allText(set []any) bool {
	for _, v := range set {
		if _, ok := v.(string); !ok {
			return false
		}
	}
	return true
}

// TestElementIndex: the index finds what comparing one by one finds.
func TestElementIndex(t *testing.T) {
	values := []any{nil, json.Number("1"), 1.0, int64(1), json.Number("2.5"), NonFinite(math.NaN()), NonFinite(math.Inf(1)), math.Inf(1),
		true, false, "a", "1", "2026-01-02", "2026-01-02T00:00:00", "Jan 2, 2026", "01/02/2026", "2026-01-02 00:00:01",
		time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC), "Cxyz2026", "", map[string]any{"a": 1}, []any{1}}
	for i, x := range values {
		for j := range values {
			set := values[j:min(j+3, len(values))]
			want := false
			for _, y := range set {
				want = want || sameElement(x, y)
			}
			if got := indexElements(set).contains(x); got != want {
				t.Errorf("%d %v in %v: %v, want %v", i, x, set, got, want)
			}
		}
	}
	if !subset([]any{"2026-01-02T00:00:00Z"}, []any{"Jan 2, 2026"}) || subset([]any{"b"}, []any{"a"}) {
		t.Error("subset")
	}
}

// TestPlainTypeName: only type names that cannot end a statement reach
// SQL.
func TestPlainTypeName(t *testing.T) {
	for in, want := range map[string]bool{"INTEGER": true, "DOUBLE PRECISION": true, "NUMERIC(12, 2)": true, "character varying(20)": true,
		"": false, "INT); DROP TABLE x; --": false, "TEXT[]": false, "a\"b": false, "NUMERIC(1": false, "(1)": false} {
		if got := plainTypeName(in); got != want {
			t.Errorf("%q: %v, want %v", in, got, want)
		}
	}
}
