package source

import (
	"context"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/fsouza/fake-gcs-server/fakestorage"
)

func newFakeGCS(t *testing.T, objects map[string]string) *fakestorage.Server {
	t.Helper()
	var initial []fakestorage.Object
	for name, content := range objects {
		initial = append(initial, fakestorage.Object{
			ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "in", Name: name},
			Content:     []byte(content),
		})
	}
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		InitialObjects: initial,
		Scheme:         "http",
		Host:           "127.0.0.1",
		NoListener:     false,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

var gcsObjects = map[string]string{
	"sales/daily/2024-01-01.csv":      "id\n1\n",
	"sales/daily/2024-01-02.csv.gz":   "gz",
	"sales/daily/_SUCCESS":            "",
	"sales/daily/.hidden.csv":         "x",
	"sales/daily/":                    "",
	"sales/daily/sub/2024-01-03.csv":  "id\n3\n",
	"sales/daily/_tmp/part-0.csv":     "x",
	"sales/monthly/2024-01.csv":       "id\n9\n",
	"sales/daily_$folder$":            "",
	"sales/daily-summary.csv":         "s",
	"other/a.csv":                     "a",
	"_staging/run/x.csv":              "x",
	"top.csv":                         "t",
	"sales/2024-01-01/part.csv":       "p",
	"sales/2024-01-01/part.json":      "{}",
	"sales/2025-01-01/deep/part.csv":  "p",
	"sales/2025-01-01/.hidden/p1.csv": "h",
}

func TestGCSSourceList(t *testing.T) {
	ctx := context.Background()
	srv := newFakeGCS(t, gcsObjects)
	tests := []struct {
		name string
		spec Spec
		want string
	}{
		{name: "prefix", spec: Spec{Bucket: "in", Path: "sales/daily/"},
			want: "sales/daily/2024-01-01.csv,sales/daily/2024-01-02.csv.gz,sales/daily/sub/2024-01-03.csv"},
		{name: "partial prefix", spec: Spec{Bucket: "in", Path: "sales/daily"},
			want: "sales/daily-summary.csv,sales/daily/2024-01-01.csv,sales/daily/2024-01-02.csv.gz,sales/daily/sub/2024-01-03.csv"},
		{name: "glob", spec: Spec{Bucket: "in", Path: "sales/daily/*.csv"},
			want: "sales/daily/2024-01-01.csv"},
		{name: "double star", spec: Spec{Bucket: "in", Path: "sales/**/*.csv"},
			want: "sales/2024-01-01/part.csv,sales/2025-01-01/deep/part.csv,sales/daily-summary.csv,sales/daily/2024-01-01.csv,sales/daily/sub/2024-01-03.csv,sales/monthly/2024-01.csv"},
		{name: "glob with literal head", spec: Spec{Bucket: "in", Path: "sales/2024-*/part.*"},
			want: "sales/2024-01-01/part.csv,sales/2024-01-01/part.json"},
		{name: "whole bucket", spec: Spec{Bucket: "gs://in"},
			want: "other/a.csv,sales/2024-01-01/part.csv,sales/2024-01-01/part.json,sales/2025-01-01/deep/part.csv,sales/daily-summary.csv,sales/daily/2024-01-01.csv,sales/daily/2024-01-02.csv.gz,sales/daily/sub/2024-01-03.csv,sales/monthly/2024-01.csv,top.csv"},
		{name: "prefix in the bucket URL", spec: Spec{Bucket: "gs://in/sales/", Path: "daily/*.csv"},
			want: "sales/daily/2024-01-01.csv"},
		{name: "hidden directory named explicitly", spec: Spec{Bucket: "in", Path: "_staging/run/"},
			want: "_staging/run/x.csv"},
		{name: "root glob", spec: Spec{Bucket: "in", Path: "*.csv"},
			want: "top.csv"},
		{name: "leading slash", spec: Spec{Bucket: "in", Path: "/other/"},
			want: "other/a.csv"},
		{name: "no match", spec: Spec{Bucket: "in", Path: "nothing/"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := tt.spec
			spec.Type, spec.Name, spec.Endpoint = "gcs", "test", srv.URL()
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
				attrs, err := srv.GetObject("in", o.Key)
				if err != nil {
					t.Fatal(err)
				}
				if want := fingerprint(attrs.Size, strconv.FormatInt(attrs.Generation, 10)); o.Fingerprint != want || attrs.Generation == 0 {
					t.Fatalf("%s: fingerprint %s, want %s (from the generation)", o.Key, o.Fingerprint, want)
				}
				r, err := src.Open(ctx, o.Key)
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(r)
				r.Close()
				if err != nil || string(b) != gcsObjects[o.Key] {
					t.Fatalf("Open(%q) = %q, %v", o.Key, b, err)
				}
			}
		})
	}
}

// TestGCSSourceReplacedObject checks that a replaced object gets a new
// fingerprint, and that Open never returns bytes that do not match the
// fingerprint List gave.
func TestGCSSourceReplacedObject(t *testing.T) {
	ctx := context.Background()
	srv := newFakeGCS(t, map[string]string{"in/a.csv": "old\n", "in/b.csv": "b\n"})
	src, err := New(ctx, Spec{Type: "gcs", Bucket: "in", Path: "in/", Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	before, err := src.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	srv.CreateObject(fakestorage.Object{
		ObjectAttrs: fakestorage.ObjectAttrs{BucketName: "in", Name: "in/a.csv"},
		Content:     []byte("new\n"),
	})
	if _, err := src.Open(ctx, "in/a.csv"); err == nil || !strings.Contains(err.Error(), "changed or was deleted since it was listed") {
		t.Fatalf("Open of an object replaced after List: %v", err)
	}
	after, err := src.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if after[0].Fingerprint == before[0].Fingerprint {
		t.Fatalf("replaced object kept fingerprint %s", after[0].Fingerprint)
	}
	if after[1].Fingerprint != before[1].Fingerprint {
		t.Fatal("untouched object changed fingerprint")
	}
	r, err := src.Open(ctx, "in/a.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if b, _ := io.ReadAll(r); string(b) != "new\n" {
		t.Fatalf("read %q after a new listing", b)
	}
}

func TestGCSSourceOpenUnlisted(t *testing.T) {
	ctx := context.Background()
	srv := newFakeGCS(t, map[string]string{"a.csv": "a"})
	src, err := New(ctx, Spec{Type: "gcs", Bucket: "in", Endpoint: srv.URL()})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	r, err := src.Open(ctx, "a.csv")
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, err := src.Open(ctx, "missing.csv"); err == nil || !strings.Contains(err.Error(), `gs://in/: object "missing.csv"`) {
		t.Fatalf("Open of a missing object: %v", err)
	}
}

func TestGCSSourceErrors(t *testing.T) {
	ctx := context.Background()
	srv := newFakeGCS(t, map[string]string{"a.csv": "a"})
	tests := []struct {
		name    string
		spec    Spec
		listErr bool
		wantErr string
	}{
		{name: "no bucket", spec: Spec{Path: "x/"}, wantErr: "needs a bucket"},
		{name: "bad glob", spec: Spec{Bucket: "in", Path: "x/[.csv"}, wantErr: "syntax error in pattern"},
		{name: "bad bucket name", spec: Spec{Bucket: "in?bogus=1"}, wantErr: `invalid bucket name "in?bogus=1"`},
		{name: "missing bucket", spec: Spec{Bucket: "nope", Path: "x/"}, listErr: true, wantErr: "list gs://nope/x/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.spec.Type, tt.spec.Name, tt.spec.Endpoint = "gcs", "orders", srv.URL()
			src, err := New(ctx, tt.spec)
			if tt.listErr {
				if err != nil {
					t.Fatal(err)
				}
				defer src.Close()
				_, err = src.List(ctx)
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

// TestGCSMatches: an object matches a gcs source exactly when List
// would list it.
func TestGCSMatches(t *testing.T) {
	ctx := context.Background()
	srv := newFakeGCS(t, gcsObjects)
	for _, spec := range []Spec{
		{Type: "gcs", Bucket: "in", Path: "sales/daily/*.csv"},
		{Type: "gcs", Bucket: "in", Path: "sales/daily/"},
		{Type: "gcs", Bucket: "gs://in/sales", Path: "**/*.csv"},
		{Type: "gcs", Bucket: "in", Path: "sales/*/part.csv"},
		{Type: "gcs", Bucket: "in", Path: "top.csv"},
	} {
		spec.Endpoint = srv.URL()
		src, err := newGCSSource(ctx, spec)
		if err != nil {
			t.Fatal(err)
		}
		objs, err := src.List(ctx)
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		listed := map[string]bool{}
		for _, o := range objs {
			listed[o.Key] = true
		}
		for name := range gcsObjects {
			if got := GCSMatches(spec, "in", name); got != listed[name] {
				t.Errorf("%s %s: GCSMatches(%q) = %v, List says %v", spec.Bucket, spec.Path, name, got, listed[name])
			}
		}
		if GCSMatches(spec, "other", "sales/daily/2024-01-01.csv") {
			t.Errorf("%s: an object of another bucket matched", spec.Path)
		}
	}
}
