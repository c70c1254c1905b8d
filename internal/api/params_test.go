package api

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// TestTriggerChecksTypedParameters: POST /api/v1/pipelines/{id}/run
// answers 400 naming the parameter when a value is not of its declared
// type, is not declared, or does not fit where the source places it (a
// path segment); good values start the run.
func TestTriggerChecksTypedParameters(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	dir := t.TempDir()
	files := map[string]string{
		"config.yaml": "project: api\npipelines:\n  orders:\n    source: db\n  files:\n    source: daily\n",
		"sources.yaml": `sources:
  db:
    type: postgres
    dsn: postgres://db.example.com/app
    query: SELECT * FROM orders WHERE id > {{params.min_id}} AND day = {{params.day}} AND tenant = {{params.tenant}} AND at > {{params.since}}
    parameters:
      min_id: int
      day: {type: date, default: "{{ds}}"}
      tenant: {type: string, pattern: "^[a-z]+$", default: acme}
      since: {type: timestamp, default: "{{ts}}"}
  daily:
    type: file
    path: data/{{params.folder}}/*.csv
`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	e.api.Service.Project = p
	op := e.keys[service.Operator]
	for _, tc := range []struct {
		pipeline string
		params   map[string]string
		field    string // "" when the run starts
	}{
		{"orders", map[string]string{"min_id": "0--"}, "parameters.min_id"},
		{"orders", map[string]string{"min_id": "1 OR 1=1"}, "parameters.min_id"},
		{"orders", map[string]string{"min_id": "5", "day": "2026-02-30"}, "parameters.day"},
		{"orders", map[string]string{"min_id": "5", "day": "2026-01-02' --"}, "parameters.day"},
		{"orders", map[string]string{"min_id": "5", "tenant": "acme' OR '1'='1"}, "parameters.tenant"},
		{"orders", map[string]string{"min_id": "5", "since": "yesterday"}, "parameters.since"},
		{"orders", map[string]string{"min_id": "5", "region": "eu"}, "parameters.region"},
		{"orders", map[string]string{}, "parameters.min_id"}, // no value, no default
		{"orders", map[string]string{"min_id": "5"}, ""},
		{"orders", map[string]string{"min_id": "-5", "day": "2026-01-02", "tenant": "globex", "since": "2026-01-02T03:04:05+02:00"}, ""},
		{"files", map[string]string{"folder": ".."}, "parameters.folder"},
		{"files", map[string]string{"folder": "2026-01-02"}, ""},
	} {
		code, h, body := e.do("POST", "/api/v1/pipelines/"+tc.pipeline+"/run", op, map[string]any{"parameters": tc.params})
		if tc.field == "" {
			if code != 202 {
				t.Errorf("%s %v: %d %s", tc.pipeline, tc.params, code, body)
			}
			continue
		}
		if pr := e.problem(code, h, body, 400, ProblemInvalid); pr.Field != tc.field {
			t.Errorf("%s %v: field %q, want %q (%s)", tc.pipeline, tc.params, pr.Field, tc.field, body)
		}
	}
	if len(e.trigger) != 3 {
		t.Fatalf("triggered %v, want the 3 good ones", e.trigger)
	}
}
