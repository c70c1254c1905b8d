package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// doFrom sends a request with a key (none when "") and X-Forwarded-For
// (none when "").
func (e *env) doFrom(method, path, key, forwarded string) (int, http.Header, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, nil)
	must(e.t, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if forwarded != "" {
		req.Header.Set("X-Forwarded-For", forwarded)
	}
	resp, err := http.DefaultClient.Do(req)
	must(e.t, err)
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return resp.StatusCode, resp.Header, b.Bytes()
}

// tokens accepts one bearer token as an operator.
type tokens struct{ good string }

func (v tokens) Verify(_ context.Context, token string) (service.Principal, error) {
	if token == v.good {
		return service.Principal{Name: "oidc:ana", Role: service.Operator}, nil
	}
	return service.Principal{}, fmt.Errorf("%w: bad signature", ErrInvalidToken)
}

// TestValidKeysPassWhileTheirAddressFails: one caller sending bad keys
// from an address (a NAT, a proxy) does not lock out the valid keys and
// tokens of others behind it; the bad keys themselves are limited (issue
// 14, item 3).
func TestValidKeysPassWhileTheirAddressFails(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	e.api.Tokens = tokens{good: "a-valid-token"}
	viewer, op := e.keys[service.Viewer], e.keys[service.Operator]
	limited := 0
	for i := 0; i < 100; i++ {
		code, h, _ := e.do("GET", "/api/v1/pipelines", fmt.Sprintf("shp_%016d_guess", i), nil)
		switch {
		case code == 429:
			limited++
			if h.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		case code != 401:
			t.Fatalf("bad key %d: %d", i, code)
		}
		if i%10 == 9 {
			if code, _, body := e.do("GET", "/api/v1/pipelines", viewer, nil); code != 200 {
				t.Fatalf("a valid key after %d bad ones from its address: %d %s", i+1, code, body)
			}
			if code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", op, nil); code != 202 {
				t.Fatalf("a valid key's write after %d bad ones from its address: %d %s", i+1, code, body)
			}
			if code, _, body := e.do("GET", "/api/v1/pipelines", "a-valid-token", nil); code != 200 {
				t.Fatalf("a valid token after %d bad keys from its address: %d %s", i+1, code, body)
			}
		}
	}
	if limited < 100-failureBurst-5 {
		t.Fatalf("%d of 100 bad keys limited; want all beyond the burst of %d", limited, failureBurst)
	}
	// Bad tokens count as bad keys do; no credentials at all count for
	// nothing (they are not guesses) and are answered 401.
	if code, _, _ := e.do("GET", "/api/v1/pipelines", "a-forged-token", nil); code != 429 {
		t.Fatalf("a bad token from a limited address: %d", code)
	}
	code, h, body := e.do("GET", "/api/v1/pipelines", "", nil)
	e.problem(code, h, body, 401, ProblemUnauthorized)
}

// TestForwardedFor: X-Forwarded-For names the client only when the direct
// peer is a configured trusted proxy, and then its rightmost hop that is
// not one; a spoofed header from anyone else changes nothing, neither the
// audit log's address nor the failure limit's (issue 14, item 3).
func TestForwardedFor(t *testing.T) {
	op := func(e *env) string { return e.keys[service.Operator] }
	lastRemote := func(e *env) string {
		t.Helper()
		es, err := e.store.ListAudit(context.Background(), 1)
		must(t, err)
		if len(es) != 1 {
			t.Fatal("no audit entry")
		}
		return es[0].Remote
	}

	// No trusted proxies: the peer is the client, whatever the header.
	e := newEnv(t, metadata.KindSQLite, nil)
	if code, _, body := e.doFrom("POST", "/api/v1/pipelines/orders/run", op(e), "203.0.113.7"); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if got := lastRemote(e); got != "127.0.0.1" {
		t.Fatalf("untrusted X-Forwarded-For: audited from %q, want 127.0.0.1", got)
	}
	// Bad keys sent with a new forged address each are still counted
	// against the peer.
	var codes []int
	for i := 0; i < failureBurst+2; i++ {
		code, _, _ := e.doFrom("GET", "/api/v1/pipelines", fmt.Sprintf("shp_%016d_guess", i), fmt.Sprintf("198.51.100.%d", i))
		codes = append(codes, code)
	}
	if codes[failureBurst+1] != 429 {
		t.Fatalf("forged addresses evade the failure limit: %v", codes)
	}

	// A trusted proxy: the rightmost untrusted hop is the client.
	e = newEnv(t, metadata.KindSQLite, func(c *config.API) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	})
	if code, _, body := e.doFrom("POST", "/api/v1/pipelines/orders/run", op(e), "192.0.2.66, 203.0.113.7, 10.1.2.3"); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	if got := lastRemote(e); got != "203.0.113.7" {
		t.Fatalf("trusted X-Forwarded-For: audited from %q, want 203.0.113.7", got)
	}
	// Failures count per client behind the proxy: one client's bad keys
	// limit that client, not the next one.
	for i := 0; i < failureBurst+2; i++ {
		e.doFrom("GET", "/api/v1/pipelines", fmt.Sprintf("shp_%016d_guess", i), "203.0.113.7")
	}
	if code, _, _ := e.doFrom("GET", "/api/v1/pipelines", "shp_0000000000000000_guess", "203.0.113.7"); code != 429 {
		t.Fatalf("the failing client behind the proxy: %d, want 429", code)
	}
	if code, _, _ := e.doFrom("GET", "/api/v1/pipelines", "shp_0000000000000000_guess", "203.0.113.8"); code != 401 {
		t.Fatalf("another client behind the proxy: %d, want 401", code)
	}

	s := &Server{Config: config.API{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("2001:db8::/32")}}}
	for _, tc := range []struct {
		peer    string
		headers []string
		want    string
	}{
		{"192.0.2.1:5000", []string{"203.0.113.7"}, "192.0.2.1"},
		{"10.0.0.1:5000", nil, "10.0.0.1"},
		{"10.0.0.1:5000", []string{"203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:5000", []string{"198.51.100.1, 203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:5000", []string{"198.51.100.1", "203.0.113.7, 10.9.9.9"}, "203.0.113.7"},
		{"10.0.0.1:5000", []string{"10.2.2.2, 10.3.3.3"}, "10.2.2.2"},
		{"10.0.0.1:5000", []string{"203.0.113.7:4711"}, "203.0.113.7"},
		{"10.0.0.1:5000", []string{"[2001:db9::1]:443"}, "2001:db9::1"},
		{"10.0.0.1:5000", []string{"::ffff:203.0.113.7"}, "203.0.113.7"},
		{"10.0.0.1:5000", []string{"nonsense, 10.4.4.4"}, "10.4.4.4"},
		{"10.0.0.1:5000", []string{"203.0.113.7, nonsense"}, "10.0.0.1"},
		{"[2001:db8::5]:5000", []string{"198.51.100.9,"}, "198.51.100.9"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = tc.peer
		for _, h := range tc.headers {
			r.Header.Add("X-Forwarded-For", h)
		}
		if got := s.clientAddr(r); got != tc.want {
			t.Errorf("peer %s, X-Forwarded-For %q: client %s, want %s", tc.peer, tc.headers, got, tc.want)
		}
	}
}

// storeBytes is the size of a SQLite store's files.
func storeBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(filepath.Join(dir, "meta.db"+suffix)); err == nil {
			n += fi.Size()
		} else if !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return n
}

// TestAnonymousAuditFlood: 1,000 refused anonymous writes with 60 KB
// paths add a few aggregated entries to the audit log, not 1,000, and the
// authenticated entry before them stays in GET /audit (issue 14, item 4).
func TestAnonymousAuditFlood(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	if code, _, body := e.do("POST", "/api/v1/pipelines/orders/run", e.keys[service.Operator], nil); code != 202 {
		t.Fatalf("%d %s", code, body)
	}
	// One window: the test may take longer than a minute's rest (-race).
	at := time.Now()
	e.api.clock = func() time.Time { return at }
	before := storeBytes(t, e.dir)
	long := "/api/v1/pipelines/" + strings.Repeat("x", 60<<10) + "/run"
	started := time.Now()
	for i := 0; i < 1000; i++ {
		key := ""
		if i%2 == 1 {
			key = fmt.Sprintf("shp_%016d_guess", i)
		}
		if code, _, _ := e.do("POST", long, key, nil); code != 401 && code != 429 {
			t.Fatalf("post %d: %d", i, code)
		}
	}
	e.api.Flush(context.Background())
	grown := storeBytes(t, e.dir) - before
	t.Logf("1,000 refused anonymous posts with 60 KB paths in %s: the store grew by %d bytes", time.Since(started).Round(time.Millisecond), grown)
	// Before: 1,001 rows, 4.2 MB on disk; a count written once a second
	// costs a page of WAL.
	if grown > 512<<10 {
		t.Errorf("the store grew by %d bytes, want under 512 KiB", grown)
	}
	all, err := e.store.ListAudit(context.Background(), 0)
	must(t, err)
	total := 0
	for _, a := range all {
		if a.Principal == metadata.AnonymousPrincipal {
			total += a.Count
			if len(a.Path) > maxAuditPath+20 {
				t.Errorf("a stored path of %d bytes", len(a.Path))
			}
		}
	}
	if len(all) != 4 || total != 1000 {
		t.Fatalf("%d audit entries counting %d anonymous requests, want 4 (one authenticated) counting 1000: %+v", len(all), total, all)
	}
	var page service.Page[service.AuditView]
	e.get("/api/v1/audit?limit=1", service.Admin, &page)
	if len(page.Items) != 1 || page.Items[0].Path != "/api/v1/pipelines/orders/run" || page.Items[0].Status != 202 {
		t.Fatalf("the authenticated entry is not first in GET /audit: %+v", page)
	}
	e.get("/api/v1/audit?limit=5&anonymous=include", service.Admin, &page)
	if last := page.Items[len(page.Items)-1]; last.Status != 202 || !strings.HasPrefix(last.Principal, "key:") {
		t.Fatalf("anonymous entries push the authenticated one out: %+v", page)
	}
	e.get("/api/v1/audit?anonymous=only", service.Admin, &page)
	reasons := map[string]int{}
	for _, a := range page.Items {
		if a.Principal != "anonymous" || a.Remote != "127.0.0.1" || a.Count < 1 {
			t.Fatalf("anonymous=only: %+v", a)
		}
		reasons[a.Reason] += a.Count
	}
	if reasons["no credentials"] != 500 || reasons["invalid credentials"] < failureBurst || reasons["invalid credentials"]+reasons["too many failed authentications"] != 500 {
		t.Fatalf("counts by reason: %v", reasons)
	}
	code, h, body := e.do("GET", "/api/v1/audit?anonymous=maybe", e.keys[service.Admin], nil)
	if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "anonymous" {
		t.Fatalf("field %q", p.Field)
	}
}

// TestAnonymousAuditCap: within a window only so many addresses get an
// aggregate of their own; the rest share one from "*" (issue 14, item 4).
func TestAnonymousAuditCap(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, func(c *config.API) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
	})
	at := time.Date(2026, 12, 1, 10, 0, 30, 0, time.UTC)
	e.api.clock = func() time.Time { return at }
	for i := 0; i < anonymousPerWindow+50; i++ {
		e.doFrom("POST", "/api/v1/pipelines/orders/run", "", fmt.Sprintf("198.51.%d.%d", i/250, i%250))
	}
	e.api.Flush(context.Background())
	es, err := e.store.QueryAudit(context.Background(), metadata.AuditQuery{Callers: metadata.AuditAnonymous})
	must(t, err)
	if len(es) != anonymousPerWindow+1 || es[0].Remote != anonymousOthers || es[0].Count != 50 {
		t.Fatalf("%d anonymous entries, the newest %+v; want %d, the newest from * counting 50", len(es), es[0], anonymousPerWindow+1)
	}
	// The next window starts afresh.
	at = at.Add(anonymousWindow)
	e.doFrom("POST", "/api/v1/pipelines/orders/run", "", "198.51.0.0")
	es, err = e.store.QueryAudit(context.Background(), metadata.AuditQuery{Callers: metadata.AuditAnonymous, Limit: 1})
	must(t, err)
	if es[0].Remote != "198.51.0.0" || es[0].Count != 1 || !es[0].At.Equal(at) {
		t.Fatalf("the next window: %+v", es[0])
	}
}

// TestAuditRetention: audited writes prune entries older than
// api.audit_retention, at most once a minute (issue 14, item 4).
func TestAuditRetention(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	if e.api.Config.AuditRetention != 90*24*time.Hour {
		t.Fatalf("default retention %s, want 90 days", e.api.Config.AuditRetention)
	}
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	e.api.clock = func() time.Time { return now }
	ctx := context.Background()
	for _, age := range []time.Duration{100 * 24 * time.Hour, 91 * 24 * time.Hour, 89 * 24 * time.Hour} {
		must(t, e.store.RecordAudit(ctx, metadata.AuditEntry{At: now.Add(-age), Principal: "key:old", Role: "admin", Method: "POST",
			Path: fmt.Sprintf("/aged/%dd", age/(24*time.Hour)), Status: 201}))
	}
	must(t, e.store.RecordAudit(ctx, metadata.AuditEntry{At: now.Add(-95 * 24 * time.Hour), Principal: metadata.AnonymousPrincipal, Method: "POST", Path: "/aged/anonymous", Status: 401}))
	paths := func() []string {
		es, err := e.store.ListAudit(ctx, 0)
		must(t, err)
		var out []string
		for _, a := range es {
			out = append(out, a.Path)
		}
		return out
	}
	if code, _, _ := e.do("POST", "/api/v1/pipelines/orders/run", e.keys[service.Operator], nil); code != 202 {
		t.Fatal(code)
	}
	if got := strings.Join(paths(), " "); got != "/api/v1/pipelines/orders/run /aged/89d" {
		t.Fatalf("after a write: %s", got)
	}
	// The next prune is a minute later.
	must(t, e.store.RecordAudit(ctx, metadata.AuditEntry{At: now.Add(-100 * 24 * time.Hour), Principal: "key:old", Role: "admin", Method: "POST", Path: "/aged/again", Status: 201}))
	now = now.Add(30 * time.Second)
	e.do("POST", "/api/v1/pipelines/orders/run", e.keys[service.Operator], nil)
	if got := strings.Join(paths(), " "); !strings.Contains(got, "/aged/again") {
		t.Fatalf("pruned again within a minute: %s", got)
	}
	now = now.Add(time.Minute)
	e.do("POST", "/api/v1/pipelines/orders/run", e.keys[service.Operator], nil)
	if got := strings.Join(paths(), " "); strings.Contains(got, "/aged/again") || !strings.Contains(got, "/aged/89d") {
		t.Fatalf("a minute later: %s", got)
	}
	// Retention 0 keeps entries for ever.
	e.api.Config.AuditRetention = 0
	now = now.Add(time.Hour)
	must(t, e.store.RecordAudit(ctx, metadata.AuditEntry{At: now.Add(-1000 * 24 * time.Hour), Principal: "key:old", Role: "admin", Method: "POST", Path: "/aged/forever", Status: 201}))
	e.do("POST", "/api/v1/pipelines/orders/run", e.keys[service.Operator], nil)
	if got := strings.Join(paths(), " "); !strings.Contains(got, "/aged/forever") {
		t.Fatalf("retention 0 pruned: %v", got)
	}
}

// TestAccessLog: with an access log, one line per request with the
// method, the path (no query values), status, duration, bytes, caller
// and address, never a credential; without one, none (issue 14, item 13).
func TestAccessLog(t *testing.T) {
	var logged, other bytes.Buffer
	e := newEnv(t, metadata.KindSQLite, nil)
	e.api.Logger = slog.New(slog.NewJSONHandler(&other, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if code, _, _ := e.do("GET", "/api/v1/pipelines?page_size=2", e.keys[service.Viewer], nil); code != 200 {
		t.Fatal(code)
	}
	if strings.Contains(other.String(), `"msg":"request"`) {
		t.Fatalf("an access log line without an access log: %s", other.String())
	}

	e = newEnv(t, metadata.KindSQLite, nil)
	e.api.AccessLog = slog.New(slog.NewJSONHandler(&logged, nil))
	e.srv = httptest.NewServer(e.api.Handler())
	t.Cleanup(e.srv.Close)
	viewer := e.keys[service.Viewer]
	e.do("GET", "/api/v1/pipelines?page_size=2&api_key=s3cret-value", viewer, nil)
	e.do("POST", "/api/v1/pipelines/orders/run", "shp_0000000000000000_guess", nil)
	e.do("GET", "/api/v1/nowhere/"+strings.Repeat("y", 2000), "", nil)
	e.do("GET", "/healthz", "", nil)
	lines := strings.Split(strings.TrimSpace(logged.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), logged.String())
	}
	if strings.Contains(logged.String(), "s3cret") || strings.Contains(logged.String(), viewer) || strings.Contains(logged.String(), "guess") ||
		strings.Contains(logged.String(), "Bearer") {
		t.Fatalf("the access log holds a credential or a query value:\n%s", logged.String())
	}
	var got []map[string]any
	for _, l := range lines {
		var m map[string]any
		must(t, json.Unmarshal([]byte(l), &m))
		for _, k := range []string{"time", "level", "msg", "method", "path", "status", "duration_ms", "bytes", "caller", "remote"} {
			if _, ok := m[k]; !ok {
				t.Errorf("line without %s: %s", k, l)
			}
		}
		if m["level"] != "INFO" || m["msg"] != "request" || m["remote"] != "127.0.0.1" {
			t.Errorf("line %s", l)
		}
		got = append(got, m)
	}
	if g := got[0]; g["method"] != "GET" || g["path"] != "/api/v1/pipelines" || g["query"] != "api_key,page_size" || g["status"] != 200.0 ||
		g["bytes"].(float64) < 100 || !strings.HasPrefix(g["caller"].(string), "key:") || !strings.Contains(g["caller"].(string), "test viewer") {
		t.Errorf("an authenticated read: %v", g)
	}
	if g := got[1]; g["method"] != "POST" || g["status"] != 401.0 || g["caller"] != "anonymous" {
		t.Errorf("a refused write: %v", g)
	}
	if g := got[2]; g["status"] != 404.0 || len(g["path"].(string)) > maxAuditPath+20 {
		t.Errorf("a long unknown path: %v", g)
	}
	if g := got[3]; g["path"] != "/healthz" || g["caller"] != "anonymous" {
		t.Errorf("a public endpoint: %v", g)
	}
}
