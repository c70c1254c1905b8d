package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// requestInfo is what the access log says of a request that only the
// endpoint learns: who called.
type requestInfo struct{ caller string }

type requestInfoKey struct{}

// noteCaller tells the access log, if it is on, who made the request.
func noteCaller(r *http.Request, p service.Principal) {
	if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
		info.caller = p.Name
	}
}

// maxLoggedQuery bounds the query's parameter names the access log
// writes.
const maxLoggedQuery = 256

// accessLog writes one line per request to AccessLog, when set: method,
// path (capped as the audit log caps it), the names of the query's
// parameters (never their values, which may carry secrets), status,
// duration, bytes written, caller ("anonymous" without a valid
// credential) and client address. No header is logged, the
// Authorization header least of all.
func (s *Server) accessLog(next http.Handler) http.Handler {
	if s.AccessLog == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		info := &requestInfo{caller: metadata.AnonymousPrincipal}
		rec := &countingWriter{ResponseWriter: w, status: http.StatusOK}
		r = r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info))
		defer func() {
			attrs := []slog.Attr{
				slog.String("method", r.Method),
				slog.String("path", capAuditPath(r.URL.Path)),
			}
			if q := queryNames(r); q != "" {
				attrs = append(attrs, slog.String("query", q))
			}
			attrs = append(attrs,
				slog.Int("status", rec.status),
				slog.Float64("duration_ms", float64(time.Since(started).Microseconds())/1000),
				slog.Int64("bytes", rec.bytes),
				slog.String("caller", info.caller),
				slog.String("remote", s.clientAddr(r)),
			)
			s.AccessLog.LogAttrs(context.WithoutCancel(r.Context()), slog.LevelInfo, "request", attrs...)
		}()
		next.ServeHTTP(rec, r)
	})
}

// queryNames lists the names of the request's query parameters, sorted
// and capped; their values are left out.
func queryNames(r *http.Request) string {
	if r.URL.RawQuery == "" {
		return ""
	}
	var names []string
	for k := range r.URL.Query() {
		names = append(names, k)
	}
	slices.Sort(names)
	return capText(strings.Join(names, ","), maxLoggedQuery)
}

// countingWriter remembers the status and counts the bytes of an answer.
type countingWriter struct {
	http.ResponseWriter
	status      int
	bytes       int64
	wroteHeader bool
}

func (c *countingWriter) WriteHeader(code int) {
	if !c.wroteHeader {
		c.status, c.wroteHeader = code, true
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	c.wroteHeader = true
	n, err := c.ResponseWriter.Write(b)
	c.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *countingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
