// Package apisource extracts records from REST APIs (type api) and GraphQL
// APIs (type graphql) into JSON Lines chunks. Responses are read as
// streams: one record at a time reaches memory, whatever the page size.
//
// REST pagination follows a page number, an offset and limit, a cursor
// found in the response body, or the Link header's rel="next"; GraphQL
// pagination follows pageInfo { hasNextPage endCursor }. Incremental
// extraction passes the last watermark in a query parameter (a body key
// for POST, a variable for GraphQL) and keeps the largest value of the
// watermark field of the records as the next one.
package apisource

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/redact"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
)

func init() {
	source.RegisterExtractor("api", func(ctx context.Context, s source.Spec) (source.Extractor, error) {
		return open(ctx, s, false)
	})
	source.RegisterExtractor("graphql", func(ctx context.Context, s source.Spec) (source.Extractor, error) {
		return open(ctx, s, true)
	})
}

// Config is an API source's settings in sources.yaml.
type Config struct {
	URL         string            `json:"url"`
	Method      string            `json:"method"`
	Headers     map[string]string `json:"headers"`
	Params      map[string]any    `json:"params"`
	Body        map[string]any    `json:"body"`
	RecordsPath string            `json:"records_path"`
	Pagination  Pagination        `json:"pagination"`
	Auth        Auth              `json:"auth"`
	Incremental *Incremental      `json:"incremental"`
	// Flatten turns nested objects into parent_child columns (the
	// default); false keeps them as JSON columns.
	Flatten   *bool           `json:"flatten"`
	Retry     source.Retry    `json:"retry"`
	RateLimit float64         `json:"rate_limit"`
	Timeout   source.Duration `json:"timeout"`
	MaxPages  int             `json:"max_pages"`
	// GraphQL.
	Query          string         `json:"query"`
	Variables      map[string]any `json:"variables"`
	PageInfoPath   string         `json:"page_info_path"`
	CursorVariable string         `json:"cursor_variable"`
}

// Pagination says how to get the next page.
type Pagination struct {
	// Type is none (the default), page, offset, cursor or link.
	Type        string `json:"type"`
	PageParam   string `json:"page_param"`   // page: the page number's parameter (default "page")
	Start       *int   `json:"start"`        // page: the first page number (default 1)
	SizeParam   string `json:"size_param"`   // page and offset: the page size's parameter
	Size        int    `json:"size"`         // the page size to ask for; a shorter page is the last
	OffsetParam string `json:"offset_param"` // offset: default "offset"
	CursorParam string `json:"cursor_param"` // cursor: the parameter sent (default "cursor")
	CursorPath  string `json:"cursor_path"`  // cursor: where the next cursor is in the body
	// PagesPerChunk pages go into one chunk (default 100); a chunk is
	// the unit that is retried when a response breaks off.
	PagesPerChunk int `json:"pages_per_chunk"`
}

// Auth is how requests authenticate. Secrets come from the environment
// or files, never from sources.yaml itself.
type Auth struct {
	// Type is none, bearer, api_key, basic or oauth2 (client credentials).
	Type             string   `json:"type"`
	TokenEnv         string   `json:"token_env"`
	TokenFile        string   `json:"token_file"`
	Header           string   `json:"header"`      // api_key: the header (default X-API-Key)
	QueryParam       string   `json:"query_param"` // api_key: a query parameter instead of a header
	KeyEnv           string   `json:"key_env"`
	KeyFile          string   `json:"key_file"`
	Username         string   `json:"username"`
	PasswordEnv      string   `json:"password_env"`
	PasswordFile     string   `json:"password_file"`
	TokenURL         string   `json:"token_url"`
	ClientID         string   `json:"client_id"`
	ClientSecretEnv  string   `json:"client_secret_env"`
	ClientSecretFile string   `json:"client_secret_file"`
	Scopes           []string `json:"scopes"`
}

// Incremental extraction by a field of the records.
type Incremental struct {
	Field   string `json:"field"`   // the watermark's dotted path in a record
	Param   string `json:"param"`   // the parameter (body key, GraphQL variable) it is sent in
	Initial string `json:"initial"` // the first watermark; empty sends none
}

type extractor struct {
	name    string
	cfg     Config
	graphql bool
	client  *http.Client
	auth    func(*http.Request) // adds credentials
	// red masks the source's secrets (its URL's, its params', its
	// headers', its credentials) in every error and description.
	red    *redact.Redactor
	caller *resilience.Caller
}

func open(ctx context.Context, s source.Spec, graphql bool) (*extractor, error) {
	var cfg Config
	if err := source.Decode(s, &cfg); err != nil {
		return nil, err
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url %q must be an http:// or https:// URL", cfg.URL)
	}
	x := &extractor{name: s.Name, cfg: cfg, graphql: graphql, client: &http.Client{}, red: source.Redactor(s)}
	if graphql {
		if cfg.Query == "" {
			return nil, fmt.Errorf("query is required")
		}
		if cfg.RecordsPath == "" {
			return nil, fmt.Errorf("records_path is required, e.g. data.orders.nodes")
		}
		if (cfg.PageInfoPath == "") != (cfg.CursorVariable == "") {
			return nil, fmt.Errorf("page_info_path and cursor_variable go together")
		}
		x.cfg.Method = http.MethodPost
	} else {
		switch strings.ToUpper(cfg.Method) {
		case "", http.MethodGet:
			x.cfg.Method = http.MethodGet
			if cfg.Body != nil {
				return nil, fmt.Errorf("body needs method POST")
			}
		case http.MethodPost:
			x.cfg.Method = http.MethodPost
		default:
			return nil, fmt.Errorf("method %q is not supported (GET, POST)", cfg.Method)
		}
		p := &x.cfg.Pagination
		switch p.Type {
		case "", "none", "link":
		case "page":
			if p.PageParam == "" {
				p.PageParam = "page"
			}
		case "offset":
			if p.OffsetParam == "" {
				p.OffsetParam = "offset"
			}
			if p.Size <= 0 {
				return nil, fmt.Errorf("pagination.size is required for offset pagination")
			}
		case "cursor":
			if p.CursorParam == "" {
				p.CursorParam = "cursor"
			}
			if p.CursorPath == "" {
				return nil, fmt.Errorf("pagination.cursor_path is required for cursor pagination")
			}
		default:
			return nil, fmt.Errorf("pagination.type %q is unknown (none, page, offset, cursor, link)", p.Type)
		}
	}
	if x.cfg.Pagination.PagesPerChunk <= 0 {
		x.cfg.Pagination.PagesPerChunk = 100
	}
	if x.cfg.MaxPages <= 0 {
		x.cfg.MaxPages = 100000
	}
	if cfg.Incremental != nil && (cfg.Incremental.Field == "" || cfg.Incremental.Param == "") {
		return nil, fmt.Errorf("incremental needs field (in the records) and param (to send the watermark in)")
	}
	if err := x.setupAuth(ctx); err != nil {
		return nil, err
	}
	// The timeout bounds a whole request, body included, on the client:
	// a per-attempt context would end before the body is read.
	policy, err := cfg.Retry.Policy(cfg.RateLimit, 0)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout > 0 {
		x.client.Timeout = time.Duration(cfg.Timeout)
	}
	x.caller = resilience.New("source "+s.Name, policy)
	return x, nil
}

func (x *extractor) setupAuth(ctx context.Context) error {
	a := x.cfg.Auth
	x.auth = func(*http.Request) {}
	switch a.Type {
	case "", "none":
	case "bearer":
		tok, err := source.Secret("auth token", a.TokenEnv, a.TokenFile)
		if err != nil {
			return err
		}
		if tok == "" {
			return fmt.Errorf("auth.token_env or auth.token_file is required for bearer auth")
		}
		x.red = x.red.WithSecrets(tok)
		x.auth = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	case "api_key":
		key, err := source.Secret("api key", a.KeyEnv, a.KeyFile)
		if err != nil {
			return err
		}
		if key == "" {
			return fmt.Errorf("auth.key_env or auth.key_file is required for api_key auth")
		}
		x.red = x.red.WithSecrets(key)
		if a.QueryParam != "" {
			x.red = x.red.WithParams(a.QueryParam)
			x.auth = func(r *http.Request) {
				q := r.URL.Query()
				q.Set(a.QueryParam, key)
				r.URL.RawQuery = q.Encode()
			}
		} else {
			h := a.Header
			if h == "" {
				h = "X-API-Key"
			}
			x.auth = func(r *http.Request) { r.Header.Set(h, key) }
		}
	case "basic":
		pw, err := source.Secret("auth password", a.PasswordEnv, a.PasswordFile)
		if err != nil {
			return err
		}
		if a.Username == "" {
			return fmt.Errorf("auth.username is required for basic auth")
		}
		x.red = x.red.WithSecrets(pw, base64.StdEncoding.EncodeToString([]byte(a.Username+":"+pw)))
		x.auth = func(r *http.Request) { r.SetBasicAuth(a.Username, pw) }
	case "oauth2":
		secret, err := source.Secret("auth client secret", a.ClientSecretEnv, a.ClientSecretFile)
		if err != nil {
			return err
		}
		if a.TokenURL == "" || a.ClientID == "" {
			return fmt.Errorf("auth.token_url and auth.client_id are required for oauth2")
		}
		x.red = x.red.WithSecrets(secret)
		cc := clientcredentials.Config{ClientID: a.ClientID, ClientSecret: secret, TokenURL: a.TokenURL, Scopes: a.Scopes}
		x.client = cc.Client(context.WithoutCancel(ctx))
	default:
		return fmt.Errorf("auth.type %q is unknown (none, bearer, api_key, basic, oauth2)", a.Type)
	}
	return nil
}

func (x *extractor) Format() format.Format { return format.JSONL }

func (x *extractor) Close() error {
	x.client.CloseIdleConnections()
	return nil
}

// pageState is where pagination stands.
type pageState struct {
	n      int    // pages read
	page   int    // page pagination
	offset int    // offset pagination
	cursor string // cursor pagination, GraphQL
	next   string // link pagination: the next URL
	done   bool
}

func (x *extractor) startState() pageState {
	st := pageState{page: 1}
	if x.cfg.Pagination.Start != nil {
		st.page = *x.cfg.Pagination.Start
	}
	return st
}

// request builds the request of the page at st.
func (x *extractor) request(ctx context.Context, st pageState, since string) (*http.Request, error) {
	raw := x.cfg.URL
	if st.next != "" {
		raw = st.next
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("next page URL %q: %w", raw, err)
	}
	q := u.Query()
	var body any
	if x.graphql {
		vars := map[string]any{}
		for k, v := range x.cfg.Variables {
			vars[k] = v
		}
		if x.cfg.CursorVariable != "" && st.cursor != "" {
			vars[x.cfg.CursorVariable] = st.cursor
		}
		if inc := x.cfg.Incremental; inc != nil && since != "" {
			vars[inc.Param] = since
		}
		body = map[string]any{"query": x.cfg.Query, "variables": vars}
	} else {
		if st.next == "" {
			for k, v := range x.cfg.Params {
				q.Set(k, fmt.Sprint(v))
			}
			p := x.cfg.Pagination
			switch p.Type {
			case "page":
				q.Set(p.PageParam, strconv.Itoa(st.page))
			case "offset":
				q.Set(p.OffsetParam, strconv.Itoa(st.offset))
			case "cursor":
				if st.cursor != "" {
					q.Set(p.CursorParam, st.cursor)
				}
			}
			if p.SizeParam != "" && p.Size > 0 {
				q.Set(p.SizeParam, strconv.Itoa(p.Size))
			}
		}
		if x.cfg.Method == http.MethodPost {
			b := map[string]any{}
			for k, v := range x.cfg.Body {
				b[k] = v
			}
			if inc := x.cfg.Incremental; inc != nil && since != "" {
				b[inc.Param] = since
			}
			body = b
		} else if inc := x.cfg.Incremental; inc != nil && since != "" {
			q.Set(inc.Param, since)
		}
	}
	u.RawQuery = q.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, x.cfg.Method, u.String(), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "shp")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range x.cfg.Headers {
		req.Header.Set(k, v)
	}
	x.auth(req)
	return req, nil
}

// send performs one request, retrying failures that happen before the
// body is read (connection errors, 429 with Retry-After, 5xx).
func (x *extractor) send(ctx context.Context, st pageState, since string) (*http.Response, string, error) {
	var resp *http.Response
	var where string
	err := x.caller.Do(ctx, func(ctx context.Context) error {
		req, err := x.request(ctx, st, since)
		if err != nil {
			return err
		}
		where = req.Method + " " + x.red.URL(req.URL.String())
		r, err := x.client.Do(req)
		if err != nil {
			// The *url.Error's URL is masked in place as well.
			return x.red.Error(err)
		}
		if r.StatusCode < 200 || r.StatusCode > 299 {
			defer r.Body.Close()
			he := resilience.NewHTTPError(r, x.red.URL(req.URL.String()))
			he.Message = x.red.Text(he.Message) // a server may echo the request
			return he
		}
		resp = r
		return nil
	})
	return resp, where, err
}

// page reads one page: its records go to emit; the state moves on.
func (x *extractor) page(ctx context.Context, st *pageState, since string, emit func(map[string]any) error) (err error) {
	resp, where, err := x.send(ctx, *st, since)
	if err != nil {
		return fmt.Errorf("page %d: %w", st.n+1, err)
	}
	defer resp.Body.Close()
	shapeErr := func(found string) error {
		return &ShapeError{Page: st.n + 1, Method: resp.Request.Method, Path: resp.Request.URL.Path, RecordsPath: x.cfg.RecordsPath, Found: found}
	}
	br := bufio.NewReader(resp.Body)
	if what := sniffJSON(br, resp.Header.Get("Content-Type")); what != "" {
		return shapeErr(fmt.Sprintf("%s has nothing to read: the response is %s", recordsName(x.cfg.RecordsPath), what))
	}
	dec := json.NewDecoder(br)
	dec.UseNumber()
	var records int
	var cursor any
	var gqlErrors []map[string]any
	var pageInfo map[string]any
	found := false
	w := &walker{dec: dec, handlers: map[string]func(*json.Decoder) error{
		x.cfg.RecordsPath: func(dec *json.Decoder) error {
			found = true
			return streamArray(dec, func(raw json.RawMessage) error {
				rec, err := decodeRecord(raw, records+1)
				if err != nil {
					return err
				}
				records++
				return emit(rec)
			})
		},
	}}
	if !x.graphql && x.cfg.Pagination.Type == "cursor" {
		w.handlers[x.cfg.Pagination.CursorPath] = func(dec *json.Decoder) error { return dec.Decode(&cursor) }
	}
	if x.graphql {
		w.handlers["errors"] = func(dec *json.Decoder) error { return dec.Decode(&gqlErrors) }
		if x.cfg.PageInfoPath != "" {
			w.handlers[x.cfg.PageInfoPath] = func(dec *json.Decoder) error { return dec.Decode(&pageInfo) }
		}
	}
	if err := w.walk(""); err != nil {
		var sp *shapeProblem
		if errors.As(err, &sp) {
			return shapeErr(fmt.Sprintf("%s holds %s", recordsName(x.cfg.RecordsPath), sp.holds))
		}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return fmt.Errorf("page %d (%s): malformed JSON at byte %d: %w", st.n+1, where, se.Offset, err)
		}
		return fmt.Errorf("page %d (%s): %w", st.n+1, where, err)
	}
	if len(gqlErrors) > 0 {
		var msgs []string
		for _, e := range gqlErrors {
			msgs = append(msgs, x.red.Text(fmt.Sprint(e["message"])))
		}
		return &graphQLError{where: where, page: st.n + 1, messages: msgs}
	}
	if !found {
		return shapeErr(fmt.Sprintf("it has no %q (records_path); %s", x.cfg.RecordsPath, missingFound(x.cfg.RecordsPath, w.seen)))
	}
	st.n++
	defer func() {
		if err == nil && !st.done && st.n >= x.cfg.MaxPages {
			err = fmt.Errorf("more than max_pages (%d) pages; raise max_pages if the API is that large", x.cfg.MaxPages)
		}
	}()
	switch {
	case x.graphql:
		more, _ := pageInfo["hasNextPage"].(bool)
		next, _ := pageInfo["endCursor"].(string)
		st.done = x.cfg.PageInfoPath == "" || !more || next == "" || next == st.cursor
		st.cursor = next
	default:
		p := x.cfg.Pagination
		switch p.Type {
		case "page":
			st.page++
			st.done = records == 0 || (p.Size > 0 && records < p.Size)
		case "offset":
			st.offset += records
			st.done = records == 0 || records < p.Size
		case "cursor":
			next := ""
			if cursor != nil {
				next = fmt.Sprint(cursor)
			}
			st.done = next == "" || next == st.cursor
			st.cursor = next
		case "link":
			next := nextLink(resp.Header.Values("Link"))
			if next != "" {
				base, _ := url.Parse(resp.Request.URL.String())
				ref, err := url.Parse(next)
				if err != nil {
					return fmt.Errorf("page %d (%s): the Link header's next page %q is not a URL", st.n, where, next)
				}
				abs := base.ResolveReference(ref)
				// Credentials go only where the configured URL points.
				if abs.Scheme != base.Scheme || abs.Host != base.Host {
					return fmt.Errorf("page %d (%s): the next page is on another site (%s://%s); refusing to send credentials there",
						st.n, where, abs.Scheme, abs.Host)
				}
				next = abs.String()
			}
			st.done = next == ""
			st.next = next
		default:
			st.done = true
		}
	}
	return nil
}

// graphQLError is a GraphQL response's errors array; retrying does not fix it.
type graphQLError struct {
	where    string
	page     int
	messages []string
}

func (e *graphQLError) Error() string {
	return fmt.Sprintf("page %d (%s): GraphQL errors: %s", e.page, e.where, strings.Join(e.messages, "; "))
}

// nextLink finds rel="next" in Link headers.
func nextLink(headers []string) string {
	for _, h := range headers {
		for _, part := range strings.Split(h, ",") {
			segs := strings.Split(part, ";")
			if len(segs) < 2 {
				continue
			}
			target := strings.Trim(strings.TrimSpace(segs[0]), "<>")
			for _, p := range segs[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
				if strings.EqualFold(k, "rel") {
					for _, rel := range strings.Fields(strings.Trim(v, `"`)) {
						if strings.EqualFold(rel, "next") {
							return target
						}
					}
				}
			}
		}
	}
	return ""
}

// decodeRecord reads the n-th record; a GraphQL edge {"node": {...}} is
// unwrapped. A record that is not an object (a number, a string, a list)
// is a shapeProblem: the list at records_path is not of records.
func decodeRecord(raw json.RawMessage, n int) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, &shapeProblem{holds: fmt.Sprintf("a list whose record %d is %s, not an object", n, kindOf(v))}
	}
	if node, ok := m["node"].(map[string]any); ok && len(m) <= 2 {
		if _, hasCursor := m["cursor"]; len(m) == 1 || hasCursor {
			return node, nil
		}
	}
	return m, nil
}

func (x *extractor) flatten() bool { return x.cfg.Flatten == nil || *x.cfg.Flatten }

// shape prepares a record for its line: flattened or not, and the
// watermark value it carries.
func (x *extractor) shape(rec map[string]any) (map[string]any, string) {
	var wm string
	if inc := x.cfg.Incremental; inc != nil {
		if v, ok := lookup(rec, inc.Field); ok && v != nil {
			wm = fmt.Sprint(v)
		}
	}
	if !x.flatten() {
		return rec, wm
	}
	out := make(map[string]any, len(rec))
	flatten("", rec, out)
	return out, wm
}

// later reports whether watermark a comes after b: numerically when both
// are numbers, else as text (ISO 8601 times sort as text).
func later(a, b string) bool {
	if b == "" {
		return a != ""
	}
	if a == "" {
		return false
	}
	if ia, errA := strconv.ParseInt(a, 10, 64); errA == nil {
		if ib, errB := strconv.ParseInt(b, 10, 64); errB == nil {
			return ia > ib
		}
	}
	if ta, errA := time.Parse(time.RFC3339Nano, a); errA == nil {
		if tb, errB := time.Parse(time.RFC3339Nano, b); errB == nil {
			return ta.After(tb)
		}
	}
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	if errA == nil && errB == nil {
		return fa > fb
	}
	return a > b
}

// TakeRetries implements source.RetryLog.
func (x *extractor) TakeRetries() []resilience.Retry { return x.caller.TakeRetries() }

func (x *extractor) Extract(ctx context.Context, req source.ExtractRequest, sink source.Sink) (*source.Extraction, error) {
	since := req.Since
	if inc := x.cfg.Incremental; inc != nil && since == "" {
		since = inc.Initial
	}
	if req.Full {
		since = ""
		if inc := x.cfg.Incremental; inc != nil {
			since = inc.Initial
		}
	}
	out := &source.Extraction{Watermark: req.Since, Query: x.describe()}
	st := x.startState()
	for !st.done {
		start := st
		var rows, bytes int64
		var wm string
		attempts := 0
		err := x.caller.Do(ctx, func(ctx context.Context) error {
			attempts++
			st, rows, bytes, wm = start, 0, 0, ""
			c, err := sink.Chunk(ctx)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(&countWriter{w: c, n: &bytes})
			for i := 0; i < x.cfg.Pagination.PagesPerChunk && !st.done; i++ {
				err := x.page(ctx, &st, since, func(rec map[string]any) error {
					line, v := x.shape(rec)
					if later(v, wm) {
						wm = v
					}
					rows++
					return enc.Encode(line)
				})
				if err != nil {
					c.Discard()
					return x.red.Error(err)
				}
			}
			return c.Commit(rows)
		})
		out.Attempts += attempts
		if err != nil {
			return out, x.red.Error(fmt.Errorf("extract %s: %w", x.target(), err))
		}
		out.Rows += rows
		out.Bytes += bytes
		if later(wm, out.Watermark) {
			out.Watermark = wm
		}
	}
	return out, nil
}

// describe names the request for messages and lineage, without secrets.
func (x *extractor) describe() string {
	if x.graphql {
		return "POST " + x.red.URL(x.cfg.URL) + " (GraphQL)"
	}
	return x.cfg.Method + " " + x.red.URL(x.cfg.URL)
}

// target names the request for errors: the method and the URL without
// its query, which may hold credentials.
func (x *extractor) target() string {
	u, err := url.Parse(x.cfg.URL)
	if err != nil {
		return x.cfg.Method + " (the configured url)"
	}
	t := x.cfg.Method + " " + (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
	if x.graphql {
		t += " (GraphQL)"
	}
	return t
}

type countWriter struct {
	w io.Writer
	n *int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// Discover reads the first page and infers the columns from up to 100
// records: whole numbers are INT64, other numbers FLOAT64, true/false
// BOOL, lists and (unflattened) objects JSON, everything else STRING.
func (x *extractor) Discover(ctx context.Context) (schema.Schema, error) {
	st := x.startState()
	var order []string
	types := map[string]string{}
	seen := 0
	errEnough := errors.New("enough")
	err := x.page(ctx, &st, "", func(rec map[string]any) error {
		line, _ := x.shape(rec)
		for _, k := range sortedKeys(line) {
			t := jsonType(line[k])
			prev, ok := types[k]
			switch {
			case !ok:
				order = append(order, k)
				types[k] = t
			case prev == "" || prev == t:
				types[k] = t
			case t == "":
			case prev == schema.TypeInt64 && t == schema.TypeFloat64, prev == schema.TypeFloat64 && t == schema.TypeInt64:
				types[k] = schema.TypeFloat64
			default:
				types[k] = schema.TypeString
			}
		}
		seen++
		if seen >= 100 {
			return errEnough
		}
		return nil
	})
	if err != nil && !errors.Is(err, errEnough) {
		return nil, x.red.Error(err)
	}
	out := make(schema.Schema, len(order))
	for i, k := range order {
		t := types[k]
		if t == "" {
			t = schema.TypeString
		}
		out[i] = schema.Field{Name: k, Type: t, Mode: schema.ModeNullable}
	}
	return out, nil
}

func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return schema.TypeBool
	case json.Number:
		if _, err := x.Int64(); err == nil {
			return schema.TypeInt64
		}
		return schema.TypeFloat64
	case map[string]any, []any:
		return schema.TypeJSON
	}
	return schema.TypeString
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
