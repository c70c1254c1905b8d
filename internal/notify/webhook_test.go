package notify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The types below copy Alertmanager's webhook message field for field:
// notify/webhook/webhook.go Message, which embeds template/template.go
// Data, whose alerts are template.Alert. A body that decodes into them
// with unknown fields refused is what Alertmanager sends.

// amKV is Alertmanager's template.KV.
type amKV map[string]string

// amTemplateAlert is Alertmanager's template.Alert.
type amTemplateAlert struct {
	Status       string    `json:"status"`
	Labels       amKV      `json:"labels"`
	Annotations  amKV      `json:"annotations"`
	StartsAt     time.Time `json:"startsAt"`
	EndsAt       time.Time `json:"endsAt"`
	GeneratorURL string    `json:"generatorURL"`
	Fingerprint  string    `json:"fingerprint"`
}

// amTemplateData is Alertmanager's template.Data.
type amTemplateData struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []amTemplateAlert `json:"alerts"`
	GroupLabels       amKV              `json:"groupLabels"`
	CommonLabels      amKV              `json:"commonLabels"`
	CommonAnnotations amKV              `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
}

// amWebhookMessage is Alertmanager's webhook.Message.
type amWebhookMessage struct {
	*amTemplateData
	Version         string `json:"version"`
	GroupKey        string `json:"groupKey"`
	TruncatedAlerts uint64 `json:"truncatedAlerts"`
}

var hexFingerprint = regexp.MustCompile(`^[0-9a-f]{16}$`)

// decodeWebhook decodes a webhook body strictly, and checks that every
// field Alertmanager always sends is there.
func decodeWebhook(t *testing.T, body []byte) amWebhookMessage {
	t.Helper()
	// encoding/json fills an embedded pointer to an unexported type only
	// when it is set.
	msg := amWebhookMessage{amTemplateData: &amTemplateData{}}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		t.Fatalf("the body is not an Alertmanager webhook message: %v\n%s", err, body)
	}
	var raw struct {
		Top    map[string]json.RawMessage
		Alerts []map[string]json.RawMessage `json:"alerts"`
	}
	_ = json.Unmarshal(body, &raw.Top)
	_ = json.Unmarshal(body, &raw)
	for _, k := range []string{"receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
		"externalURL", "version", "groupKey", "truncatedAlerts"} {
		if v, ok := raw.Top[k]; !ok || string(v) == "null" {
			t.Errorf("the message lacks %s", k)
		}
	}
	for i, a := range raw.Alerts {
		for _, k := range []string{"status", "labels", "annotations", "startsAt", "endsAt", "generatorURL", "fingerprint"} {
			if v, ok := a[k]; !ok || string(v) == "null" {
				t.Errorf("alerts[%d] lacks %s", i, k)
			}
		}
	}
	return msg
}

func TestWebhookFiring(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, "")
	w := mustNew(t, ReceiverConfig{Name: "ops-hook", Type: "webhook", Settings: map[string]any{
		"url":          srv.URL + "/alerts/shp",
		"bearer_token": "tok-123456",
		"headers":      map[string]any{"X-Api-Key": "key-abcdef", "X-Team": "data"},
	}})
	if err := w.Notify(t.Context(), sample()); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	req := srv.only(t)
	if req.Method != http.MethodPost || req.Path != "/alerts/shp" {
		t.Errorf("request %s %s", req.Method, req.Path)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/json", "Idempotency-Key": "ntf-7f3a", "Authorization": "Bearer tok-123456",
		"X-Api-Key": "key-abcdef", "X-Team": "data",
	} {
		if got := req.Header.Get(name); got != want {
			t.Errorf("header %s = %q, want %q", name, got, want)
		}
	}

	msg := decodeWebhook(t, req.Body)
	if msg.Version != "4" || msg.Status != "firing" || msg.Receiver != "ops-hook" || msg.TruncatedAlerts != 0 {
		t.Errorf("version %q status %q receiver %q truncated %d", msg.Version, msg.Status, msg.Receiver, msg.TruncatedAlerts)
	}
	if msg.GroupKey != `{}:{incident="inc-42"}` || msg.GroupLabels["incident"] != "inc-42" {
		t.Errorf("groupKey %q groupLabels %v", msg.GroupKey, msg.GroupLabels)
	}
	for k, v := range msg.GroupLabels {
		if msg.CommonLabels[k] != v {
			t.Errorf("group label %s=%s is not a common label: %v", k, v, msg.CommonLabels)
		}
	}
	if msg.CommonLabels["pipeline"] != "orders_daily" || msg.CommonLabels["severity"] != "critical" {
		t.Errorf("commonLabels = %v", msg.CommonLabels)
	}
	wantAnn := amKV{
		"title": "orders_daily failed: source orders_db unreachable", "summary": "Run r-1001 of pipeline orders_daily failed in step extract.",
		"cause": `source "orders_db" unreachable`, "diagnosis": "connectivity", "confidence": "0.87",
		"healing": "a retry is proposed once orders_db answers", "commands": "shp healing approve 42\nshp run orders_daily --retry r-1001",
		"pipelines": "orders_daily", "runs": "r-1001", "suppressed": "3",
	}
	for k, v := range wantAnn {
		if msg.CommonAnnotations[k] != v {
			t.Errorf("commonAnnotations[%s] = %q, want %q", k, msg.CommonAnnotations[k], v)
		}
	}
	if msg.ExternalURL != "https://shp.example.com/incidents/inc-42" {
		t.Errorf("externalURL = %q", msg.ExternalURL)
	}

	if len(msg.Alerts) != 1 {
		t.Fatalf("%d alerts", len(msg.Alerts))
	}
	a := msg.Alerts[0]
	wantLabels := amKV{"alertname": "run_failed", "rule": "run_failed", "pipeline": "orders_daily", "severity": "critical",
		"incident": "inc-42", "team": "data"}
	if fmt.Sprint(a.Labels) != fmt.Sprint(wantLabels) {
		t.Errorf("labels = %v, want %v", a.Labels, wantLabels)
	}
	if a.Status != "firing" || a.Annotations["summary"] != "run r-1001 failed" ||
		a.Annotations["description"] != "extract: dial tcp 10.0.0.5:5432: connection refused" {
		t.Errorf("alert status %q annotations %v", a.Status, a.Annotations)
	}
	if !a.StartsAt.Equal(testStart) || !a.EndsAt.IsZero() || a.Fingerprint != "a1b2c3d4e5f60718" ||
		a.GeneratorURL != "https://shp.example.com/incidents/inc-42" {
		t.Errorf("alert startsAt %v endsAt %v fingerprint %q generatorURL %q", a.StartsAt, a.EndsAt, a.Fingerprint, a.GeneratorURL)
	}
	// Alertmanager sends a firing alert's endsAt as the zero time.
	if !bytes.Contains(req.Body, []byte(`"startsAt":"2026-03-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z"`)) {
		t.Errorf("the times are not RFC 3339 as Alertmanager writes them:\n%s", req.Body)
	}
}

func TestWebhookResolvedAndTruncated(t *testing.T) {
	srv := newRecorder(t, http.StatusNoContent, "")
	w := mustNew(t, ReceiverConfig{Name: "ops-hook", Type: "webhook", Settings: map[string]any{
		"url": srv.URL, "max_alerts": 2,
	}})
	n := resolved()
	n.ID = ""
	second := n.Alerts[0]
	second.Fingerprint, second.EndsAt, second.Pipeline = "", time.Time{}, "orders_hourly"
	third := second
	third.Pipeline = "orders_weekly"
	n.Alerts = append(n.Alerts, second, third)
	if err := w.Notify(t.Context(), n); err != nil {
		t.Fatalf("Notify: %v", err)
	}
	req := srv.only(t)
	if _, ok := req.Header["Idempotency-Key"]; ok {
		t.Error("a notification without an ID is sent with an Idempotency-Key")
	}
	msg := decodeWebhook(t, req.Body)
	if msg.Status != "resolved" || len(msg.Alerts) != 2 || msg.TruncatedAlerts != 1 {
		t.Fatalf("status %q, %d alerts, %d truncated", msg.Status, len(msg.Alerts), msg.TruncatedAlerts)
	}
	if !msg.Alerts[0].EndsAt.Equal(testStart.Add(20 * time.Minute)) {
		t.Errorf("alerts[0].endsAt = %v", msg.Alerts[0].EndsAt)
	}
	// An alert resolved without an end ends when the incident does.
	if !msg.Alerts[1].EndsAt.Equal(n.EndsAt) {
		t.Errorf("alerts[1].endsAt = %v, want %v", msg.Alerts[1].EndsAt, n.EndsAt)
	}
	if fp := msg.Alerts[1].Fingerprint; !hexFingerprint.MatchString(fp) || fp == msg.Alerts[0].Fingerprint {
		t.Errorf("a fingerprint made for an alert without one = %q", fp)
	}
}

// TestWebhookNotificationWithoutAlerts checks that a notification without
// alerts is sent as one alert made of the notification.
func TestWebhookNotificationWithoutAlerts(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, "")
	w := mustNew(t, ReceiverConfig{Name: "ops-hook", Type: "webhook", Settings: map[string]any{"url": srv.URL}})
	n := sample()
	n.Alerts = nil
	if err := w.Notify(t.Context(), n); err != nil {
		t.Fatal(err)
	}
	msg := decodeWebhook(t, srv.only(t).Body)
	if len(msg.Alerts) != 1 {
		t.Fatalf("%d alerts", len(msg.Alerts))
	}
	a := msg.Alerts[0]
	if a.Labels["alertname"] != "run_failed" || a.Labels["pipeline"] != "orders_daily" || a.Labels["incident"] != "inc-42" ||
		a.Annotations["summary"] != n.Summary || !a.StartsAt.Equal(testStart) || !hexFingerprint.MatchString(a.Fingerprint) {
		t.Errorf("alert = %+v", a)
	}
}

func TestWebhookFailure(t *testing.T) {
	srv := newRecorder(t, http.StatusUnprocessableEntity, "bad payload")
	w := mustNew(t, ReceiverConfig{Name: "ops-hook", Type: "webhook", Settings: map[string]any{"url": srv.URL}})
	err := w.Notify(t.Context(), sample())
	if err == nil || Retryable(err) || !strings.Contains(err.Error(), `receiver "ops-hook": HTTP 422 Unprocessable Entity: bad payload`) {
		t.Errorf("Notify = %v (retryable %v)", err, Retryable(err))
	}
}
