package postgres

import (
	"fmt"
	"strings"
)

// This file is DuckDB's strptime as shp uses it (try_strptime with a
// list of layouts): numbers of up to the specifier's width, month and
// day names in any case, runs of white space matching runs of white
// space, "infinity" and "epoch".

type strpSpec uint8

const (
	spLiteralEnd strpSpec = iota
	spWeekdayAbbr
	spWeekdayFull
	spWeekdayNum // %w
	spWeekdayISO // %u
	spDay
	spMonthAbbr
	spMonthFull
	spMonth
	spYear2
	spYear
	spYearISO
	spHour24
	spHour12
	spAMPM
	spMinute
	spSecond
	spNanos
	spMicros
	spMillis
	spOffset
	spTZName
	spYearDay
	spWeekSun
	spWeekMon
	spWeekISO
)

// strpFormat is a parsed layout: literals[i] precedes specs[i]; the
// last literal follows the last specifier.
type strpFormat struct {
	literals []string
	specs    []strpSpec
	hasTZ    bool // %z or %Z: the result is an instant
}

func specWidth(s strpSpec) int {
	switch s {
	case spWeekdayNum, spWeekdayISO:
		return 1
	case spDay, spMonth, spYear2, spHour24, spHour12, spMinute, spSecond, spWeekSun, spWeekMon, spWeekISO:
		return 2
	case spMillis, spYearDay:
		return 3
	case spYear, spYearISO:
		return 4
	case spMicros:
		return 6
	case spNanos:
		return 9
	}
	return -1
}

// parseStrpFormat parses a strptime layout.
func parseStrpFormat(layout string) (*strpFormat, error) {
	f := &strpFormat{}
	var lit strings.Builder
	for i := 0; i < len(layout); i++ {
		c := layout[i]
		if c != '%' {
			lit.WriteByte(c)
			continue
		}
		if i+1 >= len(layout) {
			return nil, fmt.Errorf("strptime layout %q ends with %%", layout)
		}
		i++
		c = layout[i]
		if c == '%' {
			lit.WriteByte('%')
			continue
		}
		var sub string
		var sp strpSpec
		if c == '-' && i+1 < len(layout) {
			i++
			switch layout[i] {
			case 'd':
				sp = spDay
			case 'm':
				sp = spMonth
			case 'y':
				sp = spYear2
			case 'H':
				sp = spHour24
			case 'I':
				sp = spHour12
			case 'M':
				sp = spMinute
			case 'S':
				sp = spSecond
			case 'j':
				sp = spYearDay
			default:
				return nil, fmt.Errorf("strptime layout %q: unknown directive %%-%c", layout, layout[i])
			}
		} else {
			switch c {
			case 'a':
				sp = spWeekdayAbbr
			case 'A':
				sp = spWeekdayFull
			case 'w':
				sp = spWeekdayNum
			case 'u':
				sp = spWeekdayISO
			case 'd':
				sp = spDay
			case 'b', 'h':
				sp = spMonthAbbr
			case 'B':
				sp = spMonthFull
			case 'm':
				sp = spMonth
			case 'y':
				sp = spYear2
			case 'Y':
				sp = spYear
			case 'G':
				sp = spYearISO
			case 'H':
				sp = spHour24
			case 'I':
				sp = spHour12
			case 'p':
				sp = spAMPM
			case 'M':
				sp = spMinute
			case 'S':
				sp = spSecond
			case 'n':
				sp = spNanos
			case 'f':
				sp = spMicros
			case 'g':
				sp = spMillis
			case 'z':
				sp, f.hasTZ = spOffset, true
			case 'Z':
				sp, f.hasTZ = spTZName, true
			case 'j':
				sp = spYearDay
			case 'U':
				sp = spWeekSun
			case 'W':
				sp = spWeekMon
			case 'V':
				sp = spWeekISO
			case 'c':
				sub = "%Y-%m-%d %H:%M:%S"
			case 'x':
				sub = "%Y-%m-%d"
			case 'X', 'T':
				sub = "%H:%M:%S"
			default:
				return nil, fmt.Errorf("strptime layout %q: unknown directive %%%c", layout, c)
			}
		}
		if sub != "" {
			sf, err := parseStrpFormat(sub)
			if err != nil {
				return nil, err
			}
			lit.WriteString(sf.literals[0])
			for k, s := range sf.specs {
				f.literals = append(f.literals, lit.String())
				f.specs = append(f.specs, s)
				lit.Reset()
				lit.WriteString(sf.literals[k+1])
			}
			continue
		}
		f.literals = append(f.literals, lit.String())
		f.specs = append(f.specs, sp)
		lit.Reset()
	}
	f.literals = append(f.literals, lit.String())
	return f, nil
}

var (
	monthAbbr = []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
	monthFull = []string{"january", "february", "march", "april", "may", "june", "july", "august", "september", "october", "november", "december"}
	dayAbbr   = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	dayFull   = []string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}
)

func matchCollection(s string, pos *int, names []string) int {
	for i, n := range names {
		if len(s)-*pos >= len(n) && strings.EqualFold(s[*pos:*pos+len(n)], n) {
			*pos += len(n)
			return i
		}
	}
	return -1
}

// strpResult is what a layout read.
type strpResult struct {
	year, month, day           int64
	hour, min, sec, nanos, off int64
	tz                         string
	special                    bool
	specialDays                int64
}

// parse reads s with the layout, as DuckDB's StrpTimeFormat::Parse.
func (f *strpFormat) parse(s string) (strpResult, bool) {
	r := strpResult{year: 1900, month: 1, day: 1}
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	n := len(s)
	pos := 0
	if n > 4 {
		var days int64
		matched := false
		switch {
		case s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z':
			if matchSpecial(s, "infinity", 3) {
				days, matched, pos = dateInfinity, true, specialLen(s, "infinity")
			} else if matchSpecial(s, "epoch", 5) {
				days, matched, pos = 0, true, 5
			}
		case s[0] == '-' && matchSpecial(s, "-infinity", 4):
			days, matched, pos = dateNegInf, true, specialLen(s, "-infinity")
		}
		if matched {
			for pos < n && isSpace(s[pos]) {
				pos++
			}
			r.special, r.specialDays = true, days
			return r, pos == n
		}
	}
	const (
		ampmNone = iota
		ampmAM
		ampmPM
	)
	ampm := ampmNone
	offsetSpec := spWeekdayNum // the specifier deciding the date, as DuckDB's offset_specifier
	var weekno, weekday, yearday int64
	hasWeekday := false
	isoYear, isoWeek, isoWeekday := int64(10000), int64(54), int64(8)
	for i := 0; ; i++ {
		lit := f.literals[i]
		for l := 0; l < len(lit); {
			if isSpace(lit[l]) {
				if pos >= n || !isSpace(s[pos]) {
					return r, false
				}
				for pos++; pos < n && isSpace(s[pos]); pos++ {
				}
				for l++; l < len(lit) && isSpace(lit[l]); l++ {
				}
				continue
			}
			if pos >= n || s[pos] != lit[l] {
				return r, false
			}
			pos++
			l++
		}
		if i == len(f.specs) {
			break
		}
		sp := f.specs[i]
		if w := specWidth(sp); w > 0 {
			var number int64
			digits := 0
			start := pos
			for pos < n && pos < start+w && isDigit(s[pos]) {
				number = number*10 + int64(s[pos]-'0')
				pos++
				digits++
			}
			if pos == start {
				return r, false
			}
			switch sp {
			case spDay:
				if number < 1 || number > 31 {
					return r, false
				}
				r.day, offsetSpec = number, sp
			case spMonth:
				if number < 1 || number > 12 {
					return r, false
				}
				r.month, offsetSpec = number, sp
			case spYear2, spYear:
				if offsetSpec == spYearISO || offsetSpec == spWeekISO || offsetSpec == spWeekdayNum {
					offsetSpec = sp
				}
				if sp == spYear2 {
					if number >= 100 {
						return r, false
					}
					if number >= 69 {
						r.year = 1900 + number
					} else {
						r.year = 2000 + number
					}
				} else {
					r.year = number
				}
			case spYearISO:
				switch offsetSpec {
				case spDay, spMonth, spYear2, spYear:
				case spWeekdayNum:
					offsetSpec = sp
				case spYearISO, spWeekISO:
					if isoYear <= 9999 {
						return r, false
					}
				default:
					return r, false
				}
				if number > 9999 {
					return r, false
				}
				isoYear = number
			case spHour24:
				if number >= 24 {
					return r, false
				}
				r.hour = number
			case spHour12:
				if number < 1 || number > 12 {
					return r, false
				}
				r.hour = number
			case spMinute:
				if number >= 60 {
					return r, false
				}
				r.min = number
			case spSecond:
				if number >= 60 {
					return r, false
				}
				r.sec = number
			case spNanos, spMicros, spMillis:
				for ; digits < w; digits++ {
					number *= 10
				}
				switch sp {
				case spMicros:
					number *= 1000
				case spMillis:
					number *= 1_000_000
				}
				r.nanos = number
			case spWeekSun, spWeekMon:
				switch offsetSpec {
				case spDay, spMonth:
				case spYear2, spYear, spWeekdayNum:
					offsetSpec = sp
				default:
					return r, false
				}
				if number > 53 {
					return r, false
				}
				weekno = number
			case spWeekdayNum:
				if number > 6 {
					return r, false
				}
				hasWeekday, weekday = true, number
			case spWeekISO:
				switch offsetSpec {
				case spYear2, spYear:
					return r, false
				case spDay, spMonth:
				case spWeekdayNum:
					offsetSpec = sp
				case spWeekISO, spYearISO:
					if isoWeek <= 53 {
						return r, false
					}
				default:
					return r, false
				}
				if number < 1 || number > 53 {
					return r, false
				}
				isoWeek = number
			case spWeekdayISO:
				if isoWeekday <= 7 || number < 1 || number > 7 {
					return r, false
				}
				isoWeekday = number
			case spYearDay:
				switch offsetSpec {
				case spDay, spMonth:
				case spYear2, spYear, spWeekdayNum:
					offsetSpec = sp
				default:
					return r, false
				}
				if number < 1 || number > 366 {
					return r, false
				}
				yearday = number
			}
			continue
		}
		switch sp {
		case spAMPM:
			if pos+2 > n || s[pos+1]|0x20 != 'm' {
				return r, false
			}
			switch s[pos] | 0x20 {
			case 'p':
				ampm = ampmPM
			case 'a':
				ampm = ampmAM
			default:
				return r, false
			}
			pos += 2
		case spWeekdayAbbr:
			if matchCollection(s, &pos, dayAbbr) < 0 {
				return r, false
			}
		case spWeekdayFull:
			if matchCollection(s, &pos, dayFull) < 0 {
				return r, false
			}
		case spMonthAbbr:
			m := matchCollection(s, &pos, monthAbbr)
			if m < 0 {
				return r, false
			}
			r.month = int64(m) + 1
		case spMonthFull:
			m := matchCollection(s, &pos, monthFull)
			if m < 0 {
				return r, false
			}
			r.month = int64(m) + 1
		case spOffset:
			off, npos, ok := parseUTCOffset(s, pos)
			if !ok {
				return r, false
			}
			r.off, pos = off, npos
		case spTZName:
			for pos < n && isSpace(s[pos]) {
				pos++
			}
			start := pos
			for pos < n && isTZChar(s[pos]) {
				pos++
			}
			if pos == start {
				return r, false
			}
			r.tz = s[start:pos]
		}
	}
	for pos < n && isSpace(s[pos]) {
		pos++
	}
	if pos != n {
		return r, false
	}
	switch ampm {
	case ampmAM:
		if r.hour > 12 {
			return r, false
		}
		if r.hour == 12 {
			r.hour = 0
		}
	case ampmPM:
		if r.hour > 12 {
			return r, false
		}
		if r.hour != 12 {
			r.hour += 12
		}
	}
	switch offsetSpec {
	case spYearISO, spWeekISO:
		if isoYear > 9999 {
			isoYear = 1900
		}
		if isoWeek > 53 {
			isoWeek = 1
		}
		if isoWeekday > 7 {
			isoWeekday = 1
		}
		jan4 := daysFromCivil(isoYear, 1, 4)
		week1 := jan4 - mondayOffset(jan4)
		r.year, r.month, r.day = civilFromDays(week1 + (isoWeek-1)*7 + isoWeekday - 1)
	case spWeekSun, spWeekMon:
		if hasWeekday {
			shift := int64(0)
			if offsetSpec == spWeekMon {
				shift = 1
			}
			weekday = (weekday + 7 - shift) % 7
		}
		if !validDate(r.year, 1, 1) {
			return r, false
		}
		jan1 := daysFromCivil(r.year, 1, 1)
		yd := jan1 - mondayOffset(jan1)
		if offsetSpec == spWeekSun {
			yd--
		}
		if yd >= jan1 {
			yd -= 7
		}
		r.year, r.month, r.day = civilFromDays(yd + weekno*7 + weekday)
	case spYearDay:
		if !validDate(r.year, 1, 1) {
			return r, false
		}
		r.year, r.month, r.day = civilFromDays(daysFromCivil(r.year, 1, 1) + yearday - 1)
	}
	return r, true
}

// mondayOffset is how many days the day is after the Monday of its week.
func mondayOffset(days int64) int64 {
	// 1970-01-01 was a Thursday.
	return ((days % 7) + 7 + 3) % 7
}

// timestamp turns what a layout read into microseconds since 1970 (UTC
// when the layout has an offset or a zone), as try_strptime does.
func (r strpResult) timestamp() (int64, bool) {
	if r.special {
		switch r.specialDays {
		case dateInfinity:
			return tsInfinity, true
		case dateNegInf:
			return tsNegInfinity, true
		}
		return 0, true
	}
	if !validDate(r.year, r.month, r.day) {
		return 0, false
	}
	hh, mm, ss := r.off/3600, r.off/60%60, r.off%60
	micros := (r.nanos + 500) / 1000
	tm := (((r.hour-hh)*60+(r.min-mm))*60+(r.sec-ss))*microsPerSec + micros
	ok, v := mulAdd(daysFromCivil(r.year, r.month, r.day), microsPerDay, tm)
	if !ok {
		return 0, false
	}
	if r.tz != "" {
		loc, found := location(r.tz)
		if !found {
			return 0, false
		}
		return inZone(v, loc)
	}
	return v, true
}

// strptimeAny is try_strptime(s, layouts): the first layout that reads s.
func strptimeAny(s string, layouts []*strpFormat) (int64, bool) {
	for _, f := range layouts {
		if r, ok := f.parse(s); ok {
			if v, ok := r.timestamp(); ok {
				return v, true
			}
			return 0, false
		}
	}
	return 0, false
}

// compileLayouts parses a list of layouts.
func compileLayouts(layouts []string) ([]*strpFormat, error) {
	out := make([]*strpFormat, 0, len(layouts))
	for _, l := range layouts {
		f, err := parseStrpFormat(l)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// dateFormats are the layouts shp accepts for dates and timestamps
// beyond ISO 8601, as its DuckDB warehouse's castExpr lists them; with
// MonthFirst, monthFirstFormats too.
var (
	dateFormats = mustLayouts("%b %d %Y %H:%M:%S", "%b %d %Y %H:%M", "%b %d %Y", "%B %d %Y", "%B %d, %Y", "%b %d, %Y",
		"%Y/%m/%d %H:%M:%S", "%Y/%m/%d", "%d %b %Y", "%d %B %Y")
	monthFirstFormats = mustLayouts("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y")
)

func mustLayouts(layouts ...string) []*strpFormat {
	f, err := compileLayouts(layouts)
	if err != nil {
		panic(err)
	}
	return f
}
