package metadata

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Alert states.
const (
	AlertPending  = "pending"  // the condition holds, for less than the rule's for
	AlertFiring   = "firing"   // the condition has held for the rule's for
	AlertResolved = "resolved" // the condition no longer holds
)

// Incident states.
const (
	IncidentOpen     = "open"
	IncidentResolved = "resolved"
)

// Notification (outbox) states.
const (
	NotificationPending = "pending"
	NotificationSent    = "sent"
	NotificationFailed  = "failed" // parked after its last try
)

// Alert is one alert rule's condition on one pipeline: one row per
// fingerprint, whose state moves from pending to firing to resolved (and
// back to pending when the condition holds again).
type Alert struct {
	Fingerprint string
	Rule        string
	Pipeline    string
	Severity    string
	State       string
	Summary     string
	Labels      map[string]string
	Value       float64
	RunID       string
	IncidentID  string
	ActiveAt    time.Time // when the condition began to hold
	FiredAt     time.Time
	ResolvedAt  time.Time
	EvaluatedAt time.Time
}

// Incident is the alerts of one cause.
type Incident struct {
	ID         string
	Cause      string // source:NAME, upstream:PIPELINE, run:ID, diagnosis:CATEGORY or alert:FINGERPRINT
	Title      string
	Severity   string
	State      string
	Labels     map[string]string
	Alerts     int // the raw alerts that joined it
	OpenedAt   time.Time
	ResolvedAt time.Time
	AckedBy    string
	AckedAt    time.Time
	NotifiedAt time.Time // when its last notification was queued
	Notified   int       // notifications queued for it
}

// Silence mutes the alerts its label matchers select from StartsAt to
// EndsAt.
type Silence struct {
	ID        string
	Matchers  []string // label matchers such as pipeline="orders"
	Comment   string
	CreatedBy string
	StartsAt  time.Time
	EndsAt    time.Time
	CreatedAt time.Time
}

// Notification is one message in the outbox, for one receiver.
type Notification struct {
	ID           string // the idempotency key
	IncidentID   string
	Receiver     string
	Status       string
	Payload      string // JSON
	Attempts     int
	NextAt       time.Time
	ClaimedBy    string
	ClaimedUntil time.Time
	LastError    string
	CreatedAt    time.Time
	SentAt       time.Time
}

// AlertFilter selects alerts; empty fields select all.
type AlertFilter struct {
	State, Pipeline, IncidentID string
	Limit                       int
}

// IncidentFilter selects incidents, newest first; BeforeOpened and
// BeforeID page (the incidents after that one in the order).
type IncidentFilter struct {
	State        string
	BeforeOpened time.Time
	BeforeID     string
	Limit        int
}

func labelsJSON(m map[string]string) string {
	if len(m) == 0 {
		return "{}"
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func parseLabels(s string) map[string]string {
	m := map[string]string{}
	_ = json.Unmarshal([]byte(s), &m)
	return m
}

// SaveAlert writes an alert, by its fingerprint.
func (s *sqlStore) SaveAlert(ctx context.Context, a Alert) error {
	if a.Fingerprint == "" || a.Rule == "" || a.State == "" {
		return fmt.Errorf("save alert: %w: an alert needs a fingerprint, a rule and a state", ErrInvalid)
	}
	_, err := s.exec(ctx, `INSERT INTO alerts (fingerprint, rule, pipeline, severity, state, summary, labels, value, run_id, incident_id,
	active_at, fired_at, resolved_at, evaluated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (fingerprint) DO UPDATE SET rule = excluded.rule, pipeline = excluded.pipeline, severity = excluded.severity,
	state = excluded.state, summary = excluded.summary, labels = excluded.labels, value = excluded.value, run_id = excluded.run_id,
	incident_id = excluded.incident_id, active_at = excluded.active_at, fired_at = excluded.fired_at,
	resolved_at = excluded.resolved_at, evaluated_at = excluded.evaluated_at`,
		a.Fingerprint, a.Rule, a.Pipeline, a.Severity, a.State, a.Summary, labelsJSON(a.Labels), a.Value, a.RunID, a.IncidentID,
		s.d.timeArg(a.ActiveAt), s.d.timeArg(a.FiredAt), s.d.timeArg(a.ResolvedAt), s.d.timeArg(a.EvaluatedAt))
	if err != nil {
		return fmt.Errorf("save alert %s: %w", a.Fingerprint, err)
	}
	return nil
}

const alertColumns = `fingerprint, rule, pipeline, severity, state, summary, labels, value, run_id, incident_id, active_at, fired_at,
	resolved_at, evaluated_at`

func scanAlert(sc interface{ Scan(...any) error }) (Alert, error) {
	var a Alert
	var labels string
	err := sc.Scan(&a.Fingerprint, &a.Rule, &a.Pipeline, &a.Severity, &a.State, &a.Summary, &labels, &a.Value, &a.RunID, &a.IncidentID,
		scanTime(&a.ActiveAt), scanTime(&a.FiredAt), scanTime(&a.ResolvedAt), scanTime(&a.EvaluatedAt))
	a.Labels = parseLabels(labels)
	return a, err
}

// ListAlerts returns the alerts f selects, by pipeline and rule.
func (s *sqlStore) ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error) {
	q := `SELECT ` + alertColumns + ` FROM alerts WHERE 1 = 1`
	var args []any
	for _, c := range []struct{ col, v string }{{"state", f.State}, {"pipeline", f.Pipeline}, {"incident_id", f.IncidentID}} {
		if c.v != "" {
			q += ` AND ` + c.col + ` = ?`
			args = append(args, c.v)
		}
	}
	q += ` ORDER BY pipeline, rule, fingerprint`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	var out []Alert
	for rows.Next() {
		a, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// SaveIncident writes an incident, by its id.
func (s *sqlStore) SaveIncident(ctx context.Context, in Incident) error {
	if in.ID == "" || in.Cause == "" || in.State == "" {
		return fmt.Errorf("save incident: %w: an incident needs an id, a cause and a state", ErrInvalid)
	}
	_, err := s.exec(ctx, `INSERT INTO incidents (id, cause, title, severity, state, labels, alerts, opened_at, resolved_at, acked_by,
	acked_at, notified_at, notified) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (id) DO UPDATE SET cause = excluded.cause, title = excluded.title, severity = excluded.severity, state = excluded.state,
	labels = excluded.labels, alerts = excluded.alerts, opened_at = excluded.opened_at, resolved_at = excluded.resolved_at,
	acked_by = CASE WHEN incidents.acked_at IS NULL THEN excluded.acked_by ELSE incidents.acked_by END,
	acked_at = COALESCE(incidents.acked_at, excluded.acked_at), notified_at = excluded.notified_at, notified = excluded.notified`,
		in.ID, in.Cause, in.Title, in.Severity, in.State, labelsJSON(in.Labels), in.Alerts, s.d.timeArg(in.OpenedAt),
		s.d.timeArg(in.ResolvedAt), in.AckedBy, s.d.timeArg(in.AckedAt), s.d.timeArg(in.NotifiedAt), in.Notified)
	if err != nil {
		return fmt.Errorf("save incident %s: %w", in.ID, err)
	}
	return nil
}

// AckIncident records who acknowledged an open incident, in one update
// that no concurrent write of the incident undoes (SaveIncident keeps an
// acknowledgement on record). false: the incident is not open, or not
// there.
func (s *sqlStore) AckIncident(ctx context.Context, id, by string, at time.Time) (bool, error) {
	res, err := s.exec(ctx, `UPDATE incidents SET acked_by = ?, acked_at = ? WHERE id = ? AND state = ?`, by, s.d.timeArg(at), id, IncidentOpen)
	if err != nil {
		return false, fmt.Errorf("ack incident %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

const incidentColumns = `id, cause, title, severity, state, labels, alerts, opened_at, resolved_at, acked_by, acked_at, notified_at, notified`

func scanIncident(sc interface{ Scan(...any) error }) (Incident, error) {
	var in Incident
	var labels string
	err := sc.Scan(&in.ID, &in.Cause, &in.Title, &in.Severity, &in.State, &labels, &in.Alerts, scanTime(&in.OpenedAt),
		scanTime(&in.ResolvedAt), &in.AckedBy, scanTime(&in.AckedAt), scanTime(&in.NotifiedAt), &in.Notified)
	in.Labels = parseLabels(labels)
	return in, err
}

// GetIncident returns one incident.
func (s *sqlStore) GetIncident(ctx context.Context, id string) (Incident, error) {
	in, err := scanIncident(s.queryRow(ctx, `SELECT `+incidentColumns+` FROM incidents WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, fmt.Errorf("incident %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Incident{}, fmt.Errorf("get incident %s: %w", id, err)
	}
	return in, nil
}

// ListIncidents returns the incidents f selects, newest first.
func (s *sqlStore) ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error) {
	q := `SELECT ` + incidentColumns + ` FROM incidents WHERE 1 = 1`
	var args []any
	if f.State != "" {
		q += ` AND state = ?`
		args = append(args, f.State)
	}
	if !f.BeforeOpened.IsZero() {
		t := s.d.timeArg(f.BeforeOpened)
		q += ` AND (opened_at < ? OR (opened_at = ? AND id < ?))`
		args = append(args, t, t, f.BeforeID)
	}
	q += ` ORDER BY opened_at DESC, id DESC`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	var out []Incident
	for rows.Next() {
		in, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

// AddSilence records a silence.
func (s *sqlStore) AddSilence(ctx context.Context, sl Silence) error {
	if sl.ID == "" || len(sl.Matchers) == 0 || sl.EndsAt.IsZero() {
		return fmt.Errorf("add silence: %w: a silence needs an id, matchers and an end", ErrInvalid)
	}
	m, _ := json.Marshal(sl.Matchers)
	_, err := s.exec(ctx, `INSERT INTO silences (id, matchers, comment, created_by, starts_at, ends_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		sl.ID, string(m), sl.Comment, sl.CreatedBy, s.d.timeArg(sl.StartsAt), s.d.timeArg(sl.EndsAt), s.d.timeArg(sl.CreatedAt))
	if err != nil {
		return fmt.Errorf("add silence %s: %w", sl.ID, err)
	}
	return nil
}

// ListSilences returns the silences that have not ended by now (all of
// them when now is zero), newest first.
func (s *sqlStore) ListSilences(ctx context.Context, now time.Time) ([]Silence, error) {
	q := `SELECT id, matchers, comment, created_by, starts_at, ends_at, created_at FROM silences`
	var args []any
	if !now.IsZero() {
		q += ` WHERE ends_at > ?`
		args = append(args, s.d.timeArg(now))
	}
	q += ` ORDER BY created_at DESC, id`
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list silences: %w", err)
	}
	defer rows.Close()
	var out []Silence
	for rows.Next() {
		var sl Silence
		var m string
		if err := rows.Scan(&sl.ID, &m, &sl.Comment, &sl.CreatedBy, scanTime(&sl.StartsAt), scanTime(&sl.EndsAt), scanTime(&sl.CreatedAt)); err != nil {
			return nil, fmt.Errorf("list silences: %w", err)
		}
		_ = json.Unmarshal([]byte(m), &sl.Matchers)
		out = append(out, sl)
	}
	return out, rows.Err()
}

// EndSilence ends a silence at at (unsilence).
func (s *sqlStore) EndSilence(ctx context.Context, id string, at time.Time) error {
	res, err := s.exec(ctx, `UPDATE silences SET ends_at = ? WHERE id = ? AND ends_at > ?`, s.d.timeArg(at), id, s.d.timeArg(at))
	if err != nil {
		return fmt.Errorf("end silence %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return fmt.Errorf("silence %s (or it has ended): %w", id, ErrNotFound)
	}
	return nil
}

// EnqueueNotification adds a notification to the outbox; one whose id is
// there already is left as it is (false).
func (s *sqlStore) EnqueueNotification(ctx context.Context, n Notification) (bool, error) {
	if n.ID == "" || n.Receiver == "" {
		return false, fmt.Errorf("enqueue notification: %w: a notification needs an id and a receiver", ErrInvalid)
	}
	if n.Status == "" {
		n.Status = NotificationPending
	}
	res, err := s.exec(ctx, `INSERT INTO notifications (id, incident_id, receiver, status, payload, attempts, next_at, created_at)
	VALUES (?, ?, ?, ?, ?, 0, ?, ?) ON CONFLICT (id) DO NOTHING`,
		n.ID, n.IncidentID, n.Receiver, n.Status, n.Payload, s.d.timeArg(n.NextAt), s.d.timeArg(n.CreatedAt))
	if err != nil {
		return false, fmt.Errorf("enqueue notification %s: %w", n.ID, err)
	}
	added, _ := res.RowsAffected()
	return added == 1, nil
}

const notificationColumns = `id, incident_id, receiver, status, payload, attempts, next_at, claimed_by, claimed_until, last_error, created_at, sent_at`

func scanNotification(sc interface{ Scan(...any) error }) (Notification, error) {
	var n Notification
	err := sc.Scan(&n.ID, &n.IncidentID, &n.Receiver, &n.Status, &n.Payload, &n.Attempts, scanTime(&n.NextAt), &n.ClaimedBy,
		scanTime(&n.ClaimedUntil), &n.LastError, scanTime(&n.CreatedAt), scanTime(&n.SentAt))
	return n, err
}

// ClaimNotifications takes up to limit pending notifications that are due
// at now and not claimed by a live owner, for owner until until.
func (s *sqlStore) ClaimNotifications(ctx context.Context, owner string, now, until time.Time, limit int) ([]Notification, error) {
	// A message waits for the older ones of its incident and receiver (a
	// resolved one never overtakes the firing one it closes).
	rows, err := s.query(ctx, `SELECT `+notificationColumns+` FROM notifications n
	WHERE status = ? AND (next_at IS NULL OR next_at <= ?) AND (claimed_until IS NULL OR claimed_until <= ?)
	AND NOT EXISTS (SELECT 1 FROM notifications o WHERE o.incident_id = n.incident_id AND o.receiver = n.receiver
		AND o.status = ? AND (o.created_at < n.created_at OR (o.created_at = n.created_at AND o.id < n.id)))
	ORDER BY created_at, id LIMIT ?`, NotificationPending, s.d.timeArg(now), s.d.timeArg(now), NotificationPending, limit)
	if err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	var due []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			rows.Close()
			return nil, fmt.Errorf("claim notifications: %w", err)
		}
		due = append(due, n)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim notifications: %w", err)
	}
	var out []Notification
	for _, n := range due {
		// Taken only if nobody took it meanwhile.
		res, err := s.exec(ctx, `UPDATE notifications SET claimed_by = ?, claimed_until = ? WHERE id = ? AND status = ?
		AND (claimed_until IS NULL OR claimed_until <= ?) AND (next_at IS NULL OR next_at <= ?)`, owner, s.d.timeArg(until), n.ID,
			NotificationPending, s.d.timeArg(now), s.d.timeArg(now))
		if err != nil {
			return out, fmt.Errorf("claim notification %s: %w", n.ID, err)
		}
		if k, _ := res.RowsAffected(); k == 1 {
			n.ClaimedBy, n.ClaimedUntil = owner, until
			out = append(out, n)
		}
	}
	return out, nil
}

// FinishNotification records a try of a claimed notification: its new
// status, attempts, next try and last error, and releases the claim.
func (s *sqlStore) FinishNotification(ctx context.Context, n Notification) error {
	_, err := s.exec(ctx, `UPDATE notifications SET status = ?, attempts = ?, next_at = ?, last_error = ?, sent_at = ?,
	claimed_by = '', claimed_until = NULL WHERE id = ?`,
		n.Status, n.Attempts, s.d.timeArg(n.NextAt), n.LastError, s.d.timeArg(n.SentAt), n.ID)
	if err != nil {
		return fmt.Errorf("finish notification %s: %w", n.ID, err)
	}
	return nil
}

// NotificationsOf returns the outbox's notifications of one incident,
// newest first.
func (s *sqlStore) NotificationsOf(ctx context.Context, incident string) ([]Notification, error) {
	rows, err := s.query(ctx, `SELECT `+notificationColumns+` FROM notifications WHERE incident_id = ? ORDER BY created_at DESC, id DESC`, incident)
	if err != nil {
		return nil, fmt.Errorf("notifications of %s: %w", incident, err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("notifications of %s: %w", incident, err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// ListNotifications returns the outbox's notifications with a status
// ("" for all), newest first.
func (s *sqlStore) ListNotifications(ctx context.Context, status string, limit int) ([]Notification, error) {
	q := `SELECT ` + notificationColumns + ` FROM notifications`
	var args []any
	if status != "" {
		q += ` WHERE status = ?`
		args = append(args, status)
	}
	q += ` ORDER BY created_at DESC, id DESC`
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := s.query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		n, err := scanNotification(rows)
		if err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// RecentRuns returns each pipeline's latest perPipeline finished runs
// (not running) started since since, newest first, in one query.
func (s *sqlStore) RecentRuns(ctx context.Context, perPipeline int, since time.Time) (map[string][]Run, error) {
	if perPipeline <= 0 {
		return nil, fmt.Errorf("recent runs: %w: %d runs per pipeline", ErrInvalid, perPipeline)
	}
	rows, err := s.query(ctx, `SELECT `+runColumns+` FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY pipeline
	ORDER BY started_at DESC, id DESC) AS n FROM runs WHERE status <> ? AND started_at >= ?) ranked WHERE n <= ?
	ORDER BY pipeline, started_at DESC, id DESC`, StatusRunning, s.d.timeArg(since), perPipeline)
	if err != nil {
		return nil, fmt.Errorf("recent runs: %w", err)
	}
	defer rows.Close()
	out := map[string][]Run{}
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("recent runs: %w", err)
		}
		out[r.Pipeline] = append(out[r.Pipeline], r)
	}
	return out, rows.Err()
}

// Diagnosis is the category of a pipeline's newest healing action with
// one, and the run it was recorded for.
type Diagnosis struct {
	RunID, Category string
}

// LastDiagnoses returns, for each pipeline, the newest healing action's
// category and run, in one query.
func (s *sqlStore) LastDiagnoses(ctx context.Context) (map[string]Diagnosis, error) {
	rows, err := s.query(ctx, `SELECT pipeline, run_id, category FROM (SELECT pipeline, run_id, category, ROW_NUMBER() OVER (PARTITION BY pipeline
	ORDER BY id DESC) AS n FROM healing_actions WHERE category <> '') ranked WHERE n = 1`)
	if err != nil {
		return nil, fmt.Errorf("last diagnoses: %w", err)
	}
	defer rows.Close()
	out := map[string]Diagnosis{}
	for rows.Next() {
		var p string
		var d Diagnosis
		if err := rows.Scan(&p, &d.RunID, &d.Category); err != nil {
			return nil, fmt.Errorf("last diagnoses: %w", err)
		}
		out[p] = d
	}
	return out, rows.Err()
}
