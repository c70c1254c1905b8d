package monitor

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestJSONLogsFollowCloudLogging(t *testing.T) {
	for _, c := range []struct {
		name, project string
		level         slog.Level
		log           func(*slog.Logger)
		want          map[string]any
		absent        []string
	}{
		{"a run's line carries its trace", "acme-prod", slog.LevelInfo, func(l *slog.Logger) {
			l.With("pipeline", "orders", "run_id", "run-1", "trace_id", "4bf92f3577b34da6a3ce929d0e0e4736", "span_id", "00f067aa0ba902b7").
				Warn("schema drift", "object", "a.csv")
		}, map[string]any{"severity": "WARNING", "message": "schema drift", "pipeline": "orders", "run_id": "run-1", "object": "a.csv",
			"trace_id": "4bf92f3577b34da6a3ce929d0e0e4736", traceField: "projects/acme-prod/traces/4bf92f3577b34da6a3ce929d0e0e4736",
			spanField: "00f067aa0ba902b7"}, []string{"level", "msg"}},
		{"without a project the bare trace id", "", slog.LevelDebug, func(l *slog.Logger) {
			l.Debug("batch measured", "trace_id", "abc", "took", "1s")
		}, map[string]any{"severity": "DEBUG", "message": "batch measured", traceField: "abc"}, []string{spanField}},
		{"errors", "", slog.LevelInfo, func(l *slog.Logger) { l.Error("run failed", "err", "boom") },
			map[string]any{"severity": "ERROR", "message": "run failed", "err": "boom"}, []string{traceField}},
		{"a group keeps its own keys", "", slog.LevelInfo, func(l *slog.Logger) {
			l.WithGroup("req").Info("served", "level", "x", "trace_id", "t1")
		}, map[string]any{"severity": "INFO", "message": "served"}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			var buf bytes.Buffer
			c.log(slog.New(NewJSONHandler(&buf, c.level, c.project)))
			lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
			if len(lines) != 1 {
				t.Fatalf("%d lines: %s", len(lines), buf.String())
			}
			var got map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
				t.Fatalf("not JSON: %v: %s", err, lines[0])
			}
			for k, v := range c.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (line %s)", k, got[k], v, lines[0])
				}
			}
			for _, k := range c.absent {
				if _, ok := got[k]; ok {
					t.Errorf("line has %s: %s", k, lines[0])
				}
			}
			if _, ok := got["time"]; !ok {
				t.Errorf("no time: %s", lines[0])
			}
		})
	}
}

func TestJSONLogsBelowTheLevelAreDropped(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(NewJSONHandler(&buf, slog.LevelWarn, ""))
	l.Info("quiet")
	if buf.Len() != 0 {
		t.Fatalf("an Info line at Warn level: %s", buf.String())
	}
	if severity("not a level") != "DEFAULT" {
		t.Error("a value that is not a level has a severity")
	}
}
