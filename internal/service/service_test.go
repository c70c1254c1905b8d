package service

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"

	// The fixture's project reads from a database and an HTTP API into
	// DuckDB, whose specs the configuration checks it against (DuckDB's
	// without linking it).
	_ "github.com/shp-dev/shp/internal/source/apisource"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)

// The metadata store is what the service reads and writes.
var _ Store = metadata.Store(nil)

// fixture is a service over a small project and a real SQLite metadata
// store in a temporary folder.
type fixture struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	svc     *Service
	store   metadata.Store
	now     time.Time
	trigger []string // pipelines triggered, with their parameters
}

// The fixture's project: four pipelines, of a file source with a
// declared schema (merge on id, a schedule, a rule), a database with a
// password in its DSN and a typed parameter (replace), an HTTP API with
// secrets in its URL (append), and files under a parameter's folder.
var fixtureFiles = map[string]string{
	"config.yaml": `project: svc
pipelines:
  orders:
    description: Orders from the shop
    source: files
    mode: merge
    key: [id]
    schedule: "0 2 * * *"
  events:
    source: db
    mode: replace
  items:
    source: feed
  daily:
    source: daily
`,
	"sources.yaml": `sources:
  files:
    type: file
    path: data/*.csv
    schema: schema.json
  db:
    type: postgres
    dsn: postgres://shp:hunter2@db.example.com/app
    query: SELECT * FROM events WHERE id > {{params.min_id}}
    parameters:
      min_id: int
  feed:
    type: api
    url: https://ana:hunter3@api.example.com/v1/items?api_key=hunter4
    schedule: "@hourly"
  daily:
    type: file
    path: data/{{params.folder}}/*.csv
`,
	"schema.json": `[{"name":"id","type":"INTEGER"},{"name":"region","type":"STRING"},{"name":"amount","type":"FLOAT"}]`,
	"quality_rules.yaml": `pipelines:
  orders:
    rules:
      - expectation: expect_column_values_to_not_be_null
        kwargs: {column: id}
`,
	"self_healing.yaml": "auto_approve: [quarantine_duplicates]\nconfidence_threshold: 0.8\n",
}

// newFixture writes the project (with files replacing or adding to
// fixtureFiles; an empty body removes a file) and opens its store.
func newFixture(t *testing.T, files map[string]string) *fixture {
	t.Helper()
	dir := t.TempDir()
	all := map[string]string{}
	for k, v := range fixtureFiles {
		all[k] = v
	}
	for k, v := range files {
		all[k] = v
	}
	for name, body := range all {
		if body == "" {
			continue
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := &fixture{t: t, ctx: ctx, dir: dir, store: store, now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
	f.svc = &Service{Project: p, Store: store, Now: func() time.Time { return f.now },
		Trigger: func(_ context.Context, pipeline string, params map[string]string) (string, error) {
			f.trigger = append(f.trigger, pipeline+fmt.Sprint(params))
			return "run-triggered-" + pipeline, nil
		}}
	return f
}

// day is 02:00 UTC of a day of November 2026.
func day(d int) time.Time { return time.Date(2026, 11, d, 2, 0, 0, 0, time.UTC) }

// run records a finished run of a pipeline that started at start, with
// one load task per validation result given (a quality score and whether
// the not-null rule on id held).
func (f *fixture) run(id, pipeline, status string, start time.Time, metrics map[string]float64, checks ...bool) {
	f.t.Helper()
	f.must(f.store.CreateRun(f.ctx, metadata.Run{ID: id, Pipeline: pipeline, StartedAt: start, Trigger: "scheduled", Attempt: 1}))
	for i, ok := range checks {
		at := start.Add(time.Duration(i+1) * time.Second)
		res := fmt.Sprintf(`{"success": %v, "statistics": {"evaluated_expectations": 1}, "results": [{"success": %v, `+
			`"expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}, "result": {}}]}`, ok, ok)
		f.must(f.store.RecordTask(f.ctx, metadata.TaskAttempt{RunID: id, Task: fmt.Sprintf("load part-%d.csv", i), Attempt: 1,
			Status: metadata.StatusSucceeded, StartedAt: at, EndedAt: at.Add(time.Second), RowsIn: 10, RowsLoaded: 10,
			Detail: `{"quality_score": 90, "validation": ` + res + `}`}))
	}
	if status == metadata.StatusRunning {
		return
	}
	f.must(f.store.FinishRun(f.ctx, metadata.Run{ID: id, Status: status, EndedAt: start.Add(time.Minute), RowsIn: 10, RowsLoaded: 9,
		RowsQuarantined: 1, InvariantOK: true, Metrics: metrics}))
}

// action records a healing action and returns its id.
func (f *fixture) action(a metadata.HealingAction) int64 {
	f.t.Helper()
	if a.Params == "" {
		a.Params = "{}"
	}
	id, err := f.store.RecordAction(f.ctx, a)
	f.must(err)
	return id
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// wantErr checks an error: nil when want is "", else one that is a
// FieldError on that field ("field:NAME") or wraps the sentinel named
// ("not found", "conflict", "unavailable").
func wantErr(t *testing.T, err error, want string) {
	t.Helper()
	var fe *FieldError
	switch {
	case want == "":
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
	case len(want) > 6 && want[:6] == "field:":
		if !errors.As(err, &fe) || fe.Field != want[6:] {
			t.Fatalf("want an invalid %s, got %v", want[6:], err)
		}
	case want == "not found":
		if !errors.Is(err, ErrNotFound) {
			t.Fatalf("want not found, got %v", err)
		}
	case want == "conflict":
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("want a conflict, got %v", err)
		}
	case want == "unavailable":
		if !errors.Is(err, ErrUnavailable) {
			t.Fatalf("want unavailable, got %v", err)
		}
	default:
		if err == nil {
			t.Fatalf("want an error (%s), got none", want)
		}
	}
}

// TestPageRequests: a page size of 0 is the default, sizes out of range
// and tokens of another listing (or none at all) are refused.
func TestPageRequests(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  PageRequest
		size int
		want string
	}{
		{"the default size", PageRequest{}, DefaultPageSize, ""},
		{"a size", PageRequest{PageSize: 7}, 7, ""},
		{"the largest size", PageRequest{PageSize: MaxPageSize}, MaxPageSize, ""},
		{"a negative size", PageRequest{PageSize: -1}, 0, "field:page_size"},
		{"too large a size", PageRequest{PageSize: MaxPageSize + 1}, 0, "field:page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := tc.req.size()
			wantErr(t, err, tc.want)
			if n != tc.size {
				t.Fatalf("size %d, want %d", n, tc.size)
			}
		})
	}
	for _, tc := range []struct {
		name, token, body, want string
	}{
		{"the first page", "", "", ""},
		{"a token of the listing", encodeToken("runs", "x"), "x", ""},
		{"a token of another listing", encodeToken("actions", "x"), "", "field:page_token"},
		{"an empty body", encodeToken("runs", ""), "", "field:page_token"},
		{"not base64", "%%%", "", "field:page_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, err := PageRequest{PageToken: tc.token}.decodeToken("runs")
			wantErr(t, err, tc.want)
			if body != tc.body {
				t.Fatalf("body %q, want %q", body, tc.body)
			}
		})
	}
	if got := (&FieldError{Field: "a", Reason: "b"}).Error(); got != "a: b" {
		t.Fatalf("FieldError says %q", got)
	}
	if string(rawJSON("")) != "null" || string(rawJSON("{")) != "null" || string(rawJSON(`{"a":1}`)) != `{"a":1}` {
		t.Fatal("rawJSON does not keep JSON and null the rest")
	}
}

// TestDefaults: a service without a clock or a logger uses the wall
// clock and discards what it would log.
func TestDefaults(t *testing.T) {
	s := &Service{}
	if time.Since(s.now()) > time.Minute || s.logger() == nil {
		t.Fatal("no default clock or logger")
	}
}
