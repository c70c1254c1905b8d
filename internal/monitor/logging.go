package monitor

import (
	"context"
	"io"
	"log/slog"
)

// Cloud Logging's special fields in a structured (JSON) log line.
const (
	traceField = "logging.googleapis.com/trace"
	spanField  = "logging.googleapis.com/spanId"
)

// NewJSONHandler writes JSON log lines whose fields follow Cloud
// Logging's conventions: "severity" (DEBUG, INFO, WARNING, ERROR),
// "message", "time", and for a run's lines its trace as
// "logging.googleapis.com/trace" (projects/PROJECT/traces/ID when project
// is known, the bare id otherwise) and "logging.googleapis.com/spanId".
// Other attributes stay as they are (pipeline, run_id, trace_id...), so
// a line is read the same by any JSON log tool.
func NewJSONHandler(w io.Writer, level slog.Leveler, project string) slog.Handler {
	h := slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level, ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) > 0 {
			return a
		}
		switch a.Key {
		case slog.LevelKey:
			return slog.String("severity", severity(a.Value.Any()))
		case slog.MessageKey:
			return slog.Attr{Key: "message", Value: a.Value}
		}
		return a
	}})
	return WithCloudTrace(h, project)
}

// severity is Cloud Logging's name for a slog level.
func severity(v any) string {
	l, ok := v.(slog.Level)
	if !ok {
		return "DEFAULT"
	}
	switch {
	case l >= slog.LevelError:
		return "ERROR"
	case l >= slog.LevelWarn:
		return "WARNING"
	case l >= slog.LevelInfo:
		return "INFO"
	}
	return "DEBUG"
}

// cloudTrace adds Cloud Logging's trace fields to the lines that carry a
// run's trace_id and span_id attributes.
type cloudTrace struct {
	h       slog.Handler
	project string
}

// WithCloudTrace wraps h so that a line with a trace_id attribute (a
// run's, see pipeline.Runner) also carries Cloud Logging's trace and span
// fields, which link the line to the run's trace.
func WithCloudTrace(h slog.Handler, project string) slog.Handler {
	return &cloudTrace{h: h, project: project}
}

// Enabled implements slog.Handler.
func (c *cloudTrace) Enabled(ctx context.Context, l slog.Level) bool { return c.h.Enabled(ctx, l) }

// Handle implements slog.Handler.
func (c *cloudTrace) Handle(ctx context.Context, r slog.Record) error {
	var extra []slog.Attr
	r.Attrs(func(a slog.Attr) bool {
		if f := c.field(a); f.Key != "" {
			extra = append(extra, f)
		}
		return true
	})
	if len(extra) > 0 {
		r = r.Clone()
		r.AddAttrs(extra...)
	}
	return c.h.Handle(ctx, r)
}

// WithAttrs implements slog.Handler.
func (c *cloudTrace) WithAttrs(as []slog.Attr) slog.Handler {
	extra := append([]slog.Attr(nil), as...)
	for _, a := range as {
		if f := c.field(a); f.Key != "" {
			extra = append(extra, f)
		}
	}
	return &cloudTrace{h: c.h.WithAttrs(extra), project: c.project}
}

// WithGroup implements slog.Handler.
func (c *cloudTrace) WithGroup(name string) slog.Handler {
	return &cloudTrace{h: c.h.WithGroup(name), project: c.project}
}

// field is Cloud Logging's field for a trace_id or span_id attribute.
func (c *cloudTrace) field(a slog.Attr) slog.Attr {
	switch a.Key {
	case "trace_id":
		v := a.Value.String()
		if c.project != "" {
			v = "projects/" + c.project + "/traces/" + v
		}
		return slog.String(traceField, v)
	case "span_id":
		return slog.String(spanField, a.Value.String())
	}
	return slog.Attr{}
}
