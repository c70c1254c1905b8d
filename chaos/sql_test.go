package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/testutil"
)

const sqlTable = "CREATE TABLE events (id INT PRIMARY KEY, day VARCHAR(20), seen_at TIMESTAMP, amount VARCHAR(20), qty INT, city VARCHAR(40), region VARCHAR(10))"

// inserts renders the truth as one INSERT with the day and amount
// written by the given functions.
func inserts(rows []row, day, amount func(row) string) string {
	var vals []string
	for _, r := range rows {
		vals = append(vals, fmt.Sprintf("(%d, '%s', '%s', '%s', %g, '%s', '%s')", r.ID, day(r), r.SeenAt.Format("2006-01-02 15:04:05"),
			amount(r), r.Qty, strings.ReplaceAll(r.City, "'", "''"), r.Region))
	}
	return "INSERT INTO events VALUES " + strings.Join(vals, ", ")
}

func sqlProject(t *testing.T, typ, dsn, table string) string {
	t.Helper()
	env := "SHP_CHAOS_" + strings.ToUpper(typ) + "_DSN"
	t.Setenv(env, dsn)
	return project(t, "    type: "+typ+"\n    dsn: ${"+env+"}\n    table: "+table+"\n    schema: schemas/events.json\n"+
		"    retry: {attempts: 2, initial_interval: 5ms}\n")
}

// pgDates keeps days as day/month/year text in PostgreSQL; the declared
// schema says DATE.
func pgDates(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	dsn := testutil.PostgresDSN(t)
	rows := truth(seed, 40, utf8Cities)
	forceDay(rows)
	testutil.PostgresExec(t, dsn, sqlTable, inserts(rows, func(r row) string { return r.Day.Format("02/01/2006") },
		func(r row) string { return fmt.Sprintf("%.2f", r.Amount) }))
	dir := sqlProject(t, "postgres", dsn, "events")
	code, _, errOut := shp("run", "--config", dir)
	return dir, rows, false, code, errOut
}

// pgDenied reads a table as a role that may not.
func pgDenied(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	dsn := testutil.PostgresDSN(t)
	testutil.PostgresExec(t, dsn, sqlTable, `DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'shp_chaos_noaccess') THEN CREATE ROLE shp_chaos_noaccess LOGIN; END IF; END $$`,
		// It may see the schema, not read the table.
		`DO $$ BEGIN EXECUTE format('GRANT USAGE ON SCHEMA %I TO shp_chaos_noaccess', current_schema()); END $$`)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		t.Fatal(err)
	}
	denied := strings.Replace(dsn, "://"+cfg.User+"@", "://shp_chaos_noaccess@", 1)
	if denied == dsn {
		t.Skipf("cannot change the user of %s", "the test DSN")
	}
	dir := sqlProject(t, "postgres", denied, "events")
	code, _, errOut := shp("run", "--config", dir)
	return dir, nil, false, code, errOut
}

// mysqlCommas keeps amounts as text with decimal commas in MariaDB.
func mysqlCommas(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	dsn := testutil.MySQLDSN(t)
	rows := truth(seed, 40, utf8Cities)
	testutil.MySQLExec(t, dsn, sqlTable+" CHARACTER SET utf8mb4", inserts(rows, func(r row) string { return r.Day.Format("2006-01-02") },
		func(r row) string { return strings.Replace(fmt.Sprintf("%.2f", r.Amount), ".", ",", 1) }))
	dir := sqlProject(t, "mysql", dsn, "events")
	code, _, errOut := shp("run", "--config", dir)
	return dir, rows, false, code, errOut
}

// missingTable reads a table the database does not have.
func missingTable(typ string, dsn func(testing.TB) string) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dir := sqlProject(t, typ, dsn(t), "no_such_table")
		code, _, errOut := shp("run", "--config", dir)
		return dir, nil, false, code, errOut
	}
}

// pgDroppedColumn loads a table, then drops its amount column at the
// source and re-reads every row with a merge (the policy allows the
// removal): the target keeps the amounts it had, never NULL.
func pgDroppedColumn(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	dsn := testutil.PostgresDSN(t)
	rows := truth(seed, 40, utf8Cities)
	testutil.PostgresExec(t, dsn, sqlTable, inserts(rows, func(r row) string { return r.Day.Format("2006-01-02") },
		func(r row) string { return fmt.Sprintf("%.2f", r.Amount) }))
	dir := sqlProject(t, "postgres", dsn, "events")
	os.WriteFile(filepath.Join(dir, "self_healing.yaml"), []byte(policy+"hold_removed_columns: false\n"), 0o644)
	if code, out, errOut := shp("run", "--config", dir); code != 0 {
		t.Fatalf("first run: %d %s %s", code, out, errOut)
	}
	testutil.PostgresExec(t, dsn, "ALTER TABLE events DROP COLUMN amount")
	code, _, errOut := shp("run", "--config", dir)
	return dir, rows, false, code, errOut
}

// Database values that arrive changed, and full reads (issue 13: F22 to
// F25).

// sqlExec runs statements on a database of the type.
func sqlExec(typ string) func(testing.TB, string, ...string) {
	if typ == "mysql" {
		return testutil.MySQLExec
	}
	return testutil.PostgresExec
}

// sqlSource writes a project reading a database source (what is its
// table: or query: line); without declared, the source has no schema:
// the columns' types are discovered.
func sqlSource(t *testing.T, typ, dsn, what string, declared bool) string {
	t.Helper()
	env := "SHP_CHAOS_" + strings.ToUpper(typ) + "_DSN"
	t.Setenv(env, dsn)
	src := "    type: " + typ + "\n    dsn: ${" + env + "}\n    " + what + "\n"
	if declared {
		src += "    schema: schemas/events.json\n"
	}
	return project(t, src+"    retry: {attempts: 2, initial_interval: 5ms}\n")
}

// fullReread loads a table source without incremental, then changes the
// table (updates, a delete, new rows) and runs again, with the
// pipeline's mode not set: the target must be the table as it is now,
// no row twice.
func fullReread(typ string, dsn func(testing.TB) string, what string) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		d, exec := dsn(t), sqlExec(typ)
		create := sqlTable
		if typ == "mysql" {
			create += " CHARACTER SET utf8mb4"
		}
		rows := truth(seed, 40, utf8Cities)
		iso := func(r row) string { return r.Day.Format("2006-01-02") }
		cents := func(r row) string { return fmt.Sprintf("%.2f", r.Amount) }
		exec(t, d, create, inserts(rows[:34], iso, cents))
		dir := sqlSource(t, typ, d, what, true)
		edit(t, dir, "config.yaml", "    mode: merge\n    key: [id]\n", "")
		if code, out, errOut := shp("run", "--config", dir); code != 0 {
			t.Fatalf("first run: %d %s %s", code, out, errOut)
		}
		r := rand.New(rand.NewPCG(seed, 25))
		var stmts []string
		for _, i := range r.Perm(34)[:4] {
			rows[i].Amount = float64(r.IntN(2_000_000)) / 100
			stmts = append(stmts, fmt.Sprintf("UPDATE events SET amount = '%.2f' WHERE id = %d", rows[i].Amount, rows[i].ID))
		}
		gone := r.IntN(34)
		stmts = append(stmts, fmt.Sprintf("DELETE FROM events WHERE id = %d", rows[gone].ID), inserts(rows[34:], iso, cents))
		exec(t, d, stmts...)
		rows = append(rows[:gone], rows[gone+1:]...)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// pgTyped is the events table with typed columns; amount's type is
// given.
func pgTyped(amount string) string {
	return "CREATE TABLE events (id int PRIMARY KEY, day date, seen_at timestamp, amount " + amount + ", qty int, city text, region text)"
}

// typedInserts renders the truth as one INSERT of SQL literals: day,
// seen_at and amount as the functions write them.
func typedInserts(rows []row, day, seen, amount func(row) string) string {
	var vals []string
	for _, r := range rows {
		vals = append(vals, fmt.Sprintf("(%d, %s, %s, %s, %g, '%s', '%s')", r.ID, day(r), seen(r), amount(r), r.Qty,
			strings.ReplaceAll(r.City, "'", "''"), r.Region))
	}
	return "INSERT INTO events VALUES " + strings.Join(vals, ", ")
}

func isoDay(r row) string  { return "'" + r.Day.Format("2006-01-02") + "'" }
func isoSeen(r row) string { return "'" + r.SeenAt.Format("2006-01-02 15:04:05") + "'" }

// oddValues gives some records (at places the seed picks) the values
// given, as the exact text set writes into the record and a SQL literal.
func oddValues(seed uint64, rows []row, values []string, set func(r *row, v string)) {
	r := rand.New(rand.NewPCG(seed, 22))
	for k, i := range r.Perm(len(rows))[:len(values)] {
		set(&rows[i], values[k])
	}
}

// pgNumeric stores amounts in a PostgreSQL numeric column (numType) with
// the odd values among two-decimal ones and reads the table with or
// without the declared schema (NUMERIC(12,2)); the amounts are compared
// exactly.
func pgNumeric(numType string, values []string, declared bool) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dsn := testutil.PostgresDSN(t)
		rows := truth(seed, 40, utf8Cities)
		for i := range rows {
			rows[i].AmountText = fmt.Sprintf("%.2f", rows[i].Amount)
		}
		oddValues(seed, rows, values, func(r *row, v string) { r.AmountText = v })
		testutil.PostgresExec(t, dsn, pgTyped(numType), typedInserts(rows, isoDay, isoSeen, func(r row) string { return r.AmountText }))
		dir := sqlSource(t, "postgres", dsn, "table: events", declared)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// mysqlDecimal stores amounts in a MariaDB DECIMAL(65,30) column, wider
// than any NUMERIC, with the odd values among two-decimal ones; the
// types are discovered and the amounts compared exactly.
func mysqlDecimal(values []string) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dsn := testutil.MySQLDSN(t)
		rows := truth(seed, 40, utf8Cities)
		for i := range rows {
			rows[i].AmountText = fmt.Sprintf("%.2f", rows[i].Amount)
		}
		oddValues(seed, rows, values, func(r *row, v string) { r.AmountText = v })
		testutil.MySQLExec(t, dsn, "CREATE TABLE events (id int PRIMARY KEY, day date, seen_at datetime, amount decimal(65,30), qty int, city varchar(40), region varchar(10)) CHARACTER SET utf8mb4",
			typedInserts(rows, isoDay, isoSeen, func(r row) string { return r.AmountText }))
		dir := sqlSource(t, "mysql", dsn, "table: events", false)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// pgFloatThreeDecimals stores amounts with three decimals in a
// PostgreSQL float8 column read under the declared NUMERIC(12,2): the
// text of a database's float has a decimal point, never a thousands
// separator; no amount may load changed.
func pgFloatThreeDecimals(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	dsn := testutil.PostgresDSN(t)
	rows := truth(seed, 40, utf8Cities)
	threeDecimals(seed, rows, allThreeDecimals)
	testutil.PostgresExec(t, dsn, pgTyped("float8"), typedInserts(rows, isoDay, isoSeen, func(r row) string { return r.AmountText }))
	dir := sqlSource(t, "postgres", dsn, "table: events", true)
	code, _, errOut := shp("run", "--config", dir)
	return dir, rows, false, code, errOut
}

// pgNumericLater loads two-decimal amounts of an unconstrained numeric,
// then new rows with the values given: the target's DECIMAL was chosen
// by the first run.
func pgNumericLater(values []string) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dsn := testutil.PostgresDSN(t)
		rows := truth(seed, 40, utf8Cities)
		for i := range rows {
			rows[i].AmountText = fmt.Sprintf("%.2f", rows[i].Amount)
		}
		first := len(rows) - len(values)
		testutil.PostgresExec(t, dsn, pgTyped("numeric"), typedInserts(rows[:first], isoDay, isoSeen, func(r row) string { return r.AmountText }))
		dir := sqlSource(t, "postgres", dsn, "table: events", false)
		if code, out, errOut := shp("run", "--config", dir); code != 0 {
			t.Fatalf("first run: %d %s %s", code, out, errOut)
		}
		for k := range values {
			rows[first+k].AmountText = values[k]
		}
		testutil.PostgresExec(t, dsn, typedInserts(rows[first:], isoDay, isoSeen, func(r row) string { return r.AmountText }))
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// pgEras stores days and times that a format would shift (before the
// common era, infinities, beyond DuckDB's range): each record the seed
// picks gets one, written as PostgreSQL reads it, and the truth is the
// text DuckDB holds for it.
func pgEras(declared bool, odd func(r *rand.Rand, rw *row) (day, seen string)) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dsn := testutil.PostgresDSN(t)
		rows := truth(seed, 40, utf8Cities)
		pgDay, pgSeen := map[int]string{}, map[int]string{}
		r := rand.New(rand.NewPCG(seed, 23))
		for _, i := range r.Perm(len(rows))[:8] {
			pgDay[rows[i].ID], pgSeen[rows[i].ID] = odd(r, &rows[i])
		}
		lit := func(m map[int]string, def func(row) string) func(row) string {
			return func(rw row) string {
				if v, ok := m[rw.ID]; ok {
					return "'" + v + "'"
				}
				return def(rw)
			}
		}
		testutil.PostgresExec(t, dsn, pgTyped("numeric(12,2)"), typedInserts(rows, lit(pgDay, isoDay), lit(pgSeen, isoSeen),
			func(rw row) string { return fmt.Sprintf("%.2f", rw.Amount) }))
		dir := sqlSource(t, "postgres", dsn, "table: events", declared)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, false, code, errOut
	}
}

// beforeEra gives a record a day and a time of a year before the common
// era.
func beforeEra(r *rand.Rand, rw *row) (string, string) {
	y := 1 + r.IntN(4000)
	d, s := rw.Day, rw.SeenAt
	day := fmt.Sprintf("%04d-%02d-%02d", y, d.Month(), d.Day())
	seenDay := fmt.Sprintf("%04d-%02d-%02d", y, s.Month(), s.Day())
	clock := s.Format("15:04:05")
	rw.DayText, rw.SeenText = day+" (BC)", seenDay+" (BC) "+clock
	return day + " BC", seenDay + " " + clock + " BC"
}

// infinities gives a record infinite days and times.
func infinities(r *rand.Rand, rw *row) (string, string) {
	day, seen := []string{"infinity", "-infinity"}[r.IntN(2)], []string{"infinity", "-infinity"}[r.IntN(2)]
	rw.DayText, rw.SeenText = day, seen
	return day, seen
}

// beyondDuckDB gives a record a time PostgreSQL holds and DuckDB does not
// (after 294247-01-10).
func beyondDuckDB(r *rand.Rand, rw *row) (string, string) {
	seen := fmt.Sprintf("%d-%02d-%02d 12:00:00", 294248+r.IntN(28), 1+r.IntN(12), 1+r.IntN(28))
	rw.SeenText = seen
	return rw.Day.Format("2006-01-02"), seen
}

// oddFloats are float8 values whose text loses digits (or becomes inf)
// with extra_float_digits below 1 (written as literals: Go adds
// constants exactly, 0.1 + 0.2 would be 0.3).
var oddFloats = []float64{0.30000000000000004, math.MaxFloat64, 5e-324, 1.0 / 3, 2.2250738585072014e-308, -1.0000000000000002, 0.7999999999999999, 123456789.12345679}

// pgSettings reads, under session settings that change the text of
// values (set on a scratch role or database by scope), a table of float8
// amounts, intervals and times of type seenType (timestamp or
// timestamptz): every float must arrive exactly, every time at its
// instant, every interval in PostgreSQL's notation (the truth is the
// text a session with the default settings reads).
func pgSettings(scope, seenType string, settings ...string) func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
	return func(t *testing.T, seed uint64) (string, []row, bool, int, string) {
		dsn := testutil.PostgresDSN(t)
		u, err := url.Parse(dsn)
		if err != nil || u.User == nil {
			t.Skipf("cannot change the user or database of the test DSN")
		}
		var b [4]byte
		crand.Read(b[:])
		name := "shp_chaos_settings_" + hex.EncodeToString(b[:])
		var apply []string
		switch scope {
		case "role":
			testutil.PostgresExec(t, dsn, "CREATE ROLE "+name+" LOGIN")
			t.Cleanup(func() {
				testutil.PostgresExec(t, dsn, "DROP OWNED BY "+name, "DROP ROLE "+name)
			})
			for _, s := range settings {
				apply = append(apply, "ALTER ROLE "+name+" SET "+s)
			}
			testutil.PostgresExec(t, dsn, append(apply, "GRANT USAGE ON SCHEMA "+pgx.Identifier{u.Query().Get("search_path")}.Sanitize()+" TO "+name)...)
			u.User = url.User(name)
		case "database":
			testutil.PostgresExec(t, dsn, "CREATE DATABASE "+name)
			t.Cleanup(func() { testutil.PostgresExec(t, dsn, "DROP DATABASE "+name+" WITH (FORCE)") })
			for _, s := range settings {
				apply = append(apply, "ALTER DATABASE "+name+" SET "+s)
			}
			testutil.PostgresExec(t, dsn, apply...)
			u.Path = "/" + name
			q := u.Query()
			q.Del("search_path")
			u.RawQuery = q.Encode()
		}
		owner, reader := dsn, u.String()
		if scope == "database" {
			owner = reader
		}
		rows := truth(seed, 40, utf8Cities)
		r := rand.New(rand.NewPCG(seed, 24))
		for i := range rows {
			rows[i].AmountText = strconv.FormatFloat(rows[i].Amount, 'g', -1, 64)
		}
		floats := make([]string, len(oddFloats))
		for i, f := range oddFloats {
			floats[i] = strconv.FormatFloat(f, 'g', -1, 64)
		}
		oddValues(seed, rows, floats, func(rw *row, v string) { rw.AmountText = v })
		var vals []string
		for i, rw := range rows {
			seen := rw.SeenAt.Format("2006-01-02 15:04:05")
			if seenType == "timestamptz" {
				seen += "+00"
				rows[i].SeenText = seen
			}
			vals = append(vals, fmt.Sprintf("(%d, '%s', '%s', '%s'::float8, %g, '%s', '%s', make_interval(%d, %d, 0, %d, %d, %d, %d.%03d))",
				rw.ID, rw.Day.Format("2006-01-02"), seen, rw.AmountText, rw.Qty,
				strings.ReplaceAll(rw.City, "'", "''"), rw.Region,
				r.IntN(3), r.IntN(14)-2, r.IntN(40)-5, r.IntN(30)-3, r.IntN(60), r.IntN(60), r.IntN(1000)))
		}
		stmts := []string{"CREATE TABLE events (id int PRIMARY KEY, day date, seen_at " + seenType + ", amount float8, qty int, city text, region text, span interval)",
			"INSERT INTO events VALUES " + strings.Join(vals, ", ")}
		if scope == "role" {
			stmts = append(stmts, "GRANT SELECT ON events TO "+name)
		}
		testutil.PostgresExec(t, owner, stmts...)
		spans := pgTexts(t, owner, "SELECT id, span::text FROM events")
		for i := range rows {
			rows[i].Channel = spans[rows[i].ID]
		}
		dir := sqlSource(t, "postgres", reader, "table: events", false)
		code, _, errOut := shp("run", "--config", dir)
		return dir, rows, true, code, errOut
	}
}

// pgTexts reads id and one text per row in a session with PostgreSQL's
// default settings.
func pgTexts(t *testing.T, dsn, query string) map[int]string {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range []string{"SET IntervalStyle = 'postgres'", "SET DateStyle = 'ISO, MDY'", "SET extra_float_digits = 1"} {
		if _, err := conn.Exec(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := conn.Query(ctx, query)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int]string{}
	for rs.Next() {
		var id int
		var s string
		if err := rs.Scan(&id, &s); err != nil {
			t.Fatal(err)
		}
		out[id] = s
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sqlValueClasses are the classes of database values and full reads.
func sqlValueClasses() []faultClass {
	return []faultClass{
		// F25: a full read re-run replaces, never appends.
		{name: "PostgreSQL table without incremental, run twice (mode not set)", source: "postgres", kind: "auto", run: fullReread("postgres", testutil.PostgresDSN, "table: events")},
		{name: "PostgreSQL query without incremental, run twice (mode not set)", source: "postgres", kind: "auto", run: fullReread("postgres", testutil.PostgresDSN, "query: SELECT * FROM events WHERE id > 0")},
		{name: "MariaDB table without incremental, run twice (mode not set)", source: "mariadb", kind: "auto", run: fullReread("mysql", testutil.MySQLDSN, "table: events")},
		// F22: numeric values are never rounded in silence.
		{name: "PostgreSQL numeric with many decimals (discovered)", source: "postgres", kind: "auto", exact: true, run: pgNumeric("numeric", []string{"123.4567890123", "0.000001234567891234", "-98765.4321098765"}, false)},
		{name: "PostgreSQL numeric with tiny values (discovered)", source: "postgres", kind: "auto", exact: true, run: pgNumeric("numeric", []string{"1e-20", "-3e-15", "0.00000000000000000042"}, false)},
		{name: "PostgreSQL numeric beyond 38 digits (discovered)", source: "postgres", kind: "auto", exact: true, run: pgNumeric("numeric", []string{"1e30", "1e-20", "123456789012345678901234567890.5"}, false)},
		{name: "MariaDB DECIMAL(65,30) with many decimals (discovered)", source: "mariadb", kind: "auto", exact: true, run: mysqlDecimal([]string{"123.4567890123", "0.00000000000000000001", "-0.000000000000000000000000000001"})},
		{name: "MariaDB DECIMAL(65,30) beyond 38 digits (discovered)", source: "mariadb", kind: "auto", exact: true, run: mysqlDecimal([]string{"12345678901234567890123456789.5", "0.00000000000000000001", "7.125"})},
		{name: "PostgreSQL numeric with more decimals than the declared NUMERIC(12,2)", source: "postgres", kind: "escalate", cause: "not rounded", exact: true,
			run: pgNumeric("numeric", []string{"12.345", "0.001", "-99.999"}, true)},
		{name: "PostgreSQL numeric gains decimals after the first load", source: "postgres", kind: "escalate", cause: "not rounded", exact: true,
			run: pgNumericLater([]string{"123.4567890123", "1e-20", "7.125"})},
		{name: "PostgreSQL float8 amounts with three decimals, declared NUMERIC(12,2)", source: "postgres", kind: "escalate", cause: "DECIMAL(12,2)", exact: true, run: pgFloatThreeDecimals},
		// F23: dates and times keep their era; infinities stay infinite.
		{name: "PostgreSQL dates and times before the common era (discovered)", source: "postgres", kind: "auto", exact: true, run: pgEras(false, beforeEra)},
		{name: "PostgreSQL dates and times before the common era (declared)", source: "postgres", kind: "auto", exact: true, run: pgEras(true, beforeEra)},
		{name: "PostgreSQL infinite dates and times", source: "postgres", kind: "auto", exact: true, run: pgEras(false, infinities)},
		{name: "PostgreSQL times beyond DuckDB's range", source: "postgres", kind: "escalate", cause: "failed to convert to TIMESTAMP", exact: true, run: pgEras(false, beyondDuckDB)},
		// F24: the source's session settings do not change a value.
		{name: "PostgreSQL role with extra_float_digits=0, IntervalStyle sql_standard", source: "postgres", kind: "auto", exact: true, extraCol: "span",
			run: pgSettings("role", "timestamp", "extra_float_digits = 0", "IntervalStyle = 'sql_standard'")},
		{name: "PostgreSQL role with extra_float_digits=-15, DateStyle SQL, DMY, TimeZone", source: "postgres", kind: "auto", exact: true, extraCol: "span",
			run: pgSettings("role", "timestamptz", "extra_float_digits = -15", "DateStyle = 'SQL, DMY'", "TimeZone = 'Asia/Kathmandu'", "IntervalStyle = 'iso_8601'")},
		{name: "PostgreSQL database with extra_float_digits=0, IntervalStyle postgres_verbose", source: "postgres", kind: "auto", exact: true, extraCol: "span",
			run: pgSettings("database", "timestamptz", "extra_float_digits = 0", "IntervalStyle = 'postgres_verbose'", "DateStyle = 'German'", "TimeZone = 'America/St_Johns'")},
	}
}
