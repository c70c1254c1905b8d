package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/metadata"
)

func TestTermSafe(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain /api/v1/pipelines", "plain /api/v1/pipelines"},
		{"héllo ✓", "héllo ✓"},
		{"\x1b[2J\x1b]0;pwned\x07", `\x1b[2J\x1b]0;pwned\a`},
		{"/x\r\n2026-01-01T00:00:00Z  admin  admin  POST /forged", `/x\r\n2026-01-01T00:00:00Z  admin  admin  POST /forged`},
		{"a\tb\x00c\x7f", `a\tb\x00c\x7f`},
		{"c1 \u009b31m", `c1 \u009b31m`},
		{"evil\u202etxt.exe \u2066x\u2069", `evil\u202etxt.exe \u2066x\u2069`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
	} {
		if got := termSafe(tc.in); got != tc.want {
			t.Errorf("termSafe(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// Caller-supplied text in the audit log and in key names reaches an admin's
// terminal escaped: no escape sequence, no forged line, no bidi override.
func TestAuditAndKeysPrintEscaped(t *testing.T) {
	dir := initProject(t)
	ctx := context.Background()
	svc, err := openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, raw, want string }{
		{"esc", "/a\x1b[31mred\x1b]0;title\x07", `/a\x1b[31mred\x1b]0;title\a`},
		{"forged line", "/b\r\n2026-01-01T00:00:00Z  admin  admin  POST /api/v1/apikeys  201  10.0.0.1", `/b\r\n2026-01-01T00:00:00Z`},
		{"bidi", "/c\u202egnp.exe", `/c\u202egnp.exe`},
		{"c1", "/d\u009b2J", `/d\u009b2J`},
		{"invalid utf8", "/e\xff\xc3", `/e\xff\xc3`},
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i, tc := range cases {
		if err := svc.store.RecordAudit(ctx, metadata.AuditEntry{At: at, Principal: "anonymous" + tc.raw, Method: "POST", Path: tc.raw, Status: 401, Remote: "10.0.0.9" + tc.raw}); err != nil {
			t.Fatal(err)
		}
		if err := svc.store.CreateAPIKey(ctx, metadata.APIKey{ID: "k" + string(rune('0'+i)), Name: "key" + tc.raw, Role: "viewer", Hash: "h" + string(rune('0'+i)), CreatedBy: "by" + tc.raw, CreatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	svc.close()

	check := func(what, out string) {
		t.Helper()
		if strings.ContainsAny(out, "\x1b\x07\r\u202e\u009b") || strings.Contains(out, "\xff") {
			t.Errorf("%s prints raw control characters:\n%q", what, out)
		}
		for _, tc := range cases {
			if !strings.Contains(out, tc.want) {
				t.Errorf("%s: %s: output lacks %s:\n%s", what, tc.name, tc.want, out)
			}
		}
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			if strings.Contains(line, "2026-01-01T00:00:00Z") && !strings.Contains(line, `\r\n2026-01-01`) {
				t.Errorf("%s: a forged line: %q", what, line)
			}
		}
	}
	code, out, errOut := shp(t, "audit", "--config", dir)
	if code != 0 {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != len(cases)+1 {
		t.Errorf("audit prints %d lines for %d entries:\n%s", lines, len(cases), out)
	}
	check("audit", out)
	code, out, errOut = shp(t, "apikey", "list", "--config", dir)
	if code != 0 {
		t.Fatalf("apikey list: %d %s", code, errOut)
	}
	if lines := strings.Count(out, "\n"); lines != len(cases)+1 {
		t.Errorf("apikey list prints %d lines for %d keys:\n%s", lines, len(cases), out)
	}
	check("apikey list", out)
}

func TestAPIKeyCreateRefusesControlCharacters(t *testing.T) {
	dir := initProject(t)
	for _, name := range []string{"ci\x1b[31m", "ci\r\nforged", "ci\tx", "ci\u202e", "ci\u0085", "ci\xff"} {
		code, out, errOut := shp(t, "apikey", "create", "--config", dir, "--name", name, "--role", "viewer")
		if code == 0 || strings.HasPrefix(out, "shp_") || !strings.Contains(errOut, "name") || !strings.Contains(errOut, "control characters") {
			t.Errorf("apikey create --name %q: %d %q %q", name, code, out, errOut)
		}
	}
	if code, out, errOut := shp(t, "apikey", "create", "--config", dir, "--name", "ci — café", "--role", "viewer"); code != 0 || !strings.HasPrefix(out, "shp_") {
		t.Errorf("a printable name is refused: %d %s %s", code, out, errOut)
	}
}
