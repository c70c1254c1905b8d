package format

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestSniffCSV(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		truncated    bool
		delim, quote byte // declared; 0 detects
		want         Sniffed
	}{
		{name: "comma", in: "id,name,amount\n1,a,1.5\n2,b,2.5\n",
			want: Sniffed{Delimiter: ',', Quote: '"', Found: true, Fields: 3, Consistent: 3}},
		{name: "semicolon with decimal commas", in: "id;amount;city\n1;1,5;Bern\n2;2,25;Basel\n3;10;Chur\n",
			want: Sniffed{Delimiter: ';', Quote: '"', Found: true, Fields: 3, Consistent: 4}},
		{name: "tab with quoted commas and semicolons", in: "id\tnote\n1\t\"a,b;c\"\n2\t\"d,e\"\n3\tf;g\n",
			want: Sniffed{Delimiter: '\t', Quote: '"', Found: true, Fields: 2, Consistent: 4}},
		{name: "pipe with quoted delimiters", in: "id|note|n\n1|\"x|y, z\"|1\n2|\"p;q\"|2\n",
			want: Sniffed{Delimiter: '|', Quote: '"', Found: true, Fields: 3, Consistent: 3}},
		{name: "semicolon with a quoted line break", in: "id;note\n1;\"two\nlines; here\"\n2;x\n",
			want: Sniffed{Delimiter: ';', Quote: '"', Found: true, Fields: 2, Consistent: 3}},
		{name: "single quotes", in: "id;name\n1;'Muster; Hans'\n2;'a;b;c'\n3;x\n",
			want: Sniffed{Delimiter: ';', Quote: '\'', Found: true, Fields: 2, Consistent: 4}},
		{name: "an apostrophe inside a value is data", in: "id;name\n1;O'Brien\n2;D'Arcy\n",
			want: Sniffed{Delimiter: ';', Quote: '"', Found: true, Fields: 2, Consistent: 3}},
		{name: "trailing empty header cells", in: "a;b;c;;;\n1;2,5;x\n4;5;y\n",
			want: Sniffed{Delimiter: ';', Quote: '"', Found: true, Fields: 3, Consistent: 2}},
		{name: "byte order mark and CRLF", in: "\ufeffa|b\r\n1|2\r\n",
			want: Sniffed{Delimiter: '|', Quote: '"', Found: true, Fields: 2, Consistent: 2}},
		{name: "one column", in: "name\nx;y\nz|w\n", want: Sniffed{Delimiter: ',', Quote: '"'}},
		{name: "empty", in: "", want: Sniffed{Delimiter: ',', Quote: '"'}},
		{name: "declared delimiter, quote detected", in: "a;b\n1;'x;y'\n", delim: ';',
			want: Sniffed{Delimiter: ';', Quote: '\'', Found: true, Fields: 2, Consistent: 2}},
		{name: "declared quote, delimiter detected", in: "a\tb\n1\t2\n", quote: '\'',
			want: Sniffed{Delimiter: '\t', Quote: '\'', Found: true, Fields: 2, Consistent: 2}},
		{name: "a truncated sample leaves out its partial last record", in: "a;b\n1;2\n3;\"cut, sh", truncated: true,
			want: Sniffed{Delimiter: ';', Quote: '"', Found: true, Fields: 2, Consistent: 2}},
		{name: "tie goes to the comma", in: "a,b;c\n1,2;3\n",
			want: Sniffed{Delimiter: ',', Quote: '"', Found: true, Fields: 2, Consistent: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SniffCSV([]byte(tt.in), tt.truncated, tt.delim, tt.quote)
			if got != tt.want {
				t.Fatalf("SniffCSV(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSniffCSVReadsOnlyTheSample(t *testing.T) {
	var b strings.Builder
	b.WriteString("a;b\n")
	for b.Len() < 3*SniffBytes {
		b.WriteString("1;x\n")
	}
	sample, truncated, rest := PeekSample(strings.NewReader(b.String()))
	if len(sample) != SniffBytes || !truncated {
		t.Fatalf("sample of %d bytes, truncated %t", len(sample), truncated)
	}
	if got := SniffCSV(sample, truncated, 0, 0); got.Delimiter != ';' || got.Consistent != SniffRecords {
		t.Fatalf("sniffed %+v, want ';' over %d records", got, SniffRecords)
	}
	all, err := io.ReadAll(rest)
	if err != nil || string(all) != b.String() {
		t.Fatalf("rest lost bytes: %d of %d, %v", len(all), b.Len(), err)
	}

	sample, truncated, _ = PeekSample(strings.NewReader("a,b\n"))
	if string(sample) != "a,b\n" || truncated {
		t.Fatalf("short input: %q, truncated %t", sample, truncated)
	}
	boom := errors.New("boom")
	_, _, rest = PeekSample(io.MultiReader(strings.NewReader("a,b\n"), iotest.ErrReader(boom)))
	if _, err := io.ReadAll(rest); !errors.Is(err, boom) {
		t.Fatalf("a read error is returned by rest, got %v", err)
	}
}

func TestResolveCSVDialect(t *testing.T) {
	schema := map[string]bool{"id": true, "amount": true, "city": true}
	known := func(n string) bool { return schema[strings.ToLower(n)] }
	tests := []struct {
		name         string
		in           string
		delim, quote byte
		header       bool
		known        func(string) bool
		wantDelim    byte
		wantQuote    byte
		wantNotes    []string
	}{
		{name: "detected semicolon", in: "id;amount\n1;1,5\n", header: true,
			wantDelim: ';', wantQuote: '"', wantNotes: []string{`detected delimiter ";"`}},
		{name: "detected comma has no note", in: "id,amount\n1,1.5\n", header: true, wantDelim: ',', wantQuote: '"'},
		{name: "detected tab and single quote", in: "id\tcity\n1\t'a\tb'\n2\tc\n", header: true, wantDelim: '\t', wantQuote: '\'',
			wantNotes: []string{`detected delimiter "\t"`, `detected quote character "'"`}},
		{name: "declared delimiter that reads the schema", in: "id,amount\n1,2\n", delim: ',', quote: '"', header: true, known: known,
			wantDelim: ',', wantQuote: '"'},
		{name: "wrong declared delimiter", in: "id;amount;city\n1;1,5;Bern\n", delim: ',', quote: '"', header: true, known: known,
			wantDelim: ';', wantQuote: '"',
			wantNotes: []string{`the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 3 of them`}},
		{name: "wrong declared delimiter, pipe", in: "id|city\n1|Bern\n", delim: ';', quote: '"', header: true, known: known,
			wantDelim: '|', wantQuote: '"',
			wantNotes: []string{`the declared delimiter ";" reads none of the schema's columns; read with delimiter "|", which reads 2 of them`}},
		{name: "two alternatives read the schema: the declared one stands", in: "id;amount|city\n", delim: ',', quote: '"', header: true, known: known,
			wantDelim: ',', wantQuote: '"'},
		{name: "no alternative reads the schema", in: "x;y\n1;2\n", delim: ',', quote: '"', header: true, known: known,
			wantDelim: ',', wantQuote: '"'},
		{name: "wrong declared delimiter, quote not declared", in: "id;city\n1;'a;\nb'\n", delim: ',', header: true, known: known,
			wantDelim: ';', wantQuote: '\'',
			wantNotes: []string{`the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 2 of them`,
				`detected quote character "'"`}},
		{name: "no header: nothing to check", in: "1;2\n", delim: ',', quote: '"', known: known, wantDelim: ',', wantQuote: '"'},
		{name: "no schema: nothing to check", in: "id;amount\n", delim: ',', quote: '"', header: true, wantDelim: ',', wantQuote: '"'},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := ResolveCSVDialect([]byte(tt.in), false, tt.delim, tt.quote, tt.header, tt.known)
			if got.Delimiter != tt.wantDelim || got.Quote != tt.wantQuote || !reflect.DeepEqual(got.Notes, tt.wantNotes) {
				t.Fatalf("got %q %q %q, want %q %q %q", got.Delimiter, got.Quote, got.Notes, tt.wantDelim, tt.wantQuote, tt.wantNotes)
			}
		})
	}
}

func TestCSVHeader(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		d       CSVDialect
		want    []string
		wantErr string
	}{
		{name: "plain", in: "a,b,c\n1,2,3\n", d: CSVDialect{Quote: '"'}, want: []string{"a", "b", "c"}},
		{name: "quoted with an escaped quote and a delimiter", in: "\"a\"\"x\",\"b,c\"\n", d: CSVDialect{Quote: '"'}, want: []string{`a"x`, "b,c"}},
		{name: "empty cells", in: ",a,,\n", d: CSVDialect{Quote: '"'}, want: []string{"", "a", "", ""}},
		{name: "semicolon, BOM, empty lines first", in: "\ufeff\n\r\nx;\"y;z\"\r\n1;2", d: CSVDialect{Delimiter: ';', Quote: '"'}, want: []string{"x", "y;z"}},
		{name: "single quote", in: "'a|b'|c\n", d: CSVDialect{Delimiter: '|', Quote: '\''}, want: []string{"a|b", "c"}},
		{name: "a quote inside a name is data", in: "a\"b,c\n", d: CSVDialect{Quote: '"'}, want: []string{`a"b`, "c"}},
		{name: "header without newline", in: "a\tb", d: CSVDialect{Delimiter: '\t', Quote: '"'}, want: []string{"a", "b"}},
		{name: "no record", in: "\n\n", d: CSVDialect{Quote: '"'}, wantErr: "no records"},
		{name: "too long", in: "\"" + strings.Repeat("x", maxHeaderBytes+10), d: CSVDialect{Quote: '"'}, wantErr: "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := CSVHeader(iotest.HalfReader(strings.NewReader(tt.in)), tt.d)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("CSVHeader(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestScanCSVShape(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		d      CSVDialect
		want   CSVShape
		usual  int
		filled []int64
	}{
		{name: "trailing empty cells in the header only", in: "a,b,c,,,\n1,2,3\n4,5,6\n", d: CSVDialect{Header: true, Delimiter: ',', Quote: '"'},
			want: CSVShape{Records: 2, FieldCounts: map[int]int64{3: 2}, NonEmpty: []int64{2, 2, 2}}, usual: 3},
		{name: "trailing empty cells everywhere", in: "a,b,c,,,\n1,2,3,,,\n4,5,6,, ,\"\"\n", d: CSVDialect{Header: true, Delimiter: ',', Quote: '"'},
			want: CSVShape{Records: 2, FieldCounts: map[int]int64{6: 2}, NonEmpty: []int64{2, 2, 2, 0, 0, 0}}, usual: 6},
		{name: "a value in a trailing column", in: "a;b;;\n1;2;;\n3;4;;x\n", d: CSVDialect{Header: true, Delimiter: ';', Quote: '"'},
			want: CSVShape{Records: 2, FieldCounts: map[int]int64{4: 2}, NonEmpty: []int64{2, 2, 0, 1}}, usual: 4},
		{name: "quoted delimiters and line breaks", in: "x|y\n\"1|2\n3\"|\n", d: CSVDialect{Delimiter: '|', Quote: '"'},
			want: CSVShape{Records: 2, FieldCounts: map[int]int64{2: 2}, NonEmpty: []int64{2, 1}}, usual: 2},
		{name: "no records", in: "a,b\n", d: CSVDialect{Header: true, Quote: '"'},
			want: CSVShape{FieldCounts: map[int]int64{}}, usual: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ScanCSVShape(iotest.OneByteReader(strings.NewReader(tt.in)), tt.d)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*got, tt.want) || got.UsualFields() != tt.usual {
				t.Fatalf("ScanCSVShape(%q) = %+v (usual %d), want %+v (usual %d)", tt.in, *got, got.UsualFields(), tt.want, tt.usual)
			}
		})
	}
}

// TestScanCSVShapeAgreesWithCountCSV: both split records the same way, on
// random CSV with quoted line breaks, and the fields agree with
// encoding/csv's.
func TestScanCSVShapeAgreesWithCountCSV(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < 300; i++ {
		data := randomCSV(rng, 1+rng.IntN(30))
		d := CSVDialect{Header: rng.IntN(2) == 0, Delimiter: ',', Quote: '"'}
		shape, err := ScanCSVShape(bytes.NewReader(data), d)
		if err != nil {
			t.Fatal(err)
		}
		n, err := CountCSV(bytes.NewReader(data), d)
		if err != nil {
			t.Fatal(err)
		}
		if shape.Records != n {
			t.Fatalf("%q: ScanCSVShape has %d records, CountCSV %d", data, shape.Records, n)
		}
		cr := csv.NewReader(bytes.NewReader(data))
		cr.FieldsPerRecord = -1
		counts := map[int]int64{}
		first := d.Header
		for {
			rec, err := cr.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if first {
				first = false
				continue
			}
			counts[len(rec)]++
		}
		if !reflect.DeepEqual(counts, shape.FieldCounts) {
			t.Fatalf("%q: field counts %v, encoding/csv %v", data, shape.FieldCounts, counts)
		}
	}
}

func TestNameCSVColumns(t *testing.T) {
	shapeOf := func(in string) func() (*CSVShape, error) {
		return func() (*CSVShape, error) {
			return ScanCSVShape(strings.NewReader(in), CSVDialect{Header: true, Delimiter: ',', Quote: '"'})
		}
	}
	tests := []struct {
		name      string
		in        string // the file; its header is split with ','
		wantNames []string
		wantSkip  []bool
		wantNotes []string
		wantErr   string
	}{
		{name: "all named", in: "a, b ,c\n1,2,3\n", wantNames: []string{"a", "b", "c"}, wantSkip: []bool{false, false, false}},
		{name: "trailing empty cells in the header only", in: "a,b,c,,,\n1,2,3\n4,5,6\n",
			wantNames: []string{"a", "b", "c"}, wantSkip: []bool{false, false, false},
			wantNotes: []string{"header columns 4 to 6 have no name and no value in any row; not read"}},
		{name: "trailing empty cells in every row", in: "a,b,c,,,\n1,2,3,,,\n4,5,6,,,\n",
			wantNames: []string{"a", "b", "c", "Unnamed: 3", "Unnamed: 4", "Unnamed: 5"}, wantSkip: []bool{false, false, false, true, true, true},
			wantNotes: []string{"header columns 4 to 6 have no name and no value in any row; not read"}},
		{name: "one trailing empty cell", in: "a,b,\n1,2,\n",
			wantNames: []string{"a", "b", "Unnamed: 2"}, wantSkip: []bool{false, false, true},
			wantNotes: []string{"header column 3 has no name and no value in any row; not read"}},
		{name: "a trailing column with a value is read", in: "a,b,,\n1,2,,\n3,4,,x\n",
			wantNames: []string{"a", "b", "Unnamed: 2", "Unnamed: 3"}, wantSkip: []bool{false, false, false, false},
			wantNotes: []string{`header column 3 has no name; read as "Unnamed: 2"`, `header column 4 has no name; read as "Unnamed: 3"`}},
		{name: "row names first", in: "\"\",id,amount\n1,7,1.5\n2,8,2.5\n",
			wantNames: []string{"Unnamed: 0", "id", "amount"}, wantSkip: []bool{false, false, false},
			wantNotes: []string{`header column 1 has no name; read as "Unnamed: 0"`}},
		{name: "unnamed middle column", in: "id,,amount\n1,x,1.5\n",
			wantNames: []string{"id", "Unnamed: 1", "amount"}, wantSkip: []bool{false, false, false},
			wantNotes: []string{`header column 2 has no name; read as "Unnamed: 1"`}},
		{name: "two unnamed and trailing ones", in: ",id,,amount,,\n1,7,x,1.5,,\n",
			wantNames: []string{"Unnamed: 0", "id", "Unnamed: 2", "amount", "Unnamed: 4", "Unnamed: 5"}, wantSkip: []bool{false, false, false, false, true, true},
			wantNotes: []string{`header column 1 has no name; read as "Unnamed: 0"`, `header column 3 has no name; read as "Unnamed: 2"`,
				"header columns 5 to 6 have no name and no value in any row; not read"}},
		{name: "a generated name a cell already has", in: ",unnamed: 0\n1,2\n",
			wantNames: []string{"Unnamed: 0.1", "unnamed: 0"}, wantSkip: []bool{false, false},
			wantNotes: []string{`header column 1 has no name; read as "Unnamed: 0.1"`}},
		{name: "a name twice", in: "a,b,A\n", wantErr: `header names column "A" twice`},
		{name: "no name at all", in: ",,\n1,2,3\n", wantErr: "no column names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header, err := CSVHeader(strings.NewReader(tt.in), CSVDialect{Delimiter: ',', Quote: '"'})
			if err != nil {
				t.Fatal(err)
			}
			asked := false
			got, err := NameCSVColumns(header, func() (*CSVShape, error) { asked = true; return shapeOf(tt.in)() })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Names, tt.wantNames) || !reflect.DeepEqual(got.Skip, tt.wantSkip) || !reflect.DeepEqual(got.Notes, tt.wantNotes) {
				t.Fatalf("got %q %v %q\nwant %q %v %q", got.Names, got.Skip, got.Notes, tt.wantNames, tt.wantSkip, tt.wantNotes)
			}
			if asked && tt.wantNotes == nil {
				t.Fatal("the file was scanned for a header whose cells all have names")
			}
		})
	}
	boom := errors.New("boom")
	if _, err := NameCSVColumns([]string{"a", ""}, func() (*CSVShape, error) { return nil, boom }); !errors.Is(err, boom) {
		t.Fatalf("a failed scan is an error, got %v", err)
	}
}
