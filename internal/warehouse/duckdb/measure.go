package duckdb

import (
	"context"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

// Dialect is DuckDB's, for the rules internal/quality compiles.
func (w *Warehouse) Dialect() quality.Dialect { return quality.DuckDB }

// BatchMetrics counts a staged object's rows and each column's non-NULL
// values, and reads the event-time column's maximum, in one scan.
func (w *Warehouse) BatchMetrics(ctx context.Context, st *warehouse.Staged, eventTime string) (*warehouse.Metrics, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	m, err := sqlplan.Measure(ctx, sqlplan.DB(w.conn), duck, stagingRef(st.Table), st.Columns, eventTime)
	if err != nil {
		return nil, fmt.Errorf("duckdb: measure the rows of %s: %w", st.ObjectKey, err)
	}
	return m, nil
}

// TargetSchema reads a target table's columns from the catalog; a
// DECIMAL(p,s) is NUMERIC with precision p and scale s.
func (w *Warehouse) TargetSchema(ctx context.Context, table string) (schema.Schema, error) {
	rows, err := logQuery(ctx, w.db, `SELECT column_name, data_type, is_nullable FROM information_schema.columns
		WHERE table_schema = 'main' AND lower(table_name) = lower(?) ORDER BY ordinal_position`, table)
	if err != nil {
		return nil, fmt.Errorf("duckdb: describe %s: %w", table, err)
	}
	defer rows.Close()
	var out schema.Schema
	for rows.Next() {
		var name, typ, nullable string
		if err := rows.Scan(&name, &typ, &nullable); err != nil {
			return nil, fmt.Errorf("duckdb: describe %s: %w", table, err)
		}
		f := schema.Field{Name: name, Type: SchemaType(typ), Mode: schema.ModeNullable}
		if strings.EqualFold(nullable, "NO") {
			f.Mode = schema.ModeRequired
		}
		var p, s int
		if n, err := fmt.Sscanf(strings.ToUpper(strings.ReplaceAll(typ, " ", "")), "DECIMAL(%d,%d)", &p, &s); err == nil && n == 2 {
			f.Precision, f.Scale = p, s
		}
		out = append(out, f)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckdb: describe %s: %w", table, err)
	}
	return out, nil
}

// QuarantinedRows reads a run's set-aside rows from the target's
// quarantine table or from the set-aside table.
func (w *Warehouse) QuarantinedRows(ctx context.Context, runID, target string) (warehouse.Rows, error) {
	q := "SELECT source_object, line, reason, raw, 'not committed' AS state FROM " + setAsideTable + " WHERE run_id = ?"
	if target != "" {
		q = "SELECT source_object, line, reason, raw, 'committed' AS state FROM " +
			qualified("main", target+warehouse.QuarantineSuffix) + " WHERE run_id = ?"
	}
	return w.RunQuery(ctx, q+" ORDER BY source_object, line", runID)
}
