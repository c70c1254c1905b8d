package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

type env struct {
	dir    string
	runner *Runner
	wh     *duckdb.Warehouse
	store  metadata.Store
}

// newEnv makes a project whose source folder holds a copy of testdata/mixed
// plus a Parquet file, with the given pipeline settings.
func newEnv(t *testing.T, pipelineYAML string) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir("testdata/mixed")
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join("testdata/mixed", e.Name()))
		os.WriteFile(filepath.Join(data, e.Name()), b, 0o644)
	}
	schemaJSON, _ := os.ReadFile("testdata/schema.json")
	os.WriteFile(filepath.Join(dir, "schema.json"), schemaJSON, 0o644)
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: t\nstaging:\n  url: mem://\ndefaults:\n  max_quarantine_ratio: 0.5\npipelines:\n  p:\n    source: s\n"+pipelineYAML), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n    schema: schema.json\n"), 0o644)
	proj, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	wh, err := duckdb.Open(ctx, warehouse.Options{Path: filepath.Join(dir, "w.duckdb"), TempDir: filepath.Join(dir, "tmp")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })
	if _, err := wh.DB().ExecContext(ctx, `COPY (SELECT 9 AS id, 'i' AS name, 9.0 AS amount) TO '`+filepath.Join(data, "e.parquet")+`' (FORMAT parquet)`); err != nil {
		t.Fatal(err)
	}
	store, err := metadata.Open(ctx, "sqlite", filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	bucket, err := staging.Open(ctx, proj.StagingURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	return &env{dir: dir, wh: wh, store: store, runner: &Runner{Project: proj, Store: store, Warehouse: wh, Staging: bucket}}
}

func (e *env) count(t *testing.T, q string) int64 {
	t.Helper()
	var n int64
	if err := e.wh.DB().QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// strings returns the first column of every row of a query.
func (e *env) strings(t *testing.T, q string) []string {
	t.Helper()
	rows, err := e.wh.DB().Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRunLoadsEveryFormatAndAccountsForEveryRow(t *testing.T) {
	e := newEnv(t, "    mode: append\n")
	var mu sync.Mutex
	var done []string
	e.runner.OnProgress = func(p Progress) {
		if p.Done {
			mu.Lock()
			done = append(done, fmt.Sprintf("%d/%d %s", p.Index, p.Total, p.Object))
			mu.Unlock()
		}
	}
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	// a.csv: 3 rows, 1 bad value; b.csv.gz: 2; c.jsonl: 3, 1 not JSON; d.json: 1; e.parquet: 1.
	if res.RowsIn != 10 || res.Loaded != 8 || res.Quarantined != 2 || res.Deduplicated != 0 || !res.InvariantOK {
		t.Fatalf("result %+v", res)
	}
	want := []struct {
		key    string
		in, ld int64
	}{{"a.csv", 3, 2}, {"b.csv.gz", 2, 2}, {"c.jsonl", 3, 2}, {"d.json", 1, 1}, {"e.parquet", 1, 1}}
	for i, w := range want {
		o := res.Objects[i]
		if o.Key != w.key || o.RowsIn != w.in || o.Loaded != w.ld {
			t.Errorf("object %d = %s in %d loaded %d, want %+v", i, o.Key, o.RowsIn, o.Loaded, w)
		}
	}
	if len(done) != 5 || done[4] != "5/5 e.parquet" {
		t.Errorf("progress %v", done)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 8 {
		t.Fatalf("target has %d rows", n)
	}
	run, err := e.store.GetRun(context.Background(), res.RunID)
	if err != nil || run.Status != metadata.StatusSucceeded || run.RowsIn != 10 || !run.InvariantOK || run.Objects != 5 || run.Bytes == 0 {
		t.Fatalf("stored run %+v %v", run, err)
	}

	tasks, err := e.store.ListTasks(context.Background(), res.RunID)
	if err != nil || len(tasks) != 6 {
		t.Fatalf("tasks %+v %v", tasks, err)
	}
	for _, task := range tasks {
		if task.Status != metadata.StatusSucceeded || task.EndedAt.IsZero() {
			t.Errorf("task %+v", task)
		}
	}

	// Nothing new: everything is skipped.
	res, err = e.runner.Run(context.Background(), "p", Options{})
	if err != nil || res.Skipped != 5 || len(res.Objects) != 0 {
		t.Fatalf("second run %+v %v", res, err)
	}
	// A replaced file is loaded again; the others are not.
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(filepath.Join(e.dir, "data", "d.json"), []byte(`[{"id":10,"name":"j","amount":1},{"id":11,"name":"k","amount":2}]`), 0o644)
	res, err = e.runner.Run(context.Background(), "p", Options{})
	if err != nil || len(res.Objects) != 1 || res.Objects[0].Key != "d.json" || res.Loaded != 2 {
		t.Fatalf("changed file: %+v %v", res, err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 10 {
		t.Fatalf("target has %d rows after the changed file", n)
	}
	// A full refresh rebuilds the target from every file.
	res, err = e.runner.Run(context.Background(), "p", Options{FullRefresh: true})
	if err != nil || len(res.Objects) != 5 || !res.InvariantOK {
		t.Fatalf("full refresh %+v %v", res, err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 9 {
		t.Fatalf("target has %d rows after a full refresh, want 9", n)
	}
}

func TestRunRecoversFromACrashAfterCommit(t *testing.T) {
	e := newEnv(t, "")
	ctx := context.Background()
	if _, err := e.runner.Run(ctx, "p", Options{}); err != nil {
		t.Fatal(err)
	}
	// As if the process died after the warehouse commit and before the
	// metadata store heard of it, with its run left "running".
	if err := e.store.ForgetObjects(ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := e.store.CreateRun(ctx, metadata.Run{ID: "run-dead", Pipeline: "p", Status: metadata.StatusRunning, StartedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	res, err := e.runner.Run(ctx, "p", Options{})
	if err != nil || len(res.Objects) != 0 || res.Skipped != 5 {
		t.Fatalf("recovery run %+v %v", res, err)
	}
	if n := e.count(t, "SELECT count(*) FROM p"); n != 8 {
		t.Fatalf("rows loaded twice: %d", n)
	}
	objs, _ := e.store.ListObjects(ctx, "p")
	if len(objs) != 5 {
		t.Fatalf("metadata store knows %d objects, want 5", len(objs))
	}
	dead, _ := e.store.GetRun(ctx, "run-dead")
	if dead.Status != metadata.StatusFailed || !strings.Contains(dead.Error, "abandoned") {
		t.Fatalf("dead run %+v", dead)
	}
}

func TestRunFailsAboveQuarantineThreshold(t *testing.T) {
	e := newEnv(t, "    max_quarantine_ratio: 0.1\n")
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if !errors.Is(err, ErrQuarantineThreshold) || !strings.Contains(err.Error(), "2 of 10 rows (20.0%)") ||
		!strings.Contains(err.Error(), "a.csv:3: CAST (column amount)") {
		t.Fatalf("err = %v", err)
	}
	if res.Status != metadata.StatusFailed || !res.InvariantOK {
		t.Fatalf("result %+v", res)
	}
	if n := e.count(t, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'p'"); n != 0 {
		t.Fatal("a run above the threshold must commit nothing")
	}
	// Nothing was marked processed: the next run sees every file again.
	e.runner.Project.Config.Pipelines["p"].MaxQuarantineRatio = 0.5
	res, err = e.runner.Run(context.Background(), "p", Options{})
	if err != nil || len(res.Objects) != 5 {
		t.Fatalf("retry %+v %v", res, err)
	}
}

// lossyWarehouse drops a row on the floor, which the accounting must catch.
type lossyWarehouse struct{ warehouse.Warehouse }

func (l lossyWarehouse) Stage(ctx context.Context, s warehouse.LoadSpec) (*warehouse.Staged, error) {
	st, err := l.Warehouse.Stage(ctx, s)
	if err == nil {
		st.Loaded--
	}
	return st, err
}

func TestRunCatchesLostRows(t *testing.T) {
	e := newEnv(t, "")
	e.runner.Warehouse = lossyWarehouse{e.wh}
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if !errors.Is(err, ErrInvariant) || !strings.Contains(err.Error(), "a.csv has 3 records but 1 were loaded and 1 quarantined") {
		t.Fatalf("err = %v", err)
	}
	run, _ := e.store.GetRun(context.Background(), res.RunID)
	if run.Status != metadata.StatusFailed || run.InvariantOK {
		t.Fatalf("stored run %+v", run)
	}
}

func TestRunUnknownPipeline(t *testing.T) {
	e := newEnv(t, "")
	if _, err := e.runner.Run(context.Background(), "nope", Options{}); err == nil || !strings.Contains(err.Error(), `"nope" is not defined (have p)`) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewRunIDIsSortable(t *testing.T) {
	a := NewRunID(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	b := NewRunID(time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC))
	if !strings.HasPrefix(a, "run-20260102-030405-") || a >= b {
		t.Fatalf("ids %s %s", a, b)
	}
}

func TestObjectFormat(t *testing.T) {
	tests := []struct {
		key, format, compression string
		wantF                    format.Format
		wantC                    format.Compression
		err                      string
	}{
		{key: "a.csv", wantF: format.CSV, wantC: format.None},
		{key: "a.jsonl.gz", wantF: format.JSONL, wantC: format.Gzip},
		{key: "export.dat", format: "csv", wantF: format.CSV, wantC: format.None},
		{key: "export.dat.gz", format: "csv", wantF: format.CSV, wantC: format.Gzip},
		{key: "a.txt", format: "csv", compression: "gzip", wantF: format.CSV, wantC: format.Gzip},
		{key: "a.csv.gz", compression: "none", wantF: format.CSV, wantC: format.None},
		{key: "a.json", format: "jsonl", wantF: format.JSONL, wantC: format.None},
		{key: "README", err: "README"},
	}
	for _, tc := range tests {
		t.Run(tc.key, func(t *testing.T) {
			f, c, err := objectFormat(&config.Source{Format: tc.format, Compression: tc.compression}, tc.key)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v", err)
				}
				return
			}
			if err != nil || f != tc.wantF || c != tc.wantC {
				t.Fatalf("got %s %s %v, want %s %s", f, c, err, tc.wantF, tc.wantC)
			}
		})
	}
}

func TestRunWithClockAndLogger(t *testing.T) {
	e := newEnv(t, "")
	var logs strings.Builder
	e.runner.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	fixed := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	e.runner.Now = func() time.Time { return fixed }
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.RunID, "run-20260304-050607-") || res.Duration != 0 {
		t.Fatalf("run id %s duration %s", res.RunID, res.Duration)
	}
	if !strings.Contains(logs.String(), "run succeeded") || !strings.Contains(logs.String(), "object=a.csv") {
		t.Fatalf("logs:\n%s", logs.String())
	}
}

func TestRunFailsOnABadSchemaFileOrSource(t *testing.T) {
	e := newEnv(t, "")
	os.WriteFile(filepath.Join(e.dir, "schema.json"), []byte(`[{"name":"id","type":"MONEY"}]`), 0o644)
	if _, err := e.runner.Run(context.Background(), "p", Options{}); err == nil || !strings.Contains(err.Error(), `unknown type "MONEY"`) {
		t.Fatalf("bad schema: %v", err)
	}
	e = newEnv(t, "")
	e.runner.OpenSource = func(context.Context, source.Spec) (source.ObjectSource, error) {
		return nil, errors.New("bucket unreachable")
	}
	res, err := e.runner.Run(context.Background(), "p", Options{})
	if err == nil || !strings.Contains(err.Error(), "bucket unreachable") {
		t.Fatalf("source error: %v", err)
	}
	run, _ := e.store.GetRun(context.Background(), res.RunID)
	if run.Status != metadata.StatusFailed || run.Error != "bucket unreachable" {
		t.Fatalf("stored run %+v", run)
	}
}
