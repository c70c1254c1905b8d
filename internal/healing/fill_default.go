package healing

import (
	"context"
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
	return col && def
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
	if err := env.Conn.QueryRowContext(ctx, "SELECT count(*) FROM "+env.Table+" WHERE "+r.Where).Scan(&r.Rows); err != nil {
		return nil, fmt.Errorf("%s: count: %w", s.Name(), err)
	}
	if r.Rows == 0 {
		return nil, nil
	}
	r.Before, r.After = []any{nil}, []any{def}
	return r, nil
}
