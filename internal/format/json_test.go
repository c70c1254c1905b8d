package format

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

type badRecord struct {
	N      int64
	Raw    string
	Reason string
}

func normalize(t *testing.T, r io.Reader, lines bool) (string, []badRecord, int64, int64, error) {
	t.Helper()
	var out bytes.Buffer
	var bads []badRecord
	good, bad, err := NormalizeJSON(r, &out, lines, func(n int64, raw []byte, reason string) error {
		bads = append(bads, badRecord{n, string(raw), reason})
		return nil
	})
	if int64(len(bads)) != bad {
		t.Fatalf("bad called %d times, badCount %d", len(bads), bad)
	}
	return out.String(), bads, good, bad, err
}

func TestNormalizeJSONLines(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
		bad  []badRecord
	}{
		{name: "simple", in: "{\"a\":1}\n{\"b\":2}\n",
			want: "{\"__shp_line\":1,\"a\":1}\n{\"__shp_line\":2,\"b\":2}\n"},
		{name: "no trailing newline", in: "{\"a\":1}",
			want: "{\"__shp_line\":1,\"a\":1}\n"},
		{name: "blank lines keep physical numbers", in: "\n{\"a\":1}\n   \n\t\n{\"b\":2}",
			want: "{\"__shp_line\":2,\"a\":1}\n{\"__shp_line\":5,\"b\":2}\n"},
		{name: "CRLF", in: "{\"a\":1}\r\n\r\n{\"b\":2}\r\n",
			want: "{\"__shp_line\":1,\"a\":1}\n{\"__shp_line\":3,\"b\":2}\n"},
		{name: "empty object", in: "{}\n{ }\n{\t}\n",
			want: "{\"__shp_line\":1}\n{\"__shp_line\":2}\n{\"__shp_line\":3}\n"},
		{name: "whitespace around object", in: "   {\"a\":1}  \t\n",
			want: "{\"__shp_line\":1,\"a\":1}\n"},
		{name: "members keep their bytes", in: "{ \"b\" : 2.50 , \"a\":\"\\u00e9\" }\n",
			want: "{\"__shp_line\":1, \"b\" : 2.50 , \"a\":\"\\u00e9\" }\n"},
		{name: "nested", in: `{"a":{"b":[1,{"c":[]}]},"d":"}"}`,
			want: "{\"__shp_line\":1,\"a\":{\"b\":[1,{\"c\":[]}]},\"d\":\"}\"}\n"},
		{name: "byte order mark", in: "\ufeff{\"a\":1}\n",
			want: "{\"__shp_line\":1,\"a\":1}\n"},
		{name: "not objects", in: "[1,2]\n\"s\"\n3\nnull\ntrue\n-1\n{\"a\":1}\n",
			want: "{\"__shp_line\":7,\"a\":1}\n",
			bad: []badRecord{
				{1, "[1,2]", "record is a JSON array, not an object"},
				{2, `"s"`, "record is a JSON string, not an object"},
				{3, "3", "record is a JSON number, not an object"},
				{4, "null", "record is a JSON null, not an object"},
				{5, "true", "record is a JSON boolean, not an object"},
				{6, "-1", "record is a JSON number, not an object"},
			}},
		{name: "truncated object", in: "{\"a\": 1, \"b\":\n{\"c\":3}\n",
			want: "{\"__shp_line\":2,\"c\":3}\n",
			bad:  []badRecord{{1, `{"a": 1, "b":`, "invalid JSON: unexpected end of input at offset 13"}}},
		{name: "truncated after leading space", in: "  {\"a\":\r\n",
			bad: []badRecord{{1, `  {"a":`, "invalid JSON: unexpected end of input at offset 7"}}},
		{name: "invalid character", in: "{\"a\": x}\n",
			bad: []badRecord{{1, `{"a": x}`, "invalid JSON: invalid character 'x' looking for beginning of value at offset 6"}}},
		{name: "two values on a line", in: "{\"a\":1} {\"b\":2}\n",
			bad: []badRecord{{1, `{"a":1} {"b":2}`, "invalid JSON: invalid character '{' after top-level value at offset 8"}}},
		{name: "invalid UTF-8", in: "{\"a\":\"\xff\"}\n{\"b\":1}\n",
			want: "{\"__shp_line\":2,\"b\":1}\n",
			bad:  []badRecord{{1, "{\"a\":\"\xff\"}", "invalid UTF-8 at offset 6"}}},
		{name: "only blank lines", in: "\n \n\r\n"},
		{name: "empty", in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if chunked {
					r = iotest.OneByteReader(r)
				}
				out, bads, good, _, err := normalize(t, r, true)
				if err != nil {
					t.Fatal(err)
				}
				if out != tt.want {
					t.Errorf("output\n%q\nwant\n%q", out, tt.want)
				}
				if fmt.Sprint(bads) != fmt.Sprint(tt.bad) {
					t.Errorf("bad records\n%+v\nwant\n%+v", bads, tt.bad)
				}
				if want := int64(strings.Count(tt.want, "\n")); good != want {
					t.Errorf("good = %d, want %d", good, want)
				}
				checkJSONLines(t, out)
			}
		})
	}
}

// checkJSONLines asserts every output line is a JSON object whose first
// member is the line number.
func checkJSONLines(t *testing.T, out string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("output line %q is not an object: %v", line, err)
		}
		if _, ok := m[LineField]; !ok || !strings.HasPrefix(line, `{"`+LineField+`":`) {
			t.Fatalf("output line %q does not start with the line number", line)
		}
	}
}

func TestNormalizeJSONArray(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string
		bad     []badRecord
		wantErr string
	}{
		{name: "simple", in: `[{"a":1},{"b":2}]`,
			want: "{\"__shp_line\":1,\"a\":1}\n{\"__shp_line\":2,\"b\":2}\n"},
		{name: "whitespace everywhere", in: "\n [ {\"a\":1} ,\n\t{\"b\":[1, 2]}\r\n ] \n",
			want: "{\"__shp_line\":1,\"a\":1}\n{\"__shp_line\":2,\"b\":[1, 2]}\n"},
		{name: "empty array", in: "  [ ]  "},
		{name: "empty objects", in: "[{},{ }]",
			want: "{\"__shp_line\":1}\n{\"__shp_line\":2}\n"},
		{name: "byte order mark", in: "\ufeff[{\"a\":1}]",
			want: "{\"__shp_line\":1,\"a\":1}\n"},
		{name: "strings with structure", in: `[{"a":"],}{[\"\\"},{"b":"\\\\","c":"\""}]`,
			want: "{\"__shp_line\":1,\"a\":\"],}{[\\\"\\\\\"}\n{\"__shp_line\":2,\"b\":\"\\\\\\\\\",\"c\":\"\\\"\"}\n"},
		{name: "nested", in: `[{"a":[{"b":{}}],"c":[[],[[]]]}]`,
			want: "{\"__shp_line\":1,\"a\":[{\"b\":{}}],\"c\":[[],[[]]]}\n"},
		{name: "not objects", in: `[1, "x", [1,{}], null, false, {"a":1}]`,
			want: "{\"__shp_line\":6,\"a\":1}\n",
			bad: []badRecord{
				{1, "1", "record is a JSON number, not an object"},
				{2, `"x"`, "record is a JSON string, not an object"},
				{3, "[1,{}]", "record is a JSON array, not an object"},
				{4, "null", "record is a JSON null, not an object"},
				{5, "false", "record is a JSON boolean, not an object"},
			}},
		{name: "malformed element", in: `[{"a":1},{"b":},{"c":3}]`,
			want: "{\"__shp_line\":1,\"a\":1}\n{\"__shp_line\":3,\"c\":3}\n",
			bad:  []badRecord{{2, `{"b":}`, "invalid JSON: invalid character '}' looking for beginning of value at offset 5"}}},
		{name: "stray closing brace", in: `[1}, {"a":1}]`,
			want: "{\"__shp_line\":2,\"a\":1}\n",
			bad:  []badRecord{{1, "1}", "invalid JSON: invalid character '}' after top-level value at offset 1"}}},
		{name: "invalid UTF-8 element", in: "[\"\xc3\"]",
			bad: []badRecord{{1, "\"\xc3\"", "invalid UTF-8 at offset 1"}}},
		{name: "not an array", in: ` {"a":1}`, wantErr: "expected '[' at offset 1"},
		{name: "empty input", in: " \n", wantErr: "expected '[' at offset 2, found end of input"},
		{name: "truncated element", in: `[{"a":1},{"b":2`,
			want:    "{\"__shp_line\":1,\"a\":1}\n",
			wantErr: "unexpected end of input at offset 15"},
		{name: "truncated in string", in: `[{"a":"x`, wantErr: "unexpected end of input at offset 8"},
		{name: "truncated after comma", in: `[{"a":1},`,
			want:    "{\"__shp_line\":1,\"a\":1}\n",
			wantErr: "unexpected end of input at offset 9"},
		{name: "missing close", in: `[`, wantErr: "unexpected end of input at offset 1"},
		{name: "junk after array", in: `[{"a":1}] x`,
			want:    "{\"__shp_line\":1,\"a\":1}\n",
			wantErr: "unexpected 'x' after the closing ']' at offset 10"},
		{name: "two arrays", in: `[][]`, wantErr: "unexpected '[' after the closing ']' at offset 2"},
		{name: "double comma", in: `[{"a":1},,{"b":2}]`,
			want:    "{\"__shp_line\":1,\"a\":1}\n",
			wantErr: "unexpected ',' at offset 9"},
		{name: "trailing comma", in: `[{"a":1},]`,
			want:    "{\"__shp_line\":1,\"a\":1}\n",
			wantErr: "unexpected ']' at offset 9"},
		{name: "leading comma", in: `[,{"a":1}]`, wantErr: "unexpected ',' at offset 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, chunked := range []bool{false, true} {
				var r io.Reader = strings.NewReader(tt.in)
				if chunked {
					r = iotest.OneByteReader(r)
				}
				out, bads, good, _, err := normalize(t, r, false)
				if tt.wantErr == "" && err != nil {
					t.Fatal(err)
				}
				if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				if out != tt.want {
					t.Errorf("output\n%q\nwant\n%q", out, tt.want)
				}
				if fmt.Sprint(bads) != fmt.Sprint(tt.bad) {
					t.Errorf("bad records\n%+v\nwant\n%+v", bads, tt.bad)
				}
				if want := int64(strings.Count(tt.want, "\n")); good != want {
					t.Errorf("good = %d, want %d", good, want)
				}
				checkJSONLines(t, out)
			}
		})
	}
}

func TestNormalizeJSONLongRecords(t *testing.T) {
	big := `{"a":"` + strings.Repeat("x", 3<<20) + `"}`
	huge := `{"a":"` + strings.Repeat("y", MaxJSONRecordBytes) + `"}`
	tests := []struct {
		name  string
		in    string
		lines bool
		good  int64
		bad   []int64 // numbers of the bad records
	}{
		{name: "lines longer than the buffer", in: big + "\n" + big, lines: true, good: 2},
		{name: "line over the limit", in: huge + "\n{}\n" + huge, lines: true, good: 1, bad: []int64{1, 3}},
		{name: "element over the limit", in: "[" + huge + ",{}," + big + "]", good: 2, bad: []int64{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var bads []int64
			var out countWriter
			good, badCount, err := NormalizeJSON(strings.NewReader(tt.in), &out, tt.lines, func(n int64, raw []byte, reason string) error {
				bads = append(bads, n)
				if len(raw) != MaxRawBytes || !strings.Contains(reason, "longer than") {
					t.Errorf("record %d: raw %d bytes, reason %q", n, len(raw), reason)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if good != tt.good || badCount != int64(len(tt.bad)) || fmt.Sprint(bads) != fmt.Sprint(tt.bad) {
				t.Fatalf("good %d, bad %v; want %d, %v", good, bads, tt.good, tt.bad)
			}
			if out.lines != good {
				t.Fatalf("wrote %d lines for %d records", out.lines, good)
			}
		})
	}
}

type countWriter struct{ lines int64 }

func (w *countWriter) Write(p []byte) (int, error) {
	w.lines += int64(bytes.Count(p, []byte("\n")))
	return len(p), nil
}

type failWriter struct{ err error }

func (w failWriter) Write([]byte) (int, error) { return 0, w.err }

func TestNormalizeJSONErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		r       io.Reader
		w       io.Writer
		lines   bool
		badErr  error
		wantErr string
	}{
		{name: "bad callback stops lines", r: strings.NewReader("{}\n1\n{}\n"), w: io.Discard, lines: true, badErr: boom, wantErr: "record 2: boom"},
		{name: "bad callback stops array", r: strings.NewReader("[{},1,{}]"), w: io.Discard, badErr: boom, wantErr: "record 2: boom"},
		{name: "writer fails lines", r: strings.NewReader("{}\n"), w: failWriter{boom}, lines: true, wantErr: "write record 1: boom"},
		{name: "writer fails array", r: strings.NewReader("[{}]"), w: failWriter{boom}, wantErr: "write record 1: boom"},
		{name: "read fails lines", r: io.MultiReader(strings.NewReader("{}\n{"), iotest.ErrReader(boom)), w: io.Discard, lines: true, wantErr: "read line 2: boom"},
		{name: "read fails array", r: io.MultiReader(strings.NewReader("[{},"), iotest.ErrReader(boom)), w: io.Discard, wantErr: "read JSON at offset 4: boom"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := NormalizeJSON(tt.r, tt.w, tt.lines, func(int64, []byte, string) error { return tt.badErr })
			if !errors.Is(err, boom) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q wrapping boom", err, tt.wantErr)
			}
		})
	}
}

func FuzzNormalizeJSON(f *testing.F) {
	for _, s := range []string{"{}\n", `[{"a":1},2]`, "{\"a\":\"\\\"\"}\n[", `[{"a":"]"}]`} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, lines bool) {
		var out bytes.Buffer
		good, _, _ := NormalizeJSON(bytes.NewReader(data), &out, lines, func(int64, []byte, string) error { return nil })
		if n := int64(bytes.Count(out.Bytes(), []byte("\n"))); n != good {
			t.Fatalf("%d lines for %d good records", n, good)
		}
		for _, line := range bytes.Split(bytes.TrimSuffix(out.Bytes(), []byte("\n")), []byte("\n")) {
			if len(line) > 0 && (!json.Valid(line) || line[0] != '{') {
				t.Fatalf("output line %q is not a JSON object", line)
			}
		}
	})
}

func BenchmarkNormalizeJSONLines(b *testing.B) {
	var in bytes.Buffer
	for in.Len() < 16<<20 {
		in.WriteString(`{"id":1234567,"name":"John Smith","email":"john@example.com","tags":["a","b"],"amount":123.45}` + "\n")
	}
	data := in.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := NormalizeJSON(bytes.NewReader(data), io.Discard, true, func(int64, []byte, string) error { return nil }); err != nil {
			b.Fatal(err)
		}
	}
}
