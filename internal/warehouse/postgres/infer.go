package postgres

import (
	"strings"
)

// typeGuess infers a column's type from its values when no schema
// declares it, as DuckDB's CSV sniffer does: the first of BOOLEAN, BIGINT,
// DOUBLE, TIME, DATE and TIMESTAMP that every value reads as (strictly:
// no "+1", no "007"), else VARCHAR. Unlike the sniffer it looks at every
// value, so no row of the file fails the type it chose.
type typeGuess struct {
	seen                                bool
	notBool, notInt, notDouble, notTime bool
	notDate, notTimestamp               bool
}

// add looks at one non-NULL value.
func (g *typeGuess) add(s string) {
	g.seen = true
	if !g.notBool && !strictBool(s) {
		g.notBool = true
	}
	if !g.notInt && !strictInt(s) {
		g.notInt = true
	}
	if !g.notDouble && !strictDouble(s) {
		g.notDouble = true
	}
	if !g.notTime && !strictTime(s) {
		g.notTime = true
	}
	if !g.notDate && !strictDate(s) {
		g.notDate = true
	}
	if !g.notTimestamp {
		if _, ok := castTimestamp(s); !ok || !strictDateStart(s) {
			g.notTimestamp = true
		}
	}
}

func (g *typeGuess) result() colType {
	switch {
	case !g.seen:
		return tVarchar
	case !g.notBool:
		return tBoolean
	case !g.notInt:
		return tBigint
	case !g.notDouble:
		return tDouble
	case !g.notTime:
		return tTime
	case !g.notDate:
		return tDate
	case !g.notTimestamp:
		return tTimestamp
	}
	return tVarchar
}

// strictBool is DuckDB's strict boolean cast: t, f, true, false, yes, no.
func strictBool(s string) bool {
	if len(s) == 1 {
		return s[0]|0x20 == 't' || s[0]|0x20 == 'f'
	}
	_, ok := castBool(s)
	return ok
}

// strictInt is a decimal integer without '+', leading zeros, underscores,
// a point or an exponent, that fits 64 bits.
func strictInt(s string) bool {
	t := trimSpace(s)
	if t == "" {
		return false
	}
	d := t
	if d[0] == '-' {
		d = d[1:]
	}
	if d == "" || len(d) > 1 && d[0] == '0' {
		return false
	}
	for i := 0; i < len(d); i++ {
		if !isDigit(d[i]) {
			return false
		}
	}
	_, ok := castInt(t, 64)
	return ok
}

// strictDouble is a number without '+', leading zeros or underscores.
func strictDouble(s string) bool {
	t := trimSpace(s)
	if t == "" || t[0] == '+' || strings.Contains(t, "_") {
		return false
	}
	d := strings.TrimPrefix(t, "-")
	if len(d) > 1 && d[0] == '0' && isDigit(d[1]) {
		return false
	}
	_, ok := castDouble(t, 64)
	return ok
}

// strictTime is HH:MM[:SS[.fff]] and nothing else.
func strictTime(s string) bool {
	t := trimSpace(s)
	micros, pos, ok := parseTimeOfDay(t)
	return ok && pos == len(t) && micros <= microsPerDay && strings.Count(t, ":") >= 1
}

// strictDate is a date and nothing after it.
func strictDate(s string) bool {
	t := trimSpace(s)
	_, pos, special, ok := parseDate(t)
	if !ok || special {
		return false
	}
	return pos == len(t) && strictDateStart(t)
}

// strictDateStart: a year of at least two digits first.
func strictDateStart(s string) bool {
	t := strings.TrimPrefix(trimSpace(s), "-")
	n := 0
	for n < len(t) && isDigit(t[n]) {
		n++
	}
	return n >= 2
}

// jsonGuess infers a JSON key's type from its values as DuckDB's JSON
// reader does, simplified: all null is JSONB, booleans BOOLEAN, integers
// BIGINT, integers and other numbers DOUBLE, strings VARCHAR (DATE when
// every string is an ISO date, TIME when every one is a time of day),
// objects, arrays and mixtures JSONB.
type jsonGuess struct {
	kinds      uint8 // bit per jsonKind seen (null aside)
	bigInt     bool
	strNotDate bool
	strNotTime bool
}

func (g *jsonGuess) add(m jsonMember) {
	if m.kind == jsNull {
		return
	}
	g.kinds |= 1 << m.kind
	switch m.kind {
	case jsInt:
		if !strictInt(m.raw) {
			g.bigInt = true
		}
	case jsString:
		text, _ := jsonText(m)
		if !g.strNotDate && !strictDate(text) {
			g.strNotDate = true
		}
		if !g.strNotTime && !strictTime(text) {
			g.strNotTime = true
		}
	}
}

func (g *jsonGuess) result() colType {
	switch g.kinds {
	case 0:
		return tJSONB
	case 1 << jsBool:
		return tBoolean
	case 1 << jsInt:
		if g.bigInt {
			return tDouble
		}
		return tBigint
	case 1 << jsReal, 1<<jsInt | 1<<jsReal:
		return tDouble
	case 1 << jsString:
		switch {
		case !g.strNotDate:
			return tDate
		case !g.strNotTime:
			return tTime
		}
		return tVarchar
	}
	return tJSONB
}
