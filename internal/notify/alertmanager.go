package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"
)

func init() { Register("alertmanager", newAlertmanager) }

// alertmanagerAlertsPath is where Alertmanager's API v2 takes alerts.
const alertmanagerAlertsPath = "api/v2/alerts"

// alertmanager posts a notification's alerts to an Alertmanager (API v2,
// POST /api/v2/alerts), which then groups, silences, inhibits and routes
// them itself.
//
// Settings:
//
//	url           the Alertmanager's base URL, e.g. http://alertmanager:9093
//	              (required; a secret)
//	bearer_token  sent as "Authorization: Bearer TOKEN" (a secret)
//	headers       extra HTTP headers, a map of strings (the values are secrets)
//
// Every alert's labels carry alertname (the rule), pipeline, severity and
// incident. A firing alert is posted without endsAt, so Alertmanager
// resolves it by itself after its resolve_timeout (5 minutes by default)
// unless it is posted again: firing notifications must be repeated within
// that time. A resolved alert carries its endsAt.
type alertmanager struct {
	target *httpTarget
	now    func() time.Time
}

// newAlertmanager is the Factory of the alertmanager kind.
func newAlertmanager(cfg ReceiverConfig, opts Options) (Notifier, error) {
	s := newSettings(cfg, "url", "bearer_token", "headers")
	u := parseURL(s, "url", s.required("url"), false)
	a := &alertmanager{now: opts.Now}
	a.target = newHTTPTarget(s, "alertmanager", u, opts)
	if err := s.err(); err != nil {
		return nil, err
	}
	a.target.url = u.JoinPath(alertmanagerAlertsPath).String()
	return a, nil
}

// postableAlert is Alertmanager's postableAlert (api/v2/openapi.yaml):
// labels, generatorURL, startsAt, endsAt, annotations.
type postableAlert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	StartsAt     *time.Time        `json:"startsAt,omitempty"`
	EndsAt       *time.Time        `json:"endsAt,omitempty"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// Notify posts the alerts; Alertmanager answers 200 when it takes them.
func (a *alertmanager) Notify(ctx context.Context, n Notification) error {
	body, err := json.Marshal(a.alerts(n))
	if err != nil {
		return fmt.Errorf("receiver %q: encoding the alerts: %w", a.target.receiver, err)
	}
	r, err := a.target.post(ctx, body, nil)
	if err != nil {
		return err
	}
	return a.target.check(r)
}

// alerts builds the postable alerts of n.
func (a *alertmanager) alerts(n Notification) []postableAlert {
	common := incidentAnnotations(n)
	// The alerts' own summary wins over the incident's.
	delete(common, "summary")
	link := cardLink(n)
	var out []postableAlert
	for _, al := range amAlerts(n, a.now()) {
		p := postableAlert{Labels: al.labels, Annotations: map[string]string{}, GeneratorURL: link}
		maps.Copy(p.Annotations, common)
		maps.Copy(p.Annotations, al.annotations)
		if !al.startsAt.IsZero() {
			p.StartsAt = &al.startsAt
		}
		if al.status == StatusResolved {
			p.EndsAt = &al.endsAt
		}
		out = append(out, p)
	}
	return out
}
