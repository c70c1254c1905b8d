package format

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"

	farm "github.com/dgryski/go-farm"
)

// JSONProfile is what shp saw of a JSON Lines object's records while it
// copied it: each top-level member's name (in first-seen order), the
// kinds of its values and a fingerprint of their text. An engine that
// loads the object itself (BigQuery's load job from gs://) checks its
// own reading against it, so that a value it reads differently from shp
// (a number's text, an escape) is caught rather than loaded.
//
// It is an io.Writer of NormalizeJSON's output: one record per line,
// with the spliced line number, which it leaves out.
type JSONProfile struct {
	// Records is how many records it read.
	Records int64
	// Members are the records' top-level members in first-seen order.
	Members []*JSONMember
	// Repeated says a record held a member twice (which reading wins
	// is the reader's choice).
	Repeated bool
	// Unreadable says a record could not be profiled (never expected of
	// NormalizeJSON's output): the profile then vouches for nothing.
	Unreadable bool
	index      map[string]*JSONMember
	buf        []byte
}

// JSONMember is one top-level member of a JSON Lines object's records.
type JSONMember struct {
	Name string
	// Kinds of the values it held.
	Strings, Integers, Floats, Booleans, Nested bool
	// Values counts its values that are not null.
	Values int64
	// Bytes is the total length of their text (JSONText).
	Bytes int64
	// Fingerprint is the XOR of their texts' FarmHash Fingerprint64
	// (BigQuery's FARM_FINGERPRINT).
	Fingerprint int64
}

// Write implements io.Writer: it profiles each complete line. It never
// fails, so that profiling never stops a copy; see Unreadable.
func (p *JSONProfile) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := bytes.IndexByte(p.buf, '\n')
		if i < 0 {
			break
		}
		if !p.add(p.buf[:i]) {
			p.Unreadable = true
		}
		p.buf = p.buf[i+1:]
	}
	if len(p.buf) == 0 {
		p.buf = nil // let a long record's buffer go
	}
	return len(b), nil
}

// add profiles one record; false when it is not a JSON object.
func (p *JSONProfile) add(line []byte) bool {
	if len(bytes.TrimSpace(line)) == 0 {
		return true
	}
	if p.index == nil {
		p.index = map[string]*JSONMember{}
	}
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return false
	}
	seen := map[string]bool{}
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return false
		}
		name, _ := t.(string)
		var v json.RawMessage
		if err := d.Decode(&v); err != nil {
			return false
		}
		if name == LineField {
			continue
		}
		if seen[name] {
			p.Repeated = true
		}
		seen[name] = true
		m := p.index[name]
		if m == nil {
			m = &JSONMember{Name: name}
			p.index[name] = m
			p.Members = append(p.Members, m)
		}
		text, kind, null := JSONText(v)
		if null {
			continue
		}
		switch kind {
		case 's':
			m.Strings = true
		case 'i':
			m.Integers = true
		case 'f':
			m.Floats = true
		case 'b':
			m.Booleans = true
		default:
			m.Nested = true
		}
		m.Values++
		m.Bytes += int64(len(text))
		m.Fingerprint ^= int64(farm.Fingerprint64([]byte(text)))
	}
	p.Records++
	return true
}

var _ io.Writer = (*JSONProfile)(nil)

// JSONText is a JSON value's text as shp reads it into a column: a
// string's content, a number's literal, true or false, an object's or
// array's compact JSON (members sorted by name). kind is 's', 'i', 'f',
// 'b' or 'n' (nested); null is true for null or no value.
func JSONText(v json.RawMessage) (text string, kind byte, null bool) {
	t := strings.TrimSpace(string(v))
	switch {
	case t == "" || t == "null":
		return "", 0, true
	case t[0] == '"':
		var s string
		if err := json.Unmarshal([]byte(t), &s); err != nil {
			return t, 's', false
		}
		return s, 's', false
	case t == "true" || t == "false":
		return t, 'b', false
	case t[0] == '{' || t[0] == '[':
		var x any
		d := json.NewDecoder(strings.NewReader(t))
		d.UseNumber()
		if d.Decode(&x) == nil {
			b, _ := json.Marshal(x)
			return string(b), 'n', false
		}
		return t, 'n', false
	}
	if strings.ContainsAny(t, ".eE") {
		return t, 'f', false
	}
	return t, 'i', false
}
