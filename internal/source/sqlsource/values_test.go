package sqlsource

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// TestPostgresValuesArriveExactly loads PostgreSQL values that DuckDB
// could read changed (rounded decimals, dates before the common era,
// times beyond DuckDB's range): each arrives exactly, or its row is set
// aside with the reason; none is rounded, moved to another era or loaded
// as NULL.
func TestPostgresValuesArriveExactly(t *testing.T) {
	cases := []struct {
		name     string
		typ      string
		values   []string
		wantType string
		want     []string
	}{
		// numeric without a precision: the NUMERIC that holds its values.
		{"numeric many decimals", "numeric", []string{"123.4567890123", "-98765.4321", "0.000000000001", "NULL"},
			"DECIMAL(38,12)", []string{"123.456789012300", "-98765.432100000000", "0.000000000001", "NULL"}},
		{"numeric tiny", "numeric", []string{"1e-20", "-1.5"},
			"DECIMAL(38,20)", []string{"0.00000000000000000001", "-1.50000000000000000000"}},
		{"numeric huge", "numeric", []string{"1e30", "-2.5", "12345678901234567890.123"},
			"DECIMAL(38,7)", []string{"1000000000000000000000000000000.0000000", "-2.5000000", "12345678901234567890.1230000"}},
		{"numeric beyond 38 digits is its exact text", "numeric", []string{"1e30", "1e-20", "-0.5"},
			"VARCHAR", []string{"1000000000000000000000000000000", "0.00000000000000000001", "-0.5"}},
		{"numeric of a usual size keeps NUMERIC(38,9)", "numeric", []string{"10.25", "-3"},
			"DECIMAL(38,9)", []string{"10.250000000", "-3.000000000"}},
		{"numeric NaN and infinities are set aside", "numeric", []string{"'NaN'", "1.5", "'Infinity'", "'-Infinity'"},
			"DECIMAL(38,9)", []string{`set aside: "NaN"`, "1.500000000", `set aside: "Infinity"`, `set aside: "-Infinity"`}},
		{"numeric beyond 38 declared digits", "numeric(50,10)", []string{"12345.5", "-0.0000000001"},
			"DECIMAL(38,10)", []string{"12345.5000000000", "-0.0000000001"}},
		{"numeric(p,s) as declared", "numeric(12,4)", []string{"12345678.1234", "-0.0001"},
			"DECIMAL(12,4)", []string{"12345678.1234", "-0.0001"}},
		// Dates and times before the common era, infinities, the ends of
		// the ranges.
		{"date", "date", []string{"'0044-03-15 BC'", "'4713-01-01 BC'", "'0001-01-01 BC'", "'0001-01-01'", "'infinity'", "'-infinity'", "'5874897-12-31'"},
			"DATE", []string{"0044-03-15 (BC)", "4713-01-01 (BC)", "0001-01-01 (BC)", "0001-01-01", "infinity", "-infinity", "5874897-12-31"}},
		{"timestamp", "timestamp", []string{"'0044-03-15 10:00:00.5 BC'", "'infinity'", "'-infinity'", "'294276-12-31 23:59:59'", "'2026-01-02 03:04:05.123456'"},
			"TIMESTAMP", []string{"0044-03-15 (BC) 10:00:00.5", "infinity", "-infinity", `set aside: "294276-12-31 23:59:59"`, "2026-01-02 03:04:05.123456"}},
		{"timestamptz", "timestamptz", []string{"'0044-03-15 10:00:00+00 BC'", "'infinity'", "'-infinity'", "'294276-12-31 23:59:59+00'", "'2026-01-02 03:04:05+02'"},
			"TIMESTAMP WITH TIME ZONE", []string{"0044-03-15 (BC) 10:00:00+00", "infinity", "-infinity", `set aside: "294276-12-31 23:59:59+00"`, "2026-01-02 01:04:05+00"}},
		{"time", "time", []string{"'24:00:00'", "'00:00:00'", "'23:59:59.999999'"},
			"TIME", []string{"24:00:00", "00:00:00", "23:59:59.999999"}},
		{"float8", "float8", []string{"0.30000000000000004", "1.7976931348623157e308", "5e-324", "'NaN'", "'Infinity'", "'-Infinity'", "-0.1"},
			"DOUBLE", []string{"0.30000000000000004", "1.7976931348623157e+308", "5e-324", "nan", "inf", "-inf", "-0.1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dsn := testutil.PostgresDSN(t)
			testutil.PostgresExec(t, dsn, valuesTable(c.typ, c.values)...)
			ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
			loadIntoDuckDB(t, ex, nil).check(t, c.wantType, c.want)
		})
	}
}

// TestPostgresDecimalsNeverRounded: a numeric value with more decimals
// than the NUMERIC it is loaded as is set aside with the reason, never
// rounded: one that arrived after the types were discovered, and one
// under a declared schema's smaller scale.
func TestPostgresDecimalsNeverRounded(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, valuesTable("numeric", []string{"1.25", "-7"})...)
	ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
	sch, err := ex.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := sch.Lookup("v"); f.TypeName() != "NUMERIC(38,9)" {
		t.Fatalf("v is %s", f.TypeName())
	}
	// Rows written after the discovery, before the extraction.
	testutil.PostgresExec(t, dsn, "INSERT INTO t VALUES (3, 123.4567890123), (4, 0.0000000000001), (5, -1.1000000000000)")
	loadIntoDuckDB(t, ex, sch).check(t, "", []string{"1.250000000", "-7.000000000",
		`set aside: "123.4567890123 (more than 9 decimals: not rounded)"`, `set aside: "0.0000000000001 (more than 9 decimals`, "-1.100000000"})

	for _, declared := range []schema.Schema{
		{{Name: "id", Type: schema.TypeInt64}, {Name: "v", Type: schema.TypeNumeric, Precision: 10, Scale: 2}},
		{{Name: "id", Type: schema.TypeInt64}, {Name: "v", Type: schema.TypeBigNumeric}},
	} {
		t.Run(declared[1].TypeName(), func(t *testing.T) {
			dsn := testutil.PostgresDSN(t)
			testutil.PostgresExec(t, dsn, valuesTable("numeric(30,20)", []string{"1.25", "1.255", "0.00000000000000000001", "NULL"})...)
			ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
			a := loadIntoDuckDB(t, ex, declared)
			if declared[1].Precision > 0 {
				a.check(t, "DECIMAL(10,2)", []string{"1.25", `set aside: "1.25500000000000000000 (more than 2 decimals`,
					"set aside: (more than 2 decimals", "NULL"})
			} else {
				a.check(t, "DECIMAL(38,18)", []string{"1.250000000000000000", "1.255000000000000000",
					"set aside: (more than 18 decimals", "NULL"})
			}
		})
	}
}

// TestPostgresSessionSettings reads as a role whose defaults change the
// text of values (fewer float digits, another interval, date and byte
// notation, another time zone): the settings shp pins win, and the
// values arrive exactly.
func TestPostgresSessionSettings(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	const role = "shp_test_session_defaults"
	testutil.PostgresExec(t, dsn,
		`DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '`+role+`') THEN CREATE ROLE `+role+` LOGIN; END IF; END $$`,
		`ALTER ROLE `+role+` SET extra_float_digits = 0`,
		`ALTER ROLE `+role+` SET IntervalStyle = 'sql_standard'`,
		`ALTER ROLE `+role+` SET bytea_output = 'escape'`,
		`ALTER ROLE `+role+` SET DateStyle = 'SQL, DMY'`,
		`ALTER ROLE `+role+` SET TimeZone = 'Asia/Kolkata'`,
		`CREATE TABLE t (id int PRIMARY KEY, v float8, iv interval, b bytea, d date, tz timestamptz)`,
		`INSERT INTO t VALUES (1, 0.30000000000000004, '1 day 02:03:04', '\xdead', '2026-03-04', '2026-01-02 03:04:05+00'),
			(2, 1.7976931348623157e308, '-1 year -2 mons +3 days', '\x00', '0044-03-15 BC', '2026-06-30 23:59:59.5+00')`,
		`DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO `+role+`', current_schema()); END $$`,
		`GRANT SELECT ON t TO `+role)
	t.Cleanup(func() {
		testutil.PostgresExec(t, dsn, "DROP OWNED BY "+role, "DROP ROLE "+role)
	})
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	as := strings.Replace(dsn, "://"+cfg.User+"@", "://"+role+"@", 1)
	if as == dsn {
		t.Skip("cannot change the user of the test DSN")
	}
	// The role's defaults are in force on a plain connection.
	plain, err := pgx.Connect(ctx, as)
	if err != nil {
		t.Fatal(err)
	}
	var f, iv string
	err = plain.QueryRow(ctx, "SELECT v::text, iv::text FROM t WHERE id = 1").Scan(&f, &iv)
	plain.Close(ctx)
	if err != nil || f != "0.3" || iv != "1 2:03:04" {
		t.Fatalf("the role's defaults are not in force: %q %q %v", f, iv, err)
	}

	ex := mustOpen(t, "postgres", map[string]any{"dsn": as, "query": "SELECT id, v, iv, b, d, tz FROM t ORDER BY id"})
	a := loadIntoDuckDB(t, ex, nil)
	want := []string{
		`1,0.30000000000000004,1 day 02:03:04,\xDE\xAD,2026-03-04,2026-01-02 03:04:05+00`,
		`2,1.7976931348623157e+308,-1 years -2 mons +3 days,\x00,0044-03-15 (BC),2026-06-30 23:59:59.5+00`,
	}
	rows, err := a.db.Query(`SELECT concat_ws(',', id, CAST(v AS VARCHAR), iv, b, CAST(d AS VARCHAR), CAST(tz AS VARCHAR)) FROM t ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var got []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		got = append(got, r)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("loaded\n%s\nwant\n%s\n(extracted %v)", strings.Join(got, "\n"), strings.Join(want, "\n"), a.text)
	}
}

// TestLateCommitsNeedLookback: a row whose transaction commits after an
// extraction, with a watermark value below that extraction's watermark
// (its updated_at was set when the transaction began), is not read by
// the next incremental extraction; with a lookback that covers the
// transaction's duration it is.
func TestLateCommitsNeedLookback(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, "CREATE TABLE t (id int PRIMARY KEY, updated_at timestamptz NOT NULL)",
		"INSERT INTO t VALUES (1, '2026-01-01 10:00:00+00'), (2, '2026-01-01 10:05:00+00')")
	for _, c := range []struct {
		lookback any
		want     int64
	}{{nil, 0}, {"3m", 2}} {
		inc := map[string]any{"column": "updated_at"}
		if c.lookback != nil {
			inc["lookback"] = c.lookback
		}
		ex := mustOpen(t, "postgres", map[string]any{"dsn": dsn, "table": "t", "incremental": inc})
		first, err := ex.Extract(ctx, source.ExtractRequest{}, &memSink{})
		if err != nil || first.Watermark != "2026-01-01 10:05:00+00" {
			t.Fatalf("first extraction %+v %v", first, err)
		}
		// A transaction that began at 10:03 commits now.
		testutil.PostgresExec(t, dsn, "INSERT INTO t VALUES (3, '2026-01-01 10:03:00+00')")
		sink := &memSink{}
		next, err := ex.Extract(ctx, source.ExtractRequest{Since: first.Watermark}, sink)
		if err != nil || next.Rows != c.want {
			t.Errorf("lookback %v: %d rows after the late commit (%v), want %d: %v", c.lookback, next.Rows, err, c.want, sink.lines())
		}
		testutil.PostgresExec(t, dsn, "DELETE FROM t WHERE id = 3")
	}
}

// mysqlDSNWith adds parameters to a MySQL driver DSN.
func mysqlDSNWith(dsn, params string) string {
	if strings.Contains(dsn, "?") {
		return dsn + "&" + params
	}
	return dsn + "?" + params
}

// TestMySQLValuesArriveExactly loads MariaDB values that DuckDB could
// read changed or not at all: decimals beyond 38 digits, zero dates of
// every date type, TIME beyond a day, BIT, unsigned 64-bit integers,
// values longer than DuckDB's CSV line limit. Each arrives exactly, or
// its row is set aside with the reason; none is loaded changed or NULL.
func TestMySQLValuesArriveExactly(t *testing.T) {
	cases := []struct {
		name     string
		typ      string
		values   []string
		wantType string
		want     []string
	}{
		{"DECIMAL beyond 38 digits", "DECIMAL(65,30)", []string{"12345.678", "-1.000000000000000000000000000001", "NULL"},
			"DECIMAL(38,30)", []string{"12345.678000000000000000000000000000", "-1.000000000000000000000000000001", "NULL"}},
		{"DECIMAL beyond 38 digits with few decimals", "DECIMAL(50,4)", []string{"1234567890123456789012345678901234.5", "-7"},
			"DECIMAL(38,4)", []string{"1234567890123456789012345678901234.5000", "-7.0000"}},
		{"DECIMAL beyond 38 digits is its exact text", "DECIMAL(65,30)", []string{"99999999999999999999999999999999999.5", "0.000000000000000000000000000001"},
			"VARCHAR", []string{"99999999999999999999999999999999999.500000000000000000000000000000", "0.000000000000000000000000000001"}},
		{"zero DATE", "DATE", []string{"'0000-00-00'", "'2024-00-15'", "'2024-01-00'", "'2024-01-02'"},
			"DATE", []string{`set aside: "0000-00-00"`, `set aside: "2024-00-15"`, `set aside: "2024-01-00"`, "2024-01-02"}},
		{"zero DATETIME", "DATETIME", []string{"'0000-00-00 00:00:00'", "'2024-02-00 10:00:00'", "'2024-01-02 03:04:05'"},
			"TIMESTAMP", []string{`set aside: "0000-00-00 00:00:00"`, `set aside: "2024-02-00 10:00:00"`, "2024-01-02 03:04:05"}},
		{"zero TIMESTAMP", "TIMESTAMP NULL", []string{"'0000-00-00 00:00:00'", "'2024-01-02 03:04:05'", "NULL"},
			"TIMESTAMP WITH TIME ZONE", []string{`set aside: "0000-00-00 00:00:00"`, "2024-01-02 03:04:05+00", "NULL"}},
		{"TIME beyond a day", "TIME", []string{"'838:59:59'", "'-12:00:00'", "'25:00:00'", "'12:30:00'"},
			"TIME", []string{`set aside: "838:59:59"`, `set aside: "-12:00:00"`, `set aside: "25:00:00"`, "12:30:00"}},
		{"BIT(1)", "BIT(1)", []string{"b'1'", "b'0'", "NULL"}, "BLOB", []string{`\x01`, `\x00`, "NULL"}},
		{"BIT(10)", "BIT(10)", []string{"b'1010000011'"}, "BLOB", []string{`\x02\x83`}},
		{"BIGINT UNSIGNED", "BIGINT UNSIGNED", []string{"18446744073709551615", "0"}, "DECIMAL(20,0)", []string{"18446744073709551615", "0"}},
		{"value beyond the line limit", "LONGTEXT", []string{"REPEAT('x', 3000000)", "'short'"},
			"VARCHAR", []string{"set aside: Maximum line size of 2000000 bytes exceeded", "short"}},
		{"DOUBLE", "DOUBLE", []string{"1e-1+2e-1", "1.7976931348623157e308", "-5e-324"},
			"DOUBLE", []string{"0.30000000000000004", "1.7976931348623157e+308", "-5e-324"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dsn := testutil.MySQLDSN(t)
			// Zero dates are written as a server without NO_ZERO_DATE does.
			testutil.MySQLExec(t, mysqlDSNWith(dsn, "sql_mode=%27%27"), valuesTable(c.typ, c.values)...)
			ex := mustOpen(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
			loadIntoDuckDB(t, ex, nil).check(t, c.wantType, c.want)
		})
	}
}

// TestMySQLSessionSettings reads through a DSN whose session settings
// change values (CHAR padding, another time zone, backslashes in
// literals): those shp pins win, the others (ANSI_QUOTES, which the
// query needs) stay.
func TestMySQLSessionSettings(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, mysqlDSNWith(dsn, "time_zone=%27%2B00:00%27"),
		"CREATE TABLE t (id INT PRIMARY KEY, v CHAR(5), ts TIMESTAMP NULL, k VARCHAR(10))",
		`INSERT INTO t VALUES (1, 'ab', '2026-01-02 03:04:05', 'a\\b'), (2, '', '2026-01-03 00:00:00', 'c')`)
	odd := mysqlDSNWith(dsn, "sql_mode=%27PAD_CHAR_TO_FULL_LENGTH,ANSI_QUOTES,NO_BACKSLASH_ESCAPES%27&time_zone=%27%2B05:00%27")
	ex := mustOpen(t, "mysql", map[string]any{"dsn": odd, "query": `SELECT "id", "v", "ts", "k" FROM "t"`,
		"incremental": map[string]any{"column": "k"}})
	sink := &memSink{}
	// The watermark literal holds a backslash.
	exn, err := ex.Extract(ctx, source.ExtractRequest{Since: `a\`}, sink)
	if err != nil {
		t.Fatal(err)
	}
	if lines := sink.lines(); exn.Rows != 2 || strings.Join(lines, "\n") != "1,ab,2026-01-02 03:04:05,a\\b\n2,,2026-01-03 00:00:00,c" {
		t.Fatalf("extracted %d rows:\n%s", exn.Rows, strings.Join(lines, "\n"))
	}
}

// TestMySQLDecimalsNeverRounded: a DECIMAL value with more decimals than
// the NUMERIC it is loaded as is set aside with the reason, never
// rounded: one that arrived after the types were discovered, and one
// under a declared schema's smaller scale.
func TestMySQLDecimalsNeverRounded(t *testing.T) {
	ctx := context.Background()
	dsn := testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn, valuesTable("DECIMAL(65,30)", []string{"12345678901234567890.5", "-7"})...)
	ex := mustOpen(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
	sch, err := ex.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f, _ := sch.Lookup("v"); f.TypeName() != "NUMERIC(38,18)" {
		t.Fatalf("v is %s", f.TypeName())
	}
	testutil.MySQLExec(t, dsn, "INSERT INTO t VALUES (3, 1.0000000000000000000001), (4, 0.125)")
	loadIntoDuckDB(t, ex, sch).check(t, "DECIMAL(38,18)", []string{"12345678901234567890.500000000000000000", "-7.000000000000000000",
		`set aside: "1.000000000000000000000100000000 (more than 18 decimals: not rounded)"`, "0.125000000000000000"})

	dsn = testutil.MySQLDSN(t)
	testutil.MySQLExec(t, dsn, valuesTable("DECIMAL(12,4)", []string{"1.23", "1.2345", "NULL"})...)
	ex = mustOpen(t, "mysql", map[string]any{"dsn": dsn, "query": "SELECT id, v FROM t ORDER BY id"})
	declared := schema.Schema{{Name: "id", Type: schema.TypeInt64}, {Name: "v", Type: schema.TypeNumeric, Precision: 10, Scale: 2}}
	loadIntoDuckDB(t, ex, declared).check(t, "DECIMAL(10,2)", []string{"1.23", `set aside: "1.2345 (more than 2 decimals: not rounded)"`, "NULL"})
}
