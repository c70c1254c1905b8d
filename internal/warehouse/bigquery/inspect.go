package bigquery

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/sqlplan"
)

var _ warehouse.Inspector = (*Warehouse)(nil)

// Patterns of the reasons staging writes.
const (
	castPattern = `CAST \(column ([^)]*)\)`
	nullPattern = `NULL: (?:required|merge key) column "([^"]*)"`
)

// Rejects groups a staged object's set-aside rows by problem and column.
func (w *Warehouse) Rejects(ctx context.Context, st *warehouse.Staged) ([]warehouse.Reject, error) {
	q := stagingRef(quarantineOf(st.Table))
	query := fmt.Sprintf(`SELECT 'cast' AS kind, c, COUNT(*) FROM %[1]s, UNNEST(REGEXP_EXTRACT_ALL(reason, r'%[2]s')) AS c GROUP BY c
UNION ALL SELECT 'null', c, COUNT(*) FROM %[1]s, UNNEST(REGEXP_EXTRACT_ALL(reason, r'%[3]s')) AS c GROUP BY c
UNION ALL SELECT 'encoding', '', COUNTIF(REGEXP_CONTAINS(LOWER(reason), r'encoding|utf-8')) FROM %[1]s HAVING COUNTIF(REGEXP_CONTAINS(LOWER(reason), r'encoding|utf-8')) > 0
UNION ALL SELECT 'other', '', COUNTIF(NOT REGEXP_CONTAINS(reason, r'%[2]s|NULL: (?:required|merge key) column|(?i:encoding|utf-8)')) FROM %[1]s
  HAVING COUNTIF(NOT REGEXP_CONTAINS(reason, r'%[2]s|NULL: (?:required|merge key) column|(?i:encoding|utf-8)')) > 0
ORDER BY 1, 2`, q, castPattern, nullPattern)
	rows, _, err := w.queryRows(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("rejects")}, query)
	if err != nil {
		return nil, fmt.Errorf("bigquery: group rejected rows of %s: %w", st.ObjectKey, err)
	}
	kinds := map[string]string{"cast": warehouse.RejectCast, "null": warehouse.RejectNull, "encoding": warehouse.RejectEncoding, "other": warehouse.RejectOther}
	var out []warehouse.Reject
	for _, order := range []string{"cast", "null", "encoding", "other"} {
		for _, r := range rows {
			if str(r[0]) != order {
				continue
			}
			n, _ := r[2].(int64)
			out = append(out, warehouse.Reject{Kind: kinds[order], Column: str(r[1]), Rows: n})
		}
	}
	return out, nil
}

// RejectedValues returns distinct values of column among the rows set
// aside because it did not convert, as the reason quotes them.
func (w *Warehouse) RejectedValues(ctx context.Context, st *warehouse.Staged, column string, limit int) ([]string, error) {
	pattern := `CAST \(column ` + regexp.QuoteMeta(column) + `\): could not convert "(.*?)" to `
	rows, _, err := w.queryRows(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("rejected")},
		`SELECT DISTINCT v FROM `+stagingRef(quarantineOf(st.Table))+`, UNNEST(REGEXP_EXTRACT_ALL(reason, ?)) AS v WHERE v <> '' ORDER BY v LIMIT ?`,
		pattern, int64(limit))
	if err != nil {
		return nil, fmt.Errorf("bigquery: rejected values of %s in %s: %w", column, st.ObjectKey, err)
	}
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, str(r[0]))
	}
	return out, nil
}

// Discard drops a staged object's tables.
func (w *Warehouse) Discard(ctx context.Context, st *warehouse.Staged) error {
	w.dropPending(st.Table)
	if err := w.dropTables(ctx, jobMeta{object: st.ObjectKey}, st.Table, quarantineOf(st.Table)); err != nil {
		return fmt.Errorf("bigquery: discard staging of %s: %w", st.ObjectKey, err)
	}
	return nil
}

// RepeatedRows counts the staged rows that the target already holds,
// each as often as both hold it (BigQuery has no INTERSECT ALL: the rows
// of both, as JSON of the columns they share, are counted and matched).
func (w *Warehouse) RepeatedRows(ctx context.Context, st *warehouse.Staged, target string) (int64, error) {
	tcols, err := w.targetColumns(ctx, target)
	if err != nil || len(tcols) == 0 {
		return 0, err
	}
	var common []warehouse.Column
	for _, c := range st.Columns {
		if _, ok := lookupCol(tcols, c.Name); ok {
			common = append(common, c)
		}
	}
	if len(common) == 0 {
		return 0, nil
	}
	key := rowJSON(common)
	n, err := w.queryInt(ctx, jobMeta{object: st.ObjectKey, step: w.nextStep("repeated")}, fmt.Sprintf(
		`SELECT COALESCE(SUM(LEAST(s.n, t.n)), 0) FROM (SELECT %[1]s AS k, COUNT(*) AS n FROM %[2]s GROUP BY k) s
		 JOIN (SELECT %[1]s AS k, COUNT(*) AS n FROM %[3]s GROUP BY k) t ON s.k = t.k`, key, stagingRef(st.Table), w.target(target)))
	if err != nil {
		return 0, fmt.Errorf("bigquery: rows of %s already in %s: %w", st.ObjectKey, target, err)
	}
	return n, nil
}

// overlapFileValues bounds the distinct values of the file's column
// Overlap compares.
const overlapFileValues = 1000

// Overlap is the share of the distinct values of a file column the
// schema lacks that the target's column holds. The file's values are
// read by shp (the column was never loaded), at most 1000 distinct ones.
func (w *Warehouse) Overlap(ctx context.Context, spec warehouse.LoadSpec, fileColumn, targetColumn string) (float64, error) {
	tcols, err := w.targetColumns(ctx, spec.Target)
	if err != nil {
		return -1, err
	}
	if _, ok := lookupCol(tcols, targetColumn); !ok {
		return -1, nil
	}
	values, err := fileValues(spec, fileColumn, overlapFileValues)
	if err != nil || len(values) == 0 {
		return 0, nil
	}
	col := ident(targetColumn)
	rows, _, err := w.queryRows(ctx, jobMeta{run: spec.RunID, pipeline: spec.Pipeline, step: w.nextStep("overlap")}, fmt.Sprintf(
		`SELECT COUNTIF(%[1]s IS NOT NULL) > 0, COUNT(DISTINCT IF(TRIM(CAST(%[1]s AS STRING)) IN UNNEST(?), TRIM(CAST(%[1]s AS STRING)), NULL)) FROM %[2]s`,
		col, w.target(spec.Target)), values)
	if err != nil {
		return 0, nil
	}
	if len(rows) == 0 {
		return -1, nil
	}
	if filled, _ := rows[0][0].(bool); !filled {
		return -1, nil
	}
	n, _ := rows[0][1].(int64)
	return float64(n) / float64(len(values)), nil
}

// fileValues reads up to limit distinct non-empty values (trimmed) of a
// column of an object's file.
func fileValues(spec warehouse.LoadSpec, column string, limit int) ([]string, error) {
	s := &stager{spec: spec}
	vals := sqlplan.NewValueSample(limit)
	add := vals.Add
	r, err := s.openData()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	switch spec.Format {
	case format.CSV:
		if err := s.resolveDialect(); err != nil {
			return nil, err
		}
		var q byte
		if s.spec.CSV.Quote != "" {
			q = s.spec.CSV.Quote[0]
		}
		cr := newCSVReader(r, s.spec.CSV.Delimiter[0], q)
		header, err := cr.next()
		if err != nil {
			return nil, err
		}
		at := -1
		for i, h := range header.fields {
			if strings.EqualFold(strings.TrimSpace(string(h)), column) {
				at = i
			}
		}
		if at < 0 {
			return nil, nil
		}
		for {
			rec, err := cr.next()
			if err == io.EOF {
				return vals.Values, nil
			}
			if err != nil {
				return vals.Values, err
			}
			if at < len(rec.fields) && !add(string(rec.fields[at])) {
				return vals.Values, nil
			}
		}
	case format.JSON, format.JSONL:
		norm, err := os.CreateTemp("", "shp-bq-overlap-*.jsonl")
		if err != nil {
			return nil, err
		}
		defer os.Remove(norm.Name())
		defer norm.Close()
		if _, _, err := format.NormalizeJSON(r, norm, spec.Format == format.JSONL, func(int64, []byte, string) error { return nil }); err != nil {
			return nil, err
		}
		if _, err := norm.Seek(0, io.SeekStart); err != nil {
			return nil, err
		}
		dec := json.NewDecoder(bufio.NewReader(norm))
		dec.UseNumber()
		for {
			var members map[string]json.RawMessage
			if err := dec.Decode(&members); err == io.EOF {
				return vals.Values, nil
			} else if err != nil {
				return vals.Values, err
			}
			for k, v := range members {
				if strings.EqualFold(k, column) {
					if t, _, null := format.JSONText(v); !null && !add(t) {
						return vals.Values, nil
					}
				}
			}
		}
	}
	return nil, nil
}
