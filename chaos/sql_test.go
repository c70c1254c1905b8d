package chaos

import (
	"fmt"
	"os"
	"path/filepath"
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
