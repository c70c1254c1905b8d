package pipeline

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestRunQueries: a run's statements are kept by shape (the same
// statement on each staging table is one), with their calls and totals;
// secrets are masked in the text and the error; past maxRunShapes shapes
// the rest are counted, not kept.
func TestRunQueries(t *testing.T) {
	q := newRunQueries(redact.New("hunter2"))
	for i := range 3 {
		q.LogQuery(warehouse.QueryEvent{Text: fmt.Sprintf(`INSERT INTO sales SELECT * FROM temp.main."stage_run_20261206_0931_ab12_%d"`, i+1),
			Duration: time.Second, Rows: 10, BytesProcessed: 100, BytesBilled: 200})
	}
	q.LogQuery(warehouse.QueryEvent{Text: "SELECT * FROM postgres_scan('postgres://shp:hunter2@db/app', 'public', 't')",
		Err: errors.New("connect postgres://shp:hunter2@db/app: refused")})
	if len(q.order) != 2 {
		t.Fatalf("shapes %d, want 2: %v", len(q.order), q.order)
	}
	ins := q.shapes[q.order[0]]
	if ins.Calls != 3 || ins.Duration != 3*time.Second || ins.Rows != 30 || ins.BytesScanned != 300 || ins.BytesBilled != 600 ||
		ins.Source != SourceShp || !strings.Contains(ins.Text, "stage_run_20261206_0931_ab12_1") {
		t.Errorf("the insert's shape %+v", ins)
	}
	scan := q.shapes[q.order[1]]
	if strings.Contains(scan.Text, "hunter2") || strings.Contains(scan.Error, "hunter2") || scan.Error == "" {
		t.Errorf("a secret kept: %+v", scan)
	}
	for i := range maxRunShapes + 10 {
		q.LogQuery(warehouse.QueryEvent{Text: fmt.Sprintf("SELECT %d FROM t%d", i, i)})
	}
	if len(q.shapes) != maxRunShapes || q.dropped != 12 {
		t.Errorf("%d shapes kept, %d dropped", len(q.shapes), q.dropped)
	}
	long := strings.Repeat("x", maxQueryText+100)
	q2 := newRunQueries(nil)
	q2.LogQuery(warehouse.QueryEvent{Text: "SELECT '" + long + "'"})
	if got := q2.shapes[q2.order[0]].Text; len(got) != maxQueryText {
		t.Errorf("a long text kept at %d bytes", len(got))
	}
	q3 := newRunQueries(nil)
	q3.LogQuery(warehouse.QueryEvent{Text: "SELECT '" + strings.Repeat("é", maxQueryText) + "'"})
	if got := q3.shapes[q3.order[0]].Text; len(got) > maxQueryText || !utf8.ValidString(got) {
		t.Errorf("a long text cut to %d bytes, valid UTF-8: %v", len(got), utf8.ValidString(got))
	}
}
