package notify

import (
	"fmt"
	"hash/fnv"
	"maps"
	"strconv"
	"strings"
	"time"
)

// Label names shp sets on the alerts it hands to Alertmanager and to
// webhooks in Alertmanager's format.
const (
	LabelAlertname = "alertname"
	LabelRule      = "rule"
	LabelPipeline  = "pipeline"
	LabelSeverity  = "severity"
	LabelIncident  = "incident"
)

// fallbackAlertname names the one alert made for a notification that has
// none.
const fallbackAlertname = "shp_incident"

// amAlert is an alert as Alertmanager sees it.
type amAlert struct {
	status      string
	labels      map[string]string
	annotations map[string]string
	startsAt    time.Time
	endsAt      time.Time // zero while firing
	fingerprint string
}

// amAlerts turns n's alerts into Alertmanager's: labels with alertname
// (the rule), pipeline, severity and incident; annotations with summary and
// description. A notification without alerts gets one made of itself. A
// resolved alert without an end ends when n does, or now.
func amAlerts(n Notification, now time.Time) []amAlert {
	alerts := n.Alerts
	if len(alerts) == 0 {
		a := Alert{Rule: n.Labels[LabelRule], Severity: n.Severity, Status: n.Status,
			Summary: orDefault(n.Summary, n.Title), Labels: n.Labels, StartsAt: n.StartsAt, EndsAt: n.EndsAt}
		if a.Rule == "" {
			a.Rule = orDefault(n.Labels[LabelAlertname], fallbackAlertname)
		}
		if len(n.Pipelines) == 1 {
			a.Pipeline = n.Pipelines[0]
		}
		alerts = []Alert{a}
	}
	out := make([]amAlert, 0, len(alerts))
	for _, a := range alerts {
		labels := make(map[string]string, len(a.Labels)+5)
		maps.Copy(labels, a.Labels)
		set := func(name, value string) {
			if value != "" {
				labels[name] = value
			}
		}
		set(LabelAlertname, a.Rule)
		set(LabelRule, a.Rule)
		set(LabelPipeline, a.Pipeline)
		set(LabelSeverity, a.Severity)
		set(LabelIncident, n.IncidentID)
		maps.DeleteFunc(labels, func(_, v string) bool { return v == "" })

		annotations := map[string]string{}
		if a.Summary != "" {
			annotations["summary"] = a.Summary
		}
		if a.Description != "" {
			annotations["description"] = a.Description
		}
		al := amAlert{
			status:      orDefault(a.Status, orDefault(n.Status, StatusFiring)),
			labels:      labels,
			annotations: annotations,
			startsAt:    a.StartsAt.UTC(),
			fingerprint: a.Fingerprint,
		}
		if al.startsAt.IsZero() {
			al.startsAt = n.StartsAt.UTC()
		}
		if al.status == StatusResolved {
			al.endsAt = a.EndsAt
			if al.endsAt.IsZero() {
				al.endsAt = n.EndsAt
			}
			if al.endsAt.IsZero() {
				al.endsAt = now
			}
			al.endsAt = al.endsAt.UTC()
		}
		if al.fingerprint == "" {
			al.fingerprint = fingerprint(labels)
		}
		out = append(out, al)
	}
	return out
}

// incidentAnnotations are the incident-level facts of n, as annotations:
// title, summary, cause, diagnosis, confidence (0..1), healing, commands
// (one a line), pipelines and runs (comma separated), suppressed; those
// with a value.
func incidentAnnotations(n Notification) map[string]string {
	out := map[string]string{}
	set := func(name, value string) {
		if value != "" {
			out[name] = value
		}
	}
	set("title", n.Title)
	set("summary", n.Summary)
	set("cause", n.Cause)
	set("diagnosis", n.Diagnosis)
	if n.Confidence > 0 {
		set("confidence", strconv.FormatFloat(n.Confidence, 'f', -1, 64))
	}
	set("healing", n.Healing)
	set("commands", strings.Join(n.Commands, "\n"))
	set("pipelines", strings.Join(n.Pipelines, ","))
	set("runs", strings.Join(n.Runs, ","))
	if n.Suppressed > 0 {
		set("suppressed", strconv.Itoa(n.Suppressed))
	}
	return out
}

// fingerprint is a stable hex id of a label set (FNV-1a over the sorted
// names and values), for alerts that come without one.
func fingerprint(labels map[string]string) string {
	h := fnv.New64a()
	for _, k := range sortedKeys(labels) {
		h.Write([]byte(k))
		h.Write([]byte{0xff})
		h.Write([]byte(labels[k]))
		h.Write([]byte{0xff})
	}
	return fmt.Sprintf("%016x", h.Sum64())
}
