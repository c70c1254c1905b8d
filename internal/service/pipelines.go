package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

// PipelineView is a pipeline as the API shows it: its configuration, its
// quality rules and score, and its last run.
type PipelineView struct {
	ID           string      `json:"id"`
	Name         string      `json:"name"`
	Description  string      `json:"description,omitempty"`
	Status       string      `json:"status"` // active or paused
	Source       SourceView  `json:"source"`
	Destination  Destination `json:"destination"`
	Mode         string      `json:"mode"`
	Key          []string    `json:"key,omitempty"`
	Schedule     string      `json:"schedule,omitempty"`
	QualityRules []RuleView  `json:"quality_rules"`
	// QualityScore is the last run's mean quality score (0 to 100); null
	// before any run was validated.
	QualityScore *float64 `json:"quality_score"`
	LastRun      *RunView `json:"last_run"`
}

// SourceView names a pipeline's source.
type SourceView struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// Destination names a pipeline's target table.
type Destination struct {
	Warehouse string `json:"warehouse"`
	Table     string `json:"table"`
}

// RunView is one run.
type RunView struct {
	ID               string             `json:"id"`
	Pipeline         string             `json:"pipeline"`
	Status           string             `json:"status"`
	Trigger          string             `json:"trigger"`
	Attempt          int                `json:"attempt"`
	LogicalDate      *time.Time         `json:"logical_date"`
	StartedAt        *time.Time         `json:"started_at"`
	EndedAt          *time.Time         `json:"ended_at"`
	DurationSeconds  *float64           `json:"duration_seconds"`
	RowsIn           int64              `json:"rows_in"`
	RowsLoaded       int64              `json:"rows_loaded"`
	RowsQuarantined  int64              `json:"rows_quarantined"`
	RowsDeduplicated int64              `json:"rows_deduplicated"`
	InvariantOK      bool               `json:"invariant_ok"`
	FullRefresh      bool               `json:"full_refresh"`
	Error            string             `json:"error,omitempty"`
	Metrics          map[string]float64 `json:"metrics"`
}

// RunDetail is a run with its tasks and their attempts.
type RunDetail struct {
	RunView
	Tasks []TaskView `json:"tasks"`
}

// TaskView is one attempt at one task of a run.
type TaskView struct {
	Task            string          `json:"task"`
	Attempt         int             `json:"attempt"`
	Status          string          `json:"status"`
	StartedAt       *time.Time      `json:"started_at"`
	EndedAt         *time.Time      `json:"ended_at"`
	RowsIn          int64           `json:"rows_in"`
	RowsLoaded      int64           `json:"rows_loaded"`
	RowsQuarantined int64           `json:"rows_quarantined"`
	Error           string          `json:"error,omitempty"`
	Detail          json.RawMessage `json:"detail"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func runView(r metadata.Run) RunView {
	v := RunView{ID: r.ID, Pipeline: r.Pipeline, Status: r.Status, Trigger: r.Trigger, Attempt: r.Attempt,
		LogicalDate: timePtr(r.LogicalDate), StartedAt: timePtr(r.StartedAt), EndedAt: timePtr(r.EndedAt),
		RowsIn: r.RowsIn, RowsLoaded: r.RowsLoaded, RowsQuarantined: r.RowsQuarantined, RowsDeduplicated: r.RowsDeduplicated,
		InvariantOK: r.InvariantOK, FullRefresh: r.FullRefresh, Error: r.Error, Metrics: r.Metrics}
	if v.Metrics == nil {
		v.Metrics = map[string]float64{}
	}
	if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
		d := r.EndedAt.Sub(r.StartedAt).Seconds()
		v.DurationSeconds = &d
	}
	return v
}

// Pipelines lists the project's pipelines in name order.
func (s *Service) Pipelines(ctx context.Context) ([]PipelineView, error) {
	paused, err := s.Store.PausedPipelines(ctx)
	if err != nil {
		return nil, err
	}
	isPaused := map[string]bool{}
	for _, p := range paused {
		isPaused[p] = true
	}
	out := []PipelineView{}
	for _, name := range s.Project.PipelineNames() {
		v, err := s.pipelineView(ctx, name, isPaused[name])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Pipeline returns one pipeline.
func (s *Service) Pipeline(ctx context.Context, name string) (PipelineView, error) {
	if _, err := s.pipeline(name); err != nil {
		return PipelineView{}, err
	}
	paused, err := s.Store.Paused(ctx, name)
	if err != nil {
		return PipelineView{}, err
	}
	return s.pipelineView(ctx, name, paused)
}

func (s *Service) pipelineView(ctx context.Context, name string, paused bool) (PipelineView, error) {
	p, err := s.pipeline(name)
	if err != nil {
		return PipelineView{}, err
	}
	v := PipelineView{ID: p.Name, Name: p.Name, Description: p.Description, Status: "active", Mode: p.Mode, Key: p.Key,
		Schedule: p.Schedule, Destination: Destination{Warehouse: s.Project.Config.Warehouse.Type, Table: p.Target}}
	if paused {
		v.Status = "paused"
	}
	v.Source.Name = p.Source
	if src, ok := s.Project.Source(p.Source); ok {
		v.Source.Type = src.Type
	}
	if v.QualityRules, err = s.Rules(ctx, name); err != nil {
		return PipelineView{}, err
	}
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: name, Limit: 1})
	if err != nil {
		return PipelineView{}, err
	}
	if len(runs) == 1 {
		rv := runView(runs[0])
		v.LastRun = &rv
		if q, ok := runs[0].Metrics["quality_score"]; ok {
			v.QualityScore = &q
		}
	}
	return v, nil
}

// RunQuery selects runs.
type RunQuery struct {
	Pipeline, Status string
	Since, Until     time.Time
	PageRequest
}

// Runs lists runs, newest first, one page at a time.
func (s *Service) Runs(ctx context.Context, q RunQuery) (Page[RunView], error) {
	size, err := q.size()
	if err != nil {
		return Page[RunView]{}, err
	}
	offset, err := q.position("runs")
	if err != nil {
		return Page[RunView]{}, err
	}
	if q.Pipeline != "" {
		if _, err := s.pipeline(q.Pipeline); err != nil {
			return Page[RunView]{}, err
		}
	}
	// One more than the page tells whether another page follows.
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: q.Pipeline, Status: q.Status, Since: q.Since, Until: q.Until,
		Offset: int(offset), Limit: size + 1})
	if err != nil {
		return Page[RunView]{}, err
	}
	page := Page[RunView]{Items: []RunView{}}
	for i, r := range runs {
		if i == size {
			page.NextPageToken = token("runs", offset+int64(size))
			break
		}
		page.Items = append(page.Items, runView(r))
	}
	return page, nil
}

// Run returns a run with its tasks.
func (s *Service) Run(ctx context.Context, id string) (RunDetail, error) {
	r, err := s.Store.GetRun(ctx, id)
	if errors.Is(err, metadata.ErrNotFound) && s.Queued != nil {
		if v, ok := s.Queued(id); ok {
			return RunDetail{RunView: v, Tasks: []TaskView{}}, nil
		}
	}
	if err != nil {
		return RunDetail{}, notFound(err)
	}
	tasks, err := s.Store.ListTasks(ctx, id)
	if err != nil {
		return RunDetail{}, err
	}
	d := RunDetail{RunView: runView(r), Tasks: []TaskView{}}
	for _, t := range tasks {
		d.Tasks = append(d.Tasks, TaskView{Task: t.Task, Attempt: t.Attempt, Status: t.Status, StartedAt: timePtr(t.StartedAt),
			EndedAt: timePtr(t.EndedAt), RowsIn: t.RowsIn, RowsLoaded: t.RowsLoaded, RowsQuarantined: t.RowsQuarantined,
			Error: t.Error, Detail: rawJSON(t.Detail)})
	}
	return d, nil
}

// TriggerRun starts a run of a pipeline with parameters and returns its
// id; the run goes on after the call returns.
func (s *Service) TriggerRun(ctx context.Context, pipeline string, params map[string]string) (string, error) {
	if _, err := s.pipeline(pipeline); err != nil {
		return "", err
	}
	for k := range params {
		if k == "" || len(k) > 64 {
			return "", invalid("parameters", "a parameter name must have 1 to 64 characters, got %q", k)
		}
	}
	if s.Trigger == nil {
		return "", fmt.Errorf("trigger a run of %s: %w: no scheduler runs in this process (start shp serve)", pipeline, ErrUnavailable)
	}
	return s.Trigger(ctx, pipeline, params)
}
