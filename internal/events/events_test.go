package events

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shp-dev/shp/internal/config"
	_ "github.com/shp-dev/shp/internal/warehouse/duckdb/duckdbspec"
)

func project(t *testing.T) *config.Project {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml": "project: ev\nevents:\n  subscription: projects/shp-test/subscriptions/landing\npipelines:\n" +
			"  sales: {source: sales}\n  returns: {source: returns}\n  local: {source: local}\n  all_sales: {source: everything}\n",
		"sources.yaml": "sources:\n" +
			"  sales: {type: gcs, bucket: landing, path: sales/*.csv}\n" +
			"  returns: {type: gcs, bucket: landing, path: 'returns/**/*.csv'}\n" +
			"  everything: {type: gcs, bucket: landing, path: sales/}\n" +
			"  local: {type: file, path: data/*.csv}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPipelines(t *testing.T) {
	p := project(t)
	if p.Config.Events.Subscription != "projects/shp-test/subscriptions/landing" {
		t.Fatalf("events %+v", p.Config.Events)
	}
	for _, tc := range []struct {
		bucket, object string
		want           []string
	}{
		{"landing", "sales/2026-12-06.csv", []string{"all_sales", "sales"}},
		{"landing", "sales/2026/12/06.csv", []string{"all_sales"}},
		{"landing", "returns/2026/12/06.csv", []string{"returns"}},
		{"landing", "sales/_SUCCESS", nil},
		{"landing", "sales/.hidden.csv", nil},
		{"other", "sales/2026-12-06.csv", nil},
		{"landing", "data/x.csv", nil},
	} {
		if got := Pipelines(p, tc.bucket, tc.object); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("gs://%s/%s: %v, want %v", tc.bucket, tc.object, got, tc.want)
		}
	}
}

// recorder is a Trigger that records its calls, and fails the first n.
type recorder struct {
	mu    sync.Mutex
	calls []string
	fail  int
}

func (r *recorder) trigger(_ context.Context, pipeline string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, pipeline)
	if r.fail > 0 {
		r.fail--
		return "", errors.New("the scheduler is stopping")
	}
	return "run-" + pipeline, nil
}

func (r *recorder) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func TestHandle(t *testing.T) {
	r := &recorder{}
	s := &Subscriber{Project: project(t), Trigger: r.trigger}
	ctx := context.Background()
	runs, err := s.Handle(ctx, map[string]string{AttrEventType: ObjectFinalize, AttrBucket: "landing", AttrObject: "sales/a.csv"})
	if err != nil || !reflect.DeepEqual(runs, []string{"run-all_sales", "run-sales"}) {
		t.Errorf("a sales object: %v %v", runs, err)
	}
	for _, attrs := range []map[string]string{
		{AttrEventType: "OBJECT_DELETE", AttrBucket: "landing", AttrObject: "sales/a.csv"},
		{AttrEventType: ObjectFinalize, AttrBucket: "landing"},
		{AttrEventType: ObjectFinalize, AttrBucket: "landing", AttrObject: "elsewhere/a.csv"},
		nil,
	} {
		if runs, err := s.Handle(ctx, attrs); err != nil || len(runs) != 0 {
			t.Errorf("%v: %v %v", attrs, runs, err)
		}
	}
	r.fail = 1
	if _, err := s.Handle(ctx, map[string]string{AttrEventType: ObjectFinalize, AttrBucket: "landing", AttrObject: "sales/b.csv"}); err == nil {
		t.Error("a failed trigger is no error")
	}
	if ProjectOf("projects/shp-test/subscriptions/landing") != "shp-test" {
		t.Error("ProjectOf")
	}
}

// TestReceive runs the subscriber against the Pub/Sub fake: a
// notification for a sales object starts its pipelines, one for another
// object is acknowledged and starts nothing, and one whose trigger fails
// comes again and starts its run then.
func TestReceive(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv := pstest.NewServer()
	defer srv.Close()
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client, err := pubsub.NewClient(ctx, "shp-test", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	topic := "projects/shp-test/topics/landing"
	sub := "projects/shp-test/subscriptions/landing"
	if _, err := client.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}
	r := &recorder{fail: 1}
	s := &Subscriber{Client: client, Subscription: sub, Project: project(t), Trigger: r.trigger}
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	notify := func(object string) {
		srv.Publish(topic, []byte(`{"kind":"storage#object"}`), map[string]string{AttrEventType: ObjectFinalize, AttrBucket: "landing", AttrObject: object})
	}
	notify("elsewhere/x.csv")
	notify("returns/2026/12/06.csv") // its first trigger fails: delivered again
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && len(r.got()) < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.got(); !reflect.DeepEqual(got, []string{"returns", "returns"}) {
		t.Errorf("triggers %v, want the returns pipeline twice (failed, then delivered again)", got)
	}
	notify("sales/2026-12-06.csv")
	for time.Now().Before(deadline) && len(r.got()) < 4 {
		time.Sleep(20 * time.Millisecond)
	}
	if got := r.got(); len(got) != 4 || got[2] != "all_sales" || got[3] != "sales" {
		t.Errorf("triggers %v", got)
	}
	// Every message is acknowledged in the end.
	for time.Now().Before(deadline) {
		acked := 0
		for _, m := range srv.Messages() {
			if m.Acks > 0 {
				acked++
			}
		}
		if acked == 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, m := range srv.Messages() {
		if m.Acks == 0 {
			t.Errorf("message %s (%v) was never acknowledged", m.ID, m.Attributes)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
}
