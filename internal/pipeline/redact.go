package pipeline

import (
	"context"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/source"
)

// sourceRedactor masks the secrets of src, and of its failover source, in
// what a run of it records and logs: the sources mask their own errors
// already, this is the second line of defence.
func sourceRedactor(p *config.Project, src *config.Source) *redact.Redactor {
	if src == nil {
		return nil
	}
	red := source.Redactor(sourceSpec(p, src))
	if fo, ok := p.Sources[src.Failover]; ok && src.Failover != "" {
		red = red.Join(source.Redactor(sourceSpec(p, fo)))
	}
	return red
}

// sourceSpec is how src is opened, with its secrets.
func sourceSpec(p *config.Project, src *config.Source) source.Spec {
	return source.Spec{Name: src.Name, Type: src.Type, Bucket: src.Bucket, Path: src.Path, Endpoint: src.Endpoint,
		BaseDir: p.Dir, Settings: src.Settings, Secrets: src.Secrets}
}

// withSecrets returns open with the secrets of the source a spec names
// (config.Source.Secrets: the values ${VAR} put where credentials
// travel) added to the spec, for the source to mask in its messages.
func withSecrets[T any](p *config.Project, open func(context.Context, source.Spec) (T, error)) func(context.Context, source.Spec) (T, error) {
	return func(ctx context.Context, s source.Spec) (T, error) {
		if src, ok := p.Sources[s.Name]; ok && s.Secrets == nil {
			s.Secrets = src.Secrets
		}
		return open(ctx, s)
	}
}
