package postgres

import (
	"math"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zone names in timestamps, whatever the host has
)

// This file reads dates, times and timestamps from text the way DuckDB
// 1.5's casts do (ISO 8601 and its lenient variants, "infinity",
// "epoch", " (BC)"), so that a value reads the same in both warehouses.

const (
	microsPerSec  = int64(1_000_000)
	microsPerDay  = 86_400 * microsPerSec
	tsInfinity    = math.MaxInt64  // DuckDB's and PostgreSQL's infinity
	tsNegInfinity = -math.MaxInt64 // DuckDB's -infinity
	dateInfinity  = math.MaxInt32
	dateNegInf    = -math.MaxInt32
)

// DuckDB's date range.
const (
	dateMinYear, dateMinMonth, dateMinDay = -5877641, 6, 25
	dateMaxYear, dateMaxMonth, dateMaxDay = 5881580, 7, 10
)

func isLeap(y int64) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

var monthDays = [13]int64{0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

func daysIn(y, m int64) int64 {
	if m == 2 && isLeap(y) {
		return 29
	}
	return monthDays[m]
}

// validDate is DuckDB's Date::IsValid.
func validDate(y, m, d int64) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	if y < dateMinYear || y == dateMinYear && (m < dateMinMonth || m == dateMinMonth && d < dateMinDay) {
		return false
	}
	if y > dateMaxYear || y == dateMaxYear && (m > dateMaxMonth || m == dateMaxMonth && d > dateMaxDay) {
		return false
	}
	return d <= daysIn(y, m)
}

// daysFromCivil counts the days from 1970-01-01 to a proleptic Gregorian
// date (astronomical years: 0 is 1 BC).
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is daysFromCivil's inverse.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// twoDigits reads one or two digits at s[*pos].
func twoDigits(s string, pos *int) (int64, bool) {
	p := *pos
	if p >= len(s) || !isDigit(s[p]) {
		return 0, false
	}
	v := int64(s[p] - '0')
	p++
	if p < len(s) && isDigit(s[p]) {
		v = v*10 + int64(s[p]-'0')
		p++
	}
	*pos = p
	return v, true
}

// special values a date or timestamp may be written as.
func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parseDate is DuckDB's Date::TryConvertDate (not strict): it returns
// the date (days since 1970-01-01, or dateInfinity/dateNegInf), where the
// parse stopped, whether the value was a special one, and whether it is
// a date at all.
func parseDate(s string) (days int64, pos int, special, ok bool) {
	n := len(s)
	for pos < n && isSpace(s[pos]) {
		pos++
	}
	if pos >= n {
		return 0, pos, false, false
	}
	neg := false
	if s[pos] == '-' {
		neg = true
		pos++
		if pos >= n {
			return 0, pos, false, false
		}
	}
	if !isDigit(s[pos]) {
		rest := s[pos:]
		switch {
		case matchSpecial(rest, "infinity", 3):
			days = dateInfinity
			if neg {
				days = dateNegInf
			}
			pos += specialLen(rest, "infinity")
		case !neg && matchSpecial(rest, "epoch", 5):
			days = 0
			pos += 5
		case neg && matchSpecial(rest, "epoch", 5):
			// DuckDB reads "-epoch" as the epoch too
			days = 0
			pos += 5
		default:
			return 0, pos, false, false
		}
		for pos < n && isSpace(s[pos]) {
			pos++
		}
		return days, pos, true, pos == n
	}
	var year int64
	for pos < n && isDigit(s[pos]) {
		if year >= 100000000 {
			return 0, pos, false, false
		}
		year = year*10 + int64(s[pos]-'0')
		pos++
	}
	if neg {
		year = -year
	}
	if pos >= n {
		return 0, pos, false, false
	}
	sep := s[pos]
	pos++
	if sep != ' ' && sep != '-' && sep != '/' && sep != '\\' {
		return 0, pos, false, false
	}
	month, ok := twoDigits(s, &pos)
	if !ok || pos >= n || s[pos] != sep {
		return 0, pos, false, false
	}
	pos++
	if pos >= n {
		return 0, pos, false, false
	}
	day, ok := twoDigits(s, &pos)
	if !ok {
		return 0, pos, false, false
	}
	if n-pos >= 5 && isSpace(s[pos]) && s[pos+1] == '(' && (s[pos+2]|0x20) == 'b' && (s[pos+3]|0x20) == 'c' && s[pos+4] == ')' {
		if neg || year == 0 {
			return 0, pos, false, false
		}
		year = -year + 1
		pos += 5
	}
	if pos < n && isDigit(s[pos]) {
		return 0, pos, false, false
	}
	if !validDate(year, month, day) {
		return 0, pos, false, false
	}
	return daysFromCivil(year, month, day), pos, false, true
}

// matchSpecial is DuckDB's TryConvertDateSpecial: the text starts with
// word, or with at least abbr of its letters and nothing else.
func matchSpecial(s, word string, abbr int) bool {
	n := specialLen(s, word)
	return n == len(word) || n == len(s) && n == abbr
}

// specialLen counts the letters of word that s starts with (ignoring
// case).
func specialLen(s, word string) int {
	i := 0
	for i < len(s) && i < len(word) && (s[i]|0x20) == word[i] {
		i++
	}
	return i
}

// castDate is DuckDB 1.5's TRY_CAST(text AS DATE): the date part of
// the text, whatever follows it unless that is a digit.
func castDate(s string) (int64, bool) {
	days, _, _, ok := parseDate(s)
	return days, ok
}

// parseTimeOfDay is DuckDB's Time::TryConvertInternal, not strict:
// hours (up to nine digits, as for an interval), minutes, seconds and a
// fraction; it returns the microseconds and where the parse stopped.
func parseTimeOfDay(s string) (micros int64, pos int, ok bool) {
	n := len(s)
	for pos < n && isSpace(s[pos]) {
		pos++
	}
	if pos >= n || !isDigit(s[pos]) {
		return 0, pos, false
	}
	var hour int64
	for digits := 9; pos < n && isDigit(s[pos]); pos++ {
		if digits == 0 {
			return 0, pos, false
		}
		digits--
		hour = hour*10 + int64(s[pos]-'0')
	}
	if pos >= n || s[pos] != ':' {
		return 0, pos, false
	}
	pos++
	var min, sec int64
	if pos < n {
		var ok bool
		if min, ok = twoDigits(s, &pos); !ok || min >= 60 {
			return 0, pos, false
		}
	}
	if pos < n {
		if s[pos] != ':' {
			return 0, pos, false
		}
		pos++
		if pos < n {
			var ok bool
			if sec, ok = twoDigits(s, &pos); !ok || sec >= 60 {
				return 0, pos, false
			}
		}
	}
	var frac int64
	if pos < n && s[pos] == '.' {
		pos++
		mult := int64(100000)
		for pos < n && isDigit(s[pos]) {
			if mult > 0 {
				frac += int64(s[pos]-'0') * mult
			}
			mult /= 10
			pos++
		}
	}
	return ((hour*60+min)*60+sec)*microsPerSec + frac, pos, true
}

// castTime is DuckDB's TRY_CAST(text AS TIME): a time of day (24:00:00
// included), or the time of a timestamp.
func castTime(s string) (int64, bool) {
	if micros, _, ok := parseTimeOfDay(s); ok {
		return micros, micros <= microsPerDay
	}
	ts, st := parseTimestamp(s, false)
	if st.status != tsOK || ts == tsInfinity || ts == tsNegInfinity {
		return 0, false
	}
	if st.tz != "" && !strings.EqualFold(st.tz, "utc") {
		return 0, false
	}
	day := floorDiv(ts, microsPerDay)
	return ts - day*microsPerDay, true
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Outcomes of parseTimestamp.
const (
	tsOK = iota
	tsFormat
	tsRange
	tsNonUTC
)

type tsParse struct {
	status    int
	special   bool
	hasOffset bool
	tz        string // a time zone name that followed the time
}

// parseTimestamp is DuckDB 1.5's Timestamp::TryConvertTimestampTZ: a date,
// optionally ' ' or 'T' and a time, then 'Z', an offset (applied when
// useOffset) or a space and a time zone name. It returns microseconds
// since 1970-01-01 (tsInfinity, tsNegInfinity for the special values).
func parseTimestamp(s string, useOffset bool) (int64, tsParse) {
	var r tsParse
	days, pos, special, ok := parseDate(s)
	n := len(s)
	if !ok {
		r.status = tsFormat
		return 0, r
	}
	if special {
		r.special = true
		switch days {
		case dateInfinity:
			return tsInfinity, r
		case dateNegInf:
			return tsNegInfinity, r
		}
		return 0, r
	}
	if pos == n {
		ok, v := mulAdd(days, microsPerDay, 0)
		if !ok {
			r.status = tsRange
		}
		return v, r
	}
	if s[pos] == ' ' || s[pos] == 'T' {
		pos++
	}
	tm, tpos, ok := parseTimeOfDay(s[pos:])
	if !ok {
		r.status = tsFormat
		return 0, r
	}
	if tm > microsPerDay {
		r.status = tsRange
		return 0, r
	}
	pos += tpos
	hi, lo := mulAdd(days, microsPerDay, tm)
	if !hi {
		r.status = tsRange
		return 0, r
	}
	result := lo
	if pos < n {
		if s[pos] == 'Z' {
			pos++
			r.hasOffset = true
		} else if off, npos, ok := parseUTCOffset(s, pos); ok {
			pos = npos
			r.hasOffset = true
			if useOffset {
				v := result - off*microsPerSec
				if (off > 0 && v > result) || (off < 0 && v < result) {
					r.status = tsRange
					return 0, r
				}
				result = v
			}
		} else {
			if s[pos] != ' ' {
				r.status = tsNonUTC
				return 0, r
			}
			pos++
			start := pos
			for pos < n && isTZChar(s[pos]) {
				pos++
			}
			r.tz = s[start:pos]
		}
		for pos < n && isSpace(s[pos]) {
			pos++
		}
		if pos < n {
			r.status = tsFormat
			return 0, r
		}
	}
	return result, r
}

// mulAdd is a*b+c with an overflow check.
func mulAdd(a, b, c int64) (bool, int64) {
	if a != 0 && (a > math.MaxInt64/b || a < math.MinInt64/b) {
		return false, 0
	}
	v := a * b
	s := v + c
	if (c > 0 && s < v) || (c < 0 && s > v) {
		return false, 0
	}
	return true, s
}

func isTZChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c) || c == '_' || c == '/' || c == '+' || c == '-' || c == ':'
}

// parseUTCOffset is DuckDB's Timestamp::TryParseUTCOffset: ±HH, ±HHMM,
// ±HH:MM or ±HH:MM:SS, in seconds.
func parseUTCOffset(s string, pos int) (int64, int, bool) {
	n := len(s)
	if pos+3 > n {
		return 0, pos, false
	}
	sign := s[pos]
	if sign != '+' && sign != '-' {
		return 0, pos, false
	}
	p := pos + 1
	if !isDigit(s[p]) || !isDigit(s[p+1]) {
		return 0, pos, false
	}
	hh := int64(s[p]-'0')*10 + int64(s[p+1]-'0')
	p += 2
	var mm, ss int64
	if p < n {
		colons := s[p] == ':'
		if colons {
			p++
		}
		if p+2 <= n && isDigit(s[p]) && isDigit(s[p+1]) {
			mm = int64(s[p]-'0')*10 + int64(s[p+1]-'0')
			p += 2
			if p < n && colons && s[p] == ':' {
				q := p + 1
				if q+2 <= n && isDigit(s[q]) && isDigit(s[q+1]) {
					ss = int64(s[q]-'0')*10 + int64(s[q+1]-'0')
					p = q + 2
				} else {
					p = q
				}
			}
		}
	}
	off := hh*3600 + mm*60 + ss
	if sign == '-' {
		off = -off
	}
	return off, p, true
}

// castTimestamp is DuckDB 1.5's TRY_CAST(text AS TIMESTAMP): an offset is
// read and ignored, a time zone name other than UTC fails.
func castTimestamp(s string) (int64, bool) {
	v, r := parseTimestamp(s, false)
	if r.status != tsOK {
		return 0, false
	}
	if r.tz != "" && !strings.EqualFold(r.tz, "utc") {
		return 0, false
	}
	return v, true
}

// castTimestamptz is TRY_CAST(text AS TIMESTAMPTZ) with DuckDB's ICU
// extension and the session in UTC: an offset is applied, a time zone
// name (IANA, "UTC", "EST") interprets the wall time there, and a time
// without either is UTC.
func castTimestamptz(s string) (int64, bool) {
	v, r := parseTimestamp(s, true)
	if r.status != tsOK {
		return 0, false
	}
	if r.hasOffset || r.special || r.tz == "" {
		return v, true
	}
	loc, ok := location(r.tz)
	if !ok {
		return 0, false
	}
	return inZone(v, loc)
}

// inZone reads naive microseconds as a wall time in loc.
func inZone(naive int64, loc *time.Location) (int64, bool) {
	if loc == time.UTC {
		return naive, true
	}
	days := floorDiv(naive, microsPerDay)
	rem := naive - days*microsPerDay
	y, m, d := civilFromDays(days)
	sec := rem / microsPerSec
	us := rem % microsPerSec
	t := time.Date(int(y), time.Month(m), int(d), int(sec/3600), int(sec/60%60), int(sec%60), int(us)*1000, loc)
	return t.Unix()*microsPerSec + int64(t.Nanosecond()/1000), true
}

var locations sync.Map // name -> *time.Location (nil: unknown)

// location finds a time zone by name: IANA names, case-insensitively
// for UTC.
func location(name string) (*time.Location, bool) {
	if strings.EqualFold(name, "utc") {
		return time.UTC, true
	}
	if v, ok := locations.Load(name); ok {
		l, _ := v.(*time.Location)
		return l, l != nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		locations.Store(name, (*time.Location)(nil))
		return nil, false
	}
	locations.Store(name, l)
	return l, true
}
