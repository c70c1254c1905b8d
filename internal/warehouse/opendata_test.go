package warehouse

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
)

// TestOpenData reads an object from its local path or, when the engine
// loads it from its URI, through Open, decompressed either way.
func TestOpenData(t *testing.T) {
	const text = "id,name\n1,a\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	zw.Close()
	path := filepath.Join(t.TempDir(), "a.csv.gz")
	if err := os.WriteFile(path, gz.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	closed := 0
	open := func(b []byte) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) {
			return closer{bytes.NewReader(b), &closed}, nil
		}
	}
	tests := []struct {
		name string
		spec LoadSpec
		want string
		err  string
	}{
		{"local gzip", LoadSpec{Path: path, Compression: format.Gzip}, text, ""},
		{"streamed gzip", LoadSpec{URI: "gs://b/a.csv.gz", Open: open(gz.Bytes()), Compression: format.Gzip}, text, ""},
		{"streamed plain", LoadSpec{URI: "gs://b/a.csv", Open: open([]byte(text)), Compression: format.None}, text, ""},
		{"streamed, not gzip", LoadSpec{URI: "gs://b/x.gz", Open: open([]byte(text)), Compression: format.Gzip}, "", "gs://b/x.gz"},
		{"open fails", LoadSpec{URI: "gs://b/gone.csv", Open: func(context.Context) (io.ReadCloser, error) {
			return nil, errors.New("object doesn't exist")
		}}, "", "open gs://b/gone.csv: object doesn't exist"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			closed = 0
			r, err := tt.spec.OpenData(context.Background())
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one naming %q", err, tt.err)
				}
				if tt.spec.Open != nil && tt.name != "open fails" && closed != 1 {
					t.Errorf("the stream was closed %d times, want 1", closed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(r)
			if err != nil || string(b) != tt.want {
				t.Fatalf("read %q, %v", b, err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.spec.Open != nil && closed != 1 {
				t.Errorf("the stream was closed %d times, want 1", closed)
			}
		})
	}
}

type closer struct {
	io.Reader
	n *int
}

func (c closer) Close() error { *c.n++; return nil }
