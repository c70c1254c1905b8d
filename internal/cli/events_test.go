package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2"
	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"github.com/fsouza/fake-gcs-server/fakestorage"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shp-dev/shp/internal/events"
)

// TestEventDrivenRuns runs shp serve against the Pub/Sub fake and
// fake-gcs-server: an object's OBJECT_FINALIZE notification starts its
// pipeline at once (trigger "event"), which loads the object; the same
// notification delivered again starts a run that loads nothing twice.
func TestEventDrivenRuns(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var csv strings.Builder
	csv.WriteString("order_id,amount\n")
	for i := range 25 {
		fmt.Fprintf(&csv, "%d,%d.5\n", i+1, i)
	}
	gcs, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1",
		InitialObjects: []fakestorage.Object{{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "landing", Name: "sales/2026-12-06.csv"},
			Content: []byte(csv.String())}}})
	if err != nil {
		t.Fatal(err)
	}
	defer gcs.Stop()
	ps := pstest.NewServer()
	defer ps.Close()
	t.Setenv("PUBSUB_EMULATOR_HOST", ps.Addr)
	conn, err := grpc.NewClient(ps.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	admin, err := pubsub.NewClient(ctx, "shp-test", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	topic, sub := "projects/shp-test/topics/landing", "projects/shp-test/subscriptions/shp"
	if _, err := admin.TopicAdminClient.CreateTopic(ctx, &pubsubpb.Topic{Name: topic}); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.SubscriptionAdminClient.CreateSubscription(ctx, &pubsubpb.Subscription{Name: sub, Topic: topic, AckDeadlineSeconds: 10}); err != nil {
		t.Fatal(err)
	}

	dir := filepath.Join(t.TempDir(), "proj")
	os.MkdirAll(dir, 0o755)
	for name, body := range map[string]string{
		"config.yaml": "project: ev\nevents:\n  subscription: " + sub + "\npipelines:\n  sales:\n    source: landing_sales\n    target: sales\n",
		"sources.yaml": "sources:\n  landing_sales:\n    type: gcs\n    bucket: landing\n    path: sales/*.csv\n    format: csv\n" +
			"    schema: schema.json\n    endpoint: " + gcs.URL() + "\n",
		"schema.json": `[{"name":"order_id","type":"INTEGER"},{"name":"amount","type":"FLOAT"}]`,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	serveCtx, stop := context.WithCancel(ctx)
	served := make(chan int, 1)
	var serveErr strings.Builder
	go func() {
		var out strings.Builder
		served <- Main(serveCtx, []string{"serve", "--config", dir, "--alerts=false"}, strings.NewReader(""), &out, &serveErr)
	}()
	defer func() {
		stop()
		<-served
	}()

	type run struct {
		ID         string `json:"id"`
		Status     string `json:"status"`
		Trigger    string `json:"trigger"`
		RowsIn     int64  `json:"rows_in"`
		RowsLoaded int64  `json:"rows_loaded"`
	}
	eventRuns := func() []run {
		code, out, _ := shp(t, "runs", "--config", dir, "--format", "json", "--limit", "0")
		var rs []run
		if code != 0 || json.Unmarshal([]byte(out), &rs) != nil {
			return nil
		}
		var done []run
		for _, r := range rs {
			if r.Trigger == "event" && r.Status != "running" && r.Status != "queued" {
				done = append(done, r)
			}
		}
		return done
	}
	waitRuns := func(n int) []run {
		for ctx.Err() == nil {
			if rs := eventRuns(); len(rs) >= n {
				return rs
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no %d event runs; shp serve said:\n%s", n, serveErr.String())
		return nil
	}
	notify := func() {
		ps.Publish(topic, []byte(`{"kind":"storage#object"}`), map[string]string{events.AttrEventType: events.ObjectFinalize,
			events.AttrBucket: "landing", events.AttrObject: "sales/2026-12-06.csv"})
	}
	notify()
	rs := waitRuns(1)
	if rs[0].Status != "succeeded" || rs[0].RowsLoaded != 25 {
		t.Fatalf("the event's run: %+v\n%s", rs[0], serveErr.String())
	}
	notify() // delivered again
	rs = waitRuns(2)
	newest := rs[0]
	if newest.Status != "succeeded" || newest.RowsIn != 0 || newest.RowsLoaded != 0 {
		t.Errorf("the run of the notification delivered again: %+v", newest)
	}
	code, out, errOut := shp(t, "query", "--config", dir, "--format", "csv", "SELECT count(*), count(DISTINCT order_id) FROM sales")
	if code != 0 || !strings.Contains(out, "25,25") {
		t.Errorf("the target after two notifications: %d %s %s", code, out, errOut)
	}
	if !strings.Contains(serveErr.String(), "runs the pipelines whose objects arrive") {
		t.Errorf("shp serve does not say it subscribed:\n%s", serveErr.String())
	}
}
