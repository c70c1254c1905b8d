package api

import (
	"net/http"
	"strconv"

	"github.com/shp-dev/shp/internal/service"
)

// OptimizationApplyRequest may say why a change is applied.
type OptimizationApplyRequest struct {
	Reason string `json:"reason,omitempty"`
}

// OptimizationRevertRequest asks to undo an applied layout change.
type OptimizationRevertRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) optimizationID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		s.fail(w, r, &service.FieldError{Field: "id", Reason: "must be an optimization's number"})
		return 0, false
	}
	return id, true
}

func (s *Server) listOptimizations(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	os, err := s.Service.Optimizations(r.Context(), r.URL.Query().Get("table"))
	s.respond(w, r, service.Page[service.OptimizationView]{Items: os}, err)
}

func (s *Server) costByDay(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	pipelineName := q.pipeline()
	days := q.intIn("days", 30, 1, service.MaxCostDays)
	if q.bad {
		return
	}
	out, err := s.Service.CostByDay(r.Context(), days, pipelineName)
	s.respond(w, r, service.Page[service.CostDay]{Items: out}, err)
}

func (s *Server) capacityPricing(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	pipelineName := q.pipeline()
	days := q.intIn("days", 30, 1, service.MaxCostDays)
	if q.bad {
		return
	}
	out, err := s.Service.CapacityAnalysis(r.Context(), days, pipelineName)
	s.respond(w, r, out, err)
}

func (s *Server) applyOptimization(w http.ResponseWriter, r *http.Request, p service.Principal) {
	id, ok := s.optimizationID(w, r)
	if !ok {
		return
	}
	var req OptimizationApplyRequest
	if s.decodeOptional(w, r, &req) {
		return
	}
	o, err := s.Service.ApplyOptimization(r.Context(), id, p.Name, req.Reason)
	s.respond(w, r, o, err)
}

func (s *Server) revertOptimization(w http.ResponseWriter, r *http.Request, p service.Principal) {
	id, ok := s.optimizationID(w, r)
	if !ok {
		return
	}
	var req OptimizationRevertRequest
	if s.decode(w, r, &req) {
		return
	}
	o, err := s.Service.RevertOptimization(r.Context(), id, p.Name, req.Reason)
	s.respond(w, r, o, err)
}
