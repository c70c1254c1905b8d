package api

import (
	"context"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// A key's name is shown to admins in terminals: control characters and
// bidi overrides in it are refused, naming the field. (Invalid UTF-8 cannot
// arrive here: JSON decoding replaces it; the service refuses it for the CLI.)
func TestCreateKeyRefusesControlCharacters(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	admin := e.keys[service.Admin]
	for _, name := range []string{"ci\x1b[31m", "ci\r\nforged", "ci\tx", "ci\x7f", "ci\u009b", "ci\u202e", "ci\u2066"} {
		code, h, body := e.do("POST", "/api/v1/apikeys", admin, CreateKeyRequest{Name: name, Role: "viewer"})
		if p := e.problem(code, h, body, 400, ProblemInvalid); p.Field != "name" || !strings.Contains(p.Reason, "control characters") {
			t.Errorf("name %q: %+v", name, p)
		}
	}
	if code, _, body := e.do("POST", "/api/v1/apikeys", admin, CreateKeyRequest{Name: "ci — café", Role: "viewer"}); code != 201 {
		t.Errorf("a printable name is refused: %d %s", code, body)
	}
}

// An anonymous write's path is stored bounded.
func TestAuditCapsPath(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	long := "/api/v1/pipelines/" + strings.Repeat("é", 2000) + "/run"
	if code, _, _ := e.do("POST", long, "", nil); code != 401 {
		t.Fatalf("anonymous write: %d", code)
	}
	audit, err := e.store.ListAudit(context.Background(), 0)
	must(t, err)
	var found bool
	for _, a := range audit {
		if a.Principal == "anonymous" && strings.HasPrefix(a.Path, "/api/v1/pipelines/é") {
			found = true
			if len(a.Path) > maxAuditPath+len("...(truncated)") || !strings.HasSuffix(a.Path, "...(truncated)") || !strings.HasPrefix(long, strings.TrimSuffix(a.Path, "...(truncated)")) {
				t.Errorf("stored path: %d bytes, %q", len(a.Path), a.Path)
			}
		}
	}
	if !found {
		t.Fatalf("no audit entry for the long path: %+v", audit)
	}
}
