package healing

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// decisions are people's decisions on a pipeline's actions: approvals
// let a strategy act, reverts stop it from acting alone, and a proposal
// still undecided is not proposed again.
type decisions struct {
	approved, reverted, proposed []metadata.HealingAction
}

// decisionsOf returns a loader of the pipeline's decisions that reads the
// store once, when first called.
func (e *Engine) decisionsOf(ctx context.Context, pipeline string) func() (*decisions, error) {
	var ds *decisions
	return func() (*decisions, error) {
		if ds != nil {
			return ds, nil
		}
		acts, err := e.Store.ListActions(ctx, metadata.ActionFilter{Pipeline: pipeline, Limit: 1000})
		if err != nil {
			return nil, err
		}
		ds = &decisions{}
		for _, a := range acts {
			switch a.Status {
			case "approved":
				ds.approved = append(ds.approved, a)
			case "reverted":
				ds.reverted = append(ds.reverted, a)
			case "proposed":
				ds.proposed = append(ds.proposed, a)
			}
		}
		return ds, nil
	}
}

// originalsTable keeps the values rewrite repairs replaced: the old value
// and the repaired row as JSON, which finds the row in the target later.
const originalsTable = `"_shp"."healing_originals"`

// keepOriginals stores, under the plan's token, each rewritten row's old
// value and its repaired row.
func keepOriginals(ctx context.Context, conn *sql.Conn, table, orig string, cols []warehouse.Column, plan *Repair) error {
	token, _ := plan.Params["originals"].(string)
	if token == "" {
		return nil
	}
	if _, err := conn.ExecContext(ctx, `CREATE SCHEMA IF NOT EXISTS "_shp"`); err != nil {
		return fmt.Errorf("keep the original values: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+originalsTable+
		" (token VARCHAR NOT NULL, column_name VARCHAR NOT NULL, old_value VARCHAR, repaired_row VARCHAR NOT NULL)"); err != nil {
		return fmt.Errorf("keep the original values: %w", err)
	}
	_, err := conn.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s SELECT ?, ?, CAST(o.shp_old AS VARCHAR), %s FROM %s t JOIN %s o ON t.rowid = o.shp_rid",
		originalsTable, rowJSON("t", cols), table, orig), token, plan.Column)
	if err != nil {
		return fmt.Errorf("keep the original values: %w", err)
	}
	return nil
}

// rowJSON renders a row of alias over cols as JSON text.
func rowJSON(alias string, cols []warehouse.Column) string {
	parts := make([]string, len(cols))
	for i, c := range cols {
		parts[i] = "'" + strings.ReplaceAll(c.Name, "'", "''") + "', " + alias + "." + quality.DuckDB.Ident(c.Name)
	}
	return "CAST(json_object(" + strings.Join(parts, ", ") + ") AS VARCHAR)"
}

// Revert restores in the target the values an applied rewrite repair
// replaced, finding each row by its repaired content, and returns how
// many rows it restored. Rows changed since (a later merge) are left alone.
func Revert(ctx context.Context, w warehouse.Warehouse, target string, a metadata.HealingAction) (int64, error) {
	var p struct {
		Originals string   `json:"originals"`
		Column    string   `json:"column"`
		Columns   []string `json:"row_columns"`
	}
	if err := json.Unmarshal([]byte(a.Params), &p); err != nil || p.Originals == "" {
		return 0, fmt.Errorf("action #%d (%s) kept no original values to restore: only value rewrites can be reverted", a.ID, a.Strategy)
	}
	var n int64
	err := w.WithStaged(ctx, func(conn *sql.Conn) error {
		var cols []warehouse.Column
		rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
			WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, target)
		if err != nil {
			return err
		}
		for rows.Next() {
			var c warehouse.Column
			if err := rows.Scan(&c.Name, &c.Type); err != nil {
				rows.Close()
				return err
			}
			cols = append(cols, c)
		}
		rows.Close()
		var typ string
		for _, c := range cols {
			if strings.EqualFold(c.Name, p.Column) {
				typ = c.Type
			}
		}
		// The repaired row's columns, in the order they were rendered.
		var keep []warehouse.Column
		for _, rc := range p.Columns {
			for _, c := range cols {
				if strings.EqualFold(rc, c.Name) {
					keep = append(keep, c)
				}
			}
		}
		if typ == "" {
			return fmt.Errorf("target %s has no column %q", target, p.Column)
		}
		t := quality.DuckDB.Ident(target)
		res, err := conn.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = CAST(o.old_value AS %s) FROM %s o
			WHERE o.token = ? AND %s = o.repaired_row`, t, quality.DuckDB.Ident(p.Column), typ, originalsTable, rowJSON(t, keep)), p.Originals)
		if err != nil {
			return fmt.Errorf("restore %s.%s: %w", target, p.Column, err)
		}
		n, err = res.RowsAffected()
		return err
	})
	return n, err
}
