package quality

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"sort"
	"strings"
	"sync"
	"time"
)

// Checks of a rule before it is stored or loaded (CheckRule): what would
// otherwise pass unnoticed and fail every run. A validation itself does
// not make them: a GE suite given to `shp validate` runs as GE runs it.

// Size limits of one rule, checked when it is stored through the API or
// the CLI and when quality_rules.yaml is loaded. A larger value set
// belongs in a table the rule can refer to, not in the rule.
const (
	// MaxListEntries is the most entries a list kwarg (value_set,
	// value_pairs_set, regex_list ...) of one rule may hold.
	MaxListEntries = 1_000_000
	// MaxRuleBytes is the most bytes one rule's kwargs may take as JSON.
	MaxRuleBytes = 32 << 20
)

// KwargError is a rule refused because of one of its kwargs.
type KwargError struct {
	Kwarg string // the kwarg's name
	Err   error  // why, wrapping ErrInvalidKwargs
}

// Error says why, naming the kwarg.
func (e *KwargError) Error() string { return e.Err.Error() }

// Unwrap returns why.
func (e *KwargError) Unwrap() error { return e.Err }

func kwargErr(kwarg, format string, args ...any) error {
	return &KwargError{Kwarg: kwarg, Err: fmt.Errorf("%w: %s", ErrInvalidKwargs, fmt.Sprintf(format, args...))}
}

// commonKwargs are the kwargs every expectation takes: GE's result and
// error handling, the row condition, and the bookkeeping GE writes into
// kwargs (batch_id, auto, profiler_config, description, notes, windows).
var commonKwargs = []string{"result_format", "include_config", "catch_exceptions", "meta", "row_condition", "condition_parser",
	"batch_id", "auto", "profiler_config", "description", "notes", "windows"}

// The kwargs of the built-in expectations, beside commonKwargs: GE's
// arguments for each, including those shp accepts and ignores
// (allow_cross_type_comparisons, output_strftime_format ...).
var (
	mapKwargs     = []string{"column", "mostly"}
	betweenKwargs = []string{"min_value", "max_value", "strict_min", "strict_max"}
	statKwargs    = append([]string{"column"}, betweenKwargs...)
	pairKwargs    = []string{"column_A", "column_B", "ignore_row_if", "mostly"}
	listKwargs    = []string{"column_list", "ignore_row_if", "mostly"}
)

var builtinKwargs = map[string][]string{
	"expect_column_values_to_not_be_null":                 mapKwargs,
	"expect_column_values_to_be_null":                     mapKwargs,
	"expect_column_values_to_be_in_set":                   append([]string{"value_set", "parse_strings_as_datetimes"}, mapKwargs...),
	"expect_column_values_to_not_be_in_set":               append([]string{"value_set", "parse_strings_as_datetimes"}, mapKwargs...),
	"expect_column_values_to_be_between":                  append(append([]string{"allow_cross_type_comparisons", "parse_strings_as_datetimes", "output_strftime_format"}, betweenKwargs...), mapKwargs...),
	"expect_column_value_lengths_to_be_between":           append(append([]string{}, betweenKwargs...), mapKwargs...),
	"expect_column_value_lengths_to_equal":                append([]string{"value"}, mapKwargs...),
	"expect_column_values_to_match_regex":                 append([]string{"regex"}, mapKwargs...),
	"expect_column_values_to_not_match_regex":             append([]string{"regex"}, mapKwargs...),
	"expect_column_values_to_match_regex_list":            append([]string{"regex_list", "match_on"}, mapKwargs...),
	"expect_column_values_to_not_match_regex_list":        append([]string{"regex_list", "match_on"}, mapKwargs...),
	"expect_column_values_to_match_like_pattern":          append([]string{"like_pattern"}, mapKwargs...),
	"expect_column_values_to_not_match_like_pattern":      append([]string{"like_pattern"}, mapKwargs...),
	"expect_column_values_to_match_like_pattern_list":     append([]string{"like_pattern_list", "match_on"}, mapKwargs...),
	"expect_column_values_to_not_match_like_pattern_list": append([]string{"like_pattern_list", "match_on"}, mapKwargs...),
	"expect_column_values_to_be_json_parseable":           mapKwargs,
	"expect_column_values_to_match_json_schema":           append([]string{"json_schema"}, mapKwargs...),
	"expect_column_values_to_be_unique":                   mapKwargs,
	"expect_column_values_to_be_increasing":               append([]string{"strictly", "parse_strings_as_datetimes"}, mapKwargs...),
	"expect_column_values_to_be_decreasing":               append([]string{"strictly", "parse_strings_as_datetimes"}, mapKwargs...),
	"expect_column_value_z_scores_to_be_less_than":        append([]string{"threshold", "double_sided"}, mapKwargs...),
	"expect_column_values_to_be_of_type":                  append([]string{"type_"}, mapKwargs...),
	"expect_column_values_to_be_in_type_list":             append([]string{"type_list"}, mapKwargs...),
	"expect_column_values_to_be_dateutil_parseable":       mapKwargs,
	"expect_column_values_to_match_strftime_format":       append([]string{"strftime_format"}, mapKwargs...),

	"expect_column_min_to_be_between":                         append([]string{"parse_strings_as_datetimes", "output_strftime_format"}, statKwargs...),
	"expect_column_max_to_be_between":                         append([]string{"parse_strings_as_datetimes", "output_strftime_format"}, statKwargs...),
	"expect_column_mean_to_be_between":                        statKwargs,
	"expect_column_median_to_be_between":                      statKwargs,
	"expect_column_sum_to_be_between":                         statKwargs,
	"expect_column_stdev_to_be_between":                       statKwargs,
	"expect_column_unique_value_count_to_be_between":          statKwargs,
	"expect_column_proportion_of_unique_values_to_be_between": statKwargs,
	"expect_column_quantile_values_to_be_between":             {"column", "quantile_ranges", "allow_relative_error"},
	"expect_column_distinct_values_to_be_in_set":              {"column", "value_set", "parse_strings_as_datetimes"},
	"expect_column_distinct_values_to_contain_set":            {"column", "value_set", "parse_strings_as_datetimes"},
	"expect_column_distinct_values_to_equal_set":              {"column", "value_set", "parse_strings_as_datetimes"},
	"expect_column_most_common_value_to_be_in_set":            {"column", "value_set", "ties_okay"},

	"expect_table_row_count_to_be_between":                   betweenKwargs,
	"expect_table_row_count_to_equal":                        {"value"},
	"expect_table_row_count_to_equal_other_table":            {"other_table_name"},
	"expect_table_column_count_to_be_between":                betweenKwargs,
	"expect_table_column_count_to_equal":                     {"value"},
	"expect_table_columns_to_match_set":                      {"column_set", "exact_match"},
	"expect_table_columns_to_match_ordered_list":             {"column_list"},
	"expect_column_to_exist":                                 {"column", "column_index"},
	"expect_column_pair_values_to_be_equal":                  pairKwargs,
	"expect_column_pair_values_a_to_be_greater_than_b":       append([]string{"or_equal", "parse_strings_as_datetimes", "allow_cross_type_comparisons"}, pairKwargs...),
	"expect_column_pair_values_to_be_in_set":                 append([]string{"value_pairs_set"}, pairKwargs...),
	"expect_compound_columns_to_be_unique":                   listKwargs,
	"expect_select_column_values_to_be_unique_within_record": listKwargs,
	"expect_multicolumn_sum_to_equal":                        append([]string{"sum_total"}, listKwargs...),

	"expect_column_kl_divergence_to_be_less_than":                                 {"column", "partition_object", "threshold", "internal_weight_holdout", "tail_weight_holdout", "bucketize_data"},
	"expect_column_chisquare_test_p_value_to_be_greater_than":                     {"column", "partition_object", "p", "tail_weight_holdout"},
	"expect_column_parameterized_distribution_ks_test_p_value_to_be_greater_than": {"column", "distribution", "p_value", "params"},
	"expect_column_bootstrapped_ks_test_p_value_to_be_greater_than":               {"column", "partition_object", "p", "bootstrap_samples", "bootstrap_sample_size"},

	"expect_rows_to_satisfy_sql":  {"predicate"},
	"unexpected_rows_expectation": {"unexpected_rows_query"},
}

var (
	kwargsMu sync.RWMutex
	// declaredKwargs are the kwargs of types registered with RegisterKwargs.
	declaredKwargs = map[string][]string{}
)

// RegisterKwargs declares the kwargs of an expectation type registered
// with Register (beside the ones every expectation takes: result_format,
// catch_exceptions, row_condition ...), so that a rule giving any other
// kwarg is refused when it is stored or loaded. A type without declared
// kwargs, and not one of GE's built in, is not checked for unknown ones.
func RegisterKwargs(name string, kwargs ...string) {
	kwargsMu.Lock()
	defer kwargsMu.Unlock()
	declaredKwargs[name] = append([]string(nil), kwargs...)
}

// kwargsOf are the kwargs an expectation type takes, common ones
// included; false when they are not known.
func kwargsOf(typ string) (map[string]bool, bool) {
	kwargsMu.RLock()
	own, ok := declaredKwargs[typ]
	kwargsMu.RUnlock()
	if !ok {
		if own, ok = builtinKwargs[typ]; !ok {
			return nil, false
		}
	}
	set := map[string]bool{}
	for _, k := range commonKwargs {
		set[k] = true
	}
	for _, k := range own {
		set[k] = true
	}
	return set, true
}

// checkKwargNames refuses a kwarg the expectation does not take.
func checkKwargNames(typ string, kw map[string]any) error {
	known, ok := kwargsOf(typ)
	if !ok {
		return nil
	}
	names := make([]string, 0, len(kw))
	for k := range kw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if known[k] {
			continue
		}
		takes := make([]string, 0, len(known))
		for n := range known {
			takes = append(takes, n)
		}
		sort.Strings(takes)
		hint := ""
		if near := nearest(k, takes); near != "" {
			hint = fmt.Sprintf(" (did you mean %s?)", near)
		}
		return kwargErr(k, "%s takes no kwarg %q%s; it takes %s", typ, k, hint, strings.Join(takes, ", "))
	}
	return nil
}

// nearest is the name among names closest to s by edit distance, when it
// is at most 2 edits away.
func nearest(s string, names []string) string {
	best, bestD := "", 3
	for _, n := range names {
		if d := editDistance(s, n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkSize enforces MaxListEntries and MaxRuleBytes.
func checkSize(kw map[string]any) error {
	names := make([]string, 0, len(kw))
	for k := range kw {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if l, ok := kw[k].([]any); ok && len(l) > MaxListEntries {
			return kwargErr(k, "%s holds %d entries; a rule may hold at most %d (MaxListEntries): keep such a set in a table and check it with a query rule", k, len(l), MaxListEntries)
		}
	}
	b, err := json.Marshal(kw)
	if err != nil {
		return fmt.Errorf("%w: kwargs cannot be written as JSON: %v", ErrInvalidKwargs, err)
	}
	if len(b) > MaxRuleBytes {
		return fmt.Errorf("%w: kwargs take %d bytes as JSON; a rule may take at most %d (MaxRuleBytes)", ErrInvalidKwargs, len(b), MaxRuleBytes)
	}
	return nil
}

// regexKwargs are the kwargs that hold regular expressions, by expectation.
var regexKwargs = map[string]string{
	"expect_column_values_to_match_regex":          "regex",
	"expect_column_values_to_not_match_regex":      "regex",
	"expect_column_values_to_match_regex_list":     "regex_list",
	"expect_column_values_to_not_match_regex_list": "regex_list",
}

// checkRegexes compiles the rule's regular expressions as the engine of
// dialect d would.
func checkRegexes(d Dialect, typ string, kw Kwargs) error {
	key, ok := regexKwargs[typ]
	if !ok {
		return nil
	}
	var patterns []any
	switch v := kw[key].(type) {
	case string:
		patterns = []any{v}
	case []any:
		patterns = v
	default:
		return nil // the expectation itself says what is wrong
	}
	for i, p := range patterns {
		s, ok := p.(string)
		if !ok {
			continue
		}
		if err := d.CheckRegex(s); err != nil {
			at := key
			if len(patterns) > 1 || key == "regex_list" {
				at = fmt.Sprintf("%s[%d]", key, i)
			}
			return &KwargError{Kwarg: key, Err: fmt.Errorf("%w: %s %q: %v", ErrInvalidKwargs, at, s, err)}
		}
	}
	return nil
}

// checkRE2 refuses what RE2 (DuckDB's regular expressions, Go's syntax)
// cannot compile, naming backreferences and lookarounds, which Python's
// and PostgreSQL's regular expressions have and RE2 has not.
func checkRE2(p string) error {
	_, err := regexp.Compile(p)
	if err == nil {
		return nil
	}
	var se *syntax.Error
	if errors.As(err, &se) {
		switch {
		case se.Code == syntax.ErrInvalidEscape && len(se.Expr) == 2 && se.Expr[1] >= '1' && se.Expr[1] <= '9':
			return fmt.Errorf("backreference %s: DuckDB's regular expressions (RE2) have no backreferences", se.Expr)
		case (se.Code == syntax.ErrInvalidPerlOp || se.Code == syntax.ErrInvalidNamedCapture) && isLookaround(se.Expr):
			return fmt.Errorf("lookaround %s...): DuckDB's regular expressions (RE2) have no lookahead or lookbehind", lookaroundOf(se.Expr))
		}
		return fmt.Errorf("not a regular expression DuckDB (RE2) compiles: %s: %s", se.Code, se.Expr)
	}
	return fmt.Errorf("not a regular expression DuckDB (RE2) compiles: %v", err)
}

func isLookaround(expr string) bool { return lookaroundOf(expr) != "" }

// lookaroundOf is the lookaround expr starts with: "(?=", "(?!", "(?<="
// or "(?<!"; "" for none.
func lookaroundOf(expr string) string {
	for _, p := range []string{"(?=", "(?!", "(?<=", "(?<!"} {
		if strings.HasPrefix(expr, p) {
			return p
		}
	}
	return ""
}

// checkARE approximates PostgreSQL's regular expressions (Spencer's
// ARE): RE2's syntax plus backreferences and lookarounds, without named
// groups.
func checkARE(p string) error {
	// Backreferences and lookarounds become what RE2 reads, to check the rest.
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		rest := p[i:]
		switch {
		case strings.HasPrefix(rest, "(?P<") || strings.HasPrefix(rest, "(?<") && !isLookaround(rest):
			return errors.New("named group: PostgreSQL's regular expressions have no named groups")
		case p[i] == '\\' && i+1 < len(p):
			if p[i+1] >= '1' && p[i+1] <= '9' {
				b.WriteString("x")
			} else {
				b.WriteString(p[i : i+2])
			}
			i++
		case isLookaround(rest):
			b.WriteString("(?:")
			i += 2
			if strings.HasPrefix(rest, "(?<") {
				i++
			}
		default:
			b.WriteByte(p[i])
		}
	}
	if _, err := regexp.Compile(b.String()); err != nil {
		return fmt.Errorf("not a regular expression PostgreSQL compiles: %v", err)
	}
	return nil
}

// boundKind says what min_value and max_value of an expectation compare
// with.
type boundKind int

const (
	boundsOfColumn boundKind = iota + 1 // the column's values, of its type
	boundsNumeric                       // a number (a length, a count, a mean)
)

var boundKinds = map[string]boundKind{
	"expect_column_values_to_be_between":                      boundsOfColumn,
	"expect_column_min_to_be_between":                         boundsOfColumn,
	"expect_column_max_to_be_between":                         boundsOfColumn,
	"expect_column_median_to_be_between":                      boundsOfColumn,
	"expect_column_value_lengths_to_be_between":               boundsNumeric,
	"expect_column_mean_to_be_between":                        boundsNumeric,
	"expect_column_sum_to_be_between":                         boundsNumeric,
	"expect_column_stdev_to_be_between":                       boundsNumeric,
	"expect_column_unique_value_count_to_be_between":          boundsNumeric,
	"expect_column_proportion_of_unique_values_to_be_between": boundsNumeric,
	"expect_table_row_count_to_be_between":                    boundsNumeric,
	"expect_table_column_count_to_be_between":                 boundsNumeric,
}

// checkBounds type-checks min_value and max_value (evaluation parameters
// already evaluated) against what they compare with: a number, or the
// column's type when the table's columns are known.
func checkBounds(t Table, typ string, kw Kwargs) error {
	kind, ok := boundKinds[typ]
	if !ok {
		return nil
	}
	colType := ""
	if kind == boundsOfColumn {
		if name, ok := kw["column"].(string); ok {
			colType = t.TypeOf(name)
		}
	}
	for _, k := range []string{"min_value", "max_value"} {
		v := kw[k]
		if v == nil {
			continue
		}
		if kind == boundsNumeric {
			if _, ok := toFloat(v); !ok {
				return kwargErr(k, "%s must be a number for %s, got %s", k, typ, describeValue(v))
			}
			continue
		}
		if colType == "" {
			continue
		}
		if err := fitsColumn(v, colType); err != nil {
			return kwargErr(k, "%s %s does not fit column %q of type %s: %v", k, describeValue(v), kw["column"], colType, err)
		}
	}
	return nil
}

// fitsColumn reports why v cannot be compared with values of an engine
// type, when its family is known.
func fitsColumn(v any, colType string) error {
	_, isNumber := toFloat(v)
	s, isText := v.(string)
	switch typeFamily(colType) {
	case "integer", "float", "numeric":
		if !isNumber {
			return errors.New("give a number")
		}
	case "date", "timestamp", "timestamptz":
		if f, ok := isNonFinite(v); ok && math.IsInf(f, 0) {
			return nil // no bound on that side
		}
		if _, isTime := v.(time.Time); isTime {
			return nil
		}
		if !isText {
			return errors.New("give a date or time, such as \"2026-01-31\"")
		}
		if _, ok := parseInstant(s); !ok {
			return errors.New("it is not a date or time (give one such as \"2026-01-31\")")
		}
	case "text":
		if !isText {
			return errors.New("give a text")
		}
	}
	return nil
}

// describeValue writes a kwarg's value for an error message.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", x)
	case map[string]any, []any:
		b, _ := json.Marshal(x)
		if len(b) > 80 {
			b = append(b[:77], "..."...)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}
