package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/redact"
)

// userAgent is sent with every HTTP request.
const userAgent = "shp-notify/1"

// maxErrorBody is how much of a failed reply's body an error quotes.
const maxErrorBody = 256

// reservedHeaders are set by shp and cannot be given in headers.
var reservedHeaders = []string{"Content-Type", "Content-Length", "Host", "Idempotency-Key", "User-Agent"}

// headerName matches an HTTP header name (RFC 9110 token).
var headerName = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

// httpTarget posts JSON to one URL for one receiver. Its URL, headers and
// token are secrets: errors are masked with red.
type httpTarget struct {
	receiver string
	kind     string
	url      string
	client   *http.Client
	headers  http.Header
	red      *redact.Redactor
}

// parseURL checks the URL setting key: absolute, http or https, and https
// only when httpsOnly unless its host is a loopback name or address.
// Errors never show the URL.
func parseURL(s *settings, key, raw string, httpsOnly bool) *url.URL {
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		s.errorf(key, "%s is not a valid URL", key)
		return nil
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		s.errorf(key, "%s must be an absolute http:// or https:// URL", key)
		return nil
	}
	if httpsOnly && u.Scheme != "https" && !loopback(u.Hostname()) {
		s.errorf(key, "%s must use https (http is allowed only for localhost, 127.0.0.1 and ::1)", key)
		return nil
	}
	return u
}

// loopback reports whether host is localhost or a loopback address.
func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newHTTPTarget returns the target of a receiver posting to u with the
// headers and bearer token of its settings (read from s under "headers"
// and "bearer_token").
func newHTTPTarget(s *settings, kind string, u *url.URL, opts Options) *httpTarget {
	headers := s.stringMap("headers")
	token := strings.TrimSpace(s.str("bearer_token", ""))
	t := &httpTarget{receiver: s.receiver, kind: kind, client: opts.HTTPClient, headers: http.Header{}}
	if u != nil {
		t.url = u.String()
	}
	secrets := []string{token}
	for _, name := range sortedKeys(headers) {
		value := headers[name]
		switch {
		case !headerName.MatchString(name):
			s.errorf("headers", "headers: %q is not a valid header name", name)
		case strings.ContainsAny(value, "\r\n\x00"):
			s.errorf("headers", "headers: the value of %s must be one line", name)
		case containsFold(reservedHeaders, name):
			s.errorf("headers", "headers: %s is set by shp; the headers it cannot set are %s",
				name, strings.Join(reservedHeaders, ", "))
		case token != "" && strings.EqualFold(name, "Authorization"):
			s.errorf("headers", "headers: Authorization cannot be given with bearer_token")
		default:
			t.headers.Set(name, value)
			secrets = append(secrets, value)
			// "Basic CREDENTIALS": a receiver may quote the credentials alone.
			if _, cred, ok := strings.Cut(value, " "); ok {
				secrets = append(secrets, strings.TrimSpace(cred))
			}
		}
	}
	if token != "" {
		t.headers.Set("Authorization", "Bearer "+token)
	}
	t.red = urlRedactor(u).WithSecrets(secrets...)
	return t
}

// urlRedactor returns a Redactor that masks u (a secret) and its parts
// wherever they appear.
func urlRedactor(u *url.URL) *redact.Redactor {
	if u == nil {
		return redact.New()
	}
	secrets := []string{u.String(), u.RawQuery, u.EscapedPath(), u.Path}
	// Long path segments are ids and signatures (a Teams workflow's id),
	// which a receiver may quote alone.
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 16 {
			secrets = append(secrets, seg)
		}
	}
	if p, ok := u.User.Password(); ok {
		secrets = append(secrets, p)
	}
	var params []string
	for name, values := range u.Query() {
		params = append(params, name)
		secrets = append(secrets, values...)
	}
	return redact.New(secrets...).WithParams(params...)
}

// reply is what a receiver answered.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// post sends body as JSON with the extra headers. It returns the reply
// whatever its status, or a *SendError when nothing came back.
func (t *httpTarget) post(ctx context.Context, body []byte, extra map[string]string) (*reply, error) {
	if err := ctx.Err(); err != nil {
		return nil, t.failure(err, "not sent: %v", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		// Only a malformed URL fails here, and New checked it.
		return nil, &ConfigError{Receiver: t.receiver, Key: "url", Msg: "url cannot be requested"}
	}
	for name, values := range t.headers {
		req.Header[name] = values
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	for name, value := range extra {
		req.Header.Set(name, value)
	}
	resp, err := t.client.Do(req)
	if err != nil {
		// The *url.Error holds the URL, a secret: keep what it wraps.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, t.failure(err, "sending failed: %v", err)
	}
	defer resp.Body.Close()
	// The status is the answer; the body only adds detail, so a body that
	// cannot be read whole is not a failure.
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return &reply{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// check returns nil for a 2xx reply and a *SendError for any other.
func (t *httpTarget) check(r *reply) error {
	if r.status >= 200 && r.status < 300 {
		return nil
	}
	return t.statusError(r, r.status)
}

// statusError returns the *SendError of a reply with HTTP status code.
func (t *httpTarget) statusError(r *reply, code int) error {
	e := &SendError{
		Receiver:   t.receiver,
		Kind:       t.kind,
		StatusCode: code,
		Temporary:  code == http.StatusRequestTimeout || code == http.StatusTooManyRequests || code >= 500,
		RetryAfter: retryAfter(r.header.Get("Retry-After"), time.Now()),
	}
	msg := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if code >= 300 && code < 400 {
		msg += " (redirects are not followed)"
	}
	if snippet := errorSnippet(r.body); snippet != "" {
		msg += ": " + snippet
	}
	e.Msg = t.red.Text(msg)
	e.Err = &httpStatusError{code: code}
	return e
}

// failure returns the *SendError of a request that got no reply.
func (t *httpTarget) failure(err error, format string, args ...any) *SendError {
	return &SendError{
		Receiver:  t.receiver,
		Kind:      t.kind,
		Temporary: temporary(err),
		Msg:       t.red.Text(fmt.Sprintf(format, args...)),
		Err:       t.red.Error(err),
	}
}

// httpStatusError is the error a SendError for an HTTP status wraps.
type httpStatusError struct{ code int }

func (e *httpStatusError) Error() string {
	return fmt.Sprintf("HTTP %d %s", e.code, http.StatusText(e.code))
}

// errorSnippet returns the start of a reply's body, on one line.
func errorSnippet(body []byte) string {
	s := strings.ToValidUTF8(string(body), "?")
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxErrorBody {
		cut := maxErrorBody
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second
	}
	if at, err := http.ParseTime(v); err == nil && at.After(now) {
		return at.Sub(now)
	}
	return 0
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }

// containsFold reports whether list holds s, in any case.
func containsFold(list []string, s string) bool {
	for _, e := range list {
		if strings.EqualFold(e, s) {
			return true
		}
	}
	return false
}
