package quality

import (
	"fmt"
	"strings"
)

// Dialect is what the compiler needs to know about an engine's SQL.
type Dialect interface {
	// Name is the dialect's name, e.g. "duckdb".
	Name() string
	// Ident quotes an identifier.
	Ident(name string) string
	// Placeholder is the n-th (1-based) bound parameter.
	Placeholder(n int) string
	// RegexMatch is a boolean expression: expr matches the regular
	// expression pattern (a bound parameter) anywhere, like Python's re.search.
	RegexMatch(expr, pattern string) string
	// Text casts expr to the engine's text type.
	Text(expr string) string
	// Float casts expr to double precision.
	Float(expr string) string
	// Median is the aggregate median of expr (interpolated).
	Median(expr string) string
	// Quantile is the aggregate q-quantile of expr, GE's "nearest" method.
	Quantile(expr string, q string) string
	// StdDev is the aggregate sample standard deviation of expr.
	StdDev(expr string) string
	// Length is the character length of a text expression.
	Length(expr string) string
	// TryJSON is a boolean expression: expr is parseable JSON text; ""
	// when the engine cannot tell, and the check runs in Go instead.
	TryJSON(expr string) string
	// InValues is a boolean expression: expr, of engine type typ (""
	// when unknown), equals one of values (strings, int64s, finite
	// float64s and bools, never nil), compared exactly as an IN list of
	// them bound one by one would compare, but with the values bound as
	// few list parameters through bind and checked as a semi-join, in
	// time linear in their number. "" when the dialect cannot (the values
	// are then listed).
	InValues(expr, typ string, values []any, bind func(any) string) string
	// CheckRegex reports why the engine's regular expressions would
	// refuse pattern, or nil, so that a rule is refused when it is stored
	// rather than failing every run.
	CheckRegex(pattern string) error
}

// DuckDB is the dialect of the embedded warehouse.
var DuckDB Dialect = duckDialect{}

// Postgres is the dialect of PostgreSQL.
var Postgres Dialect = pgDialect{}

type duckDialect struct{}

func (duckDialect) Name() string            { return "duckdb" }
func (duckDialect) Ident(n string) string   { return quoteIdent(n) }
func (duckDialect) Placeholder(int) string  { return "?" }
func (duckDialect) Text(e string) string    { return "CAST(" + e + " AS VARCHAR)" }
func (duckDialect) Float(e string) string   { return "CAST(" + e + " AS DOUBLE)" }
func (duckDialect) Median(e string) string  { return "median(" + e + ")" }
func (duckDialect) StdDev(e string) string  { return "stddev_samp(" + e + ")" }
func (duckDialect) Length(e string) string  { return "length(" + e + ")" }
func (duckDialect) TryJSON(e string) string { return "json_valid(" + e + ")" }
func (duckDialect) RegexMatch(e, p string) string {
	return "regexp_matches(" + e + ", " + p + ")"
}
func (duckDialect) Quantile(e, q string) string {
	return "quantile_disc(" + e + ", " + q + ")"
}
func (duckDialect) InValues(e, typ string, values []any, bind func(any) string) string {
	return duckInValues(e, typ, values, bind)
}

// CheckRegex: DuckDB's regular expressions are RE2's, whose syntax Go's
// regexp package implements.
func (duckDialect) CheckRegex(p string) error { return checkRE2(p) }

type pgDialect struct{}

func (pgDialect) Name() string                  { return "postgres" }
func (pgDialect) Ident(n string) string         { return quoteIdent(n) }
func (pgDialect) Placeholder(n int) string      { return fmt.Sprintf("$%d", n) }
func (pgDialect) Text(e string) string          { return "CAST(" + e + " AS TEXT)" }
func (pgDialect) Float(e string) string         { return "CAST(" + e + " AS DOUBLE PRECISION)" }
func (pgDialect) StdDev(e string) string        { return "stddev_samp(" + e + ")" }
func (pgDialect) Length(e string) string        { return "char_length(" + e + ")" }
func (pgDialect) RegexMatch(e, p string) string { return "(" + e + " ~ " + p + ")" }
func (pgDialect) Median(e string) string {
	return "percentile_cont(0.5) WITHIN GROUP (ORDER BY " + e + ")"
}
func (pgDialect) Quantile(e, q string) string {
	return "percentile_disc(" + q + ") WITHIN GROUP (ORDER BY " + e + ")"
}

// TryJSON: PostgreSQL before 16 has no IS JSON and no non-failing cast.
func (pgDialect) TryJSON(string) string { return "" }

func (pgDialect) InValues(e, typ string, values []any, bind func(any) string) string {
	return pgInValues(e, typ, values, bind)
}

// CheckRegex: PostgreSQL's regular expressions (Spencer's ARE) are
// checked as RE2 is, except that backreferences and lookarounds, which
// they support, pass, and named groups, which they lack, do not.
func (pgDialect) CheckRegex(p string) error { return checkARE(p) }

func quoteIdent(n string) string { return `"` + strings.ReplaceAll(n, `"`, `""`) + `"` }
