package apisource

import (
	"bufio"
	"encoding/json"
	"fmt"
	"mime"
	"sort"
	"strconv"
	"strings"

	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/source"
)

// ShapeError is a response whose shape is not the one the source's
// settings read: no value at records_path (the API's envelope changed, or
// records_path is wrong), a body that is not JSON (an HTML page with
// status 200), or records that are not a list of objects. Retrying cannot
// fix it: it wraps source.ErrResponseShape and resilience.ErrPermanent,
// so the extraction fails on its first attempt.
type ShapeError struct {
	Page   int    // the page, from 1
	Method string // the request's method
	// Path is the request URL's path: never its query, which may hold
	// credentials.
	Path string
	// RecordsPath is the configured records_path ("" for the body itself).
	RecordsPath string
	// Found says what the response holds instead, e.g. its top-level keys.
	Found string
}

// Error names the page, the request's path, records_path and what was
// found instead.
func (e *ShapeError) Error() string {
	return fmt.Sprintf("page %d (%s %s): %v: %s", e.Page, e.Method, e.Path, source.ErrResponseShape, e.Found)
}

// Unwrap makes errors.Is find source.ErrResponseShape and
// resilience.ErrPermanent.
func (e *ShapeError) Unwrap() []error {
	return []error{source.ErrResponseShape, resilience.ErrPermanent}
}

// shapeProblem is what a reader of the records found where a list of
// records should be; page turns it into a ShapeError.
type shapeProblem struct{ holds string }

func (p *shapeProblem) Error() string { return "records_path holds " + p.holds }

// recordsName names records_path for messages.
func recordsName(path string) string {
	if path == "" {
		return "the body (records_path is empty)"
	}
	return fmt.Sprintf("records_path %q", path)
}

// maxKeys is how many keys a message lists.
const maxKeys = 12

// keyList lists an object's keys, sorted, the first maxKeys of them.
func keyList(keys []string) string {
	keys = append([]string(nil), keys...)
	sort.Strings(keys)
	more := ""
	if len(keys) > maxKeys {
		more = fmt.Sprintf(" and %d more", len(keys)-maxKeys)
		keys = keys[:maxKeys]
	}
	quoted := make([]string, len(keys))
	for i, k := range keys {
		if len(k) > 40 {
			k = k[:40] + "..."
		}
		quoted[i] = strconv.Quote(k)
	}
	return "[" + strings.Join(quoted, ", ") + "]" + more
}

// objectWithKeys describes an object by its keys.
func objectWithKeys(keys []string) string {
	if len(keys) == 0 {
		return "an empty object"
	}
	return "an object with keys " + keyList(keys)
}

// describeValue reads the rest of the value that tok starts and says what
// it is: an object by its keys (its values are skipped one at a time), a
// list, or the kind of a scalar.
func describeValue(dec *json.Decoder, tok json.Token) (string, error) {
	d, ok := tok.(json.Delim)
	if !ok {
		return describeToken(tok), nil
	}
	var keys []string
	for dec.More() {
		if d == '{' {
			kt, err := dec.Token()
			if err != nil {
				return "", err
			}
			k, _ := kt.(string)
			keys = append(keys, k)
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return "", err
		}
	}
	if _, err := dec.Token(); err != nil {
		return "", err
	}
	if d == '{' {
		return objectWithKeys(keys), nil
	}
	return "a list", nil
}

// kindOf names the JSON kind of a decoded value.
func kindOf(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number, float64:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return "a value of another kind"
}

// missingFound says what a response without records_path holds instead:
// what the walker found at the longest part of records_path that exists
// (the top-level keys when none does).
func missingFound(recordsPath string, seen map[string]string) string {
	segs := strings.Split(recordsPath, ".")
	for i := len(segs) - 1; i >= 0; i-- {
		prefix := strings.Join(segs[:i], ".")
		what, ok := seen[prefix]
		if !ok {
			continue
		}
		if prefix == "" {
			if strings.HasPrefix(what, "an object with keys ") {
				return "its top-level keys are " + strings.TrimPrefix(what, "an object with keys ")
			}
			return "the body is " + what
		}
		return fmt.Sprintf("%q is %s", prefix, what)
	}
	return "nothing readable"
}

// utf8BOM starts some JSON bodies; the decoder does not read it.
const utf8BOM = "\xef\xbb\xbf"

// sniffJSON looks at the start of a body: it skips white space and a
// UTF-8 byte-order mark, and returns what the body is when it cannot be a
// JSON object or list (an HTML page, text), "" otherwise. An empty body
// returns "" and fails in the reader as before.
func sniffJSON(br *bufio.Reader, contentType string) string {
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		br.Discard(len(utf8BOM))
	}
	for {
		b, err := br.Peek(1)
		if err != nil {
			return ""
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			br.Discard(1)
			continue
		case '{', '[':
			return ""
		}
		ct := "none"
		if contentType != "" {
			ct = contentType
			if mt, _, err := mime.ParseMediaType(contentType); err == nil {
				ct = mt
			}
		}
		if b[0] == '<' {
			if strings.Contains(ct, "html") {
				return fmt.Sprintf("an HTML page (Content-Type %s), not JSON", ct)
			}
			return fmt.Sprintf("markup, not JSON (Content-Type %s, the body starts with '<')", ct)
		}
		return fmt.Sprintf("a body that is not a JSON object or list (Content-Type %s, it starts with %q)", ct, rune(b[0]))
	}
}
