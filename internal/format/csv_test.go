package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// refCountCSV is a byte-at-a-time model of DuckDB's CSV state machine
// (quote = escape), the specification CountCSV is checked against.
func refCountCSV(data []byte, d CSVDialect) int64 {
	if d.Delimiter == 0 {
		d.Delimiter = ','
	}
	data = bytes.TrimPrefix(data, utf8BOM)
	const (
		recStart = iota
		afterDelim
		oneSpace
		standard
		quoted
		unquoted
		invalid
	)
	st, hasData, n := recStart, false, int64(0)
	for _, c := range data {
		if st == quoted {
			if c == d.Quote {
				st = unquoted
			}
			continue
		}
		switch {
		case c == '\n' || c == '\r':
			if hasData {
				n++
			}
			hasData, st = false, recStart
			continue
		case c == d.Delimiter:
			st = afterDelim
		case d.Quote != 0 && c == d.Quote:
			switch st {
			case recStart, afterDelim, oneSpace, unquoted:
				st = quoted
			default:
				st = standard
			}
		case c == ' ' && (st == recStart || st == afterDelim):
			st = oneSpace
		case st == unquoted:
			st = invalid
		default:
			st = standard
		}
		hasData = true
	}
	if hasData {
		n++
	}
	if d.Header && n > 0 {
		n--
	}
	return n
}

func TestCountCSVRecords(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		header bool
		want   int64
	}{
		{name: "empty file", in: "", want: 0},
		{name: "empty file with header", in: "", header: true, want: 0},
		{name: "header only", in: "a,b\n", header: true, want: 0},
		{name: "header only without newline", in: "a,b", header: true, want: 0},
		{name: "simple", in: "a,b\n1,2\n3,4\n", header: true, want: 2},
		{name: "no header", in: "1,2\n3,4\n", want: 2},
		{name: "CRLF", in: "a,b\r\n1,2\r\n3,4\r\n", header: true, want: 2},
		{name: "no trailing newline", in: "a\n1\n2", header: true, want: 2},
		{name: "CRLF no trailing newline", in: "a\r\n1\r\n2", header: true, want: 2},
		{name: "empty lines skipped", in: "a\n\n1\n\n\n2\n\n", header: true, want: 2},
		{name: "CRLF empty lines skipped", in: "a\r\n\r\n1\r\n\r\n", header: true, want: 1},
		{name: "leading empty lines before header", in: "\n\r\na\n1\n", header: true, want: 1},
		{name: "only line breaks", in: "\n\n\r\n\r", want: 0},
		{name: "whitespace line counts", in: " \n\t\n", want: 2},
		{name: "delimiters only counts", in: ",,\n", want: 1},
		{name: "quoted newline", in: "a,b\n\"x\ny\",1\n2,3\n", header: true, want: 2},
		{name: "quoted CRLF", in: "\"a\r\nb\"\r\n2\r\n", want: 2},
		{name: "quoted empty lines", in: "\"\n\n\n\"\n", want: 1},
		{name: "doubled quotes", in: "a\n\"he said \"\"hi\"\"\n ok\"\n", header: true, want: 1},
		{name: "doubled quote at field end", in: "\"a\"\"\"\n\"b\"\n", want: 2},
		{name: "empty quoted field", in: "\"\"\n\"\"\n", want: 2},
		{name: "quoted delimiter", in: "\"a,\nb\",\"c\nd\"\n", want: 1},
		{name: "unterminated quote swallows the rest", in: "a\n1\n\"open\n2\n3\n", header: true, want: 2},
		{name: "unterminated quote at start", in: "\"", want: 1},
		{name: "mid-field quote is data", in: "a,b\n5\" pipe,1\n2,3\n", header: true, want: 2},
		{name: "quote after one space opens", in: "a, \"x\ny\"\n", want: 1},
		{name: "quote after two spaces is data", in: "a,  \"x\ny\"\n", want: 2},
		{name: "quote at line start after space", in: " \"x\ny\"\n", want: 1},
		{name: "junk after closing quote", in: "\"a\"x\"b\nc\"\n", want: 2},
		{name: "lone CR separates", in: "a\rb\rc", want: 3},
		{name: "byte order mark", in: "\ufeff\"a\nb\"\n", want: 1},
		{name: "byte order mark only", in: "\ufeff", want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			readers := map[string]func() io.Reader{
				"whole":    func() io.Reader { return strings.NewReader(tt.in) },
				"one byte": func() io.Reader { return iotest.OneByteReader(strings.NewReader(tt.in)) },
				"half":     func() io.Reader { return iotest.HalfReader(strings.NewReader(tt.in)) },
			}
			for name, r := range readers {
				got, err := CountCSVRecords(r(), tt.header, '"')
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got != tt.want {
					t.Errorf("%s: CountCSVRecords(%q, %t) = %d, want %d", name, tt.in, tt.header, got, tt.want)
				}
			}
			if ref := refCountCSV([]byte(tt.in), CSVDialect{Header: tt.header, Quote: '"'}); ref != tt.want {
				t.Errorf("reference model says %d, want %d", ref, tt.want)
			}
		})
	}
}

func TestCountCSVDialects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		d       CSVDialect
		want    int64
		wantErr string
	}{
		{name: "tab opens quote after tab", in: "a\t\"x\ny\"\n", d: CSVDialect{Delimiter: '\t', Quote: '"'}, want: 1},
		{name: "comma does not open after tab", in: "a\t\"x\ny\"\n", d: CSVDialect{Delimiter: ',', Quote: '"'}, want: 2},
		{name: "default delimiter is comma", in: "a,\"x\ny\"\n", d: CSVDialect{Quote: '"'}, want: 1},
		{name: "no quoting", in: "\"a\nb\"\n", d: CSVDialect{}, want: 2},
		{name: "single quote", in: "'a\nb',\"c\nd\"\n", d: CSVDialect{Quote: '\''}, want: 2},
		{name: "space delimiter", in: "a \"b\nc\"\n", d: CSVDialect{Delimiter: ' ', Quote: '"'}, want: 1},
		{name: "semicolon header", in: "a;b\n1;\"2\n\"\n", d: CSVDialect{Header: true, Delimiter: ';', Quote: '"'}, want: 1},
		{name: "newline delimiter", d: CSVDialect{Delimiter: '\n'}, wantErr: "delimiter"},
		{name: "CR quote", d: CSVDialect{Quote: '\r'}, wantErr: "quote"},
		{name: "quote is delimiter", d: CSVDialect{Delimiter: '|', Quote: '|'}, wantErr: "also the delimiter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CountCSV(strings.NewReader(tt.in), tt.d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("CountCSV(%q, %+v) = %d, want %d", tt.in, tt.d, got, tt.want)
			}
			if ref := refCountCSV([]byte(tt.in), tt.d); ref != got {
				t.Fatalf("reference model says %d, CountCSV %d", ref, got)
			}
		})
	}
}

func TestCountCSVReadError(t *testing.T) {
	boom := errors.New("boom")
	r := io.MultiReader(strings.NewReader("a\n1\n"), iotest.ErrReader(boom))
	_, err := CountCSVRecords(r, true, '"')
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "at byte 4") {
		t.Fatalf("error = %v, want boom at byte 4", err)
	}
}

// randomCSV writes valid RFC 4180 CSV: quotes only around whole fields,
// line breaks only as record ends (\n or \r\n) or inside quotes, and random
// empty lines.
func randomCSV(rng *rand.Rand, records int) []byte {
	var b bytes.Buffer
	plain := "abc xyz019._-"
	special := "ab,\n\r\"x "
	for i := 0; i < records; i++ {
		if rng.IntN(8) == 0 {
			b.WriteString([]string{"\n", "\r\n"}[rng.IntN(2)])
		}
		fields := 1 + rng.IntN(5)
		for f := 0; f < fields; f++ {
			if f > 0 {
				b.WriteByte(',')
			}
			n := rng.IntN(6)
			if rng.IntN(3) == 0 {
				b.WriteByte('"')
				for j := 0; j < n; j++ {
					c := special[rng.IntN(len(special))]
					if c == '"' {
						b.WriteByte('"')
					}
					b.WriteByte(c)
				}
				b.WriteByte('"')
				continue
			}
			for j := 0; j < n; j++ {
				b.WriteByte(plain[rng.IntN(len(plain))])
			}
		}
		if i < records-1 || rng.IntN(2) == 0 {
			b.WriteString([]string{"\n", "\r\n"}[rng.IntN(2)])
		}
	}
	return b.Bytes()
}

// TestCountCSVMatchesEncodingCSV cross-checks the counter against
// encoding/csv, which also skips empty lines, on random valid CSV.
func TestCountCSVMatchesEncodingCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 500; i++ {
		data := randomCSV(rng, 1+rng.IntN(40))
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		cr.LazyQuotes = false
		var want int64
		for {
			_, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("generated invalid CSV %q: %v", data, err)
			}
			want++
		}
		header := rng.IntN(2) == 0
		if header && want > 0 {
			want--
		}
		got, err := CountCSVRecords(iotest.HalfReader(bytes.NewReader(data)), header, '"')
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("CountCSVRecords(%q, header=%t) = %d, encoding/csv counts %d", data, header, got, want)
		}
	}
}

func FuzzCountCSVRecords(f *testing.F) {
	for _, s := range []string{"", "a,b\n1,2\n", "\"a\n\"\"b\"\r\n\r\nc", " \"x\n", "\"a\"x\"b\nc\"", "\ufeff\"\n", "a\rb"} {
		f.Add([]byte(s), true, byte('"'), byte(','))
	}
	f.Fuzz(func(t *testing.T, data []byte, header bool, quote, delim byte) {
		d := CSVDialect{Header: header, Quote: quote, Delimiter: delim}
		got, err := CountCSV(bytes.NewReader(data), d)
		if err != nil {
			return // an invalid dialect
		}
		if want := refCountCSV(data, d); got != want {
			t.Fatalf("CountCSV(%q, %+v) = %d, reference model %d", data, d, got, want)
		}
		chunked, err := CountCSV(iotest.OneByteReader(bytes.NewReader(data)), d)
		if err != nil || chunked != got {
			t.Fatalf("one byte at a time: %d, %v; whole: %d", chunked, err, got)
		}
	})
}

func benchCSV(quoted bool) []byte {
	var b bytes.Buffer
	b.WriteString("id,name,email,day,amount,note\n")
	for i := 0; b.Len() < 32<<20; i++ {
		b.WriteString("1234567,John Smith,john.smith@example.com,2024-01-02,123.45,")
		if quoted {
			b.WriteString(`"Some, ""quoted"" text"`)
		} else {
			b.WriteString("plain text without quotes")
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func BenchmarkCountCSVRecords(b *testing.B) {
	for _, bc := range []struct {
		name   string
		quoted bool
	}{{"unquoted", false}, {"quoted", true}} {
		data := benchCSV(bc.quoted)
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := CountCSVRecords(bytes.NewReader(data), true, '"'); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestReadCSVHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		delim   rune
		want    []string
		wantErr string
	}{
		{name: "simple", in: "a,b,c\n1,2,3\n", delim: ',', want: []string{"a", "b", "c"}},
		{name: "CRLF", in: "a,b\r\n1,2\r\n", delim: ',', want: []string{"a", "b"}},
		{name: "no newline", in: "a,b", delim: ',', want: []string{"a", "b"}},
		{name: "quoted with delimiter and newline", in: "\"a,1\",\"b\nc\"\n1,2\n", delim: ',', want: []string{"a,1", "b\nc"}},
		{name: "tab", in: "a\tb\n", delim: '\t', want: []string{"a", "b"}},
		{name: "leading empty lines", in: "\n\na;b\n", delim: ';', want: []string{"a", "b"}},
		{name: "byte order mark", in: "\ufeffid,name\n", delim: ',', want: []string{"id", "name"}},
		{name: "bare quote is data", in: "size\"in,b\n", delim: ',', want: []string{"size\"in", "b"}},
		{name: "empty", in: "", delim: ',', wantErr: "no records"},
		{name: "only empty lines", in: "\n\r\n", delim: ',', wantErr: "no records"},
		{name: "bad delimiter", in: "a,b\n", delim: '\n', wantErr: "csv header"},
		{name: "too long", in: strings.Repeat("x", maxHeaderBytes+10) + "\n", delim: ',', wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadCSVHeader(strings.NewReader(tt.in), tt.delim)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestReadCSVHeaderReadsLittle checks that the header of a large input is
// read without reading the input.
func TestReadCSVHeaderReadsLittle(t *testing.T) {
	cr := &countingReader{r: io.MultiReader(strings.NewReader("a,b\n"), infiniteRows{})}
	if _, err := ReadCSVHeader(cr, ','); err != nil {
		t.Fatal(err)
	}
	if cr.n > 64<<10 {
		t.Fatalf("read %d bytes for a 4-byte header", cr.n)
	}
}

type infiniteRows struct{}

func (infiniteRows) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = "1,2\n"[i%4]
	}
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
