package apisource

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/shp-dev/shp/internal/source"
)

// memSink keeps committed chunks in memory.
type memSink struct {
	mu        sync.Mutex
	committed []*memChunk
	opened    int
}

type memChunk struct {
	sink *memSink
	buf  bytes.Buffer
	rows int64
}

func (s *memSink) Chunk(context.Context) (source.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened++
	return &memChunk{sink: s}, nil
}

func (c *memChunk) Write(p []byte) (int, error) { return c.buf.Write(p) }

func (c *memChunk) Commit(rows int64) error {
	c.rows = rows
	c.sink.mu.Lock()
	defer c.sink.mu.Unlock()
	if rows > 0 {
		c.sink.committed = append(c.sink.committed, c)
	}
	return nil
}

func (c *memChunk) Discard() {}

// records decodes every committed line.
func (s *memSink) records(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, c := range s.committed {
		for _, line := range strings.Split(strings.TrimSpace(c.buf.String()), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatalf("line %q: %v", line, err)
			}
			out = append(out, m)
		}
	}
	return out
}

func ids(recs []map[string]any) string {
	var s []string
	for _, r := range recs {
		s = append(s, fmt.Sprint(r["id"]))
	}
	return strings.Join(s, ",")
}

func newExtractor(t *testing.T, typ string, settings map[string]any) source.Extractor {
	t.Helper()
	ex, err := source.NewExtractor(context.Background(), source.Spec{Name: "api", Type: typ, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

func extract(t *testing.T, ex source.Extractor, since string) (*source.Extraction, *memSink, error) {
	t.Helper()
	sink := &memSink{}
	exn, err := ex.Extract(context.Background(), source.ExtractRequest{Since: since}, sink)
	return exn, sink, err
}

// items are 7 records; pages of the API hold 3.
var items = func() []map[string]any {
	var out []map[string]any
	for i := 1; i <= 7; i++ {
		out = append(out, map[string]any{"id": i, "updated": fmt.Sprintf("2026-01-0%dT00:00:00Z", i),
			"customer": map[string]any{"name": fmt.Sprintf("c%d", i), "address": map[string]any{"city": "Oslo"}}, "tags": []string{"a"}})
	}
	return out
}()

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// TestPaginationStyles reads the same 7 records through each style.
func TestPaginationStyles(t *testing.T) {
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		q := r.URL.Query()
		switch r.URL.Path {
		case "/page":
			// Fails now and then, and rate-limits once, as real APIs do.
			if n == 2 {
				http.Error(w, "try later", http.StatusServiceUnavailable)
				return
			}
			if n == 4 {
				w.Header().Set("Retry-After", "0")
				http.Error(w, "slow down", http.StatusTooManyRequests)
				return
			}
			p, _ := strconv.Atoi(q.Get("page"))
			size, _ := strconv.Atoi(q.Get("per_page"))
			lo := (p - 1) * size
			hi := min(lo+size, len(items))
			if lo > len(items) {
				lo = len(items)
			}
			writeJSON(w, map[string]any{"data": map[string]any{"items": items[lo:hi]}})
		case "/offset":
			off, _ := strconv.Atoi(q.Get("offset"))
			lim, _ := strconv.Atoi(q.Get("limit"))
			hi := min(off+lim, len(items))
			writeJSON(w, map[string]any{"results": items[min(off, len(items)):hi]})
		case "/cursor":
			start, _ := strconv.Atoi(q.Get("cursor"))
			hi := min(start+3, len(items))
			next := any(nil)
			if hi < len(items) {
				next = strconv.Itoa(hi)
			}
			// The cursor comes after the records.
			writeJSON(w, map[string]any{"records": items[start:hi], "meta": map[string]any{"next": next}})
		case "/link":
			start, _ := strconv.Atoi(q.Get("from"))
			hi := min(start+3, len(items))
			if hi < len(items) {
				w.Header().Set("Link", fmt.Sprintf(`</link?from=%d>; rel="next", </link?from=0>; rel="first"`, hi))
			}
			writeJSON(w, items[start:hi])
		}
	}))
	defer srv.Close()
	fast := map[string]any{"initial_interval": "1ms"}
	cases := []struct {
		name     string
		settings map[string]any
	}{
		{"page", map[string]any{"url": srv.URL + "/page", "records_path": "data.items", "retry": fast,
			"pagination": map[string]any{"type": "page", "size_param": "per_page", "size": 3.0}}},
		{"offset", map[string]any{"url": srv.URL + "/offset", "records_path": "results",
			"pagination": map[string]any{"type": "offset", "size_param": "limit", "size": 3.0}}},
		{"cursor", map[string]any{"url": srv.URL + "/cursor", "records_path": "records",
			"pagination": map[string]any{"type": "cursor", "cursor_path": "meta.next", "pages_per_chunk": 2.0}}},
		{"link", map[string]any{"url": srv.URL + "/link", "pagination": map[string]any{"type": "link"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ex := newExtractor(t, "api", c.settings)
			exn, sink, err := extract(t, ex, "")
			if err != nil {
				t.Fatal(err)
			}
			recs := sink.records(t)
			if exn.Rows != 7 || ids(recs) != "1,2,3,4,5,6,7" {
				t.Fatalf("extraction %+v: ids %s", exn, ids(recs))
			}
			if recs[0]["customer_address_city"] != "Oslo" || recs[0]["customer_name"] != "c1" {
				t.Errorf("not flattened: %v", recs[0])
			}
			if c.name == "cursor" && len(sink.committed) != 2 {
				t.Errorf("%d chunks for 3 pages of 2 per chunk", len(sink.committed))
			}
		})
	}
}

// TestIncrementalAndDiscover sends the watermark and keeps the largest;
// without flattening nested objects stay JSON.
func TestIncrementalAndDiscover(t *testing.T) {
	var gotSince []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		since := r.URL.Query().Get("updated_since")
		gotSince = append(gotSince, since)
		var out []map[string]any
		for _, it := range items {
			if it["updated"].(string) > since {
				out = append(out, it)
			}
		}
		writeJSON(w, map[string]any{"items": out, "total": 1.5})
	}))
	defer srv.Close()
	flat := false
	ex := newExtractor(t, "api", map[string]any{"url": srv.URL, "records_path": "items", "flatten": flat,
		"incremental": map[string]any{"field": "updated", "param": "updated_since", "initial": "2026-01-03T00:00:00Z"}})
	sch, err := ex.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range sch {
		got[f.Name] = f.Type
	}
	if got["id"] != "INT64" || got["customer"] != "JSON" || got["tags"] != "JSON" || got["updated"] != "STRING" {
		t.Fatalf("discovered %v", got)
	}
	exn, sink, err := extract(t, ex, "")
	if err != nil {
		t.Fatal(err)
	}
	recs := sink.records(t)
	if ids(recs) != "4,5,6,7" || exn.Watermark != "2026-01-07T00:00:00Z" || gotSince[len(gotSince)-1] != "2026-01-03T00:00:00Z" {
		t.Fatalf("incremental: ids %s watermark %q since %v", ids(recs), exn.Watermark, gotSince)
	}
	if _, ok := recs[0]["customer"].(map[string]any); !ok {
		t.Errorf("customer should stay an object: %v", recs[0])
	}
	exn, sink, err = extract(t, ex, exn.Watermark)
	if err != nil || exn.Rows != 0 || exn.Watermark != "2026-01-07T00:00:00Z" || len(sink.committed) != 0 {
		t.Fatalf("nothing new: %+v %v", exn, err)
	}
}

// TestAuth checks every authentication style against a server that wants
// it, and that secrets stay out of errors.
func TestAuth(t *testing.T) {
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		id, secret, _ := r.BasicAuth()
		if r.Form.Get("grant_type") != "client_credentials" || id != "shp" || secret != "client-s3cret" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		writeJSON(w, map[string]any{"access_token": "oauth-token", "token_type": "Bearer", "expires_in": 3600})
	}))
	defer tokenSrv.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		ok := r.Header.Get("Authorization") == "Bearer tok-s3cret" ||
			r.Header.Get("Authorization") == "Bearer oauth-token" ||
			r.Header.Get("X-Key") == "key-s3cret" || r.URL.Query().Get("api_key") == "key-s3cret" ||
			(u == "ann" && p == "pw-s3cret")
		if !ok {
			http.Error(w, "who are you?", http.StatusUnauthorized)
			return
		}
		writeJSON(w, []map[string]any{{"id": 1}})
	}))
	defer srv.Close()
	t.Setenv("SHP_T_TOKEN", "tok-s3cret")
	t.Setenv("SHP_T_KEY", "key-s3cret")
	t.Setenv("SHP_T_PW", "pw-s3cret")
	t.Setenv("SHP_T_SECRET", "client-s3cret")
	t.Setenv("SHP_T_WRONG", "wrong-s3cret")
	for _, c := range []struct {
		auth map[string]any
		ok   bool
	}{
		{map[string]any{"type": "bearer", "token_env": "SHP_T_TOKEN"}, true},
		{map[string]any{"type": "api_key", "key_env": "SHP_T_KEY", "header": "X-Key"}, true},
		{map[string]any{"type": "api_key", "key_env": "SHP_T_KEY", "query_param": "api_key"}, true},
		{map[string]any{"type": "basic", "username": "ann", "password_env": "SHP_T_PW"}, true},
		{map[string]any{"type": "oauth2", "token_url": tokenSrv.URL, "client_id": "shp", "client_secret_env": "SHP_T_SECRET"}, true},
		{map[string]any{"type": "bearer", "token_env": "SHP_T_WRONG"}, false},
		{map[string]any{"type": "api_key", "key_env": "SHP_T_WRONG", "query_param": "api_key"}, false},
	} {
		ex := newExtractor(t, "api", map[string]any{"url": srv.URL, "auth": c.auth, "retry": map[string]any{"attempts": 3.0}})
		exn, _, err := extract(t, ex, "")
		if c.ok {
			if err != nil || exn.Rows != 1 {
				t.Errorf("%v: %+v %v", c.auth, exn, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "who are you?") ||
			strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "1 attempt") {
			t.Errorf("%v: error %v (want a 401 on the first attempt, without the secret)", c.auth, err)
		}
	}
}

// TestBadResponses: malformed JSON names the page; a missing records path
// says so; an intermittent failure mid-body is retried without duplicates.
func TestBadResponses(t *testing.T) {
	var broken atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/malformed":
			p := r.URL.Query().Get("page")
			if p == "2" {
				io.WriteString(w, `{"items": [{"id": 4}, {"id": 5,]}`)
				return
			}
			writeJSON(w, map[string]any{"items": items[:3]})
		case "/nopath":
			writeJSON(w, map[string]any{"rows": items})
		case "/cut":
			// The first answer breaks off in the middle of the records.
			if broken.Add(1) == 1 {
				w.Header().Set("Content-Length", "1000")
				io.WriteString(w, `{"items": [{"id": 1}, {"id": 2}, {"id"`)
				return
			}
			writeJSON(w, map[string]any{"items": items[:3]})
		}
	}))
	defer srv.Close()
	ex := newExtractor(t, "api", map[string]any{"url": srv.URL + "/malformed", "records_path": "items",
		"pagination": map[string]any{"type": "page", "size": 3.0, "size_param": "n"}})
	if _, _, err := extract(t, ex, ""); err == nil || !strings.Contains(err.Error(), "page 2 (GET "+srv.URL+"/malformed?n=3&page=2): malformed JSON") {
		t.Errorf("malformed: %v", err)
	}
	ex = newExtractor(t, "api", map[string]any{"url": srv.URL + "/nopath", "records_path": "items"})
	if _, _, err := extract(t, ex, ""); err == nil || !strings.Contains(err.Error(), `has no "items"`) {
		t.Errorf("missing path: %v", err)
	}
	ex = newExtractor(t, "api", map[string]any{"url": srv.URL + "/cut", "records_path": "items", "retry": map[string]any{"initial_interval": "1ms"}})
	exn, sink, err := extract(t, ex, "")
	if err != nil || ids(sink.records(t)) != "1,2,3" || exn.Attempts < 2 {
		t.Errorf("cut-off response: %+v %v %s", exn, err, ids(sink.records(t)))
	}
}

// TestGraphQL pages through a connection by its pageInfo and reports the
// errors array.
func TestGraphQL(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Query     string         `json:"query"`
			Variables map[string]any `json:"variables"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		if strings.Contains(req.Query, "broken") {
			writeJSON(w, map[string]any{"data": nil, "errors": []map[string]any{{"message": `Cannot query field "broken"`}, {"message": "second"}}})
			return
		}
		start := 0
		if c, ok := req.Variables["after"].(string); ok {
			start, _ = strconv.Atoi(c)
		}
		hi := min(start+3, len(items))
		var edges []map[string]any
		for _, it := range items[start:hi] {
			edges = append(edges, map[string]any{"node": it, "cursor": "x"})
		}
		writeJSON(w, map[string]any{"data": map[string]any{"orders": map[string]any{
			"edges":    edges,
			"pageInfo": map[string]any{"hasNextPage": hi < len(items), "endCursor": strconv.Itoa(hi)},
		}}})
	}))
	defer srv.Close()
	ex := newExtractor(t, "graphql", map[string]any{"url": srv.URL, "query": "query($after: String) { orders(after: $after) { edges { node { id } } } }",
		"records_path": "data.orders.edges", "page_info_path": "data.orders.pageInfo", "cursor_variable": "after"})
	exn, sink, err := extract(t, ex, "")
	if err != nil || exn.Rows != 7 || ids(sink.records(t)) != "1,2,3,4,5,6,7" {
		t.Fatalf("graphql: %+v %v", exn, err)
	}
	bad := newExtractor(t, "graphql", map[string]any{"url": srv.URL, "query": "{ broken }", "records_path": "data.orders.nodes"})
	_, _, err = extract(t, bad, "")
	if err == nil || !strings.Contains(err.Error(), `GraphQL errors: Cannot query field "broken"; second`) || !strings.Contains(err.Error(), "1 attempt") {
		t.Fatalf("graphql errors: %v", err)
	}
}

func TestSettingsErrors(t *testing.T) {
	for _, c := range []struct {
		typ      string
		settings map[string]any
		want     string
	}{
		{"api", map[string]any{"url": "ftp://x"}, "http:// or https://"},
		{"api", map[string]any{"url": "http://x", "method": "PUT"}, `method "PUT"`},
		{"api", map[string]any{"url": "http://x", "body": map[string]any{}}, "body needs method POST"},
		{"api", map[string]any{"url": "http://x", "pagination": map[string]any{"type": "pages"}}, `pagination.type "pages"`},
		{"api", map[string]any{"url": "http://x", "pagination": map[string]any{"type": "offset"}}, "pagination.size"},
		{"api", map[string]any{"url": "http://x", "pagination": map[string]any{"type": "cursor"}}, "cursor_path"},
		{"api", map[string]any{"url": "http://x", "auth": map[string]any{"type": "magic"}}, `auth.type "magic"`},
		{"api", map[string]any{"url": "http://x", "auth": map[string]any{"type": "bearer"}}, "token_env"},
		{"api", map[string]any{"url": "http://x", "auth": map[string]any{"type": "basic", "password_env": "SHP_NOPE_NOT_SET"}}, "SHP_NOPE_NOT_SET"},
		{"api", map[string]any{"url": "http://x", "auth": map[string]any{"type": "oauth2"}}, "token_url"},
		{"api", map[string]any{"url": "http://x", "incremental": map[string]any{"field": "u"}}, "incremental needs"},
		{"api", map[string]any{"url": "http://x", "pagnation": map[string]any{}}, `unknown key "pagnation"`},
		{"graphql", map[string]any{"url": "http://x"}, "query is required"},
		{"graphql", map[string]any{"url": "http://x", "query": "{a}"}, "records_path is required"},
		{"graphql", map[string]any{"url": "http://x", "query": "{a}", "records_path": "data.a", "cursor_variable": "c"}, "go together"},
	} {
		_, err := source.NewExtractor(context.Background(), source.Spec{Name: "a", Type: c.typ, Settings: c.settings})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want %q", c.settings, err, c.want)
		}
	}
}

func TestNextLink(t *testing.T) {
	for _, c := range []struct {
		h    []string
		want string
	}{
		{[]string{`<https://a/x?p=2>; rel="next", <https://a/x?p=9>; rel="last"`}, "https://a/x?p=2"},
		{[]string{`<https://a/x?p=9>; rel="last"`, `<https://a/x?p=3>; rel="prev next"`}, "https://a/x?p=3"},
		{[]string{`garbage`}, ""},
		{nil, ""},
	} {
		if got := nextLink(c.h); got != c.want {
			t.Errorf("nextLink(%v) = %q, want %q", c.h, got, c.want)
		}
	}
}

func TestLater(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"9007199254740993", "9007199254740992", true}, // above 2^53: exact
		{"2026-01-02T03:04:05.5Z", "2026-01-02T03:04:05Z", true},
		{"2026-01-02T03:04:05Z", "2026-01-02T03:04:05.5Z", false},
		{"10", "9", true},
		{"1.5", "1.25", true},
		{"b", "a", true},
		{"", "a", false},
		{"a", "", true},
	} {
		if got := later(c.a, c.b); got != c.want {
			t.Errorf("later(%q, %q) = %v", c.a, c.b, got)
		}
	}
}

// TestPaginationEdges: a Link to another site is refused (credentials stay
// home); an empty page in the middle of a cursor walk does not end it;
// max_pages counts pages actually needed.
func TestPaginationEdges(t *testing.T) {
	t.Setenv("SHP_T_TOKEN", "tok")
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the other site was called with %q", r.Header.Get("Authorization"))
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/link":
			w.Header().Set("Link", "<"+other.URL+"/steal>; rel=\"next\"")
			writeJSON(w, items[:1])
		case "/cursor":
			switch r.URL.Query().Get("cursor") {
			case "":
				writeJSON(w, map[string]any{"records": items[:2], "next": "a"})
			case "a":
				writeJSON(w, map[string]any{"records": []any{}, "next": "b"}) // filtered out, more to come
			default:
				writeJSON(w, map[string]any{"records": items[2:3], "next": nil})
			}
		}
	}))
	defer srv.Close()
	ex := newExtractor(t, "api", map[string]any{"url": srv.URL + "/link", "pagination": map[string]any{"type": "link"},
		"auth": map[string]any{"type": "bearer", "token_env": "SHP_T_TOKEN"}})
	if _, _, err := extract(t, ex, ""); err == nil || !strings.Contains(err.Error(), "refusing to send credentials") {
		t.Fatalf("link to another site: %v", err)
	}
	ex = newExtractor(t, "api", map[string]any{"url": srv.URL + "/cursor", "records_path": "records", "max_pages": 3.0,
		"pagination": map[string]any{"type": "cursor", "cursor_path": "next"}})
	exn, sink, err := extract(t, ex, "")
	if err != nil || exn.Rows != 3 || ids(sink.records(t)) != "1,2,3" {
		t.Fatalf("cursor walk with an empty page, 3 pages of max 3: %+v %v", exn, err)
	}
	ex = newExtractor(t, "api", map[string]any{"url": srv.URL + "/cursor", "records_path": "records", "max_pages": 2.0,
		"pagination": map[string]any{"type": "cursor", "cursor_path": "next"}})
	if _, _, err := extract(t, ex, ""); err == nil || !strings.Contains(err.Error(), "max_pages") {
		t.Fatalf("max_pages 2 for 3 pages: %v", err)
	}
}
