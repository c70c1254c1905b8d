package sqlplan

import (
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/warehouse"
)

func TestResolveCSVDialect(t *testing.T) {
	file := "a;b\n1;2\n"
	open := func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(file)), nil }
	boom := errors.New("boom")
	for _, tc := range []struct {
		name         string
		csv          warehouse.CSVOptions
		known        func(string) bool
		open         func() (io.ReadCloser, error)
		delim, quote string
		notes        int // at least
		err          error
		opened       bool
	}{
		{name: "detected", csv: warehouse.CSVOptions{Notes: []string{"given"}}, open: open, delim: ";", quote: `"`, notes: 2, opened: true},
		{name: "set, no schema", csv: warehouse.CSVOptions{Delimiter: ",", Quote: "'"}, delim: ",", quote: "'"},
		{name: "set, no header", csv: warehouse.CSVOptions{Delimiter: ",", Quote: "'", NoHeader: true}, known: func(string) bool { return true }, delim: ",", quote: "'"},
		{name: "more than one character", csv: warehouse.CSVOptions{Delimiter: "||"}, delim: "||"},
		{name: "set, checked against the schema", csv: warehouse.CSVOptions{Delimiter: ";", Quote: `"`}, known: func(n string) bool { return n == "a" },
			open: open, delim: ";", quote: `"`, opened: true},
		{name: "cannot open", csv: warehouse.CSVOptions{Notes: []string{"given"}}, open: func() (io.ReadCloser, error) { return nil, boom }, notes: 1, err: boom},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opened := false
			o := tc.open
			if o == nil {
				o = func() (io.ReadCloser, error) { t.Fatal("opened"); return nil, nil }
			}
			notes, err := ResolveCSVDialect(&tc.csv, tc.known, func() (io.ReadCloser, error) { opened = true; return o() })
			if !errors.Is(err, tc.err) || opened != tc.opened && tc.err == nil {
				t.Fatalf("err %v, opened %v", err, opened)
			}
			if tc.err == nil && (tc.csv.Delimiter != tc.delim || tc.csv.Quote != tc.quote) {
				t.Fatalf("dialect %q %q, want %q %q", tc.csv.Delimiter, tc.csv.Quote, tc.delim, tc.quote)
			}
			if len(notes) < tc.notes || len(tc.csv.Notes) > 0 && notes[0] != tc.csv.Notes[0] {
				t.Fatalf("notes %q", notes)
			}
		})
	}
}

func TestHeaderlessColumns(t *testing.T) {
	declared := schema.Schema{{Name: "id"}, {Name: "name"}}
	for _, tc := range []struct {
		name string
		n    int
		want []string
	}{
		{"fewer than declared", 1, []string{"id"}},
		{"as declared", 2, []string{"id", "name"}},
		{"more than declared", 4, []string{"id", "name", "column3", "column4"}},
		{"none", 0, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := HeaderlessColumns(tc.n, declared)
			if !reflect.DeepEqual(got.Names, tc.want) || len(got.Skip) != tc.n {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestStageFormat(t *testing.T) {
	var called string
	stager := func(name string) func() error { return func() error { called = name; return nil } }
	for _, tc := range []struct {
		f    format.Format
		want string
		err  string
	}{
		{format.CSV, "csv", ""}, {format.JSONL, "json", ""}, {format.JSON, "json", ""}, {format.Parquet, "parquet", ""},
		{"avro", "", `unsupported format "avro"`},
	} {
		t.Run(string(tc.f), func(t *testing.T) {
			called = ""
			err := StageFormat(tc.f, stager("csv"), stager("json"), stager("parquet"))
			if called != tc.want || (err == nil) != (tc.err == "") || (err != nil && err.Error() != tc.err) {
				t.Fatalf("called %q, err %v", called, err)
			}
		})
	}
}
