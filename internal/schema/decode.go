package schema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// rawField is a field as written in the file, before normalisation.
type rawField struct {
	Name, Type, Mode, Description string
	Format                        string // a date or time column's strptime layout
	Precision, Scale              string // decimal parameters, as written (BigQuery writes them as strings)
	Fields                        []rawField
}

// ignoredKeys are BigQuery field attributes that are valid in a schema file
// but not used by shp.
var ignoredKeys = map[string]bool{
	"policyTags":             true,
	"dataPolicies":           true,
	"maxLength":              true,
	"defaultValueExpression": true,
	"collation":              true,
	"rangeElementType":       true,
	"roundingMode":           true,
	"foreignTypeDefinition":  true,
	"categories":             true,
}

// decoder walks the tokens of a syntactically valid JSON document and
// remembers where each token starts, so that structural errors can name a
// line and column.
type decoder struct {
	dec  *json.Decoder
	data []byte
	file string
}

// decode checks the syntax of data and then extracts the raw fields.
func decode(data []byte, file string) ([]rawField, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	var probe any
	if err := json.Unmarshal(data, &probe); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			off := int(syn.Offset) - 1 // Offset counts the offending byte.
			if int(syn.Offset) >= len(data) && strings.Contains(syn.Error(), "unexpected end") {
				off = len(data)
			}
			line, col := lineCol(data, off)
			return nil, fmt.Errorf("%s:%d:%d: %w", file, line, col, err)
		}
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	d := &decoder{dec: json.NewDecoder(bytes.NewReader(data)), data: data, file: file}
	d.dec.UseNumber()
	tok, off, err := d.next()
	if err != nil {
		return nil, err
	}
	switch tok {
	case json.Delim('['):
		return d.fields("")
	case json.Delim('{'):
		return d.tableResource()
	}
	return nil, d.errorf(off, "schema must be a JSON array of fields, got %s", kind(tok))
}

// tableResource reads a {"fields": [...]} object whose '{' was consumed.
func (d *decoder) tableResource() ([]rawField, error) {
	var fields []rawField
	found := false
	for d.dec.More() {
		key, off, err := d.next()
		if err != nil {
			return nil, err
		}
		if key != "fields" {
			return nil, d.errorf(off, "unknown key %q (want a JSON array of fields or {\"fields\": [...]})", key)
		}
		tok, off, err := d.next()
		if err != nil {
			return nil, err
		}
		if tok != json.Delim('[') {
			return nil, d.errorf(off, "\"fields\" must be an array, got %s", kind(tok))
		}
		if fields, err = d.fields(""); err != nil {
			return nil, err
		}
		found = true
	}
	if !found {
		return nil, fmt.Errorf("%s: schema object has no \"fields\" array", d.file)
	}
	return fields, nil
}

// fields reads the elements of an array of fields whose '[' was consumed,
// and the closing ']'. num is the dotted number of the parent field.
func (d *decoder) fields(num string) ([]rawField, error) {
	var out []rawField
	for i := 1; d.dec.More(); i++ {
		fnum := fmt.Sprint(i)
		if num != "" {
			fnum = num + "." + fnum
		}
		tok, off, err := d.next()
		if err != nil {
			return nil, err
		}
		if tok != json.Delim('{') {
			return nil, d.errorf(off, "field %s: expected an object, got %s", fnum, kind(tok))
		}
		f, err := d.field(fnum)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	if _, _, err := d.next(); err != nil { // ']'
		return nil, err
	}
	return out, nil
}

// field reads the members of a field object whose '{' was consumed, and
// the closing '}'.
func (d *decoder) field(num string) (rawField, error) {
	var f rawField
	seen := map[string]bool{}
	for d.dec.More() {
		tok, keyOff, err := d.next()
		if err != nil {
			return f, err
		}
		key, _ := tok.(string)
		if seen[key] {
			return f, d.errorf(keyOff, "field %s: duplicate key %q", num, key)
		}
		seen[key] = true
		val, off, err := d.next()
		if err != nil {
			return f, err
		}
		var dst *string
		switch key {
		case "name":
			dst = &f.Name
		case "type":
			dst = &f.Type
		case "mode":
			dst = &f.Mode
		case "description":
			dst = &f.Description
		case "format":
			dst = &f.Format
		case "precision", "scale":
			dst = &f.Precision
			if key == "scale" {
				dst = &f.Scale
			}
			switch n := val.(type) {
			case float64:
				*dst = strconv.FormatFloat(n, 'f', -1, 64)
				continue
			case json.Number:
				*dst = n.String()
				continue
			}
		case "fields":
			switch val {
			case nil:
			case json.Delim('['):
				if f.Fields, err = d.fields(num); err != nil {
					return f, err
				}
			default:
				return f, d.errorf(off, "field %s: \"fields\" must be an array, got %s", num, kind(val))
			}
			continue
		default:
			if !ignoredKeys[key] {
				return f, d.errorf(keyOff, "field %s: unknown key %q", num, key)
			}
			if err := d.skip(val); err != nil {
				return f, err
			}
			continue
		}
		switch v := val.(type) {
		case nil:
		case string:
			*dst = v
		default:
			return f, d.errorf(off, "field %s: %q must be a string, got %s", num, key, kind(val))
		}
	}
	_, _, err := d.next() // '}'
	return f, err
}

// skip consumes the rest of the value that starts with tok.
func (d *decoder) skip(tok json.Token) error {
	if tok != json.Delim('{') && tok != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, _, err := d.next()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// next returns the next token and the byte offset at which it starts.
func (d *decoder) next() (json.Token, int, error) {
	off := int(d.dec.InputOffset())
	tok, err := d.dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, off, fmt.Errorf("%s: %w", d.file, err)
	}
	// InputOffset points just past the previous token: skip the separators.
	for off < len(d.data) {
		switch d.data[off] {
		case ' ', '\t', '\r', '\n', ',', ':':
			off++
			continue
		}
		break
	}
	return tok, off, nil
}

// errorf returns an error naming the file, line and column of byte offset
// off.
func (d *decoder) errorf(off int, format string, args ...any) error {
	line, col := lineCol(d.data, off)
	return fmt.Errorf("%s:%d:%d: %s", d.file, line, col, fmt.Sprintf(format, args...))
}

// lineCol converts a byte offset into a 1-based line and a 1-based column
// counted in characters.
func lineCol(data []byte, off int) (line, col int) {
	off = min(max(off, 0), len(data))
	before := data[:off]
	line = 1 + bytes.Count(before, []byte("\n"))
	start := bytes.LastIndexByte(before, '\n') + 1
	return line, 1 + utf8.RuneCount(before[start:])
}

// kind describes the JSON type of a token for error messages.
func kind(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return "an object"
		}
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}
