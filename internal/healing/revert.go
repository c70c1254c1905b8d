package healing

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/warehouse"
)

// decisions are people's decisions on a pipeline's actions: approvals
// let a strategy act, reverts stop it from acting alone, rejections stop
// it from proposing the same again, a proposal still undecided is not
// proposed again, and a resolved escalation names the option its
// strategy follows on that subject.
type decisions struct {
	approved, reverted, proposed, rejected, resolved []metadata.HealingAction
}

// declined reports whether a person rejected the strategy for this issue
// or subject and did not approve it since: it is not proposed again.
func (d *decisions) declined(strategy, issue, subject string) bool {
	r := findApproval(d.rejected, strategy, issue, subject)
	if r == nil {
		return false
	}
	a := findApproval(d.approved, strategy, issue, subject)
	return a == nil || a.ID < r.ID
}

// decisionsOf returns a loader of the pipeline's decisions that reads the
// store once, when first called.
func (e *Engine) decisionsOf(ctx context.Context, pipeline string) func() (*decisions, error) {
	var ds *decisions
	return func() (*decisions, error) {
		if ds != nil {
			return ds, nil
		}
		d := &decisions{}
		// By status, so that a flood of applied actions cannot push an old
		// decision out of the window.
		for _, st := range []struct {
			status string
			into   *[]metadata.HealingAction
		}{{"approved", &d.approved}, {"reverted", &d.reverted}, {"proposed", &d.proposed}, {"rejected", &d.rejected},
			{"resolved", &d.resolved}} {
			acts, err := e.Store.ListActions(ctx, metadata.ActionFilter{Pipeline: pipeline, Status: st.status, Limit: 1000})
			if err != nil {
				return nil, err
			}
			*st.into = acts
		}
		ds = d
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

// ErrNotRevertible marks a revert refused for what the action is or what
// became of its rows, not for a failure.
var ErrNotRevertible = errors.New("cannot be reverted")

// Reverted says what a revert did.
type Reverted struct {
	Rows int64
	// Summary says it in words: "2 rows of orders restored".
	Summary string
}

// Revert undoes an applied repair in the target (written in mode: append,
// replace or merge) and says how many rows it changed. A value rewrite
// gets its original values back, each row found by its repaired content
// (rows changed since, by a later merge, are left alone). A stage
// repair's rescued rows leave the target for its quarantine, with the
// reason they were first set aside. Rows a repair set aside return from
// the quarantine to the target, unless the target merges on a key (the
// latest row of a key replaces the others there anyway).
func Revert(ctx context.Context, w warehouse.Warehouse, target, mode string, a metadata.HealingAction) (Reverted, error) {
	var p struct {
		Originals     string   `json:"originals"`
		Rescued       string   `json:"rescued"`
		SetAside      string   `json:"set_aside"`
		NotRevertible string   `json:"not_revertible"`
		Column        string   `json:"column"`
		Columns       []string `json:"row_columns"`
	}
	err := json.Unmarshal([]byte(a.Params), &p)
	if err == nil && p.NotRevertible != "" {
		return Reverted{}, fmt.Errorf("%w: action #%d (%s): %s", ErrNotRevertible, a.ID, a.Strategy, p.NotRevertible)
	}
	if err == nil && p.SetAside != "" {
		if mode == warehouse.ModeMerge {
			return Reverted{}, fmt.Errorf("%w: action #%d (%s) set aside earlier rows of a key, and %s merges on its key: "+
				"the latest row of each key replaces the others anyway, so there is nothing to restore", ErrNotRevertible, a.ID, a.Strategy, target)
		}
		return restoreSetAside(ctx, w, target, p.SetAside, a)
	}
	if err != nil || (p.Originals == "" && p.Rescued == "") {
		return Reverted{}, fmt.Errorf("%w: action #%d (%s) kept nothing to restore: value rewrites, rows set aside and repairs that rescued rows from quarantine can be reverted, "+
			"schema changes cannot", ErrNotRevertible, a.ID, a.Strategy)
	}
	var n int64
	err = w.WithStaged(ctx, func(conn *sql.Conn) error {
		cols, err := targetColumns(ctx, conn, target)
		if err != nil {
			return err
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
		if p.Rescued != "" {
			n, err = revertRescue(ctx, conn, target, keep, p.Rescued, a)
			return err
		}
		var typ string
		for _, c := range cols {
			if strings.EqualFold(c.Name, p.Column) {
				typ = c.Type
			}
		}
		if typ == "" {
			return fmt.Errorf("target %s has no column %q", target, p.Column)
		}
		n, err = restoreOriginals(ctx, conn, target, p.Column, typ, keep, p.Originals, a)
		return err
	})
	if err != nil {
		return Reverted{}, err
	}
	if p.Rescued != "" {
		return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows of %s moved back to %s%s", n, target, target, warehouse.QuarantineSuffix)}, nil
	}
	return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows of %s restored", n, target)}, nil
}

// restoreOriginals puts back the values a rewrite replaced: each kept row
// restores one target row with its repaired content (identical rows pair
// up one for one). All or nothing: when a kept row is no longer in the
// target as the repair left it, nothing changes.
func restoreOriginals(ctx context.Context, conn *sql.Conn, target, column, typ string, keep []warehouse.Column, token string, a metadata.HealingAction) (int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var want int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+originalsTable+" WHERE token = ?", token).Scan(&want); err != nil {
		return 0, fmt.Errorf("read the original values: %w", err)
	}
	t := quality.DuckDB.Ident(target)
	row := rowJSON(t, keep)
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`UPDATE %s SET %s = CAST(m.old_value AS %s) FROM (
		SELECT c.rid, k.old_value FROM
			(SELECT rowid AS rid, %s AS j, row_number() OVER (PARTITION BY %s ORDER BY rowid) AS n FROM %s) c
			JOIN (SELECT repaired_row, old_value, row_number() OVER (PARTITION BY repaired_row ORDER BY old_value) AS n
			      FROM %s WHERE token = ?) k
			ON c.j = k.repaired_row AND c.n = k.n) m
		WHERE %s.rowid = m.rid`, t, quality.DuckDB.Ident(column), typ, row, row, t, originalsTable, t), token)
	if err != nil {
		return 0, fmt.Errorf("restore %s.%s: %w", target, column, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n != want {
		return 0, fmt.Errorf("%w: %d of the %d rows action #%d rewrote are no longer in %s as it left them (changed since); nothing was reverted",
			ErrNotRevertible, want-n, want, a.ID, target)
	}
	return n, tx.Commit()
}

// restoreSetAside moves the rows an action set aside from the target's
// quarantine back into the target, reading each from the JSON it was
// quarantined as.
func restoreSetAside(ctx context.Context, w warehouse.Warehouse, target, reason string, a metadata.HealingAction) (Reverted, error) {
	var n int64
	q := quality.DuckDB.Ident(target + warehouse.QuarantineSuffix)
	err := w.WithStaged(ctx, func(conn *sql.Conn) error {
		cols, err := targetColumns(ctx, conn, target)
		if err != nil {
			return err
		}
		sel := make([]string, len(cols))
		var selArgs []any
		for i, c := range cols {
			sel[i] = fmt.Sprintf("CAST(json_extract_string(raw, ?) AS %s) AS %s", c.Type, quality.DuckDB.Ident(c.Name))
			selArgs = append(selArgs, `$."`+strings.ReplaceAll(c.Name, `"`, `\"`)+`"`)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		defer tx.Rollback()
		where := " WHERE run_id = ? AND pipeline = ? AND source_object = ? AND reason = ?"
		args := []any{a.RunID, a.Pipeline, a.ObjectKey, reason}
		res, err := tx.ExecContext(ctx, fmt.Sprintf("INSERT INTO %s BY NAME SELECT %s FROM %s%s",
			quality.DuckDB.Ident(target), strings.Join(sel, ", "), q, where), append(selArgs, args...)...)
		if err != nil {
			return fmt.Errorf("restore the rows set aside into %s: %w", target, err)
		}
		if n, err = res.RowsAffected(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+q+where, args...); err != nil {
			return fmt.Errorf("remove the restored rows from %s: %w", target+warehouse.QuarantineSuffix, err)
		}
		return tx.Commit()
	})
	if err != nil {
		return Reverted{}, err
	}
	return Reverted{Rows: n, Summary: fmt.Sprintf("%d rows moved from %s%s back to %s", n, target, warehouse.QuarantineSuffix, target)}, nil
}

// targetColumns lists a target table's columns and types.
func targetColumns(ctx context.Context, conn *sql.Conn, target string) ([]warehouse.Column, error) {
	rows, err := conn.QueryContext(ctx, `SELECT column_name, data_type FROM information_schema.columns
		WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position`, target)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []warehouse.Column
	for rows.Next() {
		var c warehouse.Column
		if err := rows.Scan(&c.Name, &c.Type); err != nil {
			return nil, err
		}
		cols = append(cols, c)
	}
	return cols, rows.Err()
}

// rescuedTable keeps what a stage repair rescued from quarantine: each
// rescued line as it was set aside (line, reason, raw text) and each row
// it became in the target, as JSON. Reverting the repair moves those rows
// back to quarantine.
const rescuedTable = `"_shp"."healing_rescued"`

// keepRescued records, under a token it adds to params, the rows a stage
// repair rescued: the lines staged before set aside and staged after did
// not, and the rows staged after that staged before lacked. It keeps
// nothing when the two do not pair up one for one (the new reading also
// changed rows that loaded before), and the repair is then not revertible.
func keepRescued(ctx context.Context, w warehouse.Warehouse, spec warehouse.LoadSpec, before, after *warehouse.Staged, params map[string]any) error {
	rescued := before.Quarantined - after.Quarantined
	if rescued <= 0 {
		return nil
	}
	names := make([]string, 0, len(after.Columns))
	for _, c := range after.Columns {
		found := false
		for _, b := range before.Columns {
			found = found || strings.EqualFold(b.Name, c.Name)
		}
		if !found {
			return nil // a column was added or renamed: no row-for-row difference
		}
		names = append(names, quality.DuckDB.Ident(c.Name))
	}
	token := after.Table
	list := strings.Join(names, ", ")
	return w.WithStaged(ctx, func(conn *sql.Conn) error {
		if replaces, err := rescueReplaces(ctx, conn, spec, before, after, list); err != nil || replaces {
			// A rescued row will replace a row of the target with its key;
			// deleting it later could not bring that row back.
			if replaces {
				params["not_revertible"] = "its rescued rows replaced rows of " + spec.Target + " with the same key, which a revert could not bring back"
			}
			return err
		}
		for _, stmt := range []string{`CREATE SCHEMA IF NOT EXISTS "_shp"`, "CREATE TABLE IF NOT EXISTS " + rescuedTable +
			" (token VARCHAR NOT NULL, object_key VARCHAR, line BIGINT, reason VARCHAR, raw VARCHAR, repaired_row VARCHAR)"} {
			if _, err := conn.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("keep the rescued rows: %w", err)
			}
		}
		lines, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (token, object_key, line, reason, raw)
			SELECT ?, ?, b.line, b.reason, b.raw FROM %s b
			WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.line = b.line)`,
			rescuedTable, quality.DuckDB.Ident(before.Table+"_q"), quality.DuckDB.Ident(after.Table+"_q")), token, after.ObjectKey)
		if err != nil {
			return fmt.Errorf("keep the rescued lines: %w", err)
		}
		rows, err := conn.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (token, object_key, repaired_row)
			SELECT ?, ?, %s FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r`,
			rescuedTable, rowJSON("r", after.Columns), list, quality.DuckDB.Ident(after.Table), list, quality.DuckDB.Ident(before.Table)),
			token, after.ObjectKey)
		if err != nil {
			return fmt.Errorf("keep the rescued rows: %w", err)
		}
		nl, _ := lines.RowsAffected()
		nr, _ := rows.RowsAffected()
		if nl != rescued || nr != rescued {
			_, err := conn.ExecContext(ctx, "DELETE FROM "+rescuedTable+" WHERE token = ?", token)
			return err
		}
		cols := make([]string, len(after.Columns))
		for i, c := range after.Columns {
			cols[i] = c.Name
		}
		params["rescued"], params["row_columns"] = token, cols
		return nil
	})
}

// rescueReplaces reports whether a rescued row has a key the target
// holds already: merged, it replaces that row.
func rescueReplaces(ctx context.Context, conn *sql.Conn, spec warehouse.LoadSpec, before, after *warehouse.Staged, list string) (bool, error) {
	if len(spec.Key) == 0 || spec.Target == "" {
		return false, nil
	}
	var exists int
	if err := conn.QueryRowContext(ctx, `SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?`,
		spec.Target).Scan(&exists); err != nil || exists == 0 {
		return false, err
	}
	match := make([]string, len(spec.Key))
	for i, k := range spec.Key {
		match[i] = "t." + quality.DuckDB.Ident(k) + " = r." + quality.DuckDB.Ident(k)
	}
	var n int64
	err := conn.QueryRowContext(ctx, fmt.Sprintf(`SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r JOIN %s t ON %s`,
		list, quality.DuckDB.Ident(after.Table), list, quality.DuckDB.Ident(before.Table), quality.DuckDB.Ident(spec.Target),
		strings.Join(match, " AND "))).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("keep the rescued rows: look for their keys in %s: %w", spec.Target, err)
	}
	return n > 0, nil
}

// revertRescue moves the rows a stage repair rescued from the target back
// to its quarantine, with the reason they were first set aside. It is all
// or nothing: when a rescued row is no longer in the target as the repair
// loaded it (a later merge changed it), nothing moves.
func revertRescue(ctx context.Context, conn *sql.Conn, target string, keep []warehouse.Column, token string, a metadata.HealingAction) (int64, error) {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var want int64
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM "+rescuedTable+" WHERE token = ? AND repaired_row IS NOT NULL", token).Scan(&want); err != nil {
		return 0, fmt.Errorf("read the rescued rows: %w", err)
	}
	t := quality.DuckDB.Ident(target)
	row := rowJSON(t, keep)
	// Each kept row removes one target row with the same content.
	res, err := tx.ExecContext(ctx, fmt.Sprintf(`DELETE FROM %s WHERE rowid IN (
		SELECT rid FROM (SELECT rowid AS rid, %s AS j, row_number() OVER (PARTITION BY %s) AS rn FROM %s) x
		JOIN (SELECT repaired_row, count(*) AS c FROM %s WHERE token = ? AND repaired_row IS NOT NULL GROUP BY repaired_row) o
		ON x.j = o.repaired_row WHERE x.rn <= o.c)`, t, row, row, t, rescuedTable), token)
	if err != nil {
		return 0, fmt.Errorf("remove the rescued rows from %s: %w", target, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if n != want {
		return 0, fmt.Errorf("%w: %d of the %d rows action #%d rescued are no longer in %s as it loaded them (changed since); nothing was reverted",
			ErrNotRevertible, want-n, want, a.ID, target)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw)
		SELECT ?, ?, object_key, line, reason || ?, raw FROM %s WHERE token = ? AND repaired_row IS NULL ORDER BY line`,
		quality.DuckDB.Ident(target+warehouse.QuarantineSuffix), rescuedTable),
		a.RunID, a.Pipeline, fmt.Sprintf(" (set aside again: repair #%d was reverted)", a.ID), token); err != nil {
		return 0, fmt.Errorf("put the rescued lines back in quarantine: %w", err)
	}
	return n, tx.Commit()
}
