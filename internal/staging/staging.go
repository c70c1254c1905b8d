// Package staging is the blob store where shp keeps the raw inputs of every
// run, so a run can be replayed. It wraps a gocloud.dev/blob bucket opened
// from a URL: file:// (a local directory), mem:// (in memory, for tests) or
// gs:// (Google Cloud Storage, or an emulator).
package staging

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/gcsblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/option"
)

// Bucket is an opened staging bucket. Its methods are safe for concurrent
// use.
type Bucket struct {
	url     string
	b       *blob.Bucket
	local   bool   // objects are files on this machine (file://)
	gsBase  string // gs://bucket/prefix/ for a Cloud Storage bucket, else ""
	tempDir string
	closers []func() error
}

// Option changes how Open opens a bucket.
type Option func(*options)

type options struct {
	gcsEndpoint string
	tempDir     string
}

// WithGCSEndpoint points gs:// buckets at a Cloud Storage emulator (such as
// fake-gcs-server) or another JSON API endpoint, e.g.
// "http://127.0.0.1:4443"; "/storage/v1/" is added when missing and a URL
// without a scheme gets http://. With an endpoint the client sends no
// credentials and downloads through the JSON API. An empty endpoint is
// ignored: gs:// buckets then use Application Default Credentials, or the
// STORAGE_EMULATOR_HOST environment variable when it is set.
func WithGCSEndpoint(endpoint string) Option {
	return func(o *options) { o.gcsEndpoint = endpoint }
}

// WithTempDir sets the directory where LocalPath downloads objects of remote
// buckets; the default is os.TempDir().
func WithTempDir(dir string) Option {
	return func(o *options) { o.tempDir = dir }
}

// Open opens the bucket at rawURL:
//
//   - file:///abs/dir or file://./rel/dir: a directory, created if missing.
//     Objects are plain files (no .attrs sidecars); each is written to a
//     temporary file beside its final path and renamed into place.
//   - mem://[name][/prefix]: a new, empty in-memory bucket.
//   - gs://bucket[/prefix]: a Cloud Storage bucket, through gocloud's
//     gcsblob driver. The only query parameter, endpoint=URL, does what
//     WithGCSEndpoint does.
//
// A mem:// or gs:// prefix scopes every key of the bucket (keys are stored
// under prefix + "/" + key); a file:// path is the directory itself.
func Open(ctx context.Context, rawURL string, opts ...Option) (*Bucket, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("staging bucket %q: %w", rawURL, err)
	}
	bk := &Bucket{url: rawURL, tempDir: o.tempDir}
	prefix := strings.Trim(u.Path, "/")
	switch u.Scheme {
	case fileblob.Scheme:
		if u.Host != "" && u.Host != "." && u.Host != "localhost" {
			return nil, fmt.Errorf("staging bucket %q: a file URL has no host %q; write file:///abs/dir or file://./rel/dir", rawURL, u.Host)
		}
		opener := &fileblob.URLOpener{Options: fileblob.Options{
			CreateDir: true,
			Metadata:  fileblob.MetadataDontWrite,
			NoTempDir: true, // rename within the directory: os.TempDir may be another file system
		}}
		bk.b, err = opener.OpenBucketURL(ctx, u)
		bk.local = true
		prefix = ""
	case memblob.Scheme:
		bk.b = memblob.OpenBucket(nil)
	case gcsblob.Scheme:
		bk.b, err = bk.openGCS(ctx, u, o)
	default:
		return nil, fmt.Errorf("staging bucket %q: unsupported scheme %q (want file, mem or gs)", rawURL, u.Scheme)
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("staging bucket %q: %w", rawURL, err), bk.closeAll())
	}
	if prefix != "" {
		bk.b = blob.PrefixedBucket(bk.b, prefix+"/")
	}
	if u.Scheme == gcsblob.Scheme {
		bk.gsBase = "gs://" + u.Host + "/"
		if prefix != "" {
			bk.gsBase += prefix + "/"
		}
	}
	return bk, nil
}

// ObjectURI returns the gs:// URI of a key in a Cloud Storage bucket
// (with the bucket's prefix), which a warehouse's load job can read
// itself; "" for other buckets or an unsafe key.
func (bk *Bucket) ObjectURI(key string) string {
	if bk.gsBase == "" || checkKey(key) != nil {
		return ""
	}
	return bk.gsBase + key
}

// GCSEndpoint returns the JSON API base URL for a user-given emulator
// endpoint: http:// is added when there is no scheme, and /storage/v1/ when
// the path does not already end with it.
func GCSEndpoint(endpoint string) string {
	if !strings.Contains(endpoint, "://") {
		endpoint = "http://" + endpoint
	}
	endpoint = strings.TrimRight(endpoint, "/")
	if !strings.HasSuffix(endpoint, "/storage/v1") {
		endpoint += "/storage/v1"
	}
	return endpoint + "/"
}

func (bk *Bucket) openGCS(ctx context.Context, u *url.URL, o options) (*blob.Bucket, error) {
	if u.Host == "" {
		return nil, errors.New("no bucket name")
	}
	q := u.Query()
	endpoint := o.gcsEndpoint
	if e := q.Get("endpoint"); e != "" {
		endpoint = e
	}
	q.Del("endpoint")
	if len(q) > 0 {
		return nil, fmt.Errorf("unsupported query parameters %q (only endpoint is)", q.Encode())
	}
	// The client is built here rather than by gcsblob's URL opener, which
	// prints a warning to stdout when Application Default Credentials are
	// missing. storage.NewClient honours STORAGE_EMULATOR_HOST itself.
	var copts []option.ClientOption
	if endpoint != "" {
		copts = append(copts,
			option.WithEndpoint(GCSEndpoint(endpoint)),
			option.WithoutAuthentication(),
			storage.WithJSONReads(), // emulators serve the XML API under another host name
		)
	}
	client, err := storage.NewClient(ctx, copts...)
	if err != nil {
		return nil, fmt.Errorf("storage client: %w", err)
	}
	bk.closers = append(bk.closers, client.Close)
	return gcsblob.OpenBucket(ctx, nil, u.Host, &gcsblob.Options{Client: client})
}

// URL returns the URL the bucket was opened with.
func (bk *Bucket) URL() string { return bk.url }

// Blob returns the underlying gocloud bucket, for listings and driver
// specific attributes. It is closed by Close; do not close it yourself.
func (bk *Bucket) Blob() *blob.Bucket { return bk.b }

// Put streams r into the object key and returns the bytes written. The
// object appears only once all of r was written; if reading r, writing or
// ctx fails, the write is aborted and no object (or the previous one)
// remains.
func (bk *Bucket) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if err := checkKey(key); err != nil {
		return 0, bk.errorf("put", key, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := bk.b.NewWriter(wctx, key, nil)
	if err != nil {
		return 0, bk.errorf("put", key, err)
	}
	n, err := io.Copy(w, &ctxReader{ctx: ctx, r: r})
	if err != nil {
		cancel() // the writer discards what it has: nothing is committed
		_ = w.Close()
		return n, bk.errorf("put", key, err)
	}
	if err := w.Close(); err != nil {
		return n, bk.errorf("put", key, err)
	}
	return n, nil
}

// Writer writes one object that appears only when Commit succeeds.
type Writer struct {
	w      io.WriteCloser
	buf    *bufio.Writer // writers send many small writes (a row each)
	cancel context.CancelFunc
	n      int64
	bk     *Bucket
	key    string
}

// Create starts writing the object key. Nothing is visible until Commit;
// Abort (or a failed Commit) leaves no object.
func (bk *Bucket) Create(ctx context.Context, key string) (*Writer, error) {
	if err := checkKey(key); err != nil {
		return nil, bk.errorf("create", key, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	w, err := bk.b.NewWriter(wctx, key, nil)
	if err != nil {
		cancel()
		return nil, bk.errorf("create", key, err)
	}
	return &Writer{w: w, buf: bufio.NewWriterSize(w, 1<<20), cancel: cancel, bk: bk, key: key}, nil
}

// Write writes to the object.
func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.buf.Write(p)
	w.n += int64(n)
	if err != nil {
		return n, w.bk.errorf("write", w.key, err)
	}
	return n, nil
}

// Written is the number of bytes written so far.
func (w *Writer) Written() int64 { return w.n }

// Commit makes the object visible.
func (w *Writer) Commit() error {
	defer w.cancel()
	if err := w.buf.Flush(); err != nil {
		w.cancel()
		_ = w.w.Close()
		return w.bk.errorf("commit", w.key, err)
	}
	if err := w.w.Close(); err != nil {
		return w.bk.errorf("commit", w.key, err)
	}
	return nil
}

// Abort throws the object away.
func (w *Writer) Abort() {
	w.cancel()
	_ = w.w.Close()
}

// ctxReader stops reading once its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

// Read reads from the wrapped reader unless the context is done.
func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// Open opens the object key for reading. A missing object is an error that
// matches fs.ErrNotExist.
func (bk *Bucket) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := checkKey(key); err != nil {
		return nil, bk.errorf("open", key, err)
	}
	r, err := bk.b.NewReader(ctx, key, nil)
	if err != nil {
		return nil, bk.errorf("open", key, err)
	}
	return r, nil
}

// ReaderAt is random access to a stored object, each read a ranged
// request: for a Parquet footer, without fetching the whole object.
type ReaderAt struct {
	ctx  context.Context
	bk   *Bucket
	key  string
	size int64
}

// OpenAt opens the object key for random access; reads use ctx.
func (bk *Bucket) OpenAt(ctx context.Context, key string) (*ReaderAt, error) {
	if err := checkKey(key); err != nil {
		return nil, bk.errorf("open", key, err)
	}
	a, err := bk.b.Attributes(ctx, key)
	if err != nil {
		return nil, bk.errorf("open", key, err)
	}
	return &ReaderAt{ctx: ctx, bk: bk, key: key, size: a.Size}, nil
}

// Size is the object's length in bytes.
func (r *ReaderAt) Size() int64 { return r.size }

// ReadAt implements io.ReaderAt with one ranged read.
func (r *ReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 {
		return 0, r.bk.errorf("read", r.key, fmt.Errorf("negative offset %d", off))
	}
	if off >= r.size {
		return 0, io.EOF
	}
	n := int64(len(p))
	if off+n > r.size {
		n = r.size - off
	}
	rr, err := r.bk.b.NewRangeReader(r.ctx, r.key, off, n, nil)
	if err != nil {
		return 0, r.bk.errorf("read", r.key, err)
	}
	defer rr.Close()
	got, err := io.ReadFull(rr, p[:n])
	if err != nil {
		return got, r.bk.errorf("read", r.key, err)
	}
	if got < len(p) {
		return got, io.EOF
	}
	return got, nil
}

// Exists reports whether the object key exists.
func (bk *Bucket) Exists(ctx context.Context, key string) (bool, error) {
	if err := checkKey(key); err != nil {
		return false, bk.errorf("stat", key, err)
	}
	ok, err := bk.b.Exists(ctx, key)
	if err != nil {
		return false, bk.errorf("stat", key, err)
	}
	return ok, nil
}

// LocalPath returns a path on this machine holding the object's bytes. For
// file:// buckets it is the object's own file, and release does nothing;
// do not modify the file. Otherwise the object is downloaded to a temporary
// file (in the WithTempDir directory) that release removes. release is
// never nil and may be called more than once.
func (bk *Bucket) LocalPath(ctx context.Context, key string) (path string, release func(), err error) {
	noop := func() {}
	if err := checkKey(key); err != nil {
		return "", noop, bk.errorf("local copy of", key, err)
	}
	if bk.local {
		var f *os.File
		r, err := bk.b.NewReader(ctx, key, &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
			if !as(&f) {
				return errors.New("fileblob did not expose the file")
			}
			return nil
		}})
		if err != nil {
			return "", noop, bk.errorf("local path of", key, err)
		}
		name := f.Name()
		if err := r.Close(); err != nil {
			return "", noop, bk.errorf("local path of", key, err)
		}
		return name, noop, nil
	}
	tmp, err := os.CreateTemp(bk.tempDir, "shp-*-"+tempSuffix(key))
	if err != nil {
		return "", noop, bk.errorf("local copy of", key, err)
	}
	remove := func() { _ = os.Remove(tmp.Name()) }
	r, err := bk.Open(ctx, key)
	if err == nil {
		_, err = io.Copy(tmp, &ctxReader{ctx: ctx, r: r})
		err = errors.Join(err, r.Close())
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		remove()
		return "", noop, bk.errorf("local copy of", key, err)
	}
	return tmp.Name(), remove, nil
}

// tempSuffix keeps the object's base name (and so its extensions) in a
// temporary file name, without path separators.
func tempSuffix(key string) string {
	base := path.Base(key)
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator || r == '*' {
			return '_'
		}
		return r
	}, base)
}

// Delete removes the object key. Deleting a missing object is not an error.
func (bk *Bucket) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return bk.errorf("delete", key, err)
	}
	if err := bk.b.Delete(ctx, key); err != nil && gcerrors.Code(err) != gcerrors.NotFound {
		return bk.errorf("delete", key, err)
	}
	return nil
}

// Sweep deletes the objects under prefix ("pipeline/", say) last
// modified before cutoff,
// except those keep reports (keep may be nil), and returns how many it
// deleted. In a file:// bucket the directories it leaves empty go too.
// It stops at the first error, which names the object.
func (bk *Bucket) Sweep(ctx context.Context, prefix string, cutoff time.Time, keep func(key string) bool) (int, error) {
	if err := checkKey(strings.TrimSuffix(prefix, "/")); err != nil {
		return 0, bk.errorf("sweep", prefix, err)
	}
	var old []string
	it := bk.b.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("staging %s: list %q: %w", bk.url, prefix, err)
		}
		if !obj.IsDir && obj.ModTime.Before(cutoff) && (keep == nil || !keep(obj.Key)) {
			old = append(old, obj.Key)
		}
	}
	for i, key := range old {
		var dir string
		if bk.local {
			// The object's file, to find the directories above it.
			p, _, err := bk.LocalPath(ctx, key)
			if err != nil {
				return i, err
			}
			dir = strings.TrimSuffix(p, filepath.FromSlash(key))
		}
		if err := bk.Delete(ctx, key); err != nil {
			return i, err
		}
		if dir != "" {
			// Up to the bucket's own directory; os.Remove refuses a
			// directory that is not empty.
			for d := path.Dir(key); d != "." && d != "/"; d = path.Dir(d) {
				if os.Remove(filepath.Join(dir, filepath.FromSlash(d))) != nil {
					break
				}
			}
		}
	}
	return len(old), nil
}

// Close releases the bucket and its client.
func (bk *Bucket) Close() error {
	err := bk.b.Close()
	if err != nil {
		err = fmt.Errorf("close staging bucket %s: %w", bk.url, err)
	}
	return errors.Join(err, bk.closeAll())
}

func (bk *Bucket) closeAll() error {
	var errs []error
	for _, c := range bk.closers {
		errs = append(errs, c())
	}
	bk.closers = nil
	return errors.Join(errs...)
}

// errorf names the operation, bucket and key, and makes a missing object
// match fs.ErrNotExist.
func (bk *Bucket) errorf(op, key string, err error) error {
	if gcerrors.Code(err) == gcerrors.NotFound && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("staging %s %s object %q: %w: %w", bk.url, op, key, fs.ErrNotExist, err)
	}
	return fmt.Errorf("staging %s: %s object %q: %w", bk.url, op, key, err)
}

// ErrUnsafeKey is returned (wrapped) for a key or key part that could
// escape its place in the bucket or is not a valid object name.
var ErrUnsafeKey = errors.New("unsafe object key")

// SafeKey joins parts with "/" into an object key. Each part may hold "/"
// itself (an object name from a source); every segment must be non-empty,
// not "." or "..", valid UTF-8 without control characters, and no part may
// be absolute. A backslash counts as a separator for these checks, so a
// name like `..\x` is rejected on every system. Use it for keys built from untrusted names.
func SafeKey(parts ...string) (string, error) {
	if len(parts) == 0 {
		return "", fmt.Errorf("%w: no parts", ErrUnsafeKey)
	}
	for i, p := range parts {
		if err := checkKey(p); err != nil {
			return "", fmt.Errorf("key part %d %q: %w", i+1, p, err)
		}
	}
	return strings.Join(parts, "/"), nil
}

// ObjectKey is SafeKey for parts known to be safe; it panics on an unsafe
// part.
func ObjectKey(parts ...string) string {
	k, err := SafeKey(parts...)
	if err != nil {
		panic(err)
	}
	return k
}

// checkKey validates a key or key part; see SafeKey.
func checkKey(k string) error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty", ErrUnsafeKey)
	case !utf8.ValidString(k):
		return fmt.Errorf("%w: not valid UTF-8", ErrUnsafeKey)
	case k[0] == '/' || k[0] == '\\' || filepath.VolumeName(k) != "":
		return fmt.Errorf("%w: absolute", ErrUnsafeKey)
	}
	for _, r := range k {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("%w: control character %q", ErrUnsafeKey, r)
		}
	}
	for _, seg := range strings.Split(strings.ReplaceAll(k, "\\", "/"), "/") {
		switch seg {
		case "":
			return fmt.Errorf("%w: empty path segment", ErrUnsafeKey)
		case ".", "..":
			return fmt.Errorf("%w: %q segment", ErrUnsafeKey, seg)
		}
	}
	return nil
}
