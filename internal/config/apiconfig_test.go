package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestAPIAbuseSettings: api.trusted_proxies, api.audit_retention and
// api.access_log (issue 14, items 3, 4 and 13).
func TestAPIAbuseSettings(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "sources.yaml"), []byte("sources:\n  s:\n    type: file\n    path: data/\n"), 0o644)
	write := func(api string) (*Project, error) {
		os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("project: p\npipelines:\n  a: {source: s}\n"+api), 0o644)
		return LoadDir(dir, noEnv)
	}
	p, err := write("api:\n  trusted_proxies: [10.0.0.0/8, 192.168.1.5, '::ffff:172.16.0.0/108', 2001:db8::/32]\n  audit_retention: 720h\n  access_log: true\n")
	if err != nil {
		t.Fatal(err)
	}
	a := p.Config.API
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.168.1.5/32"), netip.MustParsePrefix("172.16.0.0/12"),
		netip.MustParsePrefix("2001:db8::/32")}
	if !slices.Equal(a.TrustedProxies, want) || a.AuditRetention != 720*time.Hour || !a.AccessLog {
		t.Fatalf("api %+v", a)
	}
	if p, err = write(""); err != nil || p.Config.API.AuditRetention != 90*24*time.Hour || p.Config.API.AccessLog || p.Config.API.TrustedProxies != nil {
		t.Fatalf("defaults: %+v %v", p.Config.API, err)
	}
	if p, err = write("api: {trusted_proxies: 127.0.0.1, audit_retention: 0s}\n"); err != nil || len(p.Config.API.TrustedProxies) != 1 || p.Config.API.AuditRetention != 0 {
		t.Fatalf("one proxy, retention for ever: %+v %v", p.Config.API, err)
	}
	for _, c := range []struct{ api, want string }{
		{"api: {trusted_proxies: [10.0.0.0/8, proxy.example.com]}\n", `api.trusted_proxies[1] "proxy.example.com" is not an IP address`},
		{"api: {trusted_proxies: [10.0.0.0/33]}\n", "is not an IP address or a CIDR range"},
		{"api: {audit_retention: 90d}\n", `"90d" is not a duration`},
		{"api: {audit_retention: -1h}\n", "is not a duration"},
		{"api: {access_log: sometimes}\n", "access_log"},
	} {
		if _, err := write(c.api); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want %q", c.api, err, c.want)
		}
	}
}
