package quality

import (
	"context"
	"fmt"
	"strings"
)

// The column pair and multicolumn map expectations. Rows that ignore_row_if
// sets aside count as missing; every other row is checked by a predicate
// that treats an unknown (null) comparison as a failure, as GE's SQL
// engines do. Unexpected rows show as [a, b] pairs for column pairs and as
// {column: value} records for column lists.
func init() {
	Register("expect_column_pair_values_to_be_equal", pairExpectation(func(env *Env, kw Kwargs, a, b string) (string, error) {
		return a + " = " + b, nil
	}))
	Register("expect_column_pair_values_a_to_be_greater_than_b", pairExpectation(func(env *Env, kw Kwargs, a, b string) (string, error) {
		orEqual, err := kw.Bool("or_equal", false)
		if err != nil {
			return "", err
		}
		if _, err := kw.Bool("parse_strings_as_datetimes", false); err != nil {
			return "", err
		}
		if orEqual {
			return a + " >= " + b, nil
		}
		return a + " > " + b, nil
	}))
	Register("expect_column_pair_values_to_be_in_set", pairExpectation(func(env *Env, kw Kwargs, a, b string) (string, error) {
		set, ok, err := kw.List("value_pairs_set")
		if err != nil {
			return "", err
		}
		if !ok {
			return "", fmt.Errorf("%w: value_pairs_set is required", ErrInvalidKwargs)
		}
		if len(set) == 0 {
			return "FALSE", nil
		}
		alts := make([]string, len(set))
		for i, p := range set {
			pair, ok := p.([]any)
			if !ok || len(pair) != 2 {
				return "", fmt.Errorf("%w: value_pairs_set must hold pairs [a, b], got %v", ErrInvalidKwargs, p)
			}
			alts[i] = "(" + equalsValue(env, a, pair[0]) + " AND " + equalsValue(env, b, pair[1]) + ")"
		}
		return strings.Join(alts, " OR "), nil
	}))
	Register("expect_compound_columns_to_be_unique", multicolumnExpectation(func(env *Env, kw Kwargs, cols []string, ignored string) (string, error) {
		// A row fails when its combination of values occurs in another
		// checked row; a combination holding a null matches nothing.
		key := strings.Join(cols, ", ")
		lhs, sel := key, key
		if len(cols) > 1 {
			lhs = "(" + key + ")"
			if rv, ok := env.D.(rowValues); ok {
				lhs, sel = rv.RowValue(cols), rv.SelectRowValue(cols)
			}
		}
		keep := ""
		if ignored != "" {
			keep = "NOT (" + ignored + ")"
		}
		return "NOT coalesce(" + lhs + " IN (SELECT " + sel + " FROM " + env.From() + env.Where(keep) +
			" GROUP BY " + key + " HAVING count(*) > 1), FALSE)", nil
	}))
	Register("expect_select_column_values_to_be_unique_within_record", multicolumnExpectation(func(env *Env, kw Kwargs, cols []string, _ string) (string, error) {
		// Two nulls in a record are the same value.
		var dup []string
		for i := range cols {
			for j := i + 1; j < len(cols); j++ {
				dup = append(dup, "coalesce("+cols[i]+" = "+cols[j]+", "+cols[i]+" IS NULL AND "+cols[j]+" IS NULL)")
			}
		}
		if len(dup) == 0 {
			return "TRUE", nil
		}
		return "NOT (" + strings.Join(dup, " OR ") + ")", nil
	}))
	Register("expect_multicolumn_sum_to_equal", multicolumnExpectation(func(env *Env, kw Kwargs, cols []string, _ string) (string, error) {
		total, err := kw.Number("sum_total")
		if err != nil {
			return "", err
		}
		if total == nil {
			return "", fmt.Errorf("%w: sum_total is required", ErrInvalidKwargs)
		}
		// A null adds nothing to a record's sum.
		terms := make([]string, len(cols))
		for i, c := range cols {
			terms[i] = "coalesce(" + c + ", 0)"
		}
		return strings.Join(terms, " + ") + " = " + env.Bind(kw["sum_total"]), nil
	}))
}

// equalsValue is a predicate: col equals v, or is null when v is null.
func equalsValue(env *Env, col string, v any) string {
	if v == nil {
		return col + " IS NULL"
	}
	return col + " = " + env.Bind(v)
}

// pairExpectation compiles a column pair map expectation from the
// predicate its rows must satisfy.
func pairExpectation(expected func(env *Env, kw Kwargs, a, b string) (string, error)) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		nameA, err := kw.requiredString("column_A")
		if err != nil {
			return nil, err
		}
		nameB, err := kw.requiredString("column_B")
		if err != nil {
			return nil, err
		}
		a, err := env.Col(nameA)
		if err != nil {
			return nil, err
		}
		b, err := env.Col(nameB)
		if err != nil {
			return nil, err
		}
		mostly, err := kw.Mostly()
		if err != nil {
			return nil, err
		}
		mode := "both_values_are_missing"
		if m, ok := kw["ignore_row_if"]; ok && m != nil {
			if mode, ok = m.(string); !ok {
				return nil, fmt.Errorf("%w: ignore_row_if must be a string", ErrInvalidKwargs)
			}
		}
		var ignored string
		switch mode {
		case "both_values_are_missing":
			ignored = a + " IS NULL AND " + b + " IS NULL"
		case "either_value_is_missing":
			ignored = a + " IS NULL OR " + b + " IS NULL"
		case "neither", "never":
		default:
			return nil, fmt.Errorf("%w: ignore_row_if must be both_values_are_missing, either_value_is_missing or neither, got %q", ErrInvalidKwargs, mode)
		}
		pred, err := expected(env, kw, a, b)
		if err != nil {
			return nil, err
		}
		return checkedRows(env, []string{a, b}, nil, ignored, pred, mostly), nil
	}
}

// multicolumnExpectation compiles a multicolumn map expectation from the
// predicate its rows must satisfy; the predicate is given the quoted
// columns and the ignored-row predicate.
func multicolumnExpectation(expected func(env *Env, kw Kwargs, cols []string, ignored string) (string, error)) Factory {
	return func(env *Env, kw Kwargs) (*Plan, error) {
		names, err := kw.Strings("column_list")
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("%w: column_list must not be empty", ErrInvalidKwargs)
		}
		cols := make([]string, len(names))
		for i, n := range names {
			if cols[i], err = env.Col(n); err != nil {
				return nil, err
			}
		}
		mostly, err := kw.Mostly()
		if err != nil {
			return nil, err
		}
		mode := "all_values_are_missing"
		if m, ok := kw["ignore_row_if"]; ok && m != nil {
			if mode, ok = m.(string); !ok {
				return nil, fmt.Errorf("%w: ignore_row_if must be a string", ErrInvalidKwargs)
			}
		}
		nulls := make([]string, len(cols))
		for i, c := range cols {
			nulls[i] = c + " IS NULL"
		}
		var ignored string
		switch mode {
		case "all_values_are_missing":
			ignored = strings.Join(nulls, " AND ")
		case "any_value_is_missing":
			ignored = strings.Join(nulls, " OR ")
		case "never", "neither":
		default:
			return nil, fmt.Errorf("%w: ignore_row_if must be all_values_are_missing, any_value_is_missing or never, got %q", ErrInvalidKwargs, mode)
		}
		pred, err := expected(env, kw, cols, ignored)
		if err != nil {
			return nil, err
		}
		return checkedRows(env, cols, names, ignored, pred, mostly), nil
	}
}

// checkedRows builds the map plan: ignored rows are missing, the others
// fail unless pred is true. With names, unexpected rows show as records.
func checkedRows(env *Env, cols, names []string, ignored, pred string, mostly float64) *Plan {
	bad := "NOT coalesce((" + pred + "), FALSE)"
	missing := "sum(0)"
	if ignored != "" {
		bad = "NOT (" + ignored + ") AND " + bad
		missing = "sum(CASE WHEN " + ignored + " THEN 1 ELSE 0 END)"
	}
	p := mapPlan(env, "", cols, bad, mostly, false, missing)
	if names == nil {
		return p
	}
	inner := p.Evaluate
	p.Evaluate = func(ctx context.Context, q Queryer, v []any) (Outcome, error) {
		out, err := inner(ctx, q, v)
		if err != nil {
			return out, err
		}
		for _, k := range []string{"partial_unexpected_list", "unexpected_list"} {
			if l, ok := out.Result[k].([]any); ok {
				out.Result[k] = asRecords(l, names)
			}
		}
		return out, nil
	}
	return p
}

// asRecords turns sampled rows ([]any per row, or a bare value for one
// column) into {column: value} records.
func asRecords(rows []any, names []string) []any {
	out := make([]any, len(rows))
	for i, r := range rows {
		vals, ok := r.([]any)
		if !ok {
			vals = []any{r}
		}
		rec := make(map[string]any, len(names))
		for j, n := range names {
			if j < len(vals) {
				rec[n] = vals[j]
			}
		}
		out[i] = rec
	}
	return out
}

// rowValues is a dialect without row values ((a, b) IN (SELECT a, b
// ...)): GoogleSQL compares STRUCTs instead.
type rowValues interface {
	// RowValue is the row value of exprs, as the left side of IN.
	RowValue(exprs []string) string
	// SelectRowValue is the select list of a subquery whose rows are
	// row values of exprs.
	SelectRowValue(exprs []string) string
}
