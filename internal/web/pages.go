package web

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/healing"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/pipeline"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

// historyRuns is how many runs per pipeline the dashboards read.
const historyRuns = 60

// stripRuns is how many runs the overview's strip of outcomes shows.
const stripRuns = 20

// quarantinePage is how many set-aside rows a page shows.
const quarantinePageSize = 50

// runsOf reads a pipeline's last n runs, newest first.
func (u *UI) runsOf(r *http.Request, name string, n int) ([]service.RunView, error) {
	p, err := u.Service.Runs(r.Context(), service.RunQuery{Pipeline: name, PageRequest: service.PageRequest{PageSize: n}})
	return p.Items, err
}

// maxReadPages bounds what one page view reads of a listing: a page
// view's work stays bounded whatever the store holds (40 pages of
// MaxPageSize, the newest first).
const maxReadPages = 40

// allPages reads a listing to its end, page by page (MaxPageSize each),
// or maxReadPages of it: fetch reads the page a token starts.
func allPages[T any](fetch func(token string) (service.Page[T], error)) ([]T, error) {
	var out []T
	token := ""
	for range maxReadPages {
		p, err := fetch(token)
		if err != nil {
			return out, err
		}
		out = append(out, p.Items...)
		if p.NextPageToken == "" || p.NextPageToken == token {
			return out, nil
		}
		token = p.NextPageToken
	}
	return out, nil
}

// allValidations reads every stored validation result of the query
// (a run's, or a pipeline's), newest run first.
func (u *UI) allValidations(r *http.Request, q service.ValidationQuery) ([]service.Validation, error) {
	return allPages(func(token string) (service.Page[service.Validation], error) {
		q.PageRequest = service.PageRequest{PageSize: service.MaxPageSize, PageToken: token}
		return u.Service.Validations(r.Context(), q)
	})
}

// allActions reads every healing action the query selects, newest first.
func (u *UI) allActions(r *http.Request, q service.ActionQuery) ([]service.ActionView, error) {
	return allPages(func(token string) (service.Page[service.ActionView], error) {
		q.PageRequest = service.PageRequest{PageSize: service.MaxPageSize, PageToken: token}
		return u.Service.Actions(r.Context(), q)
	})
}

// pipelineRow is one pipeline on the overview.
type pipelineRow struct {
	service.PipelineView
	// State is what the row says first: paused, held, failed, running,
	// succeeded, or never run.
	State    string
	NextRun  *time.Time
	Strip    []service.RunView
	LastOK   *time.Time
	Expected time.Duration // how long it may go without a success; 0 without a schedule
	Stale    bool
	Firing   int
}

type overviewData struct {
	Pipelines []pipelineRow
	Durations chart
	Rows      chart
	Alerts    []service.AlertView
	Incidents []service.IncidentView
}

func (u *UI) overview(w http.ResponseWriter, r *http.Request) {
	pipes, err := u.Service.Pipelines(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	alerts := u.firing(r, "")
	now := time.Now()
	d := overviewData{Alerts: alerts, Incidents: u.openIncidents(r)}
	durations, rows := newSeries(), newSeries()
	for _, pv := range pipes {
		runs, err := u.runsOf(r, pv.Name, historyRuns)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		row := u.pipelineRow(pv, runs, now)
		for _, a := range alerts {
			if a.Pipeline == pv.Name {
				row.Firing++
			}
		}
		d.Pipelines = append(d.Pipelines, row)
		for _, run := range runs {
			if run.StartedAt == nil || run.DurationSeconds == nil {
				continue
			}
			durations.add(pv.Name, *run.StartedAt, *run.DurationSeconds)
			rows.add(pv.Name, *run.StartedAt, float64(run.RowsLoaded))
		}
	}
	d.Durations = durations.chart("durations", "Run duration", "line", "s")
	d.Rows = rows.chart("rows-loaded", "Rows loaded per run", "line", "rows")
	u.render(w, r, http.StatusOK, "overview", "Pipeline Overview", d)
}

// pipelineRow sums a pipeline up from its runs (newest first).
func (u *UI) pipelineRow(pv service.PipelineView, runs []service.RunView, now time.Time) pipelineRow {
	row := pipelineRow{PipelineView: pv, State: "never run"}
	if pv.Status == "paused" {
		row.State = "paused"
	} else if len(runs) > 0 {
		row.State = runs[0].Status
	}
	row.Strip = runs[:min(len(runs), stripRuns)]
	slices.Reverse(row.Strip) // oldest first, as a strip reads
	for _, run := range runs {
		if run.Status == metadata.StatusSucceeded && run.EndedAt != nil {
			row.LastOK = run.EndedAt
			break
		}
	}
	if pv.Schedule != "" {
		if p, ok := u.Service.Project.Pipeline(pv.Name); ok {
			if s, err := scheduler.ParseSchedule(p.Schedule, p.Timezone); err == nil {
				next := s.Next(now)
				row.NextRun = &next
				if u.StaleLimit != nil {
					row.Expected = u.StaleLimit(pv.Name, s, now)
				} else {
					row.Expected = monitor.StaleLimit(s, now)
				}
				row.Stale = row.LastOK != nil && now.Sub(*row.LastOK) > row.Expected
			}
		}
	}
	return row
}

// firing lists the firing alerts (of one pipeline, or all).
func (u *UI) firing(r *http.Request, pipeline string) []service.AlertView {
	p, err := u.Service.Alerts(r.Context(), service.AlertQuery{State: metadata.AlertFiring, Pipeline: pipeline,
		PageRequest: service.PageRequest{PageSize: 100}})
	if err != nil {
		// A store without alerts shows none; the page is still useful.
		u.logger().Debug("web: alerts", "err", err)
		return nil
	}
	return p.Items
}

func (u *UI) openIncidents(r *http.Request) []service.IncidentView {
	p, err := u.Service.Incidents(r.Context(), service.IncidentQuery{State: metadata.IncidentOpen, PageRequest: service.PageRequest{PageSize: 20}})
	if err != nil {
		u.logger().Debug("web: incidents", "err", err)
		return nil
	}
	return p.Items
}

// pipelineIncidents lists the open incidents one of the pipeline's
// alerts joined (firing, or resolved while the incident waits to close),
// newest first: an incident has no pipeline of its own, its alerts have.
func (u *UI) pipelineIncidents(r *http.Request, name string) []service.IncidentView {
	alerts, err := allPages(func(token string) (service.Page[service.AlertView], error) {
		return u.Service.Alerts(r.Context(), service.AlertQuery{Pipeline: name,
			PageRequest: service.PageRequest{PageSize: service.MaxPageSize, PageToken: token}})
	})
	if err != nil {
		u.logger().Debug("web: alerts of a pipeline", "pipeline", name, "err", err)
		return nil
	}
	joined := map[string]bool{}
	for _, a := range alerts {
		if a.IncidentID != "" {
			joined[a.IncidentID] = true
		}
	}
	if len(joined) == 0 {
		return nil
	}
	open, err := allPages(func(token string) (service.Page[service.IncidentView], error) {
		return u.Service.Incidents(r.Context(), service.IncidentQuery{State: metadata.IncidentOpen,
			PageRequest: service.PageRequest{PageSize: service.MaxPageSize, PageToken: token}})
	})
	if err != nil {
		u.logger().Debug("web: incidents", "err", err)
		return nil
	}
	var out []service.IncidentView
	for _, in := range open {
		if joined[in.ID] {
			out = append(out, in)
		}
	}
	return out
}

type pipelineData struct {
	Row       pipelineRow
	Runs      []service.RunView
	Durations chart
	Rows      chart
	Scores    chart
	Alerts    []service.AlertView
	Incidents []service.IncidentView
	CanRun    bool
}

func (u *UI) pipelinePage(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	pv, err := u.Service.Pipeline(r.Context(), name)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	runs, err := u.runsOf(r, name, historyRuns)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := pipelineData{Row: u.pipelineRow(pv, runs, time.Now()), Runs: runs, Alerts: u.firing(r, name),
		Incidents: u.pipelineIncidents(r, name), CanRun: u.Service.Trigger != nil}
	durations, rows, scores := newSeries(), newSeries(), newSeries()
	for _, run := range runs {
		if run.StartedAt == nil {
			continue
		}
		if run.DurationSeconds != nil {
			durations.add("duration", *run.StartedAt, *run.DurationSeconds)
		}
		rows.add("in", *run.StartedAt, float64(run.RowsIn))
		rows.add("loaded", *run.StartedAt, float64(run.RowsLoaded))
		rows.add("quarantined", *run.StartedAt, float64(run.RowsQuarantined))
		if s, ok := run.Metrics["quality_score"]; ok {
			scores.add("quality score", *run.StartedAt, s)
		}
	}
	d.Durations = durations.chart("durations", "Run duration", "line", "s")
	d.Rows = rows.chart("rows", "Rows per run", "line", "rows")
	d.Scores = scores.chart("scores", "Quality score", "line", "score")
	u.render(w, r, http.StatusOK, "pipeline", name, d)
}

// triggerRun starts a run of a pipeline now.
func (u *UI) triggerRun(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if u.Service.Trigger == nil {
		u.errorPage(w, r, http.StatusServiceUnavailable, "This process runs no scheduler: start runs with shp run.")
		return
	}
	id, err := u.Service.TriggerRun(r.Context(), name, nil)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/runs/"+id, http.StatusSeeOther)
}

// objectRow is one object's row accounting in a run.
type objectRow struct {
	Task                        string
	Status                      string
	In, Loaded, Quarantined     int64
	Score                       *float64
	Error                       string
	StartedAt, EndedAt          *time.Time
	DurationSeconds             *float64
	FailedRules, EvaluatedRules int
}

type stageRow struct {
	Stage   string
	Seconds float64
	Share   float64 // of the run's duration, 0 to 1
}

type runData struct {
	Run         service.RunDetail
	Queued      bool
	Objects     []objectRow
	Stages      []stageRow
	Validations []validationRow
	Actions     []actionRow
	Quarantine  service.QuarantinePage
	QError      string
	CanOperate  bool
}

func (u *UI) runPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	run, err := u.Service.Run(r.Context(), id)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := runData{Run: run, CanOperate: sessionFrom(r.Context()).Principal.Role.Allows(service.Operator)}
	for _, t := range run.Tasks {
		o := objectRow{Task: t.Task, Status: t.Status, In: t.RowsIn, Loaded: t.RowsLoaded, Quarantined: t.RowsQuarantined,
			Error: t.Error, StartedAt: t.StartedAt, EndedAt: t.EndedAt}
		if t.StartedAt != nil && t.EndedAt != nil {
			s := t.EndedAt.Sub(*t.StartedAt).Seconds()
			o.DurationSeconds = &s
		}
		var detail struct {
			Score      *float64       `json:"quality_score"`
			Validation quality.Result `json:"validation"`
		}
		if json.Unmarshal(t.Detail, &detail) == nil {
			o.Score = detail.Score
			for _, er := range detail.Validation.Results {
				o.EvaluatedRules++
				if !er.Success {
					o.FailedRules++
				}
			}
		}
		d.Objects = append(d.Objects, o)
	}
	for _, st := range pipeline.Stages {
		if s, ok := run.Metrics[pipeline.StageMetric+st]; ok {
			row := stageRow{Stage: st, Seconds: s}
			if run.DurationSeconds != nil && *run.DurationSeconds > 0 {
				row.Share = min(s / *run.DurationSeconds, 1)
			}
			d.Stages = append(d.Stages, row)
		}
	}
	if run.Status == metadata.StatusQueued {
		// Waiting for its turn: no record yet, nothing more to show.
		u.render(w, r, http.StatusOK, "run", "Run "+id, d)
		return
	}
	vs, err := u.allValidations(r, service.ValidationQuery{RunID: id})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, v := range vs {
		d.Validations = append(d.Validations, validationRows(v)...)
	}
	acts, err := u.allActions(r, service.ActionQuery{RunID: id})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, a := range acts {
		d.Actions = append(d.Actions, actionRowOf(a))
	}
	// A running run's rows are not settled (and its page is read again
	// every 2 seconds): its quarantine is read once it has ended.
	if run.Status != metadata.StatusRunning && run.Status != metadata.StatusQueued && (run.RowsQuarantined > 0 || run.Status != metadata.StatusSucceeded) {
		q, err := u.Service.Quarantined(r.Context(), id, 0, quarantinePageSize)
		switch {
		case errors.Is(err, service.ErrUnavailable):
			d.QError = "The quarantined rows are read from the warehouse, which this process has not opened."
		case err != nil:
			u.logger().Warn("web: quarantined rows", "run", id, "err", err)
			d.QError = "The quarantined rows cannot be read now."
		default:
			d.Quarantine = q
		}
	}
	u.render(w, r, http.StatusOK, "run", "Run "+id, d)
}

type quarantineData struct {
	RunID      string
	Quarantine service.QuarantinePage
	Prev, Next int
}

// quarantinePage shows one page of a run's set-aside rows (the run page's
// table, or the next page of it for htmx).
func (u *UI) quarantinePage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	offset, err := strconv.Atoi(cmp.Or(r.FormValue("offset"), "0"))
	if err != nil || offset < 0 {
		u.errorPage(w, r, http.StatusBadRequest, "offset must be a whole number, 0 or more.")
		return
	}
	q, err := u.Service.Quarantined(r.Context(), id, offset, quarantinePageSize)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := quarantineData{RunID: id, Quarantine: q, Prev: max(offset-quarantinePageSize, 0), Next: offset + len(q.Rows)}
	if r.Header.Get("HX-Request") == "true" {
		u.renderFragment(w, r, "quarantine", "quarantine-rows", d)
		return
	}
	u.render(w, r, http.StatusOK, "quarantine", "Quarantined rows of "+id, d)
}

// validationRow is one rule's result on one object.
type validationRow struct {
	Object, Rule, Expectation string
	Success                   bool
	Unexpected                int64
	Element                   int64
	Sample                    []string
	Pipeline, RunID           string
}

func validationRows(v service.Validation) []validationRow {
	var res quality.Result
	if json.Unmarshal(v.Result, &res) != nil {
		return nil
	}
	var out []validationRow
	for _, er := range res.Results {
		row := validationRow{Object: v.Object, Rule: ruleName(er.Config), Expectation: er.Config.Type, Success: er.Success,
			Pipeline: v.Pipeline, RunID: v.RunID}
		row.Unexpected = int64Of(er.Result["unexpected_count"])
		row.Element = int64Of(er.Result["element_count"])
		if list, ok := er.Result["partial_unexpected_list"].([]any); ok {
			for _, x := range list {
				row.Sample = append(row.Sample, fmt.Sprint(x))
			}
		}
		out = append(out, row)
	}
	return out
}

// ruleName names a rule as the quality metrics do: its expectation and
// column.
func ruleName(c quality.ConfigJSON) string {
	name := c.Type
	if col, ok := c.Kwargs["column"].(string); ok {
		name += "(" + col + ")"
	}
	return name
}

func int64Of(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case int:
		return int64(x)
	case json.Number:
		n, _ := x.Int64()
		return n
	}
	return 0
}

type qualityData struct {
	Pipeline  string
	Pipelines []string
	Scores    chart
	Failing   chart
	Rules     []service.RulePasses
	Reasons   []service.ReasonCount
	RError    string
	Summary   service.MetricSummary
}

func (u *UI) qualityPage(w http.ResponseWriter, r *http.Request) {
	pipe := r.FormValue("pipeline")
	if pipe != "" {
		if _, ok := u.Service.Project.Pipeline(pipe); !ok {
			u.errorPage(w, r, http.StatusNotFound, "There is no pipeline "+strconv.Quote(pipe)+".")
			return
		}
	}
	m, err := u.Service.QualityMetrics(r.Context(), pipe, time.Time{}, time.Time{})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := qualityData{Pipeline: pipe, Pipelines: u.Service.Project.PipelineNames(), Rules: m.Rules, Summary: m.Summary}
	scores := newSeries()
	for _, s := range m.Scores {
		if s.At != nil {
			scores.add(s.Pipeline, *s.At, s.Score)
		}
	}
	d.Scores = scores.chart("scores", "Quality score by pipeline", "line", "score")
	// Unexpected values of the failing rules, run by run: of every run on
	// record, as the scores and the rules' counts are.
	failing := newSeries()
	vs, err := u.allValidations(r, service.ValidationQuery{Pipeline: pipe})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for _, v := range vs {
		if v.ValidatedAt == nil {
			continue
		}
		for _, row := range validationRows(v) {
			if !row.Success {
				failing.add(row.Pipeline+": "+row.Rule, *v.ValidatedAt, float64(row.Unexpected))
			}
		}
	}
	d.Failing = failing.chart("failing", "Unexpected values of failing rules", "bars", "values")
	d.Failing.Empty = "No rule failed in the runs on record."
	reasons, err := u.Service.QuarantineReasons(r.Context(), pipe, 10, 10_000)
	switch {
	case errors.Is(err, service.ErrUnavailable):
		d.RError = "Quarantine reasons are read from the warehouse, which this process has not opened."
	case err != nil:
		u.logger().Warn("web: quarantine reasons", "err", err)
		d.RError = "Quarantine reasons cannot be read now."
	default:
		d.Reasons = reasons
	}
	u.render(w, r, http.StatusOK, "quality", "Data Quality", d)
}

type ruleData struct {
	Pipeline, Rule string
	Rows           []validationRow
	// Failed and Passed count the rule's results on record; the rows
	// leave out the passes after the newest rulePasses and the failures
	// after the newest ruleFailures.
	Failed, Passed int
	HiddenFailed   int
	HiddenPassed   int
}

// What a rule's page lists at most: every failure up to ruleFailures
// (the Data Quality page counts them all, so all are read), and the
// newest passes.
const (
	ruleFailures = 500
	rulePasses   = 100
)

// rulePage drills down from a rule to its results, with the sample of
// the values that failed it, newest run first: of every run on record.
func (u *UI) rulePage(w http.ResponseWriter, r *http.Request) {
	pipe, rule := r.FormValue("pipeline"), r.FormValue("rule")
	if _, ok := u.Service.Project.Pipeline(pipe); !ok || rule == "" {
		u.errorPage(w, r, http.StatusNotFound, "Name a pipeline and one of its rules (?pipeline=...&rule=...).")
		return
	}
	vs, err := u.allValidations(r, service.ValidationQuery{Pipeline: pipe})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d := ruleData{Pipeline: pipe, Rule: rule}
	for _, v := range vs {
		for _, row := range validationRows(v) {
			if row.Rule != rule {
				continue
			}
			switch {
			case !row.Success && d.Failed < ruleFailures, row.Success && d.Passed < rulePasses:
				d.Rows = append(d.Rows, row)
			case row.Success:
				d.HiddenPassed++
			default:
				d.HiddenFailed++
			}
			if row.Success {
				d.Passed++
			} else {
				d.Failed++
			}
		}
	}
	u.render(w, r, http.StatusOK, "rule", rule, d)
}

// actionRow is a healing action as the pages show it.
type actionRow struct {
	service.ActionView
	// Options are what an escalated action offers to choose from; Hint
	// says what to do about one that offers nothing.
	Options []healing.Option
	Hint    string
	// Waiting: a person must act (proposed or escalated), as the
	// approval_pending alert counts.
	Waiting bool
}

func actionRowOf(a service.ActionView) actionRow {
	row := actionRow{ActionView: a}
	if a.Status == "escalated" {
		ha := metadata.HealingAction{Params: string(a.Params), Strategy: a.Strategy}
		if row.Options = healing.OptionsOf(ha); len(row.Options) == 0 {
			row.Hint = healing.NoOptionsHint(ha)
		}
	}
	row.Waiting = slices.Contains(waitingStatuses, a.Status)
	return row
}

// waitingStatuses are the statuses of an action that waits for a person:
// a proposal to approve or reject, an escalation to resolve (the
// approval_pending alert counts the same).
var waitingStatuses = []string{"proposed", "escalated"}

// releasedApproval reads the approval a released hold carries out: when
// a run meets a batch a person approved, the healing engine records the
// release as a new applied hold whose approver is "NAME (approval of
// action #ID)" (internal/healing/engine.go), and the approved action
// stays on record as it was.
var releasedApproval = regexp.MustCompile(`\(approval of action #([0-9]+)\)$`)

// releaseOf is the id of the approved hold that a is the release of; 0
// when a is not a release.
func releaseOf(a service.ActionView) int64 {
	if a.Strategy != "hold" || a.Status != "applied" {
		return 0
	}
	m := releasedApproval.FindStringSubmatch(a.ApprovedBy)
	if m == nil {
		return 0
	}
	id, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0
	}
	return id
}

// successRate counts the decided actions among acts, each decision once:
// applied, approved and resolved ones went well; failed, rolled back,
// reverted and rejected ones did not. An approved hold and the applied
// action that released it are one decision, counted as the approval (or
// as the release when the approval is not among acts).
func successRate(acts []service.ActionView) (ok, bad int) {
	approved := map[int64]bool{}
	for _, a := range acts {
		if a.Status == "approved" {
			approved[a.ID] = true
		}
	}
	for _, a := range acts {
		if id := releaseOf(a); id != 0 && approved[id] {
			continue
		}
		switch a.Status {
		case "applied", "approved", "resolved":
			ok++
		case "failed", "rolled_back", "reverted", "rejected":
			bad++
		}
	}
	return ok, bad
}

type healingData struct {
	Queue      []actionRow
	Recent     []actionRow
	Reverts    []actionRow
	Models     []service.ModelView
	ByOutcome  chart
	Strategies chart
	ByStrategy []countRow
	Success    *float64
	Decided    int
	// Window is the number of newest actions the outcomes, strategies and
	// reverts are of, when there are more on record; 0 when they are of
	// all. The queue is always whole.
	Window     int
	CanOperate bool
	Categories []string
	Flash      string
}

type countRow struct {
	Name  string
	Count int
}

func (u *UI) healingPage(w http.ResponseWriter, r *http.Request) {
	d, err := u.healingData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	d.Flash = doneText(r)
	u.render(w, r, http.StatusOK, "healing", "Self-Healing Activity", d)
}

// healingData reads the queue (every action that waits for a person, by
// its own query), the newest 500 actions for the outcomes, and the
// models.
func (u *UI) healingData(r *http.Request) (healingData, error) {
	d := healingData{CanOperate: sessionFrom(r.Context()).Principal.Role.Allows(service.Operator)}
	for _, c := range healing.Categories {
		d.Categories = append(d.Categories, string(c))
	}
	var err error
	if d.Queue, err = u.waiting(r); err != nil {
		return d, err
	}
	page, err := u.Service.Actions(r.Context(), service.ActionQuery{PageRequest: service.PageRequest{PageSize: service.MaxPageSize}})
	if err != nil {
		return d, err
	}
	if page.NextPageToken != "" {
		d.Window = len(page.Items)
	}
	outcomes, byStrategy := newSeries(), newSeries()
	strategies := map[string]int{}
	for _, a := range page.Items {
		row := actionRowOf(a)
		if a.Status == "reverted" {
			d.Reverts = append(d.Reverts, row)
		}
		if len(d.Recent) < 50 {
			d.Recent = append(d.Recent, row)
		}
		day := a.CreatedAt.UTC().Truncate(24 * time.Hour)
		outcomes.sum(a.Status, day, 1)
		byStrategy.sum(a.Strategy, day, 1)
		strategies[a.Strategy]++
	}
	if ok, bad := successRate(page.Items); ok+bad > 0 {
		rate := float64(ok) / float64(ok+bad)
		d.Success, d.Decided = &rate, ok+bad
	}
	d.ByOutcome = outcomes.chart("actions", "Healing actions per day by outcome", "bars", "actions")
	d.ByOutcome.Empty = "No healing action yet."
	d.Strategies = byStrategy.chart("strategies", "Healing actions per day by strategy", "bars", "actions")
	d.Strategies.Empty = "No healing action yet."
	for name, n := range strategies {
		d.ByStrategy = append(d.ByStrategy, countRow{name, n})
	}
	slices.SortFunc(d.ByStrategy, func(a, b countRow) int { return cmp.Or(b.Count-a.Count, strings.Compare(a.Name, b.Name)) })
	d.Models, err = u.Service.Models(r.Context())
	return d, err
}

// waiting reads every action that waits for a person, oldest first, with
// queries of its own: however many actions came after one, it stays in
// the queue until someone decides it.
func (u *UI) waiting(r *http.Request) ([]actionRow, error) {
	var out []actionRow
	for _, status := range waitingStatuses {
		acts, err := u.allActions(r, service.ActionQuery{Status: status})
		if err != nil {
			return nil, err
		}
		for _, a := range acts {
			out = append(out, actionRowOf(a))
		}
	}
	slices.SortFunc(out, func(a, b actionRow) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

// decide takes an operator's decision on an action: approve, reject (with
// a reason and perhaps the right category), resolve (with one of the
// offered options and a reason) or revert (with a reason).
func (u *UI) decide(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		u.errorPage(w, r, http.StatusNotFound, "There is no action "+strconv.Quote(r.PathValue("id"))+".")
		return
	}
	by := sessionFrom(r.Context()).Principal.Name
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	decision := r.PathValue("decision")
	switch decision {
	case "approve":
		_, err = u.Service.Decide(r.Context(), service.Decision{ActionID: id, Approve: true, By: by, Reason: reason})
	case "reject":
		_, err = u.Service.Decide(r.Context(), service.Decision{ActionID: id, By: by, Reason: reason, Category: r.PostFormValue("category")})
	case "resolve":
		_, err = u.Service.Resolve(r.Context(), service.Resolution{ActionID: id, Choice: r.PostFormValue("choice"), By: by, Reason: reason})
	case "revert":
		if reason == "" {
			err = &service.FieldError{Field: "reason", Reason: "a revert needs a reason"}
			break
		}
		_, err = u.Service.Revert(r.Context(), id, by, reason, r.PostFormValue("category"))
	default:
		u.errorPage(w, r, http.StatusNotFound, "Actions are approved, rejected, resolved or reverted; not "+strconv.Quote(r.PathValue("decision"))+".")
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/healing?done=%s&action=%d", decision, id), http.StatusSeeOther)
}

// doneText is the status line after a form: from the form's code and the
// thing's id, never text taken from the address as it is.
func doneText(r *http.Request) string {
	id := r.FormValue("action")
	switch done := r.FormValue("done"); {
	case validID(id) && (done == "approve" || done == "reject" || done == "resolve" || done == "revert"):
		past := map[string]string{"approve": "approved", "reject": "rejected", "resolve": "resolved", "revert": "reverted"}[done]
		return "Action #" + id + " " + past + "."
	case (done == "apply-optimization" || done == "revert-optimization") && validID(r.FormValue("optimization")):
		return "Optimization #" + r.FormValue("optimization") + " " + map[string]string{"apply-optimization": "applied", "revert-optimization": "reverted"}[done] + "."
	case done == "ack" && incidentID.MatchString(r.FormValue("incident")):
		return "Incident " + r.FormValue("incident") + " acknowledged."
	}
	return ""
}

func validID(s string) bool {
	_, err := strconv.ParseInt(s, 10, 64)
	return err == nil
}

// incidentID is what an incident's id looks like.
var incidentID = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

type performanceData struct {
	Throughput      chart
	Stages          []chart
	Slowest         []service.RunView
	Costs           []service.CostDay
	Recommendations []service.OptimizationView
	Flash           string
}

func (u *UI) performancePage(w http.ResponseWriter, r *http.Request) {
	d := performanceData{}
	throughput := newSeries()
	var all []service.RunView
	for _, name := range u.Service.Project.PipelineNames() {
		runs, err := u.runsOf(r, name, historyRuns)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		stages := newSeries()
		for _, run := range runs {
			if run.StartedAt == nil || run.DurationSeconds == nil {
				continue
			}
			all = append(all, run)
			if *run.DurationSeconds > 0 {
				throughput.add(name, *run.StartedAt, float64(run.RowsIn) / *run.DurationSeconds)
			}
			for _, st := range pipeline.Stages {
				if s, ok := run.Metrics[pipeline.StageMetric+st]; ok {
					stages.add(st, *run.StartedAt, s)
				}
			}
		}
		c := stages.chart("stages-"+name, "Stage durations of "+name, "line", "s")
		c.Empty = "No run of " + name + " has recorded its stages yet."
		d.Stages = append(d.Stages, c)
	}
	d.Throughput = throughput.chart("throughput", "Rows per second by pipeline", "line", "rows/s")
	slices.SortFunc(all, func(a, b service.RunView) int { return cmp.Compare(*b.DurationSeconds, *a.DurationSeconds) })
	d.Slowest = all[:min(len(all), 10)]
	var err error
	if d.Costs, err = u.Service.CostByDay(r.Context(), 7, ""); err != nil {
		u.fail(w, r, err)
		return
	}
	if d.Recommendations, err = u.Service.Optimizations(r.Context(), ""); err != nil && !errors.Is(err, service.ErrUnavailable) {
		u.fail(w, r, err)
		return
	}
	d.Flash = doneText(r)
	u.render(w, r, http.StatusOK, "performance", "Performance", d)
}

// optimization applies or reverts a recorded layout change.
func (u *UI) optimization(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		u.errorPage(w, r, http.StatusNotFound, "There is no optimization "+strconv.Quote(r.PathValue("id"))+".")
		return
	}
	by := sessionFrom(r.Context()).Principal.Name
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	switch op := r.PathValue("op"); op {
	case "apply":
		_, err = u.Service.ApplyOptimization(r.Context(), id, by, reason)
	case "revert":
		_, err = u.Service.RevertOptimization(r.Context(), id, by, reason)
	default:
		u.errorPage(w, r, http.StatusNotFound, "Optimizations are applied or reverted; not "+strconv.Quote(op)+".")
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, fmt.Sprintf("/performance?done=%s-optimization&optimization=%d", r.PathValue("op"), id), http.StatusSeeOther)
}

type alertsData struct {
	Alerts     []service.AlertView
	Incidents  []service.IncidentView
	Silences   []service.SilenceView
	CanOperate bool
	Flash      string
}

func (u *UI) alertsPage(w http.ResponseWriter, r *http.Request) {
	d := alertsData{CanOperate: sessionFrom(r.Context()).Principal.Role.Allows(service.Operator), Flash: doneText(r)}
	ap, err := u.Service.Alerts(r.Context(), service.AlertQuery{PageRequest: service.PageRequest{PageSize: 200}})
	if err != nil && !errors.Is(err, service.ErrUnavailable) {
		u.fail(w, r, err)
		return
	}
	d.Alerts = ap.Items
	ip, err := u.Service.Incidents(r.Context(), service.IncidentQuery{PageRequest: service.PageRequest{PageSize: 100}})
	if err != nil && !errors.Is(err, service.ErrUnavailable) {
		u.fail(w, r, err)
		return
	}
	d.Incidents = ip.Items
	if d.Silences, err = u.Service.Silences(r.Context()); err != nil && !errors.Is(err, service.ErrUnavailable) {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "alerts", "Alerts", d)
}

// ack acknowledges an open incident.
func (u *UI) ack(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := u.Service.AckIncident(r.Context(), id, sessionFrom(r.Context()).Principal.Name); err != nil {
		u.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/alerts?done=ack&incident="+urlQueryEscape(id), http.StatusSeeOther)
}
