package source

import (
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

type stubSource struct{ spec Spec }

func (s *stubSource) List(context.Context) ([]Object, error)              { return nil, nil }
func (s *stubSource) Open(context.Context, string) (io.ReadCloser, error) { return nil, nil }
func (s *stubSource) Close() error                                        { return nil }

func TestRegistry(t *testing.T) {
	ctx := context.Background()
	boom := errors.New("boom")
	Register("test-stub", func(_ context.Context, s Spec) (ObjectSource, error) {
		if s.Path == "fail" {
			return nil, boom
		}
		return &stubSource{spec: s}, nil
	})
	if got := strings.Join(Types(), ","); got != "file,gcs,test-stub" {
		t.Fatalf("Types() = %s", got)
	}
	tests := []struct {
		name    string
		spec    Spec
		wantErr string
	}{
		{name: "registered type", spec: Spec{Name: "s", Type: "test-stub", Path: "p"}},
		{name: "unknown type", spec: Spec{Name: "orders", Type: "s3"}, wantErr: `source "orders": unknown type "s3" (known types: file, gcs, test-stub)`},
		{name: "empty type", spec: Spec{Name: "orders"}, wantErr: `unknown type ""`},
		{name: "factory error names the source", spec: Spec{Name: "orders", Type: "test-stub", Path: "fail"}, wantErr: `source "orders": boom`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src, err := New(ctx, tt.spec)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("New error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// New hands out the source behind the mask of its secrets.
			stub := src.(*redactedObjects).ObjectSource.(*stubSource)
			if !reflect.DeepEqual(stub.spec, tt.spec) {
				t.Fatalf("factory got %+v", stub.spec)
			}
		})
	}
	if _, err := New(ctx, Spec{Type: "test-stub", Path: "fail"}); !errors.Is(err, boom) {
		t.Fatalf("factory error is not wrapped: %v", err)
	}
}

func TestRegisterPanics(t *testing.T) {
	tests := []struct {
		name string
		typ  string
		f    Factory
	}{
		{name: "nil factory", typ: "nil-factory", f: nil},
		{name: "duplicate", typ: "file", f: newFileSource},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Fatal("Register did not panic")
				}
			}()
			Register(tt.typ, tt.f)
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		glob string
		name string
		want bool
	}{
		{"*.csv", "a.csv", true},
		{"*.csv", "a.csv.gz", false},
		{"*.csv", "dir/a.csv", false},
		{"*.csv.gz", "a.csv.gz", true},
		{"**/*.csv", "a.csv", true},
		{"**/*.csv", "x/y/z/a.csv", true},
		{"**/*.csv", "x/y/a.json", false},
		{"**", "anything/at/all", true},
		{"a/**", "a/b", true},
		{"a/**", "a", true},
		{"a/**", "b/c", false},
		{"a/**/b", "a/b", true},
		{"a/**/b", "a/x/y/b", true},
		{"a/**/b", "a/x/y/c", false},
		{"a/**/b/**/c", "a/1/b/2/3/c", true},
		{"a/**/b/**/c", "a/b/c", true},
		{"a/**/b/**/c", "a/c/b", false},
		{"**/b/*.csv", "x/b/y/z.csv", false},
		{"**/b/*.csv", "x/b/b/z.csv", true},
		{"*/2024-0?-*.csv", "daily/2024-01-01.csv", true},
		{"*/2024-0?-*.csv", "daily/2024-10-01.csv", false},
		{"[ab].csv", "b.csv", true},
		{"[ab].csv", "c.csv", false},
		{"**/**", "x", true},
	}
	for _, tt := range tests {
		t.Run(tt.glob+" "+tt.name, func(t *testing.T) {
			g, err := parseGlob(tt.glob)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.match(tt.name); got != tt.want {
				t.Fatalf("glob %q match %q = %t, want %t", tt.glob, tt.name, got, tt.want)
			}
		})
	}
}

func TestGlobMayContain(t *testing.T) {
	tests := []struct {
		glob string
		dir  string
		want bool
	}{
		{"*.csv", "sub", false},
		{"*/x.csv", "daily", true},
		{"*/x.csv", "daily/deeper", false},
		{"sales/**/*.csv", "sales/a/b", true},
		{"sales/**/*.csv", "other", false},
		{"20??/*.csv", "2024", true},
		{"20??/*.csv", "1999", false},
	}
	for _, tt := range tests {
		t.Run(tt.glob+" "+tt.dir, func(t *testing.T) {
			g, err := parseGlob(tt.glob)
			if err != nil {
				t.Fatal(err)
			}
			if got := g.mayContain(tt.dir); got != tt.want {
				t.Fatalf("mayContain = %t, want %t", got, tt.want)
			}
		})
	}
}

func TestParseGlobErrors(t *testing.T) {
	for _, g := range []string{"[.csv", "a//*.csv", "*.csv/"} {
		t.Run(g, func(t *testing.T) {
			if _, err := parseGlob(g); err == nil || !strings.Contains(err.Error(), g) {
				t.Fatalf("parseGlob(%q) error = %v", g, err)
			}
		})
	}
}

func TestSplitGlob(t *testing.T) {
	tests := []struct{ in, lit, glob string }{
		{"sales/daily/", "sales/daily/", ""},
		{"data/*.csv.gz", "data/", "*.csv.gz"},
		{"sales/**/*.csv", "sales/", "**/*.csv"},
		{"*.csv", "", "*.csv"},
		{"/abs/dir/x?.csv", "/abs/dir/", "x?.csv"},
		{"a/b[12]/c", "a/", "b[12]/c"},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			lit, glob := splitGlob(tt.in)
			if lit != tt.lit || glob != tt.glob {
				t.Fatalf("splitGlob(%q) = %q, %q; want %q, %q", tt.in, lit, glob, tt.lit, tt.glob)
			}
		})
	}
}

func TestHidden(t *testing.T) {
	tests := []struct {
		rel  string
		want bool
	}{
		{"a.csv", false},
		{"dir/a.csv", false},
		{"_SUCCESS", true},
		{".DS_Store", true},
		{"_tmp/a.csv", true},
		{"a/.b/c.csv", true},
		{"a_b/c.d", false},
	}
	for _, tt := range tests {
		t.Run(tt.rel, func(t *testing.T) {
			if got := hidden(tt.rel); got != tt.want {
				t.Fatalf("hidden(%q) = %t", tt.rel, got)
			}
		})
	}
}

func TestLiteralHead(t *testing.T) {
	for in, want := range map[string]string{"2024-*.csv": "2024-", "*.csv": "", "a?b": "a", "plain": "plain", "x[ab]": "x"} {
		if got := literalHead(in); got != want {
			t.Errorf("literalHead(%q) = %q, want %q", in, got, want)
		}
	}
}
