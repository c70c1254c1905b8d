package format

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

func TestDetect(t *testing.T) {
	tests := []struct {
		key     string
		format  Format
		comp    Compression
		wantErr string
	}{
		{key: "a.csv", format: CSV, comp: None},
		{key: "dir/b.CSV.GZ", format: CSV, comp: Gzip},
		{key: "x.jsonl", format: JSONL, comp: None},
		{key: "x.ndjson.gz", format: JSONL, comp: Gzip},
		{key: "deep/dir/x.json", format: JSON, comp: None},
		{key: "x.json.gz", format: JSON, comp: Gzip},
		{key: "x.parquet", format: Parquet, comp: None},
		{key: "x.parquet.gz", wantErr: `"x.parquet.gz": gzip-wrapped Parquet`},
		{key: "x.tsv", wantErr: `object "x.tsv": cannot tell the format`},
		{key: "x.gz", wantErr: `object "x.gz"`},
		{key: "csv", wantErr: `object "csv"`},
		{key: "dir.csv/file", wantErr: `object "dir.csv/file"`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			f, c, err := Detect(tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Detect(%q) error = %v, want it to contain %q", tt.key, err, tt.wantErr)
				}
				return
			}
			if err != nil || f != tt.format || c != tt.comp {
				t.Fatalf("Detect(%q) = %q, %q, %v; want %q, %q", tt.key, f, c, err, tt.format, tt.comp)
			}
		})
	}
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestDecompress(t *testing.T) {
	plain := "a,b\n1,2\n"
	twoMembers := append(gz(t, "a,b\n"), gz(t, "1,2\n")...)
	tests := []struct {
		name    string
		in      []byte
		comp    Compression
		want    string
		wantErr string
	}{
		{name: "none", in: []byte(plain), comp: None, want: plain},
		{name: "empty means none", in: []byte(plain), comp: "", want: plain},
		{name: "gzip", in: gz(t, plain), comp: Gzip, want: plain},
		{name: "gzip multistream", in: twoMembers, comp: Gzip, want: plain},
		{name: "auto gzip", in: gz(t, plain), comp: Auto, want: plain},
		{name: "auto plain", in: []byte(plain), comp: Auto, want: plain},
		{name: "auto one byte", in: []byte("x"), comp: Auto, want: "x"},
		{name: "auto empty", in: nil, comp: Auto, want: ""},
		{name: "gzip bad header", in: []byte(plain), comp: Gzip, wantErr: "gzip header"},
		{name: "gzip empty", in: nil, comp: Gzip, wantErr: "gzip header"},
		{name: "unknown", in: []byte(plain), comp: "zstd", wantErr: `unknown compression "zstd"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, err := Decompress(bytes.NewReader(tt.in), tt.comp)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestSniffCompression(t *testing.T) {
	tests := []struct {
		name    string
		r       io.Reader
		want    Compression
		wantErr bool
	}{
		{name: "gzip", r: bytes.NewReader(gz(t, "x")), want: Gzip},
		{name: "plain", r: strings.NewReader("ab"), want: None},
		{name: "short", r: strings.NewReader("\x1f"), want: None},
		{name: "read error", r: iotest.ErrReader(io.ErrUnexpectedEOF), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(tt.r)
			got, err := SniffCompression(br)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Fatalf("SniffCompression = %q, %v; want %q (error %t)", got, err, tt.want, tt.wantErr)
			}
			if _, err := Decompress(bufio.NewReader(iotest.ErrReader(io.ErrUnexpectedEOF)), Auto); err == nil {
				t.Fatal("Decompress(auto) of a failing reader: want an error")
			}
		})
	}
}

// TestFixtures runs every scanner on the files in testdata, the way the
// pipeline does: detect by name, decompress, count.
func TestFixtures(t *testing.T) {
	tests := []struct {
		file      string
		good, bad int64
	}{
		{file: "orders.csv", good: 5},
		{file: "orders.csv.gz", good: 5},
		{file: "orders_crlf.csv", good: 3},
		{file: "header_only.csv", good: 0},
		{file: "empty.csv", good: 0},
		{file: "events.jsonl", good: 3, bad: 2},
		{file: "events.jsonl.gz", good: 3, bad: 2},
		{file: "events.json", good: 3, bad: 1},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			fm, comp, err := Detect(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Decompress(bufio.NewReader(f), comp)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			var good, bad int64
			switch fm {
			case CSV:
				good, err = CountCSVRecords(r, true, '"')
			default:
				var out bytes.Buffer
				good, bad, err = NormalizeJSON(r, &out, fm == JSONL, func(int64, []byte, string) error { return nil })
				if got := int64(bytes.Count(out.Bytes(), []byte("\n"))); got != good {
					t.Errorf("wrote %d lines for %d good records", got, good)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if good != tt.good || bad != tt.bad {
				t.Fatalf("good, bad = %d, %d; want %d, %d", good, bad, tt.good, tt.bad)
			}
		})
	}
}
