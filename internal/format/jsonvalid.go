package format

import (
	"fmt"
	"strconv"
)

// plainStringByte marks the bytes a JSON string holds without escaping.
var plainStringByte = func() (t [256]bool) {
	for i := 0x20; i < 256; i++ {
		t[i] = i != '"' && i != '\\'
	}
	return t
}()

// jsonValidator checks that a buffer holds exactly one JSON value (RFC 8259
// grammar; UTF-8 is checked elsewhere). It accepts what json.Valid accepts
// except that it has no nesting limit, is several times faster, and
// reports the offset of the first offending byte.
type jsonValidator struct {
	stack []byte // open containers: '{' or '['
}

// syntaxError is where and why a JSON text is malformed.
type syntaxError struct {
	off int
	msg string
}

// Error formats the problem with its offset.
func (e *syntaxError) Error() string { return fmt.Sprintf("%s at offset %d", e.msg, e.off) }

func quoteChar(c byte) string {
	switch c {
	case '\'':
		return `'\''`
	case '"':
		return `'"'`
	}
	s := strconv.Quote(string(rune(c)))
	return "'" + s[1:len(s)-1] + "'"
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && isJSONSpace(b[i]) {
		i++
	}
	return i
}

// validate returns nil if b is one JSON value with optional whitespace
// around it.
func (v *jsonValidator) validate(b []byte) *syntaxError {
	v.stack = v.stack[:0]
	eof := func() *syntaxError { return &syntaxError{len(b), "unexpected end of input"} }
	bad := func(i int, context string) *syntaxError {
		return &syntaxError{i, "invalid character " + quoteChar(b[i]) + " " + context}
	}
	i := skipSpace(b, 0)
	for {
		// A value starts at i.
		if i >= len(b) {
			return eof()
		}
		switch c := b[i]; {
		case c == '{':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			v.stack = append(v.stack, '{')
			var err *syntaxError
			if i, err = v.objectKey(b, i, "looking for beginning of object key string"); err != nil {
				return err
			}
			continue
		case c == '[':
			i = skipSpace(b, i+1)
			if i < len(b) && b[i] == ']' {
				i++
				break
			}
			v.stack = append(v.stack, '[')
			continue
		case c == '"':
			var err *syntaxError
			if i, err = scanString(b, i); err != nil {
				return err
			}
		case c == '-' || (c >= '0' && c <= '9'):
			var err *syntaxError
			if i, err = scanNumber(b, i); err != nil {
				return err
			}
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			switch c {
			case 't':
				lit = "true"
			case 'f':
				lit = "false"
			}
			for j := 1; j < len(lit); j++ {
				if i+j >= len(b) {
					return eof()
				}
				if b[i+j] != lit[j] {
					return bad(i+j, "in literal "+lit+" (expecting "+quoteChar(lit[j])+")")
				}
			}
			i += len(lit)
		default:
			return bad(i, "looking for beginning of value")
		}
		// A value ended at i: close containers or move to the next member.
		for {
			i = skipSpace(b, i)
			if len(v.stack) == 0 {
				if i < len(b) {
					return bad(i, "after top-level value")
				}
				return nil
			}
			if i >= len(b) {
				return eof()
			}
			top := v.stack[len(v.stack)-1]
			switch {
			case b[i] == ',' && top == '{':
				var err *syntaxError
				if i, err = v.objectKey(b, skipSpace(b, i+1), "looking for beginning of object key string"); err != nil {
					return err
				}
			case b[i] == ',':
				i = skipSpace(b, i+1)
			case b[i] == '}' && top == '{', b[i] == ']' && top == '[':
				v.stack = v.stack[:len(v.stack)-1]
				i++
				continue
			case top == '{':
				return bad(i, "after object key:value pair")
			default:
				return bad(i, "after array element")
			}
			break
		}
	}
}

// objectKey scans `"key" :` at i and returns where the value starts.
func (v *jsonValidator) objectKey(b []byte, i int, context string) (int, *syntaxError) {
	if i >= len(b) {
		return i, &syntaxError{len(b), "unexpected end of input"}
	}
	if b[i] != '"' {
		return i, &syntaxError{i, "invalid character " + quoteChar(b[i]) + " " + context}
	}
	i, err := scanString(b, i)
	if err != nil {
		return i, err
	}
	i = skipSpace(b, i)
	if i >= len(b) {
		return i, &syntaxError{len(b), "unexpected end of input"}
	}
	if b[i] != ':' {
		return i, &syntaxError{i, "invalid character " + quoteChar(b[i]) + " after object key"}
	}
	return skipSpace(b, i+1), nil
}

// scanString scans the string starting with the quote at i and returns the
// offset after its closing quote.
func scanString(b []byte, i int) (int, *syntaxError) {
	i++
	for {
		for i < len(b) && plainStringByte[b[i]] {
			i++
		}
		if i >= len(b) {
			return i, &syntaxError{len(b), "unexpected end of input"}
		}
		switch c := b[i]; {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			i++
			if i >= len(b) {
				return i, &syntaxError{len(b), "unexpected end of input"}
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				for j := 1; j <= 4; j++ {
					if i+j >= len(b) {
						return i, &syntaxError{len(b), "unexpected end of input"}
					}
					if !isHex(b[i+j]) {
						return i, &syntaxError{i + j, "invalid character " + quoteChar(b[i+j]) + " in \\u hexadecimal character escape"}
					}
				}
				i += 5
			default:
				return i, &syntaxError{i, "invalid character " + quoteChar(b[i]) + " in string escape code"}
			}
		default: // a control character
			return i, &syntaxError{i, "invalid character " + quoteChar(c) + " in string literal"}
		}
	}
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber scans the number starting at i and returns the offset after it.
func scanNumber(b []byte, i int) (int, *syntaxError) {
	digits := func(i int, context string) (int, *syntaxError) {
		if i >= len(b) {
			return i, &syntaxError{len(b), "unexpected end of input"}
		}
		if !isDigit(b[i]) {
			return i, &syntaxError{i, "invalid character " + quoteChar(b[i]) + " " + context}
		}
		for i < len(b) && isDigit(b[i]) {
			i++
		}
		return i, nil
	}
	if b[i] == '-' {
		i++
	}
	var err *syntaxError
	if i < len(b) && b[i] == '0' {
		i++
	} else if i, err = digits(i, "in numeric literal"); err != nil {
		return i, err
	}
	if i < len(b) && b[i] == '.' {
		if i, err = digits(i+1, "after decimal point in numeric literal"); err != nil {
			return i, err
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i, err = digits(i, "in exponent of numeric literal"); err != nil {
			return i, err
		}
	}
	return i, nil
}
