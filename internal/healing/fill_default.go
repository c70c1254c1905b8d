package healing

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/shp-dev/shp/internal/quality"
)

func init() { RegisterStrategy(fillDeclaredDefault{}) }

// fillDeclaredDefault fills the NULLs of a column with the default its
// not-null rule declares (`default:` in quality_rules.yaml, kept in the
// rule's meta). It never invents a value: without a declared default it
// does not apply.
type fillDeclaredDefault struct{}

func (fillDeclaredDefault) Name() string { return "fill_declared_default" }

func (fillDeclaredDefault) Applies(f Failure) bool {
	if f.Config.Type != "expect_column_values_to_not_be_null" {
		return false
	}
	_, col := f.Config.Kwargs["column"].(string)
	_, def := f.Config.Meta[quality.MetaDefault]
	// A rule with a row_condition allows NULLs outside it: which NULLs to
	// fill would be a guess.
	_, cond := f.Config.Kwargs["row_condition"]
	return col && def && !cond
}

func (s fillDeclaredDefault) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	col := f.Config.Kwargs["column"].(string)
	def := f.Config.Meta[quality.MetaDefault]
	c := quality.DuckDB.Ident(col)
	r := &Repair{
		Description: fmt.Sprintf("fill NULL %s with the default its rule declares (%v)", col, def),
		Column:      col, SetExpr: "?", SetArgs: []any{def}, Where: c + " IS NULL",
		// The rule's author chose the value: there is nothing to guess.
		Confidence: 0.99,
		Params:     map[string]any{"column": col, "default": def},
	}
	// A default the column cannot hold is no repair (the rule's author
	// wrote "n/a" for a number): nothing is planned.
	var typ string
	if err := env.Conn.QueryRowContext(ctx, "SELECT typeof("+c+") FROM "+env.Table+" LIMIT 1").Scan(&typ); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: column type: %w", s.Name(), err)
	}
	var fits bool
	if err := env.Conn.QueryRowContext(ctx, "SELECT TRY_CAST(? AS "+typ+") IS NOT NULL", def).Scan(&fits); err != nil || !fits {
		return nil, nil
	}
	if err := env.Conn.QueryRowContext(ctx, "SELECT count(*) FROM "+env.Table+" WHERE "+r.Where).Scan(&r.Rows); err != nil {
		return nil, fmt.Errorf("%s: count: %w", s.Name(), err)
	}
	if r.Rows == 0 {
		return nil, nil
	}
	r.Before, r.After = []any{nil}, []any{def}
	return r, nil
}
