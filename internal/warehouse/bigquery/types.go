package bigquery

import (
	"fmt"
	"strings"

	bq "cloud.google.com/go/bigquery"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// column is a staged or target column: its name and BigQuery type, with
// what reading a file's text into it needs.
type column struct {
	Name      string
	Type      string // INT64, FLOAT64, NUMERIC, BIGNUMERIC, BOOL, STRING, BYTES, DATE, DATETIME, TIMESTAMP, TIME, JSON
	Precision int    // NUMERIC and BIGNUMERIC only; 0 for the type's own
	Scale     int
	Required  bool
	Format    string // the schema's strptime layout, if any
}

// typeName is the column's type in DDL and in Staged.Columns:
// NUMERIC(10, 2) when parameterised.
func (c column) typeName() string {
	if c.Precision > 0 && (c.Type == "NUMERIC" || c.Type == "BIGNUMERIC") {
		return fmt.Sprintf("%s(%d, %d)", c.Type, c.Precision, c.Scale)
	}
	return c.Type
}

// columnOf maps a schema field to the column that holds it: nested and
// repeated fields are JSON (as DuckDB's warehouse holds them), a
// GEOGRAPHY its text.
func columnOf(f schema.Field) column {
	c := column{Name: f.Name, Type: baseType(f.Type), Precision: f.Precision, Scale: f.Scale, Required: f.Required(), Format: f.Format}
	// BigQuery's NUMERIC(P, S) holds at most 9 decimals and 29 integer
	// digits; a wider decimal (DECIMAL(38, 18), as shp discovers a
	// database's unconstrained numeric) is a BIGNUMERIC(P, S), which
	// holds 38 of each: never rounded to 9 decimals.
	if c.Type == "NUMERIC" && c.Precision > 0 && (c.Scale > 9 || c.Precision-c.Scale > 29) {
		c.Type = "BIGNUMERIC"
	}
	if f.Repeated() || c.Type == "RECORD" {
		c.Type = "JSON"
	}
	if c.Type == "GEOGRAPHY" {
		c.Type = "STRING"
	}
	return c
}

// baseType normalises a BigQuery type name: legacy names to standard
// ones, parameters dropped.
func baseType(t string) string {
	t = strings.ToUpper(strings.TrimSpace(t))
	if i := strings.IndexByte(t, '('); i > 0 {
		t = strings.TrimSpace(t[:i])
	}
	switch t {
	case "INTEGER", "INT", "SMALLINT", "BIGINT", "TINYINT", "BYTEINT":
		return "INT64"
	case "FLOAT":
		return "FLOAT64"
	case "BOOLEAN":
		return "BOOL"
	case "DECIMAL":
		return "NUMERIC"
	case "BIGDECIMAL":
		return "BIGNUMERIC"
	case "STRUCT":
		return "RECORD"
	}
	return t
}

// parseTypeName reads a type as typeName writes it.
func parseTypeName(t string) column {
	c := column{Type: baseType(t)}
	if i := strings.IndexByte(t, '('); i > 0 {
		fmt.Sscanf(strings.ReplaceAll(t[i:], " ", ""), "(%d,%d)", &c.Precision, &c.Scale)
	}
	return c
}

// fieldOfSchema maps a table column of the API to a column.
func fieldOfSchema(f *bq.FieldSchema) column {
	c := column{Name: f.Name, Type: baseType(string(f.Type)), Required: f.Required, Precision: int(f.Precision), Scale: int(f.Scale)}
	if f.Repeated || c.Type == "RECORD" {
		c.Type = "JSON"
	}
	return c
}

// schemaField is a column as shp's schema describes it.
func (c column) schemaField() schema.Field {
	f := schema.Field{Name: c.Name, Type: c.Type, Mode: schema.ModeNullable}
	if c.Required {
		f.Mode = schema.ModeRequired
	}
	if c.Type == "NUMERIC" || c.Type == "BIGNUMERIC" {
		f.Precision, f.Scale = c.Precision, c.Scale
	}
	return f
}

// widens reports whether a column of type from can take type to without
// losing a value, along BigQuery's coercions: INT64 to NUMERIC,
// BIGNUMERIC or FLOAT64; NUMERIC to BIGNUMERIC or FLOAT64; DATE to
// DATETIME or TIMESTAMP.
func widens(from, to column) bool {
	f, t := from.Type, to.Type
	if f == t {
		if (f == "NUMERIC" || f == "BIGNUMERIC") && to.Precision > 0 && from.Precision > 0 {
			return to.Precision-to.Scale >= from.Precision-from.Scale && to.Scale >= from.Scale &&
				(to.Precision > from.Precision || to.Scale > from.Scale)
		}
		return false
	}
	switch f {
	case "INT64":
		return t == "NUMERIC" || t == "BIGNUMERIC" || t == "FLOAT64"
	case "NUMERIC":
		return t == "BIGNUMERIC" || t == "FLOAT64"
	case "BIGNUMERIC":
		return t == "FLOAT64"
	case "DATE":
		return t == "DATETIME" || t == "TIMESTAMP"
	}
	return false
}

// engineColumns turns columns into the warehouse's description of them.
func engineColumns(cols []column) []warehouse.Column {
	out := make([]warehouse.Column, len(cols))
	for i, c := range cols {
		out[i] = warehouse.Column{Name: c.Name, Type: c.typeName()}
	}
	return out
}

// strptimeToBQ translates a strptime layout (DuckDB's directives, which
// shp's schema and stage repairs use) into BigQuery's format elements:
// unpadded fields (%-d) read as padded ones do, and seconds with a
// fraction (%S.%f) become %E*S.
func strptimeToBQ(layout string) string {
	r := strings.NewReplacer(
		"%S.%f", "%E*S", "%S.%g", "%E*S", "%S.%n", "%E*S",
		"%-d", "%e", "%-m", "%m", "%-H", "%k", "%-I", "%l", "%-M", "%M", "%-S", "%S", "%-y", "%y", "%-j", "%j",
	)
	return r.Replace(layout)
}
