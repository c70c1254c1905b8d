package quality

import (
	"context"
	"fmt"
	"math"
	"sort"
)

// The table expectations: row and column counts, the column set and
// order, a column's presence, and a row count compared with another table.
// Row counts honour row_condition; column facts come from the table's
// description and need no query.
func init() {
	Register("expect_table_row_count_to_be_between", func(env *Env, kw Kwargs) (*Plan, error) {
		b, err := intBounds(kw)
		if err != nil {
			return nil, err
		}
		return &Plan{
			Aggregates: []string{"count(*)"},
			Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
				n := toInt(v[0])
				return Outcome{Success: b.holds(float64(n)), Result: map[string]any{"observed_value": n}}, nil
			},
		}, nil
	})
	Register("expect_table_row_count_to_equal", func(env *Env, kw Kwargs) (*Plan, error) {
		want, err := intValue(kw, "value")
		if err != nil {
			return nil, err
		}
		return &Plan{
			Aggregates: []string{"count(*)"},
			Evaluate: func(_ context.Context, _ Queryer, v []any) (Outcome, error) {
				n := toInt(v[0])
				return Outcome{Success: n == want, Result: map[string]any{"observed_value": n}}, nil
			},
		}, nil
	})
	Register("expect_table_row_count_to_equal_other_table", func(env *Env, kw Kwargs) (*Plan, error) {
		other, err := kw.requiredString("other_table_name")
		if err != nil {
			return nil, err
		}
		if other == "" {
			return nil, fmt.Errorf("%w: other_table_name must not be empty", ErrInvalidKwargs)
		}
		return &Plan{
			Aggregates: []string{"count(*)"},
			Evaluate: func(ctx context.Context, q Queryer, v []any) (Outcome, error) {
				self := toInt(v[0])
				// The row condition describes this table's rows only.
				rows, err := env.Query(ctx, q, "SELECT count(*) FROM "+env.D.Ident(other))
				if err != nil {
					return Outcome{}, fmt.Errorf("count rows of %s: %w", other, err)
				}
				n := toInt(rows[0][0])
				return Outcome{Success: self == n, Result: map[string]any{
					"observed_value": map[string]any{"self": self, "other": n},
				}}, nil
			},
		}, nil
	})
	Register("expect_table_column_count_to_be_between", func(env *Env, kw Kwargs) (*Plan, error) {
		b, err := intBounds(kw)
		if err != nil {
			return nil, err
		}
		n := int64(len(env.T.Columns))
		return staticPlan(b.holds(float64(n)), map[string]any{"observed_value": n}), nil
	})
	Register("expect_table_column_count_to_equal", func(env *Env, kw Kwargs) (*Plan, error) {
		want, err := intValue(kw, "value")
		if err != nil {
			return nil, err
		}
		n := int64(len(env.T.Columns))
		return staticPlan(n == want, map[string]any{"observed_value": n}), nil
	})
	Register("expect_table_columns_to_match_set", func(env *Env, kw Kwargs) (*Plan, error) {
		exact, err := kw.Bool("exact_match", true)
		if err != nil {
			return nil, err
		}
		var want []string
		if kw["column_set"] != nil {
			if want, err = kw.Strings("column_set"); err != nil {
				return nil, err
			}
		}
		actual := tableColumns(env)
		if kw["column_set"] == nil && !exact {
			return staticPlan(true, map[string]any{"observed_value": anyStrings(actual)}), nil
		}
		unexpected := setMinus(actual, want)
		missing := setMinus(want, actual)
		if len(unexpected) == 0 && len(missing) == 0 {
			return staticPlan(true, map[string]any{"observed_value": anyStrings(actual),
				"details": map[string]any{"mismatched": map[string]any{}}}), nil
		}
		mismatched := map[string]any{}
		if len(unexpected) > 0 {
			mismatched["unexpected"] = anyStrings(unexpected)
		}
		if len(missing) > 0 {
			mismatched["missing"] = anyStrings(missing)
		}
		sorted := append([]string(nil), actual...)
		sort.Strings(sorted)
		success := !exact && len(missing) == 0
		return staticPlan(success, map[string]any{"observed_value": anyStrings(sorted),
			"details": map[string]any{"mismatched": mismatched}}), nil
	})
	Register("expect_table_columns_to_match_ordered_list", func(env *Env, kw Kwargs) (*Plan, error) {
		want, err := kw.Strings("column_list")
		if err != nil {
			return nil, err
		}
		actual := tableColumns(env)
		var mismatched []any
		for i := 0; i < len(want) || i < len(actual); i++ {
			var e, f any
			if i < len(want) {
				e = want[i]
			}
			if i < len(actual) {
				f = actual[i]
			}
			if e != f {
				mismatched = append(mismatched, map[string]any{"Expected Column Position": int64(i), "Expected": e, "Found": f})
			}
		}
		res := map[string]any{"observed_value": anyStrings(actual)}
		if len(mismatched) > 0 {
			res["details"] = map[string]any{"mismatched": mismatched}
		}
		return staticPlan(len(mismatched) == 0, res), nil
	})
	Register("expect_column_to_exist", func(env *Env, kw Kwargs) (*Plan, error) {
		name, err := kw.Column()
		if err != nil {
			return nil, err
		}
		idx, err := optionalInt(kw, "column_index")
		if err != nil {
			return nil, err
		}
		actual := tableColumns(env)
		ok := false
		if idx != nil {
			ok = *idx >= 0 && *idx < int64(len(actual)) && actual[*idx] == name
		} else {
			for _, c := range actual {
				ok = ok || c == name
			}
		}
		return staticPlan(ok, map[string]any{}), nil
	})
}

// staticPlan is a plan whose outcome is known at compile time.
func staticPlan(success bool, res map[string]any) *Plan {
	return &Plan{Evaluate: func(context.Context, Queryer, []any) (Outcome, error) {
		return Outcome{Success: success, Result: res}, nil
	}}
}

func tableColumns(env *Env) []string {
	out := make([]string, len(env.T.Columns))
	for i, c := range env.T.Columns {
		out[i] = c.Name
	}
	return out
}

func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// setMinus lists the distinct elements of a not in b, sorted.
func setMinus(a, b []string) []string {
	in := map[string]bool{}
	for _, s := range b {
		in[s] = true
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range a {
		if !in[s] && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// optionalInt reads an integer kwarg; nil when absent or null.
func optionalInt(kw Kwargs, name string) (*int64, error) {
	v, ok := kw[name]
	if !ok || v == nil {
		return nil, nil
	}
	f, ok := toFloat(v)
	if !ok || f != math.Trunc(f) || math.IsInf(f, 0) {
		return nil, fmt.Errorf("%w: %s must be an integer, got %v (not a valid integer)", ErrInvalidKwargs, name, v)
	}
	i := int64(f)
	return &i, nil
}

func intValue(kw Kwargs, name string) (int64, error) {
	v, err := optionalInt(kw, name)
	if err != nil {
		return 0, err
	}
	if v == nil {
		return 0, fmt.Errorf("%w: %s is required", ErrInvalidKwargs, name)
	}
	return *v, nil
}

// intBounds reads the integer min_value and max_value of a count
// expectation; either may be null, and both null is vacuously true.
func intBounds(kw Kwargs) (*numBounds, error) {
	for _, k := range []string{"min_value", "max_value"} {
		if v, ok := kw[k]; ok && v != nil {
			if f, ok := toFloat(v); !ok || f != math.Trunc(f) {
				return nil, fmt.Errorf("%w: min_value and max_value must be integers, got %s %v", ErrInvalidKwargs, k, v)
			}
		}
	}
	return numericBounds(kw)
}
