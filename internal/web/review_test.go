package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

// TestQueueBeyondTheWindow: an action that waits for a person stays in
// the queue however many actions came after it, and however many wait.
func TestQueueBeyondTheWindow(t *testing.T) {
	e := newEnv(t)
	at := e.start.Add(50 * time.Hour)
	record := func(n int, status string) []int64 {
		var ids []int64
		for i := range n {
			id, err := e.store.RecordAction(e.ctx, metadata.HealingAction{RunID: "run-2", Pipeline: "orders", ObjectKey: "day.csv",
				Issue: fmt.Sprintf("issue %s %d", status, i), Category: "duplicates", Confidence: 0.6, Strategy: "quarantine_duplicates",
				Params: "{}", Before: "[]", After: "[]", Status: status, CreatedAt: at.Add(time.Duration(i) * time.Second)})
			e.must(err)
			ids = append(ids, id)
		}
		return ids
	}
	// More proposals than a page, then more applied actions than the
	// window: every proposal is older than the newest 500 actions.
	waiting := record(service.MaxPageSize+10, "proposed")
	record(service.MaxPageSize+100, "applied")

	body := e.get("/healing", service.Viewer).Body.String()
	txt := text(t, body)
	want := 4 + len(waiting)
	if !strings.Contains(txt, fmt.Sprintf("Waiting for a person (%d)", want)) {
		t.Errorf("the queue does not hold the %d waiting actions:\n%s", want, clip(txt, 2000))
	}
	for _, id := range []int64{e.acts.proposed, e.acts.proposed2, e.acts.escalated, e.acts.escalatedBare, waiting[0], waiting[len(waiting)-1]} {
		if !strings.Contains(body, fmt.Sprintf(`id="proposal-%d"`, id)) {
			t.Errorf("action #%d is not in the queue", id)
		}
	}
	// Oldest first.
	if i, j := strings.Index(body, fmt.Sprintf(`id="proposal-%d"`, e.acts.proposed)), strings.Index(body, fmt.Sprintf(`id="proposal-%d"`, waiting[0])); i < 0 || j < 0 || i > j {
		t.Errorf("the queue is not oldest first")
	}
	if !strings.Contains(txt, "are of the newest 500 actions") {
		t.Errorf("the page does not say its outcomes are of a window")
	}
}

// TestQualityBeyondTheWindow: a rule that failed in a run older than the
// newest 500 validation results is still drawn, and its drill-down still
// shows the failure, as the rules' counts do.
func TestQualityBeyondTheWindow(t *testing.T) {
	e := newEnv(t)
	// A later run of orders with more objects than a page, every one
	// passing: run-2's failure is older than the newest 500 results.
	start := e.start.Add(60 * time.Hour)
	e.must(e.store.CreateRun(e.ctx, metadata.Run{ID: "run-big", Pipeline: "orders", StartedAt: start, Trigger: "scheduled", Attempt: 1}))
	n := service.MaxPageSize + 1
	for i := range n {
		at := start.Add(time.Duration(i) * time.Millisecond)
		e.must(e.store.RecordTask(e.ctx, metadata.TaskAttempt{RunID: "run-big", Task: fmt.Sprintf("load part-%03d.csv", i), Attempt: 1,
			Status: "succeeded", StartedAt: at, EndedAt: at.Add(time.Second), RowsIn: 10, RowsLoaded: 10,
			Detail: `{"quality_score": 100, "validation": ` + passing + `}`}))
	}
	e.must(e.store.FinishRun(e.ctx, metadata.Run{ID: "run-big", Pipeline: "orders", StartedAt: start, Status: metadata.StatusSucceeded,
		EndedAt: start.Add(time.Minute), RowsIn: int64(10 * n), RowsLoaded: int64(10 * n), InvariantOK: true,
		Metrics: map[string]float64{"quality_score": 100}}))

	rule := "/quality/rule?pipeline=orders&rule=" + url.QueryEscape("expect_column_values_to_be_in_set(region)")
	txt := text(t, e.get(rule, service.Viewer).Body.String())
	for _, s := range []string{"run-2", "APAC", "<mars>", "40 of 200", "1 failed and 502 passed on record", "The 402 oldest passes are not listed"} {
		if !strings.Contains(txt, s) {
			t.Errorf("the rule's page does not say %q:\n%s", s, clip(txt, 2000))
		}
	}
	body := e.get("/quality?pipeline=orders", service.Viewer).Body.String()
	if strings.Contains(body, "No rule failed in the runs on record.") || !strings.Contains(body, `id="chart-failing"`) {
		t.Errorf("the failing rules' chart lost run-2's failure:\n%s", clip(text(t, body), 2000))
	}
	// A run's own page shows all its results.
	if txt := text(t, e.get("/runs/run-big", service.Viewer).Body.String()); strings.Count(txt, "part-500.csv") < 2 {
		t.Errorf("the run's page does not show its last object's results")
	}
}

// TestSuccessRateCountsADecisionOnce: an approved hold and the applied
// action that released its batch are one decision.
func TestSuccessRateCountsADecisionOnce(t *testing.T) {
	e := newEnv(t)
	at := e.start.Add(50 * time.Hour)
	approval, err := e.store.RecordAction(e.ctx, metadata.HealingAction{RunID: "run-2", Pipeline: "orders", Issue: "volume dropped",
		Category: "volume_anomaly", Strategy: "hold", Params: `{"batch":"b1"}`, Before: "[]", After: "[]", Status: "proposed", CreatedAt: at})
	e.must(err)
	e.must(e.store.DecideAction(e.ctx, approval, "approved", "ana", "expected"))
	_, err = e.store.RecordAction(e.ctx, metadata.HealingAction{RunID: "run-2", Pipeline: "orders", Issue: "volume dropped",
		Category: "volume_anomaly", Strategy: "hold", Params: `{"batch":"b1"}`, Before: "[]", After: "[]", Status: "applied",
		ApprovedBy: fmt.Sprintf("ana (approval of action #%d)", approval), Reason: "commit released: a person approved this batch",
		CreatedAt: at.Add(time.Hour)})
	e.must(err)
	// Seeded: one applied, one reverted; now one approved hold, released.
	txt := text(t, e.get("/healing", service.Viewer).Body.String())
	if !strings.Contains(txt, "Success rate 66.7% of 3 decided actions") {
		t.Errorf("the success rate counts the released hold twice:\n%s", clip(txt, 2000))
	}

	view := func(id int64, strategy, status, by string) service.ActionView {
		return service.ActionView{ID: id, Strategy: strategy, Status: status, ApprovedBy: by}
	}
	for _, tc := range []struct {
		name    string
		acts    []service.ActionView
		ok, bad int
	}{
		{"approval and release", []service.ActionView{view(9, "hold", "applied", "ana (approval of action #4)"), view(4, "hold", "approved", "ana")}, 1, 0},
		{"the approval beyond the window", []service.ActionView{view(9, "hold", "applied", "ana (approval of action #4)")}, 1, 0},
		{"a release of another approval", []service.ActionView{view(9, "hold", "applied", "ana (approval of action #5)"), view(4, "hold", "approved", "ana")}, 2, 0},
		{"not a hold", []service.ActionView{view(9, "normalize_to_value_set", "applied", "ana (approval of action #4)"), view(4, "hold", "approved", "ana")}, 2, 0},
		{"undone", []service.ActionView{view(1, "x", "reverted", ""), view(2, "x", "rejected", ""), view(3, "x", "failed", ""),
			view(4, "x", "rolled_back", ""), view(5, "x", "resolved", ""), view(6, "x", "proposed", ""), view(7, "x", "dry_run", "")}, 1, 4},
	} {
		if ok, bad := successRate(tc.acts); ok != tc.ok || bad != tc.bad {
			t.Errorf("%s: %d ok, %d bad; want %d, %d", tc.name, ok, bad, tc.ok, tc.bad)
		}
	}
}

// TestStrategyChart: the Self-Healing page draws the actions over time by
// strategy, beside the outcomes, and says the same in words.
func TestStrategyChart(t *testing.T) {
	e := newEnv(t)
	body := e.get("/healing", service.Viewer).Body.String()
	doc, err := html.Parse(strings.NewReader(body))
	e.must(err)
	var spec string
	var walk func(n *html.Node, in bool)
	walk = func(n *html.Node, in bool) {
		if n.Type == html.ElementNode && n.Data == "figure" && attr(n, "id") == "chart-strategies" {
			in = true
		}
		if in && n.Type == html.ElementNode && attr(n, "data-spec") != "" {
			spec = attr(n, "data-spec")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, in)
		}
	}
	walk(doc, false)
	for _, s := range []string{`"kind":"bars"`, `"label":"normalize_to_value_set"`, `"label":"parse_date_format"`, `"label":"quarantine_duplicates"`} {
		if !strings.Contains(spec, s) {
			t.Errorf("the strategies chart's data %q lacks %s", spec, s)
		}
	}
	if txt := text(t, body); !strings.Contains(txt, "Healing actions per day by strategy") || !strings.Contains(txt, "normalize_to_value_set 3") {
		t.Errorf("the strategies chart's caption and summary:\n%s", clip(txt, 3000))
	}
}

// TestPipelineIncidents: a pipeline's page lists the open incidents its
// alerts joined, not another pipeline's, nor resolved ones.
func TestPipelineIncidents(t *testing.T) {
	e := newEnv(t)
	ms := e.store.(interface {
		SaveAlert(context.Context, metadata.Alert) error
		SaveIncident(context.Context, metadata.Incident) error
	})
	now := time.Now().UTC()
	e.must(ms.SaveIncident(e.ctx, metadata.Incident{ID: "inc-ev", Cause: "source:db", Title: "the database is down", Severity: "warning",
		State: metadata.IncidentOpen, Alerts: 1, OpenedAt: now.Add(-30 * time.Minute)}))
	e.must(ms.SaveAlert(e.ctx, metadata.Alert{Fingerprint: "fp-ev", Rule: "run_failed", Pipeline: "events", Severity: "warning",
		State: metadata.AlertFiring, Summary: "events failed", IncidentID: "inc-ev", ActiveAt: now.Add(-30 * time.Minute),
		FiredAt: now.Add(-30 * time.Minute), EvaluatedAt: now}))
	e.must(ms.SaveIncident(e.ctx, metadata.Incident{ID: "inc-old", Cause: "run:run-0", Title: "an old outage", Severity: "critical",
		State: metadata.IncidentResolved, Alerts: 1, OpenedAt: now.Add(-48 * time.Hour), ResolvedAt: now.Add(-47 * time.Hour)}))
	e.must(ms.SaveAlert(e.ctx, metadata.Alert{Fingerprint: "fp-old", Rule: "data_stale", Pipeline: "orders", Severity: "critical",
		State: metadata.AlertResolved, Summary: "orders was stale", IncidentID: "inc-old", ActiveAt: now.Add(-48 * time.Hour),
		FiredAt: now.Add(-48 * time.Hour), ResolvedAt: now.Add(-47 * time.Hour), EvaluatedAt: now}))

	for _, tc := range []struct {
		pipeline  string
		want, not []string
	}{
		{"orders", []string{"inc-1"}, []string{"inc-ev", "inc-old"}},
		{"events", []string{"inc-ev"}, []string{"inc-1", "inc-old"}},
		{"items", nil, []string{"inc-1", "inc-ev", "inc-old"}},
	} {
		body := e.get("/pipelines/"+tc.pipeline, service.Viewer).Body.String()
		for _, id := range tc.want {
			if !strings.Contains(body, `href="/alerts#incident-`+id+`"`) {
				t.Errorf("%s does not list incident %s:\n%s", tc.pipeline, id, clip(text(t, body), 2000))
			}
		}
		for _, id := range tc.not {
			if strings.Contains(body, "incident-"+id) {
				t.Errorf("%s lists incident %s", tc.pipeline, id)
			}
		}
	}
	if txt := text(t, e.get("/pipelines/orders", service.Viewer).Body.String()); !strings.Contains(txt, "inc-1 • critical orders failed 1") {
		t.Errorf("the incident's row:\n%s", clip(txt, 2000))
	}
	if txt := text(t, e.get("/pipelines/items", service.Viewer).Body.String()); !strings.Contains(txt, "No open incident holds an alert of this pipeline.") {
		t.Errorf("a pipeline without incidents:\n%s", clip(txt, 2000))
	}
}

// loginForm reads a sign-in page's token: its cookie and its field.
func loginForm(t *testing.T, w *httptest.ResponseRecorder) (cookie *http.Cookie, field string) {
	t.Helper()
	cookie = cookieOf(w, loginCookie)
	if cookie == nil {
		t.Fatalf("the sign-in page sets no %s cookie: %v", loginCookie, w.Header())
	}
	m := regexp.MustCompile(`<input type="hidden" name="csrf" value="([^"]*)">`).FindStringSubmatch(w.Body.String())
	if m == nil {
		t.Fatalf("the sign-in form has no csrf field:\n%s", w.Body)
	}
	return cookie, m[1]
}

// TestLoginCSRF: a sign-in must carry the token its form's page set in
// the browser; a missing, wrong or another browser's token is refused,
// even from a client that sends neither Origin nor Sec-Fetch-Site.
func TestLoginCSRF(t *testing.T) {
	e := newEnv(t)
	w := e.get("/login?next=/alerts", "")
	cookie, field := loginForm(t, w)
	if !cookie.HttpOnly || !cookie.Secure || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/login" ||
		cookie.MaxAge <= 0 || cookie.MaxAge > 3600 || cookie.Value == "" || cookie.Value != field {
		t.Errorf("the sign-in cookie %+v, field %q", cookie, field)
	}
	// The same browser keeps its token (two tabs with the form both work).
	r := e.request("GET", "/login", "", nil)
	r.AddCookie(cookie)
	if c, f := loginForm(t, e.serve(r)); c.Value != cookie.Value || f != field {
		t.Errorf("the token changed: %q %q", c.Value, f)
	}
	// Another browser gets another.
	other, otherField := loginForm(t, e.get("/login", ""))
	if other.Value == cookie.Value {
		t.Fatal("two browsers have one token")
	}

	post := func(c *http.Cookie, form url.Values) *httptest.ResponseRecorder {
		form.Set("key", e.keys[service.Operator])
		form.Set("next", "/alerts")
		r := httptest.NewRequest("POST", "/login", strings.NewReader(form.Encode()))
		r.Host = "localhost"
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if c != nil {
			r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		return e.serve(r)
	}
	for _, tc := range []struct {
		name   string
		cookie *http.Cookie
		form   url.Values
	}{
		{"no token", nil, url.Values{}},
		{"no field", cookie, url.Values{}},
		{"an empty field", cookie, url.Values{csrfField: {""}}},
		{"no cookie", nil, url.Values{csrfField: {field}}},
		{"a wrong field", cookie, url.Values{csrfField: {field[:len(field)-1] + "A"}}},
		{"another browser's field", cookie, url.Values{csrfField: {otherField}}},
		{"another browser's cookie", other, url.Values{csrfField: {field}}},
		{"a made-up pair", &http.Cookie{Name: loginCookie, Value: "x"}, url.Values{csrfField: {"x"}}},
	} {
		w := post(tc.cookie, tc.form)
		if w.Code != http.StatusForbidden || cookieOf(w, sessionCookie) != nil || !strings.Contains(w.Body.String(), "sign in again") {
			t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
		}
		// The answer is the form again, with a token to sign in with.
		loginForm(t, w)
	}
	w = post(cookie, url.Values{csrfField: {field}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/alerts" {
		t.Fatalf("the right token: %d %s", w.Code, w.Body)
	}
	checkSessionCookie(t, w.Header())
}

// TestFormBodyLimit: a form larger than the limit is refused whole, with
// 413, before anyone reads it; the sign-in too.
func TestFormBodyLimit(t *testing.T) {
	e := newEnv(t)
	big := strings.Repeat("x", MaxFormBytes+1)
	w := e.post("/login", "", url.Values{"key": {big}})
	if w.Code != http.StatusRequestEntityTooLarge || cookieOf(w, sessionCookie) != nil || !strings.Contains(w.Body.String(), "larger than") {
		t.Errorf("a sign-in too large: %d %s", w.Code, w.Body)
	}
	approve := fmt.Sprintf("/healing/actions/%d/approve", e.acts.proposed)
	if w := e.post(approve, service.Operator, url.Values{"reason": {big}}); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a form too large: %d %s", w.Code, w.Body)
	}
	if a := e.action(e.acts.proposed); a.Status != "proposed" {
		t.Errorf("a form too large changed the action: %+v", a)
	}
	// api.max_body_bytes, when less, is the limit.
	e.svc.Project.Config.API.MaxBodyBytes = 2000
	if w := e.post(approve, service.Operator, url.Values{"reason": {strings.Repeat("y", 2000)}}); w.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a form over api.max_body_bytes: %d", w.Code)
	}
	e.svc.Project.Config.API.MaxBodyBytes = 0
	// A form that does not parse.
	r := httptest.NewRequest("POST", approve, strings.NewReader("reason=%zz&csrf="+e.csrf[service.Operator]))
	r.Host = "localhost"
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.AddCookie(&http.Cookie{Name: sessionCookie, Value: e.tokens[service.Operator]})
	if w := e.serve(r); w.Code != http.StatusBadRequest {
		t.Errorf("a form that does not parse: %d %s", w.Code, w.Body)
	}
	// Forms within the limit go through.
	if w := e.post(approve, service.Operator, url.Values{"reason": {strings.Repeat("z", 1000)}}); w.Code != http.StatusSeeOther {
		t.Errorf("a form within the limit: %d %s", w.Code, w.Body)
	}
}

// TestAllPagesIsBounded: a listing that never ends is read for
// maxReadPages pages, no more; one that ends is read to its end.
func TestAllPagesIsBounded(t *testing.T) {
	calls := 0
	got, err := allPages(func(token string) (service.Page[int], error) {
		calls++
		return service.Page[int]{Items: []int{calls}, NextPageToken: fmt.Sprint(calls)}, nil
	})
	if err != nil || len(got) != maxReadPages || calls != maxReadPages {
		t.Errorf("an endless listing: %d items, %d calls, %v", len(got), calls, err)
	}
	calls = 0
	got, err = allPages(func(token string) (service.Page[int], error) {
		calls++
		next := ""
		if calls < 3 {
			next = fmt.Sprint(calls)
		}
		return service.Page[int]{Items: []int{calls}, NextPageToken: next}, nil
	})
	if err != nil || len(got) != 3 {
		t.Errorf("a listing of three pages: %v %v", got, err)
	}
}

// TestFreshnessFollowsTheStaleRule: the overview and a pipeline's page
// show freshness against the limit the stale rule uses (StaleLimit),
// stale past it; without one, against twice the schedule's interval.
func TestFreshnessFollowsTheStaleRule(t *testing.T) {
	e := newEnv(t)
	if body := e.get("/", service.Viewer).Body.String(); !strings.Contains(body, "within 2d00h") {
		t.Fatalf("the schedule's limit is not shown:\n%s", body)
	}
	var asked []string
	e.ui.StaleLimit = func(pipeline string, s *scheduler.Schedule, now time.Time) time.Duration {
		asked = append(asked, pipeline)
		return time.Millisecond // so short that every pipeline is stale
	}
	body := e.get("/", service.Viewer).Body.String()
	if !strings.Contains(body, "stale</span> (expected within 1ms)") || !slices.Contains(asked, "orders") {
		t.Errorf("the stale rule's limit is not shown (asked for %v):\n%s", asked, body)
	}
	if body := e.get("/pipelines/orders", service.Viewer).Body.String(); !strings.Contains(body, "expected within 1ms") {
		t.Errorf("the pipeline page:\n%s", body)
	}
}
