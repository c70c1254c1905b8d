package postgres

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
)

// TestCSVReaderCountsAsFormatDoes: the reader splits every file into as
// many records as format.CountCSV counts, however its quotes, line
// breaks and blank lines fall, and across buffer boundaries.
func TestCSVReaderCountsAsFormatDoes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pieces := []string{"a", "b", ",", ",", `"`, `""`, "\n", "\r\n", "\r", " ", "x y", `"q,\n"`, "\n\n", "é"}
	for n := 0; n < 2000; n++ {
		var b strings.Builder
		for k := rng.IntN(40); k > 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		data := b.String()
		for _, header := range []bool{false, true} {
			want, err := format.CountCSV(strings.NewReader(data), format.CSVDialect{Header: header, Delimiter: ',', Quote: '"'})
			if err != nil {
				t.Fatal(err)
			}
			cr := newCSVReader(&slowReader{data: []byte(data)}, ',', '"')
			var got int64
			for {
				_, err := cr.next()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				got++
			}
			if header && got > 0 {
				got--
			}
			if got != want {
				t.Fatalf("%q (header %t): %d records, format.CountCSV counts %d", data, header, got, want)
			}
		}
	}
}

// slowReader returns a few bytes per Read, to cross buffer boundaries.
type slowReader struct{ data []byte }

func (r *slowReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), 1+len(r.data)%7, len(r.data))
	copy(p, r.data[:n])
	r.data = r.data[n:]
	return n, nil
}

func TestCSVReaderFieldsAndLines(t *testing.T) {
	data := "\n\nid,name\n1,\"a\"\"b\"\n\n2, \"sp\",x\n3,\"multi\nline\"\n4,\"open\n"
	cr := newCSVReader(strings.NewReader(data), ',', '"')
	var got []string
	for {
		rec, err := cr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var f []string
		for i, v := range rec.fields {
			f = append(f, fmt.Sprintf("%s/%t", v, rec.quoted[i]))
		}
		got = append(got, fmt.Sprintf("%d %v %v", rec.line, f, rec.problem))
	}
	want := "3 [id/false name/false] <nil>|4 [1/false a\"b/true] <nil>|6 [2/false sp/true x/false] <nil>|7 [3/false multi\nline/true] <nil>|8 [4/false open\n/true] Value with unterminated quote found."
	if strings.Join(got, "|") != want {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "|"), want)
	}
}

func BenchmarkCSVReader(b *testing.B) {
	path := filepath.Join(b.TempDir(), "sales.csv")
	if err := generateSales(path, 200_000); err != nil {
		b.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		cr := newCSVReader(bytes.NewReader(data), ',', '"')
		for {
			if _, err := cr.next(); err != nil {
				break
			}
		}
	}
}
