package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/testutil"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// textOnly is the DuckDB warehouse refusing typed batches, so that its
// extractions stay CSV.
type textOnly struct{ *duckdb.Warehouse }

func (textOnly) ReadsArrow() bool { return false }

// TestTypedBatchesMatchText extracts a PostgreSQL table holding every
// kind of column (integers at their limits, float4 and float8 with NaN
// and infinities, text with quotes, newlines, tabs, a literal \N and
// characters beyond the BMP, empty strings and NULLs, numerics, BC and
// infinite dates, times, intervals, UUIDs, JSON, bytes, arrays, OIDs,
// enums) twice: as typed batches (Arrow, in a build with the
// duckdb_arrow tag) and as CSV text. Both targets, their column types
// and their quarantines must be the same.
func TestTypedBatchesMatchText(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn,
		"CREATE TYPE mood AS ENUM ('sad', 'ok')",
		`CREATE TABLE t (id int PRIMARY KEY, i2 smallint, i4 int, i8 bigint, f4 real, f8 double precision, b boolean,
			n numeric(12,3), nu numeric, tx text, v varchar(10), c char(4), nm name, d date, ts timestamp, tz timestamptz,
			tm time, iv interval, u uuid, j json, jb jsonb, by bytea, ia int[], o oid, m mood)`,
		`INSERT INTO t VALUES
			(1, -32768, 2147483647, -9223372036854775808, 0.1, 1e308, true, 123456789.123, 1.5, E'a,"b"\nc', '', 'ab', 'name',
			 '0044-03-15 BC', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05+02', '23:59:59.999999', '1 day 02:00',
			 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a": [1, 2]}', '{"b": 1, "a": 2}', '\x00ff', '{1,2}', 42, 'ok'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
			(3, 32767, -2147483648, 9223372036854775807, 'NaN', '-Infinity', false, -0.001, 0.000000001, E'é𝄞\t', ' x ', 'abcd', '',
			 'infinity', '-infinity', 'infinity', '00:00', '-3 mons', NULL, 'null', '[]', '', '{}', 0, 'sad'),
			(4, 0, 0, 0, '-Infinity', 'NaN', true, 0, -12345678901234567890.5, E'\\N', E'\\N', ' ', 'x', '1999-12-31', '1970-01-01', '1970-01-01 00:00:00+00',
			 '12:00', '0', NULL, '"s"', '"s"', '\x', NULL, 4294967295, NULL),
			(5, 1, 1, 1, 3.4028235e38, 5e-324, false, 1.5, 7, '', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`)
	t.Setenv("SHP_TEST_BATCHES_DSN", dsn)
	run := func(text bool) (*env, *Result) {
		e := newEnv(t, "    mode: replace\n    max_quarantine_ratio: 1\n")
		os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    dsn: ${SHP_TEST_BATCHES_DSN}\n    table: t\n"), 0o644)
		proj, err := config.LoadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		e.runner.Project = proj
		if text {
			e.runner.Warehouse = textOnly{e.wh}
		}
		res, err := e.runner.Run(ctx, "p", Options{})
		if err != nil {
			t.Fatal(err)
		}
		return e, res
	}
	eb, rb := run(false)
	et, rt := run(true)
	want := format.CSV
	if eb.wh.ReadsArrow() {
		want = format.Arrow
	}
	for _, o := range rb.Objects {
		if o.Format != want {
			t.Errorf("batch run staged %s as %s, want %s", o.Key, o.Format, want)
		}
	}
	for _, o := range rt.Objects {
		if o.Format != format.CSV {
			t.Errorf("text run staged %s as %s", o.Key, o.Format)
		}
	}
	if rb.RowsIn != 5 || rb.Loaded != rt.Loaded || rb.Quarantined != rt.Quarantined {
		t.Fatalf("batches: %d in, %d loaded, %d set aside; text: %d loaded, %d set aside", rb.RowsIn, rb.Loaded, rb.Quarantined, rt.Loaded, rt.Quarantined)
	}
	for _, q := range []string{
		"SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'p' ORDER BY ordinal_position",
		"SELECT CAST(to_json(p) AS VARCHAR) FROM p ORDER BY id",
		"SELECT coalesce(CAST(line AS VARCHAR), '') || ' ' || reason FROM p__quarantine ORDER BY line",
	} {
		if b, txt := eb.strings(t, q), et.strings(t, q); !reflect.DeepEqual(b, txt) {
			t.Errorf("%s\nbatches: %q\ntext:    %q", q, b, txt)
		}
	}
	if n := eb.count(t, "SELECT count(*) FROM p WHERE f4 = 0.1 AND c = 'ab  ' AND tx = E'a,\"b\"\\nc'"); n != 1 {
		t.Errorf("row 1 read back %d times with its float4, char and text values", n)
	}
}
