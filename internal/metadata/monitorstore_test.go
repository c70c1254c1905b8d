package metadata

import (
	"context"
	"errors"
	"testing"
	"time"
)

// monitorStore is what the monitoring component calls (internal/monitor
// declares it; the SQL stores have it).
type monitorStore interface {
	Store
	RecentRuns(ctx context.Context, perPipeline int, since time.Time) (map[string][]Run, error)
	LastDiagnoses(ctx context.Context) (map[string]Diagnosis, error)
	AckIncident(ctx context.Context, id, by string, at time.Time) (bool, error)
	CountActions(ctx context.Context) ([]ActionCount, error)
	SaveAlert(ctx context.Context, a Alert) error
	ListAlerts(ctx context.Context, f AlertFilter) ([]Alert, error)
	SaveIncident(ctx context.Context, in Incident) error
	GetIncident(ctx context.Context, id string) (Incident, error)
	ListIncidents(ctx context.Context, f IncidentFilter) ([]Incident, error)
	AddSilence(ctx context.Context, s Silence) error
	ListSilences(ctx context.Context, now time.Time) ([]Silence, error)
	EndSilence(ctx context.Context, id string, at time.Time) error
	EnqueueNotification(ctx context.Context, n Notification) (bool, error)
	ClaimNotifications(ctx context.Context, owner string, now, until time.Time, limit int) ([]Notification, error)
	FinishNotification(ctx context.Context, n Notification) error
	ListNotifications(ctx context.Context, status string, limit int) ([]Notification, error)
	NotificationsOf(ctx context.Context, incident string) ([]Notification, error)
}

func TestMonitoringRecords(t *testing.T) {
	forEachBackend(t, func(t *testing.T, s Store) {
		ctx := context.Background()
		ms, ok := s.(monitorStore)
		if !ok {
			t.Fatal("the store keeps no alerts")
		}
		at := time.Date(2026, 12, 6, 2, 0, 0, 0, time.UTC)
		// Runs: three of a, one of b, one running of b.
		for i, r := range []Run{
			{ID: "a1", Pipeline: "a", Status: StatusSucceeded}, {ID: "a2", Pipeline: "a", Status: StatusFailed},
			{ID: "a3", Pipeline: "a", Status: StatusSucceeded}, {ID: "b1", Pipeline: "b", Status: StatusHeld},
			{ID: "b2", Pipeline: "b", Status: StatusRunning},
		} {
			mustNil(t, s.UpsertPipeline(ctx, Pipeline{Name: r.Pipeline, Source: "src"}))
			r.StartedAt = at.Add(time.Duration(i) * time.Minute)
			status := r.Status
			r.Status = StatusRunning
			mustNil(t, s.CreateRun(ctx, r))
			if status != StatusRunning {
				r.Status, r.EndedAt = status, r.StartedAt.Add(time.Second)
				mustNil(t, s.FinishRun(ctx, r))
			}
		}
		recent, err := ms.RecentRuns(ctx, 2, at.Add(-time.Hour))
		mustNil(t, err)
		if len(recent["a"]) != 2 || recent["a"][0].ID != "a3" || recent["a"][1].ID != "a2" || len(recent["b"]) != 1 || recent["b"][0].ID != "b1" {
			t.Fatalf("recent runs %+v", recent)
		}
		if old, err := ms.RecentRuns(ctx, 5, at.Add(time.Hour)); err != nil || len(old) != 0 {
			t.Errorf("runs since after every start: %v %v", old, err)
		}
		if _, err := ms.RecentRuns(ctx, 0, time.Time{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("0 runs per pipeline: %v", err)
		}
		_, err = s.RecordAction(ctx, HealingAction{RunID: "a2", Pipeline: "a", Strategy: "retry", Category: "connection_refused", Status: "escalated"})
		mustNil(t, err)
		diag, err := ms.LastDiagnoses(ctx)
		mustNil(t, err)
		if diag["a"] != (Diagnosis{RunID: "a2", Category: "connection_refused"}) || len(diag) != 1 {
			t.Errorf("diagnoses %v", diag)
		}

		al := Alert{Fingerprint: "fp1", Rule: "run_failed", Pipeline: "a", Severity: "critical", State: AlertFiring,
			Labels: map[string]string{"source": "src"}, Value: 1.5, RunID: "a2", IncidentID: "inc-1", ActiveAt: at, FiredAt: at}
		mustNil(t, ms.SaveAlert(ctx, al))
		al.State, al.ResolvedAt = AlertResolved, at.Add(time.Hour)
		mustNil(t, ms.SaveAlert(ctx, al))
		if err := ms.SaveAlert(ctx, Alert{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("an empty alert: %v", err)
		}
		got, err := ms.ListAlerts(ctx, AlertFilter{Pipeline: "a"})
		mustNil(t, err)
		if len(got) != 1 || got[0].State != AlertResolved || !got[0].ResolvedAt.Equal(at.Add(time.Hour)) || got[0].Labels["source"] != "src" || got[0].Value != 1.5 {
			t.Fatalf("alerts %+v", got)
		}

		for i, id := range []string{"inc-1", "inc-2", "inc-3"} {
			mustNil(t, ms.SaveIncident(ctx, Incident{ID: id, Cause: "source:src", Title: id, Severity: "critical", State: IncidentOpen,
				OpenedAt: at.Add(time.Duration(i) * time.Hour), Labels: map[string]string{"cause": "source"}}))
		}
		in, err := ms.GetIncident(ctx, "inc-2")
		mustNil(t, err)
		acked, err := ms.AckIncident(ctx, "inc-2", "ana", at.Add(2*time.Hour))
		mustNil(t, err)
		if !acked {
			t.Fatal("an open incident was not acknowledged")
		}
		// An evaluation holding the incident as read before the ack
		// writes it back: the ack stays.
		in.State, in.ResolvedAt, in.Notified = IncidentResolved, at.Add(3*time.Hour), 2
		mustNil(t, ms.SaveIncident(ctx, in))
		if again, err := ms.AckIncident(ctx, "inc-2", "bob", at.Add(4*time.Hour)); err != nil || again {
			t.Errorf("ack of a resolved incident: %v %v", again, err)
		}
		if _, err := ms.GetIncident(ctx, "inc-9"); !errors.Is(err, ErrNotFound) {
			t.Errorf("missing incident: %v", err)
		}
		open, err := ms.ListIncidents(ctx, IncidentFilter{State: IncidentOpen})
		mustNil(t, err)
		if len(open) != 2 || open[0].ID != "inc-3" {
			t.Errorf("open incidents %+v", open)
		}
		page, err := ms.ListIncidents(ctx, IncidentFilter{BeforeOpened: at.Add(2 * time.Hour), Limit: 1})
		mustNil(t, err)
		if len(page) != 1 || page[0].ID != "inc-2" || page[0].AckedBy != "ana" || page[0].Notified != 2 {
			t.Errorf("page %+v", page)
		}

		mustNil(t, ms.AddSilence(ctx, Silence{ID: "s1", Matchers: []string{`pipeline="a"`}, StartsAt: at, EndsAt: at.Add(time.Hour), CreatedAt: at}))
		if err := ms.AddSilence(ctx, Silence{ID: "s2"}); !errors.Is(err, ErrInvalid) {
			t.Errorf("a silence without matchers: %v", err)
		}
		live, err := ms.ListSilences(ctx, at.Add(time.Minute))
		mustNil(t, err)
		if len(live) != 1 || live[0].Matchers[0] != `pipeline="a"` {
			t.Errorf("silences %+v", live)
		}
		mustNil(t, ms.EndSilence(ctx, "s1", at.Add(2*time.Minute)))
		if err := ms.EndSilence(ctx, "s1", at.Add(3*time.Minute)); !errors.Is(err, ErrNotFound) {
			t.Errorf("ending an ended silence: %v", err)
		}
		if live, _ := ms.ListSilences(ctx, at.Add(3*time.Minute)); len(live) != 0 {
			t.Errorf("silences after the end %+v", live)
		}

		n := Notification{ID: "inc-1/0/firing/ops", IncidentID: "inc-1", Receiver: "ops", Payload: "{}", NextAt: at, CreatedAt: at}
		added, err := ms.EnqueueNotification(ctx, n)
		mustNil(t, err)
		again, err := ms.EnqueueNotification(ctx, n)
		mustNil(t, err)
		if !added || again {
			t.Fatalf("enqueue: first %v, again %v", added, again)
		}
		claimed, err := ms.ClaimNotifications(ctx, "p1", at, at.Add(time.Minute), 5)
		mustNil(t, err)
		other, err := ms.ClaimNotifications(ctx, "p2", at.Add(30*time.Second), at.Add(2*time.Minute), 5)
		mustNil(t, err)
		if len(claimed) != 1 || len(other) != 0 {
			t.Fatalf("claims: %d then %d", len(claimed), len(other))
		}
		// The first claimer died: after its claim, another takes it.
		late, err := ms.ClaimNotifications(ctx, "p2", at.Add(2*time.Minute), at.Add(3*time.Minute), 5)
		mustNil(t, err)
		if len(late) != 1 || late[0].ClaimedBy != "p2" {
			t.Fatalf("claim after expiry: %+v", late)
		}
		row := late[0]
		row.Status, row.Attempts, row.SentAt = NotificationSent, 1, at.Add(2*time.Minute)
		mustNil(t, ms.FinishNotification(ctx, row))
		if due, _ := ms.ClaimNotifications(ctx, "p3", at.Add(time.Hour), at.Add(2*time.Hour), 5); len(due) != 0 {
			t.Errorf("a sent notification claimed again: %+v", due)
		}
		sent, err := ms.ListNotifications(ctx, NotificationSent, 10)
		mustNil(t, err)
		of, err := ms.NotificationsOf(ctx, "inc-1")
		mustNil(t, err)
		if len(sent) != 1 || sent[0].Attempts != 1 || len(of) != 1 || of[0].ClaimedBy != "" {
			t.Errorf("sent %+v, of the incident %+v", sent, of)
		}
		// A resolved message waits for the firing one of its incident and
		// receiver, even when that one backs off.
		firing := Notification{ID: "inc-2/0/firing/ops", IncidentID: "inc-2", Receiver: "ops", Payload: "{}", NextAt: at, CreatedAt: at}
		res := Notification{ID: "inc-2/1/resolved/ops", IncidentID: "inc-2", Receiver: "ops", Payload: "{}", NextAt: at, CreatedAt: at.Add(time.Minute)}
		for _, x := range []Notification{firing, res} {
			_, err := ms.EnqueueNotification(ctx, x)
			mustNil(t, err)
		}
		first, err := ms.ClaimNotifications(ctx, "p4", at.Add(2*time.Minute), at.Add(3*time.Minute), 5)
		mustNil(t, err)
		if len(first) != 1 || first[0].ID != firing.ID {
			t.Fatalf("first claim %+v, want the firing message alone", first)
		}
		first[0].Attempts, first[0].NextAt, first[0].Status = 1, at.Add(time.Hour), NotificationPending // backs off
		mustNil(t, ms.FinishNotification(ctx, first[0]))
		if early, _ := ms.ClaimNotifications(ctx, "p4", at.Add(4*time.Minute), at.Add(5*time.Minute), 5); len(early) != 0 {
			t.Fatalf("the resolved message overtook the firing one: %+v", early)
		}
		if _, err := ms.EnqueueNotification(ctx, Notification{}); !errors.Is(err, ErrInvalid) {
			t.Errorf("an empty notification: %v", err)
		}
	})
}
