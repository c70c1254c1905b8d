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
