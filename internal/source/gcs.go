package source

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"

	"cloud.google.com/go/storage"
	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"

	"github.com/shp-dev/shp/internal/staging"
)

// gcsSource lists the objects of a Cloud Storage bucket. It opens the
// bucket through internal/staging, which owns the client and emulator
// configuration.
type gcsSource struct {
	bucket *staging.Bucket
	url    string // gs://bucket/prefix, for messages
	prefix string // listing prefix
	base   string // the path's literal directories; hidden names are looked for below it
	glob   glob   // nil: every object under prefix

	mu   sync.Mutex
	gens map[string]int64 // generations seen by the last List
}

// newGCSSource opens a "gcs" source: Bucket is "name" or
// "gs://name[/prefix]" (a prefix there is prepended to Path), Path a prefix
// or glob over object names, and Endpoint an optional emulator endpoint.
// Keys are full object names.
func newGCSSource(ctx context.Context, s Spec) (ObjectSource, error) {
	name, full := gcsLocation(s)
	if name == "" {
		return nil, errors.New("a gcs source needs a bucket")
	}
	if strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != "" {
		return nil, fmt.Errorf("invalid bucket name %q", name)
	}
	src := &gcsSource{url: "gs://" + name + "/" + full, gens: map[string]int64{}}
	lit, pattern := splitGlob(full)
	if pattern == "" {
		src.prefix = full
		src.base = full[:strings.LastIndex(full, "/")+1]
	} else {
		var err error
		if src.glob, err = parseGlob(pattern); err != nil {
			return nil, err
		}
		src.base = lit
		src.prefix = lit + literalHead(src.glob[0])
	}
	b, err := staging.Open(ctx, "gs://"+name, staging.WithGCSEndpoint(s.Endpoint))
	if err != nil {
		return nil, err
	}
	src.bucket = b
	return src, nil
}

// List implements ObjectSource. Fingerprints use the object generation.
func (g *gcsSource) List(ctx context.Context) ([]Object, error) {
	var objs []Object
	gens := map[string]int64{}
	it := g.bucket.Blob().List(&blob.ListOptions{Prefix: g.prefix})
	for {
		obj, err := it.Next(ctx)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", g.url, err)
		}
		if obj.IsDir || strings.HasSuffix(obj.Key, "/") || strings.HasSuffix(obj.Key, "_$folder$") {
			continue // directory markers
		}
		rel := obj.Key[len(g.base):]
		if hidden(rel) || (g.glob != nil && !g.glob.match(rel)) {
			continue
		}
		var attrs storage.ObjectAttrs
		var gen string
		switch {
		case obj.As(&attrs) && attrs.Generation != 0:
			gen = strconv.FormatInt(attrs.Generation, 10)
			gens[obj.Key] = attrs.Generation
		case attrs.Etag != "":
			gen = attrs.Etag
		case len(obj.MD5) > 0:
			gen = hex.EncodeToString(obj.MD5)
		default:
			gen = strconv.FormatInt(obj.ModTime.UnixNano(), 10)
		}
		objs = append(objs, Object{Key: obj.Key, Size: obj.Size, ModTime: obj.ModTime, Fingerprint: fingerprint(obj.Size, gen)})
	}
	g.mu.Lock()
	g.gens = gens
	g.mu.Unlock()
	// Cloud Storage lists by name already; gocloud's key unescaping could
	// reorder a few.
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Open implements ObjectSource. An object seen by List is read at the
// generation List fingerprinted, so the bytes always match the
// fingerprint; if it was replaced or deleted since, Open fails.
func (g *gcsSource) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	g.mu.Lock()
	gen := g.gens[key]
	g.mu.Unlock()
	opts := &blob.ReaderOptions{}
	if gen != 0 {
		opts.BeforeRead = func(as func(any) bool) error {
			var h **storage.ObjectHandle
			if as(&h) {
				*h = (*h).Generation(gen)
			}
			return nil
		}
	}
	r, err := g.bucket.Blob().NewReader(ctx, key, opts)
	if err != nil {
		if gen != 0 && gcerrors.Code(err) == gcerrors.NotFound {
			return nil, fmt.Errorf("open %s: object %q changed or was deleted since it was listed (generation %d is gone): %w", g.url, key, gen, err)
		}
		return nil, fmt.Errorf("open %s: object %q: %w", g.url, key, err)
	}
	return r, nil
}

// Close implements ObjectSource.
func (g *gcsSource) Close() error { return g.bucket.Close() }

// gcsLocation reads a gcs source's bucket name and its full path in the
// bucket: Bucket is "name" or "gs://name[/prefix]" (a prefix there is
// prepended to Path).
func gcsLocation(s Spec) (bucket, full string) {
	name, extra, _ := strings.Cut(strings.TrimPrefix(s.Bucket, "gs://"), "/")
	full = strings.TrimPrefix(s.Path, "/")
	if extra = strings.Trim(extra, "/"); extra != "" {
		full = extra + "/" + full
	}
	return name, full
}

// GCSMatches reports whether an object of a bucket is one a "gcs" source
// reads: the source's bucket, and a name under its prefix that its glob
// matches and that is not hidden or a directory marker (as List would
// list it).
func GCSMatches(s Spec, bucket, object string) bool {
	name, full := gcsLocation(s)
	if name == "" || name != bucket {
		return false
	}
	if strings.HasSuffix(object, "/") || strings.HasSuffix(object, "_$folder$") {
		return false
	}
	lit, pattern := splitGlob(full)
	base := lit
	if pattern == "" {
		base = full[:strings.LastIndex(full, "/")+1]
		if !strings.HasPrefix(object, full) {
			return false
		}
	}
	if !strings.HasPrefix(object, base) {
		return false
	}
	rel := object[len(base):]
	if hidden(rel) {
		return false
	}
	if pattern == "" {
		return true
	}
	g, err := parseGlob(pattern)
	return err == nil && g.match(rel)
}
