package duckdb

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/warehouse"
)

// A load into a target that does not exist yet writes its rows once: the
// first object a run stages for an absent target is staged into a table
// of the database's main schema instead of a temporary one (its name is
// attachPrefix and digits; the tables made from that name, its quarantine
// among them, stay temporary), and the
// commit that creates the target renames that table into the target's
// place (attachStaged) instead of copying every row into a new table with
// INSERT ... SELECT: an append, a replace, or a merge whose batch holds
// each key once. Materialising millions of rows in temporary storage
// and copying them again costs about half the load's time and memory.
// Everything else (validation, healing, quarantine, the ledger) is
// unchanged: the attach is DDL in the commit's transaction, so a failed
// commit leaves no target, and the staging table where it was, for the
// commit's clean-up to drop. A target that exists is always written with
// INSERT ... SELECT.
//
// A table of the database, unlike a temporary one, is checkpointed, and a
// checkpoint compacts the row groups rows were deleted from (quarantined,
// set aside), which renumbers the rows after them. A staging table's
// rowid is a row's position, which a pending rewrite keeps its original
// values by until KeepRepair or UndoRepair: while such a table lives,
// automatic checkpoints are held (holdCheckpoints).

// attachTable reports whether a staging table is the one a commit may
// attach: attachPrefix followed by digits only, so that the tables named
// after it (name_q, name_raw, ...) are not.
func attachTable(table string) bool {
	rest, ok := strings.CutPrefix(table, attachPrefix)
	if !ok || rest == "" {
		return false
	}
	for _, r := range rest {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// claimAttach reports whether the object spec stages should go to a table
// of the main schema that the commit may attach as the target: the target
// is absent, and no other object of the run claimed the target first (the
// others are appended to it, from temporary tables). A merge attaches it
// only when its batch holds each key once (see merge); else the table is
// read like any staging table. The caller holds the data plane.
func (w *Warehouse) claimAttach(ctx context.Context, spec warehouse.LoadSpec) bool {
	if spec.RunID == "" || spec.Target == "" {
		return false
	}
	key := spec.RunID + "\x00" + spec.Target
	if w.attach[key] {
		return false
	}
	cols, err := columns(ctx, w.conn, spec.Target, false)
	if err != nil || len(cols) > 0 {
		return false
	}
	if w.attach == nil {
		w.attach = map[string]bool{}
	}
	w.attach[key] = true
	return true
}

// unclaim forgets a run's claim on a target once it has committed (or
// failed to): a retry of the run may claim it again. The caller holds the
// data plane.
func (w *Warehouse) unclaim(runID, target string) {
	delete(w.attach, runID+"\x00"+target)
}

// attachStaged puts a staged object's table in the place of the target
// the commit's transaction has just created, when it can stand for it
// exactly: a staging table of the main schema whose columns (but shp's
// __shp_line) are the new target's, in order, names and types, while the
// new target is still empty. The new, empty target is dropped, shp's
// columns are dropped from the staging table, and it is renamed to the
// target's name. It reports false, having changed nothing, when the
// object's rows must be inserted instead.
func (w *Warehouse) attachStaged(ctx context.Context, tx *sql.Tx, target string, o *warehouse.Staged) (bool, error) {
	if !attachTable(o.Table) {
		return false, nil
	}
	staged, err := columns(ctx, tx, o.Table, true)
	if err != nil {
		return false, fmt.Errorf("compare %s with the staged rows of %s: %w", target, o.ObjectKey, err)
	}
	made, err := columns(ctx, tx, target, false)
	if err != nil {
		return false, fmt.Errorf("compare %s with the staged rows of %s: %w", target, o.ObjectKey, err)
	}
	if len(staged) == 0 || len(made) == 0 {
		return false, nil
	}
	var own []string // shp's columns, dropped from the staging table
	k := 0
	for _, c := range staged {
		if c.Name == lineCol || c.Name == ordCol {
			own = append(own, c.Name)
			continue
		}
		if k >= len(made) || c.Name != made[k].Name || c.Type != made[k].Type {
			return false, nil
		}
		k++
	}
	if k != len(made) {
		return false, nil
	}
	var empty bool
	if err := tx.QueryRowContext(ctx, "SELECT NOT EXISTS (SELECT 1 FROM "+qualified("main", target)+")").Scan(&empty); err != nil {
		return false, fmt.Errorf("look into %s: %w", target, err)
	}
	if !empty {
		return false, nil
	}
	stmts := []string{"DROP TABLE " + qualified("main", target)}
	for _, c := range own {
		stmts = append(stmts, "ALTER TABLE "+stagingRef(o.Table)+" DROP COLUMN "+ident(c))
	}
	stmts = append(stmts, "ALTER TABLE "+stagingRef(o.Table)+" RENAME TO "+ident(target))
	for _, s := range stmts {
		if _, err := tx.ExecContext(ctx, s); err != nil {
			return false, fmt.Errorf("attach the staged rows of %s as %s: %w", o.ObjectKey, target, err)
		}
	}
	return true, nil
}

// dropAttachTables drops the staging tables of the main schema (see
// claimAttach): at open, those a process that died left, made durable by
// a checkpoint; otherwise this process's. The caller holds the data plane
// or is Open.
func (w *Warehouse) dropAttachTables(ctx context.Context, atOpen bool) error {
	rows, err := w.conn.QueryContext(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_catalog = current_database() AND table_schema = 'main' AND starts_with(table_name, ?)`, attachPrefix)
	if err != nil {
		return fmt.Errorf("list staging tables: %w", err)
	}
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return fmt.Errorf("list staging tables: %w", err)
		}
		if attachTable(n) {
			names = append(names, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list staging tables: %w", err)
	}
	for _, n := range names {
		if _, err := w.conn.ExecContext(ctx, "DROP TABLE IF EXISTS "+stagingRef(n)); err != nil {
			return fmt.Errorf("drop staging table %s: %w", n, err)
		}
	}
	if atOpen && len(names) > 0 {
		// The space the rows took is free for the file's next writes.
		if _, err := w.conn.ExecContext(ctx, "CHECKPOINT"); err != nil {
			return fmt.Errorf("checkpoint after dropping staging tables %v: %w", names, err)
		}
	}
	return nil
}

// heldThreshold is the checkpoint_threshold while automatic checkpoints
// are held: a write-ahead log that size is never reached.
const heldThreshold = "1TB"

// holdCheckpoints holds automatic checkpoints while table, a staging
// table of the main schema, lives (see releaseCheckpoints). The caller
// holds the data plane.
func (w *Warehouse) holdCheckpoints(ctx context.Context, table string) error {
	if len(w.live) == 0 {
		var threshold string
		if err := w.conn.QueryRowContext(ctx, "SELECT current_setting('checkpoint_threshold')").Scan(&threshold); err != nil {
			return fmt.Errorf("read checkpoint_threshold: %w", err)
		}
		if _, err := w.conn.ExecContext(ctx, "SET checkpoint_threshold = "+literal(heldThreshold)); err != nil {
			return fmt.Errorf("hold automatic checkpoints: %w", err)
		}
		w.threshold = threshold
	}
	if w.live == nil {
		w.live = map[string]bool{}
	}
	w.live[table] = true
	return nil
}

// releaseCheckpoints notes that table (all of them when table is "") is
// gone, and lets automatic checkpoints happen again when no staging table
// of the main schema is left. The caller holds the data plane.
func (w *Warehouse) releaseCheckpoints(ctx context.Context, table string) {
	if len(w.live) == 0 || (table != "" && !w.live[table]) {
		return
	}
	if table == "" {
		w.live = nil
	} else {
		delete(w.live, table)
	}
	if len(w.live) == 0 {
		// A failure leaves checkpoints to the next Open, or to the next
		// release: the data is safe either way.
		_, _ = w.conn.ExecContext(context.WithoutCancel(ctx), "SET checkpoint_threshold = "+literal(w.threshold))
	}
}
