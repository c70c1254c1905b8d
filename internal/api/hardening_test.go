package api

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// TestStrictJSONBodies: every route that takes a body refuses data after
// its JSON value and keys given twice, in any case and at any depth,
// naming the key (issue 14, item 8).
func TestStrictJSONBodies(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	op, admin := e.keys[service.Operator], e.keys[service.Admin]
	type bodyRoute struct {
		path, key string
		// valid is a body the route reads; obj is an object member
		// (without braces) that the cases repeat, and nested an object
		// member whose object holds "day".
		valid, member, dup, nested string
	}
	routesWithBodies := map[string]bodyRoute{
		"POST /api/v1/pipelines/{id}/run": {"/api/v1/pipelines/orders/run", op,
			`{"parameters": {"day": "2026-11-27"}}`, `"parameters": {}`, "parameters", `"parameters": {"day": "a", "DAY": "b"}`},
		"POST /api/v1/quality/rules": {"/api/v1/quality/rules", admin,
			`{"pipeline": "orders", "rule": {"expectation": "expect_column_values_to_not_be_null", "kwargs": {"column": "id"}}}`,
			`"pipeline": "orders"`, "pipeline", `"rule": {"expectation": "x", "kwargs": {"day": 1, "day": 2}}`},
		"POST /api/v1/healing/actions/{id}/revert": {"/api/v1/healing/actions/1/revert", op,
			`{"reason": "wrong"}`, `"reason": "wrong"`, "reason", `"category": "config_error", "x": {"day": 1, "Day": 2}`},
		"POST /api/v1/healing/actions/{id}/resolve": {"/api/v1/healing/actions/1/resolve", op,
			`{"choice": "day/month/year", "reason": "r"}`, `"choice": "day/month/year"`, "choice", `"x": [{"day": 1, "dAy": 2}]`},
		"POST /api/v1/healing/approve": {"/api/v1/healing/approve", op,
			`{"action_id": 2, "decision": "approve"}`, `"decision": "approve"`, "decision", `"x": {"a": {"day": 1, "day": 2}}`},
		"POST /api/v1/apikeys": {"/api/v1/apikeys", admin,
			`{"name": "ci", "role": "viewer"}`, `"role": "viewer"`, "role", `"name": "ci", "q": {"day": 1, "DaY": 2}`},
		"POST /api/v1/incidents/{id}/ack": {"/api/v1/incidents/inc-20261106-020000-a1b2c3/ack", op,
			`{"comment": "on it"}`, `"comment": "on it"`, "comment", `"x": {"day": 1, "Day": 2}`},
		"POST /api/v1/optimization/recommendations/{id}/apply": {"/api/v1/optimization/recommendations/1/apply", op,
			`{"reason": "faster"}`, `"reason": "faster"`, "reason", `"x": {"day": 1, "Day": 2}`},
		"POST /api/v1/optimization/recommendations/{id}/revert": {"/api/v1/optimization/recommendations/1/revert", op,
			`{"reason": "slower"}`, `"reason": "slower"`, "reason", `"x": {"day": 1, "Day": 2}`},
		"POST /api/v1/silences": {"/api/v1/silences", op,
			`{"matchers": ["pipeline=\"orders\""], "duration": "2h", "comment": "maintenance"}`, `"duration": "2h"`, "duration",
			`"x": [{"day": 1, "dAy": 2}]`},
	}
	for _, rt := range routes() {
		if rt.method == http.MethodPost {
			if _, ok := routesWithBodies[rt.method+" "+rt.path]; !ok {
				t.Errorf("%s %s takes a body and is not in this test", rt.method, rt.path)
			}
		}
	}
	for name, rt := range routesWithBodies {
		t.Run(name, func(t *testing.T) {
			e := e.in(t)
			upper := strings.ToUpper(rt.dup[:1]) + rt.dup[1:]
			for _, tc := range []struct {
				name, body, detail string
			}{
				{"closing brace after the value", rt.valid + "}", "after"},
				{"two values", rt.valid + " " + rt.valid, "after"},
				{"a second value after a newline", rt.valid + "\n{}", "after"},
				{"garbage after the value", rt.valid + " x", "after"},
				{"a key twice", "{" + rt.member + ", " + rt.member + "}", `"` + rt.dup + `"`},
				{"a key twice in another case", "{" + rt.member + ", " + strings.Replace(rt.member, `"`+rt.dup+`"`, `"`+upper+`"`, 1) + "}", `"` + upper + `"`},
				{"a nested key twice", "{" + rt.nested + "}", `"day"`},
			} {
				code, h, body := e.do("POST", rt.path, rt.key, tc.body)
				p := e.problem(code, h, body, 400, ProblemMalformed)
				if !strings.Contains(p.Detail, tc.detail) {
					t.Errorf("%s: detail %q does not name %s", tc.name, p.Detail, tc.detail)
				}
			}
			// The route's valid body is not refused as malformed.
			if code, _, body := e.do("POST", rt.path, rt.key, rt.valid); code == 400 && strings.Contains(string(body), ProblemMalformed) {
				t.Errorf("valid body refused: %s", body)
			}
		})
	}
	// The key named twice was not applied either way.
	code, _, body := e.do("POST", "/api/v1/apikeys", admin, `{"name": "x", "role": "viewer", "Role": "admin"}`)
	if code != 400 || !strings.Contains(string(body), `\"Role\"`) {
		t.Fatalf("a differently-cased role: %d %s", code, body)
	}
}

// rawExchange sends a raw HTTP/1.1 request to the test server and
// returns the response and whether the server closed the connection
// after it.
func rawExchange(t *testing.T, e *env, request string) (*http.Response, []byte, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", e.srv.Listener.Addr().String())
	must(t, err)
	defer conn.Close()
	must(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	if _, err := io.WriteString(conn, request); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A closed connection reads EOF; an open one times out.
	must(t, conn.SetReadDeadline(time.Now().Add(500*time.Millisecond)))
	_, err = br.ReadByte()
	return resp, body, err == io.EOF
}

// TestContentLengthAndChunked: a request with both Content-Length and
// Transfer-Encoding is read by its chunks alone (net/http drops the
// Content-Length) and its connection is closed after the answer, so
// nothing after the chunks is read as another request; an empty chunked
// body triggers a run as an empty body does (issue 14, item 10).
func TestContentLengthAndChunked(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	op := e.keys[service.Operator]
	head := "POST /api/v1/pipelines/orders/run HTTP/1.1\r\nHost: shp\r\nAuthorization: Bearer " + op + "\r\nContent-Type: application/json\r\n"
	for _, tc := range []struct{ name, headers, body, want string }{
		{"length first", "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n", "0\r\n\r\n", "ordersmap[]"},
		{"chunked first", "Transfer-Encoding: chunked\r\nContent-Length: 0\r\n", "2\r\n{}\r\n0\r\n\r\n", "ordersmap[]"},
		{"a smuggled request", "Content-Length: 200\r\nTransfer-Encoding: chunked\r\n",
			"0\r\n\r\nPOST /api/v1/pipelines/events/run HTTP/1.1\r\nHost: shp\r\nAuthorization: Bearer " + op + "\r\nContent-Length: 0\r\n\r\n", "ordersmap[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.trigger)
			resp, body, closed := rawExchange(t, e, head+tc.headers+"\r\n"+tc.body)
			if resp.StatusCode != 202 || !closed || !resp.Close {
				t.Fatalf("want 202 and a closed connection, got %d (closed %v) %v %s", resp.StatusCode, closed, resp.Header, body)
			}
			// Give a smuggled request time to be served, were it read.
			time.Sleep(50 * time.Millisecond)
			if got := e.trigger[before:]; len(got) != 1 || got[0] != tc.want {
				t.Fatalf("runs triggered: %v, want only %s", got, tc.want)
			}
		})
	}
	// A chunked request with a bad body is refused, and closed too.
	resp, body, closed := rawExchange(t, e, head+"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{}}\r\n0\r\n\r\n")
	if resp.StatusCode != 400 || !closed {
		t.Fatalf("a bad chunked body: %d (closed %v) %s", resp.StatusCode, closed, body)
	}
	for _, tc := range []struct{ name, body, want string }{
		{"empty chunked body", "0\r\n\r\n", "ordersmap[]"},
		{"chunked body", "1c\r\n{\"parameters\": {\"day\": \"x\"}}\r\n0\r\n\r\n", "ordersmap[day:x]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(e.trigger)
			resp, body, _ := rawExchange(t, e, head+"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"+tc.body)
			if resp.StatusCode != 202 || len(e.trigger) != before+1 || e.trigger[before] != tc.want {
				t.Fatalf("want 202 and a run (%s), got %d %s %v", tc.want, resp.StatusCode, body, e.trigger[before:])
			}
		})
	}
	// Content-Length: 0 and no body at all work alike.
	for _, h := range []string{"Content-Length: 0\r\n", ""} {
		if resp, body, _ := rawExchange(t, e, head+h+"Connection: close\r\n\r\n"); resp.StatusCode != 202 {
			t.Fatalf("%q: %d %s", h, resp.StatusCode, body)
		}
	}
}

// in is the env with its failures reported to t, a subtest.
func (e *env) in(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

// TestUnknownFilterValues: every enumerable filter of every listing
// answers 400 naming the filter for a value it does not know (issue 14,
// item 12).
func TestUnknownFilterValues(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	v := e.keys[service.Viewer]
	filters := map[string][]string{
		"/api/v1/pipelines":             {"status", "source_type"},
		"/api/v1/pipelines/orders/runs": {"status"},
		"/api/v1/runs":                  {"status", "pipeline"},
		"/api/v1/healing/actions":       {"status", "category", "pipeline"},
		"/api/v1/quality/validations":   {"pipeline"},
		"/api/v1/quality/metrics":       {"pipeline"},
		"/api/v1/quality/rules":         {"pipeline"},
		"/api/v1/alerts":                {"state", "pipeline"},
		"/api/v1/incidents":             {"state"},
		"/api/v1/notifications":         {"status"},
	}
	for path, names := range filters {
		for _, name := range names {
			t.Run(path+"?"+name, func(t *testing.T) {
				e := e.in(t)
				code, h, body := e.do("GET", path+"?"+name+"=nonesuch", v, nil)
				if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != name || !strings.Contains(p.Detail, "nonesuch") {
					t.Errorf("field %q, detail %q", p.Field, p.Detail)
				}
			})
		}
	}
	// Known values still filter.
	for _, ok := range []string{"/api/v1/pipelines?source_type=api", "/api/v1/runs?pipeline=orders&status=held",
		"/api/v1/healing/actions?pipeline=events", "/api/v1/quality/rules?pipeline=items"} {
		if code, _, body := e.do("GET", ok, v, nil); code != 200 {
			t.Errorf("%s: %d %s", ok, code, body)
		}
	}
}

// TestOptions: OPTIONS on a known path answers 405 with Allow, or the
// CORS preflight where CORS is configured; never 404 (issue 14, item 12).
func TestOptions(t *testing.T) {
	options := func(e *env, path string, preflight bool) (int, http.Header, []byte) {
		req, _ := http.NewRequest("OPTIONS", e.srv.URL+path, nil)
		if preflight {
			req.Header.Set("Origin", "https://ui.example.com")
			req.Header.Set("Access-Control-Request-Method", "POST")
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, b
	}
	withCORS := newEnv(t, metadata.KindSQLite, nil)
	noCORS := newEnv(t, metadata.KindSQLite, func(c *config.API) { c.CORSOrigins = nil })
	for _, e := range []*env{withCORS, noCORS} {
		for path, allow := range map[string]string{"/api/v1/pipelines": "GET", "/api/v1/apikeys": "GET, POST",
			"/api/v1/healing/actions/3/revert": "POST", "/healthz": "GET"} {
			code, h, body := options(e, path, false)
			e.problem(code, h, body, 405, ProblemMethod)
			if h.Get("Allow") != allow {
				t.Errorf("OPTIONS %s: Allow %q, want %q", path, h.Get("Allow"), allow)
			}
		}
		code, h, body := options(e, "/api/v1/nowhere", false)
		e.problem(code, h, body, 404, ProblemNotFound)
		code, h, body = options(e, "/api/v1/nowhere", true)
		e.problem(code, h, body, 404, ProblemNotFound)
	}
	code, h, _ := options(withCORS, "/api/v1/apikeys", true)
	if code != 204 || h.Get("Access-Control-Allow-Origin") != "https://ui.example.com" || h.Get("Access-Control-Allow-Methods") == "" {
		t.Fatalf("preflight with CORS: %d %v", code, h)
	}
	code, h, body := options(noCORS, "/api/v1/apikeys", true)
	e := noCORS
	e.problem(code, h, body, 405, ProblemMethod)
	if h.Get("Allow") != "GET, POST" || h.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("preflight without CORS: %v", h)
	}
}
