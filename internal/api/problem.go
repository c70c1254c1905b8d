package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/shp-dev/shp/internal/quality"
	"github.com/shp-dev/shp/internal/service"
)

// ProblemBase prefixes every problem type: a problem's type is stable,
// and clients may switch on it.
const ProblemBase = "https://shp.dev/problems/"

// Problem is an RFC 9457 problem detail.
type Problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
	// Field and Reason name the input that was wrong.
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Instance is the request's path.
	Instance string `json:"instance,omitempty"`
}

// Problem types.
const (
	ProblemUnauthorized = "unauthorized"
	ProblemForbidden    = "forbidden"
	ProblemNotFound     = "not-found"
	ProblemInvalid      = "invalid-request"
	ProblemMalformed    = "malformed-body"
	ProblemTooLarge     = "body-too-large"
	ProblemConflict     = "conflict"
	ProblemRateLimited  = "rate-limited"
	ProblemUnavailable  = "unavailable"
	ProblemTimeout      = "timeout"
	ProblemMethod       = "method-not-allowed"
	ProblemInternal     = "internal"
)

var problemTitles = map[string]string{
	ProblemUnauthorized: "Authentication required",
	ProblemForbidden:    "Not allowed for this role",
	ProblemNotFound:     "Not found",
	ProblemInvalid:      "Invalid request",
	ProblemMalformed:    "Malformed request body",
	ProblemTooLarge:     "Request body too large",
	ProblemConflict:     "Conflict with the current state",
	ProblemRateLimited:  "Too many requests",
	ProblemUnavailable:  "Not available in this process",
	ProblemTimeout:      "Request timed out",
	ProblemMethod:       "Method not allowed",
	ProblemInternal:     "Internal error",
}

// writeProblem answers with a problem.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, kind, detail string) {
	writeProblemValue(w, Problem{Type: ProblemBase + kind, Title: problemTitles[kind], Status: status, Detail: detail, Instance: r.URL.Path})
}

func writeProblemValue(w http.ResponseWriter, p Problem) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// fail answers with the problem an error means. Errors the caller did
// not cause are logged and answered without their text: it may name
// internals.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var fe *service.FieldError
	switch {
	case errors.As(err, &fe):
		writeProblemValue(w, Problem{Type: ProblemBase + ProblemInvalid, Title: problemTitles[ProblemInvalid], Status: http.StatusBadRequest,
			Detail: fe.Error(), Field: fe.Field, Reason: fe.Reason, Instance: r.URL.Path})
	case errors.Is(err, service.ErrNotFound):
		writeProblem(w, r, http.StatusNotFound, ProblemNotFound, err.Error())
	case errors.Is(err, service.ErrConflict):
		writeProblem(w, r, http.StatusConflict, ProblemConflict, err.Error())
	case errors.Is(err, service.ErrUnavailable):
		writeProblem(w, r, http.StatusServiceUnavailable, ProblemUnavailable, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		writeProblem(w, r, http.StatusGatewayTimeout, ProblemTimeout, "the request took longer than the server allows")
	default:
		s.logger().Error("api request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeProblem(w, r, http.StatusInternalServerError, ProblemInternal, "the server failed to answer; its log says why")
	}
}

// writeJSON answers with a JSON body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// decode reads a JSON body strictly: unknown fields, trailing data and
// wrong types are refused, naming the field; a body over the limit is
// refused with 413. It reports whether it answered already.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	r.Body = http.MaxBytesReader(w, r.Body, s.maxBody())
	return s.decoded(w, r, json.NewDecoder(r.Body), v, nil)
}

// decodePython is decode for a body that Python's json module may have
// written, a Great Expectations suite: its bare NaN, Infinity and
// -Infinity are read as {"$numberDouble": "..."} objects, which the
// quality package reads as numbers (quality.RewriteNonFinite).
func (s *Server) decodePython(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		return s.answerDecodeErr(w, r, fmt.Errorf("read the body: %w", err))
	}
	text, rw := quality.RewriteNonFinite(body)
	return s.decoded(w, r, json.NewDecoder(bytes.NewReader(text)), v, rw)
}

// decoded decodes one JSON value strictly with dec, mapping error
// offsets back through rw, and answers when it fails.
func (s *Server) decoded(w http.ResponseWriter, r *http.Request, dec *json.Decoder, v any, rw *quality.Rewrite) bool {
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return false
	}
	return s.answerDecodeErr(w, r, rw.Err(err))
}

// answerDecodeErr answers a body that could not be read or decoded; it
// returns true, for decode's callers.
func (s *Server) answerDecodeErr(w http.ResponseWriter, r *http.Request, err error) bool {
	var tooBig *http.MaxBytesError
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &tooBig):
		writeProblem(w, r, http.StatusRequestEntityTooLarge, ProblemTooLarge, fmt.Sprintf("the body may have at most %d bytes", tooBig.Limit))
	case errors.As(err, &typeErr):
		writeProblemValue(w, Problem{Type: ProblemBase + ProblemInvalid, Title: problemTitles[ProblemInvalid], Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("%s must be %s, not %s", typeErr.Field, typeErr.Type, typeErr.Value), Field: typeErr.Field,
			Reason: "must be " + typeErr.Type.String(), Instance: r.URL.Path})
	case errors.As(err, &syntaxErr):
		writeProblem(w, r, http.StatusBadRequest, ProblemMalformed, fmt.Sprintf("not JSON at byte %d: %v", syntaxErr.Offset, err))
	default:
		// Unknown fields ("json: unknown field \"x\""), an empty body.
		writeProblem(w, r, http.StatusBadRequest, ProblemMalformed, err.Error())
	}
	return true
}

// logger is the server's logger.
func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.New(slog.DiscardHandler)
}
