package monitor

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/notify"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/scheduler"
)

// Store is what monitoring reads and writes in the metadata store (the
// SQL stores have it all).
type Store interface {
	ListPipelines(ctx context.Context) ([]metadata.Pipeline, error)
	ListActions(ctx context.Context, f metadata.ActionFilter) ([]metadata.HealingAction, error)
	RecentRuns(ctx context.Context, perPipeline int, since time.Time) (map[string][]metadata.Run, error)
	CountActions(ctx context.Context) ([]metadata.ActionCount, error)
	LastDiagnoses(ctx context.Context) (map[string]metadata.Diagnosis, error)
	AckIncident(ctx context.Context, id, by string, at time.Time) (bool, error)
	SaveAlert(ctx context.Context, a metadata.Alert) error
	ListAlerts(ctx context.Context, f metadata.AlertFilter) ([]metadata.Alert, error)
	SaveIncident(ctx context.Context, in metadata.Incident) error
	GetIncident(ctx context.Context, id string) (metadata.Incident, error)
	ListIncidents(ctx context.Context, f metadata.IncidentFilter) ([]metadata.Incident, error)
	AddSilence(ctx context.Context, s metadata.Silence) error
	ListSilences(ctx context.Context, now time.Time) ([]metadata.Silence, error)
	EndSilence(ctx context.Context, id string, at time.Time) error
	EnqueueNotification(ctx context.Context, n metadata.Notification) (bool, error)
	ClaimNotifications(ctx context.Context, owner string, now, until time.Time, limit int) ([]metadata.Notification, error)
	FinishNotification(ctx context.Context, n metadata.Notification) error
	ListNotifications(ctx context.Context, status string, limit int) ([]metadata.Notification, error)
	NotificationsOf(ctx context.Context, incident string) ([]metadata.Notification, error)
}

// ErrNoMonitoringStore is returned for a metadata store that cannot keep
// alerts.
var ErrNoMonitoringStore = errors.New("the metadata store does not keep alerts")

// AsStore returns s as a monitoring Store, when it is one.
func AsStore(s metadata.Store) (Store, error) {
	ms, ok := s.(Store)
	if !ok {
		return nil, ErrNoMonitoringStore
	}
	return ms, nil
}

// historyRuns is how many of each pipeline's latest runs a cycle reads:
// enough for a weekday baseline of several weeks of daily runs; runs
// older than historyHorizon are not read at all (a pipeline idle longer
// is stale from when monitoring began).
const (
	historyRuns    = 60
	historyHorizon = 120 * 24 * time.Hour
)

// Engine evaluates the alert rules, correlates the alerts into incidents
// and delivers their notifications through the outbox.
type Engine struct {
	Store   Store
	Config  *Config
	Project *config.Project
	// Notifiers by receiver name; made from Config.Receivers by
	// NewEngine.
	Notifiers map[string]notify.Notifier
	Metrics   *Metrics
	Log       *slog.Logger
	Now       func() time.Time
	// Owner names this process in the outbox's claims.
	Owner string

	started   time.Time
	schedules map[string]*scheduler.Schedule
	upstream  map[string][]string
	poke      chan struct{}
	pokeOnce  sync.Once
	mu        sync.Mutex // one cycle at a time
}

// NewEngine makes the engine of a project's monitoring.yaml, with its
// receivers.
func NewEngine(p *config.Project, store metadata.Store, m *Metrics, log *slog.Logger, opts notify.Options) (*Engine, error) {
	cfg, problems := ParseConfig(p.Monitoring)
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s: %s", config.MonitoringFile, problems[0].Msg)
	}
	ms, err := AsStore(store)
	if err != nil {
		return nil, err
	}
	e := &Engine{Store: ms, Config: cfg, Project: p, Metrics: m, Log: log, Notifiers: map[string]notify.Notifier{}}
	for _, rc := range cfg.Receivers {
		n, err := notify.New(rc, opts)
		if err != nil {
			return nil, err
		}
		e.Notifiers[rc.Name] = n
	}
	return e, nil
}

func (e *Engine) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

func (e *Engine) log() *slog.Logger {
	if e.Log != nil {
		return e.Log
	}
	return slog.New(slog.DiscardHandler)
}

// Poke asks for an evaluation now (a run just finished); it never blocks.
func (e *Engine) Poke() {
	select {
	case e.pokes() <- struct{}{}:
	default:
	}
}

// pokes is the channel Poke signals on, made once (without e.mu, which a
// cycle holds while it works).
func (e *Engine) pokes() chan struct{} {
	e.pokeOnce.Do(func() { e.poke = make(chan struct{}, 1) })
	return e.poke
}

// Run evaluates the rules every Config.Interval (and when poked) and
// delivers due notifications every few seconds, until ctx is done.
func (e *Engine) Run(ctx context.Context) {
	e.Poke() // the first cycle at once
	poke := e.pokes()
	eval := time.NewTicker(e.Config.Interval)
	defer eval.Stop()
	deliver := time.NewTicker(min(e.Config.Interval, 5*time.Second))
	defer deliver.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poke:
		case <-eval.C:
		case <-deliver.C:
			if _, err := e.Deliver(ctx); err != nil && ctx.Err() == nil {
				e.log().Warn("monitoring: deliver notifications", "err", err)
			}
			continue
		}
		if _, err := e.Evaluate(ctx); err != nil && ctx.Err() == nil {
			e.log().Warn("monitoring: evaluate the alert rules", "err", err)
		}
		if _, err := e.Deliver(ctx); err != nil && ctx.Err() == nil {
			e.log().Warn("monitoring: deliver notifications", "err", err)
		}
	}
}

// Snapshot reads what the rules look at: the project's pipelines and
// those the store knows, their latest runs, pending approvals and last
// diagnoses, in four queries.
func (e *Engine) Snapshot(ctx context.Context) (Snapshot, error) {
	now := e.now()
	if e.started.IsZero() {
		e.started = now
	}
	snap := Snapshot{Now: now}
	known, err := e.Store.ListPipelines(ctx)
	if err != nil {
		return snap, err
	}
	runs, err := e.Store.RecentRuns(ctx, historyRuns, now.Add(-historyHorizon))
	if err != nil {
		return snap, err
	}
	counts, err := e.Store.CountActions(ctx)
	if err != nil {
		return snap, err
	}
	pending := map[string]int{}
	for _, c := range counts {
		if c.Status == "proposed" || c.Status == "escalated" {
			// A proposal to approve or reject, an escalation to resolve.
			pending[c.Pipeline] += int(c.Count)
		}
	}
	diagnoses, err := e.Store.LastDiagnoses(ctx)
	if err != nil {
		return snap, err
	}
	sources := map[string]string{}
	for _, p := range known {
		sources[p.Name] = p.Source
	}
	var names []string
	if e.Project != nil {
		names = e.Project.PipelineNames()
	}
	for _, p := range known {
		if !slices.Contains(names, p.Name) {
			names = append(names, p.Name)
		}
	}
	slices.Sort(names)
	if e.upstream == nil {
		e.upstream = upstreamOf(e.Project) // the project does not change under the engine
	}
	upstream := e.upstream
	for _, name := range names {
		in := PipelineInput{Name: name, Source: sources[name], Runs: runs[name], PendingApprovals: pending[name], Since: e.started}
		if pl, ok := e.pipeline(name); ok {
			in.Source, in.Upstream = pl.Source, upstream[name]
			if s, ok := e.Project.Sources[pl.Source]; ok {
				in.SourceType = s.Type
			}
			in.Schedule = e.schedule(pl.Schedule, pl.Timezone)
		}
		if n := len(in.Runs); n > 0 && in.Runs[n-1].StartedAt.Before(in.Since) {
			in.Since = in.Runs[n-1].StartedAt
		}
		if d, ok := diagnoses[name]; ok && len(in.Runs) > 0 && in.Runs[0].Status == metadata.StatusFailed && d.RunID == in.Runs[0].ID {
			in.Diagnosis = d.Category // the failed run's own, not an older one's
		}
		snap.Pipelines = append(snap.Pipelines, in)
	}
	return snap, nil
}

func (e *Engine) pipeline(name string) (*config.Pipeline, bool) {
	if e.Project == nil {
		return nil, false
	}
	return e.Project.Pipeline(name)
}

// schedule parses a pipeline's schedule once.
func (e *Engine) schedule(spec, tz string) *scheduler.Schedule {
	if spec == "" {
		return nil
	}
	key := spec + "\x00" + tz
	if s, ok := e.schedules[key]; ok {
		return s
	}
	s, err := scheduler.ParseSchedule(spec, tz)
	if err != nil {
		s = nil
	}
	if e.schedules == nil {
		e.schedules = map[string]*scheduler.Schedule{}
	}
	e.schedules[key] = s
	return s
}

// CycleReport says what one evaluation did.
type CycleReport struct {
	Conditions int // conditions holding
	Fired      int // alerts that began firing
	Resolved   int // alerts that stopped
	Opened     int // incidents opened
	Closed     int // incidents resolved
	Queued     int // notifications put in the outbox
	Suppressed int // notifications not queued: every alert silenced
}

// Evaluate runs one cycle: the rules over a fresh snapshot, the alerts'
// states, their incidents, and the notifications due.
func (e *Engine) Evaluate(ctx context.Context) (CycleReport, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	var rep CycleReport
	snap, err := e.Snapshot(ctx)
	if err != nil {
		return rep, err
	}
	now := snap.Now
	conds := Evaluate(e.Config, snap)
	rep.Conditions = len(conds)
	stored, err := e.Store.ListAlerts(ctx, metadata.AlertFilter{})
	if err != nil {
		return rep, err
	}
	alerts := make(map[string]*metadata.Alert, len(stored))
	for i := range stored {
		alerts[stored[i].Fingerprint] = &stored[i]
	}
	open, err := e.Store.ListIncidents(ctx, metadata.IncidentFilter{State: metadata.IncidentOpen})
	if err != nil {
		return rep, err
	}
	incidents := make(map[string]*metadata.Incident, len(open))
	for i := range open {
		incidents[open[i].ID] = &open[i]
	}
	upstream := map[string][]string{}
	for _, p := range snap.Pipelines {
		upstream[p.Name] = p.Upstream
	}
	diagnosis := map[string]string{}
	for _, p := range snap.Pipelines {
		if p.Diagnosis != "" {
			diagnosis[p.Name] = p.Diagnosis
		}
	}
	holding := map[string]bool{}
	changed := map[string]bool{}
	// Failures first, so that a symptom downstream finds its cause's
	// incident in the same cycle.
	order := func(c Condition) int {
		switch {
		case c.Labels["class"] == ClassFailure && c.Rule.Kind == KindRunStatus:
			return 0
		case c.Labels["class"] == ClassFailure:
			return 1
		}
		return 2
	}
	depth := map[string]int{}
	for _, p := range snap.Pipelines {
		depth[p.Name] = len(ancestors(p.Name, upstream))
	}
	slices.SortStableFunc(conds, func(a, b Condition) int {
		if d := order(a) - order(b); d != 0 {
			return d
		}
		return depth[a.Pipeline] - depth[b.Pipeline]
	})
	for _, c := range conds {
		holding[c.Fingerprint] = true
		a := alerts[c.Fingerprint]
		var before *metadata.Alert
		if a != nil {
			b := *a
			b.Labels = maps.Clone(a.Labels)
			before = &b
		}
		previous := ""
		if a == nil || a.State == metadata.AlertResolved {
			if a != nil {
				previous = a.IncidentID
			}
			a = &metadata.Alert{Fingerprint: c.Fingerprint, State: metadata.AlertPending, ActiveAt: now, IncidentID: previous}
			alerts[c.Fingerprint] = a
		}
		a.Rule, a.Pipeline, a.Severity, a.Summary, a.Value, a.RunID, a.EvaluatedAt = c.Rule.Name, c.Pipeline, c.Rule.Severity, c.Summary, c.Value, c.RunID, now
		inhibitedBy := a.Labels["inhibited_by"]
		a.Labels = maps.Clone(c.Labels)
		if inhibitedBy != "" && a.State == metadata.AlertFiring {
			a.Labels["inhibited_by"] = inhibitedBy // decided when it fired
		}
		if d := diagnosis[c.Pipeline]; d != "" && c.Rule.Kind == KindRunStatus {
			a.Labels["diagnosis"] = d
		}
		if a.State == metadata.AlertPending && now.Sub(a.ActiveAt) >= c.Rule.For {
			a.State, a.FiredAt, a.ResolvedAt = metadata.AlertFiring, now, time.Time{}
			rep.Fired++
			in, opened := incidents[a.IncidentID], false
			if in == nil {
				// Not an alert firing again while its incident is still
				// open (a flapping source stays one incident).
				in, opened = e.correlate(a, alerts, incidents, upstream, now)
			}
			if opened {
				rep.Opened++
				// On record before the alert that names it: a cycle cut
				// short leaves no alert pointing nowhere.
				if err := e.Store.SaveIncident(ctx, *in); err != nil {
					return rep, err
				}
			} else if in.Notified > 0 && a.Labels["inhibited_by"] == "" &&
				!slices.ContainsFunc(membersOf(alerts, in.ID), func(o *metadata.Alert) bool { return o.Pipeline == a.Pipeline }) {
				// A pipeline the last message did not name: an update is
				// due (a symptom downstream, or another alert of a named
				// pipeline, is not news).
				in.Labels["update"] = "true"
			}
			a.IncidentID = in.ID
			in.Alerts++
			if rank(a.Severity) < rank(in.Severity) {
				in.Severity = a.Severity
			}
			changed[in.ID] = true
		}
		if before != nil && sameAlert(before, a) && now.Sub(before.EvaluatedAt) < alertRefresh {
			// Only its value moved (a stale pipeline's age): written
			// every alertRefresh, not every cycle.
			a.EvaluatedAt = before.EvaluatedAt
			continue
		}
		if err := e.Store.SaveAlert(ctx, *a); err != nil {
			return rep, err
		}
	}
	for _, a := range alerts {
		if holding[a.Fingerprint] || a.State == metadata.AlertResolved {
			continue
		}
		wasFiring := a.State == metadata.AlertFiring
		a.State, a.ResolvedAt, a.EvaluatedAt = metadata.AlertResolved, now, now
		if wasFiring {
			rep.Resolved++
			changed[a.IncidentID] = true
		}
		if err := e.Store.SaveAlert(ctx, *a); err != nil {
			return rep, err
		}
	}
	silences, err := e.Store.ListSilences(ctx, now)
	if err != nil {
		return rep, err
	}
	for _, id := range slices.Sorted(maps.Keys(incidents)) {
		in := incidents[id]
		members := membersOf(alerts, id)
		firing := 0
		for _, a := range members {
			if a.State == metadata.AlertFiring {
				firing++
			}
		}
		// No member at all: another evaluator took its alerts (two at
		// once on one store); it resolves like a quiet one.
		quiet := firing == 0
		if quiet && in.Labels["quiet_since"] == "" {
			// Resolved only once it stays quiet for ResolveWait: a source
			// that flaps is one incident, not one per failure.
			in.Labels["quiet_since"] = now.UTC().Format(time.RFC3339Nano)
			changed[id] = true
		}
		if !quiet && in.Labels["quiet_since"] != "" {
			delete(in.Labels, "quiet_since")
			changed[id] = true
		}
		since, _ := time.Parse(time.RFC3339Nano, in.Labels["quiet_since"])
		if quiet && now.Sub(since) >= e.Config.ResolveWait {
			delete(in.Labels, "quiet_since")
			in.State, in.ResolvedAt = metadata.IncidentResolved, now
			rep.Closed++
			if in.Notified > 0 {
				n, err := e.queue(ctx, in, members, notify.StatusResolved, now)
				if err != nil {
					return rep, err
				}
				rep.Queued += n
			}
			changed[id] = true
		} else if !quiet && e.due(in, now) {
			if silenced(members, silences, now) {
				// Held back while the silence lasts; counted once.
				if in.Labels["silenced"] != "true" {
					rep.Suppressed++
					e.observe("-", "suppressed")
					in.Labels["silenced"] = "true"
					changed[id] = true
				}
			} else {
				n, err := e.queue(ctx, in, members, notify.StatusFiring, now)
				if err != nil {
					return rep, err
				}
				rep.Queued += n
				in.Notified++
				in.NotifiedAt = now
				delete(in.Labels, "silenced")
				delete(in.Labels, "update")
				changed[id] = true
			}
		}
		if changed[id] {
			if err := e.Store.SaveIncident(ctx, *in); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// alertRefresh is how often an alert whose state has not changed is
// written again (its value, its summary).
const alertRefresh = 5 * time.Minute

// sameAlert reports whether b is a as it was, but for its value, summary
// and evaluation time.
func sameAlert(a, b *metadata.Alert) bool {
	return a.Rule == b.Rule && a.Pipeline == b.Pipeline && a.Severity == b.Severity && a.State == b.State && a.RunID == b.RunID &&
		a.IncidentID == b.IncidentID && a.ActiveAt.Equal(b.ActiveAt) && a.FiredAt.Equal(b.FiredAt) && a.ResolvedAt.Equal(b.ResolvedAt) &&
		maps.Equal(a.Labels, b.Labels)
}

// rank orders severities, strongest first; an unknown one last.
func rank(s string) int {
	if i := slices.Index(Severities, s); i >= 0 {
		return i
	}
	return len(Severities)
}

// due reports whether an open incident's notification is due: the first
// once it has waited GroupWait for related alerts, an update GroupWait
// after the last when a pipeline joined, then every RepeatInterval until
// it is acknowledged.
func (e *Engine) due(in *metadata.Incident, now time.Time) bool {
	if in.Notified == 0 {
		return now.Sub(in.OpenedAt) >= e.Config.GroupWait
	}
	if in.Labels["update"] == "true" && in.AckedAt.IsZero() && now.Sub(in.NotifiedAt) >= e.Config.GroupWait {
		return true
	}
	return in.AckedAt.IsZero() && now.Sub(in.NotifiedAt) >= e.Config.RepeatInterval
}

// membersOf returns the alerts of an incident, by pipeline and rule.
func membersOf(alerts map[string]*metadata.Alert, incident string) []*metadata.Alert {
	var out []*metadata.Alert
	for _, a := range alerts {
		if a.IncidentID == incident {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b *metadata.Alert) int {
		return strings.Compare(a.Pipeline+"\x00"+a.Rule, b.Pipeline+"\x00"+b.Rule)
	})
	return out
}

// silenced reports whether every firing alert of an incident is matched
// by an active silence.
func silenced(members []*metadata.Alert, silences []metadata.Silence, now time.Time) bool {
	firing := false
	for _, a := range members {
		if a.State != metadata.AlertFiring {
			continue
		}
		firing = true
		if !slices.ContainsFunc(silences, func(s metadata.Silence) bool { return silenceMatches(s, a.Labels, now) }) {
			return false
		}
	}
	return firing
}

// silenceMatches reports whether a silence is active at now and all its
// matchers match labels.
func silenceMatches(s metadata.Silence, labels map[string]string, now time.Time) bool {
	if now.Before(s.StartsAt) || !now.Before(s.EndsAt) {
		return false
	}
	for _, text := range s.Matchers {
		m, err := notify.ParseMatcher(text)
		if err != nil || !m.Matches(labels) {
			return false
		}
	}
	return true
}

// correlate finds the open incident a newly firing alert belongs to, or
// opens one: the incident of a failing pipeline upstream (the alert is
// then inhibited: a symptom of that failure), of the same run, of the
// same source (failures, while the incident is open), or of the same
// diagnosis (within GroupWindow of the incident's start).
func (e *Engine) correlate(a *metadata.Alert, alerts map[string]*metadata.Alert, incidents map[string]*metadata.Incident,
	upstream map[string][]string, now time.Time) (*metadata.Incident, bool) {
	failure := a.Labels["class"] == ClassFailure
	if !failure || a.Labels["kind"] == KindAbsence {
		// A symptom of an upstream failure joins its incident: data gone
		// stale, or odd, downstream of a pipeline that fails.
		for _, up := range ancestors(a.Pipeline, upstream) {
			for _, o := range alerts {
				if o.Pipeline == up && o.State == metadata.AlertFiring && o.IncidentID != "" && incidents[o.IncidentID] != nil &&
					o.Labels["class"] == ClassFailure {
					a.Labels["inhibited_by"] = up
					return incidents[o.IncidentID], false
				}
			}
		}
	}
	type key struct {
		k      string
		window bool
	}
	var keys []key
	if a.RunID != "" {
		keys = append(keys, key{"run:" + a.RunID, false})
	}
	if failure && a.Labels["source"] != "" {
		keys = append(keys, key{"source:" + a.Labels["source"], false})
	}
	if d := a.Labels["diagnosis"]; d != "" {
		keys = append(keys, key{"diagnosis:" + d, true})
	}
	for _, k := range keys {
		for _, id := range slices.Sorted(maps.Keys(incidents)) {
			in := incidents[id]
			if k.window && now.Sub(in.OpenedAt) > e.Config.GroupWindow {
				continue
			}
			for _, o := range membersOf(alerts, id) {
				if slices.Contains(alertKeys(o), k.k) {
					return in, false
				}
			}
		}
	}
	cause := "alert:" + a.Fingerprint
	switch {
	case failure && a.Labels["source"] != "":
		cause = "source:" + a.Labels["source"]
	case a.RunID != "":
		cause = "run:" + a.RunID
	}
	in := &metadata.Incident{ID: newIncidentID(now), Cause: cause, Title: a.Summary, Severity: a.Severity, State: metadata.IncidentOpen,
		OpenedAt: now, Labels: map[string]string{"cause": strings.SplitN(cause, ":", 2)[0]}}
	incidents[in.ID] = in
	return in, true
}

// alertKeys are the correlation keys an alert offers to others.
func alertKeys(a *metadata.Alert) []string {
	var out []string
	if a.RunID != "" {
		out = append(out, "run:"+a.RunID)
	}
	if a.Labels["class"] == ClassFailure && a.Labels["source"] != "" {
		out = append(out, "source:"+a.Labels["source"])
	}
	if d := a.Labels["diagnosis"]; d != "" {
		out = append(out, "diagnosis:"+d)
	}
	return out
}

// ancestors are the pipelines upstream of name, nearest first.
func ancestors(name string, upstream map[string][]string) []string {
	var out []string
	seen := map[string]bool{name: true}
	queue := slices.Clone(upstream[name])
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, upstream[p]...)
	}
	return out
}

func newIncidentID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:])
	return "inc-" + now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
}

// queue puts an incident's notification in the outbox, once per receiver
// its route names; the id (incident, sequence, status, receiver) is the
// idempotency key, so a cycle repeated after a crash queues nothing
// twice.
func (e *Engine) queue(ctx context.Context, in *metadata.Incident, members []*metadata.Alert, status string, now time.Time) (int, error) {
	if e.Config.Route == nil {
		return 0, nil
	}
	n, err := e.notification(ctx, in, members, status, now)
	if err != nil {
		return 0, err
	}
	queued := 0
	receivers := e.Config.Route.Receivers(n.Labels)
	// Every receiver that heard of the incident hears of its end (and of
	// its updates), whatever the labels its alerts share now.
	told := strings.Split(in.Labels["receivers"], ",")
	for _, r := range told {
		if r != "" && !slices.Contains(receivers, r) && e.Notifiers[r] != nil {
			receivers = append(receivers, r)
		}
	}
	if status == notify.StatusFiring {
		in.Labels["receivers"] = strings.Join(receivers, ",")
	}
	for _, receiver := range receivers {
		n.ID = fmt.Sprintf("%s/%d/%s/%s", in.ID, in.Notified, status, receiver)
		payload, err := json.Marshal(n)
		if err != nil {
			return queued, err
		}
		added, err := e.Store.EnqueueNotification(ctx, metadata.Notification{ID: n.ID, IncidentID: in.ID, Receiver: receiver,
			Payload: string(payload), NextAt: now, CreatedAt: now})
		if err != nil {
			return queued, err
		}
		if added {
			queued++
		}
	}
	return queued, nil
}

// notification is the message of an incident: what happened to which
// pipelines and runs, the diagnosis and what self-healing did or
// proposes, and the commands to act.
func (e *Engine) notification(ctx context.Context, in *metadata.Incident, members []*metadata.Alert, status string, now time.Time) (notify.Notification, error) {
	n := notify.Notification{IncidentID: in.ID, Status: status, Severity: in.Severity, StartsAt: in.OpenedAt, Labels: map[string]string{}}
	if status == notify.StatusResolved {
		n.EndsAt = now
	}
	pipelines, runs, sources := map[string]bool{}, map[string]bool{}, map[string]bool{}
	inhibited := 0
	for _, a := range members {
		na := notify.Alert{Fingerprint: a.Fingerprint, Rule: a.Rule, Pipeline: a.Pipeline, Severity: a.Severity, Status: notify.StatusFiring,
			Summary: a.Summary, Labels: a.Labels, StartsAt: a.FiredAt}
		if a.State != metadata.AlertFiring {
			na.Status, na.EndsAt = notify.StatusResolved, a.ResolvedAt
		}
		if a.Labels["inhibited_by"] != "" {
			inhibited++
			na.Description = "inhibited: a symptom of the failure of " + a.Labels["inhibited_by"] + " upstream"
		}
		n.Alerts = append(n.Alerts, na)
		pipelines[a.Pipeline] = true
		if a.RunID != "" {
			runs[a.RunID] = true
		}
		if s := a.Labels["source"]; s != "" {
			sources[s] = true
		}
	}
	n.Pipelines = slices.Sorted(maps.Keys(pipelines))
	n.Runs = slices.Sorted(maps.Keys(runs))
	n.Suppressed = max(len(members)-1, 0)
	// The labels every alert shares route the incident.
	if len(members) > 0 {
		for k, v := range members[0].Labels {
			if k == "inhibited_by" {
				continue
			}
			all := true
			for _, a := range members[1:] {
				if a.Labels[k] != v {
					all = false
					break
				}
			}
			if all {
				n.Labels[k] = v
			}
		}
	}
	n.Labels["severity"] = in.Severity
	n.Labels["incident"] = in.ID
	n.Labels["cause"] = strings.SplitN(in.Cause, ":", 2)[0]
	kind, subject, _ := strings.Cut(in.Cause, ":")
	switch kind {
	case "source":
		n.Cause = fmt.Sprintf("source %q: %d pipeline(s) affected", subject, len(pipelines))
	case "run":
		n.Cause = "run " + subject
	case "diagnosis":
		n.Cause = "the same diagnosis across pipelines: " + subject
	default:
		if len(members) > 0 {
			n.Cause = members[0].Rule + " on " + members[0].Pipeline
		}
	}
	if inhibited > 0 {
		n.Cause += fmt.Sprintf("; %d alert(s) downstream are its symptoms", inhibited)
	}
	// The receivers say firing or resolved themselves.
	switch {
	case len(members) == 1:
		n.Title = members[0].Summary
	case kind == "source":
		n.Title = fmt.Sprintf("%d alerts on %d pipeline(s) of source %s", len(members), len(pipelines), subject)
	default:
		n.Title = fmt.Sprintf("%d alerts on %s", len(members), strings.Join(n.Pipelines, ", "))
	}
	var summary []string
	for _, a := range members {
		summary = append(summary, a.Summary)
		if len(summary) == 5 {
			summary = append(summary, fmt.Sprintf("and %d more", len(members)-5))
			break
		}
	}
	n.Summary = strings.Join(summary, "; ")
	if err := e.healing(ctx, &n, members); err != nil {
		return n, err
	}
	if e.Config.ExternalURL != "" && len(n.Runs) > 0 {
		n.Link = e.Config.ExternalURL + "/api/v1/runs/" + n.Runs[0]
	}
	return n, nil
}

// maxHealingLines caps the healing actions a message lists.
const maxHealingLines = 6

// healing adds to n what self-healing diagnosed and did or proposes for
// the incident's runs, and the commands to act on it.
func (e *Engine) healing(ctx context.Context, n *notify.Notification, members []*metadata.Alert) error {
	var lines []string
	var pending []int64
	more := 0
	escalated := map[string]bool{}
	seen := map[string]bool{}
	for _, a := range members {
		if a.RunID == "" || seen[a.RunID] {
			continue
		}
		seen[a.RunID] = true
		actions, err := e.Store.ListActions(ctx, metadata.ActionFilter{RunID: a.RunID, Limit: 100})
		if err != nil {
			return err
		}
		for _, act := range actions {
			if n.Diagnosis == "" && act.Category != "" {
				n.Diagnosis, n.Confidence = act.Category, act.Confidence
			}
			if len(lines) < maxHealingLines {
				lines = append(lines, fmt.Sprintf("%s on %s: %s (%s)", act.Strategy, act.Pipeline, act.Status, redact.Text(act.Issue)))
			} else {
				more++
			}
			switch act.Status {
			case "proposed":
				pending = append(pending, act.ID)
			case "escalated":
				escalated[act.Pipeline] = true
			}
		}
	}
	if more > 0 {
		lines = append(lines, fmt.Sprintf("and %d more (shp healing actions --run RUN)", more))
	}
	n.Healing = strings.Join(lines, "; ")
	for _, id := range pending {
		s := strconv.FormatInt(id, 10)
		n.Commands = append(n.Commands, "shp healing approve "+s, "shp healing reject "+s)
	}
	for _, p := range slices.Sorted(maps.Keys(escalated)) {
		n.Commands = append(n.Commands, "shp healing actions --status escalated --pipeline "+p)
	}
	for _, r := range n.Runs {
		n.Commands = append(n.Commands, "shp runs show "+r)
	}
	n.Commands = append(n.Commands, "shp alerts ack "+n.IncidentID)
	return nil
}

// deliveriesPerPass bounds the notifications one Deliver sends; claimMargin
// is how much longer than the delivery timeout a claim lasts.
const (
	deliveriesPerPass = 100
	claimMargin       = 5 * time.Second
)

// DeliveryReport says what one delivery pass did.
type DeliveryReport struct{ Sent, Retried, Failed int }

// Deliver sends the due notifications of the outbox: a success marks one
// sent; a failure that may pass is tried again later (30 s, doubling, at
// most 30 min apart) until MaxAttempts, then parked as failed.
func (e *Engine) Deliver(ctx context.Context) (DeliveryReport, error) {
	var rep DeliveryReport
	// One at a time: a claim covers one send (the delivery timeout and a
	// margin), after which a process that died sending it no longer
	// holds it. A pass ends after an evaluation interval, so that a
	// receiver that hangs does not hold the rules back.
	passEnd := e.now().Add(e.Config.Interval)
	for range deliveriesPerPass {
		if e.now().After(passEnd) {
			return rep, nil
		}
		now := e.now()
		due, err := e.Store.ClaimNotifications(ctx, e.Owner, now, now.Add(e.Config.DeliveryTimeout+claimMargin), 1)
		if err != nil || len(due) == 0 {
			return rep, err
		}
		row := due[0]
		var n notify.Notification
		err = json.Unmarshal([]byte(row.Payload), &n)
		notifier, ok := e.Notifiers[row.Receiver]
		switch {
		case err != nil:
			err = fmt.Errorf("the outbox's payload: %w", err)
		case !ok:
			err = fmt.Errorf("receiver %q is not configured", row.Receiver)
		default:
			sctx, cancel := context.WithTimeout(ctx, e.Config.DeliveryTimeout)
			err = notifier.Notify(sctx, n)
			cancel()
		}
		if err != nil && ctx.Err() != nil {
			// Stopped mid-send (shutdown): not a try; the notification is
			// due again at once, for whoever delivers next.
			row.Status, row.NextAt = metadata.NotificationPending, e.now()
			if ferr := e.Store.FinishNotification(context.WithoutCancel(ctx), row); ferr != nil {
				return rep, ferr
			}
			return rep, ctx.Err()
		}
		row.Attempts++
		at := e.now()
		switch {
		case err == nil:
			row.Status, row.SentAt, row.LastError = metadata.NotificationSent, at, ""
			rep.Sent++
			e.observe(row.Receiver, "sent")
		case ok && notify.Retryable(err) && row.Attempts < e.Config.MaxAttempts:
			wait := backoff(row.Attempts)
			var se *notify.SendError
			if errors.As(err, &se) && se.RetryAfter > wait {
				wait = min(se.RetryAfter, time.Hour) // the receiver asked for it
			}
			row.Status, row.NextAt, row.LastError = metadata.NotificationPending, at.Add(wait), redact.Text(err.Error())
			rep.Retried++
			e.observe(row.Receiver, "retried")
		default:
			row.Status, row.LastError = metadata.NotificationFailed, redact.Text(err.Error())
			rep.Failed++
			e.observe(row.Receiver, "failed")
			e.log().Warn("monitoring: notification parked as failed", "receiver", row.Receiver, "incident", row.IncidentID,
				"attempts", row.Attempts, "err", row.LastError)
		}
		if ferr := e.Store.FinishNotification(context.WithoutCancel(ctx), row); ferr != nil {
			return rep, ferr
		}
	}
	return rep, nil
}

func (e *Engine) observe(receiver, outcome string) {
	if e.Metrics != nil {
		e.Metrics.ObserveNotification(receiver, outcome)
	}
}

// backoff is the wait before try n+1: 30 s doubling, at most 30 min.
func backoff(n int) time.Duration {
	d := 30 * time.Second
	for i := 1; i < n && d < 30*time.Minute; i++ {
		d *= 2
	}
	return min(d, 30*time.Minute)
}

// Ack acknowledges an open incident: it is not notified again until it is
// resolved.
func (e *Engine) Ack(ctx context.Context, id, by string) (metadata.Incident, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return Ack(ctx, e.Store, id, by, e.now())
}

// Silence mutes the alerts whose labels match every matcher for d.
func (e *Engine) Silence(ctx context.Context, matchers []string, d time.Duration, comment, by string) (metadata.Silence, error) {
	return Silence(ctx, e.Store, matchers, d, comment, by, e.now())
}

// IncidentStore is what acknowledging an incident needs.
type IncidentStore interface {
	GetIncident(ctx context.Context, id string) (metadata.Incident, error)
	AckIncident(ctx context.Context, id, by string, at time.Time) (bool, error)
}

// Ack acknowledges an open incident at now: it is not notified again
// until it is resolved. A resolved incident wraps ErrNotOpen. The
// acknowledgement is one update that an evaluation writing the incident
// meanwhile keeps.
func Ack(ctx context.Context, store IncidentStore, id, by string, now time.Time) (metadata.Incident, error) {
	in, err := store.GetIncident(ctx, id)
	if err != nil {
		return in, err
	}
	ok, err := store.AckIncident(ctx, id, by, now)
	if err != nil {
		return in, err
	}
	if !ok {
		if in, err = store.GetIncident(ctx, id); err != nil {
			return in, err
		}
		return in, fmt.Errorf("incident %s is %s: %w", id, in.State, ErrNotOpen)
	}
	return store.GetIncident(ctx, id)
}

// ErrNotOpen is returned for acknowledging an incident that is resolved.
var ErrNotOpen = errors.New("not open")

// ErrBadSilence wraps the reasons a silence is refused.
var ErrBadSilence = errors.New("invalid silence")

// MaxSilence is the longest a silence may last.
const MaxSilence = 90 * 24 * time.Hour

// Silence records, from now, a silence of d for the alerts whose labels
// match every matcher (label="value", !=, =~ or !~).
func Silence(ctx context.Context, store interface {
	AddSilence(ctx context.Context, s metadata.Silence) error
}, matchers []string, d time.Duration, comment, by string, now time.Time) (metadata.Silence, error) {
	if len(matchers) == 0 {
		return metadata.Silence{}, fmt.Errorf("%w: it needs at least one label matcher, such as pipeline=\"orders\"", ErrBadSilence)
	}
	for _, m := range matchers {
		if _, err := notify.ParseMatcher(m); err != nil {
			return metadata.Silence{}, fmt.Errorf("%w: matcher %q: %w", ErrBadSilence, m, err)
		}
	}
	if d <= 0 || d > MaxSilence {
		return metadata.Silence{}, fmt.Errorf("%w: it lasts from 1s to 90 days, got %s", ErrBadSilence, d)
	}
	var b [6]byte
	_, _ = rand.Read(b[:])
	s := metadata.Silence{ID: "sil-" + hex.EncodeToString(b[:]), Matchers: matchers, Comment: comment, CreatedBy: by,
		StartsAt: now, EndsAt: now.Add(d), CreatedAt: now}
	return s, store.AddSilence(ctx, s)
}
