package quality

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// The column aggregate expectations: one statistic of a column's non-null
// values (min, max, mean, median, sum, stdev, quantiles, distinct counts)
// compared with bounds, and the column's distinct or most common values
// compared with a set. Statistics come from the shared scan; value lists
// from a grouped query of their own.
func init() {
	Register("expect_column_min_to_be_between", statBetween(func(_ *Env, col string) string { return "min(" + col + ")" }, statValue))
	Register("expect_column_max_to_be_between", statBetween(func(_ *Env, col string) string { return "max(" + col + ")" }, statValue))
	Register("expect_column_mean_to_be_between", statBetween(func(_ *Env, col string) string { return "avg(" + col + ")" }, statFloat))
	Register("expect_column_median_to_be_between", statBetween(func(env *Env, col string) string { return env.D.Median(col) }, statFloat))
	Register("expect_column_sum_to_be_between", statBetween(func(_ *Env, col string) string { return "sum(" + col + ")" }, statSum))
	Register("expect_column_stdev_to_be_between", statBetween(func(env *Env, col string) string { return env.D.StdDev(col) }, statFloat))
	Register("expect_column_unique_value_count_to_be_between", statBetween(func(_ *Env, col string) string { return "count(DISTINCT " + col + ")" }, statSum))
	Register("expect_column_proportion_of_unique_values_to_be_between", uniqueProportion)
	Register("expect_column_quantile_values_to_be_between", quantileValues)
	Register("expect_column_distinct_values_to_be_in_set", distinctValues(func(obs, set []any) bool { return subset(obs, set) }, true))
	Register("expect_column_distinct_values_to_contain_set", distinctValues(func(obs, set []any) bool { return subset(set, obs) }, false))
	Register("expect_column_distinct_values_to_equal_set", distinctValues(func(obs, set []any) bool { return subset(obs, set) && subset(set, obs) }, false))
	Register("expect_column_most_common_value_to_be_in_set", mostCommonValue)
}

// numBounds are numeric bounds; a nil bound is open.
type numBounds struct {
	lo, hi               *float64
	strictMin, strictMax bool
}

// holds reports whether f is within the bounds; as in Python, nothing
// is within a NaN bound.
func (b *numBounds) holds(f float64) bool {
	if b.lo != nil && !(f > *b.lo || (!b.strictMin && f == *b.lo)) {
		return false
	}
	if b.hi != nil && !(f < *b.hi || (!b.strictMax && f == *b.hi)) {
		return false
	}
	return true
}

// numericBounds reads numeric min_value/max_value and strict_min/strict_max.
func numericBounds(kw Kwargs) (*numBounds, error) {
	b := &numBounds{}
	var err error
	if b.lo, err = kw.Number("min_value"); err != nil {
		return nil, err
	}
	if b.hi, err = kw.Number("max_value"); err != nil {
		return nil, err
	}
	if b.lo != nil && b.hi != nil && *b.lo > *b.hi {
		return nil, fmt.Errorf("%w: min_value cannot be greater than max_value (Minimum Threshold cannot be larger than Maximum Threshold)", ErrInvalidKwargs)
	}
	if b.strictMin, err = kw.Bool("strict_min", false); err != nil {
		return nil, err
	}
	if b.strictMax, err = kw.Bool("strict_max", false); err != nil {
		return nil, err
	}
	return b, nil
}

// valueBounds are the bounds of a column statistic: numbers, or instants
// for date and time columns (bounds given as parseable date strings).
type valueBounds struct {
	lo, hi               any // float64 or time.Time; nil is open
	strictMin, strictMax bool
}

// columnBounds reads the bounds of a column aggregate expectation. Leaving
// out both min_value and max_value is a misconfiguration; giving both as
// null states an open range, which any statistic satisfies.
func columnBounds(kw Kwargs) (*valueBounds, error) {
	_, hasLo := kw["min_value"]
	_, hasHi := kw["max_value"]
	if !hasLo && !hasHi {
		return nil, fmt.Errorf("%w: min_value and max_value cannot both be None", ErrInvalidKwargs)
	}
	b := &valueBounds{}
	var err error
	if b.strictMin, err = kw.Bool("strict_min", false); err != nil {
		return nil, err
	}
	if b.strictMax, err = kw.Bool("strict_max", false); err != nil {
		return nil, err
	}
	if b.lo, err = boundValue(kw, "min_value"); err != nil {
		return nil, err
	}
	if b.hi, err = boundValue(kw, "max_value"); err != nil {
		return nil, err
	}
	// An inclusive infinite bound holds for every statistic, a date's too.
	if f, ok := b.lo.(float64); ok && math.IsInf(f, -1) && !b.strictMin {
		b.lo = nil
	}
	if f, ok := b.hi.(float64); ok && math.IsInf(f, 1) && !b.strictMax {
		b.hi = nil
	}
	if b.lo != nil && b.hi != nil {
		c, ok := compareValues(b.lo, b.hi)
		if !ok {
			return nil, fmt.Errorf("%w: min_value and max_value must be of the same type", ErrInvalidKwargs)
		}
		if c > 0 {
			return nil, fmt.Errorf("%w: min_value cannot be greater than max_value", ErrInvalidKwargs)
		}
	}
	return b, nil
}

func boundValue(kw Kwargs, name string) (any, error) {
	v := kw[name]
	if v == nil {
		return nil, nil
	}
	if f, ok := toFloat(v); ok {
		return f, nil
	}
	switch x := v.(type) {
	case string:
		if t, ok := parseInstant(x); ok {
			return t, nil
		}
		return nil, fmt.Errorf("%w: %s %q is neither a number nor a date or time (invalid datetime format)", ErrInvalidKwargs, name, x)
	case map[string]any:
		return nil, fmt.Errorf("%w: %s is an evaluation parameter, which shp does not evaluate", ErrInvalidKwargs, name)
	}
	return nil, fmt.Errorf("%w: %s must be a number or a date, got %v", ErrInvalidKwargs, name, v)
}

// check compares an observed statistic with the bounds; as in Python,
// nothing is within a NaN bound.
func (b *valueBounds) check(v any) (bool, error) {
	obs, ok := orderable(v)
	if !ok {
		return false, fmt.Errorf("%w: the observed value %v cannot be compared with numbers or dates", ErrInvalidKwargs, v)
	}
	for _, bound := range []any{b.lo, b.hi} {
		if f, isFloat := bound.(float64); isFloat && math.IsNaN(f) {
			return false, nil
		}
	}
	if b.lo != nil {
		c, ok := compareValues(obs, b.lo)
		if !ok {
			return false, fmt.Errorf("%w: the observed value %v and min_value %v are of different types", ErrInvalidKwargs, v, b.lo)
		}
		if c < 0 || (b.strictMin && c == 0) {
			return false, nil
		}
	}
	if b.hi != nil {
		c, ok := compareValues(obs, b.hi)
		if !ok {
			return false, fmt.Errorf("%w: the observed value %v and max_value %v are of different types", ErrInvalidKwargs, v, b.hi)
		}
		if c > 0 || (b.strictMax && c == 0) {
			return false, nil
		}
	}
	return true, nil
}

// orderable turns a result value into a float64 or a time.Time.
func orderable(v any) (any, bool) {
	if f, ok := numberOf(v); ok {
		return f, true
	}
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		if t, ok := parseInstant(x); ok {
			return t, true
		}
	}
	return nil, false
}

func compareValues(a, b any) (int, bool) {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	case time.Time:
		y, ok := b.(time.Time)
		if !ok {
			return 0, false
		}
		return x.Compare(y), true
	}
	return 0, false
}

// numberOf reads any numeric result value, whatever its integer width.
func numberOf(v any) (float64, bool) {
	switch x := v.(type) {
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case bool, string, nil:
		return 0, false
	}
	return toFloat(v)
}

var instantLayouts = []string{
	time.RFC3339Nano, "2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04",
	"2006-01-02 15:04", "2006-01-02", "2006/01/02", "01/02/2006", "1/2/2006", "January 2, 2006",
	"Jan 2, 2006", "2 January 2006", "20060102",
}

// parseInstant reads a date or time in the common layouts GE's dateutil
// parser accepts; an instant without a zone is taken as UTC.
func parseInstant(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if !mayBeInstant(s) {
		return time.Time{}, false
	}
	for _, layout := range instantLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// mayBeInstant rules out, cheaply, a text no layout of instantLayouts
// reads: each starts with a digit or a month's name and holds a year.
func mayBeInstant(s string) bool {
	if s == "" || !strings.ContainsAny(s, "0123456789") {
		return false
	}
	c := s[0] | 0x20 // ASCII lower case; digits keep their value
	return s[0] >= '0' && s[0] <= '9' || strings.IndexByte("jfmasond", c) >= 0
}

// The kinds of statistic, for how the observed value prints.
const (
	statValue = iota // a value of the column (min, max)
	statFloat        // a number (mean, median, stdev)
	statSum          // a number, integral when it is (sums and counts)
)

// statNumber reads a statistic that is a number; drivers give NUMERIC
// results as text.
func statNumber(v any, kind int) any {
	if s, ok := v.(string); ok {
		if f, err := strconv.ParseFloat(strings.TrimSpace(s), 64); err == nil {
			v = f
		}
	}
	if kind == statSum {
		return asInteger(v)
	}
	return v
}

// statBetween compiles an expectation on one aggregate of a column.
func statBetween(agg func(env *Env, col string) string, kind int) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		_, col, err := env.Column(kw)
		if err != nil {
			return nil, err
		}
		b, err := columnBounds(kw)
		if err != nil {
			return nil, err
		}
		return &Plan{
			Aggregates: []string{agg(env, col)},
			Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
				obs := v[0]
				if kind != statValue {
					obs = statNumber(obs, kind)
				}
				if obs == nil {
					return Outcome{Success: false, Result: map[string]any{"observed_value": nil}}, nil
				}
				ok, err := b.check(obs)
				if err != nil {
					return Outcome{}, err
				}
				return Outcome{Success: ok, Result: map[string]any{"observed_value": obs}}, nil
			},
		}, nil
	}
}

// asInteger turns an integral float (a HUGEINT or NUMERIC sum read as a
// float) into an int64.
func asInteger(v any) any {
	if f, ok := v.(float64); ok && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return int64(f)
	}
	return v
}

func uniqueProportion(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	b, err := columnBounds(kw)
	if err != nil {
		return nil, err
	}
	return &Plan{
		Aggregates: []string{"count(DISTINCT " + col + ")", "count(" + col + ")"},
		Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
			distinct, nonnull := toInt(v[0]), toInt(v[1])
			p := 0.0
			if nonnull > 0 {
				p = float64(distinct) / float64(nonnull)
			}
			ok, err := b.check(p)
			if err != nil {
				return Outcome{}, err
			}
			return Outcome{Success: ok, Result: map[string]any{"observed_value": p}}, nil
		},
	}, nil
}

// quantileValues: quantile_ranges {quantiles, value_ranges}; each
// quantile is computed as the engine's discrete quantile (a value of the
// column), as GE does on SQL engines, and must fall in its range.
func quantileValues(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	qr, ok := kw["quantile_ranges"].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%w: quantile_ranges must be an object with quantiles and value_ranges", ErrInvalidKwargs)
	}
	qs, _ := qr["quantiles"].([]any)
	ranges, _ := qr["value_ranges"].([]any)
	if len(qs) == 0 {
		return nil, fmt.Errorf("%w: quantile_ranges.quantiles must be a non-empty list", ErrInvalidKwargs)
	}
	if len(qs) != len(ranges) {
		return nil, fmt.Errorf("%w: quantile_ranges must have one value range per quantile", ErrInvalidKwargs)
	}
	quantiles := make([]float64, len(qs))
	bounds := make([][2]*float64, len(qs))
	aggs := make([]string, len(qs))
	for i, q := range qs {
		f, ok := toFloat(q)
		if !ok || f < 0 || f > 1 {
			return nil, fmt.Errorf("%w: quantiles must be numbers between 0 and 1, got %v", ErrInvalidKwargs, q)
		}
		quantiles[i] = f
		r, ok := ranges[i].([]any)
		if !ok || len(r) != 2 {
			return nil, fmt.Errorf("%w: quantile_ranges must consist of ordered pairs", ErrInvalidKwargs)
		}
		for j, x := range r {
			if x == nil {
				continue
			}
			f, ok := toFloat(x)
			if !ok {
				return nil, fmt.Errorf("%w: value_ranges must hold numbers or null, got %v", ErrInvalidKwargs, x)
			}
			bounds[i][j] = &f
		}
		if bounds[i][0] != nil && bounds[i][1] != nil && *bounds[i][0] > *bounds[i][1] {
			return nil, fmt.Errorf("%w: quantile_ranges must consist of ordered pairs", ErrInvalidKwargs)
		}
		aggs[i] = env.D.Quantile(col, env.D.Float(env.Bind(f)))
	}
	return &Plan{
		Aggregates: aggs,
		Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
			values := make([]any, len(v))
			details := make([]any, len(v))
			success := true
			for i, x := range v {
				values[i] = x
				f, ok := numberOf(x)
				in := ok && (bounds[i][0] == nil || f >= *bounds[i][0]) && (bounds[i][1] == nil || f <= *bounds[i][1])
				details[i] = in
				success = success && in
			}
			qsOut := make([]any, len(quantiles))
			for i, q := range quantiles {
				qsOut[i] = q
			}
			return Outcome{Success: success, Result: map[string]any{
				"observed_value": map[string]any{"quantiles": qsOut, "values": values},
				"details":        map[string]any{"success_details": details},
			}}, nil
		},
	}, nil
}

// valueCounts queries a column's distinct non-null values, sorted, with
// their counts.
func valueCounts(ctx context.Context, q Queryer, env *Env, col string) (values []any, counts []int64, err error) {
	rows, err := env.Query(ctx, q, "SELECT "+col+", count(*) FROM "+env.From()+env.Where(col+" IS NOT NULL")+" GROUP BY "+col+" ORDER BY "+col)
	if err != nil {
		return nil, nil, err
	}
	for _, r := range rows {
		values = append(values, r[0])
		counts = append(counts, toInt(r[1]))
	}
	return values, counts, nil
}

// distinctValues compiles the distinct-values set expectations; with
// nullSetOK a null value_set is the universal set.
func distinctValues(ok func(observed, set []any) bool, nullSetOK bool) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		_, col, err := env.Column(kw)
		if err != nil {
			return nil, err
		}
		set, given, err := kw.List("value_set")
		if err != nil {
			return nil, err
		}
		if !given && !nullSetOK {
			return nil, fmt.Errorf("%w: value_set is required", ErrInvalidKwargs)
		}
		asDates, err := kw.Bool("parse_strings_as_datetimes", false)
		if err != nil {
			return nil, err
		}
		if asDates {
			for _, v := range set {
				if s, isStr := v.(string); isStr {
					if _, parsed := parseInstant(s); !parsed {
						return nil, fmt.Errorf("%w: value_set holds %q, which is not a date or time", ErrInvalidKwargs, s)
					}
				}
			}
		}
		return &Plan{Evaluate: func(ctx context.Context, q Queryer, _ []any) (Outcome, error) {
			values, counts, err := valueCounts(ctx, q, env, col)
			if err != nil {
				return Outcome{}, err
			}
			vc := make([]any, len(values))
			for i := range values {
				vc[i] = map[string]any{"value": values[i], "count": counts[i]}
			}
			observed := values
			if observed == nil {
				observed = []any{}
			}
			success := !given || ok(observed, set)
			return Outcome{Success: success, Result: map[string]any{
				"observed_value": observed,
				"details":        map[string]any{"value_counts": vc},
			}}, nil
		}}, nil
	}
}

// subset reports whether every element of a equals (sameElement) some
// element of b, in time linear in both.
func subset(a, b []any) bool {
	ix := indexElements(b)
	for _, x := range a {
		if !ix.contains(x) {
			return false
		}
	}
	return true
}

// sameElement compares a result value with a configured one: numbers by
// value, strings as text or, when both read as dates, as instants.
func sameElement(a, b any) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	if x, ok := numberOf(a); ok {
		y, ok := numberOf(b)
		return ok && x == y
	}
	if x, ok := a.(bool); ok {
		y, ok := b.(bool)
		return ok && x == y
	}
	if t, ok := a.(time.Time); ok {
		a = t.Format(time.RFC3339Nano)
	}
	x, ok1 := a.(string)
	y, ok2 := b.(string)
	if !ok1 || !ok2 {
		return false
	}
	if x == y {
		return true
	}
	tx, okx := parseInstant(x)
	ty, oky := parseInstant(y)
	return okx && oky && tx.Equal(ty)
}

// mostCommonValue: the column's modes (every value with the highest
// count, nulls aside) against value_set; with ties_okay any mode in the
// set will do, otherwise there must be one mode and it must be in the set.
func mostCommonValue(env *Env, kw Kwargs) (*Plan, error) {
	_, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	set, given, err := kw.List("value_set")
	if err != nil {
		return nil, err
	}
	if !given {
		return nil, fmt.Errorf("%w: value_set is required", ErrInvalidKwargs)
	}
	tiesOK, err := kw.Bool("ties_okay", false)
	if err != nil {
		return nil, err
	}
	return &Plan{Evaluate: func(ctx context.Context, q Queryer, _ []any) (Outcome, error) {
		rows, err := env.Query(ctx, q, "SELECT v FROM (SELECT "+col+" AS v, count(*) AS n, max(count(*)) OVER () AS m FROM "+
			env.From()+env.Where(col+" IS NOT NULL")+" GROUP BY "+col+") AS g WHERE n = m ORDER BY v")
		if err != nil {
			return Outcome{}, err
		}
		modes := []any{}
		for _, r := range rows {
			modes = append(modes, r[0])
		}
		inSet := 0
		ix := indexElements(set)
		for _, m := range modes {
			if ix.contains(m) {
				inSet++
			}
		}
		success := inSet > 0
		if !tiesOK {
			success = len(modes) == 1 && inSet == 1
		}
		return Outcome{Success: success, Result: map[string]any{"observed_value": modes}}, nil
	}}, nil
}
