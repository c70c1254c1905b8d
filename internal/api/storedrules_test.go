package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/service"
)

// TestRulesAreCheckedWhenStored: what would fail every run is refused
// when a rule is stored, with the kwarg named in the problem's field: a
// regular expression DuckDB's RE2 cannot compile, a bound of the wrong
// type for the column (orders' id is INTEGER, region STRING), an unknown
// kwarg. The valid forms are stored.
func TestRulesAreCheckedWhenStored(t *testing.T) {
	e := newEnv(t, metadata.KindSQLite, nil)
	admin := e.keys[service.Admin]
	type kw = map[string]any
	for _, tc := range []struct {
		expectation string
		kwargs      kw
		field       string // "" when the rule is stored
	}{
		{"expect_column_values_to_match_regex", kw{"column": "region", "regex": `(a)\1`}, "rule.kwargs.regex"},
		{"expect_column_values_to_not_match_regex", kw{"column": "region", "regex": `(a)\1`}, "rule.kwargs.regex"},
		{"expect_column_values_to_match_regex_list", kw{"column": "region", "regex_list": []any{"^E", `(?=A)`}}, "rule.kwargs.regex_list"},
		{"expect_column_values_to_not_match_regex_list", kw{"column": "region", "regex_list": []any{`(?<!x)y`}}, "rule.kwargs.regex_list"},
		{"expect_column_values_to_match_regex", kw{"column": "region", "regex": `^[A-Z]{4}$`}, ""},
		{"expect_column_values_to_match_regex_list", kw{"column": "region", "regex_list": []any{"^E", "^A"}}, ""},

		{"expect_column_values_to_be_between", kw{"column": "id", "min_value": "abc"}, "rule.kwargs.min_value"},
		{"expect_column_values_to_be_between", kw{"column": "id", "min_value": 1, "max_value": "abc"}, "rule.kwargs.max_value"},
		{"expect_column_min_to_be_between", kw{"column": "id", "min_value": "2026-01-01"}, "rule.kwargs.min_value"},
		{"expect_column_max_to_be_between", kw{"column": "id", "max_value": map[string]any{"$PARAMETER": "now()"}}, "rule.kwargs.max_value"},
		{"expect_column_median_to_be_between", kw{"column": "id", "min_value": "abc"}, "rule.kwargs.min_value"},
		{"expect_column_values_to_be_between", kw{"column": "region", "min_value": 5}, "rule.kwargs.min_value"},
		{"expect_column_value_lengths_to_be_between", kw{"column": "region", "min_value": "abc"}, "rule.kwargs.min_value"},
		{"expect_column_mean_to_be_between", kw{"column": "id", "max_value": "abc"}, "rule.kwargs.max_value"},
		{"expect_table_row_count_to_be_between", kw{"min_value": "abc"}, "rule.kwargs.min_value"},
		{"expect_column_values_to_be_between", kw{"column": "id", "min_value": 1, "max_value": 10}, ""},
		{"expect_column_values_to_be_between", kw{"column": "id", "min_value": map[string]any{"$PARAMETER": "2 * 5"}}, ""},
		{"expect_column_values_to_be_between", kw{"column": "region", "min_value": "A", "max_value": "M"}, ""},
		{"expect_column_value_lengths_to_be_between", kw{"column": "region", "min_value": 2, "max_value": 8}, ""},

		{"expect_column_values_to_not_be_null", kw{"column": "id", "mostlyy": 0.9}, "rule.kwargs.mostlyy"},
		{"expect_column_values_to_be_in_set", kw{"column": "region", "value_set": []any{"EMEA"}, "mostlyy": 0.9}, "rule.kwargs.mostlyy"},
		{"expect_column_values_to_be_between", kw{"column": "id", "min_value": 1, "mostlyy": 0.9}, "rule.kwargs.mostlyy"},
		{"expect_column_values_to_match_regex", kw{"column": "region", "regex": "^E", "mostlyy": 0.9}, "rule.kwargs.mostlyy"},
		{"expect_table_row_count_to_be_between", kw{"min_value": 1, "mostly": 0.9}, "rule.kwargs.mostly"},
		{"expect_column_values_to_not_be_null", kw{"column": "id", "mostly": 0.9, "result_format": "SUMMARY", "catch_exceptions": true}, ""},
	} {
		name := fmt.Sprintf("%s %v", tc.expectation, tc.kwargs)
		body := map[string]any{"pipeline": "orders", "rule": map[string]any{"expectation": tc.expectation, "kwargs": tc.kwargs}}
		code, h, out := e.do("POST", "/api/v1/quality/rules", admin, body)
		if tc.field == "" {
			if code != http.StatusCreated {
				t.Errorf("%s: %d %s, want it stored", name, code, out)
			}
			continue
		}
		if code != http.StatusBadRequest {
			t.Errorf("%s: %d %s, want 400 at %s", name, code, out, tc.field)
			continue
		}
		p := e.problem(code, h, out, 400, ProblemInvalid)
		kwarg := tc.field[strings.LastIndexByte(tc.field, '.')+1:]
		if p.Field != tc.field || !strings.Contains(p.Detail, kwarg) {
			t.Errorf("%s: field %q detail %q, want field %s", name, p.Field, p.Detail, tc.field)
		}
	}
}

// TestStoredRulesAreParsedOncePerChange: reading a pipeline parses its
// stored rules when they changed, not per request; a rule added (here or
// by another process) is seen on the next read.
func TestStoredRulesAreParsedOncePerChange(t *testing.T) {
	forEachStore(t, func(t *testing.T, kind string) {
		e := newEnv(t, kind, nil)
		svc := e.api.Service
		ctx := context.Background()
		set := make([]string, 20000)
		for i := range set {
			set[i] = fmt.Sprintf("R%06d", i)
		}
		rule, _ := json.Marshal(map[string]any{"expectation": "expect_column_values_to_be_in_set", "name": "known_region",
			"kwargs": map[string]any{"column": "region", "value_set": set}})
		if _, err := e.store.AddQualityRules(ctx, []metadata.StoredRule{{Pipeline: "orders", Rule: string(rule), CreatedBy: "test"}}); err != nil {
			t.Fatal(err)
		}
		names := func() []string {
			var v service.PipelineView
			e.get("/api/v1/pipelines/orders", service.Viewer, &v)
			return v.Quality.Rules
		}
		before := svc.StoredRuleParses()
		for i := 0; i < 5; i++ {
			if got := names(); len(got) != 2 || got[1] != "known_region" {
				t.Fatalf("rules %v", got)
			}
		}
		if n := svc.StoredRuleParses() - before; n != 1 {
			t.Fatalf("5 reads parsed %d stored rules, want 1 (the rule once)", n)
		}
		// Listing the rules shares the parse.
		var rules RulesResponse
		e.get("/api/v1/quality/rules?pipeline=orders", service.Viewer, &rules)
		if n := svc.StoredRuleParses() - before; n != 1 || len(rules.Items[0].Rules) != 2 {
			t.Fatalf("listing: %d parses, %d rules", n, len(rules.Items[0].Rules))
		}
		// A rule added through the API, then one by another process.
		code, _, body := e.do("POST", "/api/v1/quality/rules", e.keys[service.Admin], map[string]any{"pipeline": "orders",
			"rule": map[string]any{"expectation": "expect_column_values_to_not_be_null", "kwargs": map[string]any{"column": "region"}, "name": "region_set"}})
		if code != http.StatusCreated {
			t.Fatalf("add: %d %s", code, body)
		}
		if got := names(); len(got) != 3 || got[2] != "region_set" {
			t.Fatalf("after adding: %v", got)
		}
		other, _ := json.Marshal(map[string]any{"expectation": "expect_column_values_to_be_unique", "kwargs": map[string]any{"column": "id"}, "name": "id_unique"})
		if _, err := e.store.AddQualityRules(ctx, []metadata.StoredRule{{Pipeline: "orders", Rule: string(other)}}); err != nil {
			t.Fatal(err)
		}
		mid := svc.StoredRuleParses()
		for i := 0; i < 3; i++ {
			if got := names(); len(got) != 4 || got[3] != "id_unique" {
				t.Fatalf("after another process added one: %v", got)
			}
		}
		if n := svc.StoredRuleParses() - mid; n != 3 {
			t.Fatalf("3 reads after a change parsed %d stored rules, want 3 (each rule once)", n)
		}
	})
}

// BenchmarkGetPipelineLargeValueSet reads a pipeline one of whose stored
// rules holds a 200,000-value set, as GET /api/v1/pipelines/{id} does.
func BenchmarkGetPipelineLargeValueSet(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	for name, body := range map[string]string{
		"config.yaml":        projectConfig,
		"sources.yaml":       "sources:\n  files:\n    type: file\n    path: data/*.csv\n    schema: schema.json\n  db:\n    type: postgres\n    dsn: postgres://db.example.com/app\n    table: events\n  feed:\n    type: api\n    url: https://api.example.com/v1/items\n",
		"schema.json":        `[{"name":"id","type":"INTEGER"},{"name":"region","type":"STRING"}]`,
		"quality_rules.yaml": projectRules,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	p, err := config.LoadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	store, err := metadata.Open(ctx, metadata.KindSQLite, filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	svc := &service.Service{Project: p, Store: store}
	key, _, err := svc.CreateKey(ctx, "bench", service.Viewer, 0, "bench")
	if err != nil {
		b.Fatal(err)
	}
	set := make([]string, 200000)
	for i := range set {
		set[i] = fmt.Sprintf("R%07d", i)
	}
	rule, _ := json.Marshal(map[string]any{"expectation": "expect_column_values_to_be_in_set", "kwargs": map[string]any{"column": "region", "value_set": set}})
	if _, err := store.AddQualityRules(ctx, []metadata.StoredRule{{Pipeline: "orders", Rule: string(rule), CreatedAt: time.Now()}}); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer((&Server{Service: svc, Config: config.API{}}).Handler())
	defer srv.Close()
	get := func() {
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/pipelines/orders", nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var v service.PipelineView
		err = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || len(v.Quality.Rules) != 2 {
			b.Fatalf("%d %v %+v", resp.StatusCode, err, v)
		}
	}
	get()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		get()
	}
}
