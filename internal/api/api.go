// Package api is shp's REST API: pipelines, runs, quality, self-healing
// and monitoring (alerts, incidents, silences, notifications) under
// /api/v1, JSON in and out, errors as RFC 9457 problems, callers
// authenticated by API key or OAuth 2.0 bearer token and authorised by
// role. It calls the same service layer as the CLI.
package api

import (
	"context"
	_ "embed"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/service"
	"github.com/shp-dev/shp/internal/warehouse"
)

// OpenAPI is the API's contract, served at /api/v1/openapi.json.
//
//go:embed openapi.json
var OpenAPI []byte

// TokenVerifier checks an OAuth 2.0 bearer token and returns its caller.
type TokenVerifier interface {
	Verify(ctx context.Context, token string) (service.Principal, error)
}

// Server serves the API.
type Server struct {
	Service *service.Service
	Config  config.API
	// Tokens verifies bearer tokens that are not API keys; nil takes API
	// keys only.
	Tokens TokenVerifier
	// Ready reports whether the server can do its work (the metadata
	// store answers); /readyz says so.
	Ready func(ctx context.Context) error
	// Metrics, when set, are served on /metrics beside the API's own
	// (the pipeline metrics of internal/monitor).
	Metrics prometheus.Gatherer
	// UI, when set, serves every path that is not the API's (the web UI
	// of internal/web), behind the same access log, CORS and limits on
	// chunked bodies.
	UI     http.Handler
	Logger *slog.Logger
	// Timeout bounds a request's work; 30s when zero.
	Timeout time.Duration
	// AccessLog, when not nil, gets one Info line per request: method,
	// path, status, duration, bytes, caller and client address.
	AccessLog *slog.Logger

	// callers limits each caller's requests.
	callers limiterSet
	// failures limits failed authentications per client address: beyond
	// the limit an invalid credential is answered 429, a valid one still
	// passes.
	failures limiterSet
	// anonymous aggregates refused anonymous writes for the audit log.
	anonymous anonymousAudit
	// pruned is when the audit log was last pruned (Unix nanoseconds).
	pruned atomic.Int64
	// clock is the audit log's time; time.Now when nil.
	clock func() time.Time

	metrics *metrics
}

// route is one endpoint: its pattern and the role it needs ("" for none).
type route struct {
	method, path string
	role         service.Role
	handle       func(s *Server, w http.ResponseWriter, r *http.Request, p service.Principal)
}

// routes lists every endpoint; the OpenAPI document must list the same.
func routes() []route {
	return []route{
		{"GET", "/healthz", "", (*Server).healthz},
		{"GET", "/readyz", "", (*Server).readyz},
		{"GET", "/metrics", "", (*Server).prometheus},
		{"GET", "/api/v1/openapi.json", "", (*Server).openapi},
		{"GET", "/api/v1/pipelines", service.Viewer, (*Server).listPipelines},
		{"GET", "/api/v1/pipelines/{id}", service.Viewer, (*Server).getPipeline},
		{"GET", "/api/v1/pipelines/{id}/runs", service.Viewer, (*Server).pipelineRuns},
		{"POST", "/api/v1/pipelines/{id}/run", service.Operator, (*Server).triggerRun},
		{"GET", "/api/v1/runs", service.Viewer, (*Server).listRuns},
		{"GET", "/api/v1/runs/{id}", service.Viewer, (*Server).getRun},
		{"GET", "/api/v1/quality/metrics", service.Viewer, (*Server).qualityMetrics},
		{"GET", "/api/v1/quality/validations", service.Viewer, (*Server).validations},
		{"GET", "/api/v1/quality/rules", service.Viewer, (*Server).listRules},
		{"POST", "/api/v1/quality/rules", service.Admin, (*Server).addRules},
		{"GET", "/api/v1/healing/actions", service.Viewer, (*Server).listActions},
		{"GET", "/api/v1/healing/actions/{id}", service.Viewer, (*Server).getAction},
		{"POST", "/api/v1/healing/actions/{id}/revert", service.Operator, (*Server).revertAction},
		{"POST", "/api/v1/healing/actions/{id}/resolve", service.Operator, (*Server).resolveAction},
		{"POST", "/api/v1/healing/approve", service.Operator, (*Server).decide},
		{"GET", "/api/v1/healing/models", service.Viewer, (*Server).models},
		{"GET", "/api/v1/healing/strategies", service.Viewer, (*Server).strategies},
		{"GET", "/api/v1/lineage", service.Viewer, (*Server).lineage},
		{"GET", "/api/v1/alerts", service.Viewer, (*Server).listAlerts},
		{"GET", "/api/v1/incidents", service.Viewer, (*Server).listIncidents},
		{"GET", "/api/v1/incidents/{id}", service.Viewer, (*Server).getIncident},
		{"POST", "/api/v1/incidents/{id}/ack", service.Operator, (*Server).ackIncident},
		{"GET", "/api/v1/silences", service.Viewer, (*Server).listSilences},
		{"POST", "/api/v1/silences", service.Operator, (*Server).createSilence},
		{"DELETE", "/api/v1/silences/{id}", service.Operator, (*Server).deleteSilence},
		{"GET", "/api/v1/notifications", service.Viewer, (*Server).listNotifications},
		{"GET", "/api/v1/optimization/recommendations", service.Viewer, (*Server).listOptimizations},
		{"POST", "/api/v1/optimization/recommendations/{id}/apply", service.Operator, (*Server).applyOptimization},
		{"POST", "/api/v1/optimization/recommendations/{id}/revert", service.Operator, (*Server).revertOptimization},
		{"GET", "/api/v1/optimization/cost", service.Viewer, (*Server).costByDay},
		{"GET", "/api/v1/optimization/pricing", service.Viewer, (*Server).capacityPricing},
		{"GET", "/api/v1/apikeys", service.Admin, (*Server).listKeys},
		{"POST", "/api/v1/apikeys", service.Admin, (*Server).createKey},
		{"DELETE", "/api/v1/apikeys/{id}", service.Admin, (*Server).revokeKey},
		{"GET", "/api/v1/audit", service.Admin, (*Server).audits},
	}
}

// Handler returns the API's handler, with its middleware: CORS, metrics,
// authentication, role checks, rate limits, timeouts and the audit log.
func (s *Server) Handler() http.Handler {
	if s.metrics == nil {
		var costs func(context.Context) (map[string]warehouse.Cost, error)
		if s.Service != nil {
			costs = s.Service.WarehouseCosts
		}
		s.metrics = newMetrics(costs, s.Logger)
	}
	mux := http.NewServeMux()
	for _, rt := range routes() {
		mux.Handle(rt.method+" "+rt.path, s.endpoint(rt))
	}
	// Everything else is a problem, not net/http's text: 405 with Allow
	// for a known path, 404 otherwise.
	paths := http.NewServeMux()
	allowed := map[string][]string{}
	for _, rt := range routes() {
		if allowed[rt.path] == nil {
			paths.Handle(rt.path, http.NotFoundHandler())
		}
		allowed[rt.path] = append(allowed[rt.path], rt.method)
	}
	known := func(r *http.Request) string {
		_, pattern := paths.Handler(r)
		return pattern
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		// OPTIONS too: a preflight where CORS is configured is answered
		// before this; any other OPTIONS is a method the path lacks.
		if pattern := known(r); pattern != "" {
			w.Header().Set("Allow", strings.Join(allowed[pattern], ", "))
			writeProblem(w, r, http.StatusMethodNotAllowed, ProblemMethod, r.Method+" is not allowed on "+r.URL.Path)
			return
		}
		if s.UI != nil && r.URL.Path != "/api" && !strings.HasPrefix(r.URL.Path, "/api/") {
			s.UI.ServeHTTP(w, r)
			return
		}
		writeProblem(w, r, http.StatusNotFound, ProblemNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return closeChunked(s.accessLog(s.cors(mux, known)))
}

// closeChunked closes the connection after answering a request whose
// body came in chunks. net/http reads such a body by its chunks and drops
// any Content-Length sent with them (RFC 9112, section 6.3); a request
// with both may be an attempt to smuggle a second request past a proxy
// that went by the length, so nothing more is read from its connection.
func closeChunked(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && slices.Contains(r.TransferEncoding, "chunked") {
			w.Header().Set("Connection", "close")
		}
		next.ServeHTTP(w, r)
	})
}

// endpoint wraps a route's handler with authentication, authorisation,
// rate limiting, a timeout, metrics and, for writes, the audit log.
func (s *Server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		started := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { s.metrics.observe(rt.method, rt.path, rec.status, time.Since(started)) }()
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = 30 * time.Second
		}
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if rt.role == "" {
			rt.handle(s, rec, r, service.Principal{})
			return
		}
		var p service.Principal
		var refused string
		if rt.method != http.MethodGet {
			// Every write is audited, refused ones too.
			defer func() { s.audit(r, p, rec.status, refused) }()
		}
		if p, refused = s.authenticate(rec, r); refused != "" {
			return
		}
		noteCaller(r, p)
		// The caller's rate limit comes before its role, so that refused
		// requests count against it too.
		if !s.allow(rec, r, p) {
			return
		}
		if !p.Role.Allows(rt.role) {
			writeProblem(rec, r, http.StatusForbidden, ProblemForbidden, "this needs the "+string(rt.role)+" role; the caller has "+string(p.Role))
			return
		}
		rt.handle(s, rec, r, p)
	})
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

// Why authentication refused a request, as the audit log says.
const (
	refusedNoCredentials = "no credentials"
	refusedInvalid       = "invalid credentials"
	refusedTooMany       = "too many failed authentications"
	refusedUnavailable   = "authentication unavailable"
	refusedAmbiguous     = "more than one credential"
)

// authenticate finds the caller: an API key (Authorization: Bearer
// shp_..., or X-API-Key) or an OAuth 2.0 bearer token. When there is
// none or it is not valid it answers itself, 401 with WWW-Authenticate
// (429 when the client address has failed too often), and returns why.
//
// The credential is checked first: a valid one passes whatever its
// address's failures, so that one caller sending bad keys cannot lock out
// the others behind the same address (a NAT, a proxy). Only invalid
// credentials count against the address.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request) (service.Principal, string) {
	challenge := `Bearer realm="shp"`
	// Two credentials (Authorization and X-API-Key, or either twice)
	// would let a proxy check one and shp use the other: refused.
	if len(r.Header.Values("Authorization"))+len(r.Header.Values("X-API-Key")) > 1 {
		w.Header().Set("WWW-Authenticate", challenge)
		writeProblem(w, r, http.StatusBadRequest, ProblemInvalid, "send one credential: Authorization or X-API-Key, once")
		return service.Principal{}, refusedAmbiguous
	}
	token := r.Header.Get("X-API-Key")
	if token == "" {
		auth := r.Header.Get("Authorization")
		scheme, rest, ok := strings.Cut(auth, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimSpace(rest)
		}
	}
	if token == "" {
		w.Header().Set("WWW-Authenticate", challenge)
		writeProblem(w, r, http.StatusUnauthorized, ProblemUnauthorized, "send an API key (Authorization: Bearer shp_... or X-API-Key) or an OAuth 2.0 bearer token")
		return service.Principal{}, refusedNoCredentials
	}
	var p service.Principal
	var err error
	switch {
	case strings.HasPrefix(token, service.KeyPrefix):
		p, err = s.Service.Authenticate(r.Context(), token)
	case s.Tokens != nil:
		p, err = s.Tokens.Verify(r.Context(), token)
	default:
		err = service.ErrBadKey
	}
	switch {
	case err == nil:
		return p, ""
	case errors.Is(err, service.ErrBadKey), errors.Is(err, service.ErrKeyRevoked), errors.Is(err, service.ErrKeyExpired),
		errors.Is(err, ErrInvalidToken):
		if d := s.failed(s.clientAddr(r)); d > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
			writeProblem(w, r, http.StatusTooManyRequests, ProblemRateLimited, "too many failed authentications from this address")
			return service.Principal{}, refusedTooMany
		}
		// What was wrong, without the credential: expired, revoked,
		// wrong audience, bad signature.
		w.Header().Set("WWW-Authenticate", challenge+`, error="invalid_token"`)
		writeProblem(w, r, http.StatusUnauthorized, ProblemUnauthorized, err.Error())
		return service.Principal{}, refusedInvalid
	default:
		// The store failed, not the caller: logged, answered without its text.
		s.fail(w, r, err)
		return service.Principal{}, refusedUnavailable
	}
}

// Failed authentications a client address may make: a burst of 20, then
// one a second.
const (
	failureBurst = 20
	failureRate  = 1
)

// failed counts a failed authentication of a client address and returns
// how long the address must wait before a failure is answered 401 again:
// 0 while it is within its allowance.
func (s *Server) failed(host string) time.Duration {
	l := s.failures.get(host, func() *rate.Limiter { return rate.NewLimiter(failureRate, failureBurst) })
	if l.Allow() {
		return 0
	}
	return max(time.Duration((1-l.Tokens())/failureRate*float64(time.Second)), time.Millisecond)
}

// limiterSet keeps a rate limiter per key. Keys idle long enough to have
// their whole burst back are forgotten once it holds 10,000; they start
// afresh.
type limiterSet struct {
	mu sync.Mutex
	m  map[string]*rate.Limiter
}

// get returns the key's limiter, made by mk when it has none.
func (ls *limiterSet) get(key string, mk func() *rate.Limiter) *rate.Limiter {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if ls.m == nil {
		ls.m = map[string]*rate.Limiter{}
	}
	if len(ls.m) > 10_000 {
		for k, l := range ls.m {
			if l.Tokens() >= float64(l.Burst()) {
				delete(ls.m, k)
			}
		}
	}
	l := ls.m[key]
	if l == nil {
		l = mk()
		ls.m[key] = l
	}
	return l
}

// remoteHost is the direct peer's address without its port.
func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// clientAddr is the client's address. It is the direct peer's, unless
// that is a trusted proxy (Config.TrustedProxies): then it is the
// rightmost address of X-Forwarded-For that is not a trusted proxy's
// (each trusted proxy appends its own peer; what lies left of that was
// written by the client and proves nothing). When every hop is trusted it
// is the leftmost; a hop that is not an address ends the walk at the last
// address read.
func (s *Server) clientAddr(r *http.Request) string {
	return s.ClientAddr(r)
}

// ClientAddr is the client's address as the rate limits and the audit
// log see it (clientAddr): the web UI limits its sign-ins by it too.
func (s *Server) ClientAddr(r *http.Request) string {
	peer := remoteHost(r)
	if len(s.Config.TrustedProxies) == 0 {
		return peer
	}
	client, ok := parseHop(peer)
	if !ok || !s.trustedProxy(client) {
		return peer
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		list := hops[i]
		for list != "" {
			var hop string
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				list, hop = list[:j], list[j+1:]
			} else {
				list, hop = "", list
			}
			if strings.TrimSpace(hop) == "" {
				continue
			}
			a, ok := parseHop(hop)
			if !ok {
				return client.String()
			}
			client = a
			if !s.trustedProxy(a) {
				return a.String()
			}
		}
	}
	return client.String()
}

// trustedProxy reports whether a is one of Config.TrustedProxies.
func (s *Server) trustedProxy(a netip.Addr) bool {
	for _, p := range s.Config.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one address of X-Forwarded-For: an IP address, perhaps
// with a port or in brackets. IPv4 in IPv6 form is read as IPv4.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			a, err = netip.ParseAddr(strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"))
			if err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

// allow applies the caller's rate limit; over it, it answers 429 with
// Retry-After.
func (s *Server) allow(w http.ResponseWriter, r *http.Request, p service.Principal) bool {
	if s.Config.RateLimit <= 0 {
		return true
	}
	key := p.KeyID
	if key == "" {
		key = "token:" + p.Name
	}
	l := s.callers.get(key, func() *rate.Limiter {
		return rate.NewLimiter(rate.Limit(s.Config.RateLimit), max(s.Config.RateBurst, 1))
	})
	res := l.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
		writeProblem(w, r, http.StatusTooManyRequests, ProblemRateLimited,
			"this caller may send "+strconv.FormatFloat(s.Config.RateLimit, 'f', -1, 64)+" requests per second")
		return false
	}
	return true
}

// maxAuditPath bounds the request path an audit entry stores: the path is
// caller-supplied, anonymous callers included.
const maxAuditPath = 512

// capAuditPath cuts a path longer than maxAuditPath at a rune boundary and
// says so.
func capAuditPath(p string) string { return capText(p, maxAuditPath) }

// capText cuts s longer than n bytes at a rune boundary and says so.
func capText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "...(truncated)"
}

// cors answers preflights to the paths known names (it returns "" for
// an unknown path) and marks responses for the allowed origins. Without
// configured origins there are no preflights: OPTIONS is then a method
// no path has.
func (s *Server) cors(next http.Handler, known func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && (slices.Contains(s.Config.CORSOrigins, "*") || slices.Contains(s.Config.CORSOrigins, origin))
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Add("Vary", "Origin")
			w.Header().Set("Access-Control-Expose-Headers", "Retry-After, Location")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" && len(s.Config.CORSOrigins) > 0 && known(r) != "" {
			if !allowed {
				writeProblem(w, r, http.StatusForbidden, ProblemForbidden, "origin not allowed")
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-API-Key")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) maxBody() int64 {
	if s.Config.MaxBodyBytes > 0 {
		return s.Config.MaxBodyBytes
	}
	return config.DefaultAPIMaxBody
}

// NewHTTPServer wraps the handler in an http.Server with timeouts.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10}
}
