package postgres

import (
	"encoding/binary"
	"math"
)

// This file writes values in PostgreSQL's binary COPY format: a header,
// then per row a 16-bit field count and per field a 32-bit length (-1 for
// NULL) and the value in the type's binary send format.

// copyHeader starts a binary COPY stream: the signature, no flags, no
// header extension.
var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyTrailer ends a binary COPY stream.
var copyTrailer = []byte{0xff, 0xff}

// PostgreSQL counts dates and timestamps from 2000-01-01.
const (
	pgEpochDays   = 10957                        // 2000-01-01 in days since 1970-01-01
	pgEpochMicros = pgEpochDays * 86_400_000_000 // and in microseconds
	// The range of PostgreSQL's dates (Julian day 0 is 4714-11-24 BC)
	// and timestamps, in days and microseconds since 1970-01-01.
	pgMinDays   = -2440588
	pgMaxDays   = 2147483494 - 2440588 - 1
	pgMinMicros = -211813488000000000 + pgEpochMicros
)

func appendInt16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }
func appendInt32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }
func appendInt64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

func appendFloat64(b []byte, f float64) []byte {
	return binary.BigEndian.AppendUint64(b, math.Float64bits(f))
}

func appendFloat32(b []byte, f float32) []byte {
	return binary.BigEndian.AppendUint32(b, math.Float32bits(f))
}

// appendDate writes days since 1970-01-01 (or dateInfinity, dateNegInf);
// false when PostgreSQL's dates do not reach it.
func appendDate(b []byte, days int64) ([]byte, bool) {
	switch days {
	case dateInfinity:
		return appendInt32(b, math.MaxInt32), true
	case dateNegInf:
		return appendInt32(b, math.MinInt32), true
	}
	if days < pgMinDays || days > pgMaxDays {
		return b, false
	}
	return appendInt32(b, int32(days-pgEpochDays)), true
}

// appendTimestamp writes microseconds since 1970-01-01 (or tsInfinity,
// tsNegInfinity); false when PostgreSQL's timestamps do not reach it.
func appendTimestamp(b []byte, micros int64) ([]byte, bool) {
	switch micros {
	case tsInfinity:
		return appendInt64(b, math.MaxInt64), true
	case tsNegInfinity:
		return appendInt64(b, math.MinInt64), true
	}
	if micros < pgMinMicros {
		return b, false
	}
	return appendInt64(b, micros-pgEpochMicros), true
}

// appendNumeric writes a decimal, the integer digits coef (no sign, no
// leading zeros) scaled by 10^-scale, as PostgreSQL's numeric: groups of
// four decimal digits, the weight of the first, the sign and the display
// scale.
func appendNumeric(b []byte, neg bool, coef []byte, scale int) []byte {
	dscale := max(scale, 0)
	if len(coef) == 0 {
		b = appendInt16(b, 0)
		b = appendInt16(b, 0)
		b = appendInt16(b, 0)
		return appendInt16(b, int16(dscale))
	}
	// Digit i of the number counted from the left, padded with zeros so
	// that groups of four fall on the decimal point: the digits before
	// the point (intLen, which may be negative) are padded at the front.
	intLen := len(coef) - scale
	lead := 0
	if intLen > 0 {
		lead = (4 - intLen%4) % 4
	} else {
		lead = -intLen // zeros between the point and the first digit
	}
	point := 0
	if intLen > 0 {
		point = lead + intLen
	}
	total := max(lead+len(coef), point)
	ngroups := (total + 3) / 4
	digit := func(i int) int16 {
		i -= lead
		if i < 0 || i >= len(coef) {
			return 0
		}
		return int16(coef[i] - '0')
	}
	first, last := 0, ngroups-1
	group := func(g int) int16 {
		return digit(4*g)*1000 + digit(4*g+1)*100 + digit(4*g+2)*10 + digit(4*g+3)
	}
	for first <= last && group(first) == 0 {
		first++
	}
	for last >= first && group(last) == 0 {
		last--
	}
	weight := point/4 - 1 - first
	sign := int16(0)
	if neg {
		sign = 0x4000
	}
	b = appendInt16(b, int16(last-first+1))
	b = appendInt16(b, int16(weight))
	b = appendInt16(b, sign)
	b = appendInt16(b, int16(dscale))
	for g := first; g <= last; g++ {
		b = appendInt16(b, group(g))
	}
	return b
}
