package monitor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/notify"
)

// recorder is a receiver that keeps what it is sent; fail makes it fail
// the next sends with err.
type recorder struct {
	mu   sync.Mutex
	got  []notify.Notification
	fail []error
}

func (r *recorder) Notify(_ context.Context, n notify.Notification) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.fail) > 0 {
		err := r.fail[0]
		r.fail = r.fail[1:]
		return err
	}
	r.got = append(r.got, n)
	return nil
}

func (r *recorder) sent() []notify.Notification {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]notify.Notification(nil), r.got...)
}

// scenario is a project, its store and an engine on a simulated clock.
type scenario struct {
	t     *testing.T
	now   time.Time
	store metadata.Store
	eng   *Engine
	rec   *recorder
	seq   int
	raw   int // alerts that fired
}

// newScenario writes a project with the given pipelines (config.yaml's
// pipelines section) and sources, and monitoring.yaml, and opens its
// engine with one recording receiver.
func newScenario(t *testing.T, pipelines, sources, monitoring string) *scenario {
	t.Helper()
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("config.yaml", "project: t\npipelines:\n"+pipelines)
	write("sources.yaml", "sources:\n"+sources)
	if monitoring != "" {
		write("monitoring.yaml", monitoring)
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, now: time.Date(2026, 11, 2, 6, 0, 0, 0, time.UTC), store: openStore(t), rec: &recorder{}}
	cfg, problems := ParseConfig(p.Monitoring)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	ms, err := AsStore(s.store)
	if err != nil {
		t.Fatal(err)
	}
	s.eng = &Engine{Store: ms, Config: cfg, Project: p, Now: func() time.Time { return s.now }, Owner: "test",
		Notifiers: map[string]notify.Notifier{"ops": s.rec}}
	if cfg.Route == nil {
		s.eng.Config.Route = &notify.Route{Receiver: "ops"}
	}
	return s
}

// run records a finished run of pipeline started now, lasting took.
func (s *scenario) run(pipeline, status string, rows int64, took time.Duration) string {
	s.t.Helper()
	s.seq++
	id := fmt.Sprintf("run-%s-%03d", pipeline, s.seq)
	ctx := context.Background()
	pl, _ := s.eng.Project.Pipeline(pipeline)
	if err := s.store.UpsertPipeline(ctx, metadata.Pipeline{Name: pipeline, Source: pl.Source, Target: pipeline, UpdatedAt: s.now}); err != nil {
		s.t.Fatal(err)
	}
	r := metadata.Run{ID: id, Pipeline: pipeline, Status: metadata.StatusRunning, StartedAt: s.now}
	if err := s.store.CreateRun(ctx, r); err != nil {
		s.t.Fatal(err)
	}
	r.Status, r.EndedAt, r.RowsIn, r.RowsLoaded = status, s.now.Add(took), rows, rows
	if status == metadata.StatusFailed {
		r.RowsLoaded, r.Error = 0, "connection refused"
	}
	if err := s.store.FinishRun(ctx, r); err != nil {
		s.t.Fatal(err)
	}
	return id
}

// cycle evaluates and delivers once, then moves the clock on by step.
func (s *scenario) cycle(step time.Duration) CycleReport {
	s.t.Helper()
	ctx := context.Background()
	rep, err := s.eng.Evaluate(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	s.raw += rep.Fired
	if _, err := s.eng.Deliver(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.now = s.now.Add(step)
	return rep
}

func (s *scenario) incidents(state string) []metadata.Incident {
	s.t.Helper()
	in, err := s.eng.Store.ListIncidents(context.Background(), metadata.IncidentFilter{State: state})
	if err != nil {
		s.t.Fatal(err)
	}
	return in
}

// outage: ten pipelines on one database, each with a pipeline downstream
// that depends on it.
func outageProject() (string, string) {
	var pl strings.Builder
	for i := range 10 {
		fmt.Fprintf(&pl, "  orders_%d:\n    source: orders_db\n    target: orders_%d\n    schedule: '@hourly'\n", i, i)
		fmt.Fprintf(&pl, "  report_%d:\n    source: warehouse\n    target: report_%d\n    schedule: '@hourly'\n    depends_on: [orders_%d]\n", i, i, i)
	}
	sources := "  orders_db:\n    type: postgres\n    dsn: postgres://x@127.0.0.1/db\n    table: orders\n" +
		"  warehouse:\n    type: postgres\n    dsn: postgres://x@127.0.0.1/wh\n    table: orders\n"
	return pl.String(), sources
}

// healthyDay runs the outage project's pipelines hourly for a day.
func (s *scenario) healthyDay() {
	for range 24 {
		s.allRun(metadata.StatusSucceeded)
		s.cycle(time.Hour)
	}
}

// allRun records a run of every orders_N pipeline with status, and of
// every report_N when they succeed.
func (s *scenario) allRun(status string) {
	for i := range 10 {
		if status == metadata.StatusFailed {
			s.run(fmt.Sprintf("orders_%d", i), status, 0, time.Second)
			continue
		}
		s.run(fmt.Sprintf("orders_%d", i), status, 1000, time.Minute)
		s.run(fmt.Sprintf("report_%d", i), status, 10, time.Minute)
	}
}

// outage has the database fail for hours: every extraction fails, hour
// after hour; the reports downstream are not run and go stale.
func (s *scenario) outage(hours int) {
	for range hours {
		s.allRun(metadata.StatusFailed)
		for range 12 {
			s.cycle(5 * time.Minute)
		}
	}
}

func TestSourceOutageIsOneIncident(t *testing.T) {
	pl, src := outageProject()
	s := newScenario(t, pl, src, "")
	s.healthyDay()
	if got := s.rec.sent(); len(got) != 0 {
		t.Fatalf("a healthy day notified %d times: %v", len(got), got[0].Title)
	}
	s.outage(4)
	sent := s.rec.sent()
	open := s.incidents(metadata.IncidentOpen)
	if len(open) != 1 || len(sent) != 1 {
		t.Fatalf("%d raw alerts became %d open incidents and %d notifications, want 1 and 1: %+v", s.raw, len(open), len(sent), open)
	}
	// The message went out once the failures had gathered; the stale
	// data that followed (of the failing pipelines and of the reports
	// downstream) joined the incident without a message of its own.
	n := sent[0]
	if s.raw != 30 || open[0].Alerts != 30 || len(n.Alerts) != 10 || len(n.Pipelines) != 10 || !strings.Contains(n.Cause, `source "orders_db"`) {
		t.Errorf("raw %d, incident of %d; notification of %d alerts on %d pipelines, cause %q", s.raw, open[0].Alerts, len(n.Alerts),
			len(n.Pipelines), n.Cause)
	}
	if n.Severity != notify.SeverityCritical || n.Status != notify.StatusFiring || !strings.Contains(n.Title, "orders_db") {
		t.Errorf("notification %q %s %s", n.Title, n.Severity, n.Status)
	}
	// The database comes back: the runs succeed, the incident resolves,
	// and one resolved message follows, naming every alert.
	s.allRun(metadata.StatusSucceeded)
	s.cycle(5 * time.Minute)
	if len(s.rec.sent()) != 1 {
		t.Fatal("resolved before resolve_wait")
	}
	s.cycle(5 * time.Minute)
	s.cycle(time.Minute)
	sent = s.rec.sent()
	if len(sent) != 2 || sent[1].Status != notify.StatusResolved || sent[1].IncidentID != n.IncidentID || len(sent[1].Alerts) != 30 {
		t.Fatalf("after recovery: %d notifications, last %+v", len(sent), sent[len(sent)-1])
	}
	if len(s.incidents(metadata.IncidentOpen)) != 0 {
		t.Error("the incident is still open after recovery")
	}
	inhibited := 0
	for _, a := range sent[1].Alerts {
		if strings.HasPrefix(a.Pipeline, "report_") {
			if !strings.Contains(a.Description, "upstream") {
				t.Errorf("the stale %s is not marked a symptom: %+v", a.Pipeline, a)
			}
			inhibited++
		}
	}
	if inhibited != 10 {
		t.Errorf("%d downstream alerts joined, want 10", inhibited)
	}
}

func TestHeldRunWithProposalIsOneIncidentWithCommands(t *testing.T) {
	s := newScenario(t, "  sales:\n    source: files\n", "  files:\n    type: file\n    path: data/\n", "group_wait: 0s\n")
	id := s.run("sales", metadata.StatusHeld, 500, time.Minute)
	actID, err := s.store.RecordAction(context.Background(), metadata.HealingAction{RunID: id, Pipeline: "sales", Strategy: "hold_commit",
		Category: "volume_anomaly", Confidence: 0.92, Status: "proposed", Issue: "rows_in 500 against a median of 10000"})
	if err != nil {
		t.Fatal(err)
	}
	s.cycle(time.Minute)
	sent := s.rec.sent()
	if len(sent) != 1 || s.raw != 2 {
		t.Fatalf("%d raw alerts, %d notifications; want 2 alerts (held, approval pending) in one", s.raw, len(sent))
	}
	n := sent[0]
	want := fmt.Sprintf("shp healing approve %d", actID)
	if n.Diagnosis != "volume_anomaly" || n.Confidence != 0.92 || !strings.Contains(strings.Join(n.Commands, "\n"), want) ||
		!strings.Contains(n.Healing, "hold_commit") || n.Runs[0] != id {
		t.Errorf("notification %+v lacks the diagnosis, healing or %q", n, want)
	}
	// Acknowledged, it is not repeated; resolved, it says so once.
	if _, err := s.eng.Ack(context.Background(), n.IncidentID, "ana"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		s.cycle(time.Hour)
	}
	if got := len(s.rec.sent()); got != 1 {
		t.Fatalf("an acknowledged incident was notified %d times", got)
	}
	if err := s.store.DecideAction(context.Background(), actID, "approved", "ana", ""); err != nil {
		t.Fatal(err)
	}
	s.run("sales", metadata.StatusSucceeded, 500, time.Minute)
	s.cycle(10 * time.Minute)
	s.cycle(time.Minute)
	if sent := s.rec.sent(); len(sent) != 2 || sent[1].Status != notify.StatusResolved {
		t.Fatalf("after the decision: %+v", sent)
	}
	if _, err := s.eng.Ack(context.Background(), n.IncidentID, "ana"); !errors.Is(err, ErrNotOpen) {
		t.Errorf("ack of a resolved incident: %v", err)
	}
}

func TestUnacknowledgedIncidentIsRepeated(t *testing.T) {
	s := newScenario(t, "  sales:\n    source: files\n", "  files:\n    type: file\n    path: data/\n",
		"group_wait: 1m\nrepeat_interval: 1h\n")
	s.run("sales", metadata.StatusFailed, 0, time.Second)
	s.cycle(30 * time.Second)
	if len(s.rec.sent()) != 0 {
		t.Fatal("notified before group_wait")
	}
	for range 10 {
		s.cycle(15 * time.Minute) // 2.5 h
	}
	sent := s.rec.sent()
	if len(sent) != 3 || sent[0].ID == sent[1].ID {
		t.Fatalf("%d notifications in 2.5 h with a 1 h repeat, want 3 with their own ids", len(sent))
	}
}

func TestSilenceHoldsNotificationsBack(t *testing.T) {
	s := newScenario(t, "  sales:\n    source: files\n  other:\n    source: more\n",
		"  files:\n    type: file\n    path: data/\n  more:\n    type: file\n    path: more/\n", "group_wait: 0s\n")
	if _, err := s.eng.Silence(context.Background(), []string{`pipeline="sales"`}, 2*time.Hour, "maintenance", "ana"); err != nil {
		t.Fatal(err)
	}
	s.run("sales", metadata.StatusFailed, 0, time.Second)
	rep := s.cycle(time.Minute)
	if len(s.rec.sent()) != 0 || rep.Suppressed != 1 {
		t.Fatalf("silenced: %d sent, %d suppressed", len(s.rec.sent()), rep.Suppressed)
	}
	s.cycle(time.Minute)
	// Another pipeline's failure is not silenced.
	s.run("other", metadata.StatusFailed, 0, time.Second)
	s.cycle(time.Minute)
	if sent := s.rec.sent(); len(sent) != 1 {
		t.Fatalf("%d notifications, want the unsilenced incident's", len(sent))
	}
	// When the silence ends, the incident still open is notified.
	s.now = s.now.Add(2 * time.Hour)
	s.cycle(time.Minute)
	if sent := s.rec.sent(); len(sent) != 2 {
		t.Fatalf("%d notifications after the silence ended, want 2", len(sent))
	}
	for _, bad := range [][]string{nil, {`pipeline~"x"`}} {
		if _, err := s.eng.Silence(context.Background(), bad, time.Hour, "", "ana"); err == nil {
			t.Errorf("silence %q accepted", bad)
		}
	}
	if _, err := s.eng.Silence(context.Background(), []string{`a="b"`}, 0, "", "ana"); err == nil {
		t.Error("a silence of no time accepted")
	}
}

func TestDeliveryRetriesThenParks(t *testing.T) {
	s := newScenario(t, "  sales:\n    source: files\n", "  files:\n    type: file\n    path: data/\n", "group_wait: 0s\nmax_attempts: 3\n")
	transient := &notify.SendError{Receiver: "ops", Msg: "503", Temporary: true}
	s.rec.fail = []error{transient, transient, transient}
	s.run("sales", metadata.StatusFailed, 0, time.Second)
	s.cycle(time.Minute)
	for range 5 {
		if _, err := s.eng.Deliver(context.Background()); err != nil {
			t.Fatal(err)
		}
		s.now = s.now.Add(time.Hour)
	}
	failed, err := s.eng.Store.ListNotifications(context.Background(), metadata.NotificationFailed, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].Attempts != 3 || !strings.Contains(failed[0].LastError, "503") || len(s.rec.sent()) != 0 {
		t.Fatalf("parked %+v, sent %d", failed, len(s.rec.sent()))
	}
}

func TestDeliveryRecoversAfterATransientFailure(t *testing.T) {
	s := newScenario(t, "  sales:\n    source: files\n", "  files:\n    type: file\n    path: data/\n", "group_wait: 0s\n")
	s.rec.fail = []error{&notify.SendError{Receiver: "ops", Msg: "timeout", Temporary: true}}
	s.run("sales", metadata.StatusFailed, 0, time.Second)
	s.cycle(time.Minute)
	if len(s.rec.sent()) != 0 {
		t.Fatal("sent despite the failure")
	}
	s.now = s.now.Add(time.Minute)
	if rep, err := s.eng.Deliver(context.Background()); err != nil || rep.Sent != 1 {
		t.Fatalf("retry: %+v %v", rep, err)
	}
	if len(s.rec.sent()) != 1 {
		t.Fatal("not delivered on retry")
	}
}
