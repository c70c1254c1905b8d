package params

import (
	"net/url"
	"strings"
)

// URL places parameters in a URL template: a {{params.NAME}} in the path
// must get a value that is one segment (CheckSegment), which is then
// path-escaped; one in the query string is query-escaped, so that it
// stays the value (or name) it stands for. A reference in the scheme, the
// host, the user information or the fragment is an *Error: a parameter
// never chooses where a request goes. value returns a parameter's text.
func URL(tmpl string, value func(name string) (string, error)) (string, error) {
	pathStart := 0
	if i := strings.Index(tmpl, "://"); i >= 0 {
		rest := tmpl[i+3:]
		pathStart = i + 3 + len(rest)
		if j := strings.IndexAny(rest, "/?#"); j >= 0 {
			pathStart = i + 3 + j
		}
	}
	queryStart, fragStart := len(tmpl), len(tmpl)
	if j := strings.IndexByte(tmpl[pathStart:], '#'); j >= 0 {
		fragStart = pathStart + j
	}
	if j := strings.IndexByte(tmpl[pathStart:fragStart], '?'); j >= 0 {
		queryStart = pathStart + j
	} else {
		queryStart = fragStart
	}
	for _, part := range []struct{ text, what string }{{tmpl[:pathStart], "scheme or host"}, {tmpl[fragStart:], "fragment"}} {
		if refs := Refs(part.text); len(refs) > 0 {
			return "", Errorf(refs[0], "stands in the %s of the URL %q: a parameter may only stand in its path or its query string",
				part.what, tmpl)
		}
	}
	path, err := Replace(tmpl[pathStart:queryStart], func(name string) (string, error) {
		v, err := value(name)
		if err != nil {
			return "", err
		}
		if err := CheckSegment(v); err != nil {
			return "", &Error{Name: name, Msg: err.Error()}
		}
		return url.PathEscape(v), nil
	})
	if err != nil {
		return "", err
	}
	query, err := Replace(tmpl[queryStart:fragStart], func(name string) (string, error) {
		v, err := value(name)
		if err != nil {
			return "", err
		}
		return url.QueryEscape(v), nil
	})
	if err != nil {
		return "", err
	}
	return tmpl[:pathStart] + path + query + tmpl[fragStart:], nil
}
