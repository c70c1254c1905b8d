// Package source is the seam between a pipeline and where its input files
// live. A Spec (from sources.yaml) names a type; New opens the ObjectSource
// registered for it. The package registers "file" (a local directory) and
// "gcs" (a Cloud Storage bucket, or an emulator).
//
// Spec.Path is either a prefix ("sales/daily/") or a glob
// ("data/*.csv.gz", "sales/**/*.csv"). Globs match one path segment per
// pattern segment with path.Match, and a "**" segment matches any number of
// segments, including none. Listings leave out directories, directory
// marker objects and hidden files: any name below the path's literal part
// that starts with "." or "_" (such as _SUCCESS or .DS_Store).
package source

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/shp-dev/shp/internal/params"
)

// Object is one input file.
type Object struct {
	Key string // name within the source, "/"-separated; pass it to Open
	// Size is the length in bytes.
	Size int64
	// Fingerprint is "size:<n>;gen:<g>", where g is the object's
	// generation, ETag or modification time in nanoseconds: stable across
	// listings, and changed when the content is replaced.
	Fingerprint string
	ModTime     time.Time // last modification
}

// Spec describes a source, as configured in sources.yaml.
type Spec struct {
	Name     string // the source's name, for messages
	Type     string // "file" or "gcs", or another registered type
	Bucket   string // gcs: the bucket ("name" or "gs://name[/prefix]"); file: an optional directory Path is relative to
	Path     string // a prefix or glob, see the package documentation
	Endpoint string // gcs: an emulator or other JSON API endpoint; empty for Google Cloud Storage
	BaseDir  string // the directory relative file paths are resolved against (the project directory)
	// Settings are an extracting source's own keys from sources.yaml; its
	// connector reads them with Decode.
	Settings map[string]any
	// Secrets are values from the environment that the source's settings
	// carry (config.Source.Secrets); its messages mask them (Redactor).
	Secrets []string
	// Params are the values of the run's parameters, by name, which a SQL
	// source binds where its query refers to them as {{params.NAME}}.
	Params map[string]params.Value
}

// ObjectSource lists and opens the objects of one source.
type ObjectSource interface {
	// List returns the objects matching the source's path, sorted by Key.
	List(ctx context.Context) ([]Object, error)
	// Open opens the object key for reading.
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	// Close releases the source.
	Close() error
}

// Factory opens an ObjectSource for a Spec of its type.
type Factory func(ctx context.Context, s Spec) (ObjectSource, error)

var objectSources = newTypeRegistry[ObjectSource]("Register")

// Register makes a source type available to New. It panics if f is nil or
// typ is already registered.
func Register(typ string, f Factory) { objectSources.register(typ, f) }

// Types returns the registered source types, sorted.
func Types() []string { return objectSources.types() }

// New opens the source s with the factory registered for s.Type. Its
// errors, and those of the source it returns, have s's secrets masked
// (Redactor).
func New(ctx context.Context, s Spec) (ObjectSource, error) {
	f := objectSources.lookup(s.Type)
	if f == nil {
		return nil, fmt.Errorf("source %q: unknown type %q (known types: %s)", s.Name, s.Type, objectSources.joinedTypes())
	}
	red := Redactor(s)
	src, err := f(ctx, s)
	if err != nil {
		return nil, fmt.Errorf("source %q: %w", s.Name, red.Error(err))
	}
	return &redactedObjects{ObjectSource: src, red: red}, nil
}

func init() {
	Register("file", newFileSource)
	Register("gcs", newGCSSource)
}

// fingerprint formats Object.Fingerprint.
func fingerprint(size int64, gen string) string {
	return fmt.Sprintf("size:%d;gen:%s", size, gen)
}

// hidden reports whether any segment of the "/"-separated rel starts with
// "." or "_".
func hidden(rel string) bool {
	for seg := range strings.SplitSeq(rel, "/") {
		if strings.HasPrefix(seg, ".") || strings.HasPrefix(seg, "_") {
			return true
		}
	}
	return false
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }

// splitGlob splits a "/"-separated path before its first segment holding a
// glob character. lit keeps its trailing "/"; glob is "" when p is no glob.
func splitGlob(p string) (lit, glob string) {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if hasMeta(s) {
			if i == 0 {
				return "", p
			}
			return strings.Join(segs[:i], "/") + "/", strings.Join(segs[i:], "/")
		}
	}
	return p, ""
}

// glob is a parsed glob: path.Match patterns, one per segment, or "**".
type glob []string

func parseGlob(g string) (glob, error) {
	segs := strings.Split(g, "/")
	for _, s := range segs {
		if s == "" {
			return nil, fmt.Errorf("glob %q has an empty segment", g)
		}
		if _, err := path.Match(s, ""); err != nil {
			return nil, fmt.Errorf("glob %q: %w", g, err)
		}
	}
	return segs, nil
}

// match reports whether the "/"-separated name matches the whole glob.
// "**" works like * in a wildcard match over segments; the usual
// backtracking to the last star keeps it linear in practice.
func (g glob) match(name string) bool {
	segs := strings.Split(name, "/")
	pi, ni := 0, 0
	star, starN := -1, 0
	for ni < len(segs) {
		if pi < len(g) && g[pi] == "**" {
			star, starN = pi, ni
			pi++
			continue
		}
		if pi < len(g) {
			if ok, _ := path.Match(g[pi], segs[ni]); ok {
				pi++
				ni++
				continue
			}
		}
		if star < 0 {
			return false
		}
		pi = star + 1
		starN++
		ni = starN
	}
	for pi < len(g) && g[pi] == "**" {
		pi++
	}
	return pi == len(g)
}

// mayContain reports whether a directory at the "/"-separated dir could
// hold names matching g, so listings can skip the others.
func (g glob) mayContain(dir string) bool {
	for i, seg := range strings.Split(dir, "/") {
		if i >= len(g) {
			return false
		}
		if g[i] == "**" {
			return true
		}
		if ok, _ := path.Match(g[i], seg); !ok {
			return false
		}
	}
	return true
}

// literalHead returns the part of a glob segment before its first glob
// character, usable as a listing prefix.
func literalHead(seg string) string {
	if i := strings.IndexAny(seg, `*?[\`); i >= 0 {
		return seg[:i]
	}
	return seg
}
