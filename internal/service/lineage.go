package service

import (
	"context"
	"encoding/json"
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
