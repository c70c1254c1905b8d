package cli

import (
	"bytes"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/pipeline"
)

func TestHumanBytes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {5 << 20, "5.0 MiB"}, {3 << 30, "3.0 GiB"}}
	for _, tc := range tests {
		if got := humanBytes(tc.n); got != tc.want {
			t.Errorf("humanBytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}

func TestProgressPrinter(t *testing.T) {
	var b bytes.Buffer
	p := progressPrinter(&b)
	p(pipeline.Progress{Pipeline: "sales", Object: "a.csv", Index: 1, Total: 2, Bytes: 2 << 20, Elapsed: time.Second})
	p(pipeline.Progress{Pipeline: "sales", Object: "a.csv", Index: 1, Total: 2, Bytes: 2 << 20, Rows: 1000, Elapsed: 2 * time.Second, Done: true})
	out := b.String()
	for _, want := range []string{"\r\033[Ksales [1/2] a.csv  2.0 MiB  2.0 MiB/s", "1.0 MiB/s  1000 rows  done in 2s\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output %q lacks %q", out, want)
		}
	}
}

func TestCellAndNormalize(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		v    any
		want string
	}{
		{nil, "NULL"}, {"x", "x"}, {[]byte{1, 2}, `\x0102`}, {ts, "2026-01-02T03:04:05Z"}, {time.Time{}, ""},
		{big.NewInt(7), "7"}, {3.5, "3.5"},
	}
	for _, tc := range tests {
		if got := cell(tc.v); got != tc.want {
			t.Errorf("cell(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
	if got := normalize([]byte("ab"), "BLOB"); got != "ab" {
		t.Errorf("normalize bytes = %v", got)
	}
	if got := normalize(ts, "TIMESTAMPTZ"); got != "2026-01-02T03:04:05Z" {
		t.Errorf("normalize time = %v", got)
	}
	if got := normalize(big.NewInt(9), "HUGEINT"); got != "9" {
		t.Errorf("normalize big = %v", got)
	}
	if firstLine("a\nb") != "a ..." || firstLine("a") != "a" {
		t.Error("firstLine")
	}
}

// TestQueryDatesAndTimes prints each date and time type of DuckDB as its
// type reads, alike in every output format.
func TestQueryDatesAndTimes(t *testing.T) {
	dir := initProject(t)
	cases := []struct {
		name, expr, want string
	}{
		{"date", `DATE '2025-09-01'`, "2025-09-01"},
		{"time", `TIME '12:34:56'`, "12:34:56"},
		{"time with fraction", `TIME '12:34:56.5'`, "12:34:56.5"},
		{"timestamp", `TIMESTAMP '2025-09-01 00:00:00'`, "2025-09-01 00:00:00"},
		{"timestamp with fraction", `TIMESTAMP '2025-09-01 01:02:03.123456'`, "2025-09-01 01:02:03.123456"},
		{"timestamp_ns", `TIMESTAMP_NS '2025-09-01 01:02:03.000000789'`, "2025-09-01 01:02:03.000000789"},
		{"timestamp_s", `TIMESTAMP_S '2025-09-01 01:02:03'`, "2025-09-01 01:02:03"},
		{"timestamptz", `TIMESTAMPTZ '2025-09-01 01:02:03+02'`, "2025-08-31T23:02:03Z"},
		{"timestamptz with fraction", `TIMESTAMPTZ '2025-09-01 01:02:03.25+00'`, "2025-09-01T01:02:03.25Z"},
		{"timetz", `TIMETZ '12:34:56+02'`, "12:34:56+02:00"},
		{"date of a table", `(SELECT d FROM (VALUES (DATE '2025-09-01')) AS x(d))`, "2025-09-01"},
	}
	for _, c := range cases {
		for _, f := range []struct{ format, want string }{
			{"json", "[\n  {\"v\":\"" + c.want + "\"}\n]\n"},
			{"csv", "v\n" + c.want + "\n"},
			{"table", "  v\n  " + c.want + "\n  (1 rows)\n"},
		} {
			t.Run(c.name+"/"+f.format, func(t *testing.T) {
				code, out, errOut := shp(t, "query", "--config", dir, "--format", f.format, "SELECT "+c.expr+" AS v")
				if code != 0 || out != f.want {
					t.Errorf("exit %d %s\n got %q\nwant %q", code, errOut, out, f.want)
				}
			})
		}
	}
}
