package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/lineage"
	"github.com/shp-dev/shp/internal/metadata"
	runparams "github.com/shp-dev/shp/internal/params"
	"github.com/shp-dev/shp/internal/redact"
)

// PipelineView is a pipeline as the API shows it, in the seed's shape:
// its source and destination, schedule, quality rules and score, and its
// last run.
type PipelineView struct {
	ID          string      `json:"id"`
	Name        string      `json:"name"`
	Description string      `json:"description,omitempty"`
	Status      string      `json:"status"` // active or paused
	Source      SourceView  `json:"source"`
	Destination Destination `json:"destination"`
	Schedule    string      `json:"schedule,omitempty"`
	Quality     Quality     `json:"quality"`
	LastRun     *LastRun    `json:"last_run"`
}

// SourceView is a pipeline's source: its name, type and the settings that
// say where it reads (never a credential).
type SourceView struct {
	Name   string         `json:"name"`
	Type   string         `json:"type"`
	Config map[string]any `json:"config"`
}

// Destination is a pipeline's target table and how it is written.
type Destination struct {
	Type   string         `json:"type"` // the warehouse: duckdb
	Config map[string]any `json:"config"`
}

// Quality sums a pipeline's rules up: their names and the last run's
// mean quality score (0 to 100; null before any validated run).
type Quality struct {
	Rules []string `json:"rules"`
	Score *float64 `json:"score"`
}

// LastRun is a pipeline's latest run.
type LastRun struct {
	ID               string     `json:"id"`
	Status           string     `json:"status"`
	StartTime        *time.Time `json:"start_time"`
	EndTime          *time.Time `json:"end_time"`
	RecordsProcessed int64      `json:"records_processed"` // rows loaded
	RowsIn           int64      `json:"rows_in"`
	RowsQuarantined  int64      `json:"rows_quarantined"`
}

// sourceKeys are the settings of a source that say where it reads; the
// others (passwords, tokens, DSNs) stay out of the API.
var sourceKeys = []string{"host", "port", "database", "engine", "table", "schema_name", "url", "endpoint", "method", "watermark", "mode"}

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
	Objects          int64              `json:"objects"`
	Bytes            int64              `json:"bytes"`
	InvariantOK      bool               `json:"invariant_ok"`
	FullRefresh      bool               `json:"full_refresh"`
	Error            string             `json:"error,omitempty"`
	Metrics          map[string]float64 `json:"metrics"`
	// Warehouse is what the run's warehouse jobs cost (its metrics'
	// warehouse_* keys); absent for a warehouse without a bill.
	Warehouse *WarehouseCost `json:"warehouse,omitempty"`
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
		Objects: r.Objects, Bytes: r.Bytes, InvariantOK: r.InvariantOK, FullRefresh: r.FullRefresh, Error: r.Error, Metrics: r.Metrics}
	if v.Metrics == nil {
		v.Metrics = map[string]float64{}
	}
	v.Warehouse = warehouseCost(r.Metrics)
	if !r.StartedAt.IsZero() && !r.EndedAt.IsZero() {
		d := r.EndedAt.Sub(r.StartedAt).Seconds()
		v.DurationSeconds = &d
	}
	return v
}

// Pipelines lists the project's pipelines in name order.
func (s *Service) Pipelines(ctx context.Context) ([]PipelineView, error) {
	s.abandonDeadRuns(ctx)
	paused, err := s.pausedSet(ctx)
	if err != nil {
		return nil, err
	}
	out := []PipelineView{}
	for _, name := range s.Project.PipelineNames() {
		p, _ := s.Project.Pipeline(name)
		v, err := s.pipelineView(ctx, p, paused[name])
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// pausedSet are the paused pipelines.
func (s *Service) pausedSet(ctx context.Context) (map[string]bool, error) {
	paused, err := s.Store.PausedPipelines(ctx)
	if err != nil {
		return nil, err
	}
	set := map[string]bool{}
	for _, p := range paused {
		set[p] = true
	}
	return set, nil
}

// PipelineQuery selects pipelines: by status (active or paused) and
// source type, one page at a time in name order.
type PipelineQuery struct {
	Status, SourceType string
	PageRequest
}

// PipelinesPage lists the pipelines that match, a page at a time; a page
// token is the last name shown. Only the page's pipelines are read in
// full.
func (s *Service) PipelinesPage(ctx context.Context, q PipelineQuery) (Page[PipelineView], error) {
	size, err := q.size()
	if err != nil {
		return Page[PipelineView]{}, err
	}
	if q.Status != "" && q.Status != "active" && q.Status != "paused" {
		return Page[PipelineView]{}, invalid("status", "must be active or paused, got %q", q.Status)
	}
	after, err := q.decodeToken("pipelines")
	if err != nil {
		return Page[PipelineView]{}, err
	}
	s.abandonDeadRuns(ctx)
	paused, err := s.pausedSet(ctx)
	if err != nil {
		return Page[PipelineView]{}, err
	}
	page := Page[PipelineView]{Items: []PipelineView{}}
	for _, name := range s.Project.PipelineNames() {
		p, _ := s.Project.Pipeline(name)
		status := "active"
		if paused[name] {
			status = "paused"
		}
		srcType := ""
		if src, ok := s.Project.Source(p.Source); ok {
			srcType = src.Type
		}
		if name <= after || q.Status != "" && status != q.Status || q.SourceType != "" && srcType != q.SourceType {
			continue
		}
		if len(page.Items) == size {
			page.NextPageToken = encodeToken("pipelines", page.Items[size-1].Name)
			break
		}
		v, err := s.pipelineView(ctx, p, paused[name])
		if err != nil {
			return Page[PipelineView]{}, err
		}
		page.Items = append(page.Items, v)
	}
	return page, nil
}

// Pipeline returns one pipeline.
func (s *Service) Pipeline(ctx context.Context, name string) (PipelineView, error) {
	p, err := s.pipeline(name)
	if err != nil {
		return PipelineView{}, err
	}
	s.abandonDeadRuns(ctx)
	paused, err := s.Store.Paused(ctx, name)
	if err != nil {
		return PipelineView{}, err
	}
	return s.pipelineView(ctx, p, paused)
}

func (s *Service) pipelineView(ctx context.Context, p *config.Pipeline, paused bool) (PipelineView, error) {
	name := p.Name
	v := PipelineView{ID: p.Name, Name: p.Name, Description: p.Description, Status: "active", Schedule: p.Schedule,
		Source:      SourceView{Name: p.Source, Config: map[string]any{}},
		Destination: Destination{Type: s.Project.Config.Warehouse.Type, Config: map[string]any{"table": p.Target, "mode": p.Mode}},
		Quality:     Quality{Rules: []string{}}}
	if len(p.Key) > 0 {
		v.Destination.Config["key"] = p.Key
	}
	if paused {
		v.Status = "paused"
	}
	if src, ok := s.Project.Source(p.Source); ok {
		v.Source.Type = src.Type
		for k, val := range map[string]string{"bucket": src.Bucket, "path": src.Path, "format": src.Format, "endpoint": src.Endpoint} {
			if val != "" {
				v.Source.Config[k] = val
			}
		}
		for _, k := range sourceKeys {
			if val, ok := src.Settings[k]; ok {
				v.Source.Config[k] = val
			}
		}
		// A URL may carry a user, a password or a key in its query.
		for _, k := range []string{"url", "endpoint"} {
			if u, ok := v.Source.Config[k].(string); ok {
				v.Source.Config[k] = lineage.RedactURL(u)
			}
		}
		// A path may be a signed URL's; any value may hold a secret from
		// the environment.
		red := redact.New(src.Secrets...)
		for k, val := range v.Source.Config {
			if text, ok := val.(string); ok {
				v.Source.Config[k] = red.Text(text)
			}
		}
		if v.Schedule == "" {
			v.Schedule = src.Schedule
		}
	}
	rules, err := s.rulesOf(ctx, name)
	if err != nil {
		return PipelineView{}, err
	}
	for _, r := range rules {
		v.Quality.Rules = append(v.Quality.Rules, r.Name)
	}
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: name, Limit: 1})
	if err != nil {
		return PipelineView{}, err
	}
	if len(runs) == 1 {
		r := runs[0]
		v.LastRun = &LastRun{ID: r.ID, Status: r.Status, StartTime: timePtr(r.StartedAt), EndTime: timePtr(r.EndedAt),
			RecordsProcessed: r.RowsLoaded, RowsIn: r.RowsIn, RowsQuarantined: r.RowsQuarantined}
		if q, ok := r.Metrics["quality_score"]; ok {
			v.Quality.Score = &q
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

// Runs lists runs, newest first, one page at a time. A page token is the
// last run's place in the order, so runs that start between two pages
// shift nothing.
func (s *Service) Runs(ctx context.Context, q RunQuery) (Page[RunView], error) {
	size, err := q.size()
	if err != nil {
		return Page[RunView]{}, err
	}
	after, err := q.runCursor()
	if err != nil {
		return Page[RunView]{}, err
	}
	if q.Status != "" && !metadata.IsRunStatus(q.Status) {
		return Page[RunView]{}, invalid("status", "must be %s, got %q", orList(metadata.RunStatuses), q.Status)
	}
	if q.Pipeline != "" {
		if _, err := s.pipeline(q.Pipeline); err != nil {
			return Page[RunView]{}, err
		}
	}
	s.abandonDeadRuns(ctx)
	// One more than the page tells whether another page follows.
	runs, err := s.Store.ListRuns(ctx, metadata.RunFilter{Pipeline: q.Pipeline, Status: q.Status, Since: q.Since, Until: q.Until,
		After: after, Limit: size + 1})
	if err != nil {
		return Page[RunView]{}, err
	}
	page := Page[RunView]{Items: []RunView{}}
	for i, r := range runs {
		if i == size {
			last := runs[i-1]
			page.NextPageToken = runToken(metadata.RunCursor{StartedAt: last.StartedAt, ID: last.ID})
			break
		}
		page.Items = append(page.Items, runView(r))
	}
	return page, nil
}

// orList lists values as "a, b or c".
func orList(values []string) string {
	if len(values) < 2 {
		return strings.Join(values, "")
	}
	return strings.Join(values[:len(values)-1], ", ") + " or " + values[len(values)-1]
}

// runToken encodes a run's place in the order.
func runToken(c metadata.RunCursor) string { return encodeToken("runs", cursorText(c)) }

// cursorText writes a run's place as "micros:id" (micros 0 without a start).
func cursorText(c metadata.RunCursor) string {
	micros := int64(0)
	if !c.StartedAt.IsZero() {
		micros = c.StartedAt.UnixMicro()
	}
	return strconv.FormatInt(micros, 10) + ":" + c.ID
}

// parseCursor reads what cursorText wrote.
func parseCursor(text string) (*metadata.RunCursor, bool) {
	ms, id, ok := strings.Cut(text, ":")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || id == "" || err != nil {
		return nil, false
	}
	c := &metadata.RunCursor{ID: id}
	if n != 0 {
		c.StartedAt = time.UnixMicro(n).UTC()
	}
	return c, true
}

// runCursor decodes a runs token; nil for none.
func (p PageRequest) runCursor() (*metadata.RunCursor, error) {
	body, err := p.decodeToken("runs")
	if err != nil || body == "" {
		return nil, err
	}
	if c, ok := parseCursor(body); ok {
		return c, nil
	}
	return nil, invalid("page_token", "is not a token of this listing")
}

// Run returns a run with its tasks.
func (s *Service) Run(ctx context.Context, id string) (RunDetail, error) {
	s.abandonDeadRuns(ctx)
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
// id; the run goes on after the call returns. The parameters are checked
// as the run will read them (config.Source.Templated): each must be
// declared by the pipeline's source when it declares any, and of its
// type, or else a string of letters, digits and . _ : -; and each must
// fit where the source places it (one segment in a path). A problem is an
// invalid parameters.NAME.
func (s *Service) TriggerRun(ctx context.Context, pipeline string, params map[string]string) (string, error) {
	p, err := s.pipeline(pipeline)
	if err != nil {
		return "", err
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if !runparams.ValidName(k) {
			return "", invalid("parameters", "%q is not a parameter name (%s)", k, runparams.NameRule)
		}
	}
	if src, ok := s.Project.Source(p.Source); ok {
		if _, err := src.Templated(s.now(), params, true); err != nil {
			var pe *runparams.Error
			if errors.As(err, &pe) {
				return "", invalid("parameters."+pe.Name, "%s", pe.Msg)
			}
			return "", invalid("parameters", "%v", err)
		}
	}
	if s.Trigger == nil {
		return "", fmt.Errorf("trigger a run of %s: %w: no scheduler runs in this process (start shp serve)", pipeline, ErrUnavailable)
	}
	return s.Trigger(ctx, pipeline, params)
}
