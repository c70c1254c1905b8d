package bigquery

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/civil"
)

// The emulator runs no query parameters in multi-statement scripts, so
// shp's scripts (commits, staging, repairs) carry their values as
// literals, rendered here; single statements bind them as parameters.

// stringLiteral quotes s as a GoogleSQL string literal: quotes and
// backslashes escaped, control characters as \u escapes, bytes that are
// not UTF-8 as U+FFFD.
func stringLiteral(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('\'')
	for _, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\'':
			b.WriteString(`\'`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('\'')
	return b.String()
}

// valueLiteral renders a Go value as a GoogleSQL literal.
func valueLiteral(v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "NULL", nil
	case string:
		return stringLiteral(x), nil
	case []byte:
		return "FROM_BASE64(" + stringLiteral(base64(x)) + ")", nil
	case bool:
		if x {
			return "TRUE", nil
		}
		return "FALSE", nil
	case int:
		return strconv.Itoa(x), nil
	case int8:
		return strconv.FormatInt(int64(x), 10), nil
	case int16:
		return strconv.FormatInt(int64(x), 10), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case float32:
		return floatLiteral(float64(x)), nil
	case float64:
		return floatLiteral(x), nil
	case *big.Rat:
		return "NUMERIC " + stringLiteral(ratText(x)), nil
	case time.Time:
		return "TIMESTAMP " + stringLiteral(x.UTC().Format("2006-01-02 15:04:05.999999Z07:00")), nil
	case civil.Date:
		return "DATE " + stringLiteral(x.String()), nil
	case civil.DateTime:
		return "DATETIME " + stringLiteral(x.String()), nil
	case civil.Time:
		return "TIME " + stringLiteral(x.String()), nil
	case []string:
		return arrayLiteral("STRING", len(x), func(i int) (string, error) { return stringLiteral(x[i]), nil })
	case []int64:
		return arrayLiteral("INT64", len(x), func(i int) (string, error) { return strconv.FormatInt(x[i], 10), nil })
	case []float64:
		return arrayLiteral("FLOAT64", len(x), func(i int) (string, error) { return floatLiteral(x[i]), nil })
	case []bool:
		return arrayLiteral("BOOL", len(x), func(i int) (string, error) { return valueLiteral(x[i]) })
	}
	if isNullValue(v) {
		return "NULL", nil
	}
	return "", fmt.Errorf("a %T cannot be written into a query", v)
}

// floatLiteral writes a FLOAT64, NaN and the infinities included.
func floatLiteral(f float64) string {
	switch {
	case math.IsNaN(f):
		return "CAST('nan' AS FLOAT64)"
	case math.IsInf(f, 1):
		return "CAST('inf' AS FLOAT64)"
	case math.IsInf(f, -1):
		return "CAST('-inf' AS FLOAT64)"
	}
	s := strconv.FormatFloat(f, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return "CAST(" + s + " AS FLOAT64)"
}

func arrayLiteral(typ string, n int, elem func(int) (string, error)) (string, error) {
	parts := make([]string, n)
	for i := range parts {
		var err error
		if parts[i], err = elem(i); err != nil {
			return "", err
		}
	}
	return "ARRAY<" + typ + ">[" + strings.Join(parts, ", ") + "]", nil
}

// isNullValue reports the client's NULL wrappers (bigquery.NullString,
// ...) holding no value.
func isNullValue(v any) bool {
	type valider interface{ IsValid() bool }
	if n, ok := v.(valider); ok {
		return !n.IsValid()
	}
	return false
}

func base64(b []byte) string {
	const enc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	var s strings.Builder
	for i := 0; i < len(b); i += 3 {
		var n uint32
		k := 0
		for j := 0; j < 3; j++ {
			n <<= 8
			if i+j < len(b) {
				n |= uint32(b[i+j])
				k++
			}
		}
		for j := 0; j < 4; j++ {
			if j <= k {
				s.WriteByte(enc[(n>>(18-6*j))&63])
			} else {
				s.WriteByte('=')
			}
		}
	}
	return s.String()
}

// scanSQL walks sql outside string literals, quoted identifiers and
// comments, calling f with each position there.
func scanSQL(sql string, f func(i int)) {
	for i := 0; i < len(sql); i++ {
		c := sql[i]
		switch {
		case c == '\'' || c == '"' || c == '`':
			q := c
			triple := i+2 < len(sql) && sql[i+1] == q && sql[i+2] == q && q != '`'
			if triple {
				end := strings.Index(sql[i+3:], strings.Repeat(string(q), 3))
				if end < 0 {
					return
				}
				i += 3 + end + 2
				continue
			}
			for i++; i < len(sql) && sql[i] != q; i++ {
				if sql[i] == '\\' {
					i++
				}
			}
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-', c == '#':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			end := strings.Index(sql[i+2:], "*/")
			if end < 0 {
				return
			}
			i += 2 + end + 1
		default:
			f(i)
		}
	}
}

// isScript reports whether sql holds more than one statement.
func isScript(sql string) bool {
	script := false
	last := -1
	scanSQL(sql, func(i int) {
		if sql[i] == ';' {
			last = i
		}
	})
	if last >= 0 && strings.TrimSpace(sql[last+1:]) != "" {
		script = true
	}
	if !script && last >= 0 {
		// A ; before the last one separates statements too.
		n := 0
		scanSQL(sql, func(i int) {
			if sql[i] == ';' {
				n++
			}
		})
		script = n > 1
	}
	return script
}

// inline writes args into sql in place of its ? placeholders.
func inline(sql string, args []any) (string, error) {
	var marks []int
	scanSQL(sql, func(i int) {
		if sql[i] == '?' {
			marks = append(marks, i)
		}
	})
	if len(marks) != len(args) {
		return "", fmt.Errorf("%d placeholders for %d values", len(marks), len(args))
	}
	var b strings.Builder
	prev := 0
	for k, i := range marks {
		lit, err := valueLiteral(args[k])
		if err != nil {
			return "", fmt.Errorf("value %d: %w", k+1, err)
		}
		b.WriteString(sql[prev:i])
		b.WriteString(lit)
		prev = i + 1
	}
	b.WriteString(sql[prev:])
	return b.String(), nil
}
