package notify

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// amPostableAlert copies postableAlert of Alertmanager's API v2
// (api/v2/openapi.yaml): startsAt, endsAt and annotations, with alert's
// labels (required) and generatorURL (a URI).
type amPostableAlert struct {
	StartsAt     string            `json:"startsAt,omitempty"`
	EndsAt       string            `json:"endsAt,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	Labels       map[string]string `json:"labels"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// postAlerts sends n to an alertmanager receiver at the base URL path and
// returns the decoded alerts and the request.
func postAlerts(t *testing.T, base string, n Notification) ([]amPostableAlert, request) {
	t.Helper()
	srv := newRecorder(t, http.StatusOK, "")
	am := mustNew(t, ReceiverConfig{Name: "am", Type: "alertmanager", Settings: map[string]any{
		"url": srv.URL + base, "bearer_token": "am-token-1",
	}})
	if err := am.Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	req := srv.only(t)
	var alerts []amPostableAlert
	dec := json.NewDecoder(bytes.NewReader(req.Body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&alerts); err != nil {
		t.Fatalf("the body is not a list of postable alerts: %v\n%s", err, req.Body)
	}
	for i, a := range alerts {
		if len(a.Labels) == 0 {
			t.Errorf("alerts[%d] has no labels", i)
		}
		if a.GeneratorURL != "" {
			if u, err := url.Parse(a.GeneratorURL); err != nil || !u.IsAbs() {
				t.Errorf("alerts[%d].generatorURL %q is not a URI", i, a.GeneratorURL)
			}
		}
		for _, ts := range []string{a.StartsAt, a.EndsAt} {
			if _, err := time.Parse(time.RFC3339Nano, ts); ts != "" && err != nil {
				t.Errorf("alerts[%d]: %q is not a date-time", i, ts)
			}
		}
	}
	return alerts, req
}

func TestAlertmanagerFiring(t *testing.T) {
	for _, base := range []string{"", "/", "/alertmanager"} {
		t.Run("base "+base, func(t *testing.T) {
			alerts, req := postAlerts(t, base, sample())
			wantPath := "/api/v2/alerts"
			if base == "/alertmanager" {
				wantPath = "/alertmanager/api/v2/alerts"
			}
			if req.Method != http.MethodPost || req.Path != wantPath {
				t.Errorf("request %s %s, want POST %s", req.Method, req.Path, wantPath)
			}
			if req.Header.Get("Content-Type") != "application/json" || req.Header.Get("Authorization") != "Bearer am-token-1" {
				t.Errorf("headers %v", req.Header)
			}
			if len(alerts) != 1 {
				t.Fatalf("%d alerts", len(alerts))
			}
			a := alerts[0]
			for k, v := range map[string]string{"alertname": "run_failed", "pipeline": "orders_daily", "severity": "critical",
				"incident": "inc-42", "team": "data"} {
				if a.Labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
				}
			}
			for k, v := range map[string]string{"summary": "run r-1001 failed", "description": "extract: dial tcp 10.0.0.5:5432: connection refused",
				"cause": `source "orders_db" unreachable`, "commands": "shp healing approve 42\nshp run orders_daily --retry r-1001"} {
				if a.Annotations[k] != v {
					t.Errorf("annotation %s = %q, want %q", k, a.Annotations[k], v)
				}
			}
			if a.StartsAt != "2026-03-01T10:00:00Z" || a.GeneratorURL != "https://shp.example.com/incidents/inc-42" {
				t.Errorf("startsAt %q generatorURL %q", a.StartsAt, a.GeneratorURL)
			}
			// A firing alert has no endsAt: Alertmanager resolves it when
			// it is not posted again.
			if bytes.Contains(req.Body, []byte("endsAt")) {
				t.Errorf("a firing alert is posted with endsAt:\n%s", req.Body)
			}
		})
	}
}

func TestAlertmanagerResolved(t *testing.T) {
	n := resolved()
	extra := n.Alerts[0]
	extra.EndsAt, extra.Rule = time.Time{}, "freshness"
	n.EndsAt = time.Time{}
	n.Alerts = append(n.Alerts, extra)
	alerts, _ := postAlerts(t, "", n)
	if len(alerts) != 2 {
		t.Fatalf("%d alerts", len(alerts))
	}
	if alerts[0].EndsAt != "2026-03-01T10:20:00Z" {
		t.Errorf("alerts[0].endsAt = %q", alerts[0].EndsAt)
	}
	// Resolved with no end known: it ends now.
	if alerts[1].EndsAt != testNow.Format(time.RFC3339) || alerts[1].Labels["alertname"] != "freshness" {
		t.Errorf("alerts[1] = %+v", alerts[1])
	}
}

func TestAlertmanagerRejects(t *testing.T) {
	srv := newRecorder(t, http.StatusBadRequest, `{"code":400,"message":"start time must be before end time"}`)
	am := mustNew(t, ReceiverConfig{Name: "am", Type: "alertmanager", Settings: map[string]any{"url": srv.URL}})
	err := am.Notify(t.Context(), sample())
	if err == nil || Retryable(err) || asSendError(t, err).StatusCode != 400 {
		t.Errorf("Notify = %v", err)
	}
	srv.set(http.StatusServiceUnavailable, "", nil)
	if err := am.Notify(t.Context(), sample()); !Retryable(err) {
		t.Errorf("a 503 is not retryable: %v", err)
	}
}
