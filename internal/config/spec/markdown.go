package spec

import (
	"fmt"
	"strconv"
	"strings"
)

// Markdown renders s for the reference: a heading at level (3 is "###")
// naming it, its summary, the table of its keys and its constraints.
func (s Spec) Markdown(level int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s `%s`\n\n", strings.Repeat("#", level), s.Name)
	if s.Summary != "" {
		b.WriteString(s.Summary + "\n\n")
	}
	if len(s.Fields) > 0 {
		b.WriteString(Table(s.Fields))
	} else {
		b.WriteString("No keys of its own.\n")
	}
	if c := s.constraints(); c != "" {
		b.WriteString("\n" + c + "\n")
	}
	return b.String()
}

// constraints describes the spec's OneOf and AnyOf groups in sentences.
func (s Spec) constraints() string {
	var out []string
	for _, g := range s.OneOf {
		out = append(out, "Give exactly one of "+codeList(g, "or")+".")
	}
	for _, g := range s.AnyOf {
		out = append(out, "Give "+codeList(g, "or")+" (at least one).")
	}
	return strings.Join(out, " ")
}

// Table renders fields as a Markdown table with the columns Key, Type,
// Default and Description; an Object's keys follow it as parent.key rows.
func Table(fields []Field) string {
	var b strings.Builder
	b.WriteString("| Key | Type | Default | Description |\n|---|---|---|---|\n")
	writeRows(&b, "", fields)
	return b.String()
}

// writeRows writes the table rows of fields, their names prefixed.
func writeRows(b *strings.Builder, prefix string, fields []Field) {
	for _, f := range fields {
		def := ""
		switch {
		case f.Required && prefix != "":
			def = "required in `" + strings.TrimSuffix(prefix, ".") + "`"
		case f.Required:
			def = "required"
		case f.Default != nil:
			def = "`" + FormatValue(f.Default) + "`"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", prefix+f.Name, TypeName(f), def, cell(description(f)))
		if f.Type == Object {
			writeRows(b, prefix+f.Name+".", f.Fields)
		}
	}
}

// description is a field's Doc with its enum and example.
func description(f Field) string {
	parts := []string{}
	if f.Doc != "" {
		parts = append(parts, f.Doc)
	}
	if len(f.Enum) > 0 {
		parts = append(parts, "One of "+codeList(f.Enum, "or")+".")
	}
	if f.Example != "" {
		parts = append(parts, "Example: `"+f.Example+"`.")
	}
	return strings.Join(parts, " ")
}

// TypeName describes a field's type for people: "string", "list of
// strings", "env var name".
func TypeName(f Field) string {
	switch f.Type {
	case Int:
		return "integer"
	case Bool:
		return "boolean"
	case StringList:
		return "list of strings"
	case Map:
		if f.Elem == String {
			return "mapping of strings"
		}
		return "mapping"
	case SecretEnv:
		return "env var name"
	case SecretFile:
		return "file path"
	}
	return string(f.Type)
}

// FormatValue writes a default value the way YAML would.
func FormatValue(v any) string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return `""`
		}
		return x
	case []string:
		quoted := make([]string, len(x))
		for i, s := range x {
			quoted[i] = strconv.Quote(s)
		}
		return "[" + strings.Join(quoted, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// codeList writes values as code, joined with commas and the last with
// conj: "`a`, `b` or `c`".
func codeList(values []string, conj string) string {
	quoted := make([]string, len(values))
	for i, v := range values {
		quoted[i] = "`" + v + "`"
	}
	if len(quoted) < 2 {
		return strings.Join(quoted, "")
	}
	return strings.Join(quoted[:len(quoted)-1], ", ") + " " + conj + " " + quoted[len(quoted)-1]
}

// cell escapes text for a table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}
