package pipeline

import (
	"context"
	"errors"
	"fmt"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
)

// failoverExtractor reads from a source's replica (its failover source)
// when the source stays unavailable after its own retries, before it
// delivered anything: the replica holds the same data, so the extraction
// continues from the same watermark.
type failoverExtractor struct {
	primary     source.Extractor
	replica     source.Extractor // nil until the switch
	replicaName string
	open        func(ctx context.Context) (source.Extractor, error)
	primaryErr  error // why it switched
}

var (
	_ source.Extractor = (*failoverExtractor)(nil)
	_ source.RetryLog  = (*failoverExtractor)(nil)
)

func (f *failoverExtractor) current() source.Extractor {
	if f.replica != nil {
		return f.replica
	}
	return f.primary
}

// unavailable reports whether err says the source could not be reached,
// which a replica may not share.
func unavailable(err error) bool {
	return resilience.Transient(err) || errors.Is(err, resilience.ErrCircuitOpen)
}

// switchOver opens the replica after the primary failed with err.
func (f *failoverExtractor) switchOver(ctx context.Context, err error) error {
	r, oerr := f.open(ctx)
	if oerr != nil {
		return fmt.Errorf("fail over to %s: %w", f.replicaName, oerr)
	}
	f.replica, f.primaryErr = r, err
	return nil
}

// Format implements source.Extractor.
func (f *failoverExtractor) Format() format.Format { return f.current().Format() }

// Discover implements source.Extractor.
func (f *failoverExtractor) Discover(ctx context.Context) (schema.Schema, error) {
	s, err := f.current().Discover(ctx)
	if err != nil && f.replica == nil && unavailable(err) {
		if ferr := f.switchOver(ctx, err); ferr != nil {
			return nil, errors.Join(err, ferr)
		}
		return f.replica.Discover(ctx)
	}
	return s, err
}

// Extract implements source.Extractor.
func (f *failoverExtractor) Extract(ctx context.Context, req source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	exn, err := f.current().Extract(ctx, req, sink)
	cs, ok := sink.(*chunkSink)
	if err != nil && f.replica == nil && unavailable(err) && ok && cs.count() == 0 {
		if ferr := f.switchOver(ctx, err); ferr != nil {
			return exn, errors.Join(err, ferr)
		}
		return f.replica.Extract(ctx, req, sink)
	}
	return exn, err
}

// Close implements source.Extractor.
func (f *failoverExtractor) Close() error {
	err := f.primary.Close()
	if f.replica != nil {
		err = errors.Join(err, f.replica.Close())
	}
	return err
}

// TakeRetries implements source.RetryLog: the retries of both.
func (f *failoverExtractor) TakeRetries() []resilience.Retry {
	var out []resilience.Retry
	for _, x := range []source.Extractor{f.primary, f.replica} {
		if rl, ok := x.(source.RetryLog); ok {
			out = append(out, rl.TakeRetries()...)
		}
	}
	return out
}
