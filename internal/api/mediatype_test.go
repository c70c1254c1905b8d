package api

import (
	"net/http"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// A write whose body is declared as something other than JSON (what a
// browser sends across origins without a preflight) is refused with 415;
// JSON, a +json type, parameters and no Content-Type at all are read.
func TestWritesTakeJSONOnly(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	for _, tc := range []struct {
		contentType string
		want        int
	}{
		{"text/plain", http.StatusUnsupportedMediaType},
		{"text/plain;charset=UTF-8", http.StatusUnsupportedMediaType},
		{"application/x-www-form-urlencoded", http.StatusUnsupportedMediaType},
		{"multipart/form-data; boundary=x", http.StatusUnsupportedMediaType},
		{"application/xml", http.StatusUnsupportedMediaType},
		{"application/jsonx", http.StatusUnsupportedMediaType},
		{"not a media type", http.StatusUnsupportedMediaType},
		{"application/json", http.StatusCreated},
		{"Application/JSON; charset=utf-8", http.StatusCreated},
		{"application/merge-patch+json", http.StatusCreated},
		{"", http.StatusCreated},
	} {
		for _, path := range []string{"/api/v1/apikeys", "/api/v1/pipelines/orders/run", "/api/v1/quality/rules"} {
			body := map[string]string{
				"/api/v1/apikeys":              `{"name":"k","role":"viewer"}`,
				"/api/v1/pipelines/orders/run": `{}`,
				"/api/v1/quality/rules":        `{"pipeline":"orders","rule":{"expectation":"expect_column_values_to_not_be_null","kwargs":{"column":"region"}}}`,
			}[path]
			req, err := http.NewRequest("POST", e.srv.URL+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.keys[service.Admin])
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := tc.want
			if want == http.StatusCreated && path == "/api/v1/pipelines/orders/run" {
				want = http.StatusAccepted
			}
			if resp.StatusCode != want {
				t.Errorf("POST %s as %q: %d, want %d", path, tc.contentType, resp.StatusCode, want)
			}
			if want == http.StatusUnsupportedMediaType && resp.Header.Get("Content-Type") != "application/problem+json" {
				t.Errorf("POST %s as %q: %s, want a problem", path, tc.contentType, resp.Header.Get("Content-Type"))
			}
		}
	}
}

// A request carrying two credentials (Authorization and X-API-Key, or one
// of them twice) is refused whichever they are: a proxy could check one
// while shp used the other.
func TestOneCredentialPerRequest(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	admin, viewer := e.keys[service.Admin], e.keys[service.Viewer]
	for _, tc := range []struct {
		name    string
		headers [][2]string
		want    int
	}{
		{"bearer viewer, x-api-key admin", [][2]string{{"Authorization", "Bearer " + viewer}, {"X-API-Key", admin}}, http.StatusBadRequest},
		{"bearer admin, x-api-key viewer", [][2]string{{"Authorization", "Bearer " + admin}, {"X-API-Key", viewer}}, http.StatusBadRequest},
		{"the same key twice", [][2]string{{"Authorization", "Bearer " + admin}, {"X-API-Key", admin}}, http.StatusBadRequest},
		{"two authorization headers", [][2]string{{"Authorization", "Bearer " + viewer}, {"Authorization", "Bearer " + admin}}, http.StatusBadRequest},
		{"two x-api-key headers", [][2]string{{"X-API-Key", viewer}, {"X-API-Key", admin}}, http.StatusBadRequest},
		{"bearer admin", [][2]string{{"Authorization", "Bearer " + admin}}, http.StatusOK},
		{"x-api-key admin", [][2]string{{"X-API-Key", admin}}, http.StatusOK},
		{"bearer viewer", [][2]string{{"Authorization", "Bearer " + viewer}}, http.StatusForbidden},
	} {
		req, err := http.NewRequest("GET", e.srv.URL+"/api/v1/apikeys", nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range tc.headers {
			req.Header.Add(h[0], h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
}
