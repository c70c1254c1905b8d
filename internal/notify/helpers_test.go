package notify

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// testStart is when the sample incident started.
var testStart = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// testNow is the clock of the receivers under test.
var testNow = time.Date(2026, 3, 1, 10, 30, 0, 0, time.UTC)

// sample returns a firing critical notification about one failed run.
func sample() Notification {
	return Notification{
		ID:         "ntf-7f3a",
		IncidentID: "inc-42",
		Status:     StatusFiring,
		Severity:   SeverityCritical,
		Title:      "orders_daily failed: source orders_db unreachable",
		Summary:    "Run r-1001 of pipeline orders_daily failed in step extract.",
		Cause:      `source "orders_db" unreachable`,
		Pipelines:  []string{"orders_daily"},
		Runs:       []string{"r-1001"},
		Diagnosis:  "connectivity",
		Confidence: 0.87,
		Healing:    "a retry is proposed once orders_db answers",
		Commands:   []string{"shp healing approve 42", "shp run orders_daily --retry r-1001"},
		Link:       "https://shp.example.com/incidents/inc-42",
		Labels:     map[string]string{"pipeline": "orders_daily", "severity": "critical", "rule": "run_failed"},
		Alerts: []Alert{{
			Fingerprint: "a1b2c3d4e5f60718",
			Rule:        "run_failed",
			Pipeline:    "orders_daily",
			Severity:    SeverityCritical,
			Status:      StatusFiring,
			Summary:     "run r-1001 failed",
			Description: "extract: dial tcp 10.0.0.5:5432: connection refused",
			Labels:      map[string]string{"pipeline": "orders_daily", "severity": "critical", "rule": "run_failed", "team": "data"},
			StartsAt:    testStart,
		}},
		StartsAt:   testStart,
		Suppressed: 3,
	}
}

// resolved returns the sample notification, resolved.
func resolved() Notification {
	n := sample()
	n.ID = "ntf-7f3b"
	n.Status = StatusResolved
	n.EndsAt = testStart.Add(20 * time.Minute)
	n.Alerts[0].Status = StatusResolved
	n.Alerts[0].EndsAt = n.EndsAt
	return n
}

// request is what a test HTTP server received.
type request struct {
	Method string
	Path   string
	Query  string
	Header http.Header
	Body   []byte
}

// recorder is an HTTP server recording requests and answering with status
// and body (202 and nothing by default).
type recorder struct {
	*httptest.Server
	mu       sync.Mutex
	requests []request
	status   int
	body     string
	header   map[string]string
}

// newRecorder starts a recorder, closed when the test ends.
func newRecorder(t *testing.T, status int, body string) *recorder {
	t.Helper()
	rec := &recorder{status: status, body: body}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.requests = append(rec.requests, request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: data})
		status, body, header := rec.status, rec.body, rec.header
		rec.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		if status == 0 {
			status = http.StatusAccepted
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(rec.Close)
	return rec
}

// set changes the reply to the next requests.
func (r *recorder) set(status int, body string, header map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.status, r.body, r.header = status, body, header
}

// got returns the requests received.
func (r *recorder) got() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.requests...)
}

// only returns the one request received, failing the test otherwise.
func (r *recorder) only(t *testing.T) request {
	t.Helper()
	got := r.got()
	if len(got) != 1 {
		t.Fatalf("the server got %d requests, want 1", len(got))
	}
	return got[0]
}

// mustNew builds a receiver, failing the test on an error.
func mustNew(t *testing.T, cfg ReceiverConfig) Notifier {
	t.Helper()
	n, err := New(cfg, Options{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatalf("New(%s %q): %v", cfg.Type, cfg.Name, err)
	}
	return n
}

// assertNoSecret fails the test when err's message holds any of secrets.
func assertNoSecret(t *testing.T, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("want an error, got nil")
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("the error shows the secret %q: %v", s, err)
		}
	}
}

// asSendError returns err's *SendError, failing the test without one.
func asSendError(t *testing.T, err error) *SendError {
	t.Helper()
	var se *SendError
	if !errors.As(err, &se) {
		t.Fatalf("want a *SendError, got %T: %v", err, err)
	}
	return se
}

// cancelled returns a context that is already cancelled.
func cancelled() context.Context {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	return ctx
}
