package api

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/service"
)

// The monitoring record the tests seed: three incidents, newest first
// incOpen (two alerts, two notifications), incResolved and incOlder.
const (
	incOpen     = "inc-20261106-020000-a1b2c3"
	incResolved = "inc-20261105-020000-b2c3d4"
	incOlder    = "inc-20261104-020000-c3d4e5"
)

// seedMonitoring records five alerts, three incidents, three
// notifications and two silences (one of them ended) in e's store.
func (e *env) seedMonitoring() {
	e.t.Helper()
	ctx := context.Background()
	ms, err := monitor.AsStore(e.store)
	must(e.t, err)
	at := time.Date(2026, 11, 6, 2, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, a := range []metadata.Alert{
		{Fingerprint: "f-orders-failed", Rule: "run_failed", Pipeline: "orders", Severity: "critical", State: metadata.AlertFiring,
			Summary: "orders failed", Labels: map[string]string{"pipeline": "orders", "kind": "failure"}, Value: 1, RunID: "run-2",
			IncidentID: incOpen, ActiveAt: at, FiredAt: at},
		{Fingerprint: "f-orders-fresh", Rule: "stale", Pipeline: "orders", Severity: "warning", State: metadata.AlertPending,
			Summary: "orders is stale", Labels: map[string]string{"pipeline": "orders"}, Value: 7200, ActiveAt: at},
		{Fingerprint: "f-events-failed", Rule: "run_failed", Pipeline: "events", Severity: "critical", State: metadata.AlertFiring,
			Summary: "events failed", Value: 1, IncidentID: incOpen, ActiveAt: at, FiredAt: at.Add(time.Minute)},
		{Fingerprint: "f-events-quality", Rule: "quality", Pipeline: "events", Severity: "warning", State: metadata.AlertFiring,
			Summary: "events quality dropped", Labels: map[string]string{"pipeline": "events"}, Value: 61.5, IncidentID: incOlder,
			ActiveAt: at.Add(-2 * day), FiredAt: at.Add(-2 * day)},
		{Fingerprint: "f-items-volume", Rule: "volume", Pipeline: "items", Severity: "warning", State: metadata.AlertResolved,
			Summary: "items volume fell", Labels: map[string]string{"pipeline": "items"}, Value: 0.2, IncidentID: incResolved,
			ActiveAt: at.Add(-day), FiredAt: at.Add(-day), ResolvedAt: at.Add(-day + time.Hour)},
	} {
		must(e.t, ms.SaveAlert(ctx, a))
	}
	for _, in := range []metadata.Incident{
		{ID: incOpen, Cause: "source:files", Title: "orders and events failed", Severity: "critical", State: metadata.IncidentOpen,
			Alerts: 2, OpenedAt: at, Notified: 2},
		{ID: incResolved, Cause: "alert:f-items-volume", Title: "items volume fell", Severity: "warning", State: metadata.IncidentResolved,
			Alerts: 1, OpenedAt: at.Add(-day), ResolvedAt: at.Add(-day + time.Hour), Notified: 1},
		{ID: incOlder, Cause: "diagnosis:schema_drift", Title: "events quality dropped", Severity: "warning", State: metadata.IncidentOpen,
			Alerts: 1, OpenedAt: at.Add(-2 * day)},
	} {
		must(e.t, ms.SaveIncident(ctx, in))
	}
	for i, n := range []metadata.Notification{
		{ID: "n-open-slack", IncidentID: incOpen, Receiver: "ops-slack", Status: metadata.NotificationPending, Payload: "{}", NextAt: at.Add(time.Minute)},
		{ID: "n-open-mail", IncidentID: incOpen, Receiver: "ops-mail", Status: metadata.NotificationPending, Payload: "{}"},
		{ID: "n-resolved-slack", IncidentID: incResolved, Receiver: "ops-slack", Status: metadata.NotificationPending, Payload: "{}"},
	} {
		n.CreatedAt = at.Add(time.Duration(i) * time.Second)
		added, err := ms.EnqueueNotification(ctx, n)
		must(e.t, err)
		if !added {
			e.t.Fatalf("notification %s not added", n.ID)
		}
	}
	// One was sent, one failed for good.
	must(e.t, ms.FinishNotification(ctx, metadata.Notification{ID: "n-open-mail", Status: metadata.NotificationSent, Attempts: 1,
		SentAt: at.Add(2 * time.Second)}))
	must(e.t, ms.FinishNotification(ctx, metadata.Notification{ID: "n-resolved-slack", Status: metadata.NotificationFailed, Attempts: 5,
		LastError: "slack answered 500"}))
	now := time.Now()
	must(e.t, ms.AddSilence(ctx, metadata.Silence{ID: "sil-00000000seed", Matchers: []string{`pipeline="items"`}, Comment: "migration",
		CreatedBy: "ana", StartsAt: now.Add(-time.Hour), EndsAt: now.Add(time.Hour), CreatedAt: now.Add(-time.Hour)}))
	must(e.t, ms.AddSilence(ctx, metadata.Silence{ID: "sil-000000000old", Matchers: []string{`pipeline="events"`}, Comment: "over",
		CreatedBy: "ana", StartsAt: now.Add(-3 * time.Hour), EndsAt: now.Add(-time.Hour), CreatedAt: now.Add(-3 * time.Hour)}))
}

// anonymous is a role no key has: requests "with" it send no credentials.
const anonymous service.Role = "anonymous"

// principal is the name the API records for a role's key.
func (e *env) principal(role service.Role) string {
	e.t.Helper()
	p, err := e.api.Service.Authenticate(context.Background(), e.keys[role])
	must(e.t, err)
	return p.Name
}

// TestMonitoringReads: alerts, incidents and notifications are listed
// and filtered, an incident reads with its members and notifications,
// and a wrong filter, limit or id is refused naming it.
func TestMonitoringReads(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.seedMonitoring()
	alerts := func(want ...string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			var page service.Page[service.AlertView]
			must(t, json.Unmarshal(body, &page))
			var got []string
			for _, a := range page.Items {
				got = append(got, a.Fingerprint)
			}
			if !slices.Equal(got, want) || page.NextPageToken != "" {
				t.Errorf("alerts %v (next %q), want %v", got, page.NextPageToken, want)
			}
		}
	}
	incidents := func(want ...string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			var page service.Page[service.IncidentView]
			must(t, json.Unmarshal(body, &page))
			var got []string
			for _, in := range page.Items {
				got = append(got, in.ID)
				if in.Members != nil || in.Notifications != nil {
					t.Errorf("a listed incident has its members or notifications: %+v", in)
				}
			}
			if !slices.Equal(got, want) || page.NextPageToken != "" {
				t.Errorf("incidents %v (next %q), want %v", got, page.NextPageToken, want)
			}
		}
	}
	notifications := func(want ...string) func(t *testing.T, body []byte) {
		return func(t *testing.T, body []byte) {
			var page service.Page[service.NotificationView]
			must(t, json.Unmarshal(body, &page))
			var got []string
			for _, n := range page.Items {
				got = append(got, n.ID+":"+n.Status)
			}
			if !slices.Equal(got, want) {
				t.Errorf("notifications %v, want %v", got, want)
			}
		}
	}
	for _, tc := range []struct {
		name, path string
		role       service.Role // the viewer's when empty
		want       int
		kind       string // the problem's type, when want is not 200
		field      string // the field it names
		check      func(t *testing.T, body []byte)
	}{
		{name: "all alerts, by pipeline and rule", path: "/api/v1/alerts", want: 200,
			check: alerts("f-events-quality", "f-events-failed", "f-items-volume", "f-orders-failed", "f-orders-fresh")},
		{name: "firing alerts", path: "/api/v1/alerts?state=firing", want: 200,
			check: alerts("f-events-quality", "f-events-failed", "f-orders-failed")},
		{name: "a pipeline's alerts", path: "/api/v1/alerts?pipeline=orders", want: 200, check: alerts("f-orders-failed", "f-orders-fresh")},
		{name: "both filters", path: "/api/v1/alerts?state=resolved&pipeline=items", want: 200, check: alerts("f-items-volume")},
		{name: "no alert matches", path: "/api/v1/alerts?state=pending&pipeline=events", want: 200, check: func(t *testing.T, body []byte) {
			if strings.TrimSpace(string(body)) != `{"items":[]}` {
				t.Errorf("an empty page: %s", body)
			}
		}},
		{name: "an alert's fields", path: "/api/v1/alerts?pipeline=orders&page_size=1", want: 200, check: func(t *testing.T, body []byte) {
			var page service.Page[service.AlertView]
			must(t, json.Unmarshal(body, &page))
			a := page.Items[0]
			if len(page.Items) != 1 || page.NextPageToken == "" || a.Rule != "run_failed" || a.State != "firing" || a.RunID != "run-2" ||
				a.IncidentID != incOpen || a.Labels["kind"] != "failure" || a.FiredAt == nil || a.ResolvedAt != nil {
				t.Errorf("alert %+v", page)
			}
		}},
		{name: "alerts of an unknown state", path: "/api/v1/alerts?state=asleep", want: 400, kind: ProblemInvalid, field: "state"},
		{name: "alerts of an unknown pipeline", path: "/api/v1/alerts?pipeline=nope", want: 400, kind: ProblemInvalid, field: "pipeline"},
		{name: "alerts, bad page size", path: "/api/v1/alerts?page_size=0", want: 400, kind: ProblemInvalid, field: "page_size"},
		{name: "alerts, bad page token", path: "/api/v1/alerts?page_token=xyz", want: 400, kind: ProblemInvalid, field: "page_token"},
		{name: "alerts, a filter twice", path: "/api/v1/alerts?state=firing&state=pending", want: 400, kind: ProblemInvalid, field: "state"},
		{name: "alerts without credentials", path: "/api/v1/alerts", role: anonymous, want: 401, kind: ProblemUnauthorized},

		{name: "incidents, newest first", path: "/api/v1/incidents", want: 200, check: incidents(incOpen, incResolved, incOlder)},
		{name: "open incidents", path: "/api/v1/incidents?state=open", want: 200, check: incidents(incOpen, incOlder)},
		{name: "resolved incidents", path: "/api/v1/incidents?state=resolved", want: 200, check: incidents(incResolved)},
		{name: "incidents of an unknown state", path: "/api/v1/incidents?state=closed", want: 400, kind: ProblemInvalid, field: "state"},
		{name: "an incident with its members", path: "/api/v1/incidents/" + incOpen, want: 200, check: func(t *testing.T, body []byte) {
			var in service.IncidentView
			must(t, json.Unmarshal(body, &in))
			var members, notes []string
			for _, a := range in.Members {
				members = append(members, a.Fingerprint)
			}
			for _, n := range in.Notifications {
				notes = append(notes, n.ID+":"+n.Status)
			}
			if in.ID != incOpen || in.State != "open" || in.Cause != "source:files" || in.Alerts != 2 || in.Notified != 2 || in.AckedBy != "" ||
				!slices.Equal(members, []string{"f-events-failed", "f-orders-failed"}) ||
				!slices.Equal(notes, []string{"n-open-mail:sent", "n-open-slack:pending"}) {
				t.Errorf("incident %s", body)
			}
		}},
		{name: "an incident without notifications", path: "/api/v1/incidents/" + incOlder, want: 200, check: func(t *testing.T, body []byte) {
			if !strings.Contains(string(body), `"members":[{`) || strings.Contains(string(body), `"notifications"`) {
				t.Errorf("incident %s", body)
			}
		}},
		{name: "an unknown incident", path: "/api/v1/incidents/inc-20990101-000000-ffffff", want: 404, kind: ProblemNotFound},
		{name: "an incident id with an underscore", path: "/api/v1/incidents/inc_1", want: 400, kind: ProblemInvalid, field: "id"},
		{name: "an incident id with a space", path: "/api/v1/incidents/inc%201", want: 400, kind: ProblemInvalid, field: "id"},
		{name: "an incident id with a slash", path: "/api/v1/incidents/inc%2F1", want: 400, kind: ProblemInvalid, field: "id"},
		{name: "an incident id of 65 characters", path: "/api/v1/incidents/inc-" + strings.Repeat("a", 61), want: 400, kind: ProblemInvalid, field: "id"},
		{name: "an incident id of 64 characters", path: "/api/v1/incidents/inc-" + strings.Repeat("a", 60), want: 404, kind: ProblemNotFound},

		{name: "notifications, newest first", path: "/api/v1/notifications", want: 200,
			check: notifications("n-resolved-slack:failed", "n-open-mail:sent", "n-open-slack:pending")},
		{name: "failed notifications", path: "/api/v1/notifications?status=failed", want: 200, check: func(t *testing.T, body []byte) {
			var page service.Page[service.NotificationView]
			must(t, json.Unmarshal(body, &page))
			if n := page.Items; len(n) != 1 || n[0].Attempts != 5 || n[0].LastError != "slack answered 500" || n[0].NextAt != nil {
				t.Errorf("failed notifications %s", body)
			}
		}},
		{name: "pending notifications", path: "/api/v1/notifications?status=pending", want: 200, check: func(t *testing.T, body []byte) {
			var page service.Page[service.NotificationView]
			must(t, json.Unmarshal(body, &page))
			if n := page.Items; len(n) != 1 || n[0].ID != "n-open-slack" || n[0].NextAt == nil || n[0].SentAt != nil {
				t.Errorf("pending notifications %s", body)
			}
		}},
		{name: "the newest notification", path: "/api/v1/notifications?limit=1", want: 200, check: notifications("n-resolved-slack:failed")},
		{name: "notifications of an unknown status", path: "/api/v1/notifications?status=lost", want: 400, kind: ProblemInvalid, field: "status"},
		{name: "notifications, a limit of 0", path: "/api/v1/notifications?limit=0", want: 400, kind: ProblemInvalid, field: "limit"},
		{name: "notifications, a limit too big", path: "/api/v1/notifications?limit=501", want: 400, kind: ProblemInvalid, field: "limit"},
		{name: "notifications, a limit not a number", path: "/api/v1/notifications?limit=ten", want: 400, kind: ProblemInvalid, field: "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			role := tc.role
			if role == "" {
				role = service.Viewer
			}
			code, h, body := e.do("GET", tc.path, e.keys[role], nil)
			if tc.want != 200 {
				if p := e.problem(code, h, body, tc.want, tc.kind); p.Field != tc.field {
					t.Errorf("field %q, want %q: %s", p.Field, tc.field, body)
				}
				return
			}
			if code != 200 {
				t.Fatalf("%d %s", code, body)
			}
			tc.check(t, body)
		})
	}
}

// TestMonitoringPages: alerts and incidents page by page_size and
// page_token, each item once, in order; a token of one listing is no
// token of the other.
func TestMonitoringPages(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.seedMonitoring()
	for _, tc := range []struct {
		path  string
		size  string
		pages int
		want  []string
	}{
		{"/api/v1/alerts", "2", 3, []string{"f-events-quality", "f-events-failed", "f-items-volume", "f-orders-failed", "f-orders-fresh"}},
		{"/api/v1/alerts?state=firing", "1", 3, []string{"f-events-quality", "f-events-failed", "f-orders-failed"}},
		{"/api/v1/incidents", "2", 2, []string{incOpen, incResolved, incOlder}},
		{"/api/v1/incidents?state=open", "1", 2, []string{incOpen, incOlder}},
		{"/api/v1/incidents", "3", 1, []string{incOpen, incResolved, incOlder}},
	} {
		t.Run(tc.path+"&page_size="+tc.size, func(t *testing.T) {
			e := e.in(t)
			sep := "?"
			if strings.Contains(tc.path, "?") {
				sep = "&"
			}
			var got []string
			pages, token := 0, ""
			for {
				path := tc.path + sep + "page_size=" + tc.size
				if token != "" {
					path += "&page_token=" + token
				}
				var page struct {
					Items []struct {
						ID          string `json:"id"`
						Fingerprint string `json:"fingerprint"`
					} `json:"items"`
					NextPageToken string `json:"next_page_token"`
				}
				e.get(path, service.Viewer, &page)
				pages++
				for _, it := range page.Items {
					got = append(got, it.ID+it.Fingerprint)
				}
				if token = page.NextPageToken; token == "" || pages > 10 {
					break
				}
			}
			if pages != tc.pages || !slices.Equal(got, tc.want) {
				t.Errorf("%d pages of %v, want %d of %v", pages, got, tc.pages, tc.want)
			}
		})
	}
	var alerts service.Page[service.AlertView]
	e.get("/api/v1/alerts?page_size=1", service.Viewer, &alerts)
	code, h, body := e.do("GET", "/api/v1/incidents?page_token="+alerts.NextPageToken, e.keys[service.Viewer], nil)
	if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "page_token" {
		t.Errorf("an alerts token for incidents: %+v", p)
	}
}

// TestAckIncident: an operator acknowledges an open incident, recorded
// under their name; a viewer may not; a resolved incident is a conflict,
// an unknown one not found, a malformed id or comment refused.
func TestAckIncident(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.seedMonitoring()
	operator := e.principal(service.Operator)
	ack := func(id string) string { return "/api/v1/incidents/" + id + "/ack" }
	for _, tc := range []struct {
		name, path string
		role       service.Role
		body       any
		want       int
		kind       string // the problem's type, when want is not 200
		field      string
	}{
		{"a viewer", ack(incOpen), service.Viewer, nil, 403, ProblemForbidden, ""},
		{"without credentials", ack(incOpen), anonymous, nil, 401, ProblemUnauthorized, ""},
		{"an operator, no body", ack(incOpen), service.Operator, nil, 200, "", ""},
		{"an operator, with a comment", ack(incOlder), service.Operator, AckRequest{Comment: "on it"}, 200, "", ""},
		{"an empty object", ack(incOlder), service.Operator, `{}`, 200, "", ""},
		{"white space", ack(incOlder), service.Operator, " \n", 200, "", ""},
		{"a comment of 1000 characters", ack(incOlder), service.Operator, AckRequest{Comment: strings.Repeat("é", 1000)}, 200, "", ""},
		{"a comment of 1001 characters", ack(incOlder), service.Operator, AckRequest{Comment: strings.Repeat("é", 1001)}, 400, ProblemInvalid, "comment"},
		{"a comment not a string", ack(incOlder), service.Operator, `{"comment": 5}`, 400, ProblemInvalid, "comment"},
		{"an unknown field", ack(incOlder), service.Operator, `{"by": "someone else"}`, 400, ProblemMalformed, ""},
		{"a resolved incident", ack(incResolved), service.Operator, nil, 409, ProblemConflict, ""},
		{"an unknown incident", ack("inc-20990101-000000-ffffff"), service.Operator, nil, 404, ProblemNotFound, ""},
		{"a malformed id", ack("inc;1"), service.Operator, nil, 400, ProblemInvalid, "id"},
		{"an id too long", ack(strings.Repeat("i", 65)), service.Operator, nil, 400, ProblemInvalid, "id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			code, h, body := e.do("POST", tc.path, e.keys[tc.role], tc.body)
			if tc.want != 200 {
				if p := e.problem(code, h, body, tc.want, tc.kind); p.Field != tc.field {
					t.Errorf("field %q, want %q: %s", p.Field, tc.field, body)
				}
				return
			}
			var in service.IncidentView
			if code != 200 || json.Unmarshal(body, &in) != nil || in.AckedBy != operator || in.AckedAt == nil || in.State != "open" {
				t.Fatalf("%d %s, want acknowledged by %q", code, body, operator)
			}
		})
	}
	var in service.IncidentView
	e.get("/api/v1/incidents/"+incOpen, service.Viewer, &in)
	if in.AckedBy != operator || in.AckedAt == nil || len(in.Members) != 2 {
		t.Errorf("the acknowledged incident reads %+v", in)
	}
	var resolved service.IncidentView
	e.get("/api/v1/incidents/"+incResolved, service.Viewer, &resolved)
	if resolved.AckedBy != "" {
		t.Errorf("a refused acknowledgement was recorded: %+v", resolved)
	}
	// The audit log has the acknowledgements, the refused ones too.
	audit, err := e.store.ListAudit(context.Background(), 0)
	must(t, err)
	statuses := map[int]int{}
	for _, a := range audit {
		if strings.HasSuffix(a.Path, "/ack") {
			statuses[a.Status]++
			if a.Status == 200 && a.Principal != operator {
				t.Errorf("audit entry %+v, want by %q", a, operator)
			}
		}
	}
	if statuses[200] != 5 || statuses[403] != 1 || statuses[401] != 1 || statuses[409] != 1 {
		t.Errorf("audited acknowledgements by status: %v", statuses)
	}
}

// TestSilences: an operator silences alerts by label matchers for a
// duration and ends the silence; a viewer lists them; bad matchers and
// durations are refused naming the field.
func TestSilences(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.seedMonitoring()
	operator := e.principal(service.Operator)
	valid := map[string]any{"matchers": []string{`pipeline="orders"`, `severity=~"crit.*"`}, "duration": "2h", "comment": "deploying"}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for k, v := range valid {
			m[k] = v
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	for _, tc := range []struct {
		name  string
		role  service.Role
		body  any
		want  int
		kind  string
		field string
	}{
		{"a viewer", service.Viewer, valid, 403, ProblemForbidden, ""},
		{"without matchers", service.Operator, with("matchers", nil), 400, ProblemInvalid, "matchers"},
		{"no matchers", service.Operator, with("matchers", []string{}), 400, ProblemInvalid, "matchers"},
		{"a matcher without an operator", service.Operator, with("matchers", []string{"pipeline orders"}), 400, ProblemInvalid, "matchers"},
		{"a matcher with a bad regex", service.Operator, with("matchers", []string{`pipeline=~"("`}), 400, ProblemInvalid, "matchers"},
		{"matchers not a list", service.Operator, with("matchers", `pipeline="orders"`), 400, ProblemInvalid, "matchers"},
		{"without a duration", service.Operator, with("duration", nil), 400, ProblemInvalid, "duration"},
		{"a duration in words", service.Operator, with("duration", "two hours"), 400, ProblemInvalid, "duration"},
		{"a duration in days", service.Operator, with("duration", "2d"), 400, ProblemInvalid, "duration"},
		{"a negative duration", service.Operator, with("duration", "-1h"), 400, ProblemInvalid, "duration"},
		{"a zero duration", service.Operator, with("duration", "0s"), 400, ProblemInvalid, "duration"},
		{"a duration over 90 days", service.Operator, with("duration", "2161h"), 400, ProblemInvalid, "duration"},
		{"a duration as a number", service.Operator, with("duration", 7200), 400, ProblemInvalid, "duration"},
		{"an unknown field", service.Operator, with("ends_at", "2026-12-01T00:00:00Z"), 400, ProblemMalformed, ""},
		{"no body", service.Operator, nil, 400, ProblemMalformed, ""},
		{"90 days", service.Operator, with("duration", "2160h"), 201, "", ""},
		{"an operator", service.Operator, valid, 201, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.in(t)
			code, h, body := e.do("POST", "/api/v1/silences", e.keys[tc.role], tc.body)
			if tc.want != 201 {
				if p := e.problem(code, h, body, tc.want, tc.kind); p.Field != tc.field {
					t.Errorf("field %q, want %q: %s", p.Field, tc.field, body)
				}
				return
			}
			var sl service.SilenceView
			if code != 201 || json.Unmarshal(body, &sl) != nil {
				t.Fatalf("%d %s", code, body)
			}
			want, err := time.ParseDuration(tc.body.(map[string]any)["duration"].(string))
			must(t, err)
			if !regexp.MustCompile(`^sil-[0-9a-f]{12}$`).MatchString(sl.ID) || sl.CreatedBy != operator || sl.Comment != "deploying" ||
				!slices.Equal(sl.Matchers, valid["matchers"].([]string)) || sl.EndsAt.Sub(sl.StartsAt) != want ||
				time.Since(sl.StartsAt) > time.Minute {
				t.Errorf("silence %s, want by %q for %s", body, operator, want)
			}
		})
	}

	// The two new silences and the seeded one that has not ended are
	// listed, newest first; the ended one is not.
	listed := func() []string {
		var page service.Page[service.SilenceView]
		e.get("/api/v1/silences", service.Viewer, &page)
		var ids []string
		for _, s := range page.Items {
			ids = append(ids, s.ID)
		}
		return ids
	}
	ids := listed()
	if len(ids) != 3 || ids[2] != "sil-00000000seed" || slices.Contains(ids, "sil-000000000old") {
		t.Fatalf("silences %v", ids)
	}
	newest := ids[0]

	for _, tc := range []struct {
		name, id string
		role     service.Role
		want     int
		kind     string
		field    string
	}{
		{"a viewer", newest, service.Viewer, 403, ProblemForbidden, ""},
		{"an operator", newest, service.Operator, 204, "", ""},
		{"again", newest, service.Operator, 404, ProblemNotFound, ""},
		{"an ended silence", "sil-000000000old", service.Operator, 404, ProblemNotFound, ""},
		{"an unknown silence", "sil-ffffffffffff", service.Operator, 404, ProblemNotFound, ""},
		{"a malformed id", "sil_1", service.Operator, 400, ProblemInvalid, "id"},
		{"an id with a quote", "sil-1'--", service.Operator, 400, ProblemInvalid, "id"},
		{"an id too long", "sil-" + strings.Repeat("0", 61), service.Operator, 400, ProblemInvalid, "id"},
	} {
		t.Run("delete "+tc.name, func(t *testing.T) {
			e := e.in(t)
			code, h, body := e.do("DELETE", "/api/v1/silences/"+tc.id, e.keys[tc.role], nil)
			if tc.want == 204 {
				if code != 204 || len(body) != 0 {
					t.Fatalf("%d %s", code, body)
				}
				return
			}
			if p := e.problem(code, h, body, tc.want, tc.kind); p.Field != tc.field {
				t.Errorf("field %q, want %q: %s", p.Field, tc.field, body)
			}
		})
	}
	if ids := listed(); len(ids) != 2 || slices.Contains(ids, newest) {
		t.Errorf("silences after ending %s: %v", newest, ids)
	}
}

// TestMonitoringWithoutItsStore: a metadata store that keeps no alerts
// makes every monitoring endpoint answer 503.
func TestMonitoringWithoutItsStore(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.api.Service.Store = struct{ service.Store }{e.api.Service.Store}
	for _, tc := range []struct {
		method, path string
		role         service.Role
		body         any
	}{
		{"GET", "/api/v1/alerts", service.Viewer, nil},
		{"GET", "/api/v1/incidents", service.Viewer, nil},
		{"GET", "/api/v1/incidents/" + incOpen, service.Viewer, nil},
		{"POST", "/api/v1/incidents/" + incOpen + "/ack", service.Operator, nil},
		{"GET", "/api/v1/silences", service.Viewer, nil},
		{"POST", "/api/v1/silences", service.Operator, map[string]any{"matchers": []string{`pipeline="orders"`}, "duration": "1h"}},
		{"DELETE", "/api/v1/silences/sil-0123456789ab", service.Operator, nil},
		{"GET", "/api/v1/notifications", service.Viewer, nil},
	} {
		code, h, body := e.do(tc.method, tc.path, e.keys[tc.role], tc.body)
		e.problem(code, h, body, 503, ProblemUnavailable)
	}
}

// TestOpenAPIMonitoringStatesAreTheStores: the state and status filters
// of the monitoring listings enumerate exactly the store's states.
func TestOpenAPIMonitoringStatesAreTheStores(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path, param string
		want        []string
	}{
		{"/api/v1/alerts", "state", []string{metadata.AlertPending, metadata.AlertFiring, metadata.AlertResolved}},
		{"/api/v1/incidents", "state", []string{metadata.IncidentOpen, metadata.IncidentResolved}},
		{"/api/v1/notifications", "status", []string{metadata.NotificationPending, metadata.NotificationSent, metadata.NotificationFailed}},
	} {
		item := doc.Paths.Value(tc.path)
		if item == nil || item.Get == nil {
			t.Errorf("GET %s is not in the document", tc.path)
			continue
		}
		p := item.Get.Parameters.GetByInAndName("query", tc.param)
		if p == nil {
			t.Errorf("GET %s has no %s parameter", tc.path, tc.param)
			continue
		}
		var enum []string
		for _, v := range p.Schema.Value.Enum {
			s, _ := v.(string)
			enum = append(enum, s)
		}
		if !slices.Equal(enum, tc.want) {
			t.Errorf("GET %s: %s enumerates %v, the store's are %v", tc.path, tc.param, enum, tc.want)
		}
	}
}
