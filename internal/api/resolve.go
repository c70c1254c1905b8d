package api

import (
	"net/http"

	"github.com/shp-dev/shp/internal/service"
)

// ResolveRequest is a person's choice on an escalated action: one of the
// options it offers (for an ambiguous date column, a layout such as
// "%d/%m/%Y" or its name "day/month/year"), and why.
type ResolveRequest struct {
	Choice string `json:"choice"`
	Reason string `json:"reason"`
}

func (s *Server) resolveAction(w http.ResponseWriter, r *http.Request, p service.Principal) {
	id, ok := s.actionID(w, r)
	if !ok {
		return
	}
	var req ResolveRequest
	if s.decode(w, r, &req) {
		return
	}
	a, err := s.Service.Resolve(r.Context(), service.Resolution{ActionID: id, Choice: req.Choice, By: p.Name, Reason: req.Reason})
	s.respond(w, r, a, err)
}
