package service

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/warehouse"
)

// quarantineWarehouse serves the rows runs set aside, and records what
// it was asked; every other method of the interface is nil.
type quarantineWarehouse struct {
	warehouse.Warehouse
	rows    map[string][][]any // by run: source_object, line, reason, raw, state
	asked   []string           // "run|target"
	opened  []*scannedRows
	err     error // of QuarantinedRows
	scanErr error
	rowsErr error
}

func (w *quarantineWarehouse) QuarantinedRows(_ context.Context, runID, target string) (warehouse.Rows, error) {
	w.asked = append(w.asked, runID+"|"+target)
	if w.err != nil {
		return nil, w.err
	}
	r := &scannedRows{rows: w.rows[runID], scanErr: w.scanErr, err: w.rowsErr}
	w.opened = append(w.opened, r)
	return r, nil
}

// scannedRows are rows as database/sql scans them into *any.
type scannedRows struct {
	rows    [][]any
	i       int
	read    int // rows read
	closed  bool
	scanErr error
	err     error
}

func (r *scannedRows) Next() bool {
	if r.i >= len(r.rows) {
		return false
	}
	r.i++
	r.read++
	return true
}

func (r *scannedRows) Scan(dest ...any) error {
	if r.scanErr != nil {
		return r.scanErr
	}
	row := r.rows[r.i-1]
	if len(dest) != len(row) {
		return fmt.Errorf("%d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		*(d.(*any)) = row[i]
	}
	return nil
}

func (r *scannedRows) Columns() ([]string, error) {
	return []string{"source_object", "line", "reason", "raw", "state"}, nil
}
func (r *scannedRows) ColumnTypes() ([]warehouse.Column, error) { return nil, nil }
func (r *scannedRows) Err() error                               { return r.err }
func (r *scannedRows) Close() error                             { r.closed = true; return nil }

// quarantined records a finished run that set rows aside.
func (f *fixture) quarantined(id, pipeline, status string, start time.Time, n int64) {
	f.t.Helper()
	f.must(f.store.CreateRun(f.ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: start, Trigger: "scheduled", Attempt: 1}))
	if status == metadata.StatusRunning {
		return
	}
	f.must(f.store.FinishRun(f.ctx, metadata.Run{ID: id, Status: status, EndedAt: start.Add(time.Minute), RowsIn: 10 + n, RowsLoaded: 10,
		RowsQuarantined: n, InvariantOK: true}))
}

// rowsOf makes n rows with the reasons in turn.
func rowsOf(n int, state string, reasons ...string) [][]any {
	var out [][]any
	for i := range n {
		out = append(out, []any{"part-1.csv", int64(i + 2), reasons[i%len(reasons)], fmt.Sprintf("%d,x", i), state})
	}
	return out
}

// TestQuarantined: a run's set-aside rows a page at a time, from the
// target's quarantine when the run committed, from the set-aside table
// when it did not.
func TestQuarantined(t *testing.T) {
	f := newFixture(t, nil)
	w := &quarantineWarehouse{rows: map[string][][]any{}}
	f.svc.Warehouse = w
	f.quarantined("ok", "orders", metadata.StatusSucceeded, day(1), 7)
	f.quarantined("failed", "orders", metadata.StatusFailed, day(2), 2)
	f.quarantined("clean", "events", metadata.StatusSucceeded, day(3), 0)
	f.quarantined("held", "orders", metadata.StatusHeld, day(4), 1)
	w.rows["ok"] = rowsOf(7, "committed", "CAST (column amount): 'x' is not a FLOAT")
	w.rows["failed"] = [][]any{
		{[]byte("part-2.csv"), []byte("12"), "MISSING COLUMNS (region)", nil, "not committed"},
		{"part-2.csv", "13", []byte("CAST (column id): 'y'"), "y", []byte("not committed")},
	}

	for _, tc := range []struct {
		offset, limit int
		lines         []int64
		more          bool
	}{
		{0, 3, []int64{2, 3, 4}, true},
		{3, 3, []int64{5, 6, 7}, true},
		{6, 3, []int64{8}, false},
		{7, 3, nil, false},
		{100, 3, nil, false},
		{0, 7, []int64{2, 3, 4, 5, 6, 7, 8}, false},
		{0, 6, []int64{2, 3, 4, 5, 6, 7}, true},
		{0, MaxPageSize, []int64{2, 3, 4, 5, 6, 7, 8}, false},
	} {
		p, err := f.svc.Quarantined(f.ctx, "ok", tc.offset, tc.limit)
		f.must(err)
		var lines []int64
		for _, r := range p.Rows {
			lines = append(lines, r.Line)
		}
		if p.Rows == nil || !reflect.DeepEqual(lines, tc.lines) || p.More != tc.more || p.Offset != tc.offset {
			t.Errorf("offset %d limit %d: lines %v more %v offset %d, want %v %v", tc.offset, tc.limit, lines, p.More, p.Offset, tc.lines, tc.more)
		}
		last := w.opened[len(w.opened)-1]
		if !last.closed {
			t.Errorf("offset %d limit %d: the rows were not closed", tc.offset, tc.limit)
		}
		// A page reads no further than one row past itself.
		if want := min(tc.offset+tc.limit+1, 7); last.read > want {
			t.Errorf("offset %d limit %d: %d rows read, want at most %d", tc.offset, tc.limit, last.read, want)
		}
	}
	p, err := f.svc.Quarantined(f.ctx, "ok", 0, 1)
	f.must(err)
	if want := (QuarantinedRow{Object: "part-1.csv", Line: 2, Reason: "CAST (column amount): 'x' is not a FLOAT", Raw: "0,x", State: "committed"}); p.Rows[0] != want {
		t.Errorf("row %+v, want %+v", p.Rows[0], want)
	}

	// Values as drivers scan them: bytes, strings, NULL.
	p, err = f.svc.Quarantined(f.ctx, "failed", 0, 10)
	f.must(err)
	want := []QuarantinedRow{
		{Object: "part-2.csv", Line: 12, Reason: "MISSING COLUMNS (region)", Raw: "", State: "not committed"},
		{Object: "part-2.csv", Line: 13, Reason: "CAST (column id): 'y'", Raw: "y", State: "not committed"},
	}
	if !reflect.DeepEqual(p.Rows, want) || p.More {
		t.Errorf("rows of a failed run %+v", p)
	}

	// Committed rows are read from the target's quarantine; rows of a run
	// that did not commit, or set aside none, from the set-aside table.
	w.asked = nil
	for _, id := range []string{"ok", "failed", "clean", "held"} {
		_, err := f.svc.Quarantined(f.ctx, id, 0, 10)
		f.must(err)
	}
	if want := []string{"ok|orders", "failed|", "clean|", "held|"}; !reflect.DeepEqual(w.asked, want) {
		t.Errorf("asked %v, want %v", w.asked, want)
	}

	for _, tc := range []struct {
		run           string
		offset, limit int
		want          string
	}{
		{"ok", -1, 10, "field:offset"},
		{"ok", 0, 0, "field:limit"},
		{"ok", 0, -5, "field:limit"},
		{"ok", 0, MaxPageSize + 1, "field:limit"},
		{"nope", 0, 10, "not found"},
	} {
		_, err := f.svc.Quarantined(f.ctx, tc.run, tc.offset, tc.limit)
		wantErr(t, err, tc.want)
	}

	// The warehouse failing.
	w.err = errors.New("the warehouse is locked")
	if _, err := f.svc.Quarantined(f.ctx, "ok", 0, 10); !errors.Is(err, w.err) {
		t.Errorf("a failing warehouse: %v", err)
	}
	w.err, w.scanErr = nil, errors.New("bad row")
	if _, err := f.svc.Quarantined(f.ctx, "ok", 0, 10); !errors.Is(err, w.scanErr) || !w.opened[len(w.opened)-1].closed {
		t.Errorf("a row that does not scan: %v", err)
	}
	w.scanErr, w.rowsErr = nil, errors.New("connection lost")
	if _, err := f.svc.Quarantined(f.ctx, "ok", 0, 10); !errors.Is(err, w.rowsErr) {
		t.Errorf("rows that end in an error: %v", err)
	}
	w.rowsErr = nil

	// Without a warehouse.
	f.svc.Warehouse = nil
	_, err = f.svc.Quarantined(f.ctx, "ok", 0, 10)
	wantErr(t, err, "unavailable")
	// Bad input is refused before the warehouse is needed.
	_, err = f.svc.Quarantined(f.ctx, "ok", -1, 10)
	wantErr(t, err, "field:offset")
}

// TestQuarantineReasons: the set-aside rows of the last runs counted by
// the kind of their reason (its text before ": "), most first.
func TestQuarantineReasons(t *testing.T) {
	f := newFixture(t, nil)
	w := &quarantineWarehouse{rows: map[string][][]any{}}
	f.svc.Warehouse = w
	cast := "CAST (column amount): 'x' is not a FLOAT"
	missing := "MISSING COLUMNS (region)"
	rule := "expect_column_values_to_not_be_null(id): null"
	f.quarantined("o-1", "orders", metadata.StatusSucceeded, day(1), 4)
	w.rows["o-1"] = rowsOf(4, "committed", cast, missing) // 2 cast, 2 missing
	f.quarantined("o-2", "orders", metadata.StatusFailed, day(2), 3)
	w.rows["o-2"] = rowsOf(3, "not committed", cast, rule, "CAST (column amount): 'y'") // 2 cast, 1 rule
	f.quarantined("o-3", "orders", metadata.StatusSucceeded, day(3), 0)                 // nothing set aside: not read
	w.rows["o-3"] = rowsOf(5, "committed", "never read")
	f.quarantined("o-4", "orders", metadata.StatusRunning, day(4), 0) // running: not read
	w.rows["o-4"] = rowsOf(5, "committed", "never read")
	f.quarantined("e-1", "events", metadata.StatusSucceeded, day(1), 2)
	w.rows["e-1"] = rowsOf(2, "committed", rule)

	got, err := f.svc.QuarantineReasons(f.ctx, "", 10, 1000)
	f.must(err)
	want := []ReasonCount{
		{"orders", "CAST (column amount)", 4},
		{"events", "expect_column_values_to_not_be_null(id)", 2},
		{"orders", "MISSING COLUMNS (region)", 2},
		{"orders", "expect_column_values_to_not_be_null(id)", 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reasons %+v, want %+v", got, want)
	}
	for _, a := range w.asked {
		if a == "o-3|" || a == "o-3|orders" || a == "o-4|" || a == "o-4|orders" {
			t.Errorf("rows of %s were read", a)
		}
	}

	// One pipeline.
	got, err = f.svc.QuarantineReasons(f.ctx, "events", 10, 1000)
	f.must(err)
	if want := []ReasonCount{{"events", "expect_column_values_to_not_be_null(id)", 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("reasons of events %+v", got)
	}
	// The last runs only: orders' newest run (o-4, running) and o-3 set
	// nothing aside, so its two newest count nothing.
	got, err = f.svc.QuarantineReasons(f.ctx, "orders", 2, 1000)
	f.must(err)
	if len(got) != 0 {
		t.Errorf("reasons of orders' last two runs %+v", got)
	}
	got, err = f.svc.QuarantineReasons(f.ctx, "orders", 3, 1000)
	f.must(err)
	if want := []ReasonCount{{"orders", "CAST (column amount)", 2}, {"orders", "expect_column_values_to_not_be_null(id)", 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("reasons of orders' last three runs %+v", got)
	}
	// At most maxRows rows of each run.
	got, err = f.svc.QuarantineReasons(f.ctx, "orders", 10, 1)
	f.must(err)
	if want := []ReasonCount{{"orders", "CAST (column amount)", 2}}; !reflect.DeepEqual(got, want) {
		t.Errorf("reasons of one row per run %+v", got)
	}
	// Nothing set aside: an empty list, not null.
	got, err = f.svc.QuarantineReasons(f.ctx, "items", 10, 1000)
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("reasons of a pipeline that set nothing aside: %v %v", got, err)
	}

	// Ties: by pipeline, then reason.
	f2 := newFixture(t, nil)
	w2 := &quarantineWarehouse{rows: map[string][][]any{}}
	f2.svc.Warehouse = w2
	f2.quarantined("x", "orders", metadata.StatusSucceeded, day(1), 2)
	w2.rows["x"] = rowsOf(2, "committed", "b: 1", "a: 2")
	f2.quarantined("y", "events", metadata.StatusSucceeded, day(1), 1)
	w2.rows["y"] = rowsOf(1, "committed", "z: 3")
	got, err = f2.svc.QuarantineReasons(f2.ctx, "", 10, 100)
	f2.must(err)
	if want := []ReasonCount{{"events", "z", 1}, {"orders", "a", 1}, {"orders", "b", 1}}; !reflect.DeepEqual(got, want) {
		t.Errorf("ties %+v", got)
	}

	// The warehouse failing, or not there.
	w.err = errors.New("locked")
	if _, err := f.svc.QuarantineReasons(f.ctx, "", 10, 1000); !errors.Is(err, w.err) {
		t.Errorf("a failing warehouse: %v", err)
	}
	f.svc.Warehouse = nil
	_, err = f.svc.QuarantineReasons(f.ctx, "", 10, 1000)
	wantErr(t, err, "unavailable")
}
