// Package params types and checks the parameters a run is triggered with,
// and places them where a source refers to them as {{params.NAME}} so
// that no value can change the structure of what it lands in: a value is
// bound as a query parameter in SQL (BindSQL), stands as one escaped
// segment in a path (CheckSegment, URL) and is query-escaped in a URL's
// query string (URL).
//
// A source may declare its parameters with a type (Decl). A value is
// parsed by its declaration (Decl.Parse); a parameter of a source that
// declares none is a string of letters, digits and . _ : - (Undeclared).
package params

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Type is a declared parameter's type.
type Type string

// The types a parameter may be declared with.
const (
	// String is any text without control characters, at most MaxLen
	// bytes, matching the declaration's pattern when it has one.
	String Type = "string"
	// Int is a 64-bit integer, such as 42 or -7.
	Int Type = "int"
	// Float is a finite number, such as 1.5 or 2e-3.
	Float Type = "float"
	// Bool is true or false.
	Bool Type = "bool"
	// Date is a calendar date, YYYY-MM-DD.
	Date Type = "date"
	// Timestamp is an instant in RFC 3339, such as 2026-01-02T03:04:05Z.
	Timestamp Type = "timestamp"
)

// Types lists the types, in the order messages name them.
var Types = []Type{String, Int, Float, Bool, Date, Timestamp}

// MaxLen bounds the length of a declared string parameter's value, in
// bytes.
const MaxLen = 1024

// NameRule says what a parameter's name may hold, for messages.
const NameRule = "letters, digits and _, not starting with a digit, at most 64"

var nameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// ValidName reports whether name can name a parameter.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// ParseType returns the type named s (string, int, float, bool, date,
// timestamp).
func ParseType(s string) (Type, error) {
	for _, t := range Types {
		if strings.EqualFold(s, string(t)) {
			return t, nil
		}
	}
	return "", fmt.Errorf("type %q is unknown (%s)", s, typeList())
}

func typeList() string {
	names := make([]string, len(Types))
	for i, t := range Types {
		names[i] = string(t)
	}
	return strings.Join(names, ", ")
}

// Decl declares a parameter of a source.
type Decl struct {
	// Type is the type of the parameter's values.
	Type Type
	// Pattern, for a string, is an RE2 expression that the whole value
	// must match; nil accepts any string.
	Pattern *regexp.Regexp
	// Default is the value of a run whose trigger gives none; it may
	// use the logical date ({{ds}}, {{ts}} ...). HasDefault says whether
	// there is one: without it such a run fails when the source refers
	// to the parameter.
	Default    string
	HasDefault bool
}

// Value is a parameter's value, checked against its type.
type Value struct {
	// Type is the declared type; String for an undeclared parameter.
	Type Type
	// Text is the value's canonical text: a string as given, an integer
	// in decimal without a + or leading zeros, a float in its shortest
	// form, true or false, a date as YYYY-MM-DD and a timestamp in RFC
	// 3339 in UTC.
	Text string
	// Declared says the source declares the parameter (with Type).
	Declared bool
}

// Error is a problem with one parameter.
type Error struct {
	// Name is the parameter's name.
	Name string
	// Msg says what is wrong, without the name.
	Msg string
}

// Error returns "parameter NAME MSG".
func (e *Error) Error() string { return "parameter " + e.Name + " " + e.Msg }

// Errorf returns an *Error about the parameter name.
func Errorf(name, format string, args ...any) *Error {
	return &Error{Name: name, Msg: fmt.Sprintf(format, args...)}
}

// undeclaredRE is what the value of an undeclared parameter may hold.
var undeclaredRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{0,128}$`)

// UndeclaredRule says what an undeclared parameter's value may hold, for
// messages.
const UndeclaredRule = "letters, digits and . _ : - only (at most 128)"

// Undeclared checks the value of a parameter that its source does not
// declare: a string of letters, digits and . _ : -, at most 128.
func Undeclared(raw string) (Value, error) {
	if !undeclaredRE.MatchString(raw) {
		return Value{}, fmt.Errorf("may hold %s, got %q", UndeclaredRule, raw)
	}
	return Value{Type: String, Text: raw}, nil
}

// Parse checks raw against the declaration and returns its value. The
// error says what is wrong, without naming the parameter.
func (d Decl) Parse(raw string) (Value, error) {
	v := Value{Type: d.Type, Declared: true}
	switch d.Type {
	case String:
		if err := checkText(raw); err != nil {
			return Value{}, err
		}
		if d.Pattern != nil && !fullMatch(d.Pattern, raw) {
			return Value{}, fmt.Errorf("must match the pattern %s, got %q", d.Pattern, raw)
		}
		v.Text = raw
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("must be an integer (int), got %q", raw)
		}
		v.Text = strconv.FormatInt(n, 10)
	case Float:
		f, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) || strings.ContainsAny(raw, "xXpP_") {
			return Value{}, fmt.Errorf("must be a finite number (float), got %q", raw)
		}
		v.Text = strconv.FormatFloat(f, 'g', -1, 64)
	case Bool:
		switch strings.ToLower(raw) {
		case "true":
			v.Text = "true"
		case "false":
			v.Text = "false"
		default:
			return Value{}, fmt.Errorf("must be true or false (bool), got %q", raw)
		}
	case Date:
		t, err := time.Parse(time.DateOnly, raw)
		if err != nil {
			return Value{}, fmt.Errorf("must be a date YYYY-MM-DD (date), got %q", raw)
		}
		v.Text = t.Format(time.DateOnly)
	case Timestamp:
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return Value{}, fmt.Errorf("must be an RFC 3339 timestamp such as 2026-01-02T03:04:05Z (timestamp), got %q", raw)
		}
		v.Text = t.UTC().Format(time.RFC3339Nano)
	default:
		return Value{}, fmt.Errorf("has type %q, which is unknown (%s)", d.Type, typeList())
	}
	return v, nil
}

// JSON returns the value as JSON has it: an int or a float as a number,
// a bool as true or false, and the rest as its text.
func (v Value) JSON() any {
	switch v.Type {
	case Int:
		if n, err := strconv.ParseInt(v.Text, 10, 64); err == nil {
			return n
		}
	case Float:
		if f, err := strconv.ParseFloat(v.Text, 64); err == nil {
			return f
		}
	case Bool:
		return v.Text == "true"
	}
	return v.Text
}

// Time returns a date's or timestamp's value as a time in UTC.
func (v Value) Time() (time.Time, bool) {
	switch v.Type {
	case Date:
		t, err := time.Parse(time.DateOnly, v.Text)
		return t, err == nil
	case Timestamp:
		t, err := time.Parse(time.RFC3339Nano, v.Text)
		return t.UTC(), err == nil
	}
	return time.Time{}, false
}

// fullMatch reports whether re matches the whole of s, whether or not the
// expression is anchored.
func fullMatch(re *regexp.Regexp, s string) bool {
	anchored, err := regexp.Compile(`^(?:` + re.String() + `)$`)
	return err == nil && anchored.MatchString(s)
}

// checkText refuses what no parameter may hold: invalid UTF-8, control
// characters (a line break, NUL ...) and more than MaxLen bytes.
func checkText(s string) error {
	switch {
	case len(s) > MaxLen:
		return fmt.Errorf("is longer than %d bytes", MaxLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("is not valid UTF-8")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return fmt.Errorf("holds a control character, got %q", s)
	}
	return nil
}

// refRE matches {{params.NAME}}, with or without a space inside the
// braces.
var refRE = regexp.MustCompile(`\{\{ ?params\.([A-Za-z_][A-Za-z0-9_]*) ?\}\}`)

// Refs returns the parameters s refers to as {{params.NAME}}, in order,
// repeats included.
func Refs(s string) []string {
	var out []string
	for _, m := range refRE.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// refAt returns the name and length of the reference that starts s, or
// ok=false.
func refAt(s string) (name string, n int, ok bool) {
	if !strings.HasPrefix(s, "{{") {
		return "", 0, false
	}
	loc := refRE.FindStringSubmatchIndex(s)
	if loc == nil || loc[0] != 0 {
		return "", 0, false
	}
	return s[loc[2]:loc[3]], loc[1], true
}

// Only returns the parameter s is a reference to, and false when s is
// anything else than one {{params.NAME}}.
func Only(s string) (string, bool) {
	name, n, ok := refAt(s)
	return name, ok && n == len(s)
}

// Replace returns s with each {{params.NAME}} replaced by what f returns
// for NAME; the first error of f stops it.
func Replace(s string, f func(name string) (string, error)) (string, error) {
	var b strings.Builder
	last := 0
	for _, m := range refRE.FindAllStringSubmatchIndex(s, -1) {
		v, err := f(s[m[2]:m[3]])
		if err != nil {
			return "", err
		}
		b.WriteString(s[last:m[0]])
		b.WriteString(v)
		last = m[1]
	}
	if last == 0 {
		return s, nil
	}
	b.WriteString(s[last:])
	return b.String(), nil
}

// pctRE matches a %-encoded byte, such as %2F.
var pctRE = regexp.MustCompile(`%[0-9A-Fa-f]{2}`)

// CheckSegment says why v cannot stand as one segment of a path (of a
// file or object source, or of a URL), or returns nil: a segment is not
// empty, not . or .., and holds no / or \, no control character, no glob
// character (* ? [ ]) and no %-encoding.
func CheckSegment(v string) error {
	switch {
	case v == "":
		return fmt.Errorf("is empty, which no path segment may be")
	case v == "." || v == "..":
		return fmt.Errorf("is %q, which would climb out of its folder: a parameter in a path must be a single segment", v)
	case strings.ContainsAny(v, `/\`):
		return fmt.Errorf("holds a / or \\: a parameter in a path must be a single segment, got %q", v)
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fmt.Errorf("holds a control character, got %q", v)
	case strings.ContainsAny(v, "*?[]"):
		return fmt.Errorf("holds a glob character (* ? [ ]), which would change the objects the path matches, got %q", v)
	case pctRE.MatchString(v):
		return fmt.Errorf("holds a %%-encoding (such as %%2F), which a path segment may not, got %q", v)
	}
	return nil
}
