package service

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestPipelines: each pipeline shows its source (where it reads, never a
// secret), its destination, schedule, rules, the last run's quality
// score and the last run; paused pipelines read paused.
func TestPipelines(t *testing.T) {
	f := newFixture(t, nil)
	f.run("run-1", "orders", metadata.StatusSucceeded, day(20), map[string]float64{"quality_score": 90}, true)
	f.run("run-2", "orders", metadata.StatusSucceeded, day(21), map[string]float64{"quality_score": 95}, true)
	f.must(f.store.SetPaused(f.ctx, "events", true))

	all, err := f.svc.Pipelines(f.ctx)
	wantErr(t, err, "")
	var names []string
	for _, p := range all {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "daily,events,items,orders" {
		t.Fatalf("pipelines %v, want them in name order", names)
	}
	body, _ := json.Marshal(all)
	for _, secret := range []string{"hunter2", "hunter3", "hunter4"} {
		if strings.Contains(string(body), secret) {
			t.Fatalf("a pipeline shows the secret %s: %s", secret, body)
		}
	}

	orders, events, items := all[3], all[1], all[2]
	if orders.Description != "Orders from the shop" || orders.Status != "active" || orders.Source.Type != "file" ||
		orders.Source.Config["path"] != "data/*.csv" || orders.Destination.Type != "duckdb" ||
		orders.Destination.Config["table"] != "orders" || orders.Destination.Config["mode"] != "merge" ||
		!slices.Equal(orders.Destination.Config["key"].([]string), []string{"id"}) || orders.Schedule != "0 2 * * *" ||
		!slices.Equal(orders.Quality.Rules, []string{"expect_column_values_to_not_be_null(id)"}) {
		t.Fatalf("orders %+v", orders)
	}
	if orders.Quality.Score == nil || *orders.Quality.Score != 95 || orders.LastRun == nil || orders.LastRun.ID != "run-2" ||
		orders.LastRun.Status != metadata.StatusSucceeded || orders.LastRun.RecordsProcessed != 9 || orders.LastRun.RowsQuarantined != 1 {
		t.Fatalf("orders' last run %+v, score %v", orders.LastRun, orders.Quality.Score)
	}
	if events.Status != "paused" || events.Source.Type != "postgres" || events.LastRun != nil || events.Quality.Score != nil ||
		len(events.Quality.Rules) != 0 {
		t.Fatalf("events %+v", events)
	}
	if items.Source.Config["url"] != "https://api.example.com/v1/items" || items.Schedule != "@hourly" {
		t.Fatalf("items: the source's URL without its credentials and the source's schedule, got %+v", items)
	}

	one, err := f.svc.Pipeline(f.ctx, "events")
	wantErr(t, err, "")
	if one.Status != "paused" {
		t.Fatalf("events %+v", one)
	}
	_, err = f.svc.Pipeline(f.ctx, "nope")
	wantErr(t, err, "not found")
}

// TestPipelinesPage: pipelines filtered by status and source type, a page
// at a time in name order.
func TestPipelinesPage(t *testing.T) {
	f := newFixture(t, nil)
	f.must(f.store.SetPaused(f.ctx, "events", true))
	for _, tc := range []struct {
		name  string
		q     PipelineQuery
		want  string // names on the page
		more  bool   // a next page follows
		error string
	}{
		{"all", PipelineQuery{}, "daily,events,items,orders", false, ""},
		{"a first page", PipelineQuery{PageRequest: PageRequest{PageSize: 3}}, "daily,events,items", true, ""},
		{"the page after items", PipelineQuery{PageRequest: PageRequest{PageToken: encodeToken("pipelines", "items")}}, "orders", false, ""},
		{"paused", PipelineQuery{Status: "paused"}, "events", false, ""},
		{"active", PipelineQuery{Status: "active"}, "daily,items,orders", false, ""},
		{"of a source type", PipelineQuery{SourceType: "file"}, "daily,orders", false, ""},
		{"an unknown status", PipelineQuery{Status: "sleeping"}, "", false, "field:status"},
		{"a token of another listing", PipelineQuery{PageRequest: PageRequest{PageToken: encodeToken("runs", "x")}}, "", false, "field:page_token"},
		{"a bad page size", PipelineQuery{PageRequest: PageRequest{PageSize: -2}}, "", false, "field:page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.svc.PipelinesPage(f.ctx, tc.q)
			wantErr(t, err, tc.error)
			var names []string
			for _, p := range page.Items {
				names = append(names, p.Name)
			}
			if strings.Join(names, ",") != tc.want || (page.NextPageToken != "") != tc.more {
				t.Fatalf("page %v (next %q), want %s (more: %v)", names, page.NextPageToken, tc.want, tc.more)
			}
		})
	}
	// The token of a full page leads to the rest.
	first, _ := f.svc.PipelinesPage(f.ctx, PipelineQuery{PageRequest: PageRequest{PageSize: 2}})
	rest, err := f.svc.PipelinesPage(f.ctx, PipelineQuery{PageRequest: PageRequest{PageSize: 2, PageToken: first.NextPageToken}})
	wantErr(t, err, "")
	if len(rest.Items) != 2 || rest.Items[0].Name != "items" || rest.NextPageToken != "" {
		t.Fatalf("second page %+v", rest)
	}
}

// runsFixture records runs of two pipelines over three days.
func runsFixture(t *testing.T) *fixture {
	f := newFixture(t, nil)
	f.run("run-a", "orders", metadata.StatusSucceeded, day(20), nil, true)
	f.run("run-b", "orders", metadata.StatusFailed, day(21), nil)
	f.run("run-c", "events", metadata.StatusSucceeded, day(21).Add(time.Hour), nil)
	f.run("run-d", "orders", metadata.StatusHeld, day(22), nil)
	f.run("run-e", "orders", metadata.StatusRunning, day(23), nil)
	return f
}

// TestRuns: runs newest first, by pipeline, status and start time, a page
// at a time; bad filters are refused.
func TestRuns(t *testing.T) {
	f := runsFixture(t)
	for _, tc := range []struct {
		name  string
		q     RunQuery
		want  string
		more  bool
		error string
	}{
		{"all", RunQuery{}, "run-e,run-d,run-c,run-b,run-a", false, ""},
		{"of a pipeline", RunQuery{Pipeline: "events"}, "run-c", false, ""},
		{"succeeded", RunQuery{Status: metadata.StatusSucceeded}, "run-c,run-a", false, ""},
		{"held", RunQuery{Status: metadata.StatusHeld}, "run-d", false, ""},
		{"running", RunQuery{Status: metadata.StatusRunning}, "run-e", false, ""},
		{"failed of orders", RunQuery{Pipeline: "orders", Status: metadata.StatusFailed}, "run-b", false, ""},
		{"since", RunQuery{Since: day(22)}, "run-e,run-d", false, ""},
		{"until", RunQuery{Until: day(21).Add(time.Minute)}, "run-b,run-a", false, ""},
		{"a page", RunQuery{PageRequest: PageRequest{PageSize: 2}}, "run-e,run-d", true, ""},
		{"queued is no run status", RunQuery{Status: metadata.StatusQueued}, "", false, "field:status"},
		{"an unknown status", RunQuery{Status: "done"}, "", false, "field:status"},
		{"an unknown pipeline", RunQuery{Pipeline: "nope"}, "", false, "not found"},
		{"a token of another listing", RunQuery{PageRequest: PageRequest{PageToken: encodeToken("actions", "3")}}, "", false, "field:page_token"},
		{"a token without a run", RunQuery{PageRequest: PageRequest{PageToken: encodeToken("runs", "12")}}, "", false, "field:page_token"},
		{"a bad page size", RunQuery{PageRequest: PageRequest{PageSize: MaxPageSize + 1}}, "", false, "field:page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := f.svc.Runs(f.ctx, tc.q)
			wantErr(t, err, tc.error)
			var ids []string
			for _, r := range page.Items {
				ids = append(ids, r.ID)
			}
			if strings.Join(ids, ",") != tc.want || (page.NextPageToken != "") != tc.more {
				t.Fatalf("runs %v (next %q), want %s (more: %v)", ids, page.NextPageToken, tc.want, tc.more)
			}
		})
	}
	_, err := f.svc.Runs(f.ctx, RunQuery{Status: "done"})
	if !strings.Contains(err.Error(), "must be running, succeeded, failed or held") {
		t.Fatalf("the refusal does not list the run statuses: %v", err)
	}

	// Pages follow one another; a run that starts meanwhile shifts
	// nothing.
	var seen []string
	q := RunQuery{PageRequest: PageRequest{PageSize: 2}}
	for i := 0; ; i++ {
		page, err := f.svc.Runs(f.ctx, q)
		wantErr(t, err, "")
		for _, r := range page.Items {
			seen = append(seen, r.ID)
		}
		if i == 0 {
			f.run("run-f", "orders", metadata.StatusSucceeded, day(24), nil)
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if strings.Join(seen, ",") != "run-e,run-d,run-c,run-b,run-a" {
		t.Fatalf("paged through %v", seen)
	}
}

// TestRunDetail: a run with its tasks; a run the scheduler queued and
// that has no record yet; an unknown run.
func TestRunDetail(t *testing.T) {
	f := runsFixture(t)
	d, err := f.svc.Run(f.ctx, "run-a")
	wantErr(t, err, "")
	if d.ID != "run-a" || d.Status != metadata.StatusSucceeded || d.DurationSeconds == nil || *d.DurationSeconds != 60 ||
		d.LogicalDate != nil || d.RowsLoaded != 9 || d.Metrics == nil || len(d.Tasks) != 1 || d.Tasks[0].Task != "load part-0.csv" ||
		d.Tasks[0].RowsIn != 10 || !strings.Contains(string(d.Tasks[0].Detail), "quality_score") {
		t.Fatalf("run %+v", d)
	}
	running, err := f.svc.Run(f.ctx, "run-e")
	wantErr(t, err, "")
	if running.EndedAt != nil || running.DurationSeconds != nil || len(running.Tasks) != 0 {
		t.Fatalf("a running run %+v", running)
	}

	_, err = f.svc.Run(f.ctx, "run-queued")
	wantErr(t, err, "not found")
	f.svc.Queued = func(id string) (RunView, bool) {
		return RunView{ID: id, Pipeline: "orders", Status: metadata.StatusQueued}, id == "run-queued"
	}
	q, err := f.svc.Run(f.ctx, "run-queued")
	wantErr(t, err, "")
	if q.Status != metadata.StatusQueued || q.Tasks == nil {
		t.Fatalf("a queued run %+v", q)
	}
	_, err = f.svc.Run(f.ctx, "run-nope")
	wantErr(t, err, "not found")
}

// TestDeadRunsReadFailed: a run whose process stopped heartbeating for
// longer than its lease reads failed, with why, from the next read on.
func TestDeadRunsReadFailed(t *testing.T) {
	f := newFixture(t, nil)
	f.must(f.store.CreateRun(f.ctx, metadata.Run{ID: "run-ghost", Pipeline: "orders", StartedAt: day(20),
		Owner: "elsewhere/1/ghost", Lease: time.Millisecond}))
	time.Sleep(20 * time.Millisecond)
	page, err := f.svc.Runs(f.ctx, RunQuery{})
	wantErr(t, err, "")
	if len(page.Items) != 1 || page.Items[0].Status != metadata.StatusFailed || !strings.HasPrefix(page.Items[0].Error, "abandoned:") {
		t.Fatalf("a dead process's run reads %+v", page.Items)
	}
}

// TestTriggerRun: parameters are checked as the run reads them before
// the run is started; without a scheduler nothing can start.
func TestTriggerRun(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pipeline string
		params   map[string]string
		want     string
	}{
		{"a declared parameter of its type", "events", map[string]string{"min_id": "5"}, ""},
		{"a parameter not of its type", "events", map[string]string{"min_id": "1 OR 1=1"}, "field:parameters.min_id"},
		{"a declared parameter missing", "events", nil, "field:parameters.min_id"},
		{"a parameter the source does not declare", "events", map[string]string{"min_id": "5", "region": "eu"}, "field:parameters.region"},
		{"a parameter name that is no name", "events", map[string]string{"min id": "5"}, "field:parameters"},
		{"a path segment", "daily", map[string]string{"folder": "2026-11-20"}, ""},
		{"a path that climbs", "daily", map[string]string{"folder": ".."}, "field:parameters.folder"},
		{"no parameters", "orders", nil, ""},
		{"an unknown pipeline", "nope", nil, "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			id, err := f.svc.TriggerRun(f.ctx, tc.pipeline, tc.params)
			wantErr(t, err, tc.want)
			if tc.want == "" && (id != "run-triggered-"+tc.pipeline || len(f.trigger) != 1) {
				t.Fatalf("run %q, triggered %v", id, f.trigger)
			}
			if tc.want != "" && len(f.trigger) != 0 {
				t.Fatalf("a refused trigger started %v", f.trigger)
			}
		})
	}
	f := newFixture(t, nil)
	f.svc.Trigger = nil
	_, err := f.svc.TriggerRun(f.ctx, "orders", nil)
	wantErr(t, err, "unavailable")
}

// TestRunCursors: a run's place in the order survives its token, with or
// without a start time.
func TestRunCursors(t *testing.T) {
	for _, c := range []metadata.RunCursor{{StartedAt: day(20).Add(123 * time.Microsecond), ID: "run-1"}, {ID: "run-2"}} {
		got, ok := parseCursor(cursorText(c))
		if !ok || got.ID != c.ID || !got.StartedAt.Equal(c.StartedAt) {
			t.Fatalf("cursor %+v came back as %+v", c, got)
		}
	}
	for _, bad := range []string{"", "12", "x:run", "12:"} {
		if _, ok := parseCursor(bad); ok {
			t.Fatalf("%q read as a cursor", bad)
		}
	}
	if orList([]string{"a"}) != "a" || orList([]string{"a", "b", "c"}) != "a, b or c" {
		t.Fatal("orList")
	}
}
