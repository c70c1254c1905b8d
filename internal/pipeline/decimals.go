package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/shp-dev/shp/internal/schema"
)

// keepTargetDecimals loads a discovered NUMERIC or STRING column as the
// DECIMAL its target column already is, when that DECIMAL does not hold
// every value of the discovered type: a database column whose type does
// not bound its values (PostgreSQL numeric) is discovered from the values
// it has now, and a later run may find one with more decimals than the
// target keeps. Loaded as the target's type, such a value is set aside by
// the extraction (source.ExtractRequest.Schema) with the reason, where
// the commit would have rounded it into the target.
func (r *Runner) keepTargetDecimals(ctx context.Context, target string, sch schema.Schema, log *slog.Logger) error {
	if r.Warehouse.Dialect() != "duckdb" {
		return nil
	}
	rows, err := r.Warehouse.Query(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND lower(table_name) = lower(?)`, target)
	if err != nil {
		return fmt.Errorf("read the column types of %s: %w", target, err)
	}
	defer rows.Close()
	have := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return fmt.Errorf("read the column types of %s: %w", target, err)
		}
		have[strings.ToLower(name)] = typ
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the column types of %s: %w", target, err)
	}
	for i, f := range sch {
		tp, ts, ok := decimalParams(have[strings.ToLower(f.Name)])
		if !ok || f.Repeated() {
			continue
		}
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
		default:
			continue
		}
		log.Warn("a column is loaded as the target's DECIMAL, which does not hold every value of its discovered type: values it cannot hold exactly are set aside",
			"column", f.Name, "discovered", f.TypeName(), "target", have[strings.ToLower(f.Name)])
		sch[i].Type, sch[i].Precision, sch[i].Scale = schema.TypeNumeric, tp, ts
	}
	return nil
}

// decimalParams reads DuckDB's "DECIMAL(p,s)".
func decimalParams(typ string) (p, s int, ok bool) {
	n, err := fmt.Sscanf(strings.ToUpper(strings.ReplaceAll(typ, " ", "")), "DECIMAL(%d,%d)", &p, &s)
	return p, s, err == nil && n == 2
}
