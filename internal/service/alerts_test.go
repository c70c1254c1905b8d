package service

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
)

// alerting adds n firing alerts of an open incident and a resolved one
// of another, and a notification of each.
func (f *fixture) alerting(n int) (open, closed string) {
	f.t.Helper()
	ms := f.store.(monitor.Store)
	open, closed = "inc-open", "inc-closed"
	f.must(ms.SaveIncident(f.ctx, metadata.Incident{ID: open, Cause: "source:db", Title: "db down", Severity: "critical",
		State: metadata.IncidentOpen, OpenedAt: f.now.Add(-time.Hour), Alerts: n, Notified: 1}))
	f.must(ms.SaveIncident(f.ctx, metadata.Incident{ID: closed, Cause: "run:r1", Title: "held", Severity: "warning",
		State: metadata.IncidentResolved, OpenedAt: f.now.Add(-48 * time.Hour), ResolvedAt: f.now.Add(-47 * time.Hour), Alerts: 1}))
	for i := range n {
		f.must(ms.SaveAlert(f.ctx, metadata.Alert{Fingerprint: fmt.Sprintf("fp%02d", i), Rule: "run_failed", Pipeline: fmt.Sprintf("p%02d", i),
			Severity: "critical", State: metadata.AlertFiring, IncidentID: open, Labels: map[string]string{"source": "db"},
			ActiveAt: f.now.Add(-time.Hour), FiredAt: f.now.Add(-time.Hour)}))
	}
	f.must(ms.SaveAlert(f.ctx, metadata.Alert{Fingerprint: "fpz", Rule: "run_held", Pipeline: "orders", Severity: "warning",
		State: metadata.AlertResolved, IncidentID: closed, ResolvedAt: f.now.Add(-47 * time.Hour)}))
	for _, id := range []string{open, closed} {
		if _, err := ms.EnqueueNotification(f.ctx, metadata.Notification{ID: id + "/0/firing/ops", IncidentID: id, Receiver: "ops",
			Payload: "{}", CreatedAt: f.now.Add(-time.Hour)}); err != nil {
			f.t.Fatal(err)
		}
	}
	return open, closed
}

func TestAlertsAndIncidentsPage(t *testing.T) {
	f := newFixture(t, nil)
	open, closed := f.alerting(7)
	var seen []string
	q := AlertQuery{State: metadata.AlertFiring, PageRequest: PageRequest{PageSize: 3}}
	for range 10 {
		page, err := f.svc.Alerts(f.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			seen = append(seen, a.Pipeline)
		}
		if page.NextPageToken == "" {
			break
		}
		q.PageToken = page.NextPageToken
	}
	if strings.Join(seen, ",") != "p00,p01,p02,p03,p04,p05,p06" {
		t.Fatalf("firing alerts paged as %v", seen)
	}
	all, err := f.svc.Alerts(f.ctx, AlertQuery{Pipeline: "orders"})
	if err != nil || len(all.Items) != 1 || all.Items[0].State != metadata.AlertResolved {
		t.Fatalf("orders' alerts %+v %v", all, err)
	}
	inc, err := f.svc.Incidents(f.ctx, IncidentQuery{PageRequest: PageRequest{PageSize: 1}})
	if err != nil || len(inc.Items) != 1 || inc.Items[0].ID != open || inc.NextPageToken == "" {
		t.Fatalf("first page of incidents %+v %v", inc, err)
	}
	next, err := f.svc.Incidents(f.ctx, IncidentQuery{PageRequest: PageRequest{PageSize: 1, PageToken: inc.NextPageToken}})
	if err != nil || len(next.Items) != 1 || next.Items[0].ID != closed || next.Items[0].ResolvedAt == nil {
		t.Fatalf("second page %+v %v", next, err)
	}
	one, err := f.svc.Incident(f.ctx, open)
	if err != nil || len(one.Members) != 7 || len(one.Notifications) != 1 || one.Notifications[0].Status != metadata.NotificationPending {
		t.Fatalf("incident %+v %v", one, err)
	}
	for _, bad := range []error{
		func() error { _, err := f.svc.Alerts(f.ctx, AlertQuery{State: "burning"}); return err }(),
		func() error {
			_, err := f.svc.Alerts(f.ctx, AlertQuery{PageRequest: PageRequest{PageToken: "junk"}})
			return err
		}(),
		func() error { _, err := f.svc.Incidents(f.ctx, IncidentQuery{State: "closed"}); return err }(),
		func() error {
			_, err := f.svc.Incidents(f.ctx, IncidentQuery{PageRequest: PageRequest{PageToken: encodeToken("incidents", "x")}})
			return err
		}(),
		func() error { _, err := f.svc.Notifications(f.ctx, "lost", 0); return err }(),
	} {
		var fe *FieldError
		if !errors.As(bad, &fe) {
			t.Errorf("bad input: %v, want a field error", bad)
		}
	}
	if _, err := f.svc.Incident(f.ctx, "inc-nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("missing incident: %v", err)
	}
	notes, err := f.svc.Notifications(f.ctx, metadata.NotificationPending, 0)
	if err != nil || len(notes) != 2 {
		t.Errorf("pending notifications %+v %v", notes, err)
	}
}

func TestAckAndSilence(t *testing.T) {
	f := newFixture(t, nil)
	open, closed := f.alerting(1)
	v, err := f.svc.AckIncident(f.ctx, open, "key:ops")
	if err != nil || v.AckedBy != "key:ops" || v.AckedAt == nil {
		t.Fatalf("ack %+v %v", v, err)
	}
	if _, err := f.svc.AckIncident(f.ctx, closed, "key:ops"); !errors.Is(err, ErrConflict) {
		t.Errorf("ack of a resolved incident: %v", err)
	}
	if _, err := f.svc.AckIncident(f.ctx, "inc-nope", "key:ops"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ack of no incident: %v", err)
	}
	s, err := f.svc.Silence(f.ctx, SilenceRequest{Matchers: []string{`pipeline="orders"`}, Duration: 2 * time.Hour, Comment: "upgrade"}, "key:ops")
	if err != nil || !s.EndsAt.Equal(f.now.Add(2*time.Hour)) || s.CreatedBy != "key:ops" {
		t.Fatalf("silence %+v %v", s, err)
	}
	for _, bad := range []SilenceRequest{{Duration: time.Hour}, {Matchers: []string{"x ~ y"}, Duration: time.Hour},
		{Matchers: []string{`a="b"`}, Duration: 100 * 24 * time.Hour}} {
		var fe *FieldError
		if _, err := f.svc.Silence(f.ctx, bad, "key:ops"); !errors.As(err, &fe) {
			t.Errorf("silence %+v: %v, want a field error", bad, err)
		}
	}
	list, err := f.svc.Silences(f.ctx)
	if err != nil || len(list) != 1 {
		t.Fatalf("silences %+v %v", list, err)
	}
	if err := f.svc.Unsilence(f.ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Unsilence(f.ctx, s.ID); !errors.Is(err, ErrNotFound) {
		t.Errorf("a second unsilence: %v", err)
	}
	if list, _ := f.svc.Silences(f.ctx); len(list) != 0 {
		t.Errorf("silences after unsilence: %+v", list)
	}
}

func TestAlertsWithoutAMonitoringStore(t *testing.T) {
	f := newFixture(t, nil)
	s := &Service{Project: f.svc.Project, Store: touchFails{Store: f.store}}
	if _, err := s.Alerts(f.ctx, AlertQuery{}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("alerts over a store without them: %v", err)
	}
}
