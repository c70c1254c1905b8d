package source

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func keys(objs []Object) string {
	ks := make([]string, len(objs))
	for i, o := range objs {
		ks[i] = o.Key
	}
	return strings.Join(ks, ",")
}

var fingerprintRE = regexp.MustCompile(`^size:\d+;gen:\S+$`)

func TestFileSourceList(t *testing.T) {
	ctx := context.Background()
	tree, err := filepath.Abs(filepath.Join("testdata", "tree"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{name: "prefix with slash", spec: Spec{Path: "sales/daily/"},
			want: "2024-01-01.csv,2024-01-02.csv.gz,sub/2024-01-03.csv"},
		{name: "prefix without slash", spec: Spec{Path: "sales/daily"},
			want: "2024-01-01.csv,2024-01-02.csv.gz,sub/2024-01-03.csv"},
		{name: "glob one level", spec: Spec{Path: "data/*.csv.gz"},
			want: "a.csv.gz,b.csv.gz"},
		{name: "double star", spec: Spec{Path: "sales/**/*.csv"},
			want: "daily/2024-01-01.csv,daily/sub/2024-01-03.csv,monthly/2024-01.csv"},
		{name: "double star only", spec: Spec{Path: "data/**"},
			want: "a.csv.gz,b.csv.gz,c.json,nested/d.csv.gz"},
		{name: "glob at the root", spec: Spec{Path: "**/*.json"},
			want: "data/c.json"},
		{name: "pattern per segment", spec: Spec{Path: "sales/*/2024-01-0?.csv"},
			want: "daily/2024-01-01.csv"},
		{name: "whole directory sorted by key", spec: Spec{Path: "."},
			want: "data/a.csv.gz,data/b.csv.gz,data/c.json,data/nested/d.csv.gz,sales/daily/2024-01-01.csv,sales/daily/2024-01-02.csv.gz,sales/daily/sub/2024-01-03.csv,sales/monthly/2024-01.csv"},
		{name: "one file", spec: Spec{Path: "sales/daily/2024-01-01.csv"},
			want: "2024-01-01.csv"},
		{name: "one hidden file named explicitly", spec: Spec{Path: "sales/daily/_SUCCESS"},
			want: "_SUCCESS"},
		{name: "hidden directory named explicitly", spec: Spec{Path: "sales/daily/_tmp/"},
			want: "x.csv"},
		{name: "bucket is a directory", spec: Spec{Bucket: "sales", Path: "daily/*.csv"},
			want: "2024-01-01.csv"},
		{name: "bucket alone", spec: Spec{Bucket: "data/nested"},
			want: "d.csv.gz"},
		{name: "absolute path", spec: Spec{Path: filepath.ToSlash(tree) + "/data/*.json", BaseDir: "/elsewhere"},
			want: "c.json"},
		{name: "no match", spec: Spec{Path: "data/*.parquet"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Type, spec.Name = "file", "test"
			if spec.BaseDir == "" {
				spec.BaseDir = tree
			}
			src, err := New(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			objs, err := src.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys(objs); got != tt.want {
				t.Fatalf("keys\n%s\nwant\n%s", got, tt.want)
			}
			for _, o := range objs {
				if !fingerprintRE.MatchString(o.Fingerprint) || o.ModTime.IsZero() {
					t.Errorf("object %+v: bad fingerprint or time", o)
				}
				r, err := src.Open(ctx, o.Key)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || int64(len(b)) != o.Size {
					t.Fatalf("Open(%q) read %d bytes (%v), listed size %d", o.Key, len(b), err, o.Size)
				}
			}
			again, err := src.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for i := range again {
				if again[i].Fingerprint != objs[i].Fingerprint {
					t.Fatalf("fingerprint of %s changed between listings", objs[i].Key)
				}
			}
		})
	}
}

func TestFileSourceErrors(t *testing.T) {
	ctx := context.Background()
	tree := filepath.Join("testdata", "tree")
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{name: "no path", spec: Spec{}, wantErr: "needs a path"},
		{name: "missing directory", spec: Spec{Path: "nope/"}, wantErr: "no such file"},
		{name: "missing glob root", spec: Spec{Path: "nope/*.csv"}, wantErr: "no such file"},
		{name: "bad glob", spec: Spec{Path: "data/[.csv"}, wantErr: "syntax error in pattern"},
		{name: "glob below a file", spec: Spec{Path: "data/a.csv.gz/*.csv"}, wantErr: "is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type, tt.spec.Name, tt.spec.BaseDir = "file", "orders", tree
			_, err := New(ctx, tt.spec)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), `source "orders"`) {
				t.Fatalf("New error = %v, want %q naming the source", err, tt.wantErr)
			}
		})
	}
}

func TestFileSourceOpen(t *testing.T) {
	ctx := context.Background()
	src, err := New(ctx, Spec{Type: "file", Path: "data/", BaseDir: filepath.Join("testdata", "tree")})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		key     string
		want    string
		wantErr string
	}{
		{name: "nested", ctx: ctx, key: "nested/d.csv.gz", want: "dddd"},
		{name: "missing", ctx: ctx, key: "zzz.csv", wantErr: "no such file"},
		{name: "escape", ctx: ctx, key: "../sales/monthly/2024-01.csv", wantErr: "invalid key"},
		{name: "absolute", ctx: ctx, key: "/etc/passwd", wantErr: "invalid key"},
		{name: "dot", ctx: ctx, key: ".", wantErr: "invalid key"},
		{name: "empty", ctx: ctx, key: "", wantErr: "invalid key"},
		{name: "cancelled", ctx: cancelled, key: "a.csv.gz", wantErr: "context canceled"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := src.Open(tt.ctx, tt.key)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), "file://") {
					t.Fatalf("Open(%q) error = %v, want %q naming the source URL", tt.key, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			b, _ := io.ReadAll(r)
			if string(b) != tt.want {
				t.Fatalf("read %q", b)
			}
		})
	}
}

// TestFileSourceFingerprint checks that replacing a file changes its
// fingerprint and that links are followed to files only.
func TestFileSourceFingerprint(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	write := func(name, content string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)
	write("a.csv", "a\n1\n", t0)
	write("b.csv", "b\n", t0)
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for link, target := range map[string]string{"link.csv": "a.csv", "dirlink": "sub", "dangling.csv": "nowhere.csv"} {
		if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
			t.Skipf("symlinks: %v", err)
		}
	}
	src, err := New(ctx, Spec{Type: "file", Path: dir})
	if err != nil {
		t.Fatal(err)
	}
	before, err := src.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := keys(before); got != "a.csv,b.csv,link.csv" {
		t.Fatalf("keys = %s", got)
	}
	if want := "size:4;gen:1704164645000000006"; before[0].Fingerprint != want {
		t.Fatalf("fingerprint = %s, want %s", before[0].Fingerprint, want)
	}
	if before[2].Size != 4 {
		t.Fatalf("a link is listed with the link's size %d, not the file's", before[2].Size)
	}
	write("a.csv", "a\n2\n", t0.Add(time.Second)) // same size, new content
	after, err := src.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Fingerprint == before[0].Fingerprint {
		t.Fatal("replacing a file kept its fingerprint")
	}
	if after[1].Fingerprint != before[1].Fingerprint {
		t.Fatal("an untouched file changed fingerprint")
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := src.List(cancelled); !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "file://") {
		t.Fatalf("List with a cancelled context: %v", err)
	}
	if err := os.Remove(filepath.Join(dir, "b.csv")); err != nil {
		t.Fatal(err)
	}
	if _, err := src.Open(ctx, "b.csv"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Open of a removed file: %v", err)
	}
}

func TestFileSourceRelativeToWorkingDir(t *testing.T) {
	t.Chdir(filepath.Join("testdata", "tree"))
	src, err := New(context.Background(), Spec{Type: "file", Path: "data/*.json"})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := src.List(context.Background())
	if err != nil || keys(objs) != "c.json" {
		t.Fatalf("List = %s, %v", keys(objs), err)
	}
}
