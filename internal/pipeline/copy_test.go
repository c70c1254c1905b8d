package pipeline

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

// TestCountRecordsSettlesTheDialect: the record counter detects the
// delimiter and quote once, from the stream, counts with them (a quoted
// line break opens only after the right delimiter) and hands them on for
// the warehouse's reader.
func TestCountRecordsSettlesTheDialect(t *testing.T) {
	sch := schema.Schema{{Name: "id", Type: "INT64"}, {Name: "note", Type: "STRING"}}
	tests := []struct {
		name      string
		data      string
		opts      warehouse.CSVOptions
		sch       schema.Schema
		want      int64
		wantDelim string
		wantQuote string
		wantNotes []string
	}{
		{name: "comma", data: "id,note\n1,\"a\nb\"\n2,c\n", want: 2, wantDelim: ",", wantQuote: `"`},
		{name: "semicolon with a quoted line break", data: "id;note\n1;\"a,\nb\"\n2;c\n", want: 2, wantDelim: ";", wantQuote: `"`,
			wantNotes: []string{`detected delimiter ";"`}},
		{name: "tab", data: "id\tnote\n1\t\"x;y|z\"\n", want: 1, wantDelim: "\t", wantQuote: `"`, wantNotes: []string{`detected delimiter "\t"`}},
		{name: "pipe and single quotes", data: "id|note\n1|'a|\nb'\n2|'c'\n", want: 2, wantDelim: "|", wantQuote: "'",
			wantNotes: []string{`detected delimiter "|"`, `detected quote character "'"`}},
		{name: "declared", data: "id;note\n1;x\n", opts: warehouse.CSVOptions{Delimiter: ";", Quote: `"`}, want: 1, wantDelim: ";", wantQuote: `"`},
		{name: "declared delimiter reads no schema column", data: "id;note\n1;\"a,\nb\"\n", opts: warehouse.CSVOptions{Delimiter: ",", Quote: `"`}, sch: sch,
			want: 1, wantDelim: ";", wantQuote: `"`,
			wantNotes: []string{`the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 2 of them`}},
		{name: "declared delimiter reads no schema column, quote not declared", data: "id;note\n1;\"a,\nb\"\n", opts: warehouse.CSVOptions{Delimiter: ","}, sch: sch,
			want: 1, wantDelim: ";", wantQuote: `"`,
			wantNotes: []string{`the declared delimiter "," reads none of the schema's columns; read with delimiter ";", which reads 2 of them`}},
		{name: "no header", data: "1;x\n2;y\n", opts: warehouse.CSVOptions{NoHeader: true}, want: 2, wantDelim: ";", wantQuote: `"`,
			wantNotes: []string{`detected delimiter ";"`}},
	}
	for _, tc := range tests {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%t", tc.name, gz), func(t *testing.T) {
				data, c := []byte(tc.data), format.None
				if gz {
					var b bytes.Buffer
					zw := gzip.NewWriter(&b)
					zw.Write(data)
					zw.Close()
					data, c = b.Bytes(), format.Auto
				}
				opts := tc.opts
				var rows atomic.Int64
				n, err := countRecords(bytes.NewReader(data), format.CSV, c, &opts, tc.sch, &rows, nil, nil)
				if err != nil {
					t.Fatal(err)
				}
				if n != tc.want || rows.Load() != tc.want {
					t.Fatalf("counted %d (progress %d), want %d", n, rows.Load(), tc.want)
				}
				if opts.Delimiter != tc.wantDelim || opts.Quote != tc.wantQuote || !reflect.DeepEqual(opts.Notes, tc.wantNotes) {
					t.Fatalf("dialect %q %q %q, want %q %q %q", opts.Delimiter, opts.Quote, opts.Notes, tc.wantDelim, tc.wantQuote, tc.wantNotes)
				}
			})
		}
	}

	t.Run("a long file is counted whole", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("id;note\n")
		for i := 0; i < 20000; i++ {
			b.WriteString("1;\"x\ny\"\n")
		}
		opts := warehouse.CSVOptions{}
		var rows atomic.Int64
		n, err := countRecords(strings.NewReader(b.String()), format.CSV, format.None, &opts, nil, &rows, nil, nil)
		if err != nil || n != 20000 || opts.Delimiter != ";" {
			t.Fatalf("counted %d, %v, delimiter %q", n, err, opts.Delimiter)
		}
	})
}
