// Package schema reads table schemas written in BigQuery's JSON schema
// format:
//
//	[
//	  {"name": "order_id", "type": "INTEGER", "mode": "REQUIRED", "description": "..."},
//	  {"name": "customer", "type": "RECORD", "fields": [{"name": "id", "type": "STRING"}]}
//	]
//
// Types are normalised to BigQuery standard SQL names (INTEGER becomes INT64,
// FLOAT becomes FLOAT64, BOOLEAN becomes BOOL, STRUCT becomes RECORD) and
// modes to NULLABLE, REQUIRED or REPEATED, so callers only ever see the
// canonical spelling.
package schema

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Standard SQL type names a Field's Type is normalised to.
const (
	TypeString     = "STRING"     // UTF-8 text.
	TypeBytes      = "BYTES"      // Binary data.
	TypeInt64      = "INT64"      // 64-bit integer (legacy name INTEGER).
	TypeFloat64    = "FLOAT64"    // Double precision float (legacy name FLOAT).
	TypeNumeric    = "NUMERIC"    // Exact decimal, 38 digits of precision.
	TypeBigNumeric = "BIGNUMERIC" // Exact decimal, 76 digits of precision.
	TypeBool       = "BOOL"       // Boolean (legacy name BOOLEAN).
	TypeTimestamp  = "TIMESTAMP"  // Absolute point in time.
	TypeDate       = "DATE"       // Calendar date.
	TypeTime       = "TIME"       // Time of day.
	TypeDatetime   = "DATETIME"   // Civil date and time without a time zone.
	TypeJSON       = "JSON"       // JSON document.
	TypeGeography  = "GEOGRAPHY"  // Point set on the Earth's surface.
	TypeRecord     = "RECORD"     // Nested fields (legacy name STRUCT).
)

// Modes a Field's Mode is normalised to.
const (
	ModeNullable = "NULLABLE" // The column may be NULL (the default).
	ModeRequired = "REQUIRED" // The column must not be NULL.
	ModeRepeated = "REPEATED" // The column is an array.
)

// MaxNameLength is the longest column name BigQuery accepts.
const MaxNameLength = 300

// typeAliases maps every accepted upper-cased type name to its standard SQL
// name.
var typeAliases = map[string]string{
	TypeString:     TypeString,
	TypeBytes:      TypeBytes,
	TypeInt64:      TypeInt64,
	"INTEGER":      TypeInt64,
	TypeFloat64:    TypeFloat64,
	"FLOAT":        TypeFloat64,
	TypeNumeric:    TypeNumeric,
	TypeBigNumeric: TypeBigNumeric,
	TypeBool:       TypeBool,
	"BOOLEAN":      TypeBool,
	TypeTimestamp:  TypeTimestamp,
	TypeDate:       TypeDate,
	TypeTime:       TypeTime,
	TypeDatetime:   TypeDatetime,
	TypeJSON:       TypeJSON,
	TypeGeography:  TypeGeography,
	TypeRecord:     TypeRecord,
	"STRUCT":       TypeRecord,
}

// Field is one column of a table schema.
type Field struct {
	// Name is the column name, a valid identifier (see ValidName).
	Name string `json:"name"`
	// Type is the standard SQL type name, one of the Type constants.
	Type string `json:"type"`
	// Mode is ModeNullable, ModeRequired or ModeRepeated.
	Mode string `json:"mode"`
	// Description is free text documenting the column.
	Description string `json:"description,omitempty"`
	// Precision and Scale parameterise NUMERIC and BIGNUMERIC columns
	// (BigQuery's NUMERIC(P, S)); Precision 0 means the type's default.
	Precision int `json:"precision,omitempty"`
	Scale     int `json:"scale,omitempty"`
	// Format is the strptime layout the text of a DATE, DATETIME,
	// TIMESTAMP or TIME column is written in, e.g. "%d/%m/%Y" (an shp
	// extension of BigQuery's schema); empty for ISO 8601. See
	// CheckFormat.
	Format string `json:"format,omitempty"`
	// Fields are the nested columns of a RECORD; empty for other types.
	Fields []Field `json:"fields,omitempty"`
}

// Required reports whether the column must not be NULL.
func (f Field) Required() bool { return f.Mode == ModeRequired }

// TypeName returns the column's type as written in SQL: NUMERIC(10,2)
// when it has a precision, else the bare type.
func (f Field) TypeName() string {
	if f.Precision > 0 {
		return fmt.Sprintf("%s(%d,%d)", f.Type, f.Precision, f.Scale)
	}
	return f.Type
}

// Repeated reports whether the column is an array.
func (f Field) Repeated() bool { return f.Mode == ModeRepeated }

// Schema is the ordered list of a table's top-level columns.
type Schema []Field

// Names returns the top-level column names in schema order.
func (s Schema) Names() []string {
	names := make([]string, len(s))
	for i, f := range s {
		names[i] = f.Name
	}
	return names
}

// Lookup returns the top-level column whose name equals name, ignoring case.
func (s Schema) Lookup(name string) (Field, bool) {
	for _, f := range s {
		if strings.EqualFold(f.Name, name) {
			return f, true
		}
	}
	return Field{}, false
}

// ValidName reports whether name is a valid column name: ASCII letters,
// digits and underscores, not starting with a digit, 1 to MaxNameLength
// characters.
func ValidName(name string) bool {
	if name == "" || len(name) > MaxNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c == '_', 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Load reads and parses the schema file at path. Errors name path as given.
func Load(path string) (Schema, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load schema: %w", err)
	}
	return Parse(data, path)
}

// MaxDecimalPrecision is the largest decimal precision shp keeps exactly
// (the warehouse engines' limit).
const MaxDecimalPrecision = 38

// decimalParams validates and sets the precision and scale of a decimal
// field: 1 <= precision <= 38 and 0 <= scale <= precision.
func decimalParams(f *Field, r rawField) error {
	if r.Precision == "" && r.Scale == "" {
		return nil
	}
	if f.Type != TypeNumeric && f.Type != TypeBigNumeric {
		return fmt.Errorf("precision and scale apply to NUMERIC and BIGNUMERIC, not %s", f.Type)
	}
	if r.Precision == "" {
		return fmt.Errorf("scale needs a precision")
	}
	p, err := strconv.Atoi(r.Precision)
	if err != nil || p < 1 || p > MaxDecimalPrecision {
		return fmt.Errorf("precision %q must be a whole number from 1 to %d", r.Precision, MaxDecimalPrecision)
	}
	s := 0
	if r.Scale != "" {
		if s, err = strconv.Atoi(r.Scale); err != nil || s < 0 || s > p {
			return fmt.Errorf("scale %q must be a whole number from 0 to the precision %d", r.Scale, p)
		}
	}
	f.Precision, f.Scale = p, s
	return nil
}

// Parse parses a BigQuery JSON schema. file names the source in error
// messages. Syntax and type errors are reported as "file:line:col: msg";
// semantic errors (unknown type or mode, empty, invalid or duplicate name)
// as `file: field 3 "amount": msg`, where field numbers count from 1 and
// nested fields are numbered with a dotted path ("field 2.1").
//
// Besides a bare array, the {"fields": [...]} object of a BigQuery table
// resource is accepted. Other BigQuery field attributes (policyTags,
// maxLength, ...) are accepted and ignored; any other key is an
// error.
func Parse(data []byte, file string) (Schema, error) {
	raw, err := decode(data, file)
	if err != nil {
		return nil, err
	}
	if len(raw) == 0 {
		return nil, fmt.Errorf("%s: schema has no fields", file)
	}
	s, err := normalise(raw, file, "", "")
	if err != nil {
		return nil, err
	}
	return Schema(s), nil
}

// normalise validates raw fields and returns them with canonical type and
// mode names. num and path prefix the field number and name of nested
// fields.
func normalise(raw []rawField, file, num, path string) ([]Field, error) {
	out := make([]Field, 0, len(raw))
	seen := make(map[string]bool, len(raw))
	for i, r := range raw {
		fnum := fmt.Sprint(i + 1)
		if num != "" {
			fnum = num + "." + fnum
		}
		fpath := r.Name
		if path != "" {
			fpath = path + "." + r.Name
		}
		fail := func(format string, args ...any) error {
			return fmt.Errorf("%s: field %s %q: %s", file, fnum, fpath, fmt.Sprintf(format, args...))
		}
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("%s: field %s: empty name", file, fnum)
		case !ValidName(r.Name):
			return nil, fail("invalid name: use letters, digits and underscores, not starting with a digit, at most %d characters", MaxNameLength)
		case seen[strings.ToLower(r.Name)]:
			return nil, fail("duplicate name (names are case-insensitive)")
		}
		seen[strings.ToLower(r.Name)] = true

		f := Field{Name: r.Name, Description: r.Description}
		if r.Type == "" {
			return nil, fail("missing type")
		}
		t, ok := typeAliases[strings.ToUpper(r.Type)]
		if !ok {
			return nil, fail("unknown type %q", r.Type)
		}
		f.Type = t
		switch m := strings.ToUpper(r.Mode); m {
		case "":
			f.Mode = ModeNullable
		case ModeNullable, ModeRequired, ModeRepeated:
			f.Mode = m
		default:
			return nil, fail("unknown mode %q (want NULLABLE, REQUIRED or REPEATED)", r.Mode)
		}
		if err := decimalParams(&f, r); err != nil {
			return nil, fail("%v", err)
		}
		if r.Format != "" {
			if path != "" {
				return nil, fail("format %q: a format applies to top-level columns only", r.Format)
			}
			if err := CheckFormat(f.Type, r.Format); err != nil {
				return nil, fail("%v", err)
			}
			f.Format = r.Format
		}
		switch {
		case f.Type == TypeRecord && len(r.Fields) == 0:
			return nil, fail("RECORD has no fields")
		case f.Type != TypeRecord && len(r.Fields) > 0:
			return nil, fail("only RECORD fields may have nested fields, not %s", f.Type)
		}
		if len(r.Fields) > 0 {
			nested, err := normalise(r.Fields, file, fnum, fpath)
			if err != nil {
				return nil, err
			}
			f.Fields = nested
		}
		out = append(out, f)
	}
	return out, nil
}
