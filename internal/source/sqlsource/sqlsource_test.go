package sqlsource

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/shp-dev/shp/internal/schema"
	"github.com/shp-dev/shp/internal/source"
)

// memSink keeps chunks in memory; onWrite, when set, runs before each
// write of every chunk.
type memSink struct {
	mu        sync.Mutex
	committed []*memChunk
	opened    int
	onWrite   func(chunk, write int)
}

type memChunk struct {
	sink   *memSink
	id     int
	writes int
	buf    bytes.Buffer
	rows   int64
}

func (s *memSink) Chunk(context.Context) (source.Chunk, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.opened++
	return &memChunk{sink: s, id: s.opened}, nil
}

func (c *memChunk) Write(p []byte) (int, error) {
	c.writes++
	if c.sink.onWrite != nil {
		c.sink.onWrite(c.id, c.writes)
	}
	return c.buf.Write(p)
}

func (c *memChunk) Commit(rows int64) error {
	c.rows = rows
	c.sink.mu.Lock()
	defer c.sink.mu.Unlock()
	if rows > 0 {
		c.sink.committed = append(c.sink.committed, c)
	}
	return nil
}

func (c *memChunk) Discard() {}

// lines returns the data lines of all committed chunks, headers left out.
func (s *memSink) lines() []string {
	var out []string
	for _, c := range s.committed {
		ls := strings.Split(strings.TrimSuffix(c.buf.String(), "\n"), "\n")
		out = append(out, ls[1:]...)
	}
	return out
}

func (s *memSink) rows() int64 {
	var n int64
	for _, c := range s.committed {
		n += c.rows
	}
	return n
}

func fieldTypes(sch schema.Schema) map[string]string {
	out := map[string]string{}
	for _, f := range sch {
		t := f.Type
		if f.Precision > 0 {
			t += "(" + strconv.Itoa(f.Precision) + "," + strconv.Itoa(f.Scale) + ")"
		}
		out[f.Name] = t
	}
	return out
}

func mustOpen(t *testing.T, typ string, settings map[string]any) source.Extractor {
	t.Helper()
	ex, err := source.NewExtractor(context.Background(), source.Spec{Name: "db", Type: typ, Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	return ex
}

func TestSettingsErrors(t *testing.T) {
	cases := []struct {
		typ      string
		settings map[string]any
		want     string
	}{
		{"postgres", map[string]any{"host": "h"}, "give table or query"},
		{"postgres", map[string]any{"host": "h", "table": "t", "query": "q"}, "give table or query"},
		{"postgres", map[string]any{"table": "t"}, "give host"},
		{"postgres", map[string]any{"host": "h", "table": "t", "prot": 1.0}, `unknown key "prot"`},
		{"postgres", map[string]any{"host": "h", "table": "t", "port": "x"}, "port must be a number"},
		{"postgres", map[string]any{"host": "h", "table": "t", "incremental": map[string]any{}}, "incremental.column is required"},
		{"postgres", map[string]any{"host": "h", "table": "t", "chunk_size": 10.0}, "chunk_size needs key"},
		{"postgres", map[string]any{"host": "h", "table": "t", "tls": map[string]any{"mode": "maybe"}}, `tls.mode "maybe"`},
		{"postgres", map[string]any{"host": "h", "table": "t", "password_env": "SHP_NO_SUCH_VAR"}, "SHP_NO_SUCH_VAR is not set"},
		{"postgres", map[string]any{"host": "h", "table": "t", "timeout": "soon"}, "duration"},
		{"mysql", map[string]any{"dsn": "not a dsn", "table": "t"}, "dsn"},
		{"cloudsql", map[string]any{"engine": "oracle", "dsn": "x", "table": "t"}, `engine "oracle"`},
		{"postgres", map[string]any{"host": "h", "table": "t", "tls": map[string]any{"mode": "verify-full", "ca_file": "/nope/ca.pem"}}, "tls.ca_file"},
	}
	for _, c := range cases {
		_, err := source.NewExtractor(context.Background(), source.Spec{Name: "db", Type: c.typ, Settings: c.settings})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %v: error %v, want %q", c.typ, c.settings, err, c.want)
		}
	}
}

func TestLookBack(t *testing.T) {
	cases := []struct {
		since    string
		lookback any
		want     string
	}{
		{"100", 10.0, "90"},
		{"2026-01-02 10:00:00+00", "2h", "2026-01-02 08:00:00+00"},
		{"2026-01-02 10:00:00.5", "30m", "2026-01-02 09:30:00.5"},
		{"2026-01-02", "24h", "2026-01-01"},
		{"x", nil, "x"},
	}
	for _, c := range cases {
		got, err := lookBack(c.since, c.lookback)
		if err != nil || got != c.want {
			t.Errorf("lookBack(%q, %v) = %q, %v; want %q", c.since, c.lookback, got, err, c.want)
		}
	}
	for _, bad := range []struct {
		since    string
		lookback any
	}{{"100", "2h"}, {"2026-01-02", 5.0}, {"2026-01-02", "soon"}, {"nope", "1h"}} {
		if _, err := lookBack(bad.since, bad.lookback); err == nil {
			t.Errorf("lookBack(%q, %v): no error", bad.since, bad.lookback)
		}
	}
}
