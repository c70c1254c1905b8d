package postgres

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/shp-dev/shp/internal/warehouse"
)

// This file is shp's conversion of a value's text into its column's
// type, in one place for every format: the same rules as the castExpr
// and parseExpr of shp's DuckDB warehouse, so that a value loads, or
// is set aside, in PostgreSQL exactly as it does in DuckDB:
//
//   - integers: DuckDB's integer syntax (white space, sign, "1_000",
//     "0x1F", exponents), and text with a '.' only when it is a whole
//     number ("2.0", never "2.5");
//   - floats: "1e400" overflows and is set aside, "inf", "Infinity" and
//     "NaN" load;
//   - decimals: a value with more decimals than the column's scale is set
//     aside, never rounded ("1.230" fits 2 decimals, "1.234" does not);
//     in exponent notation it fits when its double reads the same;
//   - dates and timestamps: ISO 8601 as DuckDB reads it, then the layouts
//     of dateFormats (and with MonthFirst, monthFirstFormats);
//   - a repair's ColumnParse (null tokens, layouts, epoch units, decimal
//     commas, thousands separators) as parseExpr applies it.
//
// What PostgreSQL cannot hold (a date before 4714 BC, text with a NUL
// character, NaN in jsonb) is set aside with a reason that says so.

// column is a staging column and how its values are read.
type column struct {
	name       string
	t          colType
	rule       *parseRule // a repair's way of reading it; nil for none
	tokens     []string   // null tokens, trimmed and lower-cased
	monthFirst bool
	// valid says the text is known to be UTF-8 (the CSV reader checked
	// the record).
	valid bool
	// own says shp converts the column's CSV text itself (DuckDB's
	// warehouse reads it as text and converts it with castExpr); false
	// for the types DuckDB's CSV reader converts (VARCHAR, BOOLEAN,
	// TIME, BLOB, JSON, and more for a typed extraction), with a plain
	// cast.
	own bool
	// native says the column is a CSV column DuckDB's reader converts.
	native bool
}

// parseRule is a warehouse.ColumnParse, compiled.
type parseRule struct {
	layouts      []*strpFormat
	epochUnit    float64 // 1, 1000 or 1e6; 0 for none
	decimalComma bool
	thousands    string
}

func compileParse(p warehouse.ColumnParse) (*parseRule, []string, error) {
	var tokens []string
	for _, t := range p.NullTokens {
		tokens = append(tokens, strings.ToLower(trimBlanks(t)))
	}
	if len(p.Layouts) == 0 && p.EpochUnit == "" && !p.DecimalComma && p.Thousands == "" {
		return &parseRule{}, tokens, nil
	}
	r := &parseRule{decimalComma: p.DecimalComma, thousands: p.Thousands}
	if len(p.Layouts) > 0 {
		l, err := compileLayouts(p.Layouts)
		if err != nil {
			return nil, nil, err
		}
		r.layouts = l
	}
	switch p.EpochUnit {
	case "":
	case "s":
		r.epochUnit = 1
	case "ms":
		r.epochUnit = 1000
	case "us":
		r.epochUnit = 1e6
	default:
		return nil, nil, fmt.Errorf("unknown epoch unit %q (s, ms, us)", p.EpochUnit)
	}
	return r, tokens, nil
}

// val is a converted value.
type val struct {
	null  bool
	i     int64   // integers; days (DATE); microseconds (TIMESTAMP, TIME)
	f     float64 // floats
	b     bool
	s     string // text; BYTEA's bytes; JSONB's text as PostgreSQL takes it
	orig  string // JSON's text as read (DuckDB keeps it)
	neg   bool   // decimals: sign, digits, scale
	dig   []byte
	scale int
}

// convert reads s into the column's type. It returns false when the
// value does not convert; detail then says why when PostgreSQL, not the
// conversion, refuses it.
func (c *column) convert(s string, v *val, arena *[]byte) (ok bool, detail string) {
	*v = val{}
	if len(c.tokens) > 0 {
		t := strings.ToLower(trimBlanks(s))
		for _, tok := range c.tokens {
			if t == tok {
				v.null = true
				return true, ""
			}
		}
	}
	if c.rule != nil && (c.rule.layouts != nil || c.rule.epochUnit != 0 || c.rule.decimalComma || c.rule.thousands != "") {
		return c.parsed(s, v, arena)
	}
	if c.t.kind == kText && c.valid && c.t.length == 0 {
		// the common case, checked once per record
		v.s = s
		return true, ""
	}
	if c.native {
		return tryCast(c.t, s, v, arena)
	}
	return castExpr(c.t, s, c.monthFirst, v, arena)
}

// parsed is the DuckDB warehouse's parseExpr: the first alternative that
// reads the text wins.
func (c *column) parsed(s string, v *val, arena *[]byte) (bool, string) {
	r := c.rule
	text := trimBlanks(s)
	if !r.decimalComma && r.thousands == "" {
		if ok, detail := castExpr(c.t, s, false, v, arena); ok || detail != "" {
			return ok, detail
		}
	}
	temporal := c.t.kind == kDate || c.t.kind == kTimestamp || c.t.kind == kTimestamptz || c.t.kind == kTime
	if r.epochUnit != 0 && temporal && epochText(text) {
		if f, ok := castDouble(text, 64); ok {
			var micros int64
			x := f * 1e6 / r.epochUnit
			if c.t.kind == kTimestamptz {
				// to_timestamp(seconds)
				x = math.Round(f / r.epochUnit * 1e6)
			}
			if x >= -9.2e18 && x <= 9.2e18 {
				micros = int64(math.RoundToEven(x))
				if ok, detail := fromTimestamp(c.t, micros, v); ok || detail != "" {
					return ok, detail
				}
			}
		}
	}
	if len(r.layouts) > 0 && temporal {
		if ts, ok := strptimeAny(text, r.layouts); ok {
			if ok, detail := fromTimestamp(c.t, ts, v); ok || detail != "" {
				return ok, detail
			}
		}
	}
	if r.decimalComma {
		t := strings.ReplaceAll(strings.ReplaceAll(text, ".", ""), ",", ".")
		return tryCast(c.t, t, v, arena)
	}
	if r.thousands != "" {
		return tryCast(c.t, strings.ReplaceAll(text, r.thousands, ""), v, arena)
	}
	return false, ""
}

// epochText is DuckDB's regexp_full_match(text, '-?[0-9]+(\.[0-9]+)?').
func epochText(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	d := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i == d {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		f := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		if i == f {
			return false
		}
	}
	return i == len(s)
}

// fromTimestamp casts a timestamp (microseconds since 1970) to a
// temporal type, as TRY_CAST(timestamp AS type) does.
func fromTimestamp(t colType, micros int64, v *val) (bool, string) {
	switch t.kind {
	case kDate:
		switch micros {
		case tsInfinity:
			return dateValue(dateInfinity, v)
		case tsNegInfinity:
			return dateValue(dateNegInf, v)
		}
		return dateValue(floorDiv(micros, microsPerDay), v)
	case kTimestamp, kTimestamptz:
		return timestampValue(micros, v)
	case kTime:
		if micros == tsInfinity || micros == tsNegInfinity {
			return false, ""
		}
		v.i = micros - floorDiv(micros, microsPerDay)*microsPerDay
		return true, ""
	}
	return false, ""
}

func dateValue(days int64, v *val) (bool, string) {
	if days != dateInfinity && days != dateNegInf && (days < pgMinDays || days > pgMaxDays) {
		return false, "outside PostgreSQL's dates (4714 BC to 5874897 AD)"
	}
	v.i = days
	return true, ""
}

func timestampValue(micros int64, v *val) (bool, string) {
	if micros != tsInfinity && micros != tsNegInfinity && micros < pgMinMicros {
		return false, "outside PostgreSQL's timestamps (4714 BC to 294276 AD)"
	}
	v.i = micros
	return true, ""
}

// castExpr is the DuckDB warehouse's castExpr: the declared type's
// strict conversion.
func castExpr(t colType, s string, monthFirst bool, v *val, arena *[]byte) (bool, string) {
	switch t.kind {
	case kInt16, kInt32, kInt64:
		bits := intBits(t.kind)
		if strings.IndexByte(s, '.') < 0 {
			i, ok := castInt(s, bits)
			v.i = i
			return ok, ""
		}
		// A fraction does not convert, a whole number written with a
		// point does ("2.0"), as DuckDB decides it: the HUGEINT and the
		// DOUBLE of the text are equal.
		d, h, ok := castHugeint(s)
		if !ok {
			return false, ""
		}
		f, ok := castDouble(s, 64)
		if !ok || digitsFloat(h, d.neg) != f {
			return false, ""
		}
		i, ok := castInt(s, bits)
		v.i = i
		return ok, ""
	case kFloat64, kFloat32:
		bits := 64
		if t.kind == kFloat32 {
			bits = 32
		}
		f, ok := castDouble(s, bits)
		if !ok {
			return false, ""
		}
		if math.IsInf(f, 0) && !infText(s) {
			return false, ""
		}
		v.f = f
		return true, ""
	case kDecimal:
		if ok, handled := fastDecimal(s, t, v, arena); handled {
			return ok, ""
		}
		text := trimBlanks(s)
		if strings.IndexAny(text, "eE") < 0 {
			if dot := strings.IndexByte(text, '.'); dot >= 0 {
				if utf8.RuneCountInString(strings.TrimRight(text, "0"))-(dot+1) > t.scale {
					return false, ""
				}
			}
			return castDecimal(s, t.prec, t.scale, v, arena)
		}
		if ok, _ := castDecimal(s, t.prec, t.scale, v, arena); !ok {
			return false, ""
		}
		f, ok := castDouble(s, 64)
		if !ok || decimalToFloat(v.dig, v.neg, v.scale, t.prec) != f {
			return false, ""
		}
		return true, ""
	case kDate, kTimestamp, kTimestamptz:
		var ts int64
		var ok bool
		switch t.kind {
		case kDate:
			if days, ok := fastDate(s); ok {
				return dateValue(days, v)
			}
			if text := trimBlanks(s); strings.IndexByte(text, ':') >= 0 && !midnight.MatchString(text) {
				// A time of day other than midnight (UTC) would be lost in
				// a DATE: the value does not convert, as in DuckDB.
				return false, ""
			}
			if days, ok := castDate(s); ok {
				return dateValue(days, v)
			}
		case kTimestamp:
			if ts, ok = castTimestamp(s); ok {
				return timestampValue(ts, v)
			}
		case kTimestamptz:
			if ts, ok = castTimestamptz(s); ok {
				return timestampValue(ts, v)
			}
		}
		text := trimBlanks(s)
		if ts, ok = strptimeAny(text, dateFormats); !ok && monthFirst {
			ts, ok = strptimeAny(text, monthFirstFormats)
		}
		if !ok {
			return false, ""
		}
		return fromTimestamp(t, ts, v)
	}
	return tryCast(t, s, v, arena)
}

// fastDecimal converts plain decimals ("-123.45", at most 18 digits)
// into a DECIMAL without the general parser; handled is false for any
// other text.
func fastDecimal(s string, t colType, v *val, arena *[]byte) (ok, handled bool) {
	i := 0
	neg := false
	if len(s) > 0 && s[0] == '-' {
		neg, i = true, 1
	}
	start := len(*arena)
	digits, frac, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			*arena = (*arena)[:start]
			return false, false
		}
	}
	if digits == 0 || digits > 18 {
		return false, false
	}
	// More decimals than the scale: fits only when the extra ones are
	// zeros (trailing zeros are dropped, "1.230" is 1.23).
	body := s
	if neg {
		body = s[1:]
	}
	extra := frac - t.scale
	for extra > 0 && body[len(body)-1] == '0' {
		body = body[:len(body)-1]
		extra--
		frac--
	}
	if extra > 0 {
		return false, true
	}
	out := *arena
	for k := 0; k < len(body); k++ {
		if body[k] != '.' {
			out = append(out, body[k])
		}
	}
	for k := frac; k < t.scale; k++ {
		out = append(out, '0')
	}
	dig := trimLeadingZeros(out[start:])
	if len(dig) > t.prec {
		*arena = out[:start]
		return false, true
	}
	*arena = out
	v.dig, v.neg, v.scale = dig, neg && len(dig) > 0, t.scale
	return true, true
}

// fastDate reads YYYY-MM-DD.
func fastDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return 0, false
	}
	var n [8]int64
	k := 0
	for i := 0; i < 10; i++ {
		if i == 4 || i == 7 {
			continue
		}
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n[k] = int64(c - '0')
		k++
	}
	y := n[0]*1000 + n[1]*100 + n[2]*10 + n[3]
	m := n[4]*10 + n[5]
	d := n[6]*10 + n[7]
	if !validDate(y, m, d) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

// midnight matches a date whose time of day is midnight, in UTC when it
// has an offset: the DuckDB warehouse's midnightPattern.
var midnight = regexp.MustCompile(`^(?:.*[T ]0?0:00(:00(\.0+)?)?\s*(Z|UTC|[+-]00(:?00)?)?)$`)

// infText is DuckDB's regexp_full_match(lower(trim(text)),
// '[+-]?inf(inity)?').
func infText(s string) bool {
	t := strings.ToLower(trimBlanks(s))
	if t != "" && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	return t == "inf" || t == "infinity"
}

func intBits(k kind) int {
	switch k {
	case kInt16:
		return 16
	case kInt32:
		return 32
	}
	return 64
}

// tryCast is DuckDB's TRY_CAST(text AS type).
func tryCast(t colType, s string, v *val, arena *[]byte) (bool, string) {
	switch t.kind {
	case kInt16, kInt32, kInt64:
		i, ok := castInt(s, intBits(t.kind))
		v.i = i
		return ok, ""
	case kFloat64, kFloat32:
		bits := 64
		if t.kind == kFloat32 {
			bits = 32
		}
		f, ok := castDouble(s, bits)
		v.f = f
		return ok, ""
	case kDecimal:
		return castDecimal(s, t.prec, t.scale, v, arena)
	case kNumeric:
		var tmp [48]byte
		d, ok := scanDecimal(s, tmp[:0])
		if !ok {
			return false, ""
		}
		scale := max(d.scale, 0)
		start := len(*arena)
		out, ok := d.appendRounded(*arena, scale, 1<<16)
		if !ok {
			return false, ""
		}
		*arena = out
		v.neg, v.dig, v.scale = d.neg && len(out) > start, out[start:], scale
		return true, ""
	case kBool:
		b, ok := castBool(s)
		v.b = b
		return ok, ""
	case kDate:
		days, ok := castDate(s)
		if !ok {
			return false, ""
		}
		return dateValue(days, v)
	case kTimestamp:
		ts, ok := castTimestamp(s)
		if !ok {
			return false, ""
		}
		return timestampValue(ts, v)
	case kTimestamptz:
		ts, ok := castTimestamptz(s)
		if !ok {
			return false, ""
		}
		return timestampValue(ts, v)
	case kTime:
		tm, ok := castTime(s)
		v.i = tm
		return ok, ""
	case kBytes:
		b, ok := castBlob(s)
		v.s = b
		return ok, ""
	case kJSONB, kJSON:
		if !validJSON(s) {
			return false, ""
		}
		v.orig = s
		if t.kind == kJSON {
			v.s = s
			if strings.IndexByte(s, 0) >= 0 {
				return false, "PostgreSQL's text holds no NUL character"
			}
			return true, ""
		}
		out, err := rewriteJSON(nil, s, stylePG, true)
		if err != nil {
			return false, err.Error()
		}
		v.s = string(out)
		return true, ""
	case kText:
		v.s = s
		if strings.IndexByte(s, 0) >= 0 {
			return false, "PostgreSQL's text holds no NUL character"
		}
		if !utf8.ValidString(s) {
			return false, "the text is not valid UTF-8"
		}
		if t.length > 0 && utf8.RuneCountInString(s) > t.length {
			return false, fmt.Sprintf("longer than %d characters", t.length)
		}
		return true, ""
	}
	// kOther: PostgreSQL casts the text at commit.
	v.s = s
	if strings.IndexByte(s, 0) >= 0 {
		return false, "PostgreSQL's text holds no NUL character"
	}
	return true, ""
}

// castDecimal is DuckDB's TRY_CAST(text AS DECIMAL(p,s)): rounded half
// away from zero to the scale; false when the digits do not fit p.
func castDecimal(s string, p, scale int, v *val, arena *[]byte) (bool, string) {
	var tmp [48]byte
	d, ok := scanDecimal(s, tmp[:0])
	if !ok {
		return false, ""
	}
	start := len(*arena)
	out, ok := d.appendRounded(*arena, scale, p)
	if !ok {
		return false, ""
	}
	*arena = out
	v.dig = out[start:]
	v.neg = d.neg && len(v.dig) > 0
	v.scale = scale
	return true, ""
}

// castBool is DuckDB's TRY_CAST(text AS BOOLEAN): t, true, y, yes, 1
// and f, false, n, no, 0, in any case, without white space.
func castBool(s string) (bool, bool) {
	switch len(s) {
	case 1:
		switch s[0] {
		case 't', 'T', 'y', 'Y', '1':
			return true, true
		case 'f', 'F', 'n', 'N', '0':
			return false, true
		}
	case 2:
		if strings.EqualFold(s, "no") {
			return false, true
		}
	case 3:
		if strings.EqualFold(s, "yes") {
			return true, true
		}
	case 4:
		if strings.EqualFold(s, "true") {
			return true, true
		}
	case 5:
		if strings.EqualFold(s, "false") {
			return false, true
		}
	}
	return false, false
}

// castBlob is DuckDB's TRY_CAST(text AS BLOB): ASCII as it is, \xHH for
// a byte; any other backslash, or a character beyond ASCII, fails.
func castBlob(s string) (string, bool) {
	if strings.IndexByte(s, '\\') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] > 127 {
				return "", false
			}
		}
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			if i+3 >= len(s) {
				return "", false
			}
			h1, ok1 := unhex(s[i+2])
			h2, ok2 := unhex(s[i+3])
			if s[i+1] != 'x' || !ok1 || !ok2 {
				return "", false
			}
			b = append(b, h1<<4|h2)
			i += 3
		case c > 127:
			return "", false
		default:
			b = append(b, c)
		}
	}
	return string(b), true
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// encode appends a value in its type's binary COPY format, with its
// length.
func encode(dst []byte, t colType, v *val) []byte {
	if v.null {
		return appendInt32(dst, -1)
	}
	switch t.kind {
	case kInt16:
		return appendInt16(appendInt32(dst, 2), int16(v.i))
	case kInt32:
		return appendInt32(appendInt32(dst, 4), int32(v.i))
	case kInt64:
		return appendInt64(appendInt32(dst, 8), v.i)
	case kFloat32:
		return appendFloat32(appendInt32(dst, 4), float32(v.f))
	case kFloat64:
		return appendFloat64(appendInt32(dst, 8), v.f)
	case kBool:
		b := byte(0)
		if v.b {
			b = 1
		}
		return append(appendInt32(dst, 1), b)
	case kDecimal, kNumeric:
		at := len(dst)
		dst = appendInt32(dst, 0)
		dst = appendNumeric(dst, v.neg, v.dig, v.scale)
		patchLen(dst, at)
		return dst
	case kDate:
		dst = appendInt32(dst, 4)
		dst, _ = appendDate(dst, v.i)
		return dst
	case kTimestamp, kTimestamptz:
		dst = appendInt32(dst, 8)
		dst, _ = appendTimestamp(dst, v.i)
		return dst
	case kTime:
		return appendInt64(appendInt32(dst, 8), v.i)
	case kJSONB:
		dst = appendInt32(dst, int32(len(v.s)+1))
		dst = append(dst, 1)
		return append(dst, v.s...)
	}
	// text, bytea, json, and the text of other types
	dst = appendInt32(dst, int32(len(v.s)))
	return append(dst, v.s...)
}

func patchLen(b []byte, at int) {
	n := len(b) - at - 4
	b[at], b[at+1], b[at+2], b[at+3] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
}

// duckText is DuckDB's CAST(value AS VARCHAR) of a converted value.
func duckText(dst []byte, t colType, v *val) []byte {
	switch t.kind {
	case kInt16, kInt32, kInt64:
		return strconv.AppendInt(dst, v.i, 10)
	case kFloat64:
		return appendDuckDouble(dst, v.f)
	case kFloat32:
		return appendDuckFloat32(dst, float32(v.f))
	case kDecimal, kNumeric:
		return appendDecimalText(dst, v.neg, v.dig, v.scale)
	case kBool:
		return strconv.AppendBool(dst, v.b)
	case kDate:
		return appendDuckDate(dst, v.i)
	case kTimestamp:
		return appendDuckTimestamp(dst, v.i, false)
	case kTimestamptz:
		return appendDuckTimestamp(dst, v.i, true)
	case kTime:
		return appendDuckTime(dst, v.i)
	case kBytes:
		return appendDuckBlob(dst, v.s)
	case kJSONB, kJSON:
		return append(dst, v.orig...)
	}
	return append(dst, v.s...)
}

// duckJSON is how DuckDB's json_object writes a converted value.
func duckJSON(dst []byte, t colType, v *val) []byte {
	if v.null {
		return append(dst, "null"...)
	}
	switch t.kind {
	case kInt16, kInt32, kInt64:
		return strconv.AppendInt(dst, v.i, 10)
	case kFloat64, kFloat32:
		return appendYYDouble(dst, v.f)
	case kDecimal:
		if t.prec <= 18 {
			return appendYYDouble(dst, decimalToFloat(v.dig, v.neg, v.scale, t.prec))
		}
		return appendDecimalText(dst, v.neg, v.dig, v.scale)
	case kNumeric:
		return appendDecimalText(dst, v.neg, v.dig, v.scale)
	case kBool:
		return strconv.AppendBool(dst, v.b)
	case kJSONB, kJSON:
		out, err := rewriteJSON(dst, v.orig, styleDuck, true)
		if err != nil {
			return appendJSONString(dst, v.orig)
		}
		return out
	case kText, kOther:
		return appendJSONString(dst, v.s)
	}
	return appendJSONString(dst, string(duckText(nil, t, v)))
}

// appendDecimalText writes a decimal with all its scale's digits.
func appendDecimalText(dst []byte, neg bool, dig []byte, scale int) []byte {
	if neg {
		dst = append(dst, '-')
	}
	if scale <= 0 {
		if len(dig) == 0 {
			return append(dst, '0')
		}
		return append(dst, dig...)
	}
	if len(dig) <= scale {
		dst = append(dst, '0', '.')
		for i := len(dig); i < scale; i++ {
			dst = append(dst, '0')
		}
		return append(dst, dig...)
	}
	dst = append(dst, dig[:len(dig)-scale]...)
	dst = append(dst, '.')
	return append(dst, dig[len(dig)-scale:]...)
}

func appendDuckFloat32(dst []byte, f float32) []byte {
	switch {
	case math.IsNaN(float64(f)):
		return append(dst, "nan"...)
	case math.IsInf(float64(f), 1):
		return append(dst, "inf"...)
	case math.IsInf(float64(f), -1):
		return append(dst, "-inf"...)
	}
	// The shortest digits of the float32, laid out as a double's.
	g, _ := strconv.ParseFloat(strconv.FormatFloat(float64(f), 'g', -1, 32), 64)
	return appendDuckDouble(dst, g)
}

func appendPadded(dst []byte, v int64, width int) []byte {
	s := strconv.FormatInt(v, 10)
	for i := len(s); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, s...)
}

// appendDuckDate writes a date as DuckDB does: 2026-01-02, 0044-03-15 (BC),
// infinity.
func appendDuckDate(dst []byte, days int64) []byte {
	dst, bc := appendDatePart(dst, days)
	if bc {
		dst = append(dst, " (BC)"...)
	}
	return dst
}

func appendDatePart(dst []byte, days int64) ([]byte, bool) {
	switch days {
	case dateInfinity:
		return append(dst, "infinity"...), false
	case dateNegInf:
		return append(dst, "-infinity"...), false
	}
	y, m, d := civilFromDays(days)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	dst = appendPadded(dst, y, 4)
	dst = append(dst, '-')
	dst = appendPadded(dst, m, 2)
	dst = append(dst, '-')
	dst = appendPadded(dst, d, 2)
	return dst, bc
}

func appendDuckTime(dst []byte, micros int64) []byte {
	sec := micros / microsPerSec
	frac := micros % microsPerSec
	dst = appendPadded(dst, sec/3600, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, sec/60%60, 2)
	dst = append(dst, ':')
	dst = appendPadded(dst, sec%60, 2)
	if frac > 0 {
		f := fmt.Sprintf("%06d", frac)
		dst = append(dst, '.')
		dst = append(dst, strings.TrimRight(f, "0")...)
	}
	return dst
}

func appendDuckTimestamp(dst []byte, micros int64, tz bool) []byte {
	switch micros {
	case tsInfinity:
		return append(dst, "infinity"...)
	case tsNegInfinity:
		return append(dst, "-infinity"...)
	}
	days := floorDiv(micros, microsPerDay)
	dst, bc := appendDatePart(dst, days)
	if bc {
		dst = append(dst, " (BC)"...)
	}
	dst = append(dst, ' ')
	dst = appendDuckTime(dst, micros-days*microsPerDay)
	if tz {
		dst = append(dst, "+00"...)
	}
	return dst
}

// appendDuckBlob writes bytes as DuckDB's VARCHAR of a BLOB: printable
// ASCII as it is, other bytes (and backslash and quotes) as \xHH.
func appendDuckBlob(dst []byte, b string) []byte {
	const hex = "0123456789ABCDEF"
	for i := 0; i < len(b); i++ {
		c := b[i]
		if c >= 32 && c <= 126 && c != '\\' && c != '\'' && c != '"' {
			dst = append(dst, c)
			continue
		}
		dst = append(dst, '\\', 'x', hex[c>>4], hex[c&0xF])
	}
	return dst
}

// castReason is the reason a value that does not convert is set aside
// for, worded as DuckDB's warehouse words it (csvReader: by DuckDB's CSV
// reader, for the types it converts itself).
func castReason(col string, t colType, text, detail string, csvReader bool) string {
	if len(text) > 200 {
		text = truncateRunes(text, 200)
	}
	var r string
	if csvReader {
		name := t.duckName()
		if name == "JSON" {
			name = "VARCHAR" // DuckDB's CSV reader reads JSON as a VARCHAR
		}
		r = fmt.Sprintf(`CAST (column %s): Error when converting column "%s". Could not convert string "%s" to '%s'`, col, col, text, name)
	} else {
		r = fmt.Sprintf(`CAST (column %s): Could not convert string "%s" to '%s'`, col, text, t.duckName())
	}
	if detail != "" {
		r += " (" + detail + ")"
	}
	return r
}

func truncateRunes(s string, n int) string {
	i := 0
	for k := range s {
		if i == n {
			return s[:k]
		}
		i++
	}
	return s
}
