package api

import (
	"fmt"
	"net/http"
	"regexp"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/monitor"
	"github.com/shp-dev/shp/internal/service"
)

// monitorID is what the id of an incident (inc-20261106-020000-a1b2c3) or
// of a silence (sil-0123456789ab) in a path may be: letters, digits and
// '-', at most 64 of them. Anything else is refused before the store is
// asked.
var monitorID = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// maxAckComment is how many characters an acknowledgement's comment may
// have.
const maxAckComment = 1000

// monitorPathID reads the {id} of an incident's or a silence's path,
// answering 400 itself when it is not an id.
func (s *Server) monitorPathID(w http.ResponseWriter, r *http.Request, example string) (string, bool) {
	id := r.PathValue("id")
	if !monitorID.MatchString(id) {
		s.fail(w, r, &service.FieldError{Field: "id", Reason: "must be an id such as " + example + ": letters, digits and '-', at most 64"})
		return "", false
	}
	return id, true
}

func (s *Server) listAlerts(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	aq := service.AlertQuery{State: q.str("state"), Pipeline: q.pipeline(), PageRequest: q.page()}
	if q.bad {
		return
	}
	page, err := s.Service.Alerts(r.Context(), aq)
	s.respond(w, r, page, err)
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	iq := service.IncidentQuery{State: q.str("state"), PageRequest: q.page()}
	if q.bad {
		return
	}
	page, err := s.Service.Incidents(r.Context(), iq)
	s.respond(w, r, page, err)
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	id, ok := s.monitorPathID(w, r, "inc-20261106-020000-a1b2c3")
	if !ok {
		return
	}
	in, err := s.Service.Incident(r.Context(), id)
	s.respond(w, r, in, err)
}

// AckRequest is POST /incidents/{id}/ack's body, which may be empty: a
// comment on the acknowledgement, of at most 1000 characters. The comment
// is checked, not kept: the audit log records who acknowledged.
type AckRequest struct {
	Comment string `json:"comment"`
}

func (s *Server) ackIncident(w http.ResponseWriter, r *http.Request, p service.Principal) {
	id, ok := s.monitorPathID(w, r, "inc-20261106-020000-a1b2c3")
	if !ok {
		return
	}
	var req AckRequest
	if s.decodeOptional(w, r, &req) {
		return
	}
	if n := utf8.RuneCountInString(req.Comment); n > maxAckComment {
		s.fail(w, r, &service.FieldError{Field: "comment", Reason: fmt.Sprintf("may have at most %d characters, got %d", maxAckComment, n)})
		return
	}
	in, err := s.Service.AckIncident(r.Context(), id, p.Name)
	s.respond(w, r, in, err)
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	sl, err := s.Service.Silences(r.Context())
	s.respond(w, r, service.Page[service.SilenceView]{Items: sl}, err)
}

// CreateSilenceRequest asks for a silence, from now: the alerts whose
// labels match every matcher (label="value", !=, =~ or !~) are not
// notified while it lasts.
type CreateSilenceRequest struct {
	Matchers []string `json:"matchers"`
	// Duration is how long it lasts, such as "2h" (at most 90 days).
	Duration string `json:"duration"`
	Comment  string `json:"comment"`
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request, p service.Principal) {
	var req CreateSilenceRequest
	if s.decode(w, r, &req) {
		return
	}
	if req.Duration == "" {
		s.fail(w, r, &service.FieldError{Field: "duration", Reason: "is required: a duration such as 2h"})
		return
	}
	d, err := time.ParseDuration(req.Duration)
	if err != nil || d <= 0 || d > monitor.MaxSilence {
		s.fail(w, r, &service.FieldError{Field: "duration",
			Reason: fmt.Sprintf("must be a duration such as 2h, more than 0 and at most %dh (90 days)", int(monitor.MaxSilence.Hours()))})
		return
	}
	sl, err := s.Service.Silence(r.Context(), service.SilenceRequest{Matchers: req.Matchers, Duration: d, Comment: req.Comment}, p.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, sl)
}

func (s *Server) deleteSilence(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	id, ok := s.monitorPathID(w, r, "sil-0123456789ab")
	if !ok {
		return
	}
	if err := s.Service.Unsilence(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listNotifications(w http.ResponseWriter, r *http.Request, _ service.Principal) {
	q := s.query(w, r)
	status := q.str("status")
	limit := q.intIn("limit", 0, 1, service.MaxPageSize)
	if q.bad {
		return
	}
	ns, err := s.Service.Notifications(r.Context(), status, limit)
	s.respond(w, r, service.Page[service.NotificationView]{Items: ns}, err)
}
