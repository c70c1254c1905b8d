package cli

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/api"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// TestServeAccessLog: shp serve writes an access log line per request,
// in its structured log format, under --verbose or api.access_log, and
// none otherwise (issue 14, item 13).
func TestServeAccessLog(t *testing.T) {
	p, err := loadProject(initProject(t))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name             string
		verbose, setting bool
		want             bool
	}{
		{"neither", false, false, false},
		{"verbose", true, false, true},
		{"api.access_log", false, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr bytes.Buffer
			e := &env{stdout: &bytes.Buffer{}, stderr: &stderr, verbose: tc.verbose}
			cfg := p.Config.API
			cfg.AccessLog = tc.setting
			srv := &api.Server{Service: &service.Service{Project: p}, Config: cfg, Logger: e.logger(), AccessLog: accessLogger(e, cfg)}
			stop, bound, err := serveAPI(context.Background(), e, srv, "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Get("http://" + bound + "/healthz?token=s3cret")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			stop()
			out := stderr.String()
			logged := strings.Contains(out, "msg=request")
			if logged != tc.want {
				t.Fatalf("access log written: %v, want %v:\n%s", logged, tc.want, out)
			}
			if !tc.want {
				return
			}
			for _, f := range []string{"level=INFO", "method=GET", "path=/healthz", "query=token", "status=200", "duration_ms=", "bytes=", "caller=anonymous", "remote=127.0.0.1"} {
				if !strings.Contains(out, f) {
					t.Errorf("no %s in %s", f, out)
				}
			}
			if strings.Contains(out, "s3cret") {
				t.Errorf("a query value in the access log: %s", out)
			}
		})
	}
}

// TestAuditAnonymousFlag: shp audit shows authenticated callers' entries
// unless --anonymous asks for the aggregated anonymous ones (issue 14,
// item 4).
func TestAuditAnonymousFlag(t *testing.T) {
	dir := initProject(t)
	ctx := context.Background()
	svc, err := openStore(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := svc.store.RecordAudit(ctx, metadata.AuditEntry{At: at, Principal: "key:k1 (ci)", Role: "operator", Method: "POST", Path: "/api/v1/pipelines/p/run", Status: 202, Remote: "10.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := svc.store.RecordAudit(ctx, metadata.AuditEntry{At: at, Principal: metadata.AnonymousPrincipal, Method: "POST", Path: "/api/v1/apikeys", Status: 401,
		Remote: "203.0.113.7", Detail: "invalid credentials", Count: 412, LastAt: at.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	svc.close()
	for _, tc := range []struct {
		args       []string
		want, lack []string
	}{
		{nil, []string{"key:k1 (ci)", "202"}, []string{"anonymous", "412"}},
		{[]string{"--anonymous", "only"}, []string{"anonymous", "401 (invalid credentials)", "203.0.113.7", "412 until 2026-01-02T03:05:05Z"}, []string{"key:k1"}},
		{[]string{"--anonymous", "include"}, []string{"key:k1 (ci)", "412 until"}, nil},
	} {
		code, out, errOut := shp(t, append([]string{"audit", "--config", dir}, tc.args...)...)
		if code != 0 {
			t.Fatalf("audit %v: %d %s", tc.args, code, errOut)
		}
		for _, w := range tc.want {
			if !strings.Contains(out, w) {
				t.Errorf("audit %v: no %q in\n%s", tc.args, w, out)
			}
		}
		for _, l := range tc.lack {
			if strings.Contains(out, l) {
				t.Errorf("audit %v: %q in\n%s", tc.args, l, out)
			}
		}
	}
	if code, _, errOut := shp(t, "audit", "--config", dir, "--anonymous", "maybe"); code == 0 || !strings.Contains(errOut, "anonymous") {
		t.Fatalf("--anonymous maybe: %d %s", code, errOut)
	}
}
