package postgres

import (
	"bytes"
	"errors"
	"math"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// This file reads JSON the way shp's DuckDB warehouse does (DuckDB reads
// JSON with yyjson): the text a JSON value becomes in a VARCHAR column,
// which JSON text the JSON type accepts (NaN, Infinity and a trailing
// comma included), and how it writes JSON back (minified, numbers
// normalised).

// jsonStyle says how rewriteJSON writes what it reads.
type jsonStyle uint8

const (
	// styleDuck writes JSON as DuckDB's yyjson writes a value it read:
	// minified, integers canonical, other numbers as doubles.
	styleDuck jsonStyle = iota
	// stylePG writes JSON PostgreSQL's jsonb accepts: minified, numbers
	// as written, no trailing commas; NaN, Infinity and \u0000 (which
	// jsonb cannot hold) are errors.
	stylePG
)

var (
	errJSON       = errors.New("invalid JSON")
	errJSONNaN    = errors.New("PostgreSQL's jsonb holds no NaN or Infinity")
	errJSONNul    = errors.New("PostgreSQL's jsonb holds no \\u0000")
	errJSONDepth  = errors.New("JSON nested too deeply")
	maxJSONNested = 1000
)

type jsonRewriter struct {
	src     []byte
	pos     int
	out     []byte
	style   jsonStyle
	lenient bool // NaN, Infinity and trailing commas, as DuckDB's JSON type
	depth   int
	noOut   bool // validate and skip, write nothing
}

// rewriteJSON reads one JSON text (white space around it allowed) and
// appends it to dst in the style.
func rewriteJSON(dst []byte, src string, style jsonStyle, lenient bool) ([]byte, error) {
	r := jsonRewriter{src: []byte(src), out: dst, style: style, lenient: lenient}
	r.space()
	if err := r.value(); err != nil {
		return dst, err
	}
	r.space()
	if r.pos != len(r.src) {
		return dst, errJSON
	}
	return r.out, nil
}

// validJSON is DuckDB's TRY_CAST(text AS JSON) test.
func validJSON(s string) bool {
	r := jsonRewriter{src: []byte(s), lenient: true, style: styleDuck, noOut: true}
	r.space()
	if r.pos == len(r.src) {
		return false
	}
	if r.skip() != nil {
		return false
	}
	r.space()
	return r.pos == len(r.src)
}

func (r *jsonRewriter) space() {
	for r.pos < len(r.src) {
		switch r.src[r.pos] {
		case ' ', '\t', '\n', '\r':
			r.pos++
		default:
			return
		}
	}
}

// skip validates a value without writing it.
func (r *jsonRewriter) skip() error {
	was := r.noOut
	r.noOut = true
	err := r.value()
	r.noOut = was
	return err
}

// put appends to the output unless the rewriter only validates.
func (r *jsonRewriter) put(b ...byte) {
	if !r.noOut {
		r.out = append(r.out, b...)
	}
}

func (r *jsonRewriter) putString(s string) {
	if !r.noOut {
		r.out = append(r.out, s...)
	}
}

func (r *jsonRewriter) value() error {
	if r.pos >= len(r.src) {
		return errJSON
	}
	switch c := r.src[r.pos]; {
	case c == '{':
		return r.container('{', '}', true)
	case c == '[':
		return r.container('[', ']', false)
	case c == '"':
		s, err := r.str()
		if err != nil {
			return err
		}
		if r.style == stylePG && strings.IndexByte(s, 0) >= 0 {
			return errJSONNul
		}
		if !r.noOut {
			r.out = appendJSONString(r.out, s)
		}
		return nil
	case c == 't':
		return r.word("true")
	case c == 'f':
		return r.word("false")
	case c == 'n' || c == 'N' || c == 'i' || c == 'I':
		if c == 'n' && bytes.HasPrefix(r.src[r.pos:], []byte("null")) {
			return r.word("null")
		}
		return r.special(false)
	case c == '-' || isDigit(c):
		if c == '-' && r.pos+1 < len(r.src) && (r.src[r.pos+1]|0x20 == 'i' || r.src[r.pos+1]|0x20 == 'n') {
			r.pos++
			return r.special(true)
		}
		return r.number()
	}
	return errJSON
}

// special reads NaN or Infinity (any case; "inf" too), which DuckDB's
// JSON type accepts.
func (r *jsonRewriter) special(neg bool) error {
	if !r.lenient {
		return errJSON
	}
	rest := strings.ToLower(string(r.src[r.pos:min(len(r.src), r.pos+8)]))
	var word string
	switch {
	case strings.HasPrefix(rest, "infinity"):
		word = string(r.src[r.pos : r.pos+8])
	case strings.HasPrefix(rest, "inf"):
		word = string(r.src[r.pos : r.pos+3])
	case strings.HasPrefix(rest, "nan"):
		word = string(r.src[r.pos : r.pos+3])
	default:
		return errJSON
	}
	r.pos += len(word)
	if r.style == stylePG {
		return errJSONNaN
	}
	if neg {
		r.put('-')
	}
	r.putString(word)
	return nil
}

func (r *jsonRewriter) word(w string) error {
	if !bytes.HasPrefix(r.src[r.pos:], []byte(w)) {
		return errJSON
	}
	r.pos += len(w)
	r.putString(w)
	return nil
}

func (r *jsonRewriter) container(open, close byte, object bool) error {
	r.depth++
	if r.depth > maxJSONNested {
		return errJSONDepth
	}
	defer func() { r.depth-- }()
	r.pos++
	r.put(open)
	r.space()
	if r.pos < len(r.src) && r.src[r.pos] == close {
		r.pos++
		r.put(close)
		return nil
	}
	for first := true; ; first = false {
		if !first {
			r.put(',')
		}
		if object {
			if r.pos >= len(r.src) || r.src[r.pos] != '"' {
				return errJSON
			}
			k, err := r.str()
			if err != nil {
				return err
			}
			if r.style == stylePG && strings.IndexByte(k, 0) >= 0 {
				return errJSONNul
			}
			if !r.noOut {
				r.out = appendJSONString(r.out, k)
			}
			r.space()
			if r.pos >= len(r.src) || r.src[r.pos] != ':' {
				return errJSON
			}
			r.pos++
			r.put(':')
			r.space()
		}
		if err := r.value(); err != nil {
			return err
		}
		r.space()
		if r.pos >= len(r.src) {
			return errJSON
		}
		switch r.src[r.pos] {
		case ',':
			r.pos++
			r.space()
			if r.lenient && r.pos < len(r.src) && r.src[r.pos] == close {
				r.pos++
				r.put(close)
				return nil
			}
		case close:
			r.pos++
			r.put(close)
			return nil
		default:
			return errJSON
		}
	}
}

// str reads a string and returns its value.
func (r *jsonRewriter) str() (string, error) {
	r.pos++
	start := r.pos
	// Fast path: no escapes.
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		if c == '"' {
			s := r.src[start:r.pos]
			r.pos++
			if !utf8.Valid(s) {
				return "", errJSON
			}
			return string(s), nil
		}
		if c == '\\' || c < 0x20 {
			break
		}
		r.pos++
	}
	var b []byte
	b = append(b, r.src[start:r.pos]...)
	for r.pos < len(r.src) {
		c := r.src[r.pos]
		switch {
		case c == '"':
			r.pos++
			if !utf8.Valid(b) {
				return "", errJSON
			}
			return string(b), nil
		case c < 0x20:
			return "", errJSON
		case c == '\\':
			r.pos++
			if r.pos >= len(r.src) {
				return "", errJSON
			}
			e := r.src[r.pos]
			r.pos++
			switch e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				u, ok := r.hex4()
				if !ok {
					return "", errJSON
				}
				if utf16.IsSurrogate(rune(u)) {
					if u >= 0xDC00 || r.pos+6 > len(r.src) || r.src[r.pos] != '\\' || r.src[r.pos+1] != 'u' {
						return "", errJSON
					}
					r.pos += 2
					lo, ok := r.hex4()
					if !ok || lo < 0xDC00 || lo > 0xDFFF {
						return "", errJSON
					}
					b = utf8.AppendRune(b, utf16.DecodeRune(rune(u), rune(lo)))
				} else {
					b = utf8.AppendRune(b, rune(u))
				}
			default:
				return "", errJSON
			}
		default:
			b = append(b, c)
			r.pos++
		}
	}
	return "", errJSON
}

func (r *jsonRewriter) hex4() (uint32, bool) {
	if r.pos+4 > len(r.src) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(r.src[r.pos:r.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	r.pos += 4
	return uint32(v), true
}

// number reads a JSON number and writes it in the style.
func (r *jsonRewriter) number() error {
	start := r.pos
	if r.src[r.pos] == '-' {
		r.pos++
	}
	if r.pos >= len(r.src) {
		return errJSON
	}
	if r.src[r.pos] == '0' {
		r.pos++
	} else if isDigit(r.src[r.pos]) {
		for r.pos < len(r.src) && isDigit(r.src[r.pos]) {
			r.pos++
		}
	} else {
		return errJSON
	}
	real := false
	if r.pos < len(r.src) && r.src[r.pos] == '.' {
		real = true
		r.pos++
		d := r.pos
		for r.pos < len(r.src) && isDigit(r.src[r.pos]) {
			r.pos++
		}
		if r.pos == d {
			return errJSON
		}
	}
	if r.pos < len(r.src) && (r.src[r.pos] == 'e' || r.src[r.pos] == 'E') {
		real = true
		r.pos++
		if r.pos < len(r.src) && (r.src[r.pos] == '+' || r.src[r.pos] == '-') {
			r.pos++
		}
		d := r.pos
		for r.pos < len(r.src) && isDigit(r.src[r.pos]) {
			r.pos++
		}
		if r.pos == d {
			return errJSON
		}
	}
	if r.noOut {
		return nil
	}
	lit := string(r.src[start:r.pos])
	if r.style == stylePG {
		r.out = append(r.out, lit...)
		return nil
	}
	r.out = appendDuckNumber(r.out, lit, real, false)
	return nil
}

// appendDuckNumber writes a JSON number literal as DuckDB does after
// reading it: integers that fit 64 bits canonically, larger ones as
// written; other numbers as a double (yyjson's layout, or with top,
// DuckDB's VARCHAR of a DOUBLE), as written when the double overflows.
func appendDuckNumber(dst []byte, lit string, real, top bool) []byte {
	if !real {
		if v, err := strconv.ParseInt(lit, 10, 64); err == nil {
			return strconv.AppendInt(dst, v, 10)
		}
		if v, err := strconv.ParseUint(lit, 10, 64); err == nil {
			return strconv.AppendUint(dst, v, 10)
		}
		return append(dst, lit...)
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil && math.IsInf(f, 0) {
		return append(dst, lit...)
	}
	if top {
		return appendDuckDouble(dst, f)
	}
	return appendYYDouble(dst, f)
}

// appendYYDouble writes a double as yyjson does: the shortest digits
// that read back the same, fixed notation from 1e-6 to below 1e21 (a
// whole number with ".0"), else d.ddde-7 without a plus sign.
func appendYYDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return appendDouble(dst, f, -6, 21, false)
}

// appendDuckDouble writes a double as DuckDB's CAST(double AS VARCHAR):
// the shortest digits, fixed notation from 1e-4 to below 1e16 (a whole
// number with ".0"), else d.ddde±XX with at least two exponent digits;
// inf, -inf and nan.
func appendDuckDouble(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f) && math.Signbit(f):
		return append(dst, "-nan"...)
	case math.IsNaN(f):
		return append(dst, "nan"...)
	case math.IsInf(f, 1):
		return append(dst, "inf"...)
	case math.IsInf(f, -1):
		return append(dst, "-inf"...)
	}
	return appendDouble(dst, f, -4, 16, true)
}

func appendDouble(dst []byte, f float64, minExp, maxExp int, plusExp bool) []byte {
	sci := strconv.AppendFloat(nil, f, 'e', -1, 64) // -d.ddde±XX
	neg := sci[0] == '-'
	if neg {
		sci = sci[1:]
	}
	mant, expPart, _ := strings.Cut(string(sci), "e")
	exp, _ := strconv.Atoi(expPart)
	digits := strings.Replace(mant, ".", "", 1)
	if neg {
		dst = append(dst, '-')
	}
	if exp >= minExp && exp < maxExp {
		if exp < 0 {
			dst = append(dst, "0."...)
			for i := 0; i < -exp-1; i++ {
				dst = append(dst, '0')
			}
			return append(dst, digits...)
		}
		if len(digits) <= exp+1 {
			dst = append(dst, digits...)
			for i := len(digits); i < exp+1; i++ {
				dst = append(dst, '0')
			}
			return append(dst, ".0"...)
		}
		dst = append(dst, digits[:exp+1]...)
		dst = append(dst, '.')
		return append(dst, digits[exp+1:]...)
	}
	dst = append(dst, digits[0])
	if len(digits) > 1 {
		dst = append(dst, '.')
		dst = append(dst, digits[1:]...)
	}
	dst = append(dst, 'e')
	if exp < 0 {
		dst = append(dst, '-')
		exp = -exp
	} else if plusExp {
		dst = append(dst, '+')
	}
	if plusExp && exp < 10 {
		dst = append(dst, '0')
	}
	return strconv.AppendInt(dst, int64(exp), 10)
}

// appendJSONString writes s as a JSON string, escaped as yyjson escapes:
// quote, backslash and control characters (\n, \t ... or \u001F);
// everything else as it is.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		default:
			const hex = "0123456789ABCDEF"
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// jsonKind is the type of a JSON value, from its first byte.
type jsonKind uint8

const (
	jsNull jsonKind = iota
	jsBool
	jsInt
	jsReal
	jsString
	jsObject
	jsArray
)

// jsonMember is one top-level member of a record.
type jsonMember struct {
	key  string
	raw  string // the value's JSON text
	kind jsonKind
}

// splitObject reads the members of a JSON object (valid JSON, as
// format.NormalizeJSON passes on) without decoding nested values.
func splitObject(b []byte, members []jsonMember) ([]jsonMember, error) {
	r := jsonRewriter{src: b, lenient: false}
	r.space()
	if r.pos >= len(b) || b[r.pos] != '{' {
		return members, errJSON
	}
	r.pos++
	r.space()
	if r.pos < len(b) && b[r.pos] == '}' {
		return members, nil
	}
	for {
		r.space()
		if r.pos >= len(b) || b[r.pos] != '"' {
			return members, errJSON
		}
		k, err := r.str()
		if err != nil {
			return members, err
		}
		r.space()
		if r.pos >= len(b) || b[r.pos] != ':' {
			return members, errJSON
		}
		r.pos++
		r.space()
		start := r.pos
		if err := r.skip(); err != nil {
			return members, err
		}
		raw := string(b[start:r.pos])
		members = append(members, jsonMember{key: k, raw: raw, kind: kindOf(raw)})
		r.space()
		if r.pos >= len(b) {
			return members, errJSON
		}
		if b[r.pos] == ',' {
			r.pos++
			continue
		}
		if b[r.pos] == '}' {
			return members, nil
		}
		return members, errJSON
	}
}

func kindOf(raw string) jsonKind {
	switch raw[0] {
	case 'n':
		return jsNull
	case 't', 'f':
		return jsBool
	case '"':
		return jsString
	case '{':
		return jsObject
	case '[':
		return jsArray
	}
	if strings.ContainsAny(raw, ".eE") {
		return jsReal
	}
	return jsInt
}

// jsonText is the text DuckDB's JSON reader gives a value read into a
// VARCHAR column: a string's value, a number as a number's text, a nested
// value minified; false for null.
func jsonText(m jsonMember) (string, bool) {
	switch m.kind {
	case jsNull:
		return "", false
	case jsString:
		r := jsonRewriter{src: []byte(m.raw)}
		s, err := r.str()
		if err != nil {
			return m.raw, true
		}
		return s, true
	case jsBool:
		return m.raw, true
	case jsInt, jsReal:
		return string(appendDuckNumber(nil, m.raw, m.kind == jsReal, true)), true
	}
	out, err := rewriteJSON(nil, m.raw, styleDuck, false)
	if err != nil {
		return m.raw, true
	}
	return string(out), true
}
