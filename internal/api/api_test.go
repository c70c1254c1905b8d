package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/testutil"
)

// env is an API over a real metadata store, with a key per role.
type env struct {
	t       *testing.T
	dir     string // the project's folder, which holds a SQLite store
	srv     *httptest.Server
	api     *Server
	store   metadata.Store
	keys    map[service.Role]string
	trigger []string // pipelines triggered
}

const projectConfig = `project: api
api:
  cors_origins: [https://ui.example.com]
  max_body_bytes: 2048
pipelines:
  orders:
    source: files
    mode: merge
    key: [id]
    schedule: "0 2 * * *"
  events:
    source: db
  items:
    source: feed
`

const projectRules = `pipelines:
  orders:
    rules:
      - expectation: expect_column_values_to_not_be_null
        kwargs: {column: id}
`

// newEnv opens a project and a metadata store of kind (sqlite or
// postgres), seeds runs, tasks and actions, and serves the API.
func newEnv(t *testing.T, kind string, cfg func(*config.API)) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml": projectConfig,
		"sources.yaml": "sources:\n  files:\n    type: file\n    path: data/*.csv\n    schema: schema.json\n" +
			"  db:\n    type: postgres\n    dsn: postgres://shp:hunter2@db.example.com/app\n    table: events\n" +
			"  feed:\n    type: api\n    url: https://ana:hunter3@api.example.com/v1/items?api_key=hunter4\n",
		"schema.json":        `[{"name":"id","type":"INTEGER"},{"name":"region","type":"STRING"}]`,
		"quality_rules.yaml": projectRules,
		"self_healing.yaml":  "auto_approve: [quarantine_duplicates]\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "meta.db")
	if kind == metadata.KindPostgres {
		target = testutil.PostgresDSN(t)
	}
	store, err := metadata.Open(ctx, kind, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, dir: dir, store: store, keys: map[service.Role]string{}}
	svc := &service.Service{Project: p, Store: store, Trigger: func(_ context.Context, pipeline string, params map[string]string) (string, error) {
		e.trigger = append(e.trigger, pipeline+fmt.Sprint(params))
		return "run-triggered-" + pipeline, nil
	}}
	for _, r := range []service.Role{service.Viewer, service.Operator, service.Admin} {
		key, _, err := svc.CreateKey(ctx, "test "+string(r), r, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.keys[r] = key
	}
	apiCfg := p.Config.API
	apiCfg.RateLimit = 0
	if cfg != nil {
		cfg(&apiCfg)
	}
	e.api = &Server{Service: svc, Config: apiCfg, Ready: func(ctx context.Context) error {
		_, err := store.ListPipelines(ctx)
		return err
	}}
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	e.seed()
	return e
}

// seed records three runs of orders (the last with a validation) and a
// few actions.
func (e *env) seed() {
	ctx := context.Background()
	start := time.Date(2026, 11, 20, 2, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		id := fmt.Sprintf("run-%d", i)
		at := start.Add(time.Duration(i) * 24 * time.Hour)
		must(e.t, e.store.CreateRun(ctx, metadata.Run{ID: id, Pipeline: "orders", StartedAt: at, Trigger: "scheduled"}))
		res := `{"success": false, "statistics": {"evaluated_expectations": 1}, "results": [{"success": ` + fmt.Sprint(i != 1) +
			`, "expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}, "result": {}}]}`
		must(e.t, e.store.RecordTask(ctx, metadata.TaskAttempt{RunID: id, Task: "load day.csv", Attempt: 1, Status: "succeeded", StartedAt: at,
			EndedAt: at.Add(time.Second), RowsIn: 10, RowsLoaded: 10, Detail: `{"quality_score": 90, "validation": ` + res + `}`}))
		must(e.t, e.store.FinishRun(ctx, metadata.Run{ID: id, Status: "succeeded", EndedAt: at.Add(time.Minute), RowsIn: 10, RowsLoaded: 10,
			InvariantOK: true, Metrics: map[string]float64{"quality_score": 90 + float64(i)}}))
	}
	for i := 0; i < 7; i++ {
		status := "applied"
		if i%2 == 1 {
			status = "proposed"
		}
		_, err := e.store.RecordAction(ctx, metadata.HealingAction{RunID: "run-2", Pipeline: "orders", ObjectKey: "day.csv", Strategy: "normalize_to_value_set",
			Status: status, Issue: "rule expect_column_values_to_be_in_set(region) failed", Category: "value_set_drift", Confidence: 0.95, Params: "{}", Before: "[]", After: "[]"})
		must(e.t, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// do sends a request with a key (none when key is "") and returns the
// status and body; an answer that breaks the contract fails the test
// (checkContract).
func (e *env) do(method, path, key string, body any) (int, http.Header, []byte) {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	checkContract(e.t, req, resp.StatusCode, resp.Header, out)
	return resp.StatusCode, resp.Header, out
}

// get decodes a 200 answer.
func (e *env) get(path string, role service.Role, v any) {
	e.t.Helper()
	code, _, body := e.do("GET", path, e.keys[role], nil)
	if code != http.StatusOK {
		e.t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		e.t.Fatalf("GET %s: %v: %s", path, err, body)
	}
}

// problem decodes a problem answer and checks its status and type.
func (e *env) problem(code int, h http.Header, body []byte, wantCode int, wantType string) Problem {
	e.t.Helper()
	var p Problem
	if code != wantCode || h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil || p.Type != ProblemBase+wantType || p.Status != wantCode {
		e.t.Fatalf("want %d %s, got %d %s %s", wantCode, wantType, code, h.Get("Content-Type"), body)
	}
	return p
}

// forEachStore runs a test against both metadata stores.
func forEachStore(t *testing.T, test func(t *testing.T, kind string)) {
	for _, kind := range []string{metadata.KindSQLite, metadata.KindPostgres} {
		t.Run(kind, func(t *testing.T) { test(t, kind) })
	}
}

func TestReadEndpoints(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		var health, ready map[string]string
		e.get("/healthz", "", &health)
		e.get("/readyz", "", &ready)
		if health["status"] != "ok" || ready["status"] != "ready" {
			t.Fatalf("health %v ready %v", health, ready)
		}

		if code, _, body := e.do("GET", "/api/v1/pipelines", e.keys[service.Viewer], nil); code != 200 || strings.Contains(string(body), "hunter") ||
			!strings.Contains(string(body), `"url":"https://api.example.com/v1/items"`) {
			t.Fatalf("pipelines show the password in a source's DSN: %d %s", code, body)
		}
		var pipelines service.Page[service.PipelineView]
		e.get("/api/v1/pipelines", service.Viewer, &pipelines)
		if ev := pipelines.Items[0]; ev.Source.Type != "postgres" || ev.Source.Config["table"] != "events" {
			t.Fatalf("a database source: %+v", ev.Source)
		}
		if len(pipelines.Items) != 3 || pipelines.Items[0].ID != "events" || pipelines.Items[2].ID != "orders" {
			t.Fatalf("pipelines %+v", pipelines)
		}
		var pp1, pp2, byType service.Page[service.PipelineView]
		e.get("/api/v1/pipelines?page_size=2", service.Viewer, &pp1)
		e.get("/api/v1/pipelines?page_size=2&page_token="+pp1.NextPageToken, service.Viewer, &pp2)
		if len(pp1.Items) != 2 || pp1.NextPageToken == "" || len(pp2.Items) != 1 || pp2.Items[0].ID != "orders" || pp2.NextPageToken != "" {
			t.Fatalf("pipeline pages %+v then %+v", pp1, pp2)
		}
		e.get("/api/v1/pipelines?source_type=postgres&status=active", service.Viewer, &byType)
		if len(byType.Items) != 1 || byType.Items[0].ID != "events" {
			t.Fatalf("pipelines by source type: %+v", byType)
		}
		code, h, body := e.do("GET", "/api/v1/pipelines?status=sleeping", e.keys[service.Viewer], nil)
		e.problem(code, h, body, 400, ProblemInvalid)
		var p service.PipelineView
		e.get("/api/v1/pipelines/orders", service.Viewer, &p)
		if p.Status != "active" || p.Source.Type != "file" || p.Source.Config["path"] != "data/*.csv" || p.Destination.Config["table"] != "orders" ||
			p.Destination.Type != "duckdb" || p.Schedule != "0 2 * * *" || len(p.Quality.Rules) != 1 || p.Quality.Rules[0] != "expect_column_values_to_not_be_null(id)" ||
			p.Quality.Score == nil || *p.Quality.Score != 92 || p.LastRun == nil || p.LastRun.ID != "run-2" || p.LastRun.RecordsProcessed != 10 {
			t.Fatalf("pipeline %+v", p)
		}

		var runs service.Page[service.RunView]
		e.get("/api/v1/pipelines/orders/runs", service.Viewer, &runs)
		if len(runs.Items) != 3 || runs.Items[0].ID != "run-2" || runs.Items[0].DurationSeconds == nil || *runs.Items[0].DurationSeconds != 60 {
			t.Fatalf("runs %+v", runs)
		}
		e.get("/api/v1/runs?since=2026-11-21T00:00:00Z&until=2026-11-22T00:00:00Z", service.Viewer, &runs)
		if len(runs.Items) != 1 || runs.Items[0].ID != "run-1" {
			t.Fatalf("runs in a range %+v", runs)
		}
		var run service.RunDetail
		e.get("/api/v1/runs/run-1", service.Viewer, &run)
		if run.Status != "succeeded" || len(run.Tasks) != 1 || run.Tasks[0].Task != "load day.csv" || !strings.Contains(string(run.Tasks[0].Detail), "validation") {
			t.Fatalf("run %+v", run)
		}

		var metrics service.QualityMetrics
		e.get("/api/v1/quality/metrics?pipeline=orders", service.Viewer, &metrics)
		if len(metrics.Scores) != 3 || metrics.Scores[0].RunID != "run-0" || len(metrics.Rules) != 1 || metrics.Rules[0].Evaluated != 3 ||
			metrics.Rules[0].Passed != 2 || *metrics.Summary.LastScore != 92 || len(metrics.Rules[0].Runs) != 3 ||
			metrics.Rules[0].Runs[1].RunID != "run-1" || metrics.Rules[0].Runs[1].Passed != 0 || metrics.Rules[0].Runs[2].Passed != 1 {
			t.Fatalf("metrics %+v", metrics)
		}
		var vals service.Page[service.Validation]
		e.get("/api/v1/quality/validations?pipeline=orders", service.Viewer, &vals)
		if len(vals.Items) != 3 || vals.Items[0].RunID != "run-2" || !strings.Contains(string(vals.Items[0].Result), `"expectation_config"`) {
			t.Fatalf("validations %+v", vals)
		}
		var rules RulesResponse
		e.get("/api/v1/quality/rules", service.Viewer, &rules)
		if len(rules.Items) != 3 || rules.Items[2].Pipeline != "orders" || rules.Items[2].Rules[0].Origin != "config" {
			t.Fatalf("rules %+v", rules)
		}

		var actions service.Page[service.ActionView]
		e.get("/api/v1/healing/actions?status=proposed&pipeline=orders&category=value_set_drift", service.Viewer, &actions)
		if len(actions.Items) != 3 || actions.Items[0].Status != "proposed" {
			t.Fatalf("actions %+v", actions)
		}
		var action service.ActionView
		e.get(fmt.Sprintf("/api/v1/healing/actions/%d", actions.Items[0].ID), service.Viewer, &action)
		if action.ID != actions.Items[0].ID || action.Strategy != "normalize_to_value_set" {
			t.Fatalf("action %+v", action)
		}
		var strategies service.Page[service.StrategyView]
		e.get("/api/v1/healing/strategies", service.Viewer, &strategies)
		found := false
		for _, s := range strategies.Items {
			found = found || s.Name == "quarantine_duplicates" && s.AutoApproved && s.Stage == "rule"
		}
		if !found || len(strategies.Items) < 10 {
			t.Fatalf("strategies %+v", strategies)
		}
		var models service.Page[service.ModelView]
		e.get("/api/v1/healing/models", service.Viewer, &models)
		if models.Items == nil {
			t.Fatal("models: want an empty list, got null")
		}
		if code, _, body := e.do("GET", "/api/v1/lineage", e.keys[service.Viewer], nil); code != 200 || strings.Contains(string(body), "hunter") {
			t.Fatalf("lineage shows a credential: %d %s", code, body)
		}
		var lineage service.Page[service.LineageEntry]
		e.get("/api/v1/lineage", service.Viewer, &lineage)
		if len(lineage.Items) != 3 || lineage.Items[2].Table.Name != "main.orders" || lineage.Items[2].Pipeline != "orders" {
			t.Fatalf("lineage %+v", lineage)
		}
		code, h, body = e.do("GET", "/api/v1/pipelines/nope", e.keys[service.Viewer], nil)
		e.problem(code, h, body, 404, ProblemNotFound)
		code, h, body = e.do("GET", "/api/v1/runs/nope", e.keys[service.Viewer], nil)
		e.problem(code, h, body, 404, ProblemNotFound)
		code, h, body = e.do("GET", "/api/v1/nowhere", e.keys[service.Viewer], nil)
		e.problem(code, h, body, 404, ProblemNotFound)
		code, h, body = e.do("DELETE", "/api/v1/pipelines/orders", e.keys[service.Viewer], nil)
		e.problem(code, h, body, 405, ProblemMethod)
		if h.Get("Allow") != "GET" {
			t.Errorf("Allow %q, want GET", h.Get("Allow"))
		}
	})
}

func TestWrites(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		op, admin := e.keys[service.Operator], e.keys[service.Admin]

		code, h, body := e.do("POST", "/api/v1/pipelines/orders/run", op, map[string]any{"parameters": map[string]string{"day": "2026-11-27"}})
		var tr TriggerResponse
		if code != 202 || json.Unmarshal(body, &tr) != nil || tr.RunID != "run-triggered-orders" || h.Get("Location") != "/api/v1/runs/run-triggered-orders" ||
			len(e.trigger) != 1 || e.trigger[0] != "ordersmap[day:2026-11-27]" {
			t.Fatalf("trigger: %d %s %v", code, body, e.trigger)
		}
		if code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", op, nil); code != 202 {
			t.Fatalf("trigger without a body: %d %s", code, body)
		}
		// Until the run starts, it reads as queued.
		e.api.Service.Queued = func(id string) (service.RunView, bool) {
			return service.RunView{ID: id, Pipeline: "orders", Status: "queued"}, id == tr.RunID
		}
		var queued service.RunDetail
		e.get("/api/v1/runs/"+tr.RunID, service.Viewer, &queued)
		if queued.Status != "queued" || queued.Tasks == nil {
			t.Fatalf("queued run %+v", queued)
		}
		code, h, body = e.do("POST", "/api/v1/pipelines/nope/run", op, nil)
		e.problem(code, h, body, 404, ProblemNotFound)
		for _, v := range []string{"x'; DROP TABLE t; --", "evil.example.com/x?y=1", "a b"} {
			code, h, body = e.do("POST", "/api/v1/pipelines/orders/run", op, map[string]any{"parameters": map[string]string{"day": v}})
			if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "parameters.day" {
				t.Errorf("parameter %q: %+v", v, p)
			}
		}

		var proposed service.Page[service.ActionView]
		e.get("/api/v1/healing/actions?status=proposed", service.Viewer, &proposed)
		id := proposed.Items[0].ID
		code, _, body = e.do("POST", "/api/v1/healing/approve", op, DecisionRequest{ActionID: id, Decision: "approve", Reason: "looks right"})
		var decided service.ActionView
		if code != 200 || json.Unmarshal(body, &decided) != nil || decided.Status != "approved" || !strings.HasPrefix(decided.ApprovedBy, "key:") {
			t.Fatalf("approve: %d %s", code, body)
		}
		code, h, body = e.do("POST", "/api/v1/healing/approve", op, DecisionRequest{ActionID: id, Decision: "approve"})
		e.problem(code, h, body, 409, ProblemConflict)
		code, h, body = e.do("POST", "/api/v1/healing/approve", op, DecisionRequest{ActionID: proposed.Items[1].ID, Decision: "reject"})
		if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "reason" {
			t.Fatalf("rejection without a reason: %+v", p)
		}
		code, _, body = e.do("POST", "/api/v1/healing/approve", op, DecisionRequest{ActionID: proposed.Items[1].ID, Decision: "reject", Reason: "wrong", Category: "config_error"})
		if code != 200 || !strings.Contains(string(body), `"status":"rejected"`) {
			t.Fatalf("reject: %d %s", code, body)
		}
		if ex, _ := e.store.ListExamples(context.Background()); len(ex) != 2 {
			t.Fatalf("decisions teach the model: %d examples, want 2", len(ex))
		}
		// A revert needs a warehouse, which this process has not.
		var applied service.Page[service.ActionView]
		e.get("/api/v1/healing/actions?status=applied", service.Viewer, &applied)
		code, h, body = e.do("POST", fmt.Sprintf("/api/v1/healing/actions/%d/revert", applied.Items[0].ID), op, RevertRequest{Reason: "wrong"})
		e.problem(code, h, body, 503, ProblemUnavailable)
		code, h, body = e.do("POST", "/api/v1/healing/actions/x/revert", op, RevertRequest{Reason: "wrong"})
		e.problem(code, h, body, 400, ProblemInvalid)

		rule := map[string]any{"pipeline": "orders", "rule": map[string]any{"expectation": "expect_column_values_to_be_in_set",
			"kwargs": map[string]any{"column": "region", "value_set": []string{"EMEA", "APAC"}}, "action": "quarantine"}}
		code, _, body = e.do("POST", "/api/v1/quality/rules", admin, rule)
		var added PipelineRules
		if code != 201 || json.Unmarshal(body, &added) != nil || len(added.Rules) != 1 || added.Rules[0].ID == 0 || added.Rules[0].Origin != "stored" {
			t.Fatalf("add rule: %d %s", code, body)
		}
		var rules RulesResponse
		e.get("/api/v1/quality/rules?pipeline=orders", service.Viewer, &rules)
		if len(rules.Items[0].Rules) != 2 || rules.Items[0].Rules[1].Name != "expect_column_values_to_be_in_set(region)" {
			t.Fatalf("rules after adding: %+v", rules)
		}
		suite := `{"pipeline": "orders", "suite": {"name": "orders.basic", "expectations": [
			{"type": "expect_column_values_to_be_between", "kwargs": {"column": "id", "min_value": 1}, "meta": {"severity": "warning"}},
			{"expectation_type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "region", "max_value": 8}}]}}`
		code, _, body = e.do("POST", "/api/v1/quality/rules", admin, suite)
		if code != 201 || json.Unmarshal(body, &added) != nil || len(added.Rules) != 2 || added.Rules[0].Severity != "warning" {
			t.Fatalf("add a suite: %d %s", code, body)
		}
		code, h, body = e.do("POST", "/api/v1/quality/rules", admin, `{"pipeline": "orders", "suite": {"expectations": [{"kwargs": {}}]}}`)
		if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "suite" {
			t.Fatalf("a suite without types: %+v", p)
		}
		e.get("/api/v1/quality/rules?pipeline=orders", service.Viewer, &rules)
		for _, tc := range []struct {
			body  any
			field string
		}{
			{map[string]any{"pipeline": "orders", "rule": map[string]any{"expectation": "expect_rows_to_satisfy_sql", "kwargs": map[string]any{"predicate": "1=1"}}}, "rule.expectation"},
			{map[string]any{"rule": map[string]any{"expectation": "expect_column_values_to_not_be_null"}}, "pipeline"},
			{map[string]any{"pipeline": "orders"}, "rule"},
			{map[string]any{"pipeline": "orders", "rule": map[string]any{"expectation": "expect_miracles"}}, "rule"},
			{map[string]any{"pipeline": "orders", "rule": map[string]any{"expectation": "expect_column_values_to_not_be_null", "kwargs": map[string]any{"column": "nope"}}}, "rule.kwargs"},
			{map[string]any{"pipeline": "orders", "rules": []any{map[string]any{"expectation": "expect_column_values_to_not_be_null", "kwargs": map[string]any{"column": "id"}},
				map[string]any{"expectation": "expect_column_values_to_be_in_set", "kwargs": map[string]any{"column": "id"}}}}, "rules[1].kwargs"},
		} {
			code, h, body := e.do("POST", "/api/v1/quality/rules", admin, tc.body)
			if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != tc.field {
				t.Errorf("%v: field %q, want %q (%s)", tc.body, p.Field, tc.field, p.Detail)
			}
		}
		e.get("/api/v1/quality/rules?pipeline=orders", service.Viewer, &rules)
		if len(rules.Items[0].Rules) != 4 {
			t.Fatalf("a refused suite stored some of its rules: %+v", rules)
		}
		// Python's json module writes NaN and the infinities as bare tokens;
		// they are read as numbers, outside strings only, and stored.
		for _, tc := range []struct {
			name, body string
			want       []string // in the answer, and in the listing after
		}{
			{"suite", `{"pipeline": "orders", "suite": {"name": "py", "expectations": [
				{"type": "expect_column_values_to_be_between", "kwargs": {"column": "id", "min_value": -Infinity, "max_value": Infinity}},
				{"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region", "value_set": ["NaN", NaN, "x -Infinity"]}}]}}`,
				[]string{`"max_value":{"$numberDouble":"Infinity"},"min_value":{"$numberDouble":"-Infinity"}`, `"value_set":["NaN",{"$numberDouble":"NaN"},"x -Infinity"]`}},
			{"rule", `{"pipeline":"orders","rule":{"expectation":"expect_column_values_to_be_between","kwargs":{"column":"id","min_value":-Infinity,"max_value":10}}}`,
				[]string{`"max_value":10,"min_value":{"$numberDouble":"-Infinity"}`}},
		} {
			code, _, body = e.do("POST", "/api/v1/quality/rules", admin, tc.body)
			if code != 201 {
				t.Fatalf("%s with NaN and infinities: %d %s", tc.name, code, body)
			}
			_, _, listing := e.do("GET", "/api/v1/quality/rules?pipeline=orders", e.keys[service.Viewer], nil)
			for _, w := range tc.want {
				if !strings.Contains(string(body), w) || !strings.Contains(string(listing), w) {
					t.Errorf("%s: answer or listing lacks %s:\n%s\n%s", tc.name, w, body, listing)
				}
			}
		}
		for _, bad := range []struct{ body, at string }{
			{`{"pipeline": "orders", "suite": {"expectations": [{"type": "t", "kwargs": {"a": NaN, "b": NaNx}}]}}`, "NaNx"},
			{`{"pipeline": "orders", "suite": {"expectations": [{"type": "t", "kwargs": {"a": -Infinity, "b": Infinityy}}]}}`, "Infinityy"},
		} {
			code, h, body = e.do("POST", "/api/v1/quality/rules", admin, bad.body)
			// The offset counts the bytes read, the bad token's first one included.
			want := fmt.Sprintf("not JSON at byte %d:", strings.Index(bad.body, bad.at)+1)
			if p := e.problem(code, h, body, 400, ProblemMalformed); !strings.Contains(p.Detail, want) {
				t.Errorf("%s: %s, want %q", bad.body, p.Detail, want)
			}
		}

		// Keys: created once, listed without secrets, revoked.
		code, _, body = e.do("POST", "/api/v1/apikeys", admin, CreateKeyRequest{Name: "ci", Role: "viewer", ExpiresIn: "24h"})
		var created CreateKeyResponse
		if code != 201 || json.Unmarshal(body, &created) != nil || !strings.HasPrefix(created.Key, "shp_") || created.APIKey.ExpiresAt == nil {
			t.Fatalf("create key: %d %s", code, body)
		}
		code, _, body = e.do("GET", "/api/v1/apikeys", admin, nil)
		if code != 200 || strings.Contains(string(body), created.Key) || strings.Contains(string(body), strings.SplitN(created.Key, "_", 3)[2]) {
			t.Fatalf("key list shows a secret: %s", body)
		}
		if code, _, _ := e.do("GET", "/api/v1/pipelines", created.Key, nil); code != 200 {
			t.Fatalf("new key: %d", code)
		}
		if code, _, body := e.do("DELETE", "/api/v1/apikeys/"+created.APIKey.ID, admin, nil); code != 204 {
			t.Fatalf("revoke: %d %s", code, body)
		}
		code, h, body = e.do("GET", "/api/v1/pipelines", created.Key, nil)
		if p := e.problem(code, h, body, 401, ProblemUnauthorized); !strings.Contains(p.Detail, "revoked") {
			t.Fatalf("revoked key: %+v", p)
		}
		code, h, body = e.do("DELETE", "/api/v1/apikeys/nope", admin, nil)
		e.problem(code, h, body, 404, ProblemNotFound)

		if code, _, _ := e.do("POST", "/api/v1/healing/approve", "", nil); code != 401 {
			t.Fatalf("an anonymous write: %d", code)
		}
		var page service.Page[service.AuditView]
		e.get("/api/v1/audit?limit=2&anonymous=include", service.Admin, &page)
		if len(page.Items) != 2 || page.Items[0].Principal != "anonymous" || page.Items[0].Status != 401 || page.Items[0].Reason != "no credentials" ||
			page.Items[0].Count != 1 || page.Items[1].Method != "DELETE" {
			t.Fatalf("audit through the API: %+v", page)
		}
		// By default the listing is of authenticated callers.
		e.get("/api/v1/audit?limit=1", service.Admin, &page)
		if len(page.Items) != 1 || page.Items[0].Method != "DELETE" {
			t.Fatalf("audit through the API, authenticated callers: %+v", page)
		}
		if code, _, _ := e.do("GET", "/api/v1/audit", e.keys[service.Operator], nil); code != 403 {
			t.Fatalf("an operator reads the audit log: %d", code)
		}
		audit, err := e.store.ListAudit(context.Background(), 0)
		must(t, err)
		if len(audit) < 10 || audit[len(audit)-1].Path != "/api/v1/pipelines/orders/run" || audit[len(audit)-1].Status != 202 ||
			!strings.HasPrefix(audit[len(audit)-1].Principal, "key:") || audit[len(audit)-1].Remote != "127.0.0.1" {
			t.Fatalf("audit %+v", audit)
		}
	})
}

func TestAuthentication(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	ctx := context.Background()
	expired, _, err := e.api.Service.CreateKey(ctx, "old", service.Admin, time.Nanosecond, "test")
	must(t, err)
	time.Sleep(time.Millisecond)
	for _, tc := range []struct {
		name, key, method, path string
		want                    int
		detail                  string
	}{
		{"no credentials", "", "GET", "/api/v1/pipelines", 401, "send an API key"},
		{"unknown key", "shp_0000000000000000_secret", "GET", "/api/v1/pipelines", 401, "invalid API key"},
		{"wrong secret", e.keys[service.Admin][:len(e.keys[service.Admin])-2] + "xx", "GET", "/api/v1/pipelines", 401, "invalid API key"},
		{"not a key, no issuer", "eyJhbGciOi.x.y", "GET", "/api/v1/pipelines", 401, "invalid API key"},
		{"expired key", expired, "GET", "/api/v1/pipelines", 401, "expired"},
		{"viewer triggers", e.keys[service.Viewer], "POST", "/api/v1/pipelines/orders/run", 403, "needs the operator role"},
		{"operator adds a rule", e.keys[service.Operator], "POST", "/api/v1/quality/rules", 403, "needs the admin role"},
		{"operator lists keys", e.keys[service.Operator], "GET", "/api/v1/apikeys", 403, "needs the admin role"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := e.do(tc.method, tc.path, tc.key, nil)
			kind := ProblemUnauthorized
			if tc.want == 403 {
				kind = ProblemForbidden
			}
			p := e.problem(code, h, body, tc.want, kind)
			if !strings.Contains(p.Detail, tc.detail) {
				t.Errorf("detail %q, want %q", p.Detail, tc.detail)
			}
			if tc.want == 401 && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
				t.Errorf("no WWW-Authenticate: %v", h)
			}
			if tc.key != "" && strings.Contains(string(body), tc.key) {
				t.Errorf("the answer repeats the credential: %s", body)
			}
		})
	}
	// X-API-Key works as well as Authorization.
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/pipelines", nil)
	req.Header.Set("X-API-Key", e.keys[service.Viewer])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("X-API-Key: %d", resp.StatusCode)
	}
	keys, _ := e.store.ListAPIKeys(ctx)
	for _, k := range keys {
		if k.Name == "test viewer" && k.LastUsed.IsZero() {
			t.Errorf("last use not recorded: %+v", k)
		}
	}
}

func TestBadInput(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	op := e.keys[service.Operator]
	for _, tc := range []struct {
		name, method, path string
		body               any
		want               int
		kind, field        string
	}{
		{"malformed JSON", "POST", "/api/v1/healing/approve", `{"action_id": 1,`, 400, ProblemMalformed, ""},
		{"unknown field", "POST", "/api/v1/healing/approve", `{"action_id": 1, "decision": "approve", "colour": "red"}`, 400, ProblemMalformed, ""},
		{"wrong type", "POST", "/api/v1/healing/approve", `{"action_id": "one", "decision": "approve"}`, 400, ProblemInvalid, "action_id"},
		{"two values", "POST", "/api/v1/healing/approve", `{"action_id": 1, "decision": "approve"} {}`, 400, ProblemMalformed, ""},
		{"bad decision", "POST", "/api/v1/healing/approve", `{"action_id": 1, "decision": "maybe"}`, 400, ProblemInvalid, "decision"},
		{"unknown action", "POST", "/api/v1/healing/approve", `{"action_id": 999, "decision": "approve"}`, 404, ProblemNotFound, ""},
		{"oversized body", "POST", "/api/v1/pipelines/orders/run", `{"parameters": {"x": "` + strings.Repeat("a", 4096) + `"}}`, 413, ProblemTooLarge, ""},
		{"page size", "GET", "/api/v1/healing/actions?page_size=0.5", nil, 400, ProblemInvalid, "page_size"},
		{"page size too big", "GET", "/api/v1/healing/actions?page_size=5000", nil, 400, ProblemInvalid, "page_size"},
		{"page token", "GET", "/api/v1/healing/actions?page_token=xyz", nil, 400, ProblemInvalid, "page_token"},
		{"time", "GET", "/api/v1/runs?since=yesterday", nil, 400, ProblemInvalid, "since"},
		{"status", "GET", "/api/v1/healing/actions?status=happy", nil, 400, ProblemInvalid, "status"},
		{"category", "GET", "/api/v1/healing/actions?category=gremlins", nil, 400, ProblemInvalid, "category"},
		{"range", "GET", "/api/v1/quality/metrics?since=2026-11-27T00:00:00Z&until=2026-11-01T00:00:00Z", nil, 400, ProblemInvalid, "since"},
		{"runs range", "GET", "/api/v1/runs?since=2026-11-27T00:00:00Z&until=2026-11-01T00:00:00Z", nil, 400, ProblemInvalid, "since"},
		{"validations range", "GET", "/api/v1/quality/validations?since=2026-11-27T00:00:00Z&until=2026-11-01T00:00:00Z", nil, 400, ProblemInvalid, "since"},
		{"page size zero", "GET", "/api/v1/runs?page_size=0", nil, 400, ProblemInvalid, "page_size"},
		{"page size zero, pipelines", "GET", "/api/v1/pipelines?page_size=0", nil, 400, ProblemInvalid, "page_size"},
		{"repeated filter", "GET", "/api/v1/runs?status=running&status=failed", nil, 400, ProblemInvalid, "status"},
		{"repeated pipeline", "GET", "/api/v1/healing/actions?pipeline=orders&pipeline=events", nil, 400, ProblemInvalid, "pipeline"},
		{"repeated page size", "GET", "/api/v1/pipelines?page_size=1&page_size=500", nil, 400, ProblemInvalid, "page_size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, h, body := e.do(tc.method, tc.path, op, tc.body)
			p := e.problem(code, h, body, tc.want, tc.kind)
			if p.Field != tc.field {
				t.Errorf("field %q, want %q: %s", p.Field, tc.field, body)
			}
			if strings.Contains(string(body), "goroutine") || strings.Contains(string(body), ".go:") {
				t.Errorf("a stack trace in the answer: %s", body)
			}
		})
	}
}

func TestPagination(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		seen := map[int64]bool{}
		path := "/api/v1/healing/actions?page_size=3"
		pages := 0
		for {
			var page service.Page[service.ActionView]
			e.get(path, service.Viewer, &page)
			pages++
			for _, a := range page.Items {
				if seen[a.ID] {
					t.Fatalf("action %d on two pages", a.ID)
				}
				seen[a.ID] = true
			}
			if page.NextPageToken == "" {
				break
			}
			path = "/api/v1/healing/actions?page_size=3&page_token=" + page.NextPageToken
		}
		if pages != 3 || len(seen) != 7 {
			t.Fatalf("%d pages, %d actions; want 3 and 7", pages, len(seen))
		}
		var first, runs service.Page[service.RunView]
		e.get("/api/v1/runs?page_size=2", service.Viewer, &first)
		// A run that starts between two pages shifts nothing.
		must(t, e.store.CreateRun(context.Background(), metadata.Run{ID: "run-new", Pipeline: "orders", StartedAt: time.Now()}))
		e.get("/api/v1/runs?page_size=2&page_token="+first.NextPageToken, service.Viewer, &runs)
		if len(first.Items) != 2 || first.Items[0].ID != "run-2" || len(runs.Items) != 1 || runs.NextPageToken != "" || runs.Items[0].ID != "run-0" {
			t.Fatalf("run pages %+v then %+v", first, runs)
		}
		// Validations page by run and by result within a run.
		ctx := context.Background()
		at := time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)
		must(t, e.store.CreateRun(ctx, metadata.Run{ID: "run-3", Pipeline: "orders", StartedAt: at}))
		for _, obj := range []string{"a.csv", "b.csv"} {
			must(t, e.store.RecordTask(ctx, metadata.TaskAttempt{RunID: "run-3", Task: "load " + obj, Attempt: 1, Status: "succeeded", StartedAt: at,
				EndedAt: at, Detail: `{"quality_score": 100, "validation": {"success": true, "results": []}}`}))
		}
		var got []string
		path = "/api/v1/quality/validations?pipeline=orders&page_size=1"
		for i := 0; i < 10; i++ {
			var vp service.Page[service.Validation]
			e.get(path, service.Viewer, &vp)
			for _, v := range vp.Items {
				got = append(got, v.RunID+"/"+v.Object)
			}
			if vp.NextPageToken == "" {
				break
			}
			path = "/api/v1/quality/validations?pipeline=orders&page_size=1&page_token=" + vp.NextPageToken
		}
		if strings.Join(got, ",") != "run-3/a.csv,run-3/b.csv,run-2/day.csv,run-1/day.csv,run-0/day.csv" {
			t.Fatalf("validation pages: %v", got)
		}
		// A token of one listing is no token of another.
		code, h, body := e.do("GET", "/api/v1/healing/actions?page_token="+first.NextPageToken, e.keys[service.Viewer], nil)
		e.problem(code, h, body, 400, ProblemInvalid)
	})
}

func TestRateLimitCORSAndMetrics(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, func(c *config.API) { c.RateLimit, c.RateBurst = 0.5, 2 })
	v := e.keys[service.Viewer]
	for i := 0; i < 2; i++ {
		if code, _, body := e.do("GET", "/api/v1/pipelines", v, nil); code != 200 {
			t.Fatalf("request %d: %d %s", i, code, body)
		}
	}
	code, h, body := e.do("GET", "/api/v1/pipelines", v, nil)
	e.problem(code, h, body, 429, ProblemRateLimited)
	if h.Get("Retry-After") != "2" {
		t.Errorf("Retry-After %q, want 2", h.Get("Retry-After"))
	}
	// Another caller has its own budget.
	if code, _, _ := e.do("GET", "/api/v1/pipelines", e.keys[service.Admin], nil); code != 200 {
		t.Fatalf("another key: %d", code)
	}

	pre := func(origin string) *http.Response {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+"/api/v1/pipelines", nil)
		req.Header.Set("Origin", origin)
		req.Header.Set("Access-Control-Request-Method", "GET")
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		resp.Body.Close()
		return resp
	}
	if r := pre("https://ui.example.com"); r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://ui.example.com" ||
		!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Fatalf("preflight: %d %v", r.StatusCode, r.Header)
	}
	if r := pre("https://evil.example.com"); r.StatusCode != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight from another origin: %d %v", r.StatusCode, r.Header)
	}

	resp, err := http.Get(e.srv.URL + "/metrics")
	must(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `shp_api_requests_total{code="429",method="GET",route="/api/v1/pipelines"} 1`) {
		t.Fatalf("metrics:\n%s", b)
	}
}

func TestReadyzWhenTheStoreIsGone(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.store.Close()
	code, h, body := e.do("GET", "/readyz", "", nil)
	e.problem(code, h, body, 503, ProblemUnavailable)
}

// TestFailedAuthenticationsAreLimited: after a burst of bad keys from one
// address, that address waits before the store is asked again.
func TestFailedAuthenticationsAreLimited(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	var codes []int
	for i := 0; i < failureBurst+2; i++ {
		code, h, _ := e.do("GET", "/api/v1/pipelines", fmt.Sprintf("shp_%016d_guess", i), nil)
		codes = append(codes, code)
		if code == 429 && h.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
	}
	if codes[0] != 401 || codes[failureBurst-1] != 401 || codes[failureBurst+1] != 429 {
		t.Fatalf("codes %v: want %d times 401, then 429", codes, failureBurst)
	}
}
