package apisource

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/shp-dev/shp/internal/resilience"
	"github.com/shp-dev/shp/internal/source"
)

// TestChangedShapeIsNotRetried: a response of another shape than the
// settings read fails on the first attempt with a ShapeError that names
// the URL's path (never its query), records_path and what the response
// holds instead.
func TestChangedShapeIsNotRetried(t *testing.T) {
	cases := []struct {
		name, path, recordsPath string
		typ                     string
		body, contentType       string
		want                    []string
	}{
		{name: "records_path missing", path: "/v1/orders", recordsPath: "data.items",
			body: `{"meta": {"page": 1}, "results": [{"id": 1}]}`,
			want: []string{`has no "data.items" (records_path)`, `(records_path); its top-level keys are ["meta", "results"]`}},
		{name: "envelope key renamed", path: "/v1/orders", recordsPath: "data.items",
			body: `{"data": {"records": [{"id": 1}], "total": 1}}`,
			want: []string{`has no "data.items"`, `(records_path); "data" is an object with keys ["records", "total"]`}},
		{name: "HTML page with status 200", path: "/v2/export", recordsPath: "items", contentType: "text/html; charset=utf-8",
			body: "<!DOCTYPE html>\n<html><body>Sign in</body></html>",
			want: []string{`records_path "items" has nothing to read`, "an HTML page (Content-Type text/html)"}},
		{name: "list of numbers", path: "/v1/ids", recordsPath: "items",
			body: `{"items": [1, 2, 3]}`,
			want: []string{`records_path "items" holds a list whose record 1 is a number, not an object`}},
		{name: "records_path points to an object", path: "/v1/orders", recordsPath: "data",
			body: `{"data": {"id": 1, "total": 9.5}}`,
			want: []string{`records_path "data" holds an object with keys ["id", "total"], not a list of records`}},
		{name: "body is the list, now wrapped", path: "/v1/orders", recordsPath: "",
			body: `{"items": [{"id": 1}]}`,
			want: []string{`the body (records_path is empty) holds an object with keys ["items"]`}},
		{name: "GraphQL connection renamed", path: "/graphql", recordsPath: "data.orders.nodes", typ: "graphql",
			body: `{"data": {"orders": {"edges": []}}}`,
			want: []string{`has no "data.orders.nodes"`, `"data.orders" is an object with keys ["edges"]`}},
		{name: "plain text", path: "/v1/orders", recordsPath: "items", contentType: "text/plain",
			body: "OK",
			want: []string{"not a JSON object or list (Content-Type text/plain, it starts with 'O')"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				ct := tc.contentType
				if ct == "" {
					ct = "application/json"
				}
				w.Header().Set("Content-Type", ct)
				io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			t.Setenv("SHAPE_TEST_KEY", "s3cret-key")
			typ := tc.typ
			settings := map[string]any{"url": srv.URL + tc.path + "?signature=abc123", "records_path": tc.recordsPath,
				"auth":  map[string]any{"type": "api_key", "key_env": "SHAPE_TEST_KEY", "query_param": "api_key"},
				"retry": map[string]any{"initial_interval": "1ms"}}
			if typ == "" {
				typ = "api"
			} else {
				settings["query"] = "{ orders { nodes { id } } }"
			}
			exn, _, err := extract(t, newExtractor(t, typ, settings), "")
			if err == nil {
				t.Fatal("no error")
			}
			if calls.Load() != 1 || exn == nil || exn.Attempts != 1 {
				t.Errorf("calls %d, extraction %+v: want one attempt", calls.Load(), exn)
			}
			var se *ShapeError
			var ae *resilience.AttemptsError
			if !errors.As(err, &se) || !errors.Is(err, source.ErrResponseShape) || resilience.Transient(err) ||
				!errors.As(err, &ae) || ae.Exhausted() {
				t.Fatalf("not a permanent shape error: %v", err)
			}
			msg := err.Error()
			t.Log(msg)
			if se.Path != tc.path || se.RecordsPath != tc.recordsPath || !strings.Contains(msg, "(POST "+tc.path+")") && !strings.Contains(msg, "(GET "+tc.path+")") {
				t.Errorf("path %q records_path %q: %s", se.Path, se.RecordsPath, msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			for _, secret := range []string{"s3cret", "abc123", "signature", "api_key", "?"} {
				if strings.Contains(msg, secret) {
					t.Errorf("message %q shows the query (%s)", msg, secret)
				}
			}
		})
	}
}

// TestByteOrderMarkIsRead: a JSON body that starts with a UTF-8 byte-order
// mark is JSON, not a changed shape.
func TestByteOrderMarkIsRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "\xef\xbb\xbf \n{\"items\": [{\"id\": 1}, {\"id\": 2}]}")
	}))
	defer srv.Close()
	_, sink, err := extract(t, newExtractor(t, "api", map[string]any{"url": srv.URL, "records_path": "items"}), "")
	if err != nil || ids(sink.records(t)) != "1,2" {
		t.Fatalf("%v %s", err, ids(sink.records(t)))
	}
}
