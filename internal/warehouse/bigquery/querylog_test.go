package bigquery

import (
	"context"
	"strings"
	"testing"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/warehousetest"
)

// TestJobsReported: with a QueryLog in its context, each job the
// warehouse waits for is reported with its SQL, the rows it changed and
// its bytes; a failed one with its error; without a QueryLog, none.
func TestJobsReported(t *testing.T) {
	w := openTest(t, freshKey())
	if err := w.client.Dataset(w.cfg.Dataset).Table("t").Create(context.Background(),
		&bq.TableMetadata{Schema: bq.Schema{{Name: "id", Type: bq.IntegerFieldType}}}); err != nil {
		t.Fatal(err)
	}
	log := &warehousetest.QueryEvents{}
	ctx := warehouse.WithQueryLog(context.Background(), log)
	insert := "INSERT INTO " + w.target("t") + " (id) VALUES (1), (2), (3)"
	if _, err := w.exec(ctx, jobMeta{step: "ins"}, insert); err != nil {
		t.Fatal(err)
	}
	if _, err := w.exec(ctx, jobMeta{step: "bad"}, "SELECT no_such_column FROM "+w.target("t")); err == nil {
		t.Fatal("a bad query ran")
	}
	if _, err := w.exec(context.Background(), jobMeta{step: "quiet"}, "SELECT 1"); err != nil {
		t.Fatal(err)
	}
	var ins, bad int
	for _, e := range log.Events() {
		switch {
		case e.Text == insert:
			ins++
			// The emulator reports no DML row count; BigQuery does.
			if realProject() != "" && e.Rows != 3 || e.Err != nil || e.Duration < 0 {
				t.Errorf("the insert %+v", e)
			}
		case strings.Contains(e.Text, "no_such_column"):
			bad++
		case e.Text == "SELECT 1":
			t.Errorf("a job without a QueryLog was reported")
		}
	}
	// The emulator fails a bad query when it starts, before there is a
	// job to wait for: only real BigQuery reports it, with its error.
	if ins != 1 || realProject() != "" && bad != 1 {
		t.Fatalf("%d inserts, %d failed in %+v", ins, bad, log.Events())
	}
}
