package healing

import (
	"context"
	"errors"
	"fmt"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
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

// Plan fills the column's NULLs with the declared default, when the
// column can hold it.
func (s fillDeclaredDefault) Plan(ctx context.Context, env *RepairEnv, f Failure) (*Repair, error) {
	col := f.Config.Kwargs["column"].(string)
	def := f.Config.Meta[quality.MetaDefault]
	op := warehouse.FillDefault{Column: col, Value: def}
	preview, err := env.Probe.PreviewRepair(ctx, env.Staged, op, 0)
	if errors.Is(err, warehouse.ErrValueDoesNotFit) {
		// A default the column cannot hold is no repair (the rule's
		// author wrote "n/a" for a number): nothing is planned.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name(), err)
	}
	if preview.Rows == 0 {
		return nil, nil
	}
	return &Repair{
		Description: fmt.Sprintf("fill NULL %s with the default its rule declares (%v)", col, def),
		Plan:        op,
		// The rule's author chose the value: there is nothing to guess.
		Confidence: 0.99,
		Params:     map[string]any{"column": col, "default": def},
		Rows:       preview.Rows, Before: []any{nil}, After: []any{def},
	}, nil
}
