package postgres

import (
	"math"
	"math/big"
	"strconv"
	"strings"
)

// This file reads numbers from text the way DuckDB's casts do, so that a
// value loads (or is set aside) in PostgreSQL exactly as it does in shp's
// DuckDB warehouse: leading and trailing white space, a sign, single
// underscores between digits ("1_000"), a decimal point with digits on
// either side (".5", "5."), an exponent ("1.5e3"), and for integers
// hexadecimal ("0x1F") and binary ("0b101") without a sign.

// isSpace is DuckDB's white space: space, \t, \n, \v, \f and \r.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// trimSpace trims DuckDB's white space from both ends.
func trimSpace(s string) string {
	i, j := 0, len(s)
	for i < j && isSpace(s[i]) {
		i++
	}
	for j > i && isSpace(s[j-1]) {
		j--
	}
	return s[i:j]
}

// trimBlanks trims spaces (only ' ', as DuckDB's trim() does).
func trimBlanks(s string) string { return strings.Trim(s, " ") }

// decimalNum is an exact decimal: coef × 10^-scale, coef's digits
// without leading zeros ("" for zero).
type decimalNum struct {
	neg   bool
	coef  []byte
	scale int
	// intDigits are the digits written before the decimal point, leading
	// zeros dropped: DuckDB's integer casts accumulate them in the target
	// type and fail when they overflow it, whatever the exponent does.
	intDigits []byte
}

// scanDecimal reads text as DuckDB's integer and decimal casts do (no
// hexadecimal). It returns false for text that is not a number.
func scanDecimal(s string, buf []byte) (decimalNum, bool) {
	var d decimalNum
	i, n := 0, len(s)
	for i < n && isSpace(s[i]) {
		i++
	}
	if i == n {
		return d, false
	}
	if s[i] == '-' {
		d.neg = true
		i++
	} else if s[i] == '+' {
		i++
	}
	coef := buf[:0]
	digits := 0
	// integer part
	for i < n && isDigit(s[i]) {
		coef = append(coef, s[i])
		digits++
		i++
		if i < n && s[i] == '_' {
			i++
			if i == n || !isDigit(s[i]) {
				return d, false
			}
		}
	}
	intLen := len(coef)
	frac := 0
	if i < n && s[i] == '.' {
		i++
		for i < n && isDigit(s[i]) {
			coef = append(coef, s[i])
			frac++
			i++
			if i < n && s[i] == '_' {
				i++
				if i == n || !isDigit(s[i]) {
					return d, false
				}
			}
		}
		if digits == 0 && frac == 0 {
			return d, false
		}
	} else if digits == 0 {
		return d, false
	}
	exp := 0
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		if digits == 0 && frac == 0 {
			return d, false
		}
		i++
		e, ok := scanExponent(s[i:])
		if !ok {
			return d, false
		}
		exp = e
		i = n
	}
	for i < n && isSpace(s[i]) {
		i++
	}
	if i != n {
		return d, false
	}
	d.intDigits = trimLeadingZeros(coef[:intLen])
	d.coef = trimLeadingZeros(coef)
	d.scale = frac - exp
	if len(d.coef) == 0 {
		d.neg = false
	}
	return d, true
}

// scanExponent reads an exponent as DuckDB does: an optional sign,
// digits with single underscores between them, trailing white space; it
// must fit 16 bits.
func scanExponent(s string) (int, bool) {
	i, n := 0, len(s)
	neg := false
	if i < n && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	v, digits := 0, 0
	for i < n && isDigit(s[i]) {
		v = v*10 + int(s[i]-'0')
		if (!neg && v > math.MaxInt16) || (neg && v > -math.MinInt16) {
			return 0, false
		}
		digits++
		i++
		if i < n && s[i] == '_' {
			i++
			if i == n || !isDigit(s[i]) {
				return 0, false
			}
		}
	}
	if digits == 0 {
		return 0, false
	}
	for i < n {
		if !isSpace(s[i]) {
			return 0, false
		}
		i++
	}
	if neg {
		v = -v
	}
	return v, true
}

func trimLeadingZeros(b []byte) []byte {
	for len(b) > 0 && b[0] == '0' {
		b = b[1:]
	}
	return b
}

// appendRounded appends to dst the digits of d rounded half away from
// zero to scale digits after the point, as an unscaled coefficient (no
// leading zeros, nothing for zero); false when that needs more than
// maxDigits digits.
func (d decimalNum) appendRounded(dst []byte, scale, maxDigits int) ([]byte, bool) {
	start := len(dst)
	if d.scale <= scale {
		if len(d.coef) == 0 {
			return dst, true
		}
		if len(d.coef)+scale-d.scale > maxDigits {
			return dst, false
		}
		dst = append(dst, d.coef...)
		for k := d.scale; k < scale; k++ {
			dst = append(dst, '0')
		}
		return dst, true
	}
	keep := len(d.coef) - (d.scale - scale)
	if keep < 0 {
		return dst, true // below half a unit
	}
	dst = append(dst, d.coef[:keep]...)
	if keep < len(d.coef) && d.coef[keep] >= '5' {
		digits := dst[start:]
		i := len(digits) - 1
		for ; i >= 0 && digits[i] == '9'; i-- {
			digits[i] = '0'
		}
		if i >= 0 {
			digits[i]++
		} else {
			dst = append(dst, 0)
			copy(dst[start+1:], dst[start:len(dst)-1])
			dst[start] = '1'
		}
	}
	digits := dst[start:]
	z := 0
	for z < len(digits) && digits[z] == '0' {
		z++
	}
	if z > 0 {
		n := copy(digits, digits[z:])
		dst = dst[:start+n]
	}
	if len(dst)-start > maxDigits {
		return dst[:start], false
	}
	return dst, true
}

// fitsInt reports whether the digits (no sign, no leading zeros) are an
// integer within the limits of a signed integer of the given bits.
func fitsInt(digits []byte, neg bool, bits int) bool {
	limit := intLimits[bits]
	if neg {
		limit = intLimitsNeg[bits]
	}
	if len(digits) != len(limit) {
		return len(digits) < len(limit)
	}
	return string(digits) <= limit
}

var (
	intLimits    = map[int]string{16: "32767", 32: "2147483647", 64: "9223372036854775807", 128: "170141183460469231731687303715884105727"}
	intLimitsNeg = map[int]string{16: "32768", 32: "2147483648", 64: "9223372036854775808", 128: "170141183460469231731687303715884105728"}
)

// digitsInt64 turns digits that fit 64 bits into an int64.
func digitsInt64(digits []byte, neg bool) int64 {
	var u uint64
	for _, c := range digits {
		u = u*10 + uint64(c-'0')
	}
	if neg {
		return int64(-u)
	}
	return int64(u)
}

// castInt is DuckDB's TRY_CAST(text AS <integer of bits>): integers,
// hexadecimal and binary, decimals and exponents rounded half away from
// zero.
func castInt(s string, bits int) (int64, bool) {
	if v, ok := fastInt(s, bits); ok {
		return v, true
	}
	t := s
	for len(t) > 0 && isSpace(t[0]) {
		t = t[1:]
	}
	if len(t) > 1 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X' || t[1] == 'b' || t[1] == 'B') {
		base := uint64(16)
		if t[1] == 'b' || t[1] == 'B' {
			base = 2
		}
		return castRadix(t[2:], base, bits)
	}
	var tmp, out [48]byte
	d, ok := scanDecimal(s, tmp[:0])
	if !ok {
		return 0, false
	}
	// DuckDB accumulates the digits before the point in a 64-bit
	// integer, whatever the exponent.
	if !fitsInt(d.intDigits, d.neg, 64) {
		return 0, false
	}
	r, ok := d.appendRounded(out[:0], 0, 40)
	if !ok || !fitsInt(r, d.neg, bits) {
		return 0, false
	}
	return digitsInt64(r, d.neg), true
}

// fastInt reads plain decimal integers ("-42") of up to 18 digits.
func fastInt(s string, bits int) (int64, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		neg, i = true, 1
	}
	if len(s)-i == 0 || len(s)-i > 18 {
		return 0, false
	}
	var v int64
	for ; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	switch bits {
	case 16:
		return v, v >= math.MinInt16 && v <= math.MaxInt16
	case 32:
		return v, v >= math.MinInt32 && v <= math.MaxInt32
	}
	return v, true
}

// castRadix reads hexadecimal or binary digits (single underscores
// between them allowed) as a non-negative integer of bits.
func castRadix(s string, base uint64, bits int) (int64, bool) {
	if s == "" {
		return 0, false
	}
	max := uint64(1)<<(bits-1) - 1
	var v uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		var digit uint64
		switch {
		case c >= '0' && c <= '9':
			digit = uint64(c - '0')
		case c >= 'a' && c <= 'f':
			digit = uint64(c-'a') + 10
		case c >= 'A' && c <= 'F':
			digit = uint64(c-'A') + 10
		default:
			return 0, false
		}
		if digit >= base {
			return 0, false
		}
		if v > (max-digit)/base {
			return 0, false
		}
		v = v*base + digit
		if i+1 < len(s) && s[i+1] == '_' {
			i++
			if i+1 == len(s) {
				return 0, false
			}
		}
	}
	return int64(v), true
}

// castHugeint is DuckDB's TRY_CAST(text AS HUGEINT) as a decimal digit
// string (no hexadecimal), for the comparison shp's integer conversion
// makes.
func castHugeint(s string) (decimalNum, []byte, bool) {
	var tmp, out [48]byte
	d, ok := scanDecimal(s, tmp[:0])
	if !ok || !fitsInt(d.intDigits, d.neg, 128) {
		return d, nil, false
	}
	r, ok := d.appendRounded(out[:0], 0, 39)
	if !ok || !fitsInt(r, d.neg, 128) {
		return d, nil, false
	}
	return d, r, true
}

// digitsFloat is the double nearest to the integer digits.
func digitsFloat(digits []byte, neg bool) float64 {
	if len(digits) == 0 {
		return 0
	}
	f, _ := strconv.ParseFloat(string(digits), 64)
	if neg {
		f = -f
	}
	return f
}

// castDouble is DuckDB's TRY_CAST(text AS DOUBLE) (bits 64) or AS FLOAT
// (bits 32): white space, a sign, underscores between digits, inf,
// infinity and nan in any case; a number too large is infinite.
func castDouble(s string, bits int) (float64, bool) {
	if f, err := strconv.ParseFloat(s, bits); err == nil && plainFloat(s) {
		return f, true
	}
	t := trimSpace(s)
	if t == "" {
		return 0, false
	}
	if t[0] == '+' {
		t = t[1:]
	}
	neg := false
	body := t
	if len(body) > 0 && body[0] == '-' {
		neg, body = true, body[1:]
	}
	switch strings.ToLower(body) {
	case "inf", "infinity":
		if neg {
			return math.Inf(-1), true
		}
		return math.Inf(1), true
	case "nan":
		if neg {
			return math.Copysign(math.NaN(), -1), true
		}
		return math.NaN(), true
	}
	clean, ok := floatSyntax(body)
	if !ok {
		return 0, false
	}
	f, err := strconv.ParseFloat(clean, bits)
	if err != nil {
		if ne, isNum := err.(*strconv.NumError); !isNum || ne.Err != strconv.ErrRange {
			return 0, false
		}
	}
	if neg {
		f = -f
	}
	return f, true
}

// plainFloat reports whether s is digits with an optional leading '-'
// and one '.', which strconv reads exactly as DuckDB does.
func plainFloat(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	digits, dot := 0, false
	for ; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.' && !dot:
			dot = true
		default:
			return false
		}
	}
	return digits > 0
}

// floatSyntax checks an unsigned floating-point number (digits with
// single underscores between them, a point, an exponent) and returns it
// without underscores.
func floatSyntax(s string) (string, bool) {
	var b strings.Builder
	i, n := 0, len(s)
	digits := 0
	readDigits := func() bool {
		for i < n && isDigit(s[i]) {
			b.WriteByte(s[i])
			digits++
			i++
			if i < n && s[i] == '_' {
				i++
				if i == n || !isDigit(s[i]) {
					return false
				}
			}
		}
		return true
	}
	if !readDigits() {
		return "", false
	}
	if i < n && s[i] == '.' {
		b.WriteByte('.')
		i++
		if !readDigits() {
			return "", false
		}
	}
	if digits == 0 {
		return "", false
	}
	if i < n && (s[i] == 'e' || s[i] == 'E') {
		b.WriteByte('e')
		i++
		if i < n && (s[i] == '+' || s[i] == '-') {
			b.WriteByte(s[i])
			i++
		}
		digits = 0
		if !readDigits() || digits == 0 {
			return "", false
		}
	}
	if i != n {
		return "", false
	}
	return b.String(), true
}

// decimalToFloat is DuckDB's CAST(decimal AS DOUBLE) of a DECIMAL(p,s):
// the unscaled integer divided by 10^s when the integer is exact as a
// double, else its quotient by 10^s plus the remainder divided by 10^s
// (integers of a DECIMAL wider than 18 digits converted as DuckDB
// converts a HUGEINT).
func decimalToFloat(coef []byte, neg bool, scale, prec int) float64 {
	if len(coef) <= 15 || scale == 0 {
		return intToFloat(bigFromDigits(coef), neg, prec) / pow10(scale)
	}
	v := bigFromDigits(coef)
	if v.Cmp(twoPow53) <= 0 {
		return intToFloat(v, neg, prec) / pow10(scale)
	}
	div, mod := new(big.Int).QuoRem(v, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil), new(big.Int))
	return intToFloat(div, neg, prec) + intToFloat(mod, neg, prec)/pow10(scale)
}

var twoPow53 = new(big.Int).Lsh(big.NewInt(1), 53)

func pow10(n int) float64 {
	if n <= 308 {
		return math.Pow10(n)
	}
	return math.Inf(1)
}

// intToFloat converts an integer (magnitude v) as DuckDB converts the
// integer behind a DECIMAL of precision prec: a 64-bit integer exactly
// rounded, a HUGEINT as its two 64-bit halves.
func intToFloat(v *big.Int, neg bool, prec int) float64 {
	if prec <= 18 || v.IsInt64() && !neg {
		f, _ := new(big.Float).SetInt(v).Float64()
		if neg {
			f = -f
		}
		return f
	}
	x := new(big.Int).Set(v)
	if neg {
		x.Neg(x)
	}
	// two's complement halves of a 128-bit integer
	mask := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(1))
	lower := new(big.Int).And(x, mask).Uint64()
	upper := new(big.Int).Rsh(x, 64).Int64()
	if upper == -1 {
		return -float64(math.MaxUint64-lower) - 1
	}
	return float64(lower) + float64(upper)*18446744073709551616.0
}

// bigFromDigits parses decimal digits.
func bigFromDigits(digits []byte) *big.Int {
	v, _ := new(big.Int).SetString(string(digits), 10)
	if v == nil {
		return new(big.Int)
	}
	return v
}
