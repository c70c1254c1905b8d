package sqlsource

import (
	"context"
	"database/sql"
	"io"
	"testing"

	"github.com/shp-dev/shp/internal/source"
	"github.com/shp-dev/shp/internal/testutil"
)

// discardSink counts what the extractor writes and keeps none of it.
type discardSink struct{ bytes int64 }

type discardChunk struct{ s *discardSink }

func (s *discardSink) Chunk(context.Context) (source.Chunk, error) { return discardChunk{s}, nil }
func (c discardChunk) Write(p []byte) (int, error)                 { c.s.bytes += int64(len(p)); return len(p), nil }
func (c discardChunk) Commit(int64) error                          { return nil }
func (c discardChunk) Discard()                                    {}

var _ io.Writer = discardChunk{}

// BenchmarkExtractMySQL measures the MariaDB extractor alone (query,
// driver, CSV writing) on 200,000 rows of issue 17's types, in chunks of
// 50,000; it reports rows per second.
func BenchmarkExtractMySQL(b *testing.B) {
	const rows = 200_000
	ctx := context.Background()
	dsn := testutil.MySQLDSN(b)
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	for _, stmt := range testutil.MySQLOrders(rows) {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			b.Fatal(err)
		}
	}
	ex, err := source.NewExtractor(ctx, source.Spec{Name: "db", Type: "mysql",
		Settings: map[string]any{"dsn": dsn, "table": "orders", "key": "id", "chunk_size": 50_000}})
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	sch, err := ex.Discover(ctx)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink := &discardSink{}
		out, err := ex.Extract(ctx, source.ExtractRequest{Schema: sch}, sink)
		if err != nil {
			b.Fatal(err)
		}
		if out.Rows != rows {
			b.Fatalf("extracted %d rows, want %d", out.Rows, rows)
		}
		b.SetBytes(sink.bytes)
	}
	b.ReportMetric(float64(rows*b.N)/b.Elapsed().Seconds(), "rows/s")
}

// TestAppendCSVField writes every shape of field as csvField does.
func TestAppendCSVField(t *testing.T) {
	for _, v := range []string{"", "a", "plain text", `\N`, `\N\N`, `\`, "N", "a,b", `say "hi"`, `"`, "line\nbreak", "cr\r", " lead", "trail ",
		" ", "é€", "tab\there", "12.500000", "-0", `{"k": 1, "tags": ["a", "b"]}`} {
		if got, want := string(appendCSVField([]byte("x,"), []byte(v))), "x,"+csvField(v); got != want {
			t.Errorf("appendCSVField(%q) = %q, want %q", v, got, want)
		}
	}
}
