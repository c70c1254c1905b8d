package cli

import (
	"context"
	"fmt"
	"time"

	"cloud.google.com/go/pubsub/v2"

	"github.com/shp-dev/shp/internal/events"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/scheduler"
)

// serveEvents subscribes to the Pub/Sub subscription of Cloud Storage
// notifications and enqueues a run of each pipeline whose gcs source an
// arriving object matches (the client reads PUBSUB_EMULATOR_HOST for an
// emulator). It returns once subscribed, and a function that stops it.
func (o *orchestrator) serveEvents(ctx context.Context, e *env, subscription string) (func(), error) {
	client, err := pubsub.NewClient(ctx, events.ProjectOf(subscription))
	if err != nil {
		return nil, fmt.Errorf("events: connect to Pub/Sub for %s: %w", subscription, err)
	}
	s := &events.Subscriber{Client: client, Subscription: subscription, Project: o.svc.project, Logger: e.logger(),
		Trigger: func(ctx context.Context, name string) (string, error) {
			now := time.Now().UTC().Truncate(time.Microsecond)
			runID := pipeline.NewRunID(now)
			job := scheduler.Job{Pipeline: name, Interval: scheduler.Interval{Start: now, End: now}, Trigger: scheduler.TriggerEvent, RunID: runID}
			// The run goes on after the message is acknowledged.
			return runID, o.sched.Enqueue(context.WithoutCancel(ctx), job)
		}}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := s.Run(runCtx); err != nil {
			fmt.Fprintf(e.stderr, "shp serve: %v\n", err)
		}
	}()
	return func() {
		cancel()
		<-done
		client.Close()
	}, nil
}
