// Package web is shp's web UI: the seed's four dashboards (Pipeline
// Overview, Data Quality, Self-Healing Activity, Performance) and the
// alerts, served by shp serve beside the REST API. Pages are rendered on
// the server with html/template from the same service layer as the API;
// htmx (progressive enhancement) and uPlot (charts) are vendored and
// served from the binary, so that pages work without JavaScript except
// their charts. People sign in with an API key or through OpenID Connect
// (the authorization-code flow with PKCE); the session lives in an
// HttpOnly, Secure, SameSite=Strict cookie, every form carries the
// session's CSRF token (the sign-in form a token of its own, kept in a
// short-lived cookie of the same kind), every form's body is bounded
// (MaxFormBytes), and the Content-Security-Policy allows no inline
// script.
package web

import (
	"context"
	"crypto/subtle"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"regexp"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/scheduler"
	"github.com/shp-dev/shp/internal/service"
)

//go:embed static
var staticFiles embed.FS

//go:embed templates
var templateFiles embed.FS

// DefaultSessionTTL is how long a sign-in lasts when UI.SessionTTL is 0.
const DefaultSessionTTL = 12 * time.Hour

// sessionCookie names the session's cookie.
const sessionCookie = "shp_session"

// csrfField and csrfHeader carry the session's CSRF token: the field in
// every form, the header in htmx's requests.
const (
	csrfField  = "csrf"
	csrfHeader = "X-CSRF-Token"
)

// ContentSecurityPolicy is sent with every response of the UI: scripts,
// styles and everything else from the UI itself, nothing inline, no
// frames, forms only to the UI.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// UI serves the web UI.
type UI struct {
	Service *service.Service
	// OIDC, when not nil, offers "Sign in with ..." through the
	// provider: the authorization-code flow with PKCE.
	OIDC *OIDCLogin
	// SessionTTL is how long a sign-in lasts; DefaultSessionTTL when 0.
	SessionTTL time.Duration
	Logger     *slog.Logger
	// ClientAddr is the client's address, for the limit on failed
	// sign-ins and the audit log (api.Server.ClientAddr, which reads
	// X-Forwarded-For from trusted proxies); the direct peer when nil.
	ClientAddr func(*http.Request) string
	// StaleLimit is how long a pipeline on its schedule may go without a
	// success before it shows stale: monitoring.yaml's absence rule
	// (monitor.Config.StaleLimit); twice the schedule's interval when
	// nil.
	StaleLimit func(pipeline string, s *scheduler.Schedule, now time.Time) time.Duration

	once  sync.Once
	pages map[string]*page
	mux   *http.ServeMux
	// failures limits failed sign-ins per client address.
	failMu   sync.Mutex
	failures map[string]*rate.Limiter
}

// ctxKey keys the request's session in its context.
type ctxKey struct{}

// sessionFrom returns the request's session (set by requireSession).
func sessionFrom(ctx context.Context) service.Session {
	s, _ := ctx.Value(ctxKey{}).(service.Session)
	return s
}

func (u *UI) logger() *slog.Logger {
	if u.Logger != nil {
		return u.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (u *UI) ttl() time.Duration {
	if u.SessionTTL > 0 {
		return u.SessionTTL
	}
	return DefaultSessionTTL
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.once.Do(u.init)
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, u.maxFormBytes())
	}
	if r.Method == http.MethodPost {
		// Every form is read here, within the limit, before anything
		// reads a field of it (a field read later ignores the error).
		if err := r.ParseForm(); err != nil {
			if mbe, ok := errors.AsType[*http.MaxBytesError](err); ok {
				u.errorPage(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("This form is larger than the %d bytes a form may be.", mbe.Limit))
				return
			}
			u.errorPage(w, r, http.StatusBadRequest, "This form cannot be read.")
			return
		}
	}
	u.mux.ServeHTTP(w, r)
}

// MaxFormBytes bounds the body of a request to the UI (every form is a
// few fields): 64 KiB, or api.max_body_bytes when that is less.
const MaxFormBytes = 64 << 10

func (u *UI) maxFormBytes() int64 {
	limit := int64(MaxFormBytes)
	if u.Service != nil && u.Service.Project != nil {
		if m := u.Service.Project.Config.API.MaxBodyBytes; m > 0 && m < limit {
			limit = m
		}
	}
	return limit
}

func (u *UI) init() {
	u.pages = parsePages()
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFiles, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", staticHandler(static)))
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	})
	mux.HandleFunc("GET /login", u.loginPage)
	mux.HandleFunc("POST /login", u.login)
	mux.HandleFunc("GET /auth/oidc", u.oidcStart)
	mux.HandleFunc("GET /auth/callback", u.oidcCallback)
	mux.Handle("POST /logout", u.form(service.Viewer, u.logout))

	mux.Handle("GET /{$}", u.view(u.overview))
	mux.Handle("GET /pipelines/{name}", u.view(u.pipelinePage))
	mux.Handle("POST /pipelines/{name}/run", u.form(service.Operator, u.triggerRun))
	mux.Handle("GET /runs/{id}", u.view(u.runPage))
	mux.Handle("GET /runs/{id}/quarantine", u.view(u.quarantinePage))
	mux.Handle("GET /quality", u.view(u.qualityPage))
	mux.Handle("GET /quality/rule", u.view(u.rulePage))
	mux.Handle("GET /healing", u.view(u.healingPage))
	mux.Handle("POST /healing/actions/{id}/{decision}", u.form(service.Operator, u.decide))
	mux.Handle("GET /performance", u.view(u.performancePage))
	mux.Handle("POST /optimization/{id}/{op}", u.form(service.Operator, u.optimization))
	mux.Handle("GET /alerts", u.view(u.alertsPage))
	mux.Handle("POST /incidents/{id}/ack", u.form(service.Operator, u.ack))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusNotFound, "There is no page at "+r.URL.Path+".")
	})
	// Forms may come from the UI's own pages only: Sec-Fetch-Site or
	// Origin says where a browser's request comes from.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.errorPage(w, r, http.StatusForbidden, "This form was sent from another site; it was refused.")
	}))
	u.mux = http.NewServeMux()
	u.mux.Handle("/", cop.Handler(mux))
}

// versioned matches the vendored files whose names carry their version.
var versioned = regexp.MustCompile(`^thirdparty/[^/]+-\d+\.\d+\.\d+\.`)

// staticHandler serves the embedded files: the vendored ones whose names
// carry their version may be cached for a year, the others for a short
// while.
func staticHandler(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") || r.URL.Path == "" {
			http.NotFound(w, r)
			return
		}
		if versioned.MatchString(r.URL.Path) {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			w.Header().Set("Cache-Control", "public, max-age=300")
		}
		files.ServeHTTP(w, r)
	})
}

// view wraps a page: the caller must be signed in (any role).
func (u *UI) view(h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return u.requireSession(service.Viewer, false, h)
}

// form wraps a form's handler: the caller must be signed in with the
// role, and the request carry the session's CSRF token. Every form sent
// is audited as the API's writes are.
func (u *UI) form(role service.Role, h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return u.requireSession(role, true, h)
}

func (u *UI) requireSession(role service.Role, write bool, h func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, err := u.session(r)
		if err != nil {
			if !errors.Is(err, service.ErrNoSession) {
				u.logger().Error("web: read the session", "err", err)
				u.errorPage(w, r, http.StatusServiceUnavailable, "Sessions cannot be read now; try again shortly.")
				return
			}
			if write {
				u.errorPage(w, r, http.StatusUnauthorized, "Your session has ended; sign in again.")
				return
			}
			http.Redirect(w, r, "/login?next="+urlQueryEscape(localPath(r.URL.RequestURI())), http.StatusSeeOther)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, sess))
		if !write {
			w.Header().Set("Cache-Control", "no-store")
			h(w, r)
			return
		}
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		refused := ""
		defer func() { u.audit(r, sess.Principal, rec.status, refused) }()
		token := r.Header.Get(csrfHeader)
		if token == "" {
			token = r.PostFormValue(csrfField)
		}
		if subtle.ConstantTimeCompare([]byte(token), []byte(sess.CSRF)) != 1 {
			refused = "missing or wrong csrf token"
			u.errorPage(rec, r, http.StatusForbidden, "This form's security token is missing or out of date; reload the page and try again.")
			return
		}
		if !sess.Principal.Role.Allows(role) {
			refused = "needs the " + string(role) + " role"
			u.errorPage(rec, r, http.StatusForbidden, "This needs the "+string(role)+" role; you are signed in as "+string(sess.Principal.Role)+".")
			return
		}
		h(rec, r)
	})
}

// session reads the request's session from its cookie.
func (u *UI) session(r *http.Request) (service.Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return service.Session{}, service.ErrNoSession
	}
	return u.Service.SessionOf(r.Context(), c.Value)
}

// audit records a form sent, as the API records its writes.
func (u *UI) audit(r *http.Request, p service.Principal, status int, refused string) {
	e := metadata.AuditEntry{At: time.Now(), Principal: p.Name, Role: string(p.Role), Method: r.Method, Path: r.URL.Path,
		Status: status, Remote: u.clientAddr(r), Detail: refused, Count: 1}
	if err := u.Service.RecordAudit(context.WithoutCancel(r.Context()), e); err != nil {
		u.logger().Warn("web: audit a form", "path", r.URL.Path, "err", err)
	}
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

// clientAddr is the client's address (UI.ClientAddr).
func (u *UI) clientAddr(r *http.Request) string {
	if u.ClientAddr != nil {
		return u.ClientAddr(r)
	}
	return remoteHost(r)
}

// remoteHost is the direct peer's address without its port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// localPath returns p when it is a path on this site ("/..."), "/"
// otherwise: a next= or a redirect never leads elsewhere.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") ||
		strings.ContainsAny(p, "\r\n\t") {
		return "/"
	}
	return p
}

// secureContext reports whether a browser keeps a Secure cookie set by
// this request: over TLS (here or at a proxy in front), or on this
// machine.
func secureContext(r *http.Request) bool {
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		return true
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if strings.EqualFold(host, "localhost") || strings.HasSuffix(strings.ToLower(host), ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil && a.IsLoopback()
}

// allowFailure counts a failed sign-in of the client address; false once
// the address has failed too often (a burst of 10, then one every 6
// seconds).
func (u *UI) allowFailure(r *http.Request) bool {
	u.failMu.Lock()
	defer u.failMu.Unlock()
	if u.failures == nil {
		u.failures = map[string]*rate.Limiter{}
	}
	if len(u.failures) > 10_000 {
		// Addresses that have their whole allowance back are forgotten.
		for k, l := range u.failures {
			if l.Tokens() >= float64(l.Burst()) {
				delete(u.failures, k)
			}
		}
	}
	host := u.clientAddr(r)
	l := u.failures[host]
	if l == nil {
		l = rate.NewLimiter(rate.Every(6*time.Second), 10)
		u.failures[host] = l
	}
	return l.Allow()
}
