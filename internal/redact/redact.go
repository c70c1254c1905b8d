// Package redact keeps secrets out of what shp shows: error messages, logs,
// and the runs, tasks and healing actions the metadata store keeps and the
// REST API serves.
//
// A Redactor masks two kinds of secret. Literal secrets are strings it is
// told about (a token read from the environment, a value that came from
// ${VAR} in sources.yaml): every occurrence is masked, as written and URL
// encoded. Structural secrets are found by their place in the text: the
// password of a URL's user information (scheme://user:PASSWORD@host, and
// the MySQL driver's user:PASSWORD@tcp(host)), the value of a query or
// key=value parameter whose name looks secret (SecretName) or that the
// Redactor was told about (WithParams), and the value of an Authorization,
// Cookie or secret-looking X- header written as "Name: value".
//
// Errors keep their chain: Error returns an error whose message is masked
// and which unwraps to the original, so errors.Is and errors.As still see
// what the source returned.
package redact

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// Mask replaces every secret.
const Mask = "REDACTED"

// minSecret is the shortest literal secret masked: a shorter one would
// mask ordinary words and numbers everywhere. Structural masking does not
// depend on the length.
const minSecret = 4

// secretWords mark a parameter, header, variable or setting name as
// secret when the name contains one of them, in any case. Among the names
// they cover: access_token, api_key, apikey, client_secret, password,
// sslpassword, passwd, pwd, sig, X-Goog-Signature, X-Goog-Credential,
// X-Amz-Signature, X-Amz-Credential, X-Amz-Security-Token, Authorization,
// Cookie, session_id.
var secretWords = []string{
	"token", "key", "secret", "password", "passwd", "pwd", "passphrase", "signature", "sig",
	"auth", "credential", "session", "cookie", "jwt", "private",
}

// SecretName reports whether a parameter, header or setting called name
// looks like it carries a secret: its name contains token, key, secret,
// password, passwd, pwd, passphrase, signature, sig, auth, credential,
// session, cookie, jwt or private, in any case.
func SecretName(name string) bool {
	name = strings.ToLower(name)
	for _, w := range secretWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// Redactor masks secrets in text. The zero value and nil mask the
// structural secrets only; New, WithSecrets and WithParams add what a
// source knows. A Redactor is immutable and safe for concurrent use.
type Redactor struct {
	literals []string        // longest first, each as written and encoded
	params   map[string]bool // lower-cased query parameter names
}

// New returns a Redactor that masks the literal secrets, and the
// structural ones.
func New(secrets ...string) *Redactor { return (*Redactor)(nil).WithSecrets(secrets...) }

// WithSecrets returns a Redactor that also masks every occurrence of each
// of secrets, as written, query-escaped and path-escaped. Secrets shorter
// than four bytes are left to the structural rules.
func (r *Redactor) WithSecrets(secrets ...string) *Redactor {
	out := r.clone()
	for _, s := range secrets {
		if len(s) < minSecret {
			continue
		}
		for _, form := range []string{s, url.QueryEscape(s), url.PathEscape(s)} {
			if !slices.Contains(out.literals, form) {
				out.literals = append(out.literals, form)
			}
		}
	}
	// Longest first, so that a secret holding another is masked whole.
	slices.SortStableFunc(out.literals, func(a, b string) int { return len(b) - len(a) })
	return out
}

// WithParams returns a Redactor that also masks the values of the query
// parameters called names (in any case) in URLs, whatever the names: the
// parameters a source adds to its requests from its settings.
func (r *Redactor) WithParams(names ...string) *Redactor {
	out := r.clone()
	for _, n := range names {
		out.params[strings.ToLower(n)] = true
	}
	return out
}

// Join returns a Redactor that masks what r and o mask.
func (r *Redactor) Join(o *Redactor) *Redactor {
	out := r.clone()
	if o != nil {
		out = out.WithParams(slices.Collect(maps.Keys(o.params))...)
		for _, l := range o.literals {
			if !slices.Contains(out.literals, l) {
				out.literals = append(out.literals, l)
			}
		}
		slices.SortStableFunc(out.literals, func(a, b string) int { return len(b) - len(a) })
	}
	return out
}

func (r *Redactor) clone() *Redactor {
	out := &Redactor{params: map[string]bool{}}
	if r != nil {
		out.literals = slices.Clone(r.literals)
		for k := range r.params {
			out.params[k] = true
		}
	}
	return out
}

// Text returns s with every secret masked: the literal secrets first,
// then the structural ones of every URL, DSN, parameter and header in it.
func (r *Redactor) Text(s string) string {
	if r != nil {
		for _, l := range r.literals {
			s = strings.ReplaceAll(s, l, Mask)
		}
	}
	return apply(s, r.spans(s))
}

// URL returns the URL raw with its secrets masked, as Text does; a URL
// without a scheme (user:pass@host/path) has its user information's
// password masked too.
func (r *Redactor) URL(raw string) string {
	if !strings.Contains(raw, "://") && !strings.HasPrefix(raw, "//") {
		slash := strings.IndexAny(raw, "/?#")
		if slash < 0 {
			slash = len(raw)
		}
		if strings.Contains(raw[:slash], "@") {
			return strings.TrimPrefix(r.Text("//"+raw), "//")
		}
	}
	return r.Text(raw)
}

// Header returns a copy of h whose secret-looking headers (Authorization,
// Cookie, X-Api-Key, anything SecretName calls secret) are masked, and
// whose other values are masked with Text.
func (r *Redactor) Header(h http.Header) http.Header {
	out := make(http.Header, len(h))
	for k, vs := range h {
		masked := make([]string, len(vs))
		for i, v := range vs {
			if SecretName(k) {
				masked[i] = Mask
			} else {
				masked[i] = r.Text(v)
			}
		}
		out[k] = masked
	}
	return out
}

// Error returns err with its message masked by Text; it unwraps to err,
// so that errors.Is and errors.As see the original chain. An error whose
// message holds no secret is returned as it is, and so is nil. The URL of
// every *url.Error in the chain is masked in place too, for code that
// reads it with errors.As.
func (r *Redactor) Error(err error) error {
	if err == nil {
		return nil
	}
	maskURLErrors(err, r)
	msg := err.Error()
	masked := r.Text(msg)
	if masked == msg {
		return err
	}
	return &redactedError{msg: masked, err: err}
}

// redactedError is an error whose message is masked; it unwraps to the
// original.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// maskURLErrors masks the URL of every *url.Error in err's chain.
func maskURLErrors(err error, r *Redactor) {
	for depth := 0; err != nil && depth < 100; depth++ {
		if ue, ok := err.(*url.Error); ok {
			ue.URL = r.URL(ue.URL)
		}
		switch x := err.(type) {
		case interface{ Unwrap() error }:
			err = x.Unwrap()
		case interface{ Unwrap() []error }:
			for _, e := range x.Unwrap() {
				maskURLErrors(e, r)
			}
			return
		default:
			return
		}
	}
}

type contextKey struct{}

// NewContext returns a context that carries r, for the code that records
// what a source's work produced to mask it again (FromContext).
func NewContext(ctx context.Context, r *Redactor) context.Context {
	return context.WithValue(ctx, contextKey{}, r)
}

// FromContext returns the Redactor ctx carries; nil, which masks the
// structural secrets only, when it carries none.
func FromContext(ctx context.Context) *Redactor {
	r, _ := ctx.Value(contextKey{}).(*Redactor)
	return r
}

// Text masks the structural secrets of s (see the package documentation).
func Text(s string) string { return (*Redactor)(nil).Text(s) }

// URL masks the structural secrets of the URL raw.
func URL(raw string) string { return (*Redactor)(nil).URL(raw) }

// Error masks the structural secrets of err's message, keeping its chain.
func Error(err error) error { return (*Redactor)(nil).Error(err) }

// SecretsIn returns the structural secrets of text, as written and, when
// that differs, URL-decoded: what Text would mask. A source gives them to
// WithSecrets so that they are masked wherever they appear later, such as
// in a server's echo of the request.
func SecretsIn(text string) []string {
	var out []string
	for _, sp := range (*Redactor)(nil).spans(text) {
		v := text[sp[0]:sp[1]]
		if v == Mask {
			continue
		}
		out = append(out, v)
		if u, err := url.QueryUnescape(v); err == nil && u != v {
			out = append(out, u)
		}
		if len(v) >= 2 && (v[0] == '\'' || v[0] == '"') && v[len(v)-1] == v[0] {
			out = append(out, v[1:len(v)-1])
		}
	}
	return out
}

var (
	// param finds "name=" after a separator of a query (? & ; #), of
	// key=value text (blank, quote, parenthesis, comma) or at the start.
	param = regexp.MustCompile(`(^|[?&;#\s"'(,])([A-Za-z0-9_.~%\[\]-]+)=`)
	// mysqlUser finds user:password@ of the MySQL driver's DSN form
	// (user:password@tcp(host:3306)/db, user:password@/db).
	mysqlUser = regexp.MustCompile(`(?:^|[\s"'=(])[^\s:@/"'()]+:([^\s@"']*)@(?:tcp6?\(|unix\(|/)`)
	// header finds "Name: " of a header written in text.
	header = regexp.MustCompile(`(?i)\b(proxy-authorization|authorization|set-cookie|cookie|x-[a-z0-9-]+)\s*:\s*`)
)

// spans returns the sorted, disjoint byte ranges of the structural
// secrets of s.
func (r *Redactor) spans(s string) [][2]int {
	var spans [][2]int
	spans = append(spans, userinfoSpans(s)...)
	for _, m := range mysqlUser.FindAllStringSubmatchIndex(s, -1) {
		spans = append(spans, [2]int{m[2], m[3]})
	}
	for _, m := range param.FindAllStringSubmatchIndex(s, -1) {
		sep, name := s[m[2]:m[3]], s[m[4]:m[5]]
		if n, err := url.QueryUnescape(name); err == nil {
			name = n
		}
		inURL := sep != "" && strings.Contains("?&;#", sep)
		if !SecretName(name) && !(inURL && r != nil && r.params[strings.ToLower(name)]) {
			continue
		}
		spans = append(spans, [2]int{m[1], valueEnd(s, m[1], "&#\"'<> \t\r\n`")})
	}
	for _, m := range header.FindAllStringSubmatchIndex(s, -1) {
		name := s[m[2]:m[3]]
		if strings.HasPrefix(strings.ToLower(name), "x-") && !SecretName(name) {
			continue
		}
		spans = append(spans, [2]int{m[1], valueEnd(s, m[1], "\"'\r\n`")})
	}
	return merge(spans)
}

// valueEnd returns where the value starting at i ends: at its closing
// quote when it is quoted, else before the first of stops, or before
// punctuation that ends a clause (parentheses, commas, periods, colons or
// semicolons followed by a blank or the end), which an encoded URL value
// cannot hold.
func valueEnd(s string, i int, stops string) int {
	if i < len(s) && (s[i] == '\'' || s[i] == '"') {
		if j := strings.IndexByte(s[i+1:], s[i]); j >= 0 {
			return i + 1 + j + 1
		}
		return len(s)
	}
	end := len(s)
	if j := strings.IndexAny(s[i:], stops); j >= 0 {
		end = i + j
	}
	for k := i; k < end; k++ {
		j := k
		for j < len(s) && strings.IndexByte(clausePunct, s[j]) >= 0 {
			j++
		}
		if j > k && (j == len(s) || strings.IndexByte(" \t\r\n", s[j]) >= 0) {
			return k
		}
	}
	return end
}

// clausePunct ends a clause when a run of it is followed by a blank.
const clausePunct = "),.;:!]"

// userinfoSpans finds the password of every scheme://user:password@ in s.
// The user information ends at the last '@' before the end of the
// authority (the first / ? # or blank after it).
func userinfoSpans(s string) [][2]int {
	var spans [][2]int
	for from := 0; ; {
		i := strings.Index(s[from:], "//")
		if i < 0 {
			return spans
		}
		start := from + i + 2
		from = start
		end := start + strings.IndexAny(s[start:]+" ", "/?# \t\r\n\"'<>`")
		at := strings.LastIndexByte(s[start:end], '@')
		if at < 0 {
			continue
		}
		if c := strings.IndexByte(s[start:start+at], ':'); c >= 0 {
			spans = append(spans, [2]int{start + c + 1, start + at})
		}
	}
}

// merge sorts spans and joins the overlapping ones; empty spans go.
func merge(spans [][2]int) [][2]int {
	spans = slices.DeleteFunc(spans, func(s [2]int) bool { return s[0] >= s[1] })
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	var out [][2]int
	for _, s := range spans {
		if n := len(out); n > 0 && s[0] <= out[n-1][1] {
			out[n-1][1] = max(out[n-1][1], s[1])
			continue
		}
		out = append(out, s)
	}
	return out
}

// apply replaces the spans of s with Mask.
func apply(s string, spans [][2]int) string {
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp[0]])
		b.WriteString(Mask)
		last = sp[1]
	}
	b.WriteString(s[last:])
	return b.String()
}

// NewHandler returns a slog.Handler that passes records to h with their
// message and every attribute masked by r: strings and errors (errors
// keep their chain), and any other value whose text holds a secret
// becomes its masked text.
func NewHandler(h slog.Handler, r *Redactor) slog.Handler { return &handler{h: h, r: r} }

// handler is the slog.Handler of NewHandler.
type handler struct {
	h slog.Handler
	r *Redactor
}

// Enabled implements slog.Handler.
func (h *handler) Enabled(ctx context.Context, l slog.Level) bool { return h.h.Enabled(ctx, l) }

// Handle implements slog.Handler: the record goes on masked.
func (h *handler) Handle(ctx context.Context, rec slog.Record) error {
	out := slog.NewRecord(rec.Time, rec.Level, h.r.Text(rec.Message), rec.PC)
	rec.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(h.attr(a))
		return true
	})
	return h.h.Handle(ctx, out)
}

// WithAttrs implements slog.Handler; the attributes are masked once.
func (h *handler) WithAttrs(as []slog.Attr) slog.Handler {
	masked := make([]slog.Attr, len(as))
	for i, a := range as {
		masked[i] = h.attr(a)
	}
	return &handler{h: h.h.WithAttrs(masked), r: h.r}
}

// WithGroup implements slog.Handler.
func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{h: h.h.WithGroup(name), r: h.r}
}

// attr masks an attribute's value.
func (h *handler) attr(a slog.Attr) slog.Attr {
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		a.Value = slog.StringValue(h.r.Text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		masked := make([]slog.Attr, len(g))
		for i, ga := range g {
			masked[i] = h.attr(ga)
		}
		a.Value = slog.GroupValue(masked...)
	case slog.KindAny:
		if err, ok := v.Any().(error); ok {
			a.Value = slog.AnyValue(h.r.Error(err))
			break
		}
		if s := fmt.Sprint(v.Any()); h.r.Text(s) != s {
			a.Value = slog.StringValue(h.r.Text(s))
		} else {
			a.Value = v
		}
	default:
		a.Value = v
	}
	return a
}
