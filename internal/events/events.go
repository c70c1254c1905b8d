// Package events starts runs from Cloud Storage notifications: shp serve
// subscribes to a Pub/Sub subscription that receives a bucket's
// OBJECT_FINALIZE notifications, and runs at once each pipeline whose
// "gcs" source the object that arrived matches, with no polling delay.
// Delivery is at least once: a notification delivered again starts
// another run, which finds the object in the ledger and loads nothing
// twice. A message is acknowledged once its runs are enqueued, and left
// to be delivered again when one could not be.
package events

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"

	"cloud.google.com/go/pubsub/v2"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/source"
)

// Notification attributes Cloud Storage sets (the JSON_API_V1 payload
// format).
const (
	AttrEventType = "eventType"
	AttrBucket    = "bucketId"
	AttrObject    = "objectId"
	// ObjectFinalize is the event of an object written (created or
	// replaced).
	ObjectFinalize = "OBJECT_FINALIZE"
)

// Trigger starts a run of a pipeline and returns its run id.
type Trigger func(ctx context.Context, pipeline string) (string, error)

// Subscriber receives notifications and triggers the pipelines they
// concern.
type Subscriber struct {
	Client       *pubsub.Client
	Subscription string
	Project      *config.Project
	Trigger      Trigger
	Logger       *slog.Logger
}

func (s *Subscriber) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Pipelines lists the pipelines, by name, whose gcs source reads the
// object.
func Pipelines(p *config.Project, bucket, object string) []string {
	var out []string
	for _, name := range p.PipelineNames() {
		pl, _ := p.Pipeline(name)
		src, ok := p.Sources[pl.Source]
		if !ok || src.Type != "gcs" {
			continue
		}
		spec := source.Spec{Name: pl.Source, Type: src.Type, Bucket: src.Bucket, Path: src.Path}
		if source.GCSMatches(spec, bucket, object) {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// Handle reads one notification and triggers the pipelines it concerns.
// It returns the runs started; an error means the message should be
// delivered again (a trigger failed), nil with no runs that it concerns
// none (another event, another bucket, an object no source reads).
func (s *Subscriber) Handle(ctx context.Context, attrs map[string]string) ([]string, error) {
	if attrs[AttrEventType] != ObjectFinalize {
		return nil, nil
	}
	bucket, object := attrs[AttrBucket], attrs[AttrObject]
	if bucket == "" || object == "" {
		return nil, nil
	}
	var runs []string
	var errs []error
	for _, name := range Pipelines(s.Project, bucket, object) {
		id, err := s.Trigger(ctx, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("pipeline %s: %w", name, err))
			continue
		}
		runs = append(runs, id)
		s.logger().Info("object arrived: run started", "object", "gs://"+bucket+"/"+object, "pipeline", name, "run_id", id)
	}
	return runs, errors.Join(errs...)
}

// Run receives notifications until ctx is done.
func (s *Subscriber) Run(ctx context.Context) error {
	sub := s.Client.Subscriber(s.Subscription)
	err := sub.Receive(ctx, func(ctx context.Context, m *pubsub.Message) {
		if _, err := s.Handle(ctx, m.Attributes); err != nil {
			s.logger().Warn("object arrived: a run could not be started; the notification comes again", "object",
				"gs://"+m.Attributes[AttrBucket]+"/"+m.Attributes[AttrObject], "err", err)
			m.Nack()
			return
		}
		m.Ack()
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("events: receive from %s: %w", s.Subscription, err)
	}
	return nil
}

// ProjectOf is the project of a subscription's full name.
func ProjectOf(subscription string) string {
	rest, _ := strings.CutPrefix(subscription, "projects/")
	p, _, _ := strings.Cut(rest, "/")
	return p
}
