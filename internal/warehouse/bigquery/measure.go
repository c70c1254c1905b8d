package bigquery

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"cloud.google.com/go/civil"

	"github.com/shp-dev/shp/internal/warehouse"
)

// BatchMetrics measures a staged object's rows in one query: how many,
// each column's non-NULL values, and the newest value of the event time
// column.
func (w *Warehouse) BatchMetrics(ctx context.Context, st *warehouse.Staged, eventTime string) (*warehouse.Metrics, error) {
	m := &warehouse.Metrics{NonNull: map[string]int64{}}
	aggs := []string{"COUNT(*)"}
	event := -1
	for i, c := range st.Columns {
		aggs = append(aggs, "COUNT("+ident(c.Name)+")")
		if eventTime != "" && event < 0 && strings.EqualFold(c.Name, eventTime) {
			event = i
		}
	}
	if event >= 0 {
		c := st.Columns[event]
		m.EventColumn = c.Name
		switch baseType(c.Type) {
		case "DATE", "DATETIME", "TIMESTAMP":
			aggs = append(aggs, "MAX("+ident(c.Name)+")")
		default:
			m.EventNotTime = true
		}
	}
	rows, _, err := w.queryRows(ctx, jobMeta{step: w.nextStep("metrics")}, "SELECT "+strings.Join(aggs, ", ")+" FROM "+stagingRef(st.Table))
	if err != nil {
		return nil, fmt.Errorf("bigquery: measure %s: %w", st.ObjectKey, err)
	}
	if len(rows) == 0 {
		return m, nil
	}
	r := rows[0]
	m.Rows, _ = r[0].(int64)
	for i, c := range st.Columns {
		m.NonNull[c.Name], _ = r[1+i].(int64)
	}
	if event >= 0 && !m.EventNotTime {
		switch v := r[len(r)-1].(type) {
		case time.Time:
			m.Newest = v.UTC()
		case civil.Date:
			m.Newest = v.In(time.UTC)
		case civil.DateTime:
			m.Newest = v.In(time.UTC)
		}
	}
	return m, nil
}

// QuarantinedRows reads the rows a run set aside: those it committed,
// from the target's quarantine table, or, when target is "", those
// SetAside kept.
func (w *Warehouse) QuarantinedRows(ctx context.Context, runID, target string) (warehouse.Rows, error) {
	table, state := w.shp(setAsideName), "not committed"
	if target != "" {
		cols, err := w.targetColumns(ctx, target+warehouse.QuarantineSuffix)
		if err != nil {
			return nil, fmt.Errorf("bigquery: %w", err)
		}
		if cols == nil {
			return w.RunQuery(ctx, "SELECT CAST(NULL AS STRING) AS source_object, CAST(NULL AS INT64) AS line, CAST(NULL AS STRING) AS reason, "+
				"CAST(NULL AS STRING) AS raw, CAST(NULL AS STRING) AS state LIMIT 0")
		}
		table, state = w.target(target+warehouse.QuarantineSuffix), "committed"
	}
	return w.RunQuery(ctx, "SELECT source_object, line, reason, raw, "+literal(state)+" AS state FROM "+table+
		" WHERE run_id = ? ORDER BY source_object, line", runID)
}

// SetAside keeps the rows staging set aside from objects a run will not
// commit, in shp's set_aside table, with the run id.
func (w *Warehouse) SetAside(ctx context.Context, runID, pipeline string, objects []*warehouse.Staged) (int64, error) {
	var parts []string
	for _, o := range objects {
		if !w.isStaged(o.Table) {
			continue // dropped already: nothing to keep
		}
		lits := make([]string, 3)
		for i, v := range []string{runID, pipeline, o.ObjectKey} {
			lits[i] = stringLiteral(v)
		}
		parts = append(parts, fmt.Sprintf("SELECT %s AS run_id, %s AS pipeline, %s AS source_object, line, reason, raw FROM %s",
			lits[0], lits[1], lits[2], stagingRef(quarantineOf(o.Table))))
	}
	if len(parts) == 0 {
		return 0, nil
	}
	tmp := "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	var b strings.Builder
	fmt.Fprintf(&b, "CREATE TEMP TABLE %s AS %s;\n", tmp, strings.Join(parts, " UNION ALL "))
	fmt.Fprintf(&b, "INSERT INTO %s (run_id, pipeline, source_object, line, reason, raw, quarantined_at) SELECT run_id, pipeline, source_object, line, reason, raw, CURRENT_TIMESTAMP() FROM %s;\n",
		w.shp(setAsideName), tmp)
	fmt.Fprintf(&b, "SELECT COUNT(*) FROM %s;\n", tmp)
	var args []any
	n, err := w.queryInt(ctx, jobMeta{run: runID, pipeline: pipeline, step: w.nextStep("setaside")}, b.String(), args...)
	if err != nil {
		return 0, fmt.Errorf("bigquery: keep the rows set aside by run %s: %w", runID, err)
	}
	return n, nil
}

// isStaged reports whether this instance made a staging table and has
// not dropped it.
func (w *Warehouse) isStaged(table string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.staged[table]
}

// rowJSON renders a row's columns as JSON text, for the raw text of a
// row set aside after staging and to find a row again after the commit
// (alias qualifies the columns when not ""). Dates, times, booleans and
// decimals are written as text, timestamps in UTC: the emulator's
// TO_JSON_STRING writes them as invalid JSON.
func rowJSON(cols []warehouse.Column, alias ...string) string {
	prefix := ""
	if len(alias) > 0 && alias[0] != "" {
		prefix = alias[0] + "."
	}
	parts := make([]string, len(cols))
	for i, c := range cols {
		ref := prefix + ident(c.Name)
		switch baseType(c.Type) {
		case "TIMESTAMP":
			ref = "FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%E*S+00', " + ref + ", 'UTC')"
		case "DATE", "DATETIME", "TIME", "BOOL", "NUMERIC", "BIGNUMERIC":
			ref = "CAST(" + ref + " AS STRING)"
		case "BYTES":
			ref = "TO_BASE64(" + ref + ")"
		}
		parts[i] = ref + " AS " + ident(c.Name)
	}
	if len(parts) == 0 {
		return "'{}'"
	}
	return "TO_JSON_STRING(STRUCT(" + strings.Join(parts, ", ") + "))"
}

// QuarantineWhere moves the staged rows for which pred holds to the
// object's quarantine with the reason (their raw text the row as JSON),
// in one transaction, and updates the object's counts.
func (w *Warehouse) QuarantineWhere(ctx context.Context, st *warehouse.Staged, pred string, args []any, reason string) (int64, error) {
	n, err := w.quarantineWhere(ctx, st, pred, args, reason)
	if err != nil {
		return 0, fmt.Errorf("bigquery: set aside rows of %s: %w", st.ObjectKey, err)
	}
	return n, nil
}

func (w *Warehouse) quarantineWhere(ctx context.Context, st *warehouse.Staged, pred string, args []any, reason string) (int64, error) {
	t := stagingRef(st.Table)
	tmp := "__shp_" + w.instance + "_" + strconv.FormatInt(w.seq.Add(1), 10)
	// The rows are taken once, into a temporary table (the emulator
	// evaluates a script's variables where they are read).
	script := fmt.Sprintf(`CREATE TEMP TABLE %[7]s AS SELECT %[8]s AS shp_r, %[4]s AS line, %[6]s AS raw FROM %[1]s WHERE %[2]s;
BEGIN TRANSACTION;
INSERT INTO %[3]s (line, reason, raw) SELECT line, %[5]s, raw FROM %[7]s;
DELETE FROM %[1]s WHERE %[8]s IN (SELECT shp_r FROM %[7]s);
COMMIT TRANSACTION;
SELECT COUNT(*) FROM %[7]s;`, t, pred, stagingRef(quarantineOf(st.Table)), ident(lineCol), literal(reason), rowJSON(st.Columns), tmp, ident(rowCol))
	all := args
	n, err := w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("quarantine")}, script, all...)
	if err != nil {
		return 0, err
	}
	st.Loaded -= n
	st.Quarantined += n
	return n, nil
}
