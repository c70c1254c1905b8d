package quality

import (
	"errors"
	"strings"
)

// BigQuery is the dialect of Google BigQuery (GoogleSQL): identifiers
// quoted with backticks, positional ? parameters, REGEXP_CONTAINS (RE2),
// and aggregates without the FILTER clause (see AggregateFilterer).
//
// Percentiles are exact, as Great Expectations computes them on BigQuery
// and PostgreSQL (PERCENTILE_DISC and an interpolated median), but
// BigQuery's PERCENTILE_CONT and PERCENTILE_DISC are analytic functions
// only, which the shared scan of aggregates cannot use: the column's
// values are gathered sorted (ARRAY_AGG ... ORDER BY) and indexed. That
// holds a column's values in one aggregate, which BigQuery bounds (about
// 100 MB per row); for larger batches APPROX_QUANTILES is the way, at the
// price of exactness (see README, "BigQuery warehouse").
var BigQuery Dialect = bqDialect{}

// AggregateFilterer is implemented by a dialect whose engine has no
// FILTER (WHERE ...) clause on aggregates (BigQuery): FilterAggregate
// restricts one aggregate expression, as an expectation's plan wrote it,
// to the rows where cond holds.
type AggregateFilterer interface {
	FilterAggregate(agg, cond string) string
}

// filterAggregate restricts agg to the rows where cond holds, in d.
func filterAggregate(d Dialect, agg, cond string) string {
	if f, ok := d.(AggregateFilterer); ok {
		return f.FilterAggregate(agg, cond)
	}
	return agg + " FILTER (WHERE " + cond + ")"
}

type bqDialect struct{}

// bqFilterMark marks, in the expressions the BigQuery dialect writes
// itself (the median and quantiles), where a row condition goes:
// FilterAggregate replaces the TRUE that follows it.
const bqFilterMark = "IF(/*shp:row*/TRUE, "

func (bqDialect) Name() string { return "bigquery" }

// RowValue: GoogleSQL has no row values, but STRUCTs compare field by
// field (NULL when a field is NULL).
func (bqDialect) RowValue(exprs []string) string { return "STRUCT(" + strings.Join(exprs, ", ") + ")" }

// SelectRowValue selects the STRUCTs RowValue compares with.
func (bqDialect) SelectRowValue(exprs []string) string {
	return "AS STRUCT " + strings.Join(exprs, ", ")
}

// Ident quotes with backticks; a dotted name such as "_shp.stage_1" is
// then a path (dataset.table) to BigQuery, which is how shp names tables
// of its own dataset. Backticks and backslashes in a name are escaped.
func (bqDialect) Ident(n string) string {
	r := strings.NewReplacer(`\`, `\\`, "`", "\\`")
	return "`" + r.Replace(n) + "`"
}

func (bqDialect) Placeholder(int) string { return "?" }
func (bqDialect) Text(e string) string   { return "CAST(" + e + " AS STRING)" }
func (bqDialect) Float(e string) string  { return "CAST(" + e + " AS FLOAT64)" }
func (bqDialect) StdDev(e string) string { return "STDDEV_SAMP(" + e + ")" }
func (bqDialect) Length(e string) string { return "CHAR_LENGTH(" + e + ")" }
func (bqDialect) RegexMatch(e, p string) string {
	return "REGEXP_CONTAINS(" + e + ", " + p + ")"
}

// TryJSON: SAFE.PARSE_JSON is NULL for text that is not JSON (and a JSON
// null for the text "null", which is JSON).
func (bqDialect) TryJSON(e string) string {
	return "(SAFE.PARSE_JSON(" + e + ") IS NOT NULL)"
}

// sorted is the column's non-NULL values in order, as one array, with the
// row condition's mark.
func bqSorted(e string) string {
	v := bqFilterMark + e + ", NULL)"
	return "ARRAY_AGG(" + v + " IGNORE NULLS ORDER BY " + v + ")"
}

// bqCount counts the column's non-NULL values, with the row condition's
// mark.
func bqCount(e string) string { return "COUNT(" + bqFilterMark + e + ", NULL))" }

// Median is the interpolated median: the mean of the two middle values
// (one when the count is odd); NULL without values.
func (bqDialect) Median(e string) string {
	arr, n := bqSorted(e), bqCount(e)
	return "((" + arr + "[SAFE_OFFSET(DIV(" + n + " - 1, 2))] + " + arr + "[SAFE_OFFSET(DIV(" + n + ", 2))]) / 2)"
}

// Quantile is PostgreSQL's PERCENTILE_DISC, which Great Expectations
// runs: the first value whose cumulative share of the rows reaches q.
func (bqDialect) Quantile(e, q string) string {
	return bqSorted(e) + "[SAFE_OFFSET(GREATEST(CAST(CEIL((" + q + ") * " + bqCount(e) + ") AS INT64) - 1, 0))]"
}

// FilterAggregate restricts one aggregate to the rows where cond holds:
// count(*) becomes COUNTIF(cond), an aggregate of one argument takes
// IF(cond, argument, NULL) (after DISTINCT, if any), and the median and
// quantiles this dialect writes take cond where they mark it. Any other
// expression fails when it runs, naming the problem, rather than
// aggregating every row.
func (bqDialect) FilterAggregate(agg, cond string) string {
	if strings.Contains(agg, bqFilterMark) {
		return strings.ReplaceAll(agg, bqFilterMark, "IF(("+cond+"), ")
	}
	name, arg, ok := singleCall(agg)
	if ok {
		switch {
		case strings.EqualFold(name, "count") && strings.TrimSpace(arg) == "*":
			return "COUNTIF(" + cond + ")"
		case strings.EqualFold(name, "countif"):
			return "COUNTIF((" + cond + ") AND (" + arg + "))"
		case len(arg) > 9 && strings.EqualFold(arg[:9], "DISTINCT "):
			return name + "(DISTINCT IF(" + cond + ", " + arg[9:] + ", NULL))"
		case !hasTopLevelComma(arg):
			return name + "(IF(" + cond + ", " + arg + ", NULL))"
		}
	}
	return "ERROR('a row_condition cannot restrict this aggregate on BigQuery')"
}

// singleCall splits "name(arg)" when the whole of s is one call of a
// plain function name, its parentheses balanced (outside quotes).
func singleCall(s string) (name, arg string, ok bool) {
	s = strings.TrimSpace(s)
	open := strings.IndexByte(s, '(')
	if open <= 0 || !strings.HasSuffix(s, ")") {
		return "", "", false
	}
	name = s[:open]
	for _, r := range name {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	depth := 0
	var quote byte
	for i := open; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth == 0 && i != len(s)-1 {
				return "", "", false // the call closes before the end
			}
		}
	}
	if depth != 0 {
		return "", "", false
	}
	return name, s[open+1 : len(s)-1], true
}

// hasTopLevelComma reports whether s has a comma outside parentheses and
// quotes: more than one argument.
func hasTopLevelComma(s string) bool {
	depth := 0
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == '(':
			depth++
		case c == ')':
			depth--
		case c == ',' && depth == 0:
			return true
		}
	}
	return false
}

// InValues binds the values as one array parameter, compared with IN
// UNNEST: texts into a text column as they are, texts into a column of
// another known type each converted with SAFE_CAST (a text that does not
// convert matches no row, where BigQuery would refuse to compare a text
// parameter with, say, a DATE); integers, or numbers, into a numeric
// column; booleans into a BOOL column. Other mixes stay listed.
func (bqDialect) InValues(e, typ string, values []any, bind func(any) string) string {
	k, ok := kindsOf(values)
	if !ok {
		return ""
	}
	fam := typeFamily(typ)
	numeric := fam == "integer" || fam == "float" || fam == "numeric"
	nums := len(k.ints) + len(k.floats)
	switch {
	case len(k.strs) == len(values) && fam == "text":
		return e + " IN UNNEST(" + bind(k.strs) + ")"
	case len(k.strs) == len(values) && plainTypeName(typ) && typ != "" && fam != "json":
		return e + " IN (SELECT SAFE_CAST(shp_v AS " + typ + ") FROM UNNEST(" + bind(k.strs) + ") AS shp_v)"
	case len(k.ints) == len(values) && numeric:
		return e + " IN UNNEST(" + bind(k.ints) + ")"
	case nums == len(values) && numeric:
		fs := append([]float64(nil), k.floats...)
		for _, i := range k.ints {
			fs = append(fs, float64(i))
		}
		return e + " IN UNNEST(" + bind(fs) + ")"
	case len(k.bools) == len(values) && fam == "boolean":
		return e + " IN UNNEST(" + bind(k.bools) + ")"
	}
	return ""
}

// CheckRegex: BigQuery's regular expressions are RE2's.
func (bqDialect) CheckRegex(p string) error {
	if err := checkRE2(p); err != nil {
		// checkRE2 names DuckDB, whose regular expressions are RE2's too.
		return errors.New(strings.ReplaceAll(err.Error(), "DuckDB", "BigQuery"))
	}
	return nil
}
