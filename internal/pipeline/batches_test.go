package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
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
	eb := matchBatchesAndText(t, "postgres", dsn, 5)
	if n := eb.count(t, "SELECT count(*) FROM p WHERE f4 = 0.1 AND c = 'ab  ' AND tx = E'a,\"b\"\\nc'"); n != 1 {
		t.Errorf("row 1 read back %d times with its float4, char and text values", n)
	}
}

// matchBatchesAndText runs pipeline p over table t of a source of typ at
// dsn twice: as typed batches (Arrow, in a build with the duckdb_arrow
// tag) and as CSV text. Both must read rows rows, and their targets,
// column types and quarantines must be the same. It returns the batch
// run's environment.
func matchBatchesAndText(t *testing.T, typ, dsn string, rows int64) *env {
	t.Helper()
	ctx := context.Background()
	t.Setenv("SHP_TEST_BATCHES_DSN", dsn)
	run := func(text bool) (*env, *Result) {
		e := newEnv(t, "    mode: replace\n    max_quarantine_ratio: 1\n")
		os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: "+typ+"\n    dsn: ${SHP_TEST_BATCHES_DSN}\n    table: t\n"), 0o644)
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
	if rb.RowsIn != rows || rb.Loaded != rt.Loaded || rb.Quarantined != rt.Quarantined {
		t.Fatalf("batches: %d in, %d loaded, %d set aside; text: %d loaded, %d set aside", rb.RowsIn, rb.Loaded, rb.Quarantined, rt.Loaded, rt.Quarantined)
	}
	for _, q := range []string{
		"SELECT column_name || ' ' || data_type FROM information_schema.columns WHERE table_name = 'p' ORDER BY ordinal_position",
		"SELECT CAST(to_json(p) AS VARCHAR) FROM p ORDER BY id",
	} {
		if b, txt := eb.strings(t, q), et.strings(t, q); !reflect.DeepEqual(b, txt) {
			t.Errorf("%s\nbatches: %q\ntext:    %q", q, b, txt)
		}
	}
	if !eb.wh.ReadsArrow() {
		// Built without duckdb_arrow, both runs read text: the lines of
		// a batch below are not in play.
		return eb
	}
	// The same rows are set aside, each naming at least the columns the
	// text names (DuckDB's CSV reader stops at fewer). A row's line is
	// its row in a batch, and its line in the CSV, after the header.
	const q = "SELECT CAST(line AS VARCHAR) || ' ' || reason FROM p__quarantine ORDER BY line"
	b, txt := eb.strings(t, q), et.strings(t, q)
	if len(b) != len(txt) {
		t.Fatalf("set aside\nbatches: %q\ntext:    %q", b, txt)
	}
	named := regexp.MustCompile(`CAST \(column (\w+)\)`)
	for i := range b {
		bl, br, _ := strings.Cut(b[i], " ")
		tl, tr, _ := strings.Cut(txt[i], " ")
		if n, _ := strconv.Atoi(bl); strconv.Itoa(n+1) != tl {
			t.Errorf("set aside: row %s of a batch, line %s of the text", bl, tl)
		}
		for _, m := range named.FindAllStringSubmatch(tr, -1) {
			if !strings.Contains(br, "CAST (column "+m[1]+")") {
				t.Errorf("line %s: the batches' reason %q does not name column %s, as the text's does: %q", tl, br, m[1], tr)
			}
		}
	}
	return eb
}

// TestTypedBatchesWithoutCasts extracts PostgreSQL columns whose batches
// hold the declared types (integers, doubles, booleans, text): staged in
// one statement, no value to cast, none set aside.
func TestTypedBatchesWithoutCasts(t *testing.T) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, `CREATE TABLE t (id bigint PRIMARY KEY, n int, f float8, b boolean, s text)`,
		`INSERT INTO t SELECT g, -g, g / 3.0, g % 2 = 0, CASE WHEN g % 5 = 0 THEN NULL ELSE 'row ' || g END FROM generate_series(1, 40000) g`)
	eb := matchBatchesAndText(t, "postgres", dsn, 40000)
	if n := eb.count(t, "SELECT count(*) FROM p WHERE n = -id AND b = (id % 2 = 0) AND (s = 'row ' || id OR (s IS NULL AND id % 5 = 0))"); n != 40000 {
		t.Errorf("%d of 40000 rows read back as written", n)
	}
}

// TestTypedBatchesMatchTextMySQL extracts a MariaDB table holding every
// kind of column (signed and unsigned integers at their limits, FLOAT
// and DOUBLE, decimals narrow and beyond 38 digits, text with quotes,
// newlines, a literal \N and characters beyond the BMP, ENUM and SET,
// bytes of every kind, zero and ordinary dates, TIME beyond a day, YEAR,
// JSON, NULLs) as typed batches and as text: both targets, their column
// types and their quarantines must be the same.
func TestTypedBatchesMatchTextMySQL(t *testing.T) {
	dsn := testutil.MySQLDSN(t)
	zero := dsn + "?sql_mode=%27%27"
	if strings.Contains(dsn, "?") {
		zero = dsn + "&sql_mode=%27%27"
	}
	testutil.MySQLExec(t, zero,
		`CREATE TABLE t (id INT PRIMARY KEY, i1 TINYINT, u1 TINYINT UNSIGNED, i2 SMALLINT, i3 MEDIUMINT, i4 INT, u4 INT UNSIGNED,
			i8 BIGINT, u8 BIGINT UNSIGNED, f4 FLOAT, f8 DOUBLE, dn DECIMAL(12,3), dw DECIMAL(20,6), dx DECIMAL(65,30),
			tx TEXT, v VARCHAR(20), c CHAR(4), e ENUM('sad','ok'), st SET('a','b'), bi BIT(10), bn BINARY(3), vb VARBINARY(8), bl BLOB,
			d DATE, dt DATETIME(6), ts TIMESTAMP NULL, tm TIME, y YEAR, j JSON)`,
		`INSERT INTO t VALUES
			(1, -128, 255, -32768, -8388608, -2147483648, 4294967295, -9223372036854775808, 18446744073709551615, 0.1, 1e308,
			 123456789.123, 12345678901234.123456, 12345.678, 'a,"b"
c', '', 'ab', 'ok', 'a,b', b'1010000011', 'ab', x'00ff', x'',
			 '2026-01-02', '2026-01-02 03:04:05.123456', '2026-01-02 03:04:05', '838:59:59', 2026, '{"a": [1, 2]}'),
			(2, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
			 NULL, NULL, NULL, NULL, NULL, NULL),
			(3, 127, 0, 32767, 8388607, 2147483647, 0, 9223372036854775807, 0, -3.4028235e38, -5e-324, -0.001, -99999999999999.999999,
			 -1.000000000000000000000000000001, 'é𝄞	', ' x ', 'abcd', 'sad', '', b'0', 'xyz', 'abcdefgh', x'0a0d5c4e',
			 '0000-00-00', '0000-00-00 00:00:00', '0000-00-00 00:00:00', '-12:00:00', 1901, 'null'),
			(4, 0, 1, 0, 0, 0, 1, 0, 9223372036854775808, 0, 0.30000000000000004, 0, 0.000001, 0.000000000000000000000000000001,
			 '\N', '\N', ' ', NULL, 'b', b'1', 'a', 'a', 'plain', '1999-12-31', '1970-01-01 00:00:00', '1970-01-01 00:00:01', '00:00:00', 0,
			 '"s"')`)
	eb := matchBatchesAndText(t, "mysql", dsn, 4)
	// A row set aside keeps its values as read, not as they failed to
	// convert.
	raw := eb.strings(t, "SELECT raw FROM p__quarantine ORDER BY line")
	if !eb.wh.ReadsArrow() {
		// Text: the lines as the CSV held them.
		if len(raw) != 2 || !strings.Contains(raw[1], "0000-00-00,") || !strings.Contains(raw[1], ",-12:00:00,") || !strings.Contains(raw[0], ",838:59:59,") {
			t.Errorf("set aside as read: %q", raw)
		}
		return
	}
	if len(raw) != 2 || !strings.Contains(raw[1], `"d":"0000-00-00"`) || !strings.Contains(raw[1], `"tm":"-12:00:00"`) ||
		!strings.Contains(raw[1], `"u8":0`) || !strings.Contains(raw[0], `"tm":"838:59:59"`) || !strings.Contains(raw[0], `"v":""`) {
		t.Errorf("set aside as read: %q", raw)
	}
}
