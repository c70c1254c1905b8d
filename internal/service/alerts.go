package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
)

// AlertView is one alert: a rule's condition on a pipeline.
type AlertView struct {
	Fingerprint string            `json:"fingerprint"`
	Rule        string            `json:"rule"`
	Pipeline    string            `json:"pipeline"`
	Severity    string            `json:"severity"`
	State       string            `json:"state"`
	Summary     string            `json:"summary"`
	Labels      map[string]string `json:"labels"`
	Value       float64           `json:"value"`
	RunID       string            `json:"run_id,omitempty"`
	IncidentID  string            `json:"incident_id,omitempty"`
	ActiveAt    *time.Time        `json:"active_at,omitempty"`
	FiredAt     *time.Time        `json:"fired_at,omitempty"`
	ResolvedAt  *time.Time        `json:"resolved_at,omitempty"`
}

func alertView(a metadata.Alert) AlertView {
	labels := a.Labels
	if labels == nil {
		labels = map[string]string{}
	}
	return AlertView{a.Fingerprint, a.Rule, a.Pipeline, a.Severity, a.State, a.Summary, labels, a.Value, a.RunID, a.IncidentID,
		timePtr(a.ActiveAt), timePtr(a.FiredAt), timePtr(a.ResolvedAt)}
}

// IncidentView is one incident: the alerts of one cause, and, when read
// alone, its alerts and notifications.
type IncidentView struct {
	ID            string             `json:"id"`
	Cause         string             `json:"cause"`
	Title         string             `json:"title"`
	Severity      string             `json:"severity"`
	State         string             `json:"state"`
	Alerts        int                `json:"alerts"`
	OpenedAt      time.Time          `json:"opened_at"`
	ResolvedAt    *time.Time         `json:"resolved_at,omitempty"`
	AckedBy       string             `json:"acked_by,omitempty"`
	AckedAt       *time.Time         `json:"acked_at,omitempty"`
	Notified      int                `json:"notified"`
	Members       []AlertView        `json:"members,omitempty"`
	Notifications []NotificationView `json:"notifications,omitempty"`
}

func incidentView(in metadata.Incident) IncidentView {
	return IncidentView{ID: in.ID, Cause: in.Cause, Title: in.Title, Severity: in.Severity, State: in.State, Alerts: in.Alerts,
		OpenedAt: in.OpenedAt.UTC(), ResolvedAt: timePtr(in.ResolvedAt), AckedBy: in.AckedBy, AckedAt: timePtr(in.AckedAt),
		Notified: in.Notified}
}

// NotificationView is one notification of the outbox (its payload is not
// shown: the receivers' messages).
type NotificationView struct {
	ID         string     `json:"id"`
	IncidentID string     `json:"incident_id"`
	Receiver   string     `json:"receiver"`
	Status     string     `json:"status"`
	Attempts   int        `json:"attempts"`
	LastError  string     `json:"last_error,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	SentAt     *time.Time `json:"sent_at,omitempty"`
	NextAt     *time.Time `json:"next_at,omitempty"`
}

func notificationView(n metadata.Notification) NotificationView {
	v := NotificationView{ID: n.ID, IncidentID: n.IncidentID, Receiver: n.Receiver, Status: n.Status, Attempts: n.Attempts,
		LastError: n.LastError, CreatedAt: n.CreatedAt.UTC(), SentAt: timePtr(n.SentAt)}
	if n.Status == metadata.NotificationPending {
		v.NextAt = timePtr(n.NextAt)
	}
	return v
}

// SilenceView is one silence.
type SilenceView struct {
	ID        string    `json:"id"`
	Matchers  []string  `json:"matchers"`
	Comment   string    `json:"comment"`
	CreatedBy string    `json:"created_by"`
	StartsAt  time.Time `json:"starts_at"`
	EndsAt    time.Time `json:"ends_at"`
}

func silenceView(s metadata.Silence) SilenceView {
	return SilenceView{s.ID, s.Matchers, s.Comment, s.CreatedBy, s.StartsAt.UTC(), s.EndsAt.UTC()}
}

// alertStore is the monitoring record, when the metadata store keeps one.
func (s *Service) alertStore() (monitor.Store, error) {
	ms, ok := s.Store.(monitor.Store)
	if !ok {
		return nil, fmt.Errorf("alerts: %w: %w", ErrUnavailable, monitor.ErrNoMonitoringStore)
	}
	return ms, nil
}

// AlertQuery selects alerts.
type AlertQuery struct {
	State, Pipeline string
	PageRequest
}

var alertStates = []string{metadata.AlertPending, metadata.AlertFiring, metadata.AlertResolved}

// Alerts lists alerts by pipeline and rule, one page at a time.
func (s *Service) Alerts(ctx context.Context, q AlertQuery) (Page[AlertView], error) {
	size, err := q.size()
	if err != nil {
		return Page[AlertView]{}, err
	}
	if q.State != "" && !slices.Contains(alertStates, q.State) {
		return Page[AlertView]{}, invalid("state", "%q is not an alert state (pending, firing, resolved)", q.State)
	}
	offset := 0
	if body, err := q.decodeToken("alerts"); err != nil {
		return Page[AlertView]{}, err
	} else if body != "" {
		if offset, err = strconv.Atoi(body); err != nil || offset <= 0 {
			return Page[AlertView]{}, invalid("page_token", "is not a token of this listing")
		}
	}
	ms, err := s.alertStore()
	if err != nil {
		return Page[AlertView]{}, err
	}
	all, err := ms.ListAlerts(ctx, metadata.AlertFilter{State: q.State, Pipeline: q.Pipeline, Limit: offset + size + 1})
	if err != nil {
		return Page[AlertView]{}, err
	}
	page := Page[AlertView]{Items: []AlertView{}}
	for i := offset; i < len(all); i++ {
		if i == offset+size {
			page.NextPageToken = encodeToken("alerts", strconv.Itoa(offset+size))
			break
		}
		page.Items = append(page.Items, alertView(all[i]))
	}
	return page, nil
}

// IncidentQuery selects incidents.
type IncidentQuery struct {
	State string
	PageRequest
}

// Incidents lists incidents, newest first, one page at a time.
func (s *Service) Incidents(ctx context.Context, q IncidentQuery) (Page[IncidentView], error) {
	size, err := q.size()
	if err != nil {
		return Page[IncidentView]{}, err
	}
	if q.State != "" && q.State != metadata.IncidentOpen && q.State != metadata.IncidentResolved {
		return Page[IncidentView]{}, invalid("state", "%q is not an incident state (open, resolved)", q.State)
	}
	var before time.Time
	var beforeID string
	if body, err := q.decodeToken("incidents"); err != nil {
		return Page[IncidentView]{}, err
	} else if body != "" {
		at, id, _ := strings.Cut(body, "|")
		n, err := strconv.ParseInt(at, 10, 64)
		if err != nil || n <= 0 || id == "" {
			return Page[IncidentView]{}, invalid("page_token", "is not a token of this listing")
		}
		before, beforeID = time.UnixMicro(n).UTC(), id
	}
	ms, err := s.alertStore()
	if err != nil {
		return Page[IncidentView]{}, err
	}
	list, err := ms.ListIncidents(ctx, metadata.IncidentFilter{State: q.State, BeforeOpened: before, BeforeID: beforeID, Limit: size + 1})
	if err != nil {
		return Page[IncidentView]{}, err
	}
	page := Page[IncidentView]{Items: []IncidentView{}}
	for i, in := range list {
		if i == size {
			last := list[i-1]
			page.NextPageToken = encodeToken("incidents", strconv.FormatInt(last.OpenedAt.UnixMicro(), 10)+"|"+last.ID)
			break
		}
		page.Items = append(page.Items, incidentView(in))
	}
	return page, nil
}

// Incident returns one incident with its alerts and notifications.
func (s *Service) Incident(ctx context.Context, id string) (IncidentView, error) {
	ms, err := s.alertStore()
	if err != nil {
		return IncidentView{}, err
	}
	in, err := ms.GetIncident(ctx, id)
	if err != nil {
		return IncidentView{}, notFound(err)
	}
	v := incidentView(in)
	alerts, err := ms.ListAlerts(ctx, metadata.AlertFilter{IncidentID: id})
	if err != nil {
		return v, err
	}
	v.Members = []AlertView{}
	for _, a := range alerts {
		v.Members = append(v.Members, alertView(a))
	}
	notes, err := ms.NotificationsOf(ctx, id)
	if err != nil {
		return v, err
	}
	v.Notifications = []NotificationView{}
	for _, n := range notes {
		v.Notifications = append(v.Notifications, notificationView(n))
	}
	return v, nil
}

// AckIncident acknowledges an open incident: it is not notified again
// until it is resolved.
func (s *Service) AckIncident(ctx context.Context, id, by string) (IncidentView, error) {
	ms, err := s.alertStore()
	if err != nil {
		return IncidentView{}, err
	}
	in, err := monitor.Ack(ctx, ms, id, by, s.now())
	switch {
	case errors.Is(err, monitor.ErrNotOpen):
		return IncidentView{}, fmt.Errorf("%w: %w", ErrConflict, err)
	case err != nil:
		return IncidentView{}, notFound(err)
	}
	return incidentView(in), nil
}

// maxComment bounds a silence's comment.
const maxComment = 1000

// SilenceRequest asks for a silence.
type SilenceRequest struct {
	Matchers []string      `json:"matchers"`
	Duration time.Duration `json:"-"`
	Comment  string        `json:"comment"`
}

// Silence mutes, from now, the alerts whose labels match every matcher.
func (s *Service) Silence(ctx context.Context, req SilenceRequest, by string) (SilenceView, error) {
	if req.Duration <= 0 || req.Duration > monitor.MaxSilence {
		return SilenceView{}, invalid("duration", "must be from 1s to 90 days, got %s", req.Duration)
	}
	if len(req.Comment) > maxComment || strings.ContainsFunc(req.Comment, unicode.IsControl) {
		return SilenceView{}, invalid("comment", "must be at most %d characters, without control characters", maxComment)
	}
	ms, err := s.alertStore()
	if err != nil {
		return SilenceView{}, err
	}
	sl, err := monitor.Silence(ctx, ms, req.Matchers, req.Duration, req.Comment, by, s.now())
	if errors.Is(err, monitor.ErrBadSilence) {
		return SilenceView{}, invalid("matchers", "%s", err.Error())
	}
	if err != nil {
		return SilenceView{}, err
	}
	return silenceView(sl), nil
}

// Silences lists the silences that have not ended.
func (s *Service) Silences(ctx context.Context) ([]SilenceView, error) {
	ms, err := s.alertStore()
	if err != nil {
		return nil, err
	}
	list, err := ms.ListSilences(ctx, s.now())
	if err != nil {
		return nil, err
	}
	out := []SilenceView{}
	for _, sl := range list {
		out = append(out, silenceView(sl))
	}
	return out, nil
}

// Unsilence ends a silence now.
func (s *Service) Unsilence(ctx context.Context, id string) error {
	ms, err := s.alertStore()
	if err != nil {
		return err
	}
	return notFound(ms.EndSilence(ctx, id, s.now()))
}

// Notifications lists the outbox's notifications with a status ("" for
// all), newest first, at most limit (DefaultPageSize when 0).
func (s *Service) Notifications(ctx context.Context, status string, limit int) ([]NotificationView, error) {
	if status != "" && status != metadata.NotificationPending && status != metadata.NotificationSent && status != metadata.NotificationFailed {
		return nil, invalid("status", "%q is not a notification status (pending, sent, failed)", status)
	}
	if limit <= 0 {
		limit = DefaultPageSize
	}
	ms, err := s.alertStore()
	if err != nil {
		return nil, err
	}
	list, err := ms.ListNotifications(ctx, status, min(limit, MaxPageSize))
	if err != nil {
		return nil, err
	}
	out := []NotificationView{}
	for _, n := range list {
		out = append(out, notificationView(n))
	}
	return out, nil
}
