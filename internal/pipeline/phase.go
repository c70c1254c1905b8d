package pipeline

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/shp-dev/shp/internal/redact"
)

// The stages of a run, as Result.Stages, the metrics and the traces name
// them. Staging includes the copy of an object into the staging bucket;
// extraction is the time a run waited for its source (listing objects,
// or the next extracted chunk while the last one was being staged).
const (
	StageExtract  = "extract"
	StageStage    = "stage"
	StageValidate = "validate"
	StageHeal     = "heal"
	StageCommit   = "commit"
)

// StageMetric prefixes a run metric holding the seconds the run spent in
// a stage: stage_seconds:extract.
const StageMetric = "stage_seconds:"

// Stages lists the stages in the order a run passes through them.
var Stages = []string{StageExtract, StageStage, StageValidate, StageHeal, StageCommit}

// tracerName is the instrumentation scope of the pipeline's spans.
const tracerName = "github.com/shp-dev/shp/internal/pipeline"

// phaseClock adds up the time a run spends in each stage. Stages nest
// (healing happens inside validation, a stage repair inside staging);
// each instant counts for the innermost stage only, so the stages add up
// to no more than the run.
type phaseClock struct {
	mu     sync.Mutex
	now    func() time.Time
	totals map[string]time.Duration
	stack  []string
	since  time.Time // when the innermost stage was last entered or resumed
}

func newPhaseClock(now func() time.Time) *phaseClock {
	return &phaseClock{now: now, totals: map[string]time.Duration{}}
}

// enter starts a stage inside the current one, and returns the function
// that ends it.
func (c *phaseClock) enter(name string) func() {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.now()
	if n := len(c.stack); n > 0 {
		c.totals[c.stack[n-1]] += t.Sub(c.since)
	}
	c.stack = append(c.stack, name)
	c.since = t
	depth := len(c.stack)
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if len(c.stack) < depth {
				return // ended by an outer stage already
			}
			t := c.now()
			c.totals[c.stack[len(c.stack)-1]] += t.Sub(c.since)
			c.stack = c.stack[:depth-1]
			c.since = t
		})
	}
}

// snapshot returns the time spent in each stage entered so far.
func (c *phaseClock) snapshot() map[string]time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Duration, len(c.totals))
	for k, v := range c.totals {
		out[k] = v
	}
	return out
}

type clockKey struct{}

// tracer is the tracer the pipeline's spans come from: the Runner's
// provider, else OpenTelemetry's global one (a no-op until one is set).
func (r *Runner) tracer() trace.Tracer {
	if r.Tracer != nil {
		return r.Tracer.Tracer(tracerName)
	}
	return otel.GetTracerProvider().Tracer(tracerName)
}

// phase starts a stage of the run in ctx: a span, and the stage's share
// of the run's clock. The returned function ends both; a non-nil error
// marks the span failed.
func (r *Runner) phase(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, func(error)) {
	ctx, span := r.tracer().Start(ctx, name, trace.WithAttributes(attrs...))
	stop := func() {}
	if c, ok := ctx.Value(clockKey{}).(*phaseClock); ok {
		stop = c.enter(name)
	}
	return ctx, func(err error) {
		stop()
		endSpan(ctx, span, err)
	}
}

// endSpan ends span, marked failed when err is not nil; the error is
// masked by the run's redactor first, as its logs are.
func endSpan(ctx context.Context, span trace.Span, err error) {
	if err != nil {
		err = redact.FromContext(ctx).Error(err)
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
