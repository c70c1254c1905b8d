package quality

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// The column map expectations whose check is a predicate on one value.
func init() {
	Register("expect_column_values_to_not_be_null", func(env *Env, kw Kwargs) (*Plan, error) {
		return columnMap(env, kw, nil, true)
	})
	Register("expect_column_values_to_be_null", func(env *Env, kw Kwargs) (*Plan, error) {
		// Here non-null values are the unexpected ones.
		name, col, err := env.Column(kw)
		if err != nil {
			return nil, err
		}
		mostly, err := kw.Mostly()
		if err != nil {
			return nil, err
		}
		return mapPlan(env, name, []string{col}, col+" IS NOT NULL", mostly, true, "sum(0)"), nil
	})
	Register("expect_column_values_to_be_in_set", setExpectation(false))
	Register("expect_column_values_to_not_be_in_set", setExpectation(true))
	Register("expect_column_values_to_be_between", func(env *Env, kw Kwargs) (*Plan, error) {
		return columnMap(env, kw, func(col string) (string, error) {
			return betweenViolation(env, kw, col)
		}, false)
	})
	Register("expect_column_value_lengths_to_be_between", func(env *Env, kw Kwargs) (*Plan, error) {
		if err := requireText(env, kw); err != nil {
			return nil, err
		}
		return columnMap(env, kw, func(col string) (string, error) {
			lf, lok := toFloat(kw["min_value"])
			hf, hok := toFloat(kw["max_value"])
			if lok && hok && lf > hf {
				// GE checks each length against the empty range: all fail.
				return "TRUE", nil
			}
			return betweenViolation(env, kw, env.D.Length(env.D.Text(col)))
		}, false)
	})
	Register("expect_column_value_lengths_to_equal", func(env *Env, kw Kwargs) (*Plan, error) {
		if err := requireText(env, kw); err != nil {
			return nil, err
		}
		v, err := kw.Number("value")
		if err != nil {
			return nil, err
		}
		if v == nil {
			return nil, fmt.Errorf("%w: value is required", ErrInvalidKwargs)
		}
		return columnMap(env, kw, func(col string) (string, error) {
			return env.D.Length(env.D.Text(col)) + " <> " + env.Bind(int64(*v)), nil
		}, false)
	})
	Register("expect_column_values_to_match_regex", patternExpectation("regex", false, false, regexMatch))
	Register("expect_column_values_to_not_match_regex", patternExpectation("regex", false, true, regexMatch))
	Register("expect_column_values_to_match_regex_list", patternExpectation("regex_list", true, false, regexMatch))
	Register("expect_column_values_to_not_match_regex_list", patternExpectation("regex_list", true, true, regexMatch))
	Register("expect_column_values_to_match_like_pattern", patternExpectation("like_pattern", false, false, likeMatch))
	Register("expect_column_values_to_not_match_like_pattern", patternExpectation("like_pattern", false, true, likeMatch))
	Register("expect_column_values_to_match_like_pattern_list", patternExpectation("like_pattern_list", true, false, likeMatch))
	Register("expect_column_values_to_not_match_like_pattern_list", patternExpectation("like_pattern_list", true, true, likeMatch))
	Register("expect_column_values_to_be_json_parseable", func(env *Env, kw Kwargs) (*Plan, error) {
		if env.D.TryJSON("x") == "" {
			return goCheckedMap(env, kw, func(s string) bool { return json.Valid([]byte(s)) })
		}
		return columnMap(env, kw, func(col string) (string, error) {
			return "NOT " + env.D.TryJSON(env.D.Text(col)), nil
		}, false)
	})
}

// requireText fails for a column whose values have no length: numbers,
// booleans, dates.
func requireText(env *Env, kw Kwargs) error {
	name, err := kw.Column()
	if err != nil {
		return err
	}
	if t := env.T.TypeOf(name); t != "" && !isTextType(t) {
		return fmt.Errorf("%w: column %q is of type %s; value lengths need text values", ErrInvalidKwargs, name, t)
	}
	return nil
}

// isTextType reports whether an engine type holds text.
func isTextType(t string) bool {
	t = strings.ToUpper(t)
	for _, p := range []string{"VARCHAR", "TEXT", "STRING", "CHAR", "BPCHAR", "CHARACTER", "NAME", "UUID", "JSON"} {
		if strings.HasPrefix(t, p) {
			return true
		}
	}
	return false
}

func setExpectation(negate bool) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		set, ok, err := kw.List("value_set")
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: value_set is required", ErrInvalidKwargs)
		}
		// Nulls never reach the check, so a null in the set matches nothing.
		var kept []any
		for _, v := range set {
			if v != nil {
				kept = append(kept, v)
			}
		}
		set = kept
		return columnMap(env, kw, func(col string) (string, error) {
			if len(set) == 0 {
				if negate {
					return "FALSE", nil
				}
				return "TRUE", nil
			}
			// A large set is a semi-join against it (see inSet).
			name, _ := kw.Column()
			in := env.inSet(col, env.T.TypeOf(name), set)
			if negate {
				return in, nil
			}
			return "NOT (" + in + ")", nil
		}, false)
	}
}

// betweenViolation is true when expr is outside [min_value, max_value],
// with strict_min/strict_max making a bound exclusive. A missing bound is
// open; both missing is a configuration error. An infinite or NaN bound
// is compared as a double, as GE's SQL does, except that an inclusive
// -Infinity is left out.
func betweenViolation(env *Env, kw Kwargs, expr string) (string, error) {
	lo, hi := kw["min_value"], kw["max_value"]
	if lo == nil && hi == nil {
		return "", fmt.Errorf("%w: min_value and max_value cannot both be None", ErrInvalidKwargs)
	}
	strictMin, err := kw.Bool("strict_min", false)
	if err != nil {
		return "", err
	}
	strictMax, err := kw.Bool("strict_max", false)
	if err != nil {
		return "", err
	}
	if lf, lok := toFloat(lo); lok {
		if hf, hok := toFloat(hi); hok && lf > hf {
			return "", fmt.Errorf("%w: min_value cannot be greater than max_value", ErrInvalidKwargs)
		}
	}
	var parts []string
	if f, ok := isNonFinite(lo); ok && math.IsInf(f, -1) && !strictMin {
		// Nothing is below -Infinity: no lower bound, for any column
		// type (a date cannot be compared with a double).
		lo = nil
	}
	if lo != nil {
		op := " < "
		if strictMin {
			op = " <= "
		}
		parts = append(parts, expr+op+env.Bind(lo))
	}
	if hi != nil {
		op := " > "
		if strictMax {
			op = " >= "
		}
		parts = append(parts, expr+op+env.Bind(hi))
	}
	if len(parts) == 0 {
		return "FALSE", nil
	}
	return strings.Join(parts, " OR "), nil
}

// regexMatch and likeMatch are the SQL tests of a value against a pattern.
func regexMatch(env *Env, col, pattern string) string {
	return env.D.RegexMatch(env.D.Text(col), env.Bind(pattern))
}

func likeMatch(env *Env, col, pattern string) string {
	return env.D.Text(col) + " LIKE " + env.Bind(pattern)
}

// patternExpectation compiles the regex and LIKE expectations: one
// pattern under key or, with list, a non-empty list of them matched on
// "any" (the default) or "all"; the negated form fails a value that
// matches any pattern.
func patternExpectation(key string, list, negate bool, match func(env *Env, col, pattern string) string) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		matchOn := "any"
		var patterns []string
		if list {
			var err error
			if patterns, err = kw.Strings(key); err != nil {
				return nil, err
			}
			if len(patterns) == 0 {
				return nil, fmt.Errorf("%w: %s must not be empty", ErrInvalidKwargs, key)
			}
			if m, ok := kw["match_on"].(string); ok {
				matchOn = m
			}
			if matchOn != "any" && matchOn != "all" {
				return nil, fmt.Errorf("%w: match_on must be any or all", ErrInvalidKwargs)
			}
		} else {
			p, err := kw.requiredString(key)
			if err != nil {
				return nil, err
			}
			patterns = []string{p}
		}
		return columnMap(env, kw, func(col string) (string, error) {
			ms := make([]string, len(patterns))
			for i, p := range patterns {
				ms[i] = match(env, col, p)
			}
			if negate {
				return strings.Join(ms, " OR "), nil
			}
			joiner := " OR "
			if matchOn == "all" {
				joiner = " AND "
			}
			return "NOT (" + strings.Join(ms, joiner) + ")", nil
		}, false)
	}
}
