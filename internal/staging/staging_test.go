package staging

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

// newFakeGCS starts an in-process Cloud Storage emulator listening on a
// loopback port, with the given buckets.
func newFakeGCS(t *testing.T, buckets ...string) *fakestorage.Server {
	t.Helper()
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme:     "http",
		Host:       "127.0.0.1",
		NoListener: false,
		// XML API downloads (used without WithGCSEndpoint) address the
		// server by host name.
		PublicHost: "127.0.0.1",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	for _, b := range buckets {
		srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: b})
	}
	return srv
}

type backend struct {
	name string
	open func(t *testing.T) *Bucket
	// object returns the content stored for key, or false, bypassing Bucket.
	object func(t *testing.T, key string) ([]byte, bool)
}

func mustOpen(t *testing.T, rawURL string, opts ...Option) *Bucket {
	t.Helper()
	b, err := Open(context.Background(), rawURL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = b.Close() })
	return b
}

func backends(t *testing.T) []backend {
	dir := filepath.Join(t.TempDir(), "not", "yet", "there")
	srv := newFakeGCS(t, "stage")
	host := strings.TrimPrefix(srv.URL(), "http://")
	gcsObject := func(prefix string) func(t *testing.T, key string) ([]byte, bool) {
		return func(t *testing.T, key string) ([]byte, bool) {
			o, err := srv.GetObject("stage", prefix+key)
			if err != nil {
				return nil, false
			}
			return o.Content, true
		}
	}
	var mem *Bucket
	return []backend{
		{
			name: "file",
			open: func(t *testing.T) *Bucket { return mustOpen(t, "file://"+filepath.ToSlash(dir)) },
			object: func(t *testing.T, key string) ([]byte, bool) {
				b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
				return b, err == nil
			},
		},
		{
			name: "mem",
			open: func(t *testing.T) *Bucket { mem = mustOpen(t, "mem://x/scope"); return mem },
			object: func(t *testing.T, key string) ([]byte, bool) {
				b, err := mem.Blob().ReadAll(context.Background(), key)
				return b, err == nil
			},
		},
		{
			name: "gcs endpoint option",
			open: func(t *testing.T) *Bucket {
				return mustOpen(t, "gs://stage", WithGCSEndpoint(srv.URL()), WithTempDir(t.TempDir()))
			},
			object: gcsObject(""),
		},
		{
			name:   "gcs endpoint query with prefix",
			open:   func(t *testing.T) *Bucket { return mustOpen(t, "gs://stage/runs/a/?endpoint="+url.QueryEscape(host)) },
			object: gcsObject("runs/a/"),
		},
		{
			name: "gcs STORAGE_EMULATOR_HOST",
			open: func(t *testing.T) *Bucket {
				t.Setenv("STORAGE_EMULATOR_HOST", host)
				return mustOpen(t, "gs://stage/env")
			},
			object: gcsObject("env/"),
		},
	}
}

func TestBucket(t *testing.T) {
	ctx := context.Background()
	fixture, err := os.ReadFile(filepath.Join("testdata", "orders.csv"))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 3<<20+17)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			tests := []struct {
				key  string
				data []byte
			}{
				{key: "orders.csv", data: fixture},
				{key: "p1/run-1/sales/2024/orders.csv.gz", data: big},
				{key: "p1/empty.json", data: nil},
				{key: "p1/spaces and ünïcode.csv", data: []byte("x\n")},
			}
			for _, tt := range tests {
				t.Run(tt.key, func(t *testing.T) {
					n, err := b.Put(ctx, tt.key, iotest.HalfReader(bytes.NewReader(tt.data)))
					if err != nil {
						t.Fatal(err)
					}
					if n != int64(len(tt.data)) {
						t.Fatalf("Put wrote %d bytes, want %d", n, len(tt.data))
					}
					if got, ok := be.object(t, tt.key); !ok || !bytes.Equal(got, tt.data) {
						t.Fatalf("stored object: found %t, %d bytes; want %d", ok, len(got), len(tt.data))
					}
					ok, err := b.Exists(ctx, tt.key)
					if err != nil || !ok {
						t.Fatalf("Exists = %t, %v", ok, err)
					}
					r, err := b.Open(ctx, tt.key)
					if err != nil {
						t.Fatal(err)
					}
					got, err := io.ReadAll(r)
					if err != nil || r.Close() != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(got, tt.data) {
						t.Fatalf("Open read %d bytes, want %d", len(got), len(tt.data))
					}
					path, release, err := b.LocalPath(ctx, tt.key)
					if err != nil {
						t.Fatal(err)
					}
					if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, tt.data) {
						t.Fatalf("LocalPath file: %d bytes, %v", len(got), err)
					}
					if !strings.HasSuffix(path, filepath.Base(tt.key)) {
						t.Errorf("LocalPath %q lost the object's extension", path)
					}
					release()
					release()
					if err := b.Delete(ctx, tt.key); err != nil {
						t.Fatal(err)
					}
					if ok, err := b.Exists(ctx, tt.key); err != nil || ok {
						t.Fatalf("after Delete: Exists = %t, %v", ok, err)
					}
				})
			}
			t.Run("overwrite", func(t *testing.T) {
				for _, s := range []string{"first", "second"} {
					if _, err := b.Put(ctx, "k", strings.NewReader(s)); err != nil {
						t.Fatal(err)
					}
				}
				if got, _ := be.object(t, "k"); string(got) != "second" {
					t.Fatalf("got %q", got)
				}
			})
			t.Run("failed put leaves the old object", func(t *testing.T) {
				if _, err := b.Put(ctx, "keep", strings.NewReader("old")); err != nil {
					t.Fatal(err)
				}
				boom := errors.New("boom")
				src := io.MultiReader(bytes.NewReader(big[:1<<20]), iotest.ErrReader(boom))
				if _, err := b.Put(ctx, "keep", src); !errors.Is(err, boom) || !strings.Contains(err.Error(), `"keep"`) {
					t.Fatalf("error = %v, want boom naming the key", err)
				}
				if got, _ := be.object(t, "keep"); string(got) != "old" {
					t.Fatalf("object is %d bytes after a failed put, want the old one", len(got))
				}
			})
			t.Run("failed put creates nothing", func(t *testing.T) {
				boom := errors.New("boom")
				if _, err := b.Put(ctx, "never", iotest.ErrReader(boom)); !errors.Is(err, boom) {
					t.Fatalf("error = %v, want boom", err)
				}
				cctx, cancel := context.WithCancel(ctx)
				cancel()
				if _, err := b.Put(cctx, "never", strings.NewReader("data")); !errors.Is(err, context.Canceled) {
					t.Fatalf("error = %v, want context.Canceled", err)
				}
				if _, ok := be.object(t, "never"); ok {
					t.Fatal("an aborted put left an object")
				}
			})
			t.Run("missing object", func(t *testing.T) {
				if _, err := b.Open(ctx, "missing.csv"); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), `"missing.csv"`) {
					t.Fatalf("Open error = %v, want fs.ErrNotExist naming the key", err)
				}
				path, release, err := b.LocalPath(ctx, "missing.csv")
				if !errors.Is(err, fs.ErrNotExist) || path != "" || release == nil {
					t.Fatalf("LocalPath = %q, %v", path, err)
				}
				release()
				if err := b.Delete(ctx, "missing.csv"); err != nil {
					t.Fatalf("Delete of a missing object: %v", err)
				}
			})
			t.Run("unsafe keys", func(t *testing.T) {
				for _, key := range []string{"", "../x", "/abs", "a//b", "a/./b"} {
					if _, err := b.Put(ctx, key, strings.NewReader("x")); !errors.Is(err, ErrUnsafeKey) {
						t.Errorf("Put(%q) error = %v", key, err)
					}
					if _, err := b.Open(ctx, key); !errors.Is(err, ErrUnsafeKey) {
						t.Errorf("Open(%q) error = %v", key, err)
					}
					if _, err := b.Exists(ctx, key); !errors.Is(err, ErrUnsafeKey) {
						t.Errorf("Exists(%q) error = %v", key, err)
					}
					if _, _, err := b.LocalPath(ctx, key); !errors.Is(err, ErrUnsafeKey) {
						t.Errorf("LocalPath(%q) error = %v", key, err)
					}
					if err := b.Delete(ctx, key); !errors.Is(err, ErrUnsafeKey) {
						t.Errorf("Delete(%q) error = %v", key, err)
					}
				}
			})
		})
	}
}

func TestFileBucket(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "staging")
	b := mustOpen(t, "file://"+filepath.ToSlash(dir))
	if b.URL() != "file://"+filepath.ToSlash(dir) {
		t.Fatalf("URL() = %q", b.URL())
	}
	if _, err := b.Put(ctx, "p/run/a.csv", strings.NewReader("a\n")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if _, err := b.Put(ctx, "p/run/b.csv", io.MultiReader(strings.NewReader("partial"), iotest.ErrReader(boom))); !errors.Is(err, boom) {
		t.Fatal(err)
	}
	// Only the committed object: no .attrs sidecars, no temporary files.
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(files, ",") != "p/run/a.csv" {
		t.Fatalf("files in the bucket directory: %q", files)
	}
	path, release, err := b.LocalPath(ctx, "p/run/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	release()
	if path != filepath.Join(dir, "p", "run", "a.csv") {
		t.Fatalf("LocalPath = %q, want the object's own file", path)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("release removed the object's own file: %v", err)
	}
}

func TestFileBucketRelative(t *testing.T) {
	t.Chdir(t.TempDir())
	b := mustOpen(t, "file://./rel/stage")
	if _, err := b.Put(context.Background(), "k.csv", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("rel", "stage", "k.csv")); err != nil {
		t.Fatal(err)
	}
}

func TestLocalPathTempDir(t *testing.T) {
	ctx := context.Background()
	tmp := t.TempDir()
	b := mustOpen(t, "mem://", WithTempDir(tmp))
	if _, err := b.Put(ctx, "run/x.parquet", strings.NewReader("PAR1")); err != nil {
		t.Fatal(err)
	}
	path, release, err := b.LocalPath(ctx, "run/x.parquet")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(path) != tmp || !strings.HasSuffix(path, "x.parquet") {
		t.Fatalf("LocalPath = %q, want x.parquet in %q", path, tmp)
	}
	release()
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("release left %q: %v", path, err)
	}
	// A temp dir that does not exist fails cleanly.
	b2 := mustOpen(t, "mem://", WithTempDir(filepath.Join(tmp, "missing")))
	if _, err := b2.Put(ctx, "k", strings.NewReader("x")); err != nil {
		t.Fatal(err)
	}
	if _, release, err := b2.LocalPath(ctx, "k"); err == nil || release == nil {
		t.Fatalf("LocalPath into a missing temp dir: %v", err)
	}
	// A cancelled download leaves no file behind.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := b.LocalPath(cctx, "run/x.parquet"); err == nil {
		t.Fatal("LocalPath with a cancelled context succeeded")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Fatalf("temp dir holds %d files", len(entries))
	}
}

func TestOpenErrors(t *testing.T) {
	// Never look for Application Default Credentials (and the GCE metadata
	// server) from a test.
	t.Setenv("STORAGE_EMULATOR_HOST", "127.0.0.1:1")
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		url     string
		wantErr string
	}{
		{url: "s3://bucket", wantErr: `unsupported scheme "s3"`},
		{url: "bucket/dir", wantErr: `unsupported scheme ""`},
		{url: "://bad", wantErr: "missing protocol scheme"},
		{url: "gs:///prefix", wantErr: "no bucket name"},
		{url: "file://" + filepath.ToSlash(file), wantErr: "not a directory"},
		{url: "file:///tmp/x?bogus=1", wantErr: "bogus"},
		{url: "file://data/staging", wantErr: `no host "data"`},
		{url: "gs://b?endpoint=http://127.0.0.1:1&bogus=1", wantErr: "bogus"},
		{url: "gs://b?bogus=1", wantErr: "bogus"},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			b, err := Open(context.Background(), tt.url)
			if err == nil {
				b.Close()
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), tt.url) {
				t.Fatalf("Open(%q) error = %v, want %q naming the URL", tt.url, err, tt.wantErr)
			}
		})
	}
}

func TestGCSEndpoint(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:4443", "http://127.0.0.1:4443/storage/v1/"},
		{"http://127.0.0.1:4443/", "http://127.0.0.1:4443/storage/v1/"},
		{"localhost:4443", "http://localhost:4443/storage/v1/"},
		{"https://gcs.example/storage/v1/", "https://gcs.example/storage/v1/"},
		{"https://gcs.example/storage/v1", "https://gcs.example/storage/v1/"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := GCSEndpoint(tt.in); got != tt.want {
				t.Fatalf("GCSEndpoint(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestGCSMissingBucket(t *testing.T) {
	srv := newFakeGCS(t)
	b := mustOpen(t, "gs://nope", WithGCSEndpoint(srv.URL()))
	_, err := b.Put(context.Background(), "k", strings.NewReader("x"))
	if err == nil || !strings.Contains(err.Error(), "gs://nope") {
		t.Fatalf("Put into a missing bucket: %v", err)
	}
}

func TestCloseTwice(t *testing.T) {
	b, err := Open(context.Background(), "mem://")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err == nil || !strings.Contains(err.Error(), "mem://") {
		t.Fatalf("second Close: %v", err)
	}
}

func TestSafeKey(t *testing.T) {
	tests := []struct {
		parts   []string
		want    string
		wantErr string
	}{
		{parts: []string{"pipe", "run-1", "sales/2024/a.csv"}, want: "pipe/run-1/sales/2024/a.csv"},
		{parts: []string{"a"}, want: "a"},
		{parts: []string{"ünï code", "x y.csv"}, want: "ünï code/x y.csv"},
		{parts: []string{"a..b", ".hidden", "c:d"}, want: "a..b/.hidden/c:d"},
		{parts: nil, wantErr: "no parts"},
		{parts: []string{"p", ""}, wantErr: "part 2 \"\": unsafe object key: empty"},
		{parts: []string{"p", "../etc/passwd"}, wantErr: `".." segment`},
		{parts: []string{"p", "a/../../b"}, wantErr: `".." segment`},
		{parts: []string{"p", `..\windows`}, wantErr: `".." segment`},
		{parts: []string{"p", "./a"}, wantErr: `"." segment`},
		{parts: []string{"p", "/etc/passwd"}, wantErr: "absolute"},
		{parts: []string{"p", `\share`}, wantErr: "absolute"},
		{parts: []string{"p", "a//b"}, wantErr: "empty path segment"},
		{parts: []string{"p", "dir/"}, wantErr: "empty path segment"},
		{parts: []string{"p", "a\nb"}, wantErr: "control character"},
		{parts: []string{"p", "a\x7f"}, wantErr: "control character"},
		{parts: []string{"p", "\xff"}, wantErr: "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.parts, "|"), func(t *testing.T) {
			got, err := SafeKey(tt.parts...)
			if tt.wantErr != "" {
				if !errors.Is(err, ErrUnsafeKey) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("SafeKey(%q) error = %v, want %q", tt.parts, err, tt.wantErr)
				}
				func() {
					defer func() {
						if recover() == nil {
							t.Fatalf("ObjectKey(%q) did not panic", tt.parts)
						}
					}()
					ObjectKey(tt.parts...)
				}()
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("SafeKey(%q) = %q, %v; want %q", tt.parts, got, err, tt.want)
			}
			if ok := ObjectKey(tt.parts...); ok != tt.want {
				t.Fatalf("ObjectKey = %q", ok)
			}
		})
	}
}

// TestObjectURI checks the gs:// URI a load job is given: the bucket's
// prefix before the key, nothing for other buckets or unsafe keys.
func TestObjectURI(t *testing.T) {
	srv := newFakeGCS(t)
	tests := []struct{ url, key, want string }{
		{"gs://stage?endpoint=" + srv.URL(), "p/run-1/a.csv", "gs://stage/p/run-1/a.csv"},
		{"gs://stage/raw/deep/", "p/a b.csv", "gs://stage/raw/deep/p/a b.csv"},
		{"gs://stage/raw", "../x.csv", ""},
		{"mem://m/raw", "p/a.csv", ""},
		{"file://" + t.TempDir(), "p/a.csv", ""},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.key, func(t *testing.T) {
			b := mustOpen(t, tt.url, WithGCSEndpoint(srv.URL()))
			if got := b.ObjectURI(tt.key); got != tt.want {
				t.Fatalf("ObjectURI(%q) = %q, want %q", tt.key, got, tt.want)
			}
		})
	}
}

// TestOpenAt reads a stored object by ranges on every backend: reads
// inside, across and past its end, and the errors of a missing object,
// a bad key and a negative offset.
func TestOpenAt(t *testing.T) {
	ctx := context.Background()
	data := []byte("0123456789abcdefghij")
	for _, be := range backends(t) {
		t.Run(be.name, func(t *testing.T) {
			b := be.open(t)
			if _, err := b.Put(ctx, "p/obj", bytes.NewReader(data)); err != nil {
				t.Fatal(err)
			}
			r, err := b.OpenAt(ctx, "p/obj")
			if err != nil {
				t.Fatal(err)
			}
			if r.Size() != int64(len(data)) {
				t.Fatalf("size %d, want %d", r.Size(), len(data))
			}
			tests := []struct {
				off, n int
				want   string
				eof    bool
			}{
				{0, 4, "0123", false},
				{10, 10, "abcdefghij", false},
				{16, 8, "ghij", true},
				{20, 1, "", true},
				{25, 1, "", true},
			}
			for _, tt := range tests {
				p := make([]byte, tt.n)
				n, err := r.ReadAt(p, int64(tt.off))
				if string(p[:n]) != tt.want || (err == io.EOF) != tt.eof || (err != nil && err != io.EOF) {
					t.Errorf("ReadAt(%d bytes at %d) = %q, %v; want %q, EOF %v", tt.n, tt.off, p[:n], err, tt.want, tt.eof)
				}
			}
			if _, err := r.ReadAt(make([]byte, 1), -1); err == nil || !strings.Contains(err.Error(), "p/obj") {
				t.Errorf("negative offset: %v", err)
			}
			if _, err := b.OpenAt(ctx, "p/missing"); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("missing object: %v", err)
			}
			if _, err := b.OpenAt(ctx, "../escape"); err == nil {
				t.Error("a key leaving the bucket was opened")
			}
		})
	}
}
