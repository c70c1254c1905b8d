package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/optimize"
	"github.com/shp-dev/shp/internal/schema"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	"github.com/shp-dev/shp/internal/testutil"
)

// numericSource is a pipeline p from a PostgreSQL table t whose column v
// is a numeric without a precision (1.25 and -7 in it), appended
// incrementally, run once.
func numericSource(t *testing.T) (*env, string) {
	t.Helper()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE t (id int PRIMARY KEY, v numeric, updated int NOT NULL)",
		"INSERT INTO t VALUES (1, 1.25, 1), (2, -7, 1)")
	e := newEnv(t, "    mode: append\n    max_quarantine_ratio: 1\n")
	t.Setenv("SHP_TEST_DECIMALS_DSN", dsn)
	os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    dsn: ${SHP_TEST_DECIMALS_DSN}\n"+
		"    table: t\n    incremental: {column: updated}\n"), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	if _, err := e.runner.Run(context.Background(), "p", Options{}); err != nil {
		t.Fatal(err)
	}
	return e, dsn
}

// TestDecimalsKeepTheTargetType: a PostgreSQL numeric column without a
// precision is discovered from its values; when a later run finds values
// with more decimals than the target's DECIMAL keeps, they are set aside
// with the reason, not rounded into the target, and the rest loads.
func TestDecimalsKeepTheTargetType(t *testing.T) {
	ctx := context.Background()
	e, dsn := numericSource(t)
	// Values that need 12 decimals, and one that needs 2, arrive.
	testutil.PostgresExec(t, dsn, "INSERT INTO t VALUES (3, 123.4567890123, 2), (4, 0.000000000001, 2), (5, 2.5, 2)")
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 1 || res.Quarantined != 2 {
		t.Fatalf("loaded %d, quarantined %d; want 1 and 2", res.Loaded, res.Quarantined)
	}
	got := e.strings(t, "SELECT id || '=' || CAST(v AS VARCHAR) || ':' || typeof(v) FROM p ORDER BY id")
	if strings.Join(got, ",") != "1=1.250000000:DECIMAL(38,9),2=-7.000000000:DECIMAL(38,9),5=2.500000000:DECIMAL(38,9)" {
		t.Fatalf("target %v", got)
	}
	reasons := e.strings(t, "SELECT reason FROM p__quarantine ORDER BY line")
	if len(reasons) != 2 || !strings.Contains(reasons[0], `"123.4567890123 (more than 9 decimals: not rounded)"`) ||
		!strings.Contains(reasons[1], `"0.000000000001 (more than 9 decimals: not rounded)"`) {
		t.Fatalf("quarantine %q", reasons)
	}
}

// TestNarrowedDecimalKeepsLoading: once the optimisation layer narrows
// a target's wide DECIMAL (the narrow_types rule), later runs load the
// column as the narrower type: a value it cannot hold is set aside with
// the reason, the rest loads, and the commit never fails on it.
func TestNarrowedDecimalKeepsLoading(t *testing.T) {
	ctx := context.Background()
	e, dsn := numericSource(t)
	eng, ok := e.runner.Warehouse.(optimize.Engine)
	if !ok {
		t.Fatal("the warehouse takes no layout changes")
	}
	desc, err := eng.Describe(ctx, "p")
	if err != nil {
		t.Fatal(err)
	}
	var v optimize.Column
	for _, c := range desc.Columns {
		if c.Name == "v" {
			v = c
		}
	}
	if v.Type != "DECIMAL(38,9)" || v.IntDigits == nil || *v.IntDigits != 1 {
		t.Fatalf("the column as described: %+v", v)
	}
	if _, err := eng.Apply(ctx, "p", optimize.Change{Kind: "type", Columns: []string{"v"}, Types: []string{"DECIMAL(18,9)"}}); err != nil {
		t.Fatal(err)
	}
	// 123456789012 needs 12 integer digits; DECIMAL(18,9) holds 9.
	testutil.PostgresExec(t, dsn, "INSERT INTO t VALUES (3, 123456789012, 2), (4, 99.5, 2), (5, -123456789.123456789, 2)")
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 2 || res.Quarantined != 1 {
		t.Fatalf("loaded %d, quarantined %d; want 2 and 1", res.Loaded, res.Quarantined)
	}
	got := e.strings(t, "SELECT id || '=' || CAST(v AS VARCHAR) || ':' || typeof(v) FROM p ORDER BY id")
	want := "1=1.250000000:DECIMAL(18,9),2=-7.000000000:DECIMAL(18,9),4=99.500000000:DECIMAL(18,9),5=-123456789.123456789:DECIMAL(18,9)"
	if strings.Join(got, ",") != want {
		t.Fatalf("target %v", got)
	}
	reasons := e.strings(t, "SELECT reason FROM p__quarantine")
	if len(reasons) != 1 || !strings.Contains(reasons[0], "123456789012") {
		t.Fatalf("quarantine %q", reasons)
	}
}

// TestNarrowedDecimalFromFiles: a file source whose schema declares a
// wide NUMERIC, into a target the optimisation layer narrowed: in every
// format, a later file's value the narrower DECIMAL cannot hold is set
// aside with the reason, the rest loads, and the run succeeds.
func TestNarrowedDecimalFromFiles(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		first      string
		later      func(e *env, path string)
	}{
		{"csv", "b.csv", "id,v\n1,1.25\n2,-7\n", func(_ *env, path string) {
			os.WriteFile(path, []byte("id,v\n3,1234567890123456789.5\n4,99.5\n5,-9999999999999999.99\n"), 0o644)
		}},
		{"json lines", "b.jsonl", "id,v\n1,1.25\n2,-7\n", func(_ *env, path string) {
			os.WriteFile(path, []byte(`{"id":3,"v":"1234567890123456789.5"}`+"\n"+`{"id":4,"v":99.5}`+"\n"+`{"id":5,"v":"-9999999999999999.99"}`+"\n"), 0o644)
		}},
		{"parquet", "b.parquet", "id,v\n1,1.25\n2,-7\n", func(e *env, path string) {
			if _, err := e.wh.DB().Exec(`COPY (SELECT * FROM (VALUES (3, CAST('1234567890123456789.5' AS DECIMAL(38,2))), (4, 99.5::DECIMAL(38,2)),
				(5, CAST('-9999999999999999.99' AS DECIMAL(38,2)))) t(id, v)) TO '` + path + `' (FORMAT parquet)`); err != nil {
				panic(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, "    mode: append\n    max_quarantine_ratio: 1\n")
			data := filepath.Join(e.dir, "data")
			os.RemoveAll(data)
			os.MkdirAll(data, 0o755)
			os.WriteFile(filepath.Join(e.dir, "schema.json"), []byte(`[{"name":"id","type":"INT64"},{"name":"v","type":"NUMERIC","precision":38,"scale":2}]`), 0o644)
			os.WriteFile(filepath.Join(data, "a.csv"), []byte(tc.first), 0o644)
			proj, err := config.LoadDir(e.dir)
			if err != nil {
				t.Fatal(err)
			}
			e.runner.Project = proj
			if _, err := e.runner.Run(ctx, "p", Options{}); err != nil {
				t.Fatal(err)
			}
			if _, err := e.wh.Apply(ctx, "p", optimize.Change{Kind: "type", Columns: []string{"v"}, Types: []string{"DECIMAL(18,2)"}}); err != nil {
				t.Fatal(err)
			}
			tc.later(e, filepath.Join(data, tc.file))
			res, err := e.runner.Run(ctx, "p", Options{})
			if err != nil || res.Status != metadata.StatusSucceeded || res.Loaded != 2 || res.Quarantined != 1 {
				t.Fatalf("run: %v, %s, loaded %d, quarantined %d", err, res.Status, res.Loaded, res.Quarantined)
			}
			if got := strings.Join(e.strings(t, "SELECT id || '=' || CAST(v AS VARCHAR) FROM p ORDER BY id"), ","); got != "1=1.25,2=-7.00,4=99.50,5=-9999999999999999.99" {
				t.Errorf("target %s", got)
			}
			if reasons := e.strings(t, "SELECT reason FROM p__quarantine"); len(reasons) != 1 || !strings.Contains(reasons[0], "1234567890123456789") {
				t.Errorf("quarantine %q", reasons)
			}
		})
	}
}

// TestKeepTargetDecimalsOnlyWhereMeant: a declared NUMERIC wider than the
// target's DECIMAL, and a discovered STRING, load as the target's
// DECIMAL; a declared STRING stays a STRING, and a NUMERIC the target
// holds is left as it is.
func TestKeepTargetDecimalsOnlyWhereMeant(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "")
	if _, err := e.wh.DB().Exec(`CREATE TABLE tgt (a DECIMAL(18,2), b DECIMAL(18,2), c DECIMAL(18,2))`); err != nil {
		t.Fatal(err)
	}
	fields := func() schema.Schema {
		return schema.Schema{{Name: "a", Type: schema.TypeNumeric, Precision: 38, Scale: 2}, {Name: "B", Type: schema.TypeString},
			{Name: "c", Type: schema.TypeNumeric, Precision: 10, Scale: 2}}
	}
	for _, declared := range []bool{true, false} {
		sch := fields()
		if err := e.runner.keepTargetDecimals(ctx, "tgt", sch, declared, e.runner.logger()); err != nil {
			t.Fatal(err)
		}
		b := "NUMERIC(18,2)"
		if declared {
			b = "STRING"
		}
		if got := sch[0].TypeName() + "; " + sch[1].TypeName() + "; " + sch[2].TypeName(); got != "NUMERIC(18,2); "+b+"; NUMERIC(10,2)" {
			t.Errorf("declared %v: %s", declared, got)
		}
	}
}
