package config

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// LookupEnvFunc returns the value of an environment variable and whether it
// is set, like os.LookupEnv.
type LookupEnvFunc func(name string) (string, bool)

// envError is a problem found while expanding environment references,
// positioned in the original (unexpanded) text.
type envError struct {
	line, col int
	msg       string
}

// replacement records that the original characters [origStart, origEnd) of
// a line became the characters [newStart, newEnd) of the expanded line.
// Columns are 1-based and counted in characters.
type replacement struct {
	newStart, newEnd, origStart, origEnd int
}

// colMap maps positions in expanded text back to the original text, so that
// error columns match what the user sees in the file. It only has entries
// for lines that contained references.
type colMap map[int][]replacement

// original returns the column in the original text of column col of line
// in the expanded text. A column inside a substituted value maps to the '$'
// that introduced it.
func (m colMap) original(line, col int) int {
	delta := 0
	for _, r := range m[line] {
		if col < r.newStart {
			break
		}
		if col == r.newStart || col < r.newEnd {
			return r.origStart
		}
		delta = r.origEnd - r.newEnd
	}
	return col + delta
}

// expandEnv replaces ${VAR} and ${VAR:-default} in src with values from
// lookup, and $$ with a literal $. ${VAR:-default} uses default when VAR is
// unset or empty; ${VAR} with VAR unset is an error. Any other $ is kept as
// is. Comments (a '#' at the start of a line, or after a blank outside
// quotes) are left untouched.
// Values must not contain line breaks, so line numbers never change.
func expandEnv(src []byte, lookup LookupEnvFunc) ([]byte, colMap, []envError) {
	var (
		out  strings.Builder
		cols = colMap{}
		errs []envError
	)
	out.Grow(len(src))
	for i, line := range strings.SplitAfter(string(src), "\n") {
		lineNo := i + 1
		if !strings.Contains(line, "$") || strings.HasPrefix(strings.TrimSpace(line), "#") {
			out.WriteString(line)
			continue
		}
		origCol, newCol := 1, 1 // column of line[pos] and of the next output character
		emit := func(s string, origLen int) {
			cols[lineNo] = append(cols[lineNo], replacement{
				newStart: newCol, newEnd: newCol + utf8.RuneCountInString(s),
				origStart: origCol, origEnd: origCol + origLen,
			})
			out.WriteString(s)
			newCol += utf8.RuneCountInString(s)
			origCol += origLen
		}
		var quote byte // the quote character of the scalar being read, or 0
		for pos := 0; pos < len(line); {
			rest := line[pos:]
			c := rest[0]
			if quote == 0 && c == '#' && (pos == 0 || line[pos-1] == ' ' || line[pos-1] == '\t') {
				out.WriteString(rest) // a comment: keep it as written
				break
			}
			switch {
			case c == quote && (quote == '\'' || pos == 0 || line[pos-1] != '\\'):
				quote = 0
			case quote == 0 && (c == '"' || c == '\'') && startsScalar(line[:pos]):
				quote = c
			}
			switch {
			case strings.HasPrefix(rest, "$$"):
				emit("$", 2)
				pos += 2
			case strings.HasPrefix(rest, "${"):
				end := strings.IndexByte(rest, '}')
				if end < 0 {
					errs = append(errs, envError{lineNo, origCol, "unterminated ${ (missing })"})
					out.WriteString(rest)
					pos = len(line)
					continue
				}
				ref := rest[:end+1]
				val, msg := resolveRef(ref[2:end], lookup)
				if msg != "" {
					errs = append(errs, envError{lineNo, origCol, msg})
					val = ""
				}
				emit(val, utf8.RuneCountInString(ref))
				pos += len(ref)
			default:
				_, size := utf8.DecodeRuneInString(rest)
				out.WriteString(rest[:size])
				pos += size
				origCol++
				newCol++
			}
		}
	}
	return []byte(out.String()), cols, errs
}

// startsScalar reports whether a quote after before opens a quoted YAML
// scalar (it follows a key, a list dash, a flow bracket or nothing), not an
// apostrophe inside plain text such as "it's".
func startsScalar(before string) bool {
	t := strings.TrimRight(before, " \t")
	if t == "" {
		return true
	}
	switch t[len(t)-1] {
	case ':', '-', '[', '{', ',':
		return true
	}
	return false
}

// resolveRef returns the value of the reference body "VAR" or
// "VAR:-default", or a message explaining why it cannot be resolved.
func resolveRef(body string, lookup LookupEnvFunc) (value, msg string) {
	name, def, hasDefault := strings.Cut(body, ":-")
	if !validEnvName(name) {
		return "", fmt.Sprintf("invalid environment variable reference ${%s} (want ${NAME} or ${NAME:-default})", body)
	}
	val, ok := lookup(name)
	switch {
	case hasDefault && val == "":
		val = def
	case !ok:
		return "", fmt.Sprintf("environment variable %s is not set (use ${%s:-default} to give a default)", name, name)
	}
	if strings.ContainsAny(val, "\r\n") {
		return "", fmt.Sprintf("environment variable %s contains a line break", name)
	}
	return val, ""
}

// validEnvName reports whether name is a shell variable name.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
