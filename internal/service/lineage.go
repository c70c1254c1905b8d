package service

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/lineage"
)

// LineageEntry says what feeds one table: its pipeline, the datasets it
// reads and its last OpenLineage event.
type LineageEntry struct {
	Table     LineageDataset   `json:"table"`
	Inputs    []LineageDataset `json:"inputs"`
	Pipeline  string           `json:"pipeline"`
	LastEvent *LineageEvent    `json:"last_event"`
}

// LineageDataset is an OpenLineage dataset.
type LineageDataset struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// LineageEvent is the last event of a table's pipeline.
type LineageEvent struct {
	Type  string    `json:"type"`
	Time  time.Time `json:"time"`
	RunID string    `json:"run_id"`
}

// LineageFor is Lineage as a caller may see it: a viewer sees no path of
// the server's file system, only paths relative to the project's folder
// (or a file's name when it lies outside).
func (s *Service) LineageFor(ctx context.Context, p Principal) ([]LineageEntry, error) {
	entries, err := s.Lineage(ctx)
	if err != nil || p.Role.Allows(Operator) {
		return entries, err
	}
	for i := range entries {
		e := &entries[i]
		e.Table = s.hidePaths(e.Table)
		for j := range e.Inputs {
			e.Inputs[j] = s.hidePaths(e.Inputs[j])
		}
	}
	return entries, nil
}

// hidePaths makes the local paths of a dataset (a file source's folder,
// a DuckDB file in the namespace) relative to the project's folder.
func (s *Service) hidePaths(d LineageDataset) LineageDataset {
	if d.Namespace == "file" {
		d.Name = s.relPath(d.Name)
	}
	for _, scheme := range []string{"duckdb://", "file://", "sqlite://"} {
		if rest, ok := strings.CutPrefix(d.Namespace, scheme); ok {
			d.Namespace = scheme + s.relPath(rest)
		}
	}
	return d
}

// relPath is an absolute path relative to the project's folder, or its
// last element when it lies outside; other paths are kept.
func (s *Service) relPath(p string) string {
	native := filepath.FromSlash(p)
	if !filepath.IsAbs(native) && !strings.HasPrefix(p, "/") {
		return p
	}
	if s.Project != nil && s.Project.Dir != "" {
		if dir, err := filepath.Abs(s.Project.Dir); err == nil {
			if rel, err := filepath.Rel(dir, native); err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
				return filepath.ToSlash(rel)
			}
		}
	}
	return filepath.Base(native)
}

// Lineage lists, for each pipeline in name order, what feeds its table.
// The datasets of the pipeline's last event win over the configuration.
func (s *Service) Lineage(ctx context.Context) ([]LineageEntry, error) {
	out := []LineageEntry{}
	for _, name := range s.Project.PipelineNames() {
		pl, _ := s.Project.Pipeline(name)
		in := lineage.SourceDataset(s.Project, s.Project.Sources[pl.Source])
		tgt := lineage.TargetDataset(s.Project, pl.Target)
		entry := LineageEntry{Table: LineageDataset{tgt.Namespace, tgt.Name}, Inputs: []LineageDataset{{in.Namespace, in.Name}}, Pipeline: name}
		events, err := s.Store.ListLineage(ctx, name, 1)
		if err != nil {
			return nil, err
		}
		if len(events) == 1 {
			entry.LastEvent = &LineageEvent{Type: events[0].EventType, Time: events[0].EventTime, RunID: events[0].RunID}
			var ev lineage.RunEvent
			if json.Unmarshal([]byte(events[0].Payload), &ev) == nil && len(ev.Inputs) > 0 {
				entry.Inputs = nil
				for _, d := range ev.Inputs {
					entry.Inputs = append(entry.Inputs, LineageDataset{d.Namespace, d.Name})
				}
			}
		}
		out = append(out, entry)
	}
	return out, nil
}
