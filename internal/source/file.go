package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// fileSource lists regular files under a local directory.
type fileSource struct {
	root string // absolute directory: the path's literal part
	url  string // file:// URL of root, for messages
	glob glob   // nil: everything under root
	only string // a single file in root, when the path names one
}

// newFileSource opens a "file" source. The path's literal leading
// directories (resolved against Bucket, then BaseDir, unless absolute)
// become the root; keys are "/"-separated names relative to it. A path
// without glob characters names a directory, listed recursively, or one
// file.
func newFileSource(ctx context.Context, s Spec) (ObjectSource, error) {
	if s.Path == "" && s.Bucket == "" {
		return nil, errors.New("a file source needs a path")
	}
	base := s.BaseDir
	if s.Bucket != "" {
		base = resolve(base, s.Bucket)
	}
	lit, pattern := splitGlob(filepath.ToSlash(s.Path))
	root, err := filepath.Abs(resolve(base, filepath.FromSlash(lit)))
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s.Path, err)
	}
	src := &fileSource{root: root}
	if pattern != "" {
		if src.glob, err = parseGlob(pattern); err != nil {
			return nil, err
		}
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("path %q: %w", s.Path, err)
	}
	if !fi.IsDir() {
		if src.glob != nil {
			return nil, fmt.Errorf("path %q: %s is not a directory", s.Path, root)
		}
		src.root, src.only = filepath.Dir(root), filepath.Base(root)
	}
	src.url = "file://" + filepath.ToSlash(src.root)
	return src, nil
}

// resolve joins p to base unless p is absolute.
func resolve(base, p string) string {
	if filepath.IsAbs(p) || base == "" {
		return p
	}
	return filepath.Join(base, p)
}

// List implements ObjectSource.
func (f *fileSource) List(ctx context.Context) ([]Object, error) {
	var objs []Object
	err := filepath.WalkDir(f.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p == f.root {
			return nil
		}
		rel, err := filepath.Rel(f.root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if f.only != "" || hidden(d.Name()) || (f.glob != nil && !f.glob.mayContain(rel)) {
				return fs.SkipDir
			}
			return nil
		}
		switch {
		case f.only != "":
			if rel != f.only {
				return nil
			}
		case hidden(d.Name()):
			return nil
		case f.glob != nil && !f.glob.match(rel):
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.Type()&fs.ModeSymlink != 0 {
			if info, err = os.Stat(p); err != nil {
				return nil // a dangling link is no file
			}
		}
		if !info.Mode().IsRegular() {
			return nil // directories behind links, devices, sockets
		}
		objs = append(objs, Object{
			Key:         rel,
			Size:        info.Size(),
			ModTime:     info.ModTime(),
			Fingerprint: fingerprint(info.Size(), strconv.FormatInt(info.ModTime().UnixNano(), 10)),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", f.url, err)
	}
	slices.SortFunc(objs, func(a, b Object) int { return strings.Compare(a.Key, b.Key) })
	return objs, nil
}

// Open implements ObjectSource. key must be a name List returned: a
// relative "/"-separated path without "." or ".." segments.
func (f *fileSource) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("open %s/%s: %w", f.url, key, err)
	}
	if !fs.ValidPath(key) || key == "." {
		return nil, fmt.Errorf("open %s: invalid key %q", f.url, key)
	}
	r, err := os.Open(filepath.Join(f.root, filepath.FromSlash(key)))
	if err != nil {
		return nil, fmt.Errorf("open %s/%s: %w", f.url, key, err)
	}
	return r, nil
}

// Close implements ObjectSource.
func (f *fileSource) Close() error { return nil }
