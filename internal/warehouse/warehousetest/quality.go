package warehousetest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/quality/qualitytest"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// queryer is the warehouse as internal/quality queries it.
func queryer(w warehouse.Warehouse) quality.Queryer {
	return quality.QueryFunc(func(c context.Context, query string, args ...any) (quality.Rows, error) {
		rows, err := w.RunQuery(c, query, args...)
		if err != nil {
			return nil, err
		}
		return rows, nil
	})
}

// Validate runs a conformance case, the n-th, as `shp validate` does,
// through the warehouse: the data staged (slash dates month first, as GE
// on PostgreSQL reads them), the other tables committed under their
// names, the suite compiled to the warehouse's dialect and run with
// RunQuery. Input that does not read cleanly is an error. Quality runs
// it on each case; a warehouse that splits the cases between processes
// (BigQuery's emulator) runs it itself.
func Validate(w warehouse.Warehouse, n int, files qualitytest.Files) (*quality.Result, error) {
	suite, err := quality.LoadSuite(files.Suite)
	if err != nil {
		return nil, err
	}
	var sch schema.Schema
	if files.Schema != "" {
		if sch, err = schema.Load(files.Schema); err != nil {
			return nil, err
		}
	}
	target := fmt.Sprintf("ge_case_%d", n)
	st, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "validate", Pipeline: target, Target: target, ObjectKey: files.Data,
		Path: files.Data, Format: format.JSONL, Schema: sch, MonthFirst: true})
	if err != nil {
		return nil, err
	}
	if in, ok := w.(warehouse.Inspector); ok {
		defer func() { _ = in.Discard(ctx, st) }()
	}
	if st.Quarantined > 0 {
		return nil, fmt.Errorf("%d row(s) of %s cannot be read: %v", st.Quarantined, files.Data, st.Samples)
	}
	for i, o := range files.Others {
		name := fmt.Sprintf("validate_other_%d", i)
		ost, err := w.Stage(ctx, warehouse.LoadSpec{RunID: "validate", Pipeline: name, Target: o.Name, ObjectKey: o.Path,
			Path: o.Path, Format: format.JSONL, MonthFirst: true})
		if err != nil {
			return nil, fmt.Errorf("table %s: %w", o.Name, err)
		}
		if ost.Quarantined > 0 {
			return nil, fmt.Errorf("table %s: %d row(s) of %s cannot be read", o.Name, ost.Quarantined, o.Path)
		}
		if _, err := w.Commit(ctx, warehouse.CommitSpec{RunID: "validate", Pipeline: name, Target: o.Name,
			Mode: warehouse.ModeReplace, Objects: []*warehouse.Staged{ost}}); err != nil {
			return nil, fmt.Errorf("table %s: %w", o.Name, err)
		}
	}
	table := quality.Table{Name: st.Table, Index: st.Index}
	for _, c := range st.Columns {
		table.Columns = append(table.Columns, quality.Column{Name: c.Name, Type: c.Type})
	}
	return quality.Validate(ctx, queryer(w), w.Dialect(), table, suite, quality.Complete)
}

// testQuality runs the quality suite through the warehouse.
func (s *suite) testQuality(t *testing.T) {
	s.run(t, "Great Expectations conformance", func(t *testing.T) {
		only := os.Getenv(qualitytest.OnlyEnv)
		cases := qualitytest.Cases(t, qualitytest.Dir(), only)
		dir := t.TempDir()
		shared := s.fresh(t)
		var tally qualitytest.Tally
		for i, c := range cases {
			files := c.Write(t, filepath.Join(dir, fmt.Sprint(i)))
			w := shared
			if c.HasOthers() {
				// Other tables are targets under their own names: a
				// warehouse of their own.
				w = s.fresh(t)
			}
			res, err := Validate(w, i, files)
			tally.Add(c, c.Judge(res, err))
			if w != shared {
				_ = w.Close()
			}
		}
		tally.Report(t, only)
	})
	s.run(t, "RunQuery", func(t *testing.T) {
		w := s.fresh(t)
		st, _ := stagePlanRows(t, w, "r1", false)
		rows, err := w.RunQuery(ctx, q(w, "SELECT {id}, {s} FROM {"+st.Table+"} WHERE {id} = ?"), 2)
		if err != nil {
			t.Fatal(err)
		}
		cols, err := rows.Columns()
		if err != nil || strings.Join(cols, ",") != "id,s" {
			t.Errorf("columns %v, %v", cols, err)
		}
		types, err := rows.ColumnTypes()
		if err != nil || len(types) != 2 || types[0].Name != "id" || types[0].Type == "" || types[1].Type == "" {
			t.Errorf("column types %+v, %v", types, err)
		}
		var got []string
		for rows.Next() {
			var id int64
			var s string
			if err := rows.Scan(&id, &s); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprint(id, "|", s))
		}
		if err := rows.Err(); err != nil || strings.Join(got, ",") != "2|Ünïcode ✓" {
			t.Errorf("rows %v, %v", got, err)
		}
		if err := rows.Close(); err != nil {
			t.Error(err)
		}
		_ = rows.Close() // twice is harmless
		if _, err := w.RunQuery(ctx, "SELEKT 1"); err == nil {
			t.Error("bad SQL ran")
		}
		// Rows closed before they were read to the end release the data
		// plane too.
		rows, err = w.RunQuery(ctx, q(w, "SELECT {id} FROM {"+st.Table+"}"))
		if err != nil {
			t.Fatal(err)
		}
		rows.Next()
		rows.Close()
		done := make(chan error, 1)
		go func() {
			n, err := w.CountRows(ctx, st, nil)
			if err == nil && n != 7 {
				err = fmt.Errorf("%d rows, want 7", n)
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("after the queries: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("rows closed early still hold the data plane")
		}
	})
}

// testMetrics checks what BatchMetrics measures for anomaly detection.
func (s *suite) testMetrics(t *testing.T) {
	s.run(t, "batch metrics", func(t *testing.T) {
		w := s.fresh(t)
		st, _ := stagePlanRows(t, w, "r1", false)
		m, err := w.BatchMetrics(ctx, st, "TS")
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int64{"id": 7, "s": 6, "i": 5, "d": 5, "day": 5, "ts": 5, "dt": 5, "b": 5}
		newest := time.Date(2026, 1, 3, 0, 0, 0, 0, time.UTC)
		if m.Rows != 7 || !reflect.DeepEqual(m.NonNull, want) || m.EventColumn != "ts" || m.EventNotTime || !m.Newest.Equal(newest) {
			t.Errorf("metrics %+v, want 7 rows, non-NULLs %v, newest ts %s", m, want, newest)
		}
		for _, col := range []string{"day", "dt"} {
			if m, err := w.BatchMetrics(ctx, st, col); err != nil || m.EventColumn != col || m.EventNotTime || !m.Newest.Equal(newest) {
				t.Errorf("event time %s: %+v, %v; want the newest %s", col, m, err, newest)
			}
		}
		if m, err := w.BatchMetrics(ctx, st, "s"); err != nil || m.EventColumn != "s" || !m.EventNotTime || !m.Newest.IsZero() {
			t.Errorf("a text event time: %+v, %v", m, err)
		}
		for _, none := range []string{"", "nope"} {
			if m, err := w.BatchMetrics(ctx, st, none); err != nil || m.EventColumn != "" || m.Rows != 7 || !m.Newest.IsZero() {
				t.Errorf("event time %q: %+v, %v", none, m, err)
			}
		}
		// Rows a repair set aside are not measured.
		if _, err := w.ApplyRepair(ctx, st, warehouse.RepairPlan{Op: warehouse.Quarantine{Where: warehouse.IsNull{Column: "i"}, Reason: "r"}}); err != nil {
			t.Fatal(err)
		}
		if m, err := w.BatchMetrics(ctx, st, ""); err != nil || m.Rows != 5 || m.NonNull["s"] != 4 || m.NonNull["i"] != 5 {
			t.Errorf("after a set-aside: %+v, %v", m, err)
		}
	})
	s.run(t, "NULLs and NULL tokens count as NULL", func(t *testing.T) {
		w := s.fresh(t)
		rows := typedRows()
		wr := variant{format: format.CSV, delim: ","}.write(t, t.TempDir(), rows)
		st := stage(t, w, warehouse.LoadSpec{RunID: "r1", Pipeline: "p", Target: "t", ObjectKey: "data.csv", Path: wr.path, Format: format.CSV,
			Schema: mustSchema(t, typedSchemaJSON), CSV: warehouse.CSVOptions{NullValues: []string{"", "NA"}}})
		m, err := w.BatchMetrics(ctx, st, "seen_at")
		if err != nil {
			t.Fatal(err)
		}
		e := expect(rows, wr)
		for i, c := range typedColumns {
			var n int64
			for _, r := range e.good {
				if r[i] != "NULL" {
					n++
				}
			}
			if m.NonNull[c] != n {
				t.Errorf("%s: %d non-NULL values, want %d", c, m.NonNull[c], n)
			}
		}
		if m.Rows != int64(len(e.good)) || !m.Newest.Equal(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)) {
			t.Errorf("metrics %+v", m)
		}
	})
}
