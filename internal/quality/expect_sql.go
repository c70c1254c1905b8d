package quality

import (
	"context"
	"fmt"
	"strings"
)

// Custom rules without Go: GE's UnexpectedRowsExpectation (a query that
// returns the bad rows, {batch} standing for the table) and shp's
// expect_rows_to_satisfy_sql (a predicate every row must satisfy; row
// level, so a quarantine action can move the rows that fail it). Their SQL
// comes from the project's own configuration and runs as written.
func init() {
	Register("unexpected_rows_expectation", func(env *Env, kw Kwargs) (*Plan, error) {
		q, err := kw.requiredString("unexpected_rows_query")
		if err != nil {
			return nil, err
		}
		if !strings.Contains(q, "{batch}") {
			return nil, fmt.Errorf("%w: unexpected_rows_query must select from {batch}", ErrInvalidKwargs)
		}
		q = strings.ReplaceAll(q, "{batch}", env.From())
		return &Plan{Evaluate: func(ctx context.Context, qr Queryer, _ []any) (Outcome, error) {
			rows, err := env.Query(ctx, qr, "SELECT count(*) FROM ("+q+") AS unexpected_rows")
			if err != nil {
				return Outcome{}, err
			}
			n := toInt(rows[0][0])
			noun := "rows"
			if n == 1 {
				noun = "row"
			}
			return Outcome{Success: n == 0, Result: map[string]any{"observed_value": fmt.Sprintf("%d unexpected %s", n, noun)}}, nil
		}}, nil
	})
	Register("expect_rows_to_satisfy_sql", func(env *Env, kw Kwargs) (*Plan, error) {
		pred, err := kw.requiredString("predicate")
		if err != nil {
			return nil, err
		}
		mostly, err := kw.Mostly()
		if err != nil {
			return nil, err
		}
		cols := make([]string, 0, len(env.T.Columns))
		for _, c := range env.T.Columns {
			cols = append(cols, env.D.Ident(c.Name))
		}
		bad := "NOT coalesce((" + pred + "), FALSE)"
		return mapPlan(env, "", cols, bad, mostly, true, "sum(0)"), nil
	})
}
