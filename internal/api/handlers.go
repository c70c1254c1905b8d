package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/config/spec"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/service"
)

// respond answers with v, or with the problem err means.
func (s *Server) respond(w http.ResponseWriter, r *http.Request, v any, err error) {
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			s.logger().Warn("not ready", "err", err)
			writeProblem(w, r, http.StatusServiceUnavailable, ProblemUnavailable, "the metadata store does not answer")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func (s *Server) prometheus(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	s.metrics.handler(s.Metrics).ServeHTTP(w, r)
}

func (s *Server) openapi(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(OpenAPI)
}

// query reads the query parameters every listing shares, answering 400
// itself when one is wrong.
type query struct {
	w   http.ResponseWriter
	r   *http.Request
	s   *Server
	bad bool
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) *query {
	return &query{w: w, r: r, s: s}
}

// str reads a query parameter; one given more than once is refused, so
// that a filter cannot mean one thing to a proxy and another to shp.
func (q *query) str(name string) string {
	vs := q.r.URL.Query()[name]
	if len(vs) > 1 {
		q.invalid(name, "is given more than once")
	}
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

func (q *query) invalid(field, reason string) {
	if !q.bad {
		q.bad = true
		q.s.fail(q.w, q.r, &service.FieldError{Field: field, Reason: reason})
	}
}

// oneOf reads a filter whose values are known: one of values, or none.
func (q *query) oneOf(name string, values []string) string {
	v := q.str(name)
	if v != "" && !slices.Contains(values, v) {
		q.invalid(name, fmt.Sprintf("must be one of %s, got %q", strings.Join(values, ", "), v))
	}
	return v
}

// pipeline reads the pipeline filter: one of the project's pipelines, or
// none.
func (q *query) pipeline() string {
	v := q.str("pipeline")
	if _, ok := q.s.Service.Project.Pipeline(v); v != "" && !ok {
		q.invalid("pipeline", fmt.Sprintf("%q is not a pipeline of this project", v))
	}
	return v
}

func (q *query) time(name string) time.Time {
	v := q.str(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		q.invalid(name, "must be an RFC 3339 time such as 2026-11-27T00:00:00Z")
	}
	return t
}

// span reads since and until; until must not be before since.
func (q *query) span() (since, until time.Time) {
	since, until = q.time("since"), q.time("until")
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		q.invalid("since", fmt.Sprintf("must not be after until (%s)", until.Format(time.RFC3339)))
	}
	return since, until
}

// intIn reads a whole number from lo to hi; def when it is absent.
func (q *query) intIn(name string, def, lo, hi int) int {
	v := q.str(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case err != nil:
		q.invalid(name, "must be a whole number")
	case n < lo || n > hi:
		q.invalid(name, fmt.Sprintf("must be from %d to %d, got %d", lo, hi, n))
	}
	return n
}

func (q *query) page() service.PageRequest {
	p := service.PageRequest{PageToken: q.str("page_token")}
	p.PageSize = q.intIn("page_size", 0, 1, service.MaxPageSize)
	return p
}

func (s *Server) listPipelines(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	pq := service.PipelineQuery{Status: q.str("status"), SourceType: q.oneOf("source_type", spec.Names(spec.KindSource)), PageRequest: q.page()}
	if q.bad {
		return
	}
	page, err := s.Service.PipelinesPage(r.Context(), pq)
	s.respond(w, r, page, err)
}

func (s *Server) getPipeline(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	p, err := s.Service.Pipeline(r.Context(), r.PathValue("id"))
	s.respond(w, r, p, err)
}

func (s *Server) runs(w http.ResponseWriter, r *http.Request, pipeline string) {
	q := s.query(w, r)
	since, until := q.span()
	rq := service.RunQuery{Pipeline: pipeline, Status: q.str("status"), Since: since, Until: until, PageRequest: q.page()}
	if pipeline == "" {
		rq.Pipeline = q.pipeline()
	}
	if q.bad {
		return
	}
	page, err := s.Service.Runs(r.Context(), rq)
	s.respond(w, r, page, err)
}

func (s *Server) pipelineRuns(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	s.runs(w, r, r.PathValue("id"))
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	s.runs(w, r, "")
}

func (s *Server) getRun(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	d, err := s.Service.Run(r.Context(), r.PathValue("id"))
	s.respond(w, r, d, err)
}

// TriggerRequest is POST /pipelines/{id}/run's body. It may be empty,
// with Content-Length: 0 or as an empty chunked body alike.
type TriggerRequest struct {
	Parameters map[string]string `json:"parameters"`
}

// TriggerResponse says which run was started.
type TriggerResponse struct {
	RunID    string `json:"run_id"`
	Pipeline string `json:"pipeline"`
	Status   string `json:"status"`
	Location string `json:"location"`
}

func (s *Server) triggerRun(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	var req TriggerRequest
	if s.decodeOptional(w, r, &req) {
		return
	}
	id := r.PathValue("id")
	runID, err := s.Service.TriggerRun(r.Context(), id, req.Parameters)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	loc := "/api/v1/runs/" + runID
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusAccepted, TriggerResponse{RunID: runID, Pipeline: id, Status: metadata.StatusQueued, Location: loc})
}

func (s *Server) qualityMetrics(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	pipeline := q.pipeline()
	since, until := q.span()
	if q.bad {
		return
	}
	m, err := s.Service.QualityMetrics(r.Context(), pipeline, since, until)
	s.respond(w, r, m, err)
}

func (s *Server) validations(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	since, until := q.span()
	vq := service.ValidationQuery{Pipeline: q.pipeline(), RunID: q.str("run_id"), Since: since, Until: until, PageRequest: q.page()}
	if q.bad {
		return
	}
	page, err := s.Service.Validations(r.Context(), vq)
	s.respond(w, r, page, err)
}

// RulesResponse lists rules by pipeline.
type RulesResponse struct {
	Items []PipelineRules `json:"items"`
}

// PipelineRules are one pipeline's rules.
type PipelineRules struct {
	Pipeline string             `json:"pipeline"`
	Rules    []service.RuleView `json:"rules"`
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	p := q.pipeline()
	if q.bad {
		return
	}
	names := s.Service.Project.PipelineNames()
	if p != "" {
		names = []string{p}
	}
	out := RulesResponse{Items: []PipelineRules{}}
	for _, name := range names {
		rules, err := s.Service.Rules(r.Context(), name)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		out.Items = append(out.Items, PipelineRules{Pipeline: name, Rules: rules})
	}
	writeJSON(w, http.StatusOK, out)
}

// AddRulesRequest adds one rule, several, or a Great Expectations suite
// (JSON, 0.x or 1.x layout) to a pipeline: exactly one of the three. The
// body may hold Python's bare NaN, Infinity and -Infinity.
type AddRulesRequest struct {
	Pipeline string            `json:"pipeline"`
	Rule     *service.NewRule  `json:"rule,omitempty"`
	Rules    []service.NewRule `json:"rules,omitempty"`
	Suite    json.RawMessage   `json:"suite,omitempty"`
}

func (s *Server) addRules(w http.ResponseWriter, r *http.Request, p service.Principal) {
	var req AddRulesRequest
	if s.decodePython(w, r, &req) {
		return
	}
	switch {
	case req.Pipeline == "":
		s.fail(w, r, &service.FieldError{Field: "pipeline", Reason: "is required"})
		return
	case btoi(req.Rule != nil)+btoi(len(req.Rules) > 0)+btoi(len(req.Suite) > 0) != 1:
		s.fail(w, r, &service.FieldError{Field: "rule", Reason: "give one of rule, rules or suite"})
		return
	}
	rules := req.Rules
	if req.Rule != nil {
		rules = []service.NewRule{*req.Rule}
	}
	if len(req.Suite) > 0 {
		suite, err := quality.ParseSuite(req.Suite, "suite")
		if err != nil {
			s.fail(w, r, &service.FieldError{Field: "suite", Reason: err.Error()})
			return
		}
		rules = append(rules, service.RulesFromSuite(suite)...)
		if len(rules) == 0 {
			s.fail(w, r, &service.FieldError{Field: "suite", Reason: "has no expectations"})
			return
		}
	}
	added, err := s.Service.AddRules(r.Context(), req.Pipeline, rules, p.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, PipelineRules{Pipeline: req.Pipeline, Rules: added})
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *Server) listActions(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	aq := service.ActionQuery{RunID: q.str("run_id"), Pipeline: q.pipeline(), Status: q.str("status"), Category: q.str("category"), PageRequest: q.page()}
	if q.bad {
		return
	}
	page, err := s.Service.Actions(r.Context(), aq)
	s.respond(w, r, page, err)
}

// actionID reads the {id} of an action's path.
func (s *Server) actionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, &service.FieldError{Field: "id", Reason: "must be an action's number"})
		return 0, false
	}
	return id, true
}

func (s *Server) getAction(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	id, ok := s.actionID(w, r)
	if !ok {
		return
	}
	a, err := s.Service.Action(r.Context(), id)
	s.respond(w, r, a, err)
}

// DecisionRequest approves or rejects a proposed action.
type DecisionRequest struct {
	ActionID int64  `json:"action_id"`
	Decision string `json:"decision"` // approve or reject
	Reason   string `json:"reason"`
	// Category, for a rejection, is what the issue really was.
	Category string `json:"category,omitempty"`
}

func (s *Server) decide(w http.ResponseWriter, r *http.Request, p service.Principal) {
	var req DecisionRequest
	if s.decode(w, r, &req) {
		return
	}
	if req.ActionID <= 0 {
		s.fail(w, r, &service.FieldError{Field: "action_id", Reason: "is required"})
		return
	}
	if req.Decision != "approve" && req.Decision != "reject" {
		s.fail(w, r, &service.FieldError{Field: "decision", Reason: "must be approve or reject"})
		return
	}
	a, err := s.Service.Decide(r.Context(), service.Decision{ActionID: req.ActionID, Approve: req.Decision == "approve", By: p.Name,
		Reason: req.Reason, Category: req.Category})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// RevertRequest says why an applied action is reverted.
type RevertRequest struct {
	Reason   string `json:"reason"`
	Category string `json:"category,omitempty"`
}

func (s *Server) revertAction(w http.ResponseWriter, r *http.Request, p service.Principal) {
	id, ok := s.actionID(w, r)
	if !ok {
		return
	}
	var req RevertRequest
	if s.decode(w, r, &req) {
		return
	}
	rv, err := s.Service.Revert(r.Context(), id, p.Name, req.Reason, req.Category)
	s.respond(w, r, rv, err)
}

func (s *Server) models(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	ms, err := s.Service.Models(r.Context())
	s.respond(w, r, service.Page[service.ModelView]{Items: ms}, err)
}

func (s *Server) strategies(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	st, err := s.Service.Strategies()
	s.respond(w, r, service.Page[service.StrategyView]{Items: st}, err)
}

func (s *Server) lineage(w http.ResponseWriter, r *http.Request, p service.Principal) {
	l, err := s.Service.LineageFor(r.Context(), p)
	s.respond(w, r, service.Page[service.LineageEntry]{Items: l}, err)
}

func (s *Server) listKeys(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	ks, err := s.Service.Keys(r.Context())
	s.respond(w, r, service.Page[service.APIKeyView]{Items: ks}, err)
}

// CreateKeyRequest asks for an API key.
type CreateKeyRequest struct {
	Name string `json:"name"`
	Role string `json:"role"`
	// ExpiresIn is a duration such as "720h"; empty for no expiry.
	ExpiresIn string `json:"expires_in,omitempty"`
}

// CreateKeyResponse shows the new key once.
type CreateKeyResponse struct {
	Key    string             `json:"key"`
	APIKey service.APIKeyView `json:"api_key"`
}

func (s *Server) createKey(w http.ResponseWriter, r *http.Request, p service.Principal) {
	var req CreateKeyRequest
	if s.decode(w, r, &req) {
		return
	}
	role, err := service.ParseRole(req.Role)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	var ttl time.Duration
	if req.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(req.ExpiresIn); err != nil || ttl <= 0 {
			s.fail(w, r, &service.FieldError{Field: "expires_in", Reason: "must be a positive duration such as 720h"})
			return
		}
	}
	key, view, err := s.Service.CreateKey(r.Context(), req.Name, role, ttl, p.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, CreateKeyResponse{Key: key, APIKey: view})
}

func (s *Server) revokeKey(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	if err := s.Service.RevokeKey(r.Context(), r.PathValue("id")); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) audits(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	anonymous := q.oneOf("anonymous", service.AnonymousValues)
	limit := 100
	if v := q.str("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			q.invalid("limit", "must be a whole number")
		}
		limit = n
	}
	if q.bad {
		return
	}
	es, err := s.Service.Audit(r.Context(), service.AuditQuery{Anonymous: anonymous, Limit: limit})
	s.respond(w, r, service.Page[service.AuditView]{Items: es}, err)
}
