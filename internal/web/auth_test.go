package web

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/oauth2-proxy/mockoidc"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/service"
)

// checkSessionCookie checks the attributes of a session cookie set.
func checkSessionCookie(t *testing.T, h http.Header) *http.Cookie {
	t.Helper()
	var raw string
	for _, v := range h.Values("Set-Cookie") {
		if strings.HasPrefix(v, sessionCookie+"=") {
			raw = v
		}
	}
	if raw == "" {
		t.Fatalf("no session cookie set: %v", h)
	}
	c, err := http.ParseSetCookie(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" ||
		!strings.HasPrefix(c.Value, service.SessionPrefix) {
		t.Errorf("session cookie %q", raw)
	}
	for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(raw, attr) {
			t.Errorf("session cookie %q lacks %s", raw, attr)
		}
	}
	return c
}

// TestAPIKeySignIn: a good key opens a session in a Secure, HttpOnly,
// SameSite=Strict cookie; a bad one shows the form again; signing in
// needs HTTPS or this machine; failed sign-ins are limited per address.
func TestAPIKeySignIn(t *testing.T) {
	e := newEnv(t)
	w := e.get("/login?next=/healing", "")
	if w.Code != 200 || !strings.Contains(w.Body.String(), `action="/login"`) || strings.Contains(w.Body.String(), "not reached over HTTPS") ||
		strings.Contains(w.Body.String(), "Sign in with") {
		t.Fatalf("the sign-in page: %d %s", w.Code, w.Body)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("the sign-in page may be cached: %q", w.Header().Get("Cache-Control"))
	}

	w = e.post("/login", "", url.Values{"key": {" " + e.keys[service.Operator] + "\n"}, "next": {"/healing?x=1"}})
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/healing?x=1" {
		t.Fatalf("a good key: %d %v", w.Code, w.Header())
	}
	c := checkSessionCookie(t, w.Header())
	if c.MaxAge < int(DefaultSessionTTL.Seconds())-60 || c.MaxAge > int(DefaultSessionTTL.Seconds()) ||
		c.Expires.Before(time.Now().Add(DefaultSessionTTL-time.Minute)) {
		t.Errorf("the cookie lasts %d s, until %v", c.MaxAge, c.Expires)
	}
	s, err := e.svc.SessionOf(e.ctx, c.Value)
	if err != nil || s.Principal.Role != service.Operator || s.Principal.KeyID != e.keyIDs[service.Operator] || s.CSRF == "" {
		t.Errorf("the session %+v %v", s, err)
	}
	// The cookie holds the session's token, not the key.
	if strings.Contains(w.Header().Get("Set-Cookie"), e.keys[service.Operator]) {
		t.Error("the cookie holds the API key")
	}

	for _, tc := range []struct {
		key  string
		code int
		says string
	}{
		{"shp_nope", 401, badKeyText},
		{"not-a-key", 401, "That key is not valid"},
		{e.keys[service.Viewer] + "x", 401, "That key is not valid"},
		{"", 400, "Paste an API key"},
		{"   ", 400, "Paste an API key"},
	} {
		r := e.request("POST", "/login", "", url.Values{"key": {tc.key}, "next": {"/alerts"}})
		r.RemoteAddr = "203.0.113.9:4000" // not the address the limit is tried on below
		w := e.serve(r)
		body := w.Body.String()
		if w.Code != tc.code || !strings.Contains(body, tc.says) || !strings.Contains(body, `<form class="login"`) ||
			!strings.Contains(body, `name="next" value="/alerts"`) || cookieOf(w, sessionCookie) != nil {
			t.Errorf("key %q: %d %s", tc.key, w.Code, body)
		}
		if strings.Contains(body, tc.key+"x") && tc.key != "" {
			t.Errorf("the page repeats the key")
		}
	}

	// A revoked or expired key does not sign in.
	expiring, _, err := e.svc.CreateKey(e.ctx, "short", service.Viewer, time.Hour, "test")
	e.must(err)
	revoked, rview, err := e.svc.CreateKey(e.ctx, "revoked", service.Viewer, 0, "test")
	e.must(err)
	e.must(e.svc.RevokeKey(e.ctx, rview.ID))
	e.advance(2 * time.Hour)
	// The browser hears the same as for any key that is not valid; the
	// log says which, without the key's secret.
	var log bytes.Buffer
	e.ui.Logger = slog.New(slog.NewTextHandler(&log, nil))
	defer func() { e.ui.Logger = nil }()
	for key, says := range map[string]string{expiring: "expired", revoked: "revoked"} {
		r := e.request("POST", "/login", "", url.Values{"key": {key}})
		r.RemoteAddr = "203.0.113.10:4000"
		w := e.serve(r)
		if w.Code != 401 || !strings.Contains(w.Body.String(), badKeyText) {
			t.Errorf("a key that is %s: %d %s", says, w.Code, w.Body)
		}
		if strings.Contains(text(t, w.Body.String()), "key "+says) || strings.Contains(text(t, w.Body.String()), "has been "+says) {
			t.Errorf("the page tells a key that is %s from a bad one: %s", says, w.Body)
		}
		id := keyID(key)
		_, secret, _ := strings.Cut(strings.TrimPrefix(key, service.KeyPrefix), "_")
		if l := log.String(); !strings.Contains(l, says) || !strings.Contains(l, "key_id="+id) || strings.Contains(l, secret) {
			t.Errorf("the log of a key that is %s: %s", says, l)
		}
	}
	e.advance(-2 * time.Hour)

	t.Run("secure context", func(t *testing.T) {
		for _, tc := range []struct {
			host, proto string
			tls         bool
			ok          bool
		}{
			{host: "shp.example.com"},
			{host: "shp.example.com:8080"},
			{host: "10.0.0.5:8080"},
			{host: "localhost.example.com"},
			{host: "shp.example.com", proto: "http"},
			{host: "shp.example.com", proto: "https", ok: true},
			{host: "shp.example.com", proto: "HTTPS", ok: true},
			{host: "shp.example.com", tls: true, ok: true},
			{host: "localhost", ok: true},
			{host: "localhost:8080", ok: true},
			{host: "LOCALHOST", ok: true},
			{host: "ui.localhost:8080", ok: true},
			{host: "127.0.0.1:8080", ok: true},
			{host: "127.1.2.3", ok: true},
			{host: "[::1]:8080", ok: true},
		} {
			prepare := func(r *http.Request) *http.Request {
				r.Host = tc.host
				if tc.proto != "" {
					r.Header.Set("X-Forwarded-Proto", tc.proto)
				}
				if tc.tls {
					r.TLS = &tls.ConnectionState{}
				}
				return r
			}
			w := e.serve(prepare(e.request("GET", "/login", "", nil)))
			if w.Code != 200 || strings.Contains(w.Body.String(), "not reached over HTTPS") == tc.ok {
				t.Errorf("%+v: the form warns about HTTPS: %v", tc, !tc.ok)
			}
			w = e.serve(prepare(e.request("POST", "/login", "", url.Values{"key": {e.keys[service.Viewer]}})))
			switch {
			case tc.ok && w.Code != http.StatusSeeOther:
				t.Errorf("%+v: %d %s", tc, w.Code, w.Body)
			case tc.ok:
				checkSessionCookie(t, w.Header())
			case w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), "Signing in needs HTTPS") || cookieOf(w, sessionCookie) != nil:
				t.Errorf("%+v: %d %s", tc, w.Code, w.Body)
			}
		}
	})

	t.Run("failed sign-ins are limited", func(t *testing.T) {
		try := func(addr, key string) *httptest.ResponseRecorder {
			r := e.request("POST", "/login", "", url.Values{"key": {key}})
			r.RemoteAddr = addr
			return e.serve(r)
		}
		const addr = "198.51.100.7:5555"
		for i := range 10 {
			if w := try(addr, "shp_bad"+strconv.Itoa(i)); w.Code != http.StatusUnauthorized {
				t.Fatalf("bad key %d: %d", i+1, w.Code)
			}
		}
		// The address is locked, from any port, even for a good key.
		for _, key := range []string{"shp_bad", e.keys[service.Viewer]} {
			w := try("198.51.100.7:6666", key) // the same address, another port
			if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
				!strings.Contains(w.Body.String(), "Too many failed sign-ins") || cookieOf(w, sessionCookie) != nil {
				t.Errorf("key %q after 10 bad ones: %d %v", key, w.Code, w.Header())
			}
		}
		if w := try("198.51.100.8:5555", e.keys[service.Viewer]); w.Code != http.StatusSeeOther {
			t.Errorf("another address is limited too: %d", w.Code)
		}
		if w := try("[2001:db8::1]:5555", e.keys[service.Viewer]); w.Code != http.StatusSeeOther {
			t.Errorf("an IPv6 address: %d", w.Code)
		}
		// The limiter refills: one try every 6 s.
		e.ui.failMu.Lock()
		l := e.ui.failures["198.51.100.7"]
		e.ui.failMu.Unlock()
		if l == nil || l.Burst() != 10 || l.Tokens() >= 1 {
			t.Fatalf("the limiter of the address: %+v", l)
		}
		// Each failed sign-in is audited, without the key.
		var failed int
		for _, a := range e.audits() {
			if a.Path == "/login" && a.Status == http.StatusUnauthorized && a.Principal == "" {
				failed++
				if strings.Contains(a.Reason, "shp_bad") || !strings.Contains(a.Reason, "sign-in") {
					t.Errorf("a failed sign-in's audit says %q", a.Reason)
				}
			}
		}
		if failed < 10 {
			t.Errorf("%d failed sign-ins audited, want 10 or more", failed)
		}
	})

	t.Run("behind a proxy, by the client's address", func(t *testing.T) {
		ui := &UI{Service: e.ui.Service, ClientAddr: func(r *http.Request) string { return r.Header.Get("X-Client") }}
		try := func(client, key string) int {
			r := e.request("POST", "/login", "", url.Values{"key": {key}})
			r.RemoteAddr = "10.0.0.1:443" // the proxy
			r.Header.Set("X-Client", client)
			w := httptest.NewRecorder()
			ui.ServeHTTP(w, r)
			return w.Code
		}
		for range 10 {
			try("203.0.113.9", "shp_bad")
		}
		if code := try("203.0.113.9", e.keys[service.Viewer]); code != http.StatusTooManyRequests {
			t.Errorf("the client that failed: %d", code)
		}
		if code := try("203.0.113.10", e.keys[service.Viewer]); code != http.StatusSeeOther {
			t.Errorf("another client behind the same proxy: %d", code)
		}
	})
}

// TestSessionLifetime: a session ends with its key, at its expiry, and
// when signed out.
func TestSessionLifetime(t *testing.T) {
	e := newEnv(t)
	ok := func(role service.Role) bool {
		t.Helper()
		w := e.get("/", role)
		switch w.Code {
		case 200:
			return true
		case http.StatusSeeOther:
			if !strings.HasPrefix(w.Header().Get("Location"), "/login?next=") {
				t.Errorf("sent to %q", w.Header().Get("Location"))
			}
			return false
		}
		t.Fatalf("GET / as %s: %d %s", role, w.Code, w.Body)
		return false
	}

	t.Run("a revoked key", func(t *testing.T) {
		if !ok(service.Viewer) {
			t.Fatal("no session")
		}
		e.must(e.svc.RevokeKey(e.ctx, e.keyIDs[service.Viewer]))
		if ok(service.Viewer) {
			t.Error("the session of a revoked key goes on")
		}
		if w := e.post("/logout", service.Viewer, nil); w.Code != http.StatusUnauthorized {
			t.Errorf("a form of the revoked key's session: %d", w.Code)
		}
		if !ok(service.Operator) {
			t.Error("another key's session ended")
		}
	})

	t.Run("expiry", func(t *testing.T) {
		e.ui.SessionTTL = time.Minute
		defer func() { e.ui.SessionTTL = 0 }()
		e.signIn(service.Operator)
		w := e.post("/login", "", url.Values{"key": {e.keys[service.Admin]}})
		if c := checkSessionCookie(t, w.Header()); c.MaxAge > 60 || c.MaxAge < 55 {
			t.Errorf("a cookie of a one-minute session lasts %d s", c.MaxAge)
		}
		if !ok(service.Operator) {
			t.Fatal("no session")
		}
		e.advance(59 * time.Second)
		if !ok(service.Operator) {
			t.Error("the session ended early")
		}
		e.advance(2 * time.Second)
		if ok(service.Operator) {
			t.Error("an expired session goes on")
		}
		e.advance(-61 * time.Second)
	})

	t.Run("a key that expires first", func(t *testing.T) {
		key, view, err := e.svc.CreateKey(e.ctx, "half an hour", service.Operator, 30*time.Minute, "test")
		e.must(err)
		w := e.post("/login", "", url.Values{"key": {key}})
		c := checkSessionCookie(t, w.Header())
		if c.MaxAge > 1800 || c.MaxAge < 1790 {
			t.Errorf("the session outlives its key: %d s", c.MaxAge)
		}
		e.tokens["short"] = c.Value
		if !ok("short") {
			t.Fatal("no session")
		}
		e.advance(31 * time.Minute)
		defer e.advance(-31 * time.Minute)
		if ok("short") {
			t.Errorf("the session of key %s goes on after the key expired", view.ID)
		}
	})

	t.Run("sign out", func(t *testing.T) {
		e.signIn(service.Admin)
		token := e.tokens[service.Admin]
		// Without the token, signing out is refused: a page of another
		// site cannot sign one out.
		if w := e.post("/logout", service.Admin, url.Values{csrfField: {""}}); w.Code != http.StatusForbidden || !ok(service.Admin) {
			t.Errorf("sign out without the token: %d", w.Code)
		}
		before := len(e.audits())
		w := e.post("/logout", service.Admin, nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login" {
			t.Fatalf("sign out: %d %v", w.Code, w.Header())
		}
		raw := w.Header().Get("Set-Cookie")
		c, err := http.ParseSetCookie(raw)
		if err != nil || c.Name != sessionCookie || c.Value != "" || c.MaxAge >= 0 || !c.Secure || !c.HttpOnly || c.Path != "/" {
			t.Errorf("the cookie after sign out: %q", raw)
		}
		if !strings.Contains(raw, "Max-Age=0") {
			t.Errorf("the cookie is not deleted: %q", raw)
		}
		if ok(service.Admin) {
			t.Error("the old cookie still works")
		}
		if _, err := e.svc.SessionOf(e.ctx, token); !errors.Is(err, service.ErrNoSession) {
			t.Errorf("the session after sign out: %v", err)
		}
		if as := e.audits(); len(as) != before+1 || as[0].Path != "/logout" || as[0].Status != 303 || as[0].Role != "admin" {
			t.Errorf("sign out audit %+v", as[:min(len(as), 2)])
		}
		if !ok(service.Operator) {
			t.Error("signing out ended another session")
		}
	})
}

// oidcUser is a user of the mock provider whose ID token carries an
// email and groups whatever the scopes.
type oidcUser struct {
	sub, email string
	groups     []string
}

func (u oidcUser) ID() string { return u.sub }

func (u oidcUser) Userinfo([]string) ([]byte, error) {
	return json.Marshal(map[string]any{"sub": u.sub, "email": u.email})
}

func (u oidcUser) Claims(_ []string, base *mockoidc.IDTokenClaims) (jwt.Claims, error) {
	return &oidcClaims{IDTokenClaims: base, Email: u.email, EmailVerified: u.email != "", Groups: u.groups}, nil
}

type oidcClaims struct {
	*mockoidc.IDTokenClaims
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified,omitempty"`
	Groups        []string `json:"groups,omitempty"`
}

// oidcEnv is the UI served on a loopback address, signing in through a
// mock provider.
type oidcEnv struct {
	*env
	m      *mockoidc.MockOIDC
	base   string
	client *http.Client
}

func newOIDCEnv(t *testing.T) *oidcEnv {
	t.Helper()
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Shutdown() })
	e := newEnv(t)
	srv := httptest.NewUnstartedServer(e.ui)
	base := "http://" + srv.Listener.Addr().String()
	t.Setenv("SHP_TEST_OIDC_SECRET", m.ClientSecret)
	oc := config.OIDC{Issuer: m.Issuer(), ClientID: m.ClientID, ClientSecretEnv: "SHP_TEST_OIDC_SECRET", RedirectURL: base + "/auth/callback",
		RolesClaim: "groups", RoleMap: map[string]string{"data-eng": "operator", "analysts": "viewer"}}
	login, err := NewOIDCLogin(context.Background(), oc, func(sub string, claims map[string]any) (service.Principal, error) {
		return api.ClaimsPrincipal(oc, sub, claims)
	})
	if err != nil {
		t.Fatal(err)
	}
	e.ui.OIDC = login
	srv.Start()
	t.Cleanup(srv.Close)
	return &oidcEnv{env: e, m: m, base: base,
		client: &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

// fetch GETs a URL with cookies and returns the answer and its body.
func (o *oidcEnv) fetch(u string, cookies ...*http.Cookie) (*http.Response, string) {
	o.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		o.t.Fatal(err)
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := o.client.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Request.URL.Host == strings.TrimPrefix(o.base, "http://") {
		if csp := resp.Header.Get("Content-Security-Policy"); csp != ContentSecurityPolicy {
			o.t.Errorf("GET %s: Content-Security-Policy %q", u, csp)
		}
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			checkHTML(o.t, "GET "+u, string(b))
		}
	}
	return resp, string(b)
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// start begins a sign-in: the redirect to the provider, and the flow
// cookie.
func (o *oidcEnv) start(next string) (*url.URL, *http.Cookie) {
	o.t.Helper()
	resp, body := o.fetch(o.base + "/auth/oidc?next=" + url.QueryEscape(next))
	if resp.StatusCode != http.StatusFound {
		o.t.Fatalf("start: %d %s", resp.StatusCode, body)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		o.t.Fatal(err)
	}
	flow := cookieNamed(resp, flowCookie)
	if flow == nil {
		o.t.Fatalf("no flow cookie: %v", resp.Header)
	}
	return loc, flow
}

// authorize follows the redirect to the provider, which sends the
// browser back with a code.
func (o *oidcEnv) authorize(loc *url.URL) *url.URL {
	o.t.Helper()
	resp, body := o.fetch(loc.String())
	if resp.StatusCode != http.StatusFound {
		o.t.Fatalf("the provider: %d %s", resp.StatusCode, body)
	}
	back, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		o.t.Fatal(err)
	}
	return back
}

// TestOIDCSignIn: the authorization-code flow with PKCE through a mock
// provider, and the ways it is refused.
func TestOIDCSignIn(t *testing.T) {
	o := newOIDCEnv(t)

	// The sign-in page offers the provider.
	if w := o.get("/login?next=/alerts", ""); !strings.Contains(w.Body.String(), "Sign in with 127.0.0.1") ||
		!strings.Contains(w.Body.String(), `href="/auth/oidc?next=%2falerts"`) {
		t.Errorf("the sign-in page does not offer the provider:\n%s", w.Body)
	}

	o.m.QueueUser(oidcUser{sub: "u-1", email: "ana@example.com", groups: []string{"analysts", "data-eng"}})
	loc, flow := o.start("/healing?x=1")
	q := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != o.m.AuthorizationEndpoint() {
		t.Errorf("sent to %s, want the provider's %s", loc, o.m.AuthorizationEndpoint())
	}
	for k, want := range map[string]string{"response_type": "code", "client_id": o.m.ClientID, "code_challenge_method": "S256",
		"redirect_uri": o.base + "/auth/callback"} {
		if q.Get(k) != want {
			t.Errorf("%s=%q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 20 {
			t.Errorf("%s=%q", k, q.Get(k))
		}
	}
	if !strings.Contains(" "+q.Get("scope")+" ", " openid ") {
		t.Errorf("scope %q", q.Get("scope"))
	}
	if q.Get("code_challenge") == q.Get("state") || strings.Contains(flow.Value, q.Get("code_challenge")) {
		t.Error("the challenge is not derived from a secret verifier")
	}
	if !flow.HttpOnly || !flow.Secure || flow.SameSite != http.SameSiteLaxMode || flow.Path != "/auth/" || flow.MaxAge != int(flowTTL.Seconds()) {
		t.Errorf("flow cookie %+v", flow)
	}
	if !strings.HasPrefix(flow.Value, q.Get("state")+"."+q.Get("nonce")+".") {
		t.Errorf("the flow cookie does not keep the state and nonce sent")
	}

	back := o.authorize(loc)
	if back.Path != "/auth/callback" || back.Query().Get("state") != q.Get("state") || back.Query().Get("code") == "" {
		t.Fatalf("the provider sent back to %s", back)
	}
	callback := o.base + back.RequestURI()
	resp, body := o.fetch(callback, flow)
	if resp.StatusCode != 200 {
		t.Fatalf("the callback: %d %s", resp.StatusCode, body)
	}
	if !strings.Contains(body, `<meta http-equiv="refresh" content="0;url=/healing?x=1">`) || !strings.Contains(body, `href="/healing?x=1"`) {
		t.Errorf("the continue page:\n%s", body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("the continue page may be cached")
	}
	sess := checkSessionCookie(t, resp.Header)
	if gone := cookieNamed(resp, flowCookie); gone == nil || gone.MaxAge >= 0 || gone.Value != "" {
		t.Errorf("the flow cookie is not deleted: %+v", gone)
	}
	s, err := o.svc.SessionOf(o.ctx, sess.Value)
	if err != nil || s.Principal.Name != "oidc:ana@example.com" || s.Principal.Role != service.Operator || s.Principal.KeyID != "" {
		t.Fatalf("the session %+v %v", s, err)
	}
	resp, body = o.fetch(o.base+"/", sess)
	if resp.StatusCode != 200 || !strings.Contains(body, "oidc:ana@example.com") || !strings.Contains(body, "(operator)") {
		t.Errorf("the session does not work: %d", resp.StatusCode)
	}
	// An operator of the provider may decide.
	req, _ := http.NewRequest("POST", o.base+"/incidents/inc-1/ack", strings.NewReader(url.Values{csrfField: {s.CSRF}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: sess.Value})
	if resp, err := o.client.Do(req); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Errorf("ack as the provider's operator: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}

	t.Run("a replayed callback", func(t *testing.T) {
		resp, body := o.fetch(callback, flow)
		if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "did not accept the sign-in") || cookieNamed(resp, sessionCookie) != nil {
			t.Errorf("the same code twice: %d %s", resp.StatusCode, body)
		}
	})

	t.Run("refused", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			user mockoidc.User
			// edit changes the callback's URL and the flow cookie.
			edit func(back *url.URL, flow *http.Cookie) *http.Cookie
			code int
			says string
		}{
			{name: "a wrong state", edit: func(back *url.URL, flow *http.Cookie) *http.Cookie {
				q := back.Query()
				q.Set("state", "WRONG"+q.Get("state"))
				back.RawQuery = q.Encode()
				return flow
			}, code: 400, says: "state does not match"},
			{name: "no state", edit: func(back *url.URL, flow *http.Cookie) *http.Cookie {
				q := back.Query()
				q.Del("state")
				back.RawQuery = q.Encode()
				return flow
			}, code: 400, says: "state does not match"},
			{name: "no flow cookie", edit: func(*url.URL, *http.Cookie) *http.Cookie { return nil }, code: 400, says: "expired or was started elsewhere"},
			{name: "a mangled flow cookie", edit: func(_ *url.URL, flow *http.Cookie) *http.Cookie {
				return &http.Cookie{Name: flowCookie, Value: "a.b"}
			}, code: 400, says: "expired or was started elsewhere"},
			{name: "another nonce", edit: func(_ *url.URL, flow *http.Cookie) *http.Cookie {
				p := strings.Split(flow.Value, ".")
				p[1] = "OTHERNONCE"
				return &http.Cookie{Name: flowCookie, Value: strings.Join(p, ".")}
			}, code: 401, says: "nonce"},
			{name: "another PKCE verifier", edit: func(_ *url.URL, flow *http.Cookie) *http.Cookie {
				p := strings.Split(flow.Value, ".")
				other := "x"
				if p[2][0] == 'x' {
					other = "y"
				}
				p[2] = other + p[2][1:]
				return &http.Cookie{Name: flowCookie, Value: strings.Join(p, ".")}
			}, code: 401, says: "did not accept the sign-in"},
			{name: "a code not issued", edit: func(back *url.URL, flow *http.Cookie) *http.Cookie {
				q := back.Query()
				q.Set("code", "forged")
				back.RawQuery = q.Encode()
				return flow
			}, code: 401, says: "did not accept the sign-in"},
			{name: "access denied", edit: func(back *url.URL, flow *http.Cookie) *http.Cookie {
				back.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {"<b>No</b> " + strings.Repeat("é", 200)},
					"state": {back.Query().Get("state")}}.Encode()
				return flow
			}, code: 401, says: "The provider refused the sign-in: access_denied <b>No</b>"},
			{name: "an error for another sign-in", edit: func(back *url.URL, flow *http.Cookie) *http.Cookie {
				back.RawQuery = url.Values{"error": {"access_denied"}, "error_description": {"forged text"}, "state": {"OTHER"}}.Encode()
				return flow
			}, code: 400, says: "state does not match"},
			{name: "no role", user: oidcUser{sub: "u-2", email: "bob@example.com", groups: []string{"marketing"}},
				code: 403, says: "Signed in at the provider, but"},
			{name: "no groups at all", user: oidcUser{sub: "u-3"}, code: 403, says: `claim "groups"`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if tc.user != nil {
					o.m.QueueUser(tc.user)
				}
				loc, flow := o.start("/")
				back := o.authorize(loc)
				if tc.edit != nil {
					flow = tc.edit(back, flow)
				}
				var cookies []*http.Cookie
				if flow != nil {
					cookies = append(cookies, flow)
				}
				resp, body := o.fetch(o.base+back.RequestURI(), cookies...)
				if resp.StatusCode != tc.code || !strings.Contains(text(t, body), tc.says) {
					t.Errorf("%d %s, want %d saying %q", resp.StatusCode, text(t, body), tc.code, tc.says)
				}
				if cookieNamed(resp, sessionCookie) != nil {
					t.Error("a session was opened")
				}
				if !strings.Contains(body, `<form class="login"`) {
					t.Error("the sign-in form is not shown again")
				}
				if gone := cookieNamed(resp, flowCookie); gone == nil || gone.MaxAge >= 0 {
					t.Errorf("the flow cookie is kept: %+v", gone)
				}
			})
		}
	})

	t.Run("next", func(t *testing.T) {
		for next, want := range map[string]string{"//evil.example": "/", "https://evil.example/": "/", `/\evil.example`: "/",
			"/runs/run-2": "/runs/run-2", "/static/app.css": "/static/app.css",
			"/quality/rule?pipeline=orders&rule=a.b(c)": "/quality/rule?pipeline=orders&amp;rule=a.b(c)"} {
			o.m.QueueUser(oidcUser{sub: "u-1", email: "ana@example.com", groups: []string{"analysts"}})
			loc, flow := o.start(next)
			back := o.authorize(loc)
			resp, body := o.fetch(o.base+back.RequestURI(), flow)
			if resp.StatusCode != 200 || !strings.Contains(body, `content="0;url=`+want+`"`) {
				t.Errorf("next=%q: %d %s", next, resp.StatusCode, body)
			}
		}
	})
}

// TestOIDCConfiguration: without a provider the routes are not there; a
// provider that cannot be configured is an error at start.
func TestOIDCConfiguration(t *testing.T) {
	e := newEnv(t)
	for _, path := range []string{"/auth/oidc?next=/", "/auth/callback?code=x&state=y"} {
		if w := e.get(path, ""); w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "not configured") {
			t.Errorf("%s without a provider: %d %s", path, w.Code, w.Body)
		}
	}
	m, err := mockoidc.Run()
	if err != nil {
		t.Fatal(err)
	}
	defer m.Shutdown()
	ctx := context.Background()
	none := httptest.NewServer(http.NotFoundHandler())
	defer none.Close()
	t.Setenv("SHP_TEST_EMPTY", "")
	t.Setenv("SHP_TEST_SECRET", "s3cret")
	principal := func(string, map[string]any) (service.Principal, error) {
		return service.Principal{}, errors.New("unused")
	}
	for _, tc := range []struct {
		name string
		cfg  config.OIDC
		err  string
	}{
		{"no redirect", config.OIDC{Issuer: m.Issuer(), ClientID: "c"}, "redirect_url"},
		{"no discovery", config.OIDC{Issuer: none.URL, ClientID: "c", RedirectURL: "http://localhost/auth/callback"}, "issuer"},
		{"an empty secret", config.OIDC{Issuer: m.Issuer(), ClientID: "c", ClientSecretEnv: "SHP_TEST_EMPTY",
			RedirectURL: "http://localhost/auth/callback"}, "SHP_TEST_EMPTY"},
	} {
		if _, err := NewOIDCLogin(ctx, tc.cfg, principal); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v, want an error about %s", tc.name, err, tc.err)
		}
	}
	// The client is the audience when no client id is given; a public
	// client has no secret.
	l, err := NewOIDCLogin(ctx, config.OIDC{Issuer: m.Issuer(), Audience: "aud", RedirectURL: "http://localhost/auth/callback"}, principal)
	if err != nil || l.oauth.ClientID != "aud" || l.oauth.ClientSecret != "" || l.Name != "127.0.0.1" {
		t.Errorf("a public client: %+v %v", l, err)
	}
	l, err = NewOIDCLogin(ctx, config.OIDC{Issuer: m.Issuer(), ClientID: "web", Audience: "aud", ClientSecretEnv: "SHP_TEST_SECRET",
		RedirectURL: "http://localhost/auth/callback"}, principal)
	if err != nil || l.oauth.ClientID != "web" || l.oauth.ClientSecret != "s3cret" {
		t.Errorf("a confidential client: %+v %v", l, err)
	}
}
