package format

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestJSONValidator(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string // "" for valid
	}{
		{in: `{}`},
		{in: ` { "a" : [ 1 , -2.5e+3 , 0 , 0.0 , 1E9 , true , false , null , "x\"\\\/\b\f\n\r\t\u00e9" ] } `},
		{in: `[[[]],[{}],{"a":{"b":[]}}]`},
		{in: `"just a string"`},
		{in: `-0`},
		{in: "", wantErr: "unexpected end of input at offset 0"},
		{in: "  ", wantErr: "unexpected end of input at offset 2"},
		{in: `{"a": 1, "b":`, wantErr: "unexpected end of input at offset 13"},
		{in: `{"a"`, wantErr: "unexpected end of input at offset 4"},
		{in: `{"a":1`, wantErr: "unexpected end of input at offset 6"},
		{in: `{`, wantErr: "unexpected end of input at offset 1"},
		{in: `{"a":1,`, wantErr: "unexpected end of input at offset 7"},
		{in: `[1,`, wantErr: "unexpected end of input at offset 3"},
		{in: `"abc`, wantErr: "unexpected end of input at offset 4"},
		{in: `"a\`, wantErr: "unexpected end of input at offset 3"},
		{in: `"\u12`, wantErr: "unexpected end of input at offset 5"},
		{in: `tru`, wantErr: "unexpected end of input at offset 3"},
		{in: `-`, wantErr: "unexpected end of input at offset 1"},
		{in: `1.`, wantErr: "unexpected end of input at offset 2"},
		{in: `1e+`, wantErr: "unexpected end of input at offset 3"},
		{in: `{"a": x}`, wantErr: "invalid character 'x' looking for beginning of value at offset 6"},
		{in: `{"a":1} {"b":2}`, wantErr: "invalid character '{' after top-level value at offset 8"},
		{in: `{a:1}`, wantErr: "invalid character 'a' looking for beginning of object key string at offset 1"},
		{in: `{"a":1,}`, wantErr: "invalid character '}' looking for beginning of object key string at offset 7"},
		{in: `{"a" 1}`, wantErr: "invalid character '1' after object key at offset 5"},
		{in: `{"a":1 "b":2}`, wantErr: "invalid character '\"' after object key:value pair at offset 7"},
		{in: `[1 2]`, wantErr: "invalid character '2' after array element at offset 3"},
		{in: `[1}`, wantErr: "invalid character '}' after array element at offset 2"},
		{in: `{"a":1]`, wantErr: "invalid character ']' after object key:value pair at offset 6"},
		{in: `[1,]`, wantErr: "invalid character ']' looking for beginning of value at offset 3"},
		{in: `trux`, wantErr: "invalid character 'x' in literal true (expecting 'e') at offset 3"},
		{in: `nul'`, wantErr: `invalid character '\'' in literal null (expecting 'l') at offset 3`},
		{in: `01`, wantErr: "invalid character '1' after top-level value at offset 1"},
		{in: `-a`, wantErr: "invalid character 'a' in numeric literal at offset 1"},
		{in: `1.e`, wantErr: "invalid character 'e' after decimal point in numeric literal at offset 2"},
		{in: `1ex`, wantErr: "invalid character 'x' in exponent of numeric literal at offset 2"},
		{in: `"a` + "\t" + `"`, wantErr: `invalid character '\t' in string literal at offset 2`},
		{in: `"\x"`, wantErr: "invalid character 'x' in string escape code at offset 2"},
		{in: `"\u12g4"`, wantErr: "invalid character 'g' in \\u hexadecimal character escape at offset 5"},
		{in: "\x00", wantErr: `invalid character '\x00' looking for beginning of value at offset 0`},
	}
	var v jsonValidator
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			err := v.validate([]byte(tt.in))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.wantErr {
				t.Fatalf("validate(%q) = %q, want %q", tt.in, got, tt.wantErr)
			}
			if (err == nil) != json.Valid([]byte(tt.in)) {
				t.Fatalf("validate(%q) disagrees with json.Valid", tt.in)
			}
		})
	}
}

func FuzzJSONValidator(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":[1,2.5e3,"\u00e9"]}`, `[1,]`, `"\`, `-0.0E-0`, `{"a" 1}`} {
		f.Add([]byte(s))
	}
	var v jsonValidator
	f.Fuzz(func(t *testing.T, data []byte) {
		err := v.validate(data)
		if want := json.Valid(data); (err == nil) != want {
			if strings.Count(string(data), "[")+strings.Count(string(data), "{") > 10000 {
				t.Skip("encoding/json limits nesting depth")
			}
			t.Fatalf("validate(%q) = %v, json.Valid = %t", data, err, want)
		}
		if err != nil && (err.off < 0 || err.off > len(data)) {
			t.Fatalf("offset %d out of range for %d bytes", err.off, len(data))
		}
	})
}
