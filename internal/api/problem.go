package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"unicode"

	"github.com/shp-dev/shp/internal/jsonerr"
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
	ProblemMediaType    = "unsupported-media-type"
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
	ProblemMediaType:    "Unsupported media type",
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

// decode reads a JSON body strictly: unknown fields, keys given twice
// (in any case, at any depth), trailing data and wrong types are
// refused, naming the field; a body over the limit is refused with 413.
// It reports whether it answered already.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, v any) bool {
	if s.refuseMediaType(w, r) {
		return true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		return s.answerDecodeErr(w, r, fmt.Errorf("read the body: %w", err))
	}
	return s.decoded(w, r, body, v, nil)
}

// decodeOptional is decode for a body that may be empty: an empty body
// (no bytes, or only white space), whether sent with Content-Length: 0,
// without a length or as chunks, leaves v as it is.
func (s *Server) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	if s.refuseMediaType(w, r) {
		return true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		return s.answerDecodeErr(w, r, fmt.Errorf("read the body: %w", err))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false
	}
	return s.decoded(w, r, body, v, nil)
}

// decodePython is decode for a body that Python's json module may have
// written, a Great Expectations suite: its bare NaN, Infinity and
// -Infinity are read as {"$numberDouble": "..."} objects, which the
// quality package reads as numbers (quality.RewriteNonFinite).
func (s *Server) decodePython(w http.ResponseWriter, r *http.Request, v any) bool {
	if s.refuseMediaType(w, r) {
		return true
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody()))
	if err != nil {
		return s.answerDecodeErr(w, r, fmt.Errorf("read the body: %w", err))
	}
	text, rw := quality.RewriteNonFinite(body)
	return s.decoded(w, r, text, v, rw)
}

// refuseMediaType answers 415 to a body declared as something other than
// JSON (a form, text/plain: what a browser may send across origins
// without asking first); a body without a Content-Type is read as JSON.
// It reports whether it answered.
func (s *Server) refuseMediaType(w http.ResponseWriter, r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return false
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && (mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return false
	}
	w.Header().Set("Accept", "application/json")
	writeProblem(w, r, http.StatusUnsupportedMediaType, ProblemMediaType, fmt.Sprintf("the body must be application/json, not %q", ct))
	return true
}

// errTrailing is a body with more after its JSON value.
var errTrailing = errors.New("the body has data after its JSON value")

// decoded decodes one JSON value strictly from body, mapping error
// offsets back through rw, and answers when it fails.
func (s *Server) decoded(w http.ResponseWriter, r *http.Request, body []byte, v any, rw *quality.Rewrite) bool {
	if dup := duplicateKey(body); dup != nil {
		writeProblemValue(w, Problem{Type: ProblemBase + ProblemMalformed, Title: problemTitles[ProblemMalformed], Status: http.StatusBadRequest,
			Detail: dup.Error(), Field: dup.path, Reason: "is given more than once", Instance: r.URL.Path})
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		// Only white space may follow: not a second value, not a stray
		// closing brace (which dec.More does not see).
		if _, terr := dec.Token(); terr != io.EOF {
			err = errTrailing
		}
	}
	if err == nil {
		return false
	}
	return s.answerDecodeErr(w, r, rw.Err(err))
}

// dupKeyError names a key an object gives twice.
type dupKeyError struct {
	// path is where the key is, such as rule.kwargs.column; key and
	// first are its two spellings.
	path, key, first string
}

func (e *dupKeyError) Error() string {
	if e.key == e.first {
		return fmt.Sprintf("key %q is given twice in the same object (at %s)", e.key, e.path)
	}
	return fmt.Sprintf("key %q repeats key %q: keys are matched regardless of case (at %s)", e.key, e.first, e.path)
}

// duplicateKey walks the body's tokens and returns the first key that an
// object gives twice, compared as encoding/json compares them (without
// regard to case), at any depth; nil when there is none. A body that is
// not JSON has none: decoding it reports why.
func duplicateKey(body []byte) *dupKeyError {
	type frame struct {
		object bool
		keys   map[string]string // folded key: as written
		key    string            // the member being read
		hasKey bool              // its key is read, its value not yet
		index  int               // the element being read
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var stack []*frame
	path := func(last string) string {
		var b strings.Builder
		for _, f := range stack[:len(stack)-1] {
			if f.object {
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			} else {
				fmt.Fprintf(&b, "[%d]", f.index)
			}
		}
		if b.Len() > 0 {
			b.WriteByte('.')
		}
		b.WriteString(last)
		return b.String()
	}
	// value ends a value inside the innermost container.
	value := func() {
		if n := len(stack); n > 0 {
			if f := stack[n-1]; f.object {
				f.hasKey = false
			} else {
				f.index++
			}
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil
		}
		top := (*frame)(nil)
		if n := len(stack); n > 0 {
			top = stack[n-1]
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				stack = append(stack, &frame{object: t == '{', keys: map[string]string{}})
				continue
			default:
				stack = stack[:len(stack)-1]
				value()
			}
		case string:
			if top != nil && top.object && !top.hasKey {
				folded := foldKey(t)
				if first, ok := top.keys[folded]; ok {
					return &dupKeyError{path: path(t), key: t, first: first}
				}
				top.keys[folded] = t
				top.key, top.hasKey = t, true
				continue
			}
			value()
		default:
			value()
		}
		if len(stack) == 0 {
			return nil
		}
	}
}

// foldKey folds a key so that two keys fold alike exactly when
// strings.EqualFold says they are equal, as encoding/json matches them:
// each rune becomes the smallest of its case-folding orbit.
func foldKey(k string) string {
	return strings.Map(func(r rune) rune {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		return least
	}, k)
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
		field := typeErr.Field
		if field == "" {
			field = "the body"
		}
		want := jsonerr.Kind(typeErr.Type)
		writeProblemValue(w, Problem{Type: ProblemBase + ProblemInvalid, Title: problemTitles[ProblemInvalid], Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("%s must be %s, not %s", field, want, typeErr.Value), Field: typeErr.Field,
			Reason: "must be " + want, Instance: r.URL.Path})
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
