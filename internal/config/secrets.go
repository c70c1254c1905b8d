package config

import (
	"fmt"
	"slices"
	"strings"

	"github.com/shp-dev/shp/internal/redact"
)

// requestKeys are the settings whose values a source sends with its
// requests or uses to connect: a value from the environment there is a
// credential or close to one.
var requestKeys = []string{"params", "headers", "body", "variables", "dsn", "auth"}

// urlKeys are the settings (and object source keys) that hold URLs: a
// value from the environment in their user information, query or fragment
// is a credential; in their host or path it is not.
var urlKeys = []string{"url", "token_url", "endpoint", "path", "bucket"}

// sourceSecrets returns the values of env (what ${VAR} references of the
// file were replaced with) that s carries where credentials travel: in
// params, headers, body, variables, dsn or auth, in the user information,
// query or fragment of a URL, or anywhere when the variable's name looks
// secret (SHOP_TOKEN, DB_PASSWORD).
func sourceSecrets(s *Source, env []envValue) []string {
	var out []string
	for _, e := range env {
		if isSecretOf(s, e) && !slices.Contains(out, e.value) {
			out = append(out, e.value)
		}
	}
	return out
}

// isSecretOf reports whether the value of e is one of s's secrets.
func isSecretOf(s *Source, e envValue) bool {
	urls := map[string]string{"path": s.Path, "bucket": s.Bucket, "endpoint": s.Endpoint}
	for _, k := range urlKeys {
		if v, ok := s.Settings[k].(string); ok {
			urls[k] = v
		}
	}
	var all []string
	for _, v := range urls {
		all = append(all, v)
	}
	all = append(all, stringsIn(s.Settings)...)
	if redact.SecretName(e.name) && anyContains(all, e.value) {
		return true
	}
	for _, k := range requestKeys {
		if anyContains(stringsIn(s.Settings[k]), e.value) {
			return true
		}
	}
	for _, u := range urls {
		if strings.Contains(credentialPart(u), e.value) {
			return true
		}
	}
	return false
}

// credentialPart returns the parts of a URL where credentials travel: its
// user information, query and fragment, joined.
func credentialPart(u string) string {
	var parts []string
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			parts = append(parts, rest[:at])
		}
	}
	if q := strings.IndexAny(rest, "?#"); q >= 0 {
		parts = append(parts, rest[q:])
	}
	return strings.Join(parts, "\n")
}

// stringsIn returns the text of every scalar in v, a value of Settings,
// and of every key of its mappings.
func stringsIn(v any) []string {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for k, e := range x {
			out = append(out, k)
			out = append(out, stringsIn(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringsIn(e)...)
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

func anyContains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
