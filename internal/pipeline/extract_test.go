package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/warehouse"
)

// fakeExtractor serves rows (id, watermark) and records what it was asked.
type fakeExtractor struct {
	rows   [][2]int
	asked  []string
	closed bool
}

func (f *fakeExtractor) Format() format.Format { return format.CSV }

func (f *fakeExtractor) Discover(context.Context) (schema.Schema, error) {
	return schema.Schema{{Name: "id", Type: schema.TypeInt64, Mode: schema.ModeNullable}, {Name: "wm", Type: schema.TypeInt64, Mode: schema.ModeNullable}}, nil
}

func (f *fakeExtractor) Extract(ctx context.Context, req source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	f.asked = append(f.asked, req.Since)
	since := -1
	if req.Since != "" && !req.Full {
		since, _ = strconv.Atoi(req.Since)
	}
	c, err := sink.Chunk(ctx)
	if err != nil {
		return nil, err
	}
	io.WriteString(c, "id,wm\n")
	out := &source.Extraction{Watermark: req.Since, Query: "fake", Attempts: 1}
	for _, r := range f.rows {
		if r[1] > since {
			fmt.Fprintf(c, "%d,%d\n", r[0], r[1])
			out.Rows++
			out.Watermark = strconv.Itoa(r[1])
		}
	}
	return out, c.Commit(out.Rows)
}

func (f *fakeExtractor) Close() error { f.closed = true; return nil }

// lossyStore fails to record processed objects: the process "dies" after
// the warehouse commit and before the metadata store hears of it.
type lossyStore struct{ RunStore }

func (lossyStore) MarkObjects(context.Context, string, string, []metadata.ObjectFile) error {
	return errors.New("killed")
}

func extractEnv(t *testing.T, fake *fakeExtractor) *env {
	t.Helper()
	e := newEnv(t, "    mode: append\n")
	os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    host: db\n    table: t\n    incremental: {column: id}\n"), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	e.runner.OpenExtractor = func(context.Context, source.Spec) (source.Extractor, error) { return fake, nil }
	return e
}

// TestExtractWatermarkSurvivesLostMetadata: when the warehouse committed
// an extraction but the metadata store never heard of it, the next run
// takes the watermark from the warehouse's ledger and extracts only what
// is new, so even an append-mode target holds every row once.
func TestExtractWatermarkSurvivesLostMetadata(t *testing.T) {
	ctx := context.Background()
	fake := &fakeExtractor{rows: [][2]int{{1, 10}, {2, 20}}}
	e := extractEnv(t, fake)
	store := e.runner.Store
	e.runner.Store = lossyStore{store}
	if _, err := e.runner.Run(ctx, "p", Options{}); err == nil || !fake.closed {
		t.Fatalf("the first run should fail after its commit: %v", err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 2 {
		t.Fatalf("the warehouse committed %d rows, want 2", n)
	}
	e.runner.Store = store
	fake.rows = append(fake.rows, [2]int{3, 30})
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if fake.asked[1] != "20" || res.RowsIn != 1 {
		t.Fatalf("second run asked since %q and read %d rows, want since 20 and 1 row", fake.asked[1], res.RowsIn)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 3 {
		t.Fatalf("target holds %d rows, want 3 (each once)", n)
	}
	wm, ok, err := store.GetWatermark(ctx, "p", watermarkKey("s"))
	if err != nil || !ok || wm != "30" {
		t.Fatalf("watermark %q %v %v", wm, ok, err)
	}
	// Nothing new: an empty run that keeps the watermark.
	if res, err = e.runner.Run(ctx, "p", Options{}); err != nil || res.RowsIn != 0 || fake.asked[2] != "30" {
		t.Fatalf("third run: %+v %v (asked %v)", res, err, fake.asked)
	}
	// A full refresh re-reads everything into a rebuilt target.
	if res, err = e.runner.Run(ctx, "p", Options{FullRefresh: true}); err != nil || res.RowsIn != 3 {
		t.Fatalf("full refresh: %+v %v", res, err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 3 {
		t.Fatalf("after a full refresh the target holds %d rows, want 3", n)
	}
	tasks, err := store.ListTasks(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, task := range tasks {
		if task.Task == "extract s" && task.RowsIn == 3 && task.Status == metadata.StatusSucceeded {
			found = true
		}
	}
	if !found {
		t.Fatalf("no extract task on record: %+v", tasks)
	}
}

// flakyWarehouse fails its first commit, as a warehouse that is briefly
// unreachable would.
type flakyWarehouse struct {
	warehouse.Warehouse
	failed bool
}

func (f *flakyWarehouse) Commit(ctx context.Context, spec warehouse.CommitSpec) (*warehouse.CommitResult, error) {
	if !f.failed {
		f.failed = true
		return nil, errors.New("warehouse unreachable")
	}
	return f.Warehouse.Commit(ctx, spec)
}

// TestRetryResumesAfterExtraction: a run whose extraction succeeded but
// whose commit failed is retried for the same logical date; the retry
// reuses the extracted chunks instead of extracting again.
func TestRetryResumesAfterExtraction(t *testing.T) {
	ctx := context.Background()
	fake := &fakeExtractor{rows: [][2]int{{1, 10}, {2, 20}}}
	e := extractEnv(t, fake)
	e.runner.Warehouse = &flakyWarehouse{Warehouse: e.wh}
	logical := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	if _, err := e.runner.Run(ctx, "p", Options{LogicalDate: logical}); err == nil {
		t.Fatal("the first commit should fail")
	}
	res, err := e.runner.Run(ctx, "p", Options{LogicalDate: logical, Attempt: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(fake.asked) != 1 || res.RowsIn != 2 || e.count(t, "SELECT count(*) FROM p") != 2 {
		t.Fatalf("extractions %v, rows in %d", fake.asked, res.RowsIn)
	}
	tasks, _ := e.store.ListTasks(ctx, res.RunID)
	var detail string
	for _, task := range tasks {
		if task.Task == "extract s" {
			detail = task.Detail
		}
	}
	if !strings.Contains(detail, `"reused_from":"run-`) {
		t.Fatalf("extract task of the retry: %s", detail)
	}
	// A run for another logical date extracts afresh, from the new watermark.
	fake.rows = append(fake.rows, [2]int{3, 30})
	if res, err = e.runner.Run(ctx, "p", Options{}); err != nil || res.RowsIn != 1 || len(fake.asked) != 2 || fake.asked[1] != "20" {
		t.Fatalf("next run: %+v %v asked %v", res, err, fake.asked)
	}
}

// textExtractor writes its rows as they are, under the schema it reports.
type textExtractor struct {
	fakeExtractor
	csv string
	sch schema.Schema
}

func (x *textExtractor) Discover(context.Context) (schema.Schema, error) { return x.sch, nil }

func (x *textExtractor) Extract(ctx context.Context, _ source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	c, err := sink.Chunk(ctx)
	if err != nil {
		return nil, err
	}
	io.WriteString(c, x.csv)
	rows := int64(strings.Count(x.csv, "\n") - 1)
	return &source.Extraction{Query: "text", Rows: rows, Attempts: 1}, c.Commit(rows)
}

// TestExtractedIntegersKeepTheirValues: integers from a source that
// reports them as integers load exactly, the largest BIGINT too; when the
// user declares a schema over an extraction, the declared INTEGER column
// is checked strictly and a fraction is quarantined, not rounded.
func TestExtractedIntegersKeepTheirValues(t *testing.T) {
	ctx := context.Background()
	rows := "id,qty\n1,-9223372036854775808\n2,9223372036854775807\n3,\\N\n"
	x := &textExtractor{csv: rows, sch: schema.Schema{
		{Name: "id", Type: schema.TypeInt64, Mode: schema.ModeNullable}, {Name: "qty", Type: schema.TypeInt64, Mode: schema.ModeNullable}}}
	e := extractEnv(t, &x.fakeExtractor)
	e.runner.OpenExtractor = func(context.Context, source.Spec) (source.Extractor, error) { return x, nil }
	if _, err := e.runner.Run(ctx, "p", Options{}); err != nil {
		t.Fatal(err)
	}
	if got := e.strings(t, "SELECT id || '=' || coalesce(CAST(qty AS VARCHAR), 'NULL') FROM p ORDER BY id"); strings.Join(got, ",") != "1=-9223372036854775808,2=9223372036854775807,3=NULL" {
		t.Fatalf("target %v", got)
	}

	e = extractEnv(t, &x.fakeExtractor)
	os.WriteFile(filepath.Join(e.dir, "declared.json"), []byte(`[{"name":"id","type":"INTEGER"},{"name":"qty","type":"INTEGER"}]`), 0o644)
	os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    host: db\n    table: t\n    incremental: {column: id}\n    schema: declared.json\n"), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	x.csv = "id,qty\n1,2\n2,2.5\n"
	e.runner.OpenExtractor = func(context.Context, source.Spec) (source.Extractor, error) { return x, nil }
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Loaded != 1 || res.Quarantined != 1 {
		t.Fatalf("loaded %d, quarantined %d; want 1 and 1", res.Loaded, res.Quarantined)
	}
	if got := e.strings(t, "SELECT reason FROM p__quarantine"); len(got) != 1 || !strings.Contains(got[0], `Could not convert string "2.5"`) {
		t.Fatalf("quarantine %v", got)
	}
}

// TestFreshnessFromEventTime: with event_time set, a run records how old
// the batch's newest event was when the run started; a column that is
// not in the batch records nothing.
func TestFreshnessFromEventTime(t *testing.T) {
	ctx := context.Background()
	x := &textExtractor{csv: "id,at\n1,2026-01-01 00:00:00\n2,2026-01-02 06:00:00\n3,\\N\n", sch: schema.Schema{
		{Name: "id", Type: schema.TypeInt64, Mode: schema.ModeNullable}, {Name: "at", Type: schema.TypeDatetime, Mode: schema.ModeNullable}}}
	for _, tc := range []struct {
		column string
		want   float64
		has    bool
	}{{"at", 30 * 3600, true}, {"nope", 0, false}} {
		e := newEnv(t, "    mode: append\n    event_time: "+tc.column+"\n")
		os.WriteFile(filepath.Join(e.dir, "sources.yaml"), []byte("sources:\n  s:\n    type: postgres\n    host: db\n    table: t\n    incremental: {column: id}\n"), 0o644)
		proj, err := config.LoadDir(e.dir)
		if err != nil {
			t.Fatal(err)
		}
		e.runner.Project = proj
		e.runner.OpenExtractor = func(context.Context, source.Spec) (source.Extractor, error) { return x, nil }
		e.runner.Now = func() time.Time { return time.Date(2026, 1, 3, 12, 0, 0, 0, time.UTC) }
		res, err := e.runner.Run(ctx, "p", Options{})
		if err != nil {
			t.Fatal(err)
		}
		got, ok := res.Metrics["freshness_s"]
		if ok != tc.has || got != tc.want {
			t.Errorf("event_time %s: freshness_s %v (%v), want %v (%v)", tc.column, got, ok, tc.want, tc.has)
		}
	}
}

// lateExtractor has no new rows until its third extraction.
type lateExtractor struct {
	fakeExtractor
	calls int
}

func (l *lateExtractor) Extract(ctx context.Context, req source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	l.calls++
	if l.calls == 3 {
		l.rows = append(l.rows, [2]int{1, 10}, [2]int{2, 20})
	}
	return l.fakeExtractor.Extract(ctx, req, sink)
}

// TestExtractionWaitsForLateRows: with wait_for_data, an extraction that
// finds nothing new asks the source again until rows arrive, and loads
// them in the same run; when none come in time the run fails as late
// data (which the scheduler retries), naming the source and watermark.
func TestExtractionWaitsForLateRows(t *testing.T) {
	ctx := context.Background()
	late := &lateExtractor{}
	e := extractEnv(t, &late.fakeExtractor)
	cfg := filepath.Join(e.dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, "    wait_for_data: {timeout: 5s, poll: 10ms}\n"...), 0o644)
	proj, err := config.LoadDir(e.dir)
	if err != nil {
		t.Fatal(err)
	}
	e.runner.Project = proj
	e.runner.OpenExtractor = func(context.Context, source.Spec) (source.Extractor, error) { return late, nil }
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil || res.RowsIn != 2 || late.calls != 3 {
		t.Fatalf("run: %+v %v after %d extractions", res, err, late.calls)
	}
	os.WriteFile(cfg, append(b, "    wait_for_data: {timeout: 50ms, poll: 10ms}\n"...), 0o644)
	if e.runner.Project, err = config.LoadDir(e.dir); err != nil {
		t.Fatal(err)
	}
	_, err = e.runner.Run(ctx, "p", Options{})
	if !errors.Is(err, ErrLateData) || !errors.Is(err, resilience.ErrRetryLater) || !strings.Contains(err.Error(), `no new rows from s after watermark "20" within 50ms`) {
		t.Fatalf("late run: %v", err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 2 {
		t.Fatalf("target has %d rows, want 2", n)
	}
}
