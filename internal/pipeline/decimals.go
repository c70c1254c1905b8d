package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shp-dev/shp/internal/schema"
)

// keepTargetDecimals loads a NUMERIC column (and, when discovered, a
// STRING one) as the DECIMAL its target column already is, when that
// DECIMAL does not hold every value of the column's type: a database
// column whose type does not bound its values (PostgreSQL numeric) is
// discovered from the values it has now, and a later run may find one
// with more decimals than the target keeps; a target the optimisation
// layer narrowed holds fewer digits than the type declared. Loaded as the
// target's type, such a value is set aside with the reason, where the
// commit would have rounded it into the target or failed. A declared
// STRING stays a STRING: it says what the person wants.
func (r *Runner) keepTargetDecimals(ctx context.Context, target string, sch schema.Schema, declared bool, log *slog.Logger) error {
	cols, err := r.Warehouse.TargetSchema(ctx, target)
	if err != nil {
		return fmt.Errorf("read the column types of %s: %w", target, err)
	}
	have := map[string]schema.Field{}
	for _, c := range cols {
		have[strings.ToLower(c.Name)] = c
	}
	for i, f := range sch {
		tf, ok := have[strings.ToLower(f.Name)]
		if !ok || tf.Type != schema.TypeNumeric || tf.Precision == 0 || f.Repeated() {
			continue
		}
		tp, ts := tf.Precision, tf.Scale
		switch f.Type {
		case schema.TypeNumeric:
			fp, fs := f.Precision, f.Scale
			if fp == 0 {
				fp, fs = schema.MaxDecimalPrecision, 9 // as the warehouse keeps it
			}
			if fs <= ts && fp-fs <= tp-ts {
				continue // the target holds every value
			}
		case schema.TypeString:
			if declared {
				continue
			}
		default:
			continue
		}
		log.Warn("a column is loaded as the target's DECIMAL, which does not hold every value of its source type: values it cannot hold exactly are set aside",
			"column", f.Name, "discovered", f.TypeName(), "target", tf.TypeName())
		sch[i].Type, sch[i].Precision, sch[i].Scale = schema.TypeNumeric, tp, ts
	}
	return nil
}
