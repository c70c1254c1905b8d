package web

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/warehouse"

	// The project reads from a database and an HTTP API into DuckDB, whose
	// specs the configuration is checked against (DuckDB's without linking
	// it).
	_ "github.com/shp-dev/shp/internal/source/apisource"
	_ "github.com/shp-dev/shp/internal/source/sqlsource"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)

// The test project: orders (files, merge on id, a schedule, a rule),
// events (a database) and items (an HTTP API, never run).
const projectConfig = `project: web
pipelines:
  orders:
    description: Orders from the shop
    source: files
    mode: merge
    key: [id]
    schedule: "0 2 * * *"
  events:
    source: db
  items:
    source: feed
`

var projectFiles = map[string]string{
	"config.yaml": projectConfig,
	"sources.yaml": "sources:\n  files:\n    type: file\n    path: data/*.csv\n    schema: schema.json\n" +
		"  db:\n    type: postgres\n    dsn: postgres://shp:hunter2@db.example.com/app\n    table: events\n" +
		"  feed:\n    type: api\n    url: https://api.example.com/v1/items\n",
	"schema.json": `[{"name":"id","type":"INTEGER"},{"name":"region","type":"STRING"},{"name":"amount","type":"FLOAT"}]`,
	"quality_rules.yaml": `pipelines:
  orders:
    rules:
      - expectation: expect_column_values_to_not_be_null
        kwargs: {column: id}
      - expectation: expect_column_values_to_be_in_set
        kwargs: {column: region, value_set: [EU, US]}
`,
	"self_healing.yaml": "auto_approve: [quarantine_duplicates]\n",
}

// fakeWarehouse serves quarantined rows and reverts; every other method
// of the interface is nil (and panics if called).
type fakeWarehouse struct {
	warehouse.Warehouse
	mu      sync.Mutex
	rows    map[string][][]any // by run id: source_object, line, reason, raw, state
	asked   []string           // "run|target" of each QuarantinedRows
	reverts []warehouse.RevertSpec
	err     error
}

func (w *fakeWarehouse) QuarantinedRows(_ context.Context, runID, target string) (warehouse.Rows, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.asked = append(w.asked, runID+"|"+target)
	if w.err != nil {
		return nil, w.err
	}
	return &fakeRows{rows: w.rows[runID]}, nil
}

func (w *fakeWarehouse) RevertRepair(_ context.Context, spec warehouse.RevertSpec) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reverts = append(w.reverts, spec)
	return 3, nil
}

// fakeRows are rows of a query, as database/sql scans them into *any.
type fakeRows struct {
	rows   [][]any
	i      int
	closed bool
}

func (r *fakeRows) Next() bool {
	if r.closed || r.i >= len(r.rows) {
		return false
	}
	r.i++
	return true
}

func (r *fakeRows) Scan(dest ...any) error {
	row := r.rows[r.i-1]
	if len(dest) != len(row) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(row))
	}
	for i, d := range dest {
		p, ok := d.(*any)
		if !ok {
			return fmt.Errorf("scan: destination %d is %T", i, d)
		}
		*p = row[i]
	}
	return nil
}

func (r *fakeRows) Columns() ([]string, error) {
	return []string{"source_object", "line", "reason", "raw", "state"}, nil
}

func (r *fakeRows) ColumnTypes() ([]warehouse.Column, error) { return nil, nil }
func (r *fakeRows) Err() error                               { return nil }
func (r *fakeRows) Close() error                             { r.closed = true; return nil }

// flakyStore is the metadata store with methods that fail on demand.
type flakyStore struct {
	metadata.Store
	service.SessionStore
	mu   sync.Mutex
	fail map[string]bool
}

var errBroken = errors.New("the store is broken")

func (s *flakyStore) failing(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fail[name]
}

func (s *flakyStore) set(name string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail[name] = on
}

func (s *flakyStore) ListRuns(ctx context.Context, f metadata.RunFilter) ([]metadata.Run, error) {
	if s.failing("ListRuns") {
		return nil, errBroken
	}
	return s.Store.ListRuns(ctx, f)
}

func (s *flakyStore) ListActions(ctx context.Context, f metadata.ActionFilter) ([]metadata.HealingAction, error) {
	if s.failing("ListActions") {
		return nil, errBroken
	}
	return s.Store.ListActions(ctx, f)
}

func (s *flakyStore) GetAPIKey(ctx context.Context, id string) (metadata.APIKey, error) {
	if s.failing("GetAPIKey") {
		return metadata.APIKey{}, errBroken
	}
	return s.Store.GetAPIKey(ctx, id)
}

func (s *flakyStore) RecordAudit(ctx context.Context, e metadata.AuditEntry) error {
	if s.failing("RecordAudit") {
		return errBroken
	}
	return s.Store.RecordAudit(ctx, e)
}

func (s *flakyStore) GetUISession(ctx context.Context, hash string) (metadata.UISession, error) {
	if s.failing("GetUISession") {
		return metadata.UISession{}, errBroken
	}
	return s.SessionStore.GetUISession(ctx, hash)
}

func (s *flakyStore) DeleteUISession(ctx context.Context, hash string) error {
	if s.failing("DeleteUISession") {
		return errBroken
	}
	return s.SessionStore.DeleteUISession(ctx, hash)
}

func (s *flakyStore) CreateUISession(ctx context.Context, u metadata.UISession) error {
	if s.failing("CreateUISession") {
		return errBroken
	}
	return s.SessionStore.CreateUISession(ctx, u)
}

// env is the UI over a real project, a real SQLite metadata store with
// runs, tasks, actions and alerts, and a fake warehouse; a key and a
// session per role.
type env struct {
	t      *testing.T
	ctx    context.Context
	dir    string
	store  metadata.Store
	flaky  *flakyStore // nil unless newEnv was asked for it
	svc    *service.Service
	ui     *UI
	wh     *fakeWarehouse
	keys   map[service.Role]string // the API keys' secrets
	keyIDs map[service.Role]string
	tokens map[service.Role]string // the session cookies' values
	csrf   map[service.Role]string

	mu        sync.Mutex
	offset    time.Duration // the service's clock runs ahead by it
	triggered []string

	start time.Time // when the first run started
	acts  struct{ applied, proposed, proposed2, escalated, escalatedBare, reverted int64 }
}

var roles = []service.Role{service.Viewer, service.Operator, service.Admin}

type envOption func(*env)

// withFlakyStore puts a flakyStore between the service and the store.
func withFlakyStore(e *env) {
	e.flaky = &flakyStore{Store: e.store, SessionStore: e.store.(service.SessionStore), fail: map[string]bool{}}
	e.svc.Store = e.flaky
}

func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	for name, body := range projectFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	e := &env{t: t, ctx: ctx, dir: dir, store: store, wh: &fakeWarehouse{rows: map[string][][]any{}},
		keys: map[service.Role]string{}, keyIDs: map[service.Role]string{}, tokens: map[service.Role]string{}, csrf: map[service.Role]string{}}
	e.svc = &service.Service{Project: p, Store: store, Warehouse: e.wh, Now: e.now,
		Trigger: func(_ context.Context, pipeline string, params map[string]string) (string, error) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.triggered = append(e.triggered, pipeline)
			return "run-triggered-" + pipeline, nil
		}}
	for _, o := range opts {
		o(e)
	}
	for _, r := range roles {
		key, view, err := e.svc.CreateKey(ctx, "test "+string(r), r, 0, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.keys[r], e.keyIDs[r] = key, view.ID
	}
	e.ui = &UI{Service: e.svc}
	e.seed()
	for _, r := range roles {
		e.signIn(r)
	}
	return e
}

func (e *env) now() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return time.Now().Add(e.offset)
}

func (e *env) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.offset += d
}

func (e *env) must(err error) {
	e.t.Helper()
	if err != nil {
		e.t.Fatal(err)
	}
}

// validation is a result in Great Expectations' layout: the not-null rule
// on id holds, the value set on region fails with a sample.
const validation = `{"success": false, "statistics": {"evaluated_expectations": 2, "successful_expectations": 1},
 "results": [
  {"success": true, "expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}},
   "result": {"element_count": 200, "unexpected_count": 0, "partial_unexpected_list": []}},
  {"success": false, "expectation_config": {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region", "value_set": ["EU", "US"]}},
   "result": {"element_count": 200, "unexpected_count": 40, "partial_unexpected_list": ["APAC", "<mars>", 7]}}]}`

const passing = `{"success": true, "statistics": {"evaluated_expectations": 2, "successful_expectations": 2},
 "results": [
  {"success": true, "expectation_config": {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}, "result": {"element_count": 10}},
  {"success": true, "expectation_config": {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "region"}}, "result": {"element_count": 10}}]}`

// seed records runs of orders (run-0 succeeded, run-1 failed, run-2
// succeeded with 120 quarantined rows and a failing rule), of events
// (ev-1 succeeded, ev-2 running), healing actions, an alert, an incident
// and a silence.
func (e *env) seed() {
	ctx := e.ctx
	e.start = time.Now().UTC().Add(-72 * time.Hour).Truncate(time.Hour)
	day := func(i int) time.Time { return e.start.Add(time.Duration(i) * 24 * time.Hour) }
	stages := func(f float64) map[string]float64 {
		return map[string]float64{"stage_seconds:extract": 12.5 * f, "stage_seconds:stage": 3 * f, "stage_seconds:validate": 1.25 * f,
			"stage_seconds:heal": 0.5 * f, "stage_seconds:commit": 2 * f}
	}
	type task struct {
		name, status, detail, err string
		in, loaded, quarantined   int64
	}
	run := func(r metadata.Run, tasks []task, metrics map[string]float64) {
		e.must(e.store.CreateRun(ctx, metadata.Run{ID: r.ID, Pipeline: r.Pipeline, StartedAt: r.StartedAt, Trigger: "scheduled", Attempt: 1}))
		for i, tk := range tasks {
			at := r.StartedAt.Add(time.Duration(i+1) * time.Second)
			e.must(e.store.RecordTask(ctx, metadata.TaskAttempt{RunID: r.ID, Task: tk.name, Attempt: 1, Status: tk.status, StartedAt: at,
				EndedAt: at.Add(2 * time.Second), RowsIn: tk.in, RowsLoaded: tk.loaded, RowsQuarantined: tk.quarantined, Detail: tk.detail, Error: tk.err}))
		}
		if r.Status == metadata.StatusRunning {
			return
		}
		r.Metrics = metrics
		e.must(e.store.FinishRun(ctx, r))
	}
	run(metadata.Run{ID: "run-0", Pipeline: "orders", StartedAt: day(0), Status: metadata.StatusSucceeded, EndedAt: day(0).Add(20 * time.Second),
		RowsIn: 10, RowsLoaded: 10, InvariantOK: true},
		[]task{{name: "load day.csv", status: "succeeded", in: 10, loaded: 10, detail: `{"quality_score": 100, "validation": ` + passing + `}`}},
		merge(stages(1), map[string]float64{"quality_score": 100, "warehouse_jobs": 3, "warehouse_bytes_processed": 3 << 20,
			"warehouse_bytes_billed": 10 << 20, "warehouse_slot_ms": 1234, "warehouse_cost_usd": 1.5}))
	run(metadata.Run{ID: "run-1", Pipeline: "orders", StartedAt: day(1), Status: metadata.StatusFailed, EndedAt: day(1).Add(5 * time.Second),
		RowsIn: 3, RowsQuarantined: 3, Error: "the source <b>vanished</b>"},
		[]task{{name: "load day.csv", status: "failed", in: 3, quarantined: 3, err: "read day.csv: connection reset"}},
		map[string]float64{"quality_score": 80})
	run(metadata.Run{ID: "run-2", Pipeline: "orders", StartedAt: day(2), Status: metadata.StatusSucceeded, EndedAt: day(2).Add(40 * time.Second),
		RowsIn: 200, RowsLoaded: 80, RowsQuarantined: 120, InvariantOK: true},
		[]task{{name: "load day.csv", status: "succeeded", in: 200, loaded: 80, quarantined: 120, detail: `{"quality_score": 92.5, "validation": ` + validation + `}`}},
		merge(stages(2), map[string]float64{"quality_score": 92.5}))
	run(metadata.Run{ID: "ev-1", Pipeline: "events", StartedAt: day(1).Add(time.Hour), Status: metadata.StatusSucceeded,
		EndedAt: day(1).Add(time.Hour + 500*time.Millisecond), RowsIn: 5, RowsLoaded: 4, RowsQuarantined: 1, InvariantOK: true},
		[]task{{name: "load events", status: "succeeded", in: 5, loaded: 4, quarantined: 1}},
		map[string]float64{"warehouse_jobs": 1, "warehouse_bytes_processed": 2048, "warehouse_bytes_billed": 4096, "warehouse_slot_ms": 5})
	run(metadata.Run{ID: "ev-2", Pipeline: "events", StartedAt: time.Now().UTC(), Status: metadata.StatusRunning}, nil, nil)

	var rows [][]any
	for i := range 120 {
		reason := []string{"CAST (column amount): 'abc' is not a FLOAT", "expect_column_values_to_be_in_set(region): APAC",
			"MISSING COLUMNS (region)"}[i%3]
		rows = append(rows, []any{"day.csv", int64(i + 2), reason, fmt.Sprintf("%d,<script>alert(%d)</script>,abc", i, i), "committed"})
	}
	e.wh.rows["run-2"] = rows
	e.wh.rows["run-1"] = [][]any{{"day.csv", []byte("7"), "CAST (column id): 'x' is not an INTEGER", "x,EU,1", "not committed"},
		{"day.csv", "8", "CAST (column id): 'y' is not an INTEGER", "y,EU,1", "not committed"},
		{"day.csv", nil, "MISSING COLUMNS (region)", "", "not committed"}}
	e.wh.rows["ev-1"] = [][]any{{"events", int64(3), "expect_column_values_to_not_be_null(id): null", "", "committed"}}

	action := func(a metadata.HealingAction) int64 {
		a.RunID, a.Pipeline, a.ObjectKey = "run-2", "orders", "day.csv"
		if a.Params == "" {
			a.Params = "{}"
		}
		if a.Before == "" {
			a.Before, a.After = "[]", "[]"
		}
		a.CreatedAt = day(2).Add(time.Minute)
		id, err := e.store.RecordAction(ctx, a)
		e.must(err)
		return id
	}
	e.acts.applied = action(metadata.HealingAction{Strategy: "normalize_to_value_set", Status: "applied", Category: "value_set_drift",
		Issue: "rule expect_column_values_to_be_in_set(region) failed", Confidence: 0.97, RowsAffected: 12,
		Params: `{"originals":"tok-1","column":"region"}`, ApprovedBy: "policy"})
	e.acts.proposed = action(metadata.HealingAction{Strategy: "normalize_to_value_set", Status: "proposed", Category: "value_set_drift",
		Issue: "rule expect_column_values_to_be_in_set(region) failed <again>", Confidence: 0.71, RowsAffected: 40})
	e.acts.proposed2 = action(metadata.HealingAction{Strategy: "quarantine_duplicates", Status: "proposed", Category: "duplicates",
		Issue: "rule expect_column_values_to_be_unique(id) failed", Confidence: 0.64, RowsAffected: 2})
	e.acts.escalated = action(metadata.HealingAction{Strategy: "parse_date_format", Status: "escalated", Category: "format_drift_date",
		Issue: "column ordered_at reads as two date layouts", Confidence: 0.5, RowsAffected: 30,
		Params: `{"options":[{"choice":"%d/%m/%Y","name":"day/month/year"},{"choice":"%m/%d/%Y","name":"month/day/year","reads":"03/04/2026 reads as 2026-03-04"}]}`})
	e.acts.escalatedBare = action(metadata.HealingAction{Strategy: "report_quarantine", Status: "escalated", Category: "schema_drift",
		Issue: "120 rows set aside", Confidence: 0.9, RowsAffected: 120})
	e.acts.reverted = action(metadata.HealingAction{Strategy: "normalize_to_value_set", Status: "reverted", Category: "value_set_drift",
		Issue: "an earlier repair", Confidence: 0.9, RowsAffected: 1})

	e.must(e.store.SetPaused(ctx, "items", true))

	ms, ok := e.store.(interface {
		SaveAlert(context.Context, metadata.Alert) error
		SaveIncident(context.Context, metadata.Incident) error
		AddSilence(context.Context, metadata.Silence) error
	})
	if !ok {
		e.t.Fatal("the SQLite store keeps no alerts")
	}
	now := time.Now().UTC()
	e.must(ms.SaveIncident(ctx, metadata.Incident{ID: "inc-1", Cause: "run:run-1", Title: "orders failed", Severity: "critical",
		State: metadata.IncidentOpen, Alerts: 1, OpenedAt: now.Add(-time.Hour)}))
	e.must(ms.SaveAlert(ctx, metadata.Alert{Fingerprint: "fp-1", Rule: "run_failed", Pipeline: "orders", Severity: "critical",
		State: metadata.AlertFiring, Summary: "run run-1 of orders failed", RunID: "run-1", IncidentID: "inc-1",
		ActiveAt: now.Add(-time.Hour), FiredAt: now.Add(-time.Hour), EvaluatedAt: now}))
	e.must(ms.AddSilence(ctx, metadata.Silence{ID: "sil-1", Matchers: []string{`pipeline="items"`}, Comment: "items is being rebuilt",
		CreatedBy: "ana", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), CreatedAt: now.Add(-time.Hour)}))
}

func merge(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// signIn signs a role in with its API key and keeps the session.
func (e *env) signIn(role service.Role) {
	e.t.Helper()
	w := e.serve(e.request("POST", "/login", "", url.Values{"key": {e.keys[role]}, "next": {"/"}}))
	if w.Code != http.StatusSeeOther {
		e.t.Fatalf("sign in as %s: %d %s", role, w.Code, w.Body)
	}
	c := cookieOf(w, sessionCookie)
	if c == nil {
		e.t.Fatalf("sign in as %s: no session cookie: %v", role, w.Header())
	}
	s, err := e.svc.SessionOf(e.ctx, c.Value)
	if err != nil || s.Principal.Role != role {
		e.t.Fatalf("sign in as %s: session %+v %v", role, s, err)
	}
	e.tokens[role], e.csrf[role] = c.Value, s.CSRF
}

func cookieOf(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// testLoginToken stands for the token a sign-in page gives a browser.
const testLoginToken = "TESTLOGINTOKENTESTLOGINTOK"

// request builds a request to the UI at localhost, with the role's
// session cookie (none for ""); a POST form gets the session's CSRF token
// unless it has a csrf field already, and a sign-in without a csrf field
// the token (field and cookie) of a sign-in page.
func (e *env) request(method, target string, role service.Role, form url.Values) *http.Request {
	var body io.Reader
	login := false
	if method == http.MethodPost {
		if form == nil {
			form = url.Values{}
		}
		if role != "" && !form.Has(csrfField) {
			form.Set(csrfField, e.csrf[role])
		}
		if role == "" && strings.HasPrefix(target, "/login") && !form.Has(csrfField) {
			form.Set(csrfField, testLoginToken)
			login = true
		}
		body = strings.NewReader(form.Encode())
	}
	r := httptest.NewRequest(method, target, body)
	r.Host = "localhost"
	if body != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if role != "" {
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.tokens[role]})
	}
	if login {
		r.AddCookie(&http.Cookie{Name: loginCookie, Value: testLoginToken})
	}
	return r
}

// serve runs a request through the UI and checks what every answer must
// hold (checkAnswer).
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	w := httptest.NewRecorder()
	e.ui.ServeHTTP(w, r)
	checkAnswer(e.t, r, w)
	return w
}

func (e *env) get(target string, role service.Role) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.serve(e.request("GET", target, role, nil))
}

func (e *env) post(target string, role service.Role, form url.Values, header ...string) *httptest.ResponseRecorder {
	e.t.Helper()
	r := e.request("POST", target, role, form)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return e.serve(r)
}

// checkAnswer checks the headers every answer carries, and the HTML of
// every page: nothing the template engine could not render, no inline
// script or style, no event handler attributes, a CSRF token in every
// form that posts.
func checkAnswer(t *testing.T, r *http.Request, w *httptest.ResponseRecorder) {
	t.Helper()
	what := r.Method + " " + r.URL.String()
	h := w.Header()
	csp := h.Get("Content-Security-Policy")
	if csp != ContentSecurityPolicy || !strings.Contains(csp, "script-src 'self'") || strings.Contains(csp, "unsafe-inline") ||
		strings.Contains(csp, "unsafe-eval") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("%s: Content-Security-Policy %q", what, csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("X-Frame-Options") != "DENY" || h.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("%s: security headers %v", what, h)
	}
	if !strings.HasPrefix(h.Get("Content-Type"), "text/html") {
		return
	}
	body := w.Body.String()
	for _, bad := range []string{"ZgotmplZ", "<no value>", "%!"} {
		if strings.Contains(body, bad) {
			t.Errorf("%s: the page holds %q:\n%s", what, bad, body)
		}
	}
	checkHTML(t, what, body)
}

var jsURL = regexp.MustCompile(`(?i)^\s*(javascript|data|vbscript):`)

func checkHTML(t *testing.T, what, body string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s: the HTML does not parse: %v", what, err)
	}
	var walk func(n *html.Node, form *html.Node)
	walk = func(n *html.Node, form *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script":
				if attr(n, "src") == "" {
					t.Errorf("%s: a script without src", what)
				}
				for c := n.FirstChild; c != nil; c = c.NextSibling {
					if strings.TrimSpace(c.Data) != "" {
						t.Errorf("%s: an inline script: %q", what, c.Data)
					}
				}
			case "style":
				t.Errorf("%s: an inline style element", what)
			case "form":
				form = n
				if strings.EqualFold(attr(n, "method"), "post") && !hasCSRF(n) {
					t.Errorf("%s: a form to %s without a csrf token", what, attr(n, "action"))
				}
				if a := attr(n, "action"); !strings.HasPrefix(a, "/") || strings.HasPrefix(a, "//") {
					t.Errorf("%s: a form to %q", what, a)
				}
			}
			for _, a := range n.Attr {
				k := strings.ToLower(a.Key)
				switch {
				case k == "style":
					t.Errorf("%s: a style attribute on <%s>: %q", what, n.Data, a.Val)
				case strings.HasPrefix(k, "on"), strings.HasPrefix(k, "hx-on"):
					t.Errorf("%s: an event handler attribute on <%s>: %s=%q", what, n.Data, a.Key, a.Val)
				case (k == "href" || k == "src" || k == "action" || k == "hx-get" || k == "hx-post") && jsURL.MatchString(a.Val):
					t.Errorf("%s: a script URL in %s: %q", what, k, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, form)
		}
	}
	walk(doc, nil)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// hasCSRF reports whether a form holds a hidden csrf input with a value.
func hasCSRF(form *html.Node) bool {
	found := false
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == csrfField && attr(n, "type") == "hidden" && attr(n, "value") != "" {
			found = true
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	return found
}

// csrfValues are the values of the page's csrf inputs and of its
// hx-headers.
func csrfValues(t *testing.T, body string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			if n.Data == "input" && attr(n, "name") == csrfField {
				out = append(out, attr(n, "value"))
			}
			if h := attr(n, "hx-headers"); h != "" {
				out = append(out, h)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

// links are the local URLs a page refers to (href, src, action, hx-get).
func links(t *testing.T, body string) []string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			for _, k := range []string{"href", "src", "hx-get"} {
				if v, _, _ := strings.Cut(attr(n, k), "#"); strings.HasPrefix(v, "/") {
					out = append(out, v)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func (e *env) action(id int64) metadata.HealingAction {
	e.t.Helper()
	a, err := e.store.GetAction(e.ctx, id)
	e.must(err)
	return a
}

func (e *env) audits() []service.AuditView {
	e.t.Helper()
	as, err := e.svc.Audit(e.ctx, service.AuditQuery{Anonymous: service.AnonymousInclude, Limit: service.MaxPageSize})
	e.must(err)
	return as
}

// text is a page's text without its tags, with entities decoded and
// spaces collapsed.
func text(t *testing.T, body string) string {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
			b.WriteByte(' ')
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return strings.Join(strings.Fields(strings.ReplaceAll(b.String(), "\u00a0", " ")), " ")
}

// TestPages: every page renders for every role, with what it is about,
// and only operators see the forms that change things.
func TestPages(t *testing.T) {
	e := newEnv(t)
	rule := "/quality/rule?pipeline=orders&rule=" + url.QueryEscape("expect_column_values_to_be_in_set(region)")
	for _, tc := range []struct {
		path string
		want []string // in the page's text
		html []string // in its HTML
		op   []string // in the HTML for operators and admins only
	}{
		{"/", []string{"Pipeline Overview", "orders", "Orders from the shop", "events", "items", "paused", "running", "1 firing",
			"run run-1 of orders failed", "inc-1", "orders failed"},
			[]string{`href="/pipelines/orders"`, `href="/runs/run-2"`, `href="/runs/ev-2"`, `id="chart-durations"`, `data-spec="{`}, nil},
		{"/pipelines/orders", []string{"orders", "run-0", "run-1", "run-2", "0 2 * * *", "expect_column_values_to_not_be_null(id)",
			"Quality score", "run run-1 of orders failed", "merge"},
			[]string{`href="/runs/run-0"`, `id="chart-scores"`}, []string{`action="/pipelines/orders/run"`, "Run now"}},
		{"/pipelines/events", []string{"ev-1", "ev-2", "postgres"}, nil, []string{"Run now"}},
		{"/pipelines/items", []string{"No run yet.", "paused", "manual"}, nil, nil},
		{"/runs/run-2", []string{"Run run-2", "load day.csv", "1 of 2", "92.5", "extract", "25.000 s", "APAC", "<mars>", "7",
			"expect_column_values_to_be_in_set(region)", "40 of 200", "Rows 1 to 50", "0,<script>alert(0)</script>,abc",
			"CAST (column amount): 'abc' is not a FLOAT", "committed", "Next rows", "rule expect_column_values_to_be_in_set(region) failed <again>"},
			[]string{`href="/runs/run-2/quarantine?offset=50"`, `hx-get="/runs/run-2/quarantine?offset=50"`,
				`rule=expect_column_values_to_be_in_set%28region%29"`},
			[]string{"Decide waiting actions on the Self-Healing page"}},
		{"/runs/run-1", []string{"Run run-1", "failed", "the source <b>vanished</b>", "read day.csv: connection reset", "not committed",
			"Rows 1 to 3", "This run recorded no stage times."}, nil, nil},
		{"/runs/ev-1", []string{"No validation result.", "No healing action.", "expect_column_values_to_not_be_null(id): null"}, nil, nil},
		{"/runs/ev-2", []string{"This run is still going", "No row was set aside."}, []string{`hx-trigger="every 2s"`}, nil},
		{"/runs/run-2/quarantine?offset=50", []string{"Back to run run-2", "Rows 51 to 100", "Previous rows", "Next rows", "51,<script>alert(51)</script>,abc"},
			[]string{`href="/runs/run-2/quarantine?offset=0"`, `href="/runs/run-2/quarantine?offset=100"`}, nil},
		{"/runs/run-2/quarantine?offset=100", []string{"Rows 101 to 120", "Previous rows"}, nil, nil},
		{"/runs/run-2/quarantine", []string{"Rows 1 to 50", "Next rows"}, nil, nil},
		{"/quality", []string{"Data Quality", "expect_column_values_to_be_in_set(region)", "expect_column_values_to_not_be_null(id)",
			"CAST (column amount) 40", "MISSING COLUMNS (region)", "CAST (column id) 2", "events expect_column_values_to_not_be_null(id) 1",
			"50.0%", "100.0%"},
			[]string{`id="chart-scores"`, `id="chart-failing"`, `<option value="orders">orders</option>`}, nil},
		{"/quality?pipeline=orders", []string{"CAST (column amount)"}, []string{`<option value="orders" selected>`}, nil},
		{"/quality?pipeline=items", []string{"No rule was evaluated yet.", "No row was quarantined."}, nil, nil},
		{rule, []string{"expect_column_values_to_be_in_set(region)", "run-2", "run-0", "APAC", "<mars>", "40 of 200"}, nil, nil},
		{"/quality/rule?pipeline=orders&rule=nothing", []string{"This rule has no result on record."}, nil, nil},
		{"/healing", []string{"Self-Healing Activity", "Waiting for a person (4)", "column ordered_at reads as two date layouts",
			"the rows stay set aside", "normalize_to_value_set", "an earlier repair", "No model was trained"},
			[]string{fmt.Sprintf(`id="proposal-%d"`, e.acts.proposed), fmt.Sprintf(`id="proposal-%d"`, e.acts.escalated),
				fmt.Sprintf(`id="proposal-%d"`, e.acts.escalatedBare)},
			[]string{fmt.Sprintf(`action="/healing/actions/%d/approve"`, e.acts.proposed), fmt.Sprintf(`action="/healing/actions/%d/reject"`, e.acts.proposed2),
				fmt.Sprintf(`action="/healing/actions/%d/resolve"`, e.acts.escalated), `value="%d/%m/%Y"`, "day/month/year (%d/%m/%Y)",
				"03/04/2026 reads as 2026-03-04", `<option>duplicates</option>`}},
		{"/performance", []string{"Performance", "Slowest runs", "run-2", "40.0s", "2026-12-04 events 1 500ms 1 2.0 KiB 4.0 KiB 5 ms $0.00", "2026-12-03 orders 1 20.0s 3 3.0 MiB 10.0 MiB 1,234 ms $1.50"},
			[]string{`id="chart-throughput"`, `id="chart-stages-orders"`}, nil},
		{"/alerts", []string{"Alerts", "inc-1", "orders failed", "run_failed", "items is being rebuilt", `pipeline="items"`},
			[]string{`id="incident-inc-1"`}, []string{`action="/incidents/inc-1/ack"`}},
		{"/login", []string{"Sign in", "API key"}, nil, nil},
	} {
		for _, role := range roles {
			t.Run(strings.TrimPrefix(tc.path, "/")+"/"+string(role), func(t *testing.T) {
				w := e.get(tc.path, role)
				body := w.Body.String()
				if w.Code != http.StatusOK {
					t.Fatalf("%d %s", w.Code, body)
				}
				if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
					t.Errorf("Cache-Control %q", cc)
				}
				txt := text(t, body)
				for _, s := range tc.want {
					if !strings.Contains(txt, s) {
						t.Errorf("the page does not say %q:\n%s", s, clip(txt, 3000))
					}
				}
				for _, s := range tc.html {
					if !strings.Contains(body, s) {
						t.Errorf("the page does not hold %q:\n%s", s, clip(body, 3000))
					}
				}
				op := role != service.Viewer
				for _, s := range tc.op {
					if strings.Contains(body, s) != op {
						t.Errorf("%s sees %q: %v", role, s, !op)
					}
				}
				if tc.path == "/login" {
					return
				}
				if !strings.Contains(txt, "test "+string(role)) || !strings.Contains(txt, "Sign out") {
					t.Errorf("the page does not say who is signed in")
				}
				// Every CSRF token on the page is the session's.
				tokens := csrfValues(t, body)
				if len(tokens) < 2 {
					t.Errorf("no csrf token on the page")
				}
				for _, v := range tokens {
					if !strings.Contains(v, e.csrf[role]) {
						t.Errorf("a csrf token %q, want the session's %q", v, e.csrf[role])
					}
				}
			})
		}
	}

	t.Run("the scripts, styles and links a page names are served", func(t *testing.T) {
		seen := map[string]bool{}
		for _, page := range []string{"/", "/runs/run-2", "/healing", "/quality", "/alerts", "/performance"} {
			for _, l := range links(t, e.get(page, service.Admin).Body.String()) {
				if seen[l] {
					continue
				}
				seen[l] = true
				w := e.get(l, service.Admin)
				if w.Code != http.StatusOK {
					t.Errorf("%s links to %s: %d", page, l, w.Code)
				}
			}
		}
		for _, must := range []string{"/static/thirdparty/htmx-2.0.11.min.js", "/static/thirdparty/uPlot-1.6.32.iife.min.js", "/static/app.js",
			"/static/app.css", "/static/thirdparty/uPlot-1.6.32.min.css"} {
			if !seen[must] {
				t.Errorf("no page names %s", must)
			}
		}
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{"/pipelines/nope", "/runs/nope", "/runs/nope/quarantine", "/quality?pipeline=nope",
			"/quality/rule?pipeline=orders", "/quality/rule?pipeline=nope&rule=x", "/nowhere", "/pipelines/orders/nothing"} {
			w := e.get(path, service.Viewer)
			if w.Code != http.StatusNotFound {
				t.Errorf("%s: %d, want 404", path, w.Code)
			}
		}
		if w := e.get("/nowhere", ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "There is no page at /nowhere") {
			t.Errorf("an unknown page without a session: %d %s", w.Code, w.Body)
		}
		if w := e.serve(e.request("DELETE", "/healing", service.Operator, nil)); w.Code != http.StatusMethodNotAllowed &&
			w.Code != http.StatusNotFound {
			t.Errorf("DELETE /healing: %d", w.Code)
		}
	})

	t.Run("the quarantined rows need the warehouse", func(t *testing.T) {
		e.svc.Warehouse = nil
		defer func() { e.svc.Warehouse = e.wh }()
		if w := e.get("/runs/run-2", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "which this process has not opened") {
			t.Errorf("a run without the warehouse: %d %s", w.Code, w.Body)
		}
		if w := e.get("/quality", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "Quarantine reasons are read from the warehouse") {
			t.Errorf("quality without the warehouse: %d %s", w.Code, w.Body)
		}
		if w := e.get("/runs/run-2/quarantine", service.Viewer); w.Code != http.StatusServiceUnavailable {
			t.Errorf("quarantined rows without the warehouse: %d", w.Code)
		}
		e.svc.Warehouse = e.wh
		e.wh.err = errors.New("the warehouse is locked")
		defer func() { e.wh.err = nil }()
		if w := e.get("/runs/run-2", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "The quarantined rows cannot be read now.") {
			t.Errorf("a run whose warehouse fails: %d %s", w.Code, w.Body)
		}
		if w := e.get("/quality", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "Quarantine reasons cannot be read now.") {
			t.Errorf("quality whose warehouse fails: %d %s", w.Code, w.Body)
		}
		if w := e.get("/runs/run-2/quarantine", service.Viewer); w.Code != http.StatusInternalServerError ||
			strings.Contains(w.Body.String(), "locked") {
			t.Errorf("quarantined rows whose warehouse fails: %d %s", w.Code, w.Body)
		}
	})

	t.Run("committed rows come from the target, others from the set-aside table", func(t *testing.T) {
		e.wh.mu.Lock()
		e.wh.asked = nil
		e.wh.mu.Unlock()
		e.get("/runs/run-2", service.Viewer)
		e.get("/runs/run-1", service.Viewer)
		e.wh.mu.Lock()
		defer e.wh.mu.Unlock()
		if got := strings.Join(e.wh.asked, " "); got != "run-2|orders run-1|" {
			t.Errorf("quarantined rows asked of %s", got)
		}
	})
}

// TestNoSession: pages send to the sign-in with the page to come back
// to; forms are refused; next never leads off the site.
func TestNoSession(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/", "/pipelines/orders", "/runs/run-2", "/runs/run-2/quarantine?offset=50", "/quality?pipeline=orders",
		"/quality/rule?pipeline=orders&rule=expect_column_values_to_be_in_set(region)", "/healing", "/performance", "/alerts"} {
		w := e.get(path, "")
		if w.Code != http.StatusSeeOther {
			t.Fatalf("%s without a session: %d", path, w.Code)
		}
		loc, err := url.Parse(w.Header().Get("Location"))
		if err != nil || loc.Path != "/login" {
			t.Fatalf("%s: sent to %q", path, w.Header().Get("Location"))
		}
		if next := loc.Query().Get("next"); next != path {
			t.Errorf("%s: next=%q (Location %q)", path, next, w.Header().Get("Location"))
		}
		// A session that is not one is no session.
		r := e.request("GET", path, "", nil)
		r.AddCookie(&http.Cookie{Name: sessionCookie, Value: "shs_forged"})
		if w := e.serve(r); w.Code != http.StatusSeeOther {
			t.Errorf("%s with a forged session: %d", path, w.Code)
		}
	}
	// (Forms without a session are not audited, unlike the API's refused
	// anonymous requests: see the report.)
	for _, path := range []string{fmt.Sprintf("/healing/actions/%d/approve", e.acts.proposed), "/incidents/inc-1/ack",
		"/pipelines/orders/run", "/logout"} {
		w := e.post(path, "", url.Values{"csrf": {e.csrf[service.Operator]}})
		if w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "sign in again") {
			t.Errorf("POST %s without a session: %d %s", path, w.Code, w.Body)
		}
	}
	if a := e.action(e.acts.proposed); a.Status != "proposed" || len(e.triggered) != 0 {
		t.Errorf("a form without a session changed things: %+v %v", a, e.triggered)
	}

	// next is a path on this site, or /.
	for next, want := range map[string]string{
		"//evil.example": "/", "https://evil.example": "/", `/\evil.example`: "/", "evil": "/", "/\t/evil.example": "/",
		"": "/", "/healing?x=1&y=2": "/healing?x=1&y=2", "/runs/run-2": "/runs/run-2",
	} {
		w := e.get("/login?next="+url.QueryEscape(next), "")
		if w.Code != 200 || !strings.Contains(w.Body.String(), `name="next" value="`+htmlEscape(want)+`"`) {
			t.Errorf("the form keeps next=%q as %q? %d %s", next, want, w.Code, w.Body)
		}
		w = e.post("/login", "", url.Values{"key": {e.keys[service.Viewer]}, "next": {next}})
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != want {
			t.Errorf("signed in with next=%q: %d to %q, want %q", next, w.Code, w.Header().Get("Location"), want)
		}
	}
}

func htmlEscape(s string) string {
	var b bytes.Buffer
	for _, c := range s {
		switch c {
		case '&':
			b.WriteString("&amp;")
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// TestForms: operators change things with the session's token; viewers,
// forms without or with a wrong token, and forms from another site are
// refused and change nothing; every form of a session is audited.
func TestForms(t *testing.T) {
	e := newEnv(t)
	opName := "key:" + e.keyIDs[service.Operator] + " (test operator)"
	approve := fmt.Sprintf("/healing/actions/%d/approve", e.acts.proposed)
	reject := fmt.Sprintf("/healing/actions/%d/reject", e.acts.proposed2)
	resolve := fmt.Sprintf("/healing/actions/%d/resolve", e.acts.escalated)
	resolveBare := fmt.Sprintf("/healing/actions/%d/resolve", e.acts.escalatedBare)
	revert := fmt.Sprintf("/healing/actions/%d/revert", e.acts.applied)
	forms := []struct {
		path string
		form url.Values
	}{
		{approve, url.Values{"reason": {"looks right"}}},
		{reject, url.Values{"reason": {"not duplicates"}}},
		{resolve, url.Values{"choice": {"%d/%m/%Y"}, "reason": {"European shop"}}},
		{revert, url.Values{"reason": {"wrong values"}}},
		{"/incidents/inc-1/ack", nil},
		{"/pipelines/orders/run", nil},
	}
	clone := func(v url.Values) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = append([]string(nil), vs...)
		}
		return out
	}
	unchanged := func(t *testing.T) {
		t.Helper()
		for id, want := range map[int64]string{e.acts.proposed: "proposed", e.acts.proposed2: "proposed", e.acts.escalated: "escalated",
			e.acts.applied: "applied"} {
			if a := e.action(id); a.Status != want {
				t.Errorf("action #%d is %s, want %s", id, a.Status, want)
			}
		}
		if in, err := e.store.(interface {
			GetIncident(context.Context, string) (metadata.Incident, error)
		}).GetIncident(e.ctx, "inc-1"); err != nil || in.AckedBy != "" {
			t.Errorf("incident %+v %v", in, err)
		}
		if len(e.triggered) != 0 || len(e.wh.reverts) != 0 {
			t.Errorf("triggered %v, reverted %v", e.triggered, e.wh.reverts)
		}
	}
	// audited checks that the last request wrote one audit entry.
	audited := func(t *testing.T, before int, role service.Role, path string, status int, reason string) {
		t.Helper()
		as := e.audits()
		if len(as) != before+1 {
			t.Fatalf("%d audit entries written, want 1", len(as)-before)
		}
		a := as[0]
		if a.Method != "POST" || a.Path != path || a.Status != status || a.Role != string(role) || !strings.Contains(a.Reason, reason) ||
			!strings.HasPrefix(a.Principal, "key:"+e.keyIDs[role]) || a.Remote != "192.0.2.1" {
			t.Errorf("audit entry %+v, want %s %s %d %q", a, role, path, status, reason)
		}
	}

	t.Run("viewers may not", func(t *testing.T) {
		for _, f := range forms {
			before := len(e.audits())
			w := e.post(f.path, service.Viewer, clone(f.form))
			if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "This needs the operator role") {
				t.Errorf("%s as viewer: %d %s", f.path, w.Code, w.Body)
			}
			audited(t, before, service.Viewer, f.path, 403, "needs the operator role")
		}
		unchanged(t)
	})

	t.Run("a missing or wrong csrf token", func(t *testing.T) {
		for _, f := range forms {
			for name, token := range map[string]string{"missing": "", "wrong": "x" + e.csrf[service.Operator],
				"another session's": e.csrf[service.Admin]} {
				form := clone(f.form)
				form.Set(csrfField, token)
				before := len(e.audits())
				w := e.post(f.path, service.Operator, form)
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "security token") {
					t.Errorf("%s with a %s token: %d %s", f.path, name, w.Code, w.Body)
				}
				audited(t, before, service.Operator, f.path, 403, "missing or wrong csrf token")
			}
			// A wrong header is not made good by a right field.
			before := len(e.audits())
			if w := e.post(f.path, service.Operator, clone(f.form), csrfHeader, "wrong"); w.Code != http.StatusForbidden {
				t.Errorf("%s with a wrong header: %d", f.path, w.Code)
			}
			audited(t, before, service.Operator, f.path, 403, "csrf")
		}
		unchanged(t)
	})

	t.Run("another site", func(t *testing.T) {
		for _, f := range forms {
			for _, h := range [][]string{{"Sec-Fetch-Site", "cross-site"}, {"Origin", "https://evil.example"}} {
				w := e.post(f.path, service.Operator, clone(f.form), h...)
				if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "sent from another site") {
					t.Errorf("%s with %v: %d %s", f.path, h, w.Code, w.Body)
				}
			}
			// The UI's own pages are fine.
			form := clone(f.form)
			form.Set(csrfField, "")
			if w := e.post(f.path, service.Operator, form, "Sec-Fetch-Site", "same-origin", "Origin", "http://localhost"); w.Code != http.StatusForbidden ||
				!strings.Contains(w.Body.String(), "security token") {
				t.Errorf("%s from the same origin reached the csrf check? %d %s", f.path, w.Code, w.Body)
			}
		}
		if w := e.post("/login", "", url.Values{"key": {e.keys[service.Admin]}}, "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
			t.Errorf("a sign-in from another site: %d", w.Code)
		}
		unchanged(t)
	})

	t.Run("bad input", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			form url.Values
			code int
			says string
		}{
			{reject, url.Values{"reason": {"  "}}, 400, "reason"},
			{reject, url.Values{"reason": {"no"}, "category": {"not-a-category"}}, 400, "category"},
			{resolve, url.Values{"choice": {"%Y/%d/%m"}, "reason": {"r"}}, 400, "choice"},
			{resolve, url.Values{"choice": {""}, "reason": {"r"}}, 400, "choice"},
			{resolve, url.Values{"choice": {"%d/%m/%Y"}}, 400, "reason"},
			{resolveBare, url.Values{"choice": {"anything"}, "reason": {"r"}}, 409, "offers no options"},
			{revert, url.Values{"reason": {""}}, 400, "reason"},
			{revert, url.Values{"reason": {"r"}, "category": {"nope"}}, 400, "category"},
			{fmt.Sprintf("/healing/actions/%d/revert", e.acts.proposed), url.Values{"reason": {"r"}}, 409, "only an applied action"},
			{fmt.Sprintf("/healing/actions/%d/approve", e.acts.escalated), nil, 409, "resolved with one of them"},
			{"/healing/actions/999999/approve", nil, 404, "Not found"},
			{"/healing/actions/999999/resolve", url.Values{"choice": {"a"}, "reason": {"r"}}, 404, "Not found"},
			{fmt.Sprintf("/healing/actions/%d/explode", e.acts.proposed), nil, 404, `not "explode"`},
			{"/healing/actions/abc/approve", nil, 404, `There is no action "abc"`},
			{"/healing/actions/0/approve", nil, 404, "There is no action"},
			{"/healing/actions/-3/approve", nil, 404, "There is no action"},
			{"/incidents/inc-404/ack", nil, 404, "Not found"},
			{"/pipelines/nope/run", nil, 404, "Not found"},
		} {
			before := len(e.audits())
			w := e.post(tc.path, service.Operator, tc.form)
			if w.Code != tc.code || !strings.Contains(text(t, w.Body.String()), tc.says) {
				t.Errorf("%s %v: %d %s, want %d saying %q", tc.path, tc.form, w.Code, w.Body, tc.code, tc.says)
			}
			audited(t, before, service.Operator, tc.path, tc.code, "")
		}
		unchanged(t)
	})

	t.Run("no scheduler", func(t *testing.T) {
		trigger := e.svc.Trigger
		e.svc.Trigger = nil
		defer func() { e.svc.Trigger = trigger }()
		w := e.post("/pipelines/orders/run", service.Operator, nil)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "runs no scheduler") {
			t.Errorf("a run without a scheduler: %d %s", w.Code, w.Body)
		}
		if w := e.get("/pipelines/orders", service.Operator); strings.Contains(w.Body.String(), "Run now") {
			t.Errorf("the pipeline offers to run without a scheduler")
		}
		unchanged(t)
	})

	t.Run("operators do", func(t *testing.T) {
		for _, tc := range []struct {
			role    service.Role
			path    string
			form    url.Values
			header  []string
			to      string // the redirect
			flash   string // on the page redirected to
			check   func(t *testing.T)
			comment string
		}{
			{role: service.Operator, path: approve, form: url.Values{"reason": {"looks right"}, csrfField: {""}},
				header: []string{csrfHeader, e.csrf[service.Operator]}, // as htmx sends it
				to:     fmt.Sprintf("/healing?done=approve&action=%d", e.acts.proposed), flash: fmt.Sprintf("Action #%d approved.", e.acts.proposed),
				check: func(t *testing.T) {
					if a := e.action(e.acts.proposed); a.Status != "approved" || a.ApprovedBy != opName || !strings.Contains(a.Reason, "looks right") {
						t.Errorf("approved action %+v", a)
					}
				}},
			{role: service.Admin, path: reject, form: url.Values{"reason": {"not duplicates"}, "category": {"value_set_drift"}},
				to: fmt.Sprintf("/healing?done=reject&action=%d", e.acts.proposed2), flash: fmt.Sprintf("Action #%d rejected.", e.acts.proposed2),
				check: func(t *testing.T) {
					a := e.action(e.acts.proposed2)
					if a.Status != "rejected" || !strings.Contains(a.Reason, "not duplicates") || !strings.HasPrefix(a.ApprovedBy, "key:"+e.keyIDs[service.Admin]) {
						t.Errorf("rejected action %+v", a)
					}
					ex, _ := e.store.ListExamples(e.ctx)
					if len(ex) != 2 || !strings.Contains(ex[1], `"value_set_drift"`) || !strings.Contains(ex[1], "expect_column_values_to_be_unique(id)") {
						t.Errorf("the rejection taught %v", ex)
					}
				}},
			{role: service.Operator, path: resolve, form: url.Values{"choice": {"%d/%m/%Y"}, "reason": {"European shop"}},
				to: fmt.Sprintf("/healing?done=resolve&action=%d", e.acts.escalated), flash: fmt.Sprintf("Action #%d resolved.", e.acts.escalated),
				check: func(t *testing.T) {
					if a := e.action(e.acts.escalated); a.Status != "resolved" || !strings.Contains(a.Params, `"choice":"%d/%m/%Y"`) ||
						!strings.Contains(a.Reason, "European shop") {
						t.Errorf("resolved action %+v", a)
					}
				}},
			{role: service.Operator, path: revert, form: url.Values{"reason": {"wrong values"}},
				to: fmt.Sprintf("/healing?done=revert&action=%d", e.acts.applied), flash: fmt.Sprintf("Action #%d reverted.", e.acts.applied),
				check: func(t *testing.T) {
					if a := e.action(e.acts.applied); a.Status != "reverted" || !strings.Contains(a.Reason, "wrong values") {
						t.Errorf("reverted action %+v", a)
					}
					if len(e.wh.reverts) != 1 || e.wh.reverts[0].Token != "tok-1" || e.wh.reverts[0].Target != "orders" {
						t.Errorf("reverts %+v", e.wh.reverts)
					}
				}},
			{role: service.Operator, path: "/incidents/inc-1/ack", to: "/alerts?done=ack&incident=inc-1", flash: "Incident inc-1 acknowledged.",
				check: func(t *testing.T) {
					in, err := e.store.(interface {
						GetIncident(context.Context, string) (metadata.Incident, error)
					}).GetIncident(e.ctx, "inc-1")
					if err != nil || in.AckedBy != opName {
						t.Errorf("acknowledged incident %+v %v", in, err)
					}
					if w := e.get("/alerts", service.Operator); strings.Contains(w.Body.String(), `action="/incidents/inc-1/ack"`) ||
						!strings.Contains(w.Body.String(), "by "+htmlEscape(opName)) {
						t.Errorf("the alerts page after the ack:\n%s", w.Body)
					}
				}},
			{role: service.Operator, path: "/pipelines/orders/run", to: "/runs/run-triggered-orders",
				check: func(t *testing.T) {
					if len(e.triggered) != 1 || e.triggered[0] != "orders" {
						t.Errorf("triggered %v", e.triggered)
					}
				}},
		} {
			t.Run(tc.path, func(t *testing.T) {
				before := len(e.audits())
				w := e.post(tc.path, tc.role, tc.form, tc.header...)
				loc := w.Header().Get("Location")
				if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, tc.to) {
					t.Fatalf("%d to %q, want 303 to %s...: %s", w.Code, loc, tc.to, w.Body)
				}
				audited(t, before, tc.role, tc.path, 303, "")
				if as := e.audits(); as[0].Reason != "" {
					t.Errorf("an accepted form's audit says %q", as[0].Reason)
				}
				tc.check(t)
				if tc.flash == "" {
					return
				}
				page := e.get(loc, tc.role)
				if page.Code != 200 || !strings.Contains(text(t, page.Body.String()), tc.flash) {
					t.Errorf("%s does not say %q: %d", loc, tc.flash, page.Code)
				}
			})
		}
		// Decided actions leave the queue.
		w := e.get("/healing", service.Operator)
		if txt := text(t, w.Body.String()); !strings.Contains(txt, "Waiting for a person (1)") || !strings.Contains(txt, "Success rate") {
			t.Errorf("the queue after the decisions:\n%s", txt)
		}
		// A decided action cannot be decided again.
		if w := e.post(approve, service.Operator, nil); w.Code != http.StatusConflict {
			t.Errorf("approving an approved action: %d", w.Code)
		}
	})
}

// TestQuarantineFragment: htmx asks for the next page of the rows alone.
func TestQuarantineFragment(t *testing.T) {
	e := newEnv(t)
	r := e.request("GET", "/runs/run-2/quarantine?offset=50", service.Viewer, nil)
	r.Header.Set("HX-Request", "true")
	w := e.serve(r)
	body := w.Body.String()
	if w.Code != 200 || strings.Contains(body, "<html") || strings.Contains(body, "<header") || !strings.HasPrefix(strings.TrimSpace(body), "<table") {
		t.Fatalf("the fragment: %d %s", w.Code, body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	for _, s := range []string{"Rows 51 to 100", "50,&lt;script&gt;alert(50)&lt;/script&gt;,abc", "99,&lt;script&gt;", `hx-get="/runs/run-2/quarantine?offset=100"`,
		`hx-get="/runs/run-2/quarantine?offset=0"`, `hx-target="#quarantine"`} {
		if !strings.Contains(body, s) {
			t.Errorf("the fragment does not hold %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "49,&lt;script") || strings.Contains(body, "100,&lt;script") {
		t.Errorf("the fragment holds rows of other pages")
	}
	// The last page offers no next one.
	r = e.request("GET", "/runs/run-2/quarantine?offset=100", service.Viewer, nil)
	r.Header.Set("HX-Request", "true")
	if body := e.serve(r).Body.String(); strings.Contains(body, "offset=120") || !strings.Contains(body, "Rows 101 to 120") {
		t.Errorf("the last page:\n%s", body)
	}
	// Without htmx, a whole page.
	w = e.get("/runs/run-2/quarantine?offset=50", service.Viewer)
	if w.Code != 200 || !strings.Contains(w.Body.String(), "<html") || !strings.Contains(w.Body.String(), `<div id="quarantine">`) {
		t.Errorf("the whole page: %d", w.Code)
	}
	for _, offset := range []string{"-1", "x", "1.5", "99999999999999999999"} {
		w := e.get("/runs/run-2/quarantine?offset="+offset, service.Viewer)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "offset must be a whole number") {
			t.Errorf("offset=%s: %d %s", offset, w.Code, w.Body)
		}
	}
}

// TestStatic: the embedded files are served, the vendored ones to be
// cached for good; there is no listing.
func TestStatic(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		path, cache, ctype string
		code               int
	}{
		{"/static/thirdparty/htmx-2.0.11.min.js", "immutable", "javascript", 200},
		{"/static/thirdparty/uPlot-1.6.32.iife.min.js", "immutable", "javascript", 200},
		{"/static/thirdparty/uPlot-1.6.32.min.css", "immutable", "text/css", 200},
		{"/static/app.js", "max-age=300", "javascript", 200},
		{"/static/app.css", "max-age=300", "text/css", 200},
		{"/static/favicon.svg", "max-age=300", "image/svg+xml", 200},
		{"/static/thirdparty/THIRD_PARTY.md", "max-age=300", "", 200},
		{"/static/thirdparty/LICENSE.htmx", "max-age=300", "", 200},
		{"/static/", "", "", 404},
		{"/static/thirdparty/", "", "", 404},
		{"/static/nothing.js", "", "", 404},
	} {
		w := e.get(tc.path, "")
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d", tc.path, w.Code, tc.code)
			continue
		}
		if tc.code != 200 {
			if strings.Contains(w.Body.String(), "htmx-2.0.11.min.js\"") {
				t.Errorf("%s lists files", tc.path)
			}
			continue
		}
		if cc := w.Header().Get("Cache-Control"); !strings.Contains(cc, tc.cache) || !strings.Contains(cc, "public") {
			t.Errorf("%s: Cache-Control %q", tc.path, cc)
		}
		if ct := w.Header().Get("Content-Type"); !strings.Contains(ct, tc.ctype) {
			t.Errorf("%s: Content-Type %q", tc.path, ct)
		}
		if w.Body.Len() == 0 {
			t.Errorf("%s is empty", tc.path)
		}
	}
	for _, path := range []string{"/static/thirdparty", "/static/../web.go", "/static/%2e%2e/web.go", "/static/templates/base.html"} {
		if w := e.get(path, ""); w.Code == 200 {
			t.Errorf("%s: 200", path)
		}
	}
	if w := e.get("/favicon.ico", ""); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/static/favicon.svg" {
		t.Errorf("/favicon.ico: %d %v", w.Code, w.Header())
	}
	// The static files need no session, and the pages name them.
	if w := e.get("/static/app.js", ""); w.Code != 200 {
		t.Errorf("app.js without a session: %d", w.Code)
	}
}

// TestVendoredFiles: the vendored files are the ones THIRD_PARTY.md lists, by
// their SHA-256; their licences are there.
func TestVendoredFiles(t *testing.T) {
	md, err := fs.ReadFile(staticFiles, "static/thirdparty/THIRD_PARTY.md")
	if err != nil {
		t.Fatal(err)
	}
	disk, err := os.ReadFile(filepath.Join("static", "thirdparty", "THIRD_PARTY.md"))
	if err != nil || !bytes.Equal(md, disk) {
		t.Fatalf("the embedded THIRD_PARTY.md is not the file's: %v", err)
	}
	line := regexp.MustCompile(`^([0-9a-f]{64})  (\S+)$`)
	listed := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(md))
	for sc.Scan() {
		if m := line.FindStringSubmatch(sc.Text()); m != nil {
			listed[m[2]] = m[1]
		}
	}
	if len(listed) < 5 {
		t.Fatalf("THIRD_PARTY.md lists %d files: %v", len(listed), listed)
	}
	for name, want := range listed {
		b, err := fs.ReadFile(staticFiles, "static/thirdparty/"+name)
		if err != nil {
			t.Errorf("%s is listed but not embedded: %v", name, err)
			continue
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: SHA-256 %s, THIRD_PARTY.md says %s: the vendored file was changed", name, got, want)
		}
	}
	entries, err := fs.ReadDir(staticFiles, "static/thirdparty")
	if err != nil {
		t.Fatal(err)
	}
	for _, en := range entries {
		if en.Name() != "THIRD_PARTY.md" && listed[en.Name()] == "" {
			t.Errorf("%s is vendored but not listed in THIRD_PARTY.md", en.Name())
		}
	}
	for _, lic := range []string{"LICENSE.htmx", "LICENSE.uplot"} {
		b, err := fs.ReadFile(staticFiles, "static/thirdparty/"+lic)
		if err != nil || len(bytes.TrimSpace(b)) == 0 {
			t.Errorf("%s: %d bytes, %v", lic, len(b), err)
		}
		if listed[lic] == "" {
			t.Errorf("%s is not listed", lic)
		}
	}
	// The table names each library file, and the pages load those files.
	base, err := fs.ReadFile(templateFiles, "templates/base.html")
	if err != nil {
		t.Fatal(err)
	}
	for name := range listed {
		if strings.HasPrefix(name, "LICENSE") {
			continue
		}
		if !strings.Contains(string(md), "| "+name+" |") {
			t.Errorf("%s is not in THIRD_PARTY.md's table", name)
		}
		if !strings.Contains(string(base), "/static/thirdparty/"+name) {
			t.Errorf("base.html does not load %s", name)
		}
	}
}

// TestStoreFailures: a store that fails is a clean error page, and what
// can go without it goes on.
func TestStoreFailures(t *testing.T) {
	e := newEnv(t, withFlakyStore)
	f := e.flaky
	f.set("ListRuns", true)
	for _, path := range []string{"/", "/pipelines/orders", "/performance"} {
		w := e.get(path, service.Viewer)
		if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "Something went wrong on the server") ||
			strings.Contains(w.Body.String(), errBroken.Error()) {
			t.Errorf("%s with a broken store: %d %s", path, w.Code, w.Body)
		}
	}
	f.set("ListRuns", false)
	f.set("ListActions", true)
	for _, path := range []string{"/healing", "/runs/run-2"} {
		if w := e.get(path, service.Viewer); w.Code != http.StatusInternalServerError {
			t.Errorf("%s with a broken store: %d", path, w.Code)
		}
	}
	f.set("ListActions", false)

	// Alerts need a store that keeps them: without, the pages go on.
	if w := e.get("/alerts", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "No incident on record.") {
		t.Errorf("alerts without a monitoring store: %d %s", w.Code, w.Body)
	}
	if w := e.get("/", service.Viewer); w.Code != 200 || !strings.Contains(w.Body.String(), "No alert is firing.") {
		t.Errorf("the overview without a monitoring store: %d", w.Code)
	}
	if w := e.post("/incidents/inc-1/ack", service.Operator, nil); w.Code != http.StatusServiceUnavailable {
		t.Errorf("an ack without a monitoring store: %d", w.Code)
	}

	// An audit that cannot be written does not stop the form; the log
	// says so.
	var log bytes.Buffer
	e.ui.Logger = slog.New(slog.NewTextHandler(&log, nil))
	f.set("RecordAudit", true)
	if w := e.post(fmt.Sprintf("/healing/actions/%d/approve", e.acts.proposed), service.Operator, nil); w.Code != http.StatusSeeOther {
		t.Errorf("a form whose audit fails: %d", w.Code)
	}
	f.set("RecordAudit", false)
	if !strings.Contains(log.String(), "web: audit a form") {
		t.Errorf("the log: %s", log.String())
	}
	// A session that cannot be closed is still signed out of the browser.
	f.set("DeleteUISession", true)
	if w := e.post("/logout", service.Admin, nil); w.Code != http.StatusSeeOther || !strings.Contains(w.Header().Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("sign out when the session cannot be deleted: %d %v", w.Code, w.Header())
	}
	f.set("DeleteUISession", false)
	if !strings.Contains(log.String(), "web: close a session") {
		t.Errorf("the log: %s", log.String())
	}

	// Sessions that cannot be read.
	f.set("GetUISession", true)
	if w := e.get("/", service.Viewer); w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "Sessions cannot be read now") {
		t.Errorf("a page when sessions cannot be read: %d %s", w.Code, w.Body)
	}
	f.set("GetUISession", false)
	// Keys that cannot be checked (a key not read yet: read keys are
	// cached for a second), sessions that cannot be opened.
	fresh, _, err := e.svc.CreateKey(e.ctx, "fresh", service.Viewer, 0, "test")
	e.must(err)
	f.set("GetAPIKey", true)
	if w := e.post("/login", "", url.Values{"key": {fresh}}); w.Code != http.StatusServiceUnavailable ||
		!strings.Contains(w.Body.String(), "Keys cannot be checked now") {
		t.Errorf("a sign-in when keys cannot be read: %d %s", w.Code, w.Body)
	}
	f.set("GetAPIKey", false)
	f.set("CreateUISession", true)
	if w := e.post("/login", "", url.Values{"key": {e.keys[service.Viewer]}}); w.Code != http.StatusServiceUnavailable ||
		!strings.Contains(w.Body.String(), "A session cannot be opened now") || cookieOf(w, sessionCookie) != nil {
		t.Errorf("a sign-in when sessions cannot be stored: %d %s", w.Code, w.Body)
	}
	f.set("CreateUISession", false)
}

// TestRenderErrors: a template that fails is a clean 500, not half a
// page.
func TestRenderErrors(t *testing.T) {
	u := &UI{Service: &service.Service{}}
	r := httptest.NewRequest("GET", "/", nil)
	w := httptest.NewRecorder()
	u.render(w, r, 200, "run", "x", struct{}{})
	if w.Code != 500 || strings.Contains(w.Body.String(), "<html") || !strings.Contains(w.Body.String(), "the page cannot be shown") {
		t.Errorf("a page that fails: %d %s", w.Code, w.Body)
	}
	w = httptest.NewRecorder()
	u.renderFragment(w, r, "quarantine", "quarantine-rows", struct{}{})
	if w.Code != 500 || !strings.Contains(w.Body.String(), "the page cannot be shown") {
		t.Errorf("a fragment that fails: %d %s", w.Code, w.Body)
	}
	// Every page parses, and each belongs to a dashboard of the
	// navigation or to none.
	for name, p := range parsePages() {
		if p.tmpl.Lookup("content") == nil {
			t.Errorf("%s has no content", name)
		}
	}
	if remoteHost(&http.Request{RemoteAddr: "pipe"}) != "pipe" {
		t.Error("remoteHost of an address without a port")
	}
}

// TestRenderHelpers covers the templates' helpers on values the seeded
// pages do not hold.
func TestRenderHelpers(t *testing.T) {
	for _, tc := range []struct {
		got, want string
	}{
		{num(0), "0"}, {num(999), "999"}, {num(1000), "1,000"}, {num(-1234567), "-1,234,567"},
		{byteSize(10), "10 B"}, {byteSize(1536), "1.5 KiB"}, {byteSize(5 << 40), "5.0 TiB"}, {byteSize(1 << 62), "4096.0 PiB"},
		{duration(250 * time.Millisecond), "250ms"}, {duration(1500 * time.Millisecond), "1.5s"}, {duration(125 * time.Second), "2m05s"},
		{duration(3*time.Hour + 4*time.Minute), "3h04m"}, {duration(50 * time.Hour), "2d02h"},
		{seconds(nil), "–"}, {when(nil), "–"}, {when((*time.Time)(nil)), "–"}, {when(time.Time{}), "–"},
		{when(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)), "2026-01-02\u00a003:04:05\u00a0UTC"},
		{ago(nil), "never"}, {clip("héllo", 2), "h…"}, {clip("short", 10), "short"},
		{symbol("succeeded"), "✓"}, {symbol("failed"), "✗"}, {symbol("proposed"), "⏸"}, {symbol("running"), "↻"},
		{symbol("paused"), "‖"}, {symbol("firing"), "!"}, {symbol("reverted"), "↶"}, {symbol("other"), "•"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	future := time.Now().Add(time.Hour + time.Minute)
	if got := ago(&future); !strings.HasPrefix(got, "in 1h0") {
		t.Errorf("ago(future) = %q", got)
	}
	pretty := funcs["pretty"].(func(json.RawMessage) string)
	if got := pretty(json.RawMessage(`{"a":1}`)); got != "{\n  \"a\": 1\n}" {
		t.Errorf("pretty %q", got)
	}
	if got := pretty(json.RawMessage(`{bad`)); got != "{bad" {
		t.Errorf("pretty of bad JSON %q", got)
	}
	if int64Of(float64(3)) != 3 || int64Of(int64(4)) != 4 || int64Of(5) != 5 || int64Of(json.Number("6")) != 6 || int64Of("7") != 0 {
		t.Errorf("int64Of")
	}
	if rows := validationRows(service.Validation{Result: []byte("not json")}); rows != nil {
		t.Errorf("validationRows of bad JSON: %v", rows)
	}
	// A chart of more series than are drawn says so.
	s := newSeries()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range maxSeries + 3 {
		s.add(fmt.Sprintf("line-%02d", i), at, float64(i))
	}
	s.sum("line-00", at, 2)
	c := s.chart("many", "Many", "line", "n")
	if c.Points != maxSeries || !strings.Contains(c.Summary, "and 3 more not drawn") || !strings.Contains(c.Summary, "line-00 2") {
		t.Errorf("chart %+v", c)
	}
	if c := newSeries().chart("none", "None", "line", "n"); c.Points != 0 || c.Summary != "" || c.Spec != `{"kind":"line","unit":"n","x":[],"series":[]}` {
		t.Errorf("an empty chart %+v", c)
	}
}

// TestQueuedRun: the page of a run that waits for its turn (no record
// yet, as Run now leads to) shows it queued and follows it.
func TestQueuedRun(t *testing.T) {
	e := newEnv(t)
	e.ui.Service.Queued = func(id string) (service.RunView, bool) {
		return service.RunView{ID: id, Pipeline: "orders", Status: metadata.StatusQueued, Trigger: "manual", Attempt: 1,
			Metrics: map[string]float64{}}, id == "run-waiting"
	}
	w := e.get("/runs/run-waiting", service.Viewer)
	body := w.Body.String()
	if w.Code != 200 || !strings.Contains(body, "s-queued") || !strings.Contains(body, `hx-get="/runs/run-waiting"`) {
		t.Fatalf("a queued run's page: %d\n%s", w.Code, body)
	}
	checkHTML(t, "queued run", body)
	if w := e.get("/runs/run-unknown", service.Viewer); w.Code != http.StatusNotFound {
		t.Errorf("an unknown run: %d", w.Code)
	}
}

// TestDoneText: the status line after a form says only what the form's
// code and a well-formed id make of it, never text from the address.
func TestDoneText(t *testing.T) {
	for _, tc := range []struct{ query, want string }{
		{"done=approve&action=7", "Action #7 approved."},
		{"done=revert&action=12", "Action #12 reverted."},
		{"done=ack&incident=inc-20261206-1", "Incident inc-20261206-1 acknowledged."},
		{"done=approve&action=7x", ""},
		{"done=Your+account+is+locked&action=7", ""},
		{"done=ack&incident=%3Cscript%3E", ""},
		{"done=ack", ""},
		{"", ""},
	} {
		r := httptest.NewRequest("GET", "/healing?"+tc.query, nil)
		if got := doneText(r); got != tc.want {
			t.Errorf("%q: %q, want %q", tc.query, got, tc.want)
		}
	}
}
