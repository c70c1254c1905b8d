package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shp-dev/shp/internal/warehouse"
)

// A load into a target that does not exist yet writes its rows once:
// the first object a run stages for an absent target (append or replace)
// goes to a logged staging table (still COPY ... FREEZE, made in the
// COPY's transaction), and the commit that creates the target puts that
// table in the target's place (attachStaged) instead of copying every row
// into a new table with INSERT ... SELECT. Everything else (validation,
// healing, quarantine, the ledger, the advisory lock) is unchanged: the
// attach is DDL in the commit's transaction, so a failed or interrupted
// commit leaves no target, and the staging table where it was. A target
// that exists, with whatever indexes, grants, constraints or triggers a
// user gave it, is always written with INSERT ... SELECT.

// claimAttach reports whether the object spec stages should go to a
// logged staging table that the commit may attach as the target: the
// target is absent, the write is not a merge (a merge de-duplicates into
// the target), and no other object of the run claimed the target first
// (the others are appended to it, from unlogged tables).
func (w *Warehouse) claimAttach(ctx context.Context, spec warehouse.LoadSpec) bool {
	if spec.RunID == "" || len(spec.Key) > 0 {
		return false
	}
	key := spec.RunID + "\x00" + spec.Target
	w.mu.Lock()
	if w.attach == nil {
		w.attach = map[string]bool{}
	}
	claimed := w.attach[key]
	w.attach[key] = true
	w.mu.Unlock()
	if claimed {
		return false
	}
	var absent bool
	if err := w.pool.QueryRow(ctx, "SELECT to_regclass($1) IS NULL", w.target(spec.Target)).Scan(&absent); err != nil {
		return false
	}
	return absent
}

// unclaim forgets a run's claim on a target once it has committed (or
// failed to): a retry of the run may claim it again.
func (w *Warehouse) unclaim(runID, target string) {
	w.mu.Lock()
	delete(w.attach, runID+"\x00"+target)
	w.mu.Unlock()
}

// targetAbsent reports whether the target does not exist (before the
// commit's ensureTarget creates it).
func (w *Warehouse) targetAbsent(ctx context.Context, tx pgx.Tx, target string) (bool, error) {
	var absent bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass($1) IS NULL", w.target(target)).Scan(&absent); err != nil {
		return false, fmt.Errorf("look for %s: %w", target, err)
	}
	return absent, nil
}

// attachStaged puts a staged object's table in the place of the target
// the commit's transaction has just created, when it can stand for it
// exactly: a logged staging table whose columns (but shp's __shp_row and
// __shp_line) are the new target's, in order, names, types and nullity,
// with the privileges the new target was given, while the new target is
// still empty. The new, empty target is dropped, shp's columns are
// dropped from the staging table, and it is moved into the target's
// schema under the target's name. It reports false, having changed
// nothing, when the object's rows must be inserted instead.
func (w *Warehouse) attachStaged(ctx context.Context, tx pgx.Tx, target string, o *warehouse.Staged) (bool, error) {
	var fits bool
	if err := tx.QueryRow(ctx, `SELECT s.relpersistence = 'p' AND s.relkind = 'r' AND t.relkind = 'r'
			AND s.relacl IS NOT DISTINCT FROM t.relacl AND s.relowner = t.relowner
			AND s.reloptions IS NOT DISTINCT FROM t.reloptions AND s.reltablespace = t.reltablespace
			AND s.relam = t.relam AND ($4 OR to_regclass($3) IS NULL)
			AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid IN (s.oid, t.oid))
			AND NOT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid IN (s.oid, t.oid))
		FROM pg_class s, pg_class t
		WHERE s.oid = to_regclass($1) AND t.oid = to_regclass($2)`,
		w.staging(o.Table), w.target(target), qualified(w.schema, o.Table), w.schema == w.internal).Scan(&fits); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return false, fmt.Errorf("compare %s with the staged rows of %s: %w", target, o.ObjectKey, err)
	}
	if !fits {
		return false, nil
	}
	staged, err := tableColumns(ctx, tx, w.internal, o.Table)
	if err != nil {
		return false, err
	}
	made, err := tableColumns(ctx, tx, w.schema, target)
	if err != nil {
		return false, err
	}
	var own []string // shp's columns, dropped from the staging table
	k := 0
	for _, c := range staged {
		if c.name == rowCol || c.name == lineCol {
			own = append(own, c.name)
			continue
		}
		if k >= len(made) || c.name != made[k].name || c.sqlType != made[k].sqlType || c.notNull != made[k].notNull {
			return false, nil
		}
		k++
	}
	if k != len(made) {
		return false, nil
	}
	var empty bool
	if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+w.target(target)+")").Scan(&empty); err != nil {
		return false, fmt.Errorf("look into %s: %w", target, err)
	}
	if !empty {
		return false, nil
	}
	stmts := []string{"DROP TABLE " + w.target(target)}
	for _, c := range own {
		stmts = append(stmts, "ALTER TABLE "+w.staging(o.Table)+" DROP COLUMN "+ident(c))
	}
	if w.schema != w.internal {
		stmts = append(stmts, "ALTER TABLE "+w.staging(o.Table)+" SET SCHEMA "+ident(w.schema))
	}
	stmts = append(stmts, "ALTER TABLE "+qualified(w.schema, o.Table)+" RENAME TO "+ident(target))
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return false, fmt.Errorf("attach the staged rows of %s as %s: %w", o.ObjectKey, target, err)
		}
	}
	return true, nil
}
