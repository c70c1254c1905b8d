package redact

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"syscall"
	"testing"
)

func TestText(t *testing.T) {
	for _, c := range []struct {
		name, in, want string
	}{
		{"userinfo", "https://ana:hunter2@api.example.com/v1", "https://ana:REDACTED@api.example.com/v1"},
		{"user without password", "https://ana@api.example.com/v1", "https://ana@api.example.com/v1"},
		{"password with @", "postgres://u:p@ss@db:5432/app", "postgres://u:REDACTED@db:5432/app"},
		{"secret query params", "https://a.example.com/x?access_token=t1&page=2&api_key=k1&per_page=100",
			"https://a.example.com/x?access_token=REDACTED&page=2&api_key=REDACTED&per_page=100"},
		{"case and encoded names", "https://a/x?Access%5FToken=t1&X-Goog-Signature=abc%3D%3D&X-Amz-Credential=AKIA%2F2026",
			"https://a/x?Access%5FToken=REDACTED&X-Goog-Signature=REDACTED&X-Amz-Credential=REDACTED"},
		{"encoded value", "https://a/x?token=a%26b%3Dc&q=1", "https://a/x?token=REDACTED&q=1"},
		{"repeated param", "https://a/x?sig=one&sig=two&sig=", "https://a/x?sig=REDACTED&sig=REDACTED&sig="},
		{"fragment", "https://a/cb#access_token=t1&state=s", "https://a/cb#access_token=REDACTED&state=s"},
		{"no scheme", "api.example.com/v1?apikey=k1", "api.example.com/v1?apikey=REDACTED"},
		{"dsn params", "postgres://shp:pw1@db/app?sslmode=require&password=pw2&sslpassword=pw3",
			"postgres://shp:REDACTED@db/app?sslmode=require&password=REDACTED&sslpassword=REDACTED"},
		{"key=value dsn", "host=db user=shp password=pw1 dbname=app", "host=db user=shp password=REDACTED dbname=app"},
		{"quoted key=value", "host=db password='p w' dbname=app", "host=db password=REDACTED dbname=app"},
		{"mysql dsn", "shp:pw1@tcp(db:3306)/app?parseTime=true", "shp:REDACTED@tcp(db:3306)/app?parseTime=true"},
		{"mysql dsn without address", "dsn shp:pw1@/app", "dsn shp:REDACTED@/app"},
		{"url.Error message", `Get "https://u:p1@a/x?token=t1&page=1": dial tcp: connection refused`,
			`Get "https://u:REDACTED@a/x?token=REDACTED&page=1": dial tcp: connection refused`},
		{"text with two URLs", "page 2 (GET https://a/x?key=k1) after https://b/y?sig=s1, giving up",
			"page 2 (GET https://a/x?key=REDACTED) after https://b/y?sig=REDACTED, giving up"},
		{"closing parenthesis and colon", "page 1 (POST https://a/graphql?token=t1): GraphQL errors: bad",
			"page 1 (POST https://a/graphql?token=REDACTED): GraphQL errors: bad"},
		{"header in text", "request had Authorization: Bearer abc.def\nnext line", "request had Authorization: REDACTED\nnext line"},
		{"secret X- header", `X-Api-Key: k1`, `X-Api-Key: REDACTED`},
		{"other X- header", `X-Request-Id: r1`, `X-Request-Id: r1`},
		{"nothing secret", "https://a.example.com/v1/orders?status=open&page=3", "https://a.example.com/v1/orders?status=open&page=3"},
		{"plain text", "extract GET https://a/x: 3 attempts", "extract GET https://a/x: 3 attempts"},
		{"port is no password", "http://127.0.0.1:8080/x?page=1", "http://127.0.0.1:8080/x?page=1"},
		{"email in query", "https://a/x?email=a@b.example", "https://a/x?email=a@b.example"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Text(c.in); got != c.want {
				t.Errorf("Text(%q)\n = %q\nwant %q", c.in, got, c.want)
			}
		})
	}
}

func TestRedactorSecretsAndParams(t *testing.T) {
	r := New("PLANTED-2", "a b&c", "abc").WithParams("status", "Region")
	for _, c := range []struct{ in, want string }{
		{"https://a/x?status=open&region=eu&page=1", "https://a/x?status=REDACTED&region=REDACTED&page=1"},
		{"server said: unknown value PLANTED-2 for q", "server said: unknown value REDACTED for q"},
		{"https://a/x?q=a+b%26c and a%20b&c", "https://a/x?q=REDACTED and REDACTED"},
		// A named parameter is masked in URLs only, not in prose.
		{"the status=open filter", "the status=open filter"},
		// Three-byte literals are too short to mask everywhere.
		{"abc", "abc"},
	} {
		if got := r.Text(c.in); got != c.want {
			t.Errorf("Text(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	if New().WithParams("x") == nil || (*Redactor)(nil).Text("k=v") != "k=v" {
		t.Error("nil Redactor")
	}
}

func TestURL(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"ana:pw1@db.example.com/app", "ana:REDACTED@db.example.com/app"},
		{"https://ana:pw1@a/x?token=t", "https://ana:REDACTED@a/x?token=REDACTED"},
		{"gs://bucket/exports/orders.csv?X-Goog-Signature=s1&X-Goog-Date=20260101", "gs://bucket/exports/orders.csv?X-Goog-Signature=REDACTED&X-Goog-Date=20260101"},
		{"data/orders.csv?sv=2024&sig=s1&se=2026", "data/orders.csv?sv=2024&sig=REDACTED&se=2026"},
	} {
		if got := URL(c.in); got != c.want {
			t.Errorf("URL(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSecretName(t *testing.T) {
	for _, n := range []string{"token", "access_token", "API_KEY", "apikey", "client_secret", "password", "sslpassword", "passwd", "pwd",
		"X-Goog-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "sig", "Authorization", "Cookie", "session_id", "credentials"} {
		if !SecretName(n) {
			t.Errorf("SecretName(%q) = false", n)
		}
	}
	for _, n := range []string{"page", "per_page", "status", "since", "cursor", "X-Request-Id", "Accept", "updated_since"} {
		if SecretName(n) {
			t.Errorf("SecretName(%q) = true", n)
		}
	}
}

func TestSecretsIn(t *testing.T) {
	got := SecretsIn("postgres://u:p%40w@h/db?password=x1&sslmode=disable host=h password='q 1'")
	want := []string{"p%40w", "p@w", "x1", "'q 1'", "q 1"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SecretsIn = %q, want %q", got, want)
	}
}

func TestHeader(t *testing.T) {
	h := http.Header{"Authorization": {"Bearer t1"}, "X-Api-Key": {"k1"}, "Cookie": {"s=1"}, "Accept": {"application/json"},
		"Referer": {"https://a/x?token=t2"}}
	got := New("t1").Header(h)
	for k, want := range map[string]string{"Authorization": Mask, "X-Api-Key": Mask, "Cookie": Mask, "Accept": "application/json",
		"Referer": "https://a/x?token=REDACTED"} {
		if got.Get(k) != want {
			t.Errorf("%s: %q, want %q", k, got.Get(k), want)
		}
	}
	if h.Get("Authorization") != "Bearer t1" {
		t.Error("Header changed its argument")
	}
}

// TestErrorKeepsChain: a masked error still is what it was for errors.Is
// and errors.As, and the *url.Error inside shows the masked URL too.
func TestErrorKeepsChain(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hj, _ := w.(http.Hijacker)
		c, _, _ := hj.Hijack()
		c.Close()
	}))
	defer srv.Close()
	_, err := http.Get(srv.URL + "/x?access_token=PLANTED1&page=1")
	if err == nil {
		t.Fatal("no error")
	}
	err = fmt.Errorf("page 1: %w", err)
	masked := New().Error(err)
	if strings.Contains(masked.Error(), "PLANTED1") || !strings.Contains(masked.Error(), "access_token=REDACTED&page=1") {
		t.Errorf("masked: %v", masked)
	}
	var ue *url.Error
	if !errors.As(masked, &ue) || strings.Contains(ue.URL, "PLANTED1") {
		t.Errorf("url.Error not found or not masked: %v", ue)
	}
	if !errors.Is(masked, io.EOF) && !errors.Is(masked, syscall.ECONNRESET) {
		t.Errorf("the cause is lost: %#v", masked)
	}
	plain := errors.New("nothing secret")
	if New("zzzz").Error(plain) != plain || Error(nil) != nil {
		t.Error("an error without secrets is not returned as it is")
	}
	sentinel := errors.New("boom")
	if e := New("PLANTED9").Error(fmt.Errorf("with PLANTED9: %w", sentinel)); !errors.Is(e, sentinel) || e.Error() != "with REDACTED: boom" {
		t.Errorf("got %v", e)
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewTextHandler(&buf, nil), New("PLANTED3"))).With("url", "https://a/x?token=t1")
	log.Info("calling PLANTED3", "err", errors.New("bad key PLANTED3"), slog.Group("req", "q", "sig=s1"), "n", 3,
		"list", []string{"PLANTED3"})
	out := buf.String()
	for _, leak := range []string{"PLANTED3", "t1", "s1"} {
		if strings.Contains(out, leak) {
			t.Errorf("log shows %q: %s", leak, out)
		}
	}
	if !strings.Contains(out, "n=3") || !strings.Contains(out, "token=REDACTED") {
		t.Errorf("log: %s", out)
	}
	if !NewHandler(slog.NewTextHandler(io.Discard, nil), nil).Enabled(context.Background(), slog.LevelInfo) {
		t.Error("Enabled")
	}
}
