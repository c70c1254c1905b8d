package postgres

import (
	"context"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/warehousetest"
)

// TestStatementsReported: with a QueryLog in its context, every statement
// the warehouse runs is reported (a load's, a failed one with its
// error); without one, nothing is.
func TestStatementsReported(t *testing.T) {
	w := open(t)
	log := &warehousetest.QueryEvents{}
	ctx := warehouse.WithQueryLog(context.Background(), log)
	sch := schema.Schema{{Name: "id", Type: schema.TypeInt64}, {Name: "name", Type: schema.TypeString}, {Name: "amount", Type: schema.TypeFloat64}}
	st, err := w.Stage(ctx, spec("good.csv", format.CSV, sch))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := w.RunQuery(ctx, "SELECT count(*) FROM "+w.staging(st.Table))
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if _, err := w.RunQuery(ctx, "SELECT no_such_column FROM "+w.staging(st.Table)); err == nil {
		t.Fatal("a bad query ran")
	}
	var loads, copies, counts, failed int
	for _, e := range log.Events() {
		switch {
		case strings.HasPrefix(e.Text, "COPY ") && strings.Contains(e.Text, st.Table):
			copies++
			if e.Rows != 2 || e.Err != nil {
				t.Errorf("the COPY %+v", e)
			}
		case strings.Contains(e.Text, "CREATE TABLE") && strings.Contains(e.Text, st.Table):
			loads++
			if e.Err != nil {
				t.Errorf("the load %+v", e)
			}
		case strings.HasPrefix(e.Text, "SELECT count(*)"):
			counts++
		case strings.Contains(e.Text, "no_such_column"):
			failed++
			if e.Err == nil {
				t.Errorf("the failed query without its error: %+v", e)
			}
		}
		if e.Duration < 0 {
			t.Errorf("a negative duration %+v", e)
		}
	}
	if loads == 0 || copies != 1 || counts != 1 || failed != 1 {
		t.Fatalf("%d loads, %d copies, %d counts, %d failed in %d events", loads, copies, counts, failed, len(log.Events()))
	}
	n := len(log.Events())
	rows, err = w.RunQuery(context.Background(), "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	rows.Close()
	if len(log.Events()) != n {
		t.Errorf("a statement without a QueryLog was reported")
	}
}
