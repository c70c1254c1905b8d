package pipeline

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/fsouza/fake-gcs-server/fakestorage"
	"github.com/parquet-go/parquet-go"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/staging"
	"github.com/shp-dev/shp/internal/warehouse"
	"github.com/shp-dev/shp/internal/warehouse/duckdb"
)

// directDuck is DuckDB posing as a warehouse that loads uncompressed CSV
// objects from gs:// itself: it records the specs it is given and reads
// such an object through the spec's Open, as BigQuery's fallback does.
type directDuck struct {
	*duckdb.Warehouse
	specs []warehouse.LoadSpec
	bytes map[string][]byte // what OpenData gave, by object key
}

func (d *directDuck) LoadsDirect(uri string, f format.Format, c format.Compression) bool {
	return strings.HasPrefix(uri, "gs://") && (f == format.CSV || f == format.JSONL || f == format.Parquet && c == format.None)
}

func (d *directDuck) Stage(ctx context.Context, spec warehouse.LoadSpec) (*warehouse.Staged, error) {
	d.specs = append(d.specs, spec)
	if spec.Path == "" {
		stored, err := readAll(spec.Open(ctx))
		if err != nil {
			return nil, err
		}
		d.bytes[spec.ObjectKey] = stored
		b, err := readAll(spec.OpenData(ctx))
		if err != nil {
			return nil, err
		}
		spec.Compression = format.None
		spec.Path = filepath.Join(os.TempDir(), "shp-direct-"+filepath.Base(spec.ObjectKey))
		if err := os.WriteFile(spec.Path, b, 0o600); err != nil {
			return nil, err
		}
		defer os.Remove(spec.Path)
	}
	return d.Warehouse.Stage(ctx, spec)
}

// readAll reads what an opener gives and closes it.
func readAll(r io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(r)
}

// TestDirectLoaderIsGivenTheStagedURI runs a pipeline staging into gs://
// with a warehouse that loads from there: an uncompressed CSV object
// reaches it as a URI with shp's record count, whether every byte is
// UTF-8 (decompressed), and a way to stream it (never downloaded
// beforehand), a JSON Lines object with shp's profile of its members, a
// Parquet object with random access for its footer; a JSON array,
// which it does not load, arrives as a local file.
func TestDirectLoaderIsGivenTheStagedURI(t *testing.T) {
	ctx := context.Background()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("id,name,amount\n5,e,5\n"))
	zw.Close()
	var gzLatin bytes.Buffer
	zw = gzip.NewWriter(&gzLatin)
	zw.Write([]byte("id,name,amount\n11,caf\xe9,11\n"))
	zw.Close()
	type pqRow struct {
		ID     int64   `parquet:"id"`
		Name   string  `parquet:"name"`
		Amount float64 `parquet:"amount"`
	}
	var pq bytes.Buffer
	if err := parquet.Write(&pq, []pqRow{{9, "i", 9}, {10, "j", 10}}); err != nil {
		t.Fatal(err)
	}
	objects := map[string][]byte{
		"in/g.parquet": pq.Bytes(),
		"in/a.csv":     []byte("id,name,amount\n1,a,1.5\n2,\"b\nc\",bad\n"),
		"in/b.csv":     []byte("id,name,amount\n3,caf\xe9,3\n"), // Latin-1
		"in/c.csv":     []byte("id,name,amount\n4,\xc3\xa9t\xc3\xa9,4\n"),
		"in/d.csv.gz":  gz.Bytes(),
		"in/h.csv.gz":  gzLatin.Bytes(),
		"in/k.json":    []byte(`[{"id":12,"name":"k","amount":12}]`),
		"in/e.jsonl":   []byte(`{"id":6,"name":"f","amount":6.50}` + "\n" + `[7]` + "\n" + `{"amount":"8","id":8,"note":null}` + "\n"),
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{Scheme: "http", Host: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	for k, b := range objects {
		srv.CreateObject(fakestorage.Object{ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "landing", Name: k}, Content: b})
	}
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "shp-staging"})
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: g\nstaging:\n  url: gs://shp-staging/raw?endpoint="+
		url.QueryEscape(srv.URL())+"\ndefaults:\n  max_quarantine_ratio: 1\npipelines:\n  sales:\n    source: landing\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  landing:\n    type: gcs\n    bucket: landing\n    path: in/\n    endpoint: "+srv.URL()+"\n"), 0o644)
	proj, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	duck, err := duckdb.Open(ctx, warehouse.Options{Path: filepath.Join(dir, "w.duckdb")})
	if err != nil {
		t.Fatal(err)
	}
	defer duck.Close()
	wh := &directDuck{Warehouse: duck, bytes: map[string][]byte{}}
	r := projectRunner(t, proj, wh)
	res, err := r.Run(ctx, "sales", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.RowsIn != 12 || res.Loaded+res.Quarantined != 12 {
		for _, o := range res.Objects {
			t.Logf("%s: %d in, dup of %q", o.Key, o.RowsIn, o.DuplicateOf)
		}
		t.Fatalf("result: %d in, %d loaded, %d quarantined", res.RowsIn, res.Loaded, res.Quarantined)
	}
	want := map[string]struct {
		direct  bool
		records int64
		utf8    bool
	}{
		"in/a.csv": {true, 2, true}, "in/b.csv": {true, 1, false}, "in/c.csv": {true, 1, true},
		"in/d.csv.gz": {true, 1, true}, "in/h.csv.gz": {true, 1, false}, "in/k.json": {false, 0, false},
		"in/e.jsonl": {true, 3, true}, "in/g.parquet": {true, 2, utf8.Valid(pq.Bytes())},
	}
	if len(wh.specs) != len(want) {
		t.Fatalf("%d objects staged, want %d", len(wh.specs), len(want))
	}
	for _, spec := range wh.specs {
		w := want[spec.ObjectKey]
		key, _ := staging.SafeKey("sales", res.RunID, spec.ObjectKey)
		if !w.direct {
			if spec.URI != "" || spec.Path == "" {
				t.Errorf("%s: URI %q, path %q: want a local file", spec.ObjectKey, spec.URI, spec.Path)
			}
			continue
		}
		if spec.URI != "gs://shp-staging/raw/"+key || spec.Path != "" {
			t.Errorf("%s: URI %q, path %q", spec.ObjectKey, spec.URI, spec.Path)
		}
		if spec.Records != w.records || spec.UTF8 != w.utf8 {
			t.Errorf("%s: records %d, UTF-8 %v; want %d, %v", spec.ObjectKey, spec.Records, spec.UTF8, w.records, w.utf8)
		}
		if spec.Format == format.Parquet {
			// Its footer is read by ranges, not by fetching it whole.
			ra, size, err := spec.OpenAt(ctx)
			if err != nil || size != int64(len(objects[spec.ObjectKey])) {
				t.Fatalf("%s: OpenAt: size %d, %v", spec.ObjectKey, size, err)
			}
			if n, err := format.ParquetRowCount(ra, size); err != nil || n != 2 {
				t.Errorf("%s: footer through OpenAt: %d rows, %v", spec.ObjectKey, n, err)
			}
		} else if spec.OpenAt == nil {
			t.Errorf("%s: no OpenAt", spec.ObjectKey)
		}
		if spec.Format == format.JSONL {
			// The copy profiled the two objects among its three records.
			p := spec.Profile
			if p == nil || p.Records != 2 || len(p.Members) != 4 || p.Members[0].Name != "id" || p.Members[3].Name != "note" ||
				p.Members[0].Values != 2 || !p.Members[2].Floats || !p.Members[2].Strings || p.Members[3].Values != 0 {
				t.Errorf("%s: profile %+v", spec.ObjectKey, p)
			}
		} else if spec.Profile != nil {
			t.Errorf("%s: a CSV object profiled", spec.ObjectKey)
		}
		if !bytes.Equal(wh.bytes[spec.ObjectKey], objects[spec.ObjectKey]) {
			t.Errorf("%s: Open streamed %q", spec.ObjectKey, wh.bytes[spec.ObjectKey])
		}
	}
}

// TestUTF8Watch feeds text in pieces that split characters anywhere.
func TestUTF8Watch(t *testing.T) {
	tests := []struct {
		name string
		text string
		want bool
	}{
		{"ascii", "id,name\n1,a\n", true},
		{"two, three and four bytes", "é,€,𝄞\n", true},
		{"Latin-1", "caf\xe9\n", false},
		{"a lone continuation byte", "a\x80b", false},
		{"cut short at the end", "ab\xe2\x82", false},
		{"an overlong encoding", "\xc0\xaf", false},
		{"empty", "", true},
	}
	for _, tt := range tests {
		for size := 1; size <= 5; size++ {
			var u utf8Watch
			for i := 0; i < len(tt.text); i += size {
				u.Write([]byte(tt.text[i:min(i+size, len(tt.text))]))
			}
			if got := u.valid(); got != tt.want {
				t.Errorf("%s in pieces of %d: valid %v, want %v", tt.name, size, got, tt.want)
			}
		}
	}
}
