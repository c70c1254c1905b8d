package schema

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLoadValid(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "sales_schema.json"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Schema{
		{Name: "order_id", Type: TypeInt64, Mode: ModeRequired, Description: "Order number"},
		{Name: "order_date", Type: TypeDate, Mode: ModeRequired},
		{Name: "amount", Type: TypeNumeric, Mode: ModeNullable, Precision: 10, Scale: 2},
		{Name: "discount", Type: TypeFloat64, Mode: ModeNullable},
		{Name: "paid", Type: TypeBool, Mode: ModeNullable},
		{Name: "tags", Type: TypeString, Mode: ModeRepeated},
		{Name: "customer", Type: TypeRecord, Mode: ModeNullable, Fields: []Field{
			{Name: "id", Type: TypeString, Mode: ModeRequired},
			{Name: "address", Type: TypeRecord, Mode: ModeNullable, Fields: []Field{
				{Name: "zip", Type: TypeString, Mode: ModeNullable},
			}},
		}},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Load =\n%#v\nwant\n%#v", s, want)
	}
	if got, want := s.Names(), []string{"order_id", "order_date", "amount", "discount", "paid", "tags", "customer"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Names() = %v, want %v", got, want)
	}
}

func TestLoadTableResource(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "table_resource.json"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Schema{
		{Name: "id", Type: TypeInt64, Mode: ModeRequired},
		{Name: "payload", Type: TypeJSON, Mode: ModeNullable},
	}
	if !reflect.DeepEqual(s, want) {
		t.Errorf("Load = %#v, want %#v", s, want)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"syntax_error.json", `testdata/syntax_error.json:3:21: invalid character '"' after object key:value pair`},
		{"unknown_type.json", `testdata/unknown_type.json: field 3 "amount": unknown type "MONEY"`},
		{"bom_bad_name.json", `testdata/bom_bad_name.json: field 1 "é": invalid name: use letters, digits and underscores, not starting with a digit, at most 300 characters`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.ToSlash(filepath.Join("testdata", tt.file)))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load error = %v\nwant %s", err, tt.want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.json")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load error = %v, want fs.ErrNotExist", err)
	}
	if want := "load schema: open " + path + ": no such file or directory"; err.Error() != want {
		t.Errorf("Load error = %q, want %q", err, want)
	}
}

func TestParseErrors(t *testing.T) {
	long := strings.Repeat("a", 301)
	tests := []struct {
		name string
		data string
		want string
	}{
		{"empty input", ``, `s.json:1:1: unexpected end of JSON input`},
		{"truncated", "[\n  {\"name\": \"a\"", `s.json:2:15: unexpected end of JSON input`},
		{"bad literal", "[\n  {\"name\": tru}\n]", `s.json:2:15: invalid character '}' in literal true (expecting 'e')`},
		{"trailing data", `[] x`, `s.json:1:4: invalid character 'x' after top-level value`},
		{"not an array", "\n  42", `s.json:2:3: schema must be a JSON array of fields, got a number`},
		{"empty array", `[]`, `s.json: schema has no fields`},
		{"element not object", "[\n  \"order_id\"\n]", `s.json:2:3: field 1: expected an object, got a string`},
		{"name not string", "[\n  {\"name\": 5, \"type\": \"STRING\"}\n]", `s.json:2:12: field 1: "name" must be a string, got a number`},
		{"type is object", `[{"name": "a", "type": {"x": 1}}]`, `s.json:1:24: field 1: "type" must be a string, got an object`},
		{"mode is bool", `[{"name": "a", "type": "STRING", "mode": true}]`, `s.json:1:42: field 1: "mode" must be a string, got a boolean`},
		{"description is array", `[{"name": "a", "type": "STRING", "description": []}]`, `s.json:1:49: field 1: "description" must be a string, got an array`},
		{"fields not array", `[{"name": "a", "type": "RECORD", "fields": "x"}]`, `s.json:1:44: field 1: "fields" must be an array, got a string`},
		{"unknown key", "[\n  {\"name\": \"a\",\n   \"nmae\": \"b\"}\n]", `s.json:3:4: field 1: unknown key "nmae"`},
		{"duplicate key", `[{"name": "a", "name": "b"}]`, `s.json:1:16: field 1: duplicate key "name"`},
		{"nested unknown key", `[{"name": "r", "type": "RECORD", "fields": [{"name": "x", "type": "INT64"}, {"nmae": "y"}]}]`, `s.json:1:78: field 1.2: unknown key "nmae"`},
		{"empty name", `[{"name": "", "type": "STRING"}]`, `s.json: field 1: empty name`},
		{"missing name", `[{"type": "STRING"}]`, `s.json: field 1: empty name`},
		{"name starts with digit", `[{"name": "a", "type": "STRING"}, {"name": "1st", "type": "STRING"}]`, `s.json: field 2 "1st": invalid name: use letters, digits and underscores, not starting with a digit, at most 300 characters`},
		{"name with dash", `[{"name": "order-id", "type": "STRING"}]`, `s.json: field 1 "order-id": invalid name: use letters, digits and underscores, not starting with a digit, at most 300 characters`},
		{"name too long", `[{"name": "` + long + `", "type": "STRING"}]`, `s.json: field 1 "` + long + `": invalid name: use letters, digits and underscores, not starting with a digit, at most 300 characters`},
		{"duplicate name", `[{"name": "Amount", "type": "STRING"}, {"name": "amount", "type": "STRING"}]`, `s.json: field 2 "amount": duplicate name (names are case-insensitive)`},
		{"missing type", `[{"name": "a"}]`, `s.json: field 1 "a": missing type`},
		{"unknown type", `[{"name": "a", "type": "STRING"}, {"name": "b", "type": "STRING"}, {"name": "amount", "type": "MONEY"}]`, `s.json: field 3 "amount": unknown type "MONEY"`},
		{"unknown mode", `[{"name": "a", "type": "STRING", "mode": "OPTIONAL"}]`, `s.json: field 1 "a": unknown mode "OPTIONAL" (want NULLABLE, REQUIRED or REPEATED)`},
		{"record without fields", `[{"name": "r", "type": "RECORD"}]`, `s.json: field 1 "r": RECORD has no fields`},
		{"scalar with fields", `[{"name": "s", "type": "STRING", "fields": [{"name": "x", "type": "STRING"}]}]`, `s.json: field 1 "s": only RECORD fields may have nested fields, not STRING`},
		{"nested unknown type", `[{"name": "r", "type": "RECORD", "fields": [{"name": "x", "type": "INT64"}, {"name": "y", "type": "MONEY"}]}]`, `s.json: field 1.2 "r.y": unknown type "MONEY"`},
		{"nested duplicate", `[{"name": "r", "type": "RECORD", "fields": [{"name": "x", "type": "INT64"}, {"name": "X", "type": "INT64"}]}]`, `s.json: field 1.2 "r.X": duplicate name (names are case-insensitive)`},
		{"resource unknown key", `{"schema": []}`, `s.json:1:2: unknown key "schema" (want a JSON array of fields or {"fields": [...]})`},
		{"resource fields not array", `{"fields": {}}`, `s.json:1:12: "fields" must be an array, got an object`},
		{"resource without fields", `{}`, `s.json: schema object has no "fields" array`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.data), "s.json")
			if err == nil {
				t.Fatalf("Parse succeeded with %v, want error %s", s, tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse error =\n%s\nwant\n%s", err, tt.want)
			}
		})
	}
}

func TestParseSyntaxErrorUnwraps(t *testing.T) {
	_, err := Parse([]byte(`[`), "s.json")
	var syn *json.SyntaxError
	if !errors.As(err, &syn) {
		t.Errorf("Parse error %v does not wrap *json.SyntaxError", err)
	}
}

func TestParseAccepted(t *testing.T) {
	tests := []struct {
		name string
		data string
		want Schema
	}{
		{"legacy and case-insensitive types", `[{"name": "a", "type": "integer"}, {"name": "b", "type": "Float"}, {"name": "c", "type": "boolean"}, {"name": "d", "type": "bignumeric"}]`, Schema{
			{Name: "a", Type: TypeInt64, Mode: ModeNullable},
			{Name: "b", Type: TypeFloat64, Mode: ModeNullable},
			{Name: "c", Type: TypeBool, Mode: ModeNullable},
			{Name: "d", Type: TypeBigNumeric, Mode: ModeNullable},
		}},
		{"every standard type", `[{"name":"a","type":"STRING"},{"name":"b","type":"BYTES"},{"name":"c","type":"TIMESTAMP"},{"name":"d","type":"TIME"},{"name":"e","type":"DATETIME"},{"name":"f","type":"GEOGRAPHY"}]`, Schema{
			{Name: "a", Type: TypeString, Mode: ModeNullable},
			{Name: "b", Type: TypeBytes, Mode: ModeNullable},
			{Name: "c", Type: TypeTimestamp, Mode: ModeNullable},
			{Name: "d", Type: TypeTime, Mode: ModeNullable},
			{Name: "e", Type: TypeDatetime, Mode: ModeNullable},
			{Name: "f", Type: TypeGeography, Mode: ModeNullable},
		}},
		{"nulls are empty", `[{"name": "a", "type": "STRING", "mode": null, "description": null, "fields": null}]`, Schema{
			{Name: "a", Type: TypeString, Mode: ModeNullable},
		}},
		{"ignored BigQuery attributes", `[{"name": "a", "type": "STRING", "maxLength": "10", "collation": "und:ci", "rangeElementType": {"type": "DATE"}, "dataPolicies": [{"name": "p"}]}]`, Schema{
			{Name: "a", Type: TypeString, Mode: ModeNullable},
		}},
		{"underscore and max length names", `[{"name": "_x1", "type": "STRING"}, {"name": "` + strings.Repeat("b", 300) + `", "type": "STRING"}]`, Schema{
			{Name: "_x1", Type: TypeString, Mode: ModeNullable},
			{Name: strings.Repeat("b", 300), Type: TypeString, Mode: ModeNullable},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Parse([]byte(tt.data), "s.json")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(s, tt.want) {
				t.Errorf("Parse = %#v, want %#v", s, tt.want)
			}
		})
	}
}

func TestLookupAndModes(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "sales_schema.json"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	tests := []struct {
		name     string
		found    bool
		want     string
		required bool
		repeated bool
	}{
		{"order_id", true, "order_id", true, false},
		{"ORDER_ID", true, "order_id", true, false},
		{"Tags", true, "tags", false, true},
		{"amount", true, "amount", false, false},
		{"zip", false, "", false, false}, // nested fields are not top-level columns
		{"missing", false, "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, ok := s.Lookup(tt.name)
			if ok != tt.found || f.Name != tt.want {
				t.Fatalf("Lookup(%q) = %q, %v; want %q, %v", tt.name, f.Name, ok, tt.want, tt.found)
			}
			if f.Required() != tt.required || f.Repeated() != tt.repeated {
				t.Errorf("Required, Repeated = %v, %v; want %v, %v", f.Required(), f.Repeated(), tt.required, tt.repeated)
			}
		})
	}
}

func TestValidName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"order_id", true},
		{"_private", true},
		{"A1", true},
		{strings.Repeat("x", 300), true},
		{strings.Repeat("x", 301), false},
		{"", false},
		{"1a", false},
		{"a-b", false},
		{"a b", false},
		{"café", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidName(tt.name); got != tt.want {
				t.Errorf("ValidName(%q) = %v, want %v", tt.name, got, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	s, err := Load(filepath.Join("testdata", "sales_schema.json"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	data, err := json.Marshal(s)
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	path := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	back, err := Load(path)
	if err != nil {
		t.Fatalf("Load(marshalled): %v", err)
	}
	if !reflect.DeepEqual(back, s) {
		t.Errorf("round trip = %#v, want %#v", back, s)
	}
}

func TestFieldTypeName(t *testing.T) {
	for _, tc := range []struct {
		f    Field
		want string
	}{
		{Field{Name: "a", Type: "NUMERIC", Precision: 10, Scale: 2}, "NUMERIC(10,2)"},
		{Field{Name: "b", Type: "NUMERIC"}, "NUMERIC"},
		{Field{Name: "c", Type: "STRING"}, "STRING"},
	} {
		if got := tc.f.TypeName(); got != tc.want {
			t.Errorf("%s: TypeName() = %q, want %q", tc.f.Name, got, tc.want)
		}
	}
}
