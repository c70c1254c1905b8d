package chaos

import (
	"regexp"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/testutil/bqemulator"
	_ "github.com/shp-dev/shp/internal/warehouse/bigquery"
)

// onBigQuery is the BigQuery warehouse, against
// github.com/goccy/bigquery-emulator in this process: one emulator per
// trial (it slows with every table it holds), closed when the trial
// ends. The suite runs on it only when SHP_CHAOS_WAREHOUSE names it: a
// trial takes 15 to 40 seconds there, every class an hour or two, so
// SHP_CHAOS_CLASSES and SHP_CHAOS_TRIALS pick a sample.
const onBigQuery = "bigquery"

// bigQuerySkips are the classes that cannot pass on BigQuery (the
// emulator or the real one), and why: the report shows them as skipped
// with the reason, never as passed. Run anyway (2026-12-05), each set
// its odd rows aside: 0 wrong fixes, 0 lost rows.
var bigQuerySkips = map[string]string{
	"PostgreSQL dates and times before the common era (discovered)": "BigQuery's DATE, DATETIME and TIMESTAMP hold the years 1 to 9999 only: no date before the common era (the rows are set aside)",
	"PostgreSQL dates and times before the common era (declared)":   "BigQuery's DATE, DATETIME and TIMESTAMP hold the years 1 to 9999 only: no date before the common era (the rows are set aside)",
	"PostgreSQL infinite dates and times":                           "BigQuery's DATE, DATETIME and TIMESTAMP have no infinity (the rows are set aside)",
	"PostgreSQL times beyond DuckDB's range":                        "the cause it must name is DuckDB's conversion error; BigQuery's times end at 9999-12-31 (the rows are set aside, with BigQuery's reason)",
}

// emulatorDatetime finds the emulator's text of a DATETIME
// (2026-01-02T03:04:05; BigQuery writes a space): an exact class's
// day and seen_at are compared as BigQuery would show them.
var emulatorDatetime = regexp.MustCompile(`^(\d{4,}-\d\d-\d\d)T(\d\d:\d\d)`)

// bigQueryYAML starts a BigQuery emulator for the trial (project
// shp-test, closed when the trial ends) and returns config.yaml's
// warehouse section loading into it: targets in dataset chaos, shp's
// tables in chaos_shp.
func bigQueryYAML(t *testing.T) string {
	t.Helper()
	url := bqemulator.Start(t, "shp-test")
	return "warehouse:\n  type: bigquery\n  project: shp-test\n  dataset: chaos\n  shp_dataset: chaos_shp\n  endpoint: " + url + "\n"
}

// bigQueryNotFound tells BigQuery's answer to a query of a table that
// was never made ("Table not found: events" on the emulator, "Not
// found: Table shp-test:chaos.events" on BigQuery).
func bigQueryNotFound(stderr string) bool {
	return strings.Contains(stderr, "Table not found: ") || strings.Contains(stderr, "Not found: Table ")
}

// bigQueryString is s as a GoogleSQL string literal, which escapes a
// quote with a backslash, not by doubling it.
func bigQueryString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// bigQueryTargetSQL is targetSQL in GoogleSQL: ARRAY_TO_STRING leaves
// NULL elements out, as concat_ws does.
func bigQueryTargetSQL(fc faultClass, channel bool) (record, contains string) {
	text := func(col string) string { return "IFNULL(CAST(" + col + " AS STRING), 'NULL')" }
	qty := "IFNULL(CAST(CAST(qty AS FLOAT64) AS STRING), 'NULL')"
	cols := "CAST(id AS STRING), FORMAT_DATE('%Y-%m-%d', day), IFNULL(FORMAT_DATETIME('%Y-%m-%d %H:%M:%S', CAST(seen_at AS DATETIME)), 'NULL'), " +
		"FORMAT('%.2f', CAST(amount AS FLOAT64)), " + qty + ", city, region"
	if fc.exact {
		cols = "CAST(id AS STRING), " + text("day") + ", " + text("seen_at") + ", " + text("amount") + ", " + qty + ", city, region"
	}
	if channel {
		if fc.extraCol != "" {
			cols += ", " + text(fc.extraCol)
		} else {
			cols += ", channel"
		}
	}
	return "ARRAY_TO_STRING([" + cols + "], '|')", "STRPOS(reason, %s) > 0"
}
