package source

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/format"
	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/schema"
)

// leakyExtractor fails with every secret of its source in its messages,
// as a careless connector or a server echoing the request would.
type leakyExtractor struct {
	msg     string
	retries []resilience.Retry
}

var errLeak = errors.New("the cause")

func (x *leakyExtractor) Format() format.Format { return format.JSONL }
func (x *leakyExtractor) Discover(context.Context) (schema.Schema, error) {
	return nil, fmt.Errorf("discover %s: %w", x.msg, errLeak)
}
func (x *leakyExtractor) Extract(context.Context, ExtractRequest, Sink) (*Extraction, error) {
	return &Extraction{Query: "GET " + x.msg, Adjustments: []string{x.msg}}, fmt.Errorf("extract %s: %w", x.msg, errLeak)
}
func (x *leakyExtractor) Close() error                    { return nil }
func (x *leakyExtractor) TakeRetries() []resilience.Retry { return x.retries }

// leakySpec is a source whose settings carry a secret of each kind.
func leakySpec(t *testing.T) (Spec, string) {
	t.Setenv("SHP_T_LEAK_TOKEN", "secret-from-token-env")
	file := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(file, []byte("secret-from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := Spec{Name: "leaky", Type: "test-leaky", Secrets: []string{"secret-from-env-expansion", "secret/with+chars"},
		Path: "exports/orders.csv?X-Goog-Signature=secret-in-path",
		Settings: map[string]any{
			"url":           "https://ana:secret-url-password@api.example.com/v1?access_token=secret-in-url&page=1",
			"params":        map[string]any{"status": "open", "api_key": "secret-in-params"},
			"headers":       map[string]any{"Authorization": "Bearer secret-bearer", "Accept": "application/json"},
			"dsn":           "host=db password=secret-in-dsn",
			"auth":          map[string]any{"type": "bearer", "token_env": "SHP_T_LEAK_TOKEN"},
			"password_file": file,
		}}
	msg := strings.Join([]string{
		"https://ana:secret-url-password@api.example.com/v1?access_token=secret-in-url&page=1&status=open&api_key=secret-in-params",
		"server echo: secret-in-url secret-in-params secret-bearer secret-from-token-env secret-from-file secret-from-env-expansion",
		"secret-in-dsn secret-in-path", "escaped: secret%2Fwith%2Bchars secret%2Fwith+chars",
	}, " ")
	return s, msg
}

func assertMasked(t *testing.T, what, text string) {
	t.Helper()
	if strings.Contains(text, "secret") {
		t.Errorf("%s shows a secret: %s", what, text)
	}
}

func TestRedactorOfASpec(t *testing.T) {
	s, msg := leakySpec(t)
	got := Redactor(s).Text(msg)
	assertMasked(t, "Text", got)
	// The params setting's values are masked in URLs whatever their names;
	// the others stay readable.
	for _, want := range []string{"page=1", "status=REDACTED", "api.example.com/v1"} {
		if !strings.Contains(got, want) {
			t.Errorf("masked text lacks %q: %s", want, got)
		}
	}
}

// TestExtractorsAndObjectSourcesMaskTheirSecrets: whatever a connector
// puts in its errors, queries and retried failures, NewExtractor and New
// hand them out masked, and the errors keep their chain.
func TestExtractorsAndObjectSourcesMaskTheirSecrets(t *testing.T) {
	ctx := context.Background()
	s, msg := leakySpec(t)
	RegisterExtractor("test-leaky", func(_ context.Context, s Spec) (Extractor, error) {
		if s.Settings["fail"] == true {
			return nil, fmt.Errorf("open %s: %w", msg, errLeak)
		}
		return &leakyExtractor{msg: msg, retries: []resilience.Retry{{Attempt: 1, Err: fmt.Errorf("retry %s: %w", msg, errLeak)}}}, nil
	})
	ex, err := NewExtractor(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ex.Discover(ctx)
	assertMasked(t, "Discover", err.Error())
	exn, err := ex.Extract(ctx, ExtractRequest{}, nil)
	assertMasked(t, "Extract", err.Error())
	assertMasked(t, "Query", exn.Query)
	assertMasked(t, "Adjustments", exn.Adjustments[0])
	if !errors.Is(err, errLeak) {
		t.Errorf("the chain is lost: %v", err)
	}
	retries := ex.(RetryLog).TakeRetries()
	if len(retries) != 1 || !errors.Is(retries[0].Err, errLeak) {
		t.Fatalf("retries: %v", retries)
	}
	assertMasked(t, "retry", retries[0].Err.Error())
	failing := s
	failing.Settings = map[string]any{"fail": true}
	for k, v := range s.Settings {
		failing.Settings[k] = v
	}
	_, err = NewExtractor(ctx, failing)
	if err == nil || !errors.Is(err, errLeak) {
		t.Fatalf("open: %v", err)
	}
	assertMasked(t, "open", err.Error())

	// An object source: a file path that carries a signed URL's query.
	obj := Spec{Name: "objects", Type: "file", BaseDir: t.TempDir(), Path: "exports/orders.csv?X-Goog-Signature=secret-sig"}
	_, err = New(ctx, obj)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open a missing folder: %v", err)
	}
	assertMasked(t, "New", err.Error())
	dir := t.TempDir()
	src, err := New(ctx, Spec{Name: "objects", Type: "file", Path: dir, Secrets: []string{"secret-key"}})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	_, err = src.Open(ctx, "orders-secret-key.csv")
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("open a missing object: %v", err)
	}
	assertMasked(t, "Open", err.Error())
}
