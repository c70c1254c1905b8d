package format

import (
	"strings"
	"testing"

	farm "github.com/dgryski/go-farm"
)

// TestJSONProfile profiles NormalizeJSON's output written in pieces of
// every size and checks each member against its values' texts.
func TestJSONProfile(t *testing.T) {
	type member struct {
		name                              string
		texts                             []string // its non-null values' texts
		strs, ints, floats, bools, nested bool
	}
	tests := []struct {
		name     string
		in       string
		records  int64
		repeated bool
		members  []member
	}{
		{name: "every kind, first-seen order",
			in:      `{"b":"x","a":1}` + "\n" + `{"a":1.50,"c":true,"b":null}` + "\n" + `{"c":{"z":1,"y":[2]},"a":-1e3}` + "\n",
			records: 3,
			members: []member{
				{name: "b", texts: []string{"x"}, strs: true},
				{name: "a", texts: []string{"1", "1.50", "-1e3"}, ints: true, floats: true},
				{name: "c", texts: []string{"true", `{"y":[2],"z":1}`}, bools: true, nested: true},
			}},
		{name: "escapes and unicode", in: `{"s":"a\"b\\c\u00e9\n","t":"é𝄞"}` + "\n", records: 1,
			members: []member{{name: "s", texts: []string{"a\"b\\cé\n"}, strs: true}, {name: "t", texts: []string{"é𝄞"}, strs: true}}},
		{name: "empty string, empty object, blank lines", in: "\n" + `{"s":""}` + "\n\n" + `{}` + "\n", records: 2,
			members: []member{{name: "s", texts: []string{""}, strs: true}}},
		{name: "a member twice", in: `{"a":1,"a":2}` + "\n", records: 1, repeated: true,
			members: []member{{name: "a", texts: []string{"1", "2"}, ints: true}}},
		{name: "bad records are not profiled", in: `[1]` + "\n" + `{"a":` + "\n" + `{"a":"ok"}` + "\n", records: 1,
			members: []member{{name: "a", texts: []string{"ok"}, strs: true}}},
	}
	for _, tt := range tests {
		for _, piece := range []int{1, 3, 1 << 20} {
			p := &JSONProfile{}
			w := &chunked{w: p, size: piece}
			if _, _, err := NormalizeJSON(strings.NewReader(tt.in), w, true, func(int64, []byte, string) error { return nil }); err != nil {
				t.Fatal(err)
			}
			if p.Records != tt.records || p.Repeated != tt.repeated || p.Unreadable || len(p.Members) != len(tt.members) {
				t.Fatalf("%s (pieces of %d): %d records, repeated %v, unreadable %v, %d members", tt.name, piece, p.Records, p.Repeated, p.Unreadable, len(p.Members))
			}
			for i, want := range tt.members {
				got := p.Members[i]
				var bytes, fp int64
				for _, s := range want.texts {
					bytes += int64(len(s))
					fp ^= int64(farm.Fingerprint64([]byte(s)))
				}
				if got.Name != want.name || got.Values != int64(len(want.texts)) || got.Bytes != bytes || got.Fingerprint != fp ||
					got.Strings != want.strs || got.Integers != want.ints || got.Floats != want.floats || got.Booleans != want.bools || got.Nested != want.nested {
					t.Errorf("%s (pieces of %d): member %d is %+v, want %+v", tt.name, piece, i, *got, want)
				}
			}
		}
	}
}

// TestJSONProfileUnreadable feeds what NormalizeJSON never writes.
func TestJSONProfileUnreadable(t *testing.T) {
	for _, in := range []string{"[1]\n", "{\"a\":}\n", "{\"a\" 1}\n", "{1:2}\n"} {
		p := &JSONProfile{}
		if n, err := p.Write([]byte(in)); err != nil || n != len(in) {
			t.Fatalf("%q: wrote %d, %v", in, n, err)
		}
		if !p.Unreadable {
			t.Errorf("%q: not marked unreadable", in)
		}
	}
}

// chunked writes to w in pieces of size bytes.
type chunked struct {
	w    interface{ Write([]byte) (int, error) }
	size int
}

func (c *chunked) Write(b []byte) (int, error) {
	for i := 0; i < len(b); i += c.size {
		end := min(i+c.size, len(b))
		if _, err := c.w.Write(b[i:end]); err != nil {
			return i, err
		}
	}
	return len(b), nil
}
