package source

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/schema"
)

type nopExtractor struct{}

func (nopExtractor) Format() format.Format                           { return format.CSV }
func (nopExtractor) Discover(context.Context) (schema.Schema, error) { return nil, nil }
func (nopExtractor) Extract(context.Context, ExtractRequest, Sink) (*Extraction, error) {
	return &Extraction{}, nil
}
func (nopExtractor) Close() error { return nil }

func TestExtractorRegistry(t *testing.T) {
	boom := errors.New("boom")
	RegisterExtractor("test-extract", func(_ context.Context, s Spec) (Extractor, error) {
		if s.Settings["fail"] == true {
			return nil, boom
		}
		return nopExtractor{}, nil
	})
	if !IsExtractor("test-extract") || IsExtractor("file") || !strings.Contains(strings.Join(ExtractorTypes(), ","), "test-extract") {
		t.Fatalf("registry: %v", ExtractorTypes())
	}
	if _, err := NewExtractor(context.Background(), Spec{Name: "s", Type: "test-extract"}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewExtractor(context.Background(), Spec{Name: "s", Type: "test-extract", Settings: map[string]any{"fail": true}}); !errors.Is(err, boom) || !strings.Contains(err.Error(), `source "s"`) {
		t.Fatalf("factory error: %v", err)
	}
	if _, err := NewExtractor(context.Background(), Spec{Name: "s", Type: "ftp"}); err == nil || !strings.Contains(err.Error(), `type "ftp" does not extract`) {
		t.Fatalf("unknown type: %v", err)
	}
	for _, f := range []func(){
		func() {
			RegisterExtractor("test-extract", func(context.Context, Spec) (Extractor, error) { return nil, nil })
		},
		func() { RegisterExtractor("test-nil", nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}

func TestDecode(t *testing.T) {
	type cfg struct {
		Port    int      `json:"port"`
		Timeout Duration `json:"timeout"`
		Tags    []string `json:"tags"`
		On      bool     `json:"on"`
		Nested  struct {
			Wait Duration `json:"wait"`
		} `json:"nested"`
	}
	var c cfg
	err := Decode(Spec{Settings: map[string]any{"port": uint64(5432), "timeout": "90s", "tags": []any{"a"}, "nested": map[string]any{"wait": 1.5}}}, &c)
	if err != nil || c.Port != 5432 || time.Duration(c.Timeout) != 90*time.Second || time.Duration(c.Nested.Wait) != 1500*time.Millisecond {
		t.Fatalf("%+v %v", c, err)
	}
	for _, bad := range []struct {
		settings map[string]any
		want     string
	}{
		{map[string]any{"prot": 1}, `unknown key "prot"`},
		{map[string]any{"port": "x"}, "port must be a number"},
		{map[string]any{"tags": "x"}, "tags must be a list"},
		{map[string]any{"on": "yes"}, "on must be true or false"},
		{map[string]any{"nested": 3}, "nested must be a mapping"},
		{map[string]any{"timeout": "soon"}, "use a number and a unit"},
		{map[string]any{"timeout": true}, "duration must be a string"},
	} {
		var c cfg
		if err := Decode(Spec{Settings: bad.settings}, &c); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%v: error %v, want %q", bad.settings, err, bad.want)
		}
	}
}

func TestSecret(t *testing.T) {
	t.Setenv("SHP_T_SECRET", "s3cret")
	if v, err := Secret("password", "SHP_T_SECRET", ""); err != nil || v != "s3cret" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := Secret("password", "SHP_T_UNSET_VAR", ""); err == nil || !strings.Contains(err.Error(), "SHP_T_UNSET_VAR is not set") {
		t.Fatalf("unset: %v", err)
	}
	f := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(f, []byte("from-file\n"), 0o600)
	if v, err := Secret("password", "", f); err != nil || v != "from-file" {
		t.Fatalf("%q %v", v, err)
	}
	if _, err := Secret("password", "", f+".missing"); err == nil {
		t.Fatal("missing file")
	}
	if v, err := Secret("password", "", ""); err != nil || v != "" {
		t.Fatal("none")
	}
}

func TestRetryPolicy(t *testing.T) {
	p, err := Retry{Attempts: 3, InitialInterval: Duration(time.Second)}.Policy(2, time.Minute)
	if err != nil || p.MaxAttempts != 3 || p.BaseDelay != time.Second || p.RatePerSecond != 2 || p.Timeout != time.Minute || p.BreakerFailures != 5 {
		t.Fatalf("%+v %v", p, err)
	}
	if p, _ := (Retry{BreakerFailures: -1}).Policy(0, 0); p.BreakerFailures != 0 {
		t.Fatalf("breaker off: %+v", p)
	}
	if p, _ := (Retry{BreakerFailures: 9}).Policy(0, 0); p.BreakerFailures != 9 {
		t.Fatalf("breaker 9: %+v", p)
	}
	if _, err := (Retry{Attempts: -1}).Policy(0, 0); err == nil {
		t.Fatal("negative attempts")
	}
}
