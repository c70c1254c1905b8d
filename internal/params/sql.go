package params

import (
	"regexp"
	"strings"
)

// Dialect is the SQL a query is written in, for BindSQL.
type Dialect int

// The dialects BindSQL reads.
const (
	// Postgres is PostgreSQL: '...' strings (E'...' with backslash
	// escapes), $tag$...$tag$ strings, "..." identifiers, -- and nested
	// /* */ comments.
	Postgres Dialect = iota
	// MySQL is MySQL and MariaDB: '...' and "..." strings with backslash
	// escapes, `...` identifiers, -- (followed by a space), # and /* */
	// comments.
	MySQL
)

// BindSQL rewrites a query for binding its parameters: each
// {{params.NAME}} that stands where a value may (outside strings, quoted
// identifiers and comments), or that makes up a whole string literal
// ('{{params.NAME}}', whose quotes go), is replaced by what placeholder
// returns for it, in the order they appear. References inside comments
// are left as they are. A reference inside a quoted identifier, or inside
// a string literal that holds more than it, is an *Error: a parameter is a
// value, never a name or a part of a literal's text.
//
// The values never enter the query's text, so that no value can change
// its structure whatever this reading of the dialect gets wrong: a
// misread placement can only fail the query.
func BindSQL(query string, d Dialect, placeholder func(name string) (string, error)) (string, error) {
	var b strings.Builder
	n := len(query)
	for i := 0; i < n; {
		c := query[i]
		var next byte
		if i+1 < n {
			next = query[i+1]
		}
		switch {
		case c == '{':
			if name, l, ok := refAt(query[i:]); ok {
				p, err := placeholder(name)
				if err != nil {
					return "", err
				}
				b.WriteString(p)
				i += l
				continue
			}
		case c == '\'' || (c == '"' && d == MySQL) ||
			(d == Postgres && (c == 'E' || c == 'e') && next == '\'' && (i == 0 || !identChar(query[i-1]))):
			start, quote := i, i
			escapes := d == MySQL
			if c != '\'' && c != '"' {
				quote, escapes = i+1, true
			}
			end := scanQuoted(query, quote, escapes)
			if err := literal(&b, query[start:end], query[quote+1:max(quote+1, end-1)], d, placeholder); err != nil {
				return "", err
			}
			i = end
			continue
		case (c == '"' && d == Postgres) || (c == '`' && d == MySQL):
			end := scanQuoted(query, i, false)
			if refs := Refs(query[i:end]); len(refs) > 0 {
				return "", Errorf(refs[0], "stands inside the quoted name %s: a parameter is a value, never the name of a column or table",
					query[i:end])
			}
			b.WriteString(query[i:end])
			i = end
			continue
		case c == '-' && next == '-' && (d == Postgres || i+2 >= n || query[i+2] <= ' '),
			c == '#' && d == MySQL:
			end := strings.IndexByte(query[i:], '\n')
			if end < 0 {
				end = n
			} else {
				end += i
			}
			b.WriteString(query[i:end])
			i = end
			continue
		case c == '/' && next == '*':
			end := scanComment(query, i, d == Postgres)
			b.WriteString(query[i:end])
			i = end
			continue
		case c == '$' && d == Postgres && (i == 0 || !identChar(query[i-1])):
			if tag := dollarTag.FindString(query[i:]); tag != "" {
				end := strings.Index(query[i+len(tag):], tag)
				if end < 0 {
					end = n
				} else {
					end += i + 2*len(tag)
				}
				if err := literal(&b, query[i:end], query[i+len(tag):max(i+len(tag), end-len(tag))], d, placeholder); err != nil {
					return "", err
				}
				i = end
				continue
			}
		}
		b.WriteByte(c)
		i++
	}
	return b.String(), nil
}

// dollarTag matches the opening of a PostgreSQL dollar-quoted string.
var dollarTag = regexp.MustCompile(`^\$(?:[A-Za-z_\x80-\xff][A-Za-z0-9_\x80-\xff]*)?\$`)

// literal writes a string literal (lit, as written; body, between its
// quotes): a placeholder when body is one reference, lit itself when it
// holds none, and an error when it holds a reference among other text.
func literal(b *strings.Builder, lit, body string, d Dialect, placeholder func(string) (string, error)) error {
	if name, l, ok := refAt(body); ok && l == len(body) {
		p, err := placeholder(name)
		if err != nil {
			return err
		}
		b.WriteString(p)
		return nil
	}
	if refs := Refs(body); len(refs) > 0 {
		concat := "'%' || {{params." + refs[0] + "}} || '%'"
		if d == MySQL {
			concat = "CONCAT('%', {{params." + refs[0] + "}}, '%')"
		}
		return Errorf(refs[0], "stands inside the string %s among other text: a parameter is bound as a whole value; "+
			"write it alone, as {{params.%s}} or '{{params.%s}}', and build the text in SQL, such as %s", clip(lit), refs[0], refs[0], concat)
	}
	b.WriteString(lit)
	return nil
}

// clip shortens a literal for a message.
func clip(s string) string {
	if len(s) > 60 {
		return s[:57] + "..."
	}
	return s
}

// scanQuoted returns the end of the quoted text that opens at q (the
// quote character): after its closing quote, a doubled quote being one
// quote character, and with escapes a backslash escaping the next byte;
// the end of s when it is not closed.
func scanQuoted(s string, q int, escapes bool) int {
	quote := s[q]
	for i := q + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if escapes {
				i++
			}
		case quote:
			if i+1 < len(s) && s[i+1] == quote {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(s)
}

// scanComment returns the end of the /* comment */ that opens at i;
// PostgreSQL's nest.
func scanComment(s string, i int, nested bool) int {
	depth := 0
	for j := i; j+1 < len(s); j++ {
		switch {
		case s[j] == '/' && s[j+1] == '*' && (nested || depth == 0):
			depth++
			j++
		case s[j] == '*' && s[j+1] == '/':
			depth--
			j++
			if depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// identChar reports whether c may continue an unquoted identifier.
func identChar(c byte) bool {
	return c == '_' || c == '$' || c >= 0x80 || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}
