package quality

import (
	"context"
	"fmt"
)

// columnMap compiles a column map expectation: every non-null value of the
// column is checked by a predicate that is true for unexpected values (GE
// ignores nulls in map expectations). With nullsUnexpected the nulls
// themselves are the unexpected values (expect_column_values_to_not_be_null).
func columnMap(env *Env, kw Kwargs, unexpected func(col string) (string, error), nullsUnexpected bool) (*Plan, error) {
	name, col, err := env.Column(kw)
	if err != nil {
		return nil, err
	}
	mostly, err := kw.Mostly()
	if err != nil {
		return nil, err
	}
	var bad string
	if nullsUnexpected {
		bad = col + " IS NULL"
	} else {
		pred, err := unexpected(col)
		if err != nil {
			return nil, err
		}
		bad = col + " IS NOT NULL AND coalesce((" + pred + "), TRUE)"
	}
	return mapPlan(env, name, []string{col}, bad, mostly, nullsUnexpected,
		"sum(CASE WHEN "+col+" IS NULL THEN 1 ELSE 0 END)"), nil
}

// mapPlan is the shared shape of map expectations over one or more
// columns: counts in the shared scan, samples of unexpected rows in a
// query of their own, only when a result format shows them.
func mapPlan(env *Env, name string, cols []string, bad string, mostly float64, nullsAreTheCheck bool, missingAgg string) *Plan {
	aggs := []string{"count(*)", missingAgg, "sum(CASE WHEN " + bad + " THEN 1 ELSE 0 END)"}
	return &Plan{
		Aggregates: aggs,
		Unexpected: bad,
		Evaluate: func(ctx context.Context, q Queryer, v []any) (Outcome, error) {
			n, missing, unexp := toInt(v[0]), toInt(v[1]), toInt(v[2])
			nonmissing := n - missing
			res := map[string]any{"element_count": n, "unexpected_count": unexp}
			base := nonmissing
			if nullsAreTheCheck {
				base = n
				res["unexpected_percent"] = pct(unexp, n)
			} else {
				res["missing_count"] = missing
				res["missing_percent"] = pct(missing, n)
				res["unexpected_percent"] = pct(unexp, nonmissing)
				res["unexpected_percent_total"] = pct(unexp, n)
				res["unexpected_percent_nonmissing"] = pct(unexp, nonmissing)
			}
			success := true
			if base > 0 {
				success = float64(base-unexp)/float64(base) >= mostly
			}
			if env.Format != BooleanOnly {
				if err := samples(ctx, q, env, cols, bad, unexp, res); err != nil {
					return Outcome{}, err
				}
			}
			return Outcome{Success: success, Result: res}, nil
		},
	}
}

// samples fills partial_unexpected_list (and, under COMPLETE, the whole
// unexpected_list and unexpected_index_list) from the unexpected rows.
func samples(ctx context.Context, q Queryer, env *Env, cols []string, bad string, unexp int64, res map[string]any) error {
	partial := []any{}
	res["partial_unexpected_list"] = partial
	if unexp == 0 {
		if env.Format == Complete {
			res["unexpected_list"] = []any{}
			res["unexpected_index_list"] = []any{}
		}
		return nil
	}
	sel := cols[0]
	if len(cols) > 1 {
		sel = ""
		for i, c := range cols {
			if i > 0 {
				sel += ", "
			}
			sel += c
		}
	}
	// The index is selected under an alias of its own: when it is the
	// checked column itself, ORDER BY its name would be ambiguous in
	// GoogleSQL (SELECT id, `id` ... ORDER BY id).
	order, idx := "", "NULL AS shp_i"
	if env.T.Index != "" {
		order = " ORDER BY shp_i"
		idx = env.T.Index + " AS shp_i"
	}
	limit := ""
	if env.Format != Complete {
		limit = fmt.Sprintf(" LIMIT %d", partialLimit)
	}
	rows, err := env.Query(ctx, q, "SELECT "+idx+", "+sel+" FROM "+env.From()+env.Where(bad)+order+limit)
	if err != nil {
		return err
	}
	var values, index []any
	for _, r := range rows {
		index = append(index, r[0])
		if len(r) == 2 {
			values = append(values, r[1])
		} else {
			values = append(values, r[1:])
		}
	}
	if len(values) > partialLimit {
		partial = values[:partialLimit]
	} else {
		partial = values
	}
	res["partial_unexpected_list"] = partial
	if env.Format == Complete || env.Format == Summary {
		res["partial_unexpected_index_list"] = index[:len(partial)]
	}
	if env.Format == Complete {
		res["unexpected_list"] = values
		res["unexpected_index_list"] = index
	}
	return nil
}

func toInt(v any) int64 {
	switch x := v.(type) {
	case int64:
		return x
	case int32:
		return int64(x)
	case int:
		return int64(x)
	case float64:
		return int64(x)
	case nil:
		return 0
	}
	f, _ := toFloat(v)
	return int64(f)
}

func pct(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return 100 * float64(a) / float64(b)
}
