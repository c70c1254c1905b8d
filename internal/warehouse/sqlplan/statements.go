package sqlplan

import (
	"context"
	"fmt"
	"strings"

	"github.com/shp-dev/shp/internal/warehouse"
)

// The statements that read, keep and revert repairs, over a staging
// table (a quoted reference) and, after the commit, a target. Their
// placeholders are ?s, for Bind.

// Count counts the rows of table for which where holds.
func Count(table string, where Frag) Frag {
	return Frag{SQL: "SELECT count(*) FROM " + table + " WHERE " + where.SQL, Args: where.Args}
}

// Sample reads up to limit rows op changes or sets aside, in the
// object's order, as op.Sample shows them.
func Sample(l Leaf, table string, op *Op, limit int) Frag {
	args := append(append(append([]any(nil), op.Sample.Args...), op.Where.Args...), limit)
	return Frag{SQL: "SELECT " + op.Sample.SQL + " FROM " + table + " WHERE " + op.Where.SQL + " ORDER BY " + l.RowID() + " LIMIT ?", Args: args}
}

// Distinct lists up to limit distinct non-NULL values of column (quoted)
// in table as text, with how many rows hold each, most frequent first,
// then in byte order.
func Distinct(l Leaf, table, column string, limit int) Frag {
	text := l.Text(column)
	return Frag{SQL: "SELECT " + text + " AS v, count(*) AS n FROM " + table + " WHERE " + column + " IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, " +
		l.ByteOrder(text) + " LIMIT ?", Args: []any{limit}}
}

// SaveOriginals selects the position and the value before of each row a
// rewrite changes, as (shp_rid, shp_old), for a table of originals.
func SaveOriginals(l Leaf, table string, op *Op) Frag {
	return Frag{SQL: "SELECT " + l.RowID() + " AS shp_rid, " + op.Column + " AS shp_old FROM " + table + " WHERE " + op.Where.SQL, Args: op.Where.Args}
}

// Rewrite writes op's value into the rows of table whose positions the
// table of originals orig holds.
func Rewrite(l Leaf, table, orig string, op *Op) Frag {
	return Frag{SQL: "UPDATE " + table + " SET " + op.Column + " = " + op.Set.SQL + " WHERE " + l.RowID() + " IN (SELECT shp_rid FROM " + orig + ")", Args: op.Set.Args}
}

// Undo puts the values of the table of originals orig back into column
// (quoted) of table.
func Undo(l Leaf, table, orig, column string) string {
	return "UPDATE " + table + " AS t SET " + column + " = o.shp_old FROM " + orig + " o WHERE t." + l.RowID() + " = o.shp_rid"
}

// KeepOriginals inserts into the table of kept originals (token,
// column_name, old_value, repaired_row) each original value of orig, as
// text, with its repaired row of table over cols as JSON; it binds the
// token and the column's name.
func KeepOriginals(l Leaf, originals, table, orig string, cols []warehouse.Column) string {
	return fmt.Sprintf("INSERT INTO %s SELECT ?, ?, %s, %s FROM %s t JOIN %s o ON t.%s = o.shp_rid",
		originals, l.Text("o.shp_old"), l.RowJSON("t", cols), table, orig, l.RowID())
}

// KeptColumns are the columns of a target, tcols, that kept rows were
// rendered over, in the order of their names, rowColumns.
func KeptColumns(tcols []warehouse.Column, rowColumns []string) []warehouse.Column {
	var keep []warehouse.Column
	for _, rc := range rowColumns {
		for _, c := range tcols {
			if strings.EqualFold(rc, c.Name) {
				keep = append(keep, c)
			}
		}
	}
	return keep
}

// RestoreOriginals puts back the values a kept rewrite replaced in
// column col of target, whose rows rid (rowid, ctid) finds: each kept
// row of originals restores one target row with its repaired content
// over keep (identical rows pair up one for one). It binds the token.
func RestoreOriginals(l Leaf, target, rid, originals string, col warehouse.Column, keep []warehouse.Column) string {
	row := l.RowJSON("s", keep)
	return fmt.Sprintf(`UPDATE %[1]s AS x SET %[2]s = CAST(m.old_value AS %[3]s) FROM (
		SELECT c.rid, k.old_value FROM
			(SELECT s.%[6]s AS rid, %[4]s AS j, row_number() OVER (PARTITION BY %[4]s ORDER BY s.%[6]s) AS n FROM %[1]s AS s) c
			JOIN (SELECT repaired_row, old_value, row_number() OVER (PARTITION BY repaired_row ORDER BY old_value) AS n
			      FROM %[5]s WHERE token = ?) k
			ON c.j = k.repaired_row AND c.n = k.n) m
		WHERE x.%[6]s = m.rid`, target, l.Ident(col.Name), col.Type, row, originals, rid)
}

// RemoveRescued deletes from target, whose rows rid finds, one row for
// each row of rescued a stage repair rescued into it, by its content
// over keep. It binds the token.
func RemoveRescued(l Leaf, target, rid, rescued string, keep []warehouse.Column) string {
	row := l.RowJSON("s", keep)
	return fmt.Sprintf(`DELETE FROM %[1]s WHERE %[4]s IN (
		SELECT rid FROM (SELECT s.%[4]s AS rid, %[2]s AS j, row_number() OVER (PARTITION BY %[2]s) AS rn FROM %[1]s AS s) y
		JOIN (SELECT repaired_row, count(*) AS c FROM %[3]s WHERE token = ? AND repaired_row IS NOT NULL GROUP BY repaired_row) o
		ON y.j = o.repaired_row WHERE y.rn <= o.c)`, target, row, rescued, rid)
}

// ReturnRescued puts the lines a stage repair rescued back into the
// quarantine table qtable, with a note appended to their reason. It
// binds the run, the pipeline, the note and the token.
func ReturnRescued(qtable, rescued string) string {
	return returnRescued(qtable, rescued, "", "")
}

// ReturnRescuedAt is ReturnRescued for a quarantine table whose
// quarantined_at has no default (BigQuery's): at is the engine's
// expression of the current time.
func ReturnRescuedAt(qtable, rescued, at string) string {
	return returnRescued(qtable, rescued, ", quarantined_at", ", "+at)
}

// returnRescued is ReturnRescued with one more column and its value,
// each after a comma, or none ("").
func returnRescued(qtable, rescued, col, val string) string {
	return fmt.Sprintf(`INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw%s)
		SELECT ?, ?, object_key, line, reason || ?, raw%s FROM %s WHERE token = ? AND repaired_row IS NULL ORDER BY line`, qtable, col, val, rescued)
}

// RescueColumns are the columns after and before, two stagings of one
// object, share, quoted by l and as named; ok is false when after has a
// column before lacks (the two do not differ row for row).
func RescueColumns(l Leaf, before, after []warehouse.Column) (quoted, names []string, ok bool) {
	for _, c := range after {
		if !HasColumn(before, c.Name) {
			return nil, nil, false
		}
		quoted = append(quoted, l.Ident(c.Name))
		names = append(names, c.Name)
	}
	return quoted, names, true
}

// KeepRescuedLines inserts into rescued the lines the staging whose
// quarantine is beforeQ set aside and the one whose quarantine is afterQ
// did not. It binds the token and the object's key.
func KeepRescuedLines(rescued, beforeQ, afterQ string) string {
	return fmt.Sprintf(`INSERT INTO %s (token, object_key, line, reason, raw)
		SELECT ?, ?, b.line, b.reason, b.raw FROM %s b
		WHERE NOT EXISTS (SELECT 1 FROM %s a WHERE a.line = b.line)`, rescued, beforeQ, afterQ)
}

// KeepRescuedRows inserts into rescued, as JSON over cols, the rows the
// staging after has and before lacks; list is cols' quoted names,
// joined. It binds the token and the object's key.
func KeepRescuedRows(l Leaf, rescued, before, after, list string, cols []warehouse.Column) string {
	return fmt.Sprintf(`INSERT INTO %s (token, object_key, repaired_row)
		SELECT ?, ?, %s FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r`,
		rescued, l.RowJSON("r", cols), list, after, list, before)
}

// RescuedRows selects the rows the staging after has and before lacks,
// over cols (list: their quoted names, joined), each with its JSON over
// cols as __shp_j: an EXCEPT ALL for an engine without one (GoogleSQL
// has EXCEPT DISTINCT only). Rows pair by their JSON, copy for copy, so
// that columns a set operation cannot compare (JSON) pair too.
func RescuedRows(l Leaf, before, after, list string, cols []warehouse.Column) string {
	j := l.RowJSON("", cols)
	return fmt.Sprintf(`SELECT %[1]s, a.__shp_j FROM (
			SELECT x.*, row_number() OVER (PARTITION BY x.__shp_j) AS __shp_n FROM (SELECT %[1]s, %[2]s AS __shp_j FROM %[3]s) x) a
		LEFT JOIN (
			SELECT y.__shp_j, row_number() OVER (PARTITION BY y.__shp_j) AS __shp_n FROM (SELECT %[2]s AS __shp_j FROM %[4]s) y) b
		ON a.__shp_j = b.__shp_j AND a.__shp_n = b.__shp_n
		WHERE b.__shp_j IS NULL`, list, j, after, before)
}

// RescuedKeys counts the rows the staging after has and before lacks
// whose key (a condition over r, the rescued row, and t, the target)
// the target holds already.
func RescuedKeys(before, after, list, target, match string) string {
	return fmt.Sprintf(`SELECT count(*) FROM (SELECT %s FROM %s EXCEPT ALL SELECT %s FROM %s) r JOIN %s t ON %s`,
		list, after, list, before, target, match)
}

// Reverts are an engine's three ways to undo a kept repair in a target
// whose columns it has read.
type Reverts struct {
	// Rewrite puts back the values a rewrite replaced in col; keep are
	// the columns its rows were kept over.
	Rewrite func(ctx context.Context, spec warehouse.RevertSpec, col warehouse.Column, keep []warehouse.Column) (int64, error)
	// Rescue moves the rows a stage repair rescued back to quarantine.
	Rescue func(ctx context.Context, spec warehouse.RevertSpec, keep []warehouse.Column) (int64, error)
	// SetAside moves the rows a repair set aside back into the target,
	// whose columns are tcols.
	SetAside func(ctx context.Context, spec warehouse.RevertSpec, tcols []warehouse.Column) (int64, error)
}

// Revert undoes the kept repair spec names in its target, whose columns
// are tcols, by the kind of spec, and returns the rows it changed. The
// errors of its own (an unknown column or kind) start with engine, the
// engine's name, as the engine's errors do; those of r are returned as
// they are (a *warehouse.ChangedSinceError among them).
func Revert(ctx context.Context, engine string, spec warehouse.RevertSpec, tcols []warehouse.Column, r Reverts) (int64, error) {
	// The kept rows' columns, in the order they were rendered.
	keep := KeptColumns(tcols, spec.RowColumns)
	switch spec.Kind {
	case warehouse.RevertRewrite:
		c, err := FindColumn(tcols, spec.Column)
		if err != nil {
			return 0, fmt.Errorf("%s: target %s has no column %q", engine, spec.Target, spec.Column)
		}
		return r.Rewrite(ctx, spec, c, keep)
	case warehouse.RevertRescue:
		return r.Rescue(ctx, spec, keep)
	case warehouse.RevertSetAside:
		return r.SetAside(ctx, spec, tcols)
	}
	return 0, fmt.Errorf("%s: unknown kind of revert %q", engine, spec.Kind)
}
