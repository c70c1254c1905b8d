package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"
)

func init() { Register("webhook", newWebhook) }

// webhookVersion is the version of Alertmanager's webhook format sent.
const webhookVersion = "4"

// webhook posts notifications in Alertmanager's webhook format, version 4,
// so that whatever takes Alertmanager's webhooks takes shp's.
//
// Settings:
//
//	url           where to post (required; a secret)
//	headers       extra HTTP headers, a map of strings (the values are secrets)
//	bearer_token  sent as "Authorization: Bearer TOKEN" (a secret)
//	max_alerts    the most alerts a message carries, 0 (default) for all;
//	              truncatedAlerts counts the rest
//
// The incident's own facts (cause, diagnosis, confidence, healing,
// commands...) are in commonAnnotations; groupLabels holds the incident's
// id, and externalURL the notification's link. The header Idempotency-Key
// carries the notification's ID, the same when it is sent again.
type webhook struct {
	target    *httpTarget
	maxAlerts int
	now       func() time.Time
}

// newWebhook is the Factory of the webhook kind.
func newWebhook(cfg ReceiverConfig, opts Options) (Notifier, error) {
	s := newSettings(cfg, "url", "headers", "bearer_token", "max_alerts")
	u := parseURL(s, "url", s.required("url"), false)
	w := &webhook{
		maxAlerts: s.integer("max_alerts", "max_alerts", 0, 0, math.MaxInt32),
		now:       opts.Now,
	}
	w.target = newHTTPTarget(s, "webhook", u, opts)
	if err := s.err(); err != nil {
		return nil, err
	}
	return w, nil
}

// webhookMessage is Alertmanager's webhook message (notify/webhook.Message
// with template.Data), field for field.
type webhookMessage struct {
	Receiver          string            `json:"receiver"`
	Status            string            `json:"status"`
	Alerts            []webhookAlert    `json:"alerts"`
	GroupLabels       map[string]string `json:"groupLabels"`
	CommonLabels      map[string]string `json:"commonLabels"`
	CommonAnnotations map[string]string `json:"commonAnnotations"`
	ExternalURL       string            `json:"externalURL"`
	Version           string            `json:"version"`
	GroupKey          string            `json:"groupKey"`
	TruncatedAlerts   uint64            `json:"truncatedAlerts"`
}

// webhookAlert is Alertmanager's template.Alert.
type webhookAlert struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"` // zero, 0001-01-01T00:00:00Z, while firing
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// Notify posts the message; any 2xx reply is a success.
func (w *webhook) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(w.message(n))
	if err != nil {
		return fmt.Errorf("receiver %q: encoding the message: %w", w.target.receiver, err)
	}
	var extra map[string]string
	if n.ID != "" {
		extra = map[string]string{"Idempotency-Key": n.ID}
	}
	r, err := w.target.post(ctx, body, extra)
	if err != nil {
		return err
	}
	return w.target.check(r)
}

// message builds the webhook message of n.
func (w *webhook) message(n Notification) webhookMessage {
	alerts := amAlerts(n, w.now())
	var truncated uint64
	if w.maxAlerts > 0 && len(alerts) > w.maxAlerts {
		truncated = uint64(len(alerts) - w.maxAlerts)
		alerts = alerts[:w.maxAlerts]
	}
	m := webhookMessage{
		Receiver:          w.target.receiver,
		Status:            orDefault(n.Status, StatusFiring),
		Alerts:            make([]webhookAlert, 0, len(alerts)),
		GroupLabels:       map[string]string{},
		CommonLabels:      map[string]string{},
		CommonAnnotations: incidentAnnotations(n),
		ExternalURL:       n.Link,
		Version:           webhookVersion,
		GroupKey:          "{}:{}",
		TruncatedAlerts:   truncated,
	}
	maps.Copy(m.CommonLabels, n.Labels)
	if n.IncidentID != "" {
		m.GroupLabels[LabelIncident] = n.IncidentID
		m.CommonLabels[LabelIncident] = n.IncidentID
		m.GroupKey = "{}:{" + LabelIncident + "=" + strconv.Quote(n.IncidentID) + "}"
	}
	maps.DeleteFunc(m.CommonLabels, func(_, v string) bool { return v == "" })
	for _, a := range alerts {
		m.Alerts = append(m.Alerts, webhookAlert{
			Status:       a.status,
			Labels:       a.labels,
			Annotations:  a.annotations,
			StartsAt:     a.startsAt,
			EndsAt:       a.endsAt,
			GeneratorURL: n.Link,
			Fingerprint:  a.fingerprint,
		})
	}
	return m
}
