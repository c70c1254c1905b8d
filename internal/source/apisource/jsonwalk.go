package apisource

import (
	"encoding/json"
	"fmt"
	"strings"
)

// walker reads a JSON document as a stream, handing the values at the
// paths it is interested in to their handlers and skipping the rest, so
// that a response of any size is read with bounded memory (a single
// record, or a skipped value, is the largest thing held).
type walker struct {
	dec *json.Decoder
	// handlers by dotted path ("" is the document itself).
	handlers map[string]func(dec *json.Decoder) error
	// seen says what was found at each path the walker went through
	// without a handler (an object by its keys, a list, a scalar's kind),
	// to say what a response holds when a path is missing.
	seen map[string]string
}

func (w *walker) note(path, what string) {
	if w.seen == nil {
		w.seen = map[string]string{}
	}
	w.seen[path] = what
}

func (w *walker) interested(path string) bool {
	for p := range w.handlers {
		if p == path || path == "" || strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// walk reads one value at path.
func (w *walker) walk(path string) error {
	if h, ok := w.handlers[path]; ok {
		return h(w.dec)
	}
	if !w.interested(path) {
		var skip json.RawMessage
		return w.dec.Decode(&skip)
	}
	tok, err := w.dec.Token()
	if err != nil {
		return err
	}
	d, ok := tok.(json.Delim)
	if !ok || d != '{' {
		if ok && d == '[' { // an array where an object was expected: skip it
			w.note(path, "a list")
			for w.dec.More() {
				var skip json.RawMessage
				if err := w.dec.Decode(&skip); err != nil {
					return err
				}
			}
			_, err = w.dec.Token()
			return err
		}
		w.note(path, describeToken(tok))
		return nil
	}
	var keys []string
	for w.dec.More() {
		kt, err := w.dec.Token()
		if err != nil {
			return err
		}
		key, _ := kt.(string)
		keys = append(keys, key)
		child := key
		if path != "" {
			child = path + "." + key
		}
		if err := w.walk(child); err != nil {
			return err
		}
	}
	_, err = w.dec.Token() // '}'
	w.note(path, objectWithKeys(keys))
	return err
}

// streamArray calls fn for each element of the array at the decoder's
// position; null is an empty array. Anything else is a shapeProblem that
// says what it is.
func streamArray(dec *json.Decoder, fn func(json.RawMessage) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok == nil {
		return nil
	}
	if d, ok := tok.(json.Delim); !ok || d != '[' {
		what, err := describeValue(dec, tok)
		if err != nil {
			return err
		}
		return &shapeProblem{holds: what + ", not a list of records"}
	}
	for dec.More() {
		var rec json.RawMessage
		if err := dec.Decode(&rec); err != nil {
			return err
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
	_, err = dec.Token()
	return err
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case nil:
		return "null"
	case json.Delim:
		if t == '{' {
			return "an object"
		}
		if t == '[' {
			return "a list"
		}
		return string(t)
	case string:
		return "a string"
	case float64, json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprint(tok)
}

// lookup finds a dotted path in a decoded document.
func lookup(doc any, path string) (any, bool) {
	if path == "" {
		return doc, true
	}
	cur := doc
	for _, seg := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return cur, true
}

// flatten turns nested objects into parent_child keys; lists stay values.
func flatten(prefix string, in map[string]any, out map[string]any) {
	for k, v := range in {
		key := k
		if prefix != "" {
			key = prefix + "_" + k
		}
		if m, ok := v.(map[string]any); ok && len(m) > 0 {
			flatten(key, m, out)
			continue
		}
		out[key] = v
	}
}
