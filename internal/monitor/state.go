package monitor

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// PipelineState is what the metadata store says of a pipeline now.
type PipelineState struct {
	Name, Source, Schedule string
	// Last is the pipeline's last finished run (zero ID when none).
	Last metadata.Run
	// LastSuccess is when its last successful run ended.
	LastSuccess time.Time
	// NewestEvent is the newest event time a successful run loaded, from
	// the run's freshness measure; zero when the pipeline has no
	// event_time.
	NewestEvent time.Time
	// Running says a run is going on now.
	Running bool
}

// stateRuns is how many of a pipeline's latest runs PipelineStates reads
// to find its last finished and last successful run.
const stateRuns = 50

// PipelineStates reads each pipeline's latest runs from the store, by
// name.
func PipelineStates(ctx context.Context, store metadata.Store) ([]PipelineState, error) {
	ps, err := store.ListPipelines(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]PipelineState, 0, len(ps))
	for _, p := range ps {
		st := PipelineState{Name: p.Name, Source: p.Source, Schedule: p.Schedule}
		runs, err := store.ListRuns(ctx, metadata.RunFilter{Pipeline: p.Name, Limit: stateRuns})
		if err != nil {
			return nil, fmt.Errorf("runs of %s: %w", p.Name, err)
		}
		for _, r := range runs { // newest first
			if r.Status == metadata.StatusRunning {
				st.Running = true
				continue
			}
			if st.Last.ID == "" {
				st.Last = r
			}
			if r.Status == metadata.StatusSucceeded {
				st.LastSuccess = r.EndedAt
				if f, ok := r.Metrics["freshness_s"]; ok {
					st.NewestEvent = r.StartedAt.Add(-time.Duration(f * float64(time.Second)))
				}
				break
			}
		}
		if st.LastSuccess.IsZero() && st.Last.ID != "" {
			// The last success may be older than the runs read.
			ok, err := store.ListRuns(ctx, metadata.RunFilter{Pipeline: p.Name, Status: metadata.StatusSucceeded, Limit: 1})
			if err != nil {
				return nil, fmt.Errorf("runs of %s: %w", p.Name, err)
			}
			if len(ok) == 1 {
				st.LastSuccess = ok[0].EndedAt
				if f, has := ok[0].Metrics["freshness_s"]; has {
					st.NewestEvent = ok[0].StartedAt.Add(-time.Duration(f * float64(time.Second)))
				}
			}
		}
		out = append(out, st)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
