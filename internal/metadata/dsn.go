package metadata

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// redactedMask replaces a password in a redacted DSN.
const redactedMask = "xxxxx"

// isPasswordParam reports whether a DSN parameter holds a secret.
func isPasswordParam(name string) bool {
	name = strings.ToLower(name)
	return name == "password" || name == "sslpassword"
}

// kvPassword finds a password in a key=value DSN; group 1 is the value.
var kvPassword = regexp.MustCompile(`(?i)(?:^|\s)(?:password|sslpassword)\s*=\s*('(?:[^'\\]|\\.)*'?|\S*)`)

// RedactDSN returns dsn with every password it recognises replaced by
// "xxxxx". It understands URLs (postgres://user:pass@host/db?password=...),
// PostgreSQL key=value pairs (password=... or password='...') and the
// MySQL driver's user:pass@tcp(host)/db form. Malformed input is masked on
// a best-effort basis, erring on the side of masking too much.
func RedactDSN(dsn string) string {
	spans := secretSpans(dsn)
	var b strings.Builder
	last := 0
	for _, s := range spans {
		b.WriteString(dsn[last:s[0]])
		b.WriteString(redactedMask)
		last = s[1]
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// dsnSecrets returns the passwords in dsn, as written and decoded.
func dsnSecrets(dsn string) []string {
	var out []string
	for _, s := range secretSpans(dsn) {
		raw := dsn[s[0]:s[1]]
		out = append(out, raw)
		if u, err := url.QueryUnescape(raw); err == nil && u != raw {
			out = append(out, u)
		}
		if len(raw) >= 2 && raw[0] == '\'' && raw[len(raw)-1] == '\'' {
			out = append(out, strings.NewReplacer(`\'`, `'`, `\\`, `\`).Replace(raw[1:len(raw)-1]))
		}
	}
	return slices.DeleteFunc(out, func(s string) bool { return s == "" })
}

// secretSpans returns the sorted, disjoint [start, end) byte ranges of the
// passwords in dsn.
func secretSpans(dsn string) [][2]int {
	var spans [][2]int
	if i := strings.Index(dsn, "://"); i >= 0 {
		spans = urlSecretSpans(dsn, i+3)
	} else {
		for _, m := range kvPassword.FindAllStringSubmatchIndex(dsn, -1) {
			spans = append(spans, [2]int{m[2], m[3]})
		}
		if s, ok := mysqlSecretSpan(dsn); ok {
			spans = append(spans, s)
		}
	}
	spans = slices.DeleteFunc(spans, func(s [2]int) bool { return s[0] >= s[1] })
	slices.SortFunc(spans, func(a, b [2]int) int { return a[0] - b[0] })
	// Merge overlapping spans.
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

// urlSecretSpans finds the password of a URL's user info, which starts at
// byte start, and the values of password parameters in its query.
func urlSecretSpans(dsn string, start int) [][2]int {
	var spans [][2]int
	rest := dsn[start:]
	// The user info ends at the last '@' before the query; a malformed
	// password may hold '?' too, so fall back to the last '@' at all.
	q := strings.IndexByte(rest, '?')
	if q < 0 {
		q = len(rest)
	}
	at := strings.LastIndexByte(rest[:q], '@')
	if at < 0 {
		at = strings.LastIndexByte(rest, '@')
	}
	queryFrom := 0
	if at >= 0 {
		queryFrom = at
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			spans = append(spans, [2]int{start + c + 1, start + at})
		}
	}
	if qi := strings.IndexByte(rest[queryFrom:], '?'); qi >= 0 {
		off := start + queryFrom + qi + 1
		query := dsn[off:]
		if h := strings.IndexByte(query, '#'); h >= 0 {
			query = query[:h]
		}
		for _, kv := range strings.Split(query, "&") {
			k, _, hasValue := strings.Cut(kv, "=")
			if key, err := url.QueryUnescape(k); err == nil && hasValue && isPasswordParam(key) {
				spans = append(spans, [2]int{off + len(k) + 1, off + len(kv)})
			}
			off += len(kv) + 1
		}
	}
	return spans
}

// mysqlSecretSpan finds the password of the MySQL driver's
// user:password@protocol(address)/dbname form.
func mysqlSecretSpan(dsn string) ([2]int, bool) {
	slash := strings.LastIndexByte(dsn, '/')
	if slash < 0 {
		slash = len(dsn)
	}
	at := strings.LastIndexByte(dsn[:slash], '@')
	if at < 0 {
		return [2]int{}, false
	}
	c := strings.IndexByte(dsn[:at], ':')
	if c < 0 || strings.ContainsAny(dsn[:c], "= \t") {
		return [2]int{}, false
	}
	return [2]int{c + 1, at}, true
}

// redactedError is an error whose message has the passwords of a DSN
// masked; it unwraps to the original error.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// redactError returns err with every password of dsn masked in its message.
func redactError(err error, dsn string) error {
	if err == nil {
		return nil
	}
	secrets := dsnSecrets(dsn)
	if len(secrets) == 0 {
		return err
	}
	// Longest first, so that a secret containing another is masked whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
	msg := err.Error()
	for _, s := range secrets {
		msg = strings.ReplaceAll(msg, s, redactedMask)
	}
	return &redactedError{msg: msg, err: err}
}
