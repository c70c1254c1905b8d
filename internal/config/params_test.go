package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/params"
)

// loadSources loads a project with one pipeline p1 on source s.
func loadSources(t *testing.T, sources string) (*Project, error) {
	t.Helper()
	dir := writeProject(t, map[string]string{"config.yaml": okConfig + "    mode: merge\n    key: [id]\n", "sources.yaml": sources})
	return LoadDir(dir, noEnv)
}

// TestParameterDeclarations reads declared parameters, and reports each
// problem with a declaration or a reference at its position.
func TestParameterDeclarations(t *testing.T) {
	p, err := loadSources(t, `sources:
  s:
    type: postgres
    dsn: postgres://db/app
    query: SELECT * FROM t WHERE id > {{params.min_id}} AND day = {{params.day}} AND tenant = '{{params.tenant}}'
    parameters:
      min_id: int
      day: {type: date, default: "{{ds}}"}
      tenant: {type: string, pattern: "^[a-z]+$"}
      ratio: {type: FLOAT, default: 0.5}
`)
	if err != nil {
		t.Fatal(err)
	}
	d := p.Sources["s"].Parameters
	if len(d) != 4 || d["min_id"].Type != params.Int || d["day"].Default != "{{ds}}" || !d["day"].HasDefault ||
		d["tenant"].Pattern.String() != "^[a-z]+$" || d["ratio"].Type != params.Float || d["ratio"].Default != "0.5" {
		t.Fatalf("declarations %+v", d)
	}
	if _, ok := p.Sources["s"].Settings["parameters"]; ok {
		t.Fatal("parameters is no connector setting")
	}

	const db = "sources:\n  s:\n    type: postgres\n    dsn: x\n"
	for _, tc := range []struct{ name, sources, want string }{
		{"unknown type", db + "    table: t\n    parameters:\n      n: integer\n",
			`sources.yaml:7:10: source "s": parameters.n: type "integer" is unknown (string, int, float, bool, date, timestamp)`},
		{"type missing", db + "    table: t\n    parameters:\n      n: {default: 1}\n",
			`sources.yaml:7:7: source "s": missing required key "parameters.n.type"`},
		{"unknown key", db + "    table: t\n    parameters:\n      n: {type: int, min: 1}\n",
			`sources.yaml:7:22: unknown key "min" in parameters.n of source "s"`},
		{"pattern on an int", db + "    table: t\n    parameters:\n      n: {type: int, pattern: x}\n",
			`sources.yaml:7:22: source "s": parameters.n.pattern is for type string, not int`},
		{"bad pattern", db + "    table: t\n    parameters:\n      n: {type: string, pattern: \"(\"}\n",
			"sources.yaml:7:34: source \"s\": parameters.n.pattern \"(\" is not a valid RE2 expression: error parsing regexp: missing closing ): `(`"},
		{"bad default", db + "    table: t\n    parameters:\n      n: {type: int, default: ten}\n",
			`sources.yaml:7:31: source "s": parameters.n.default "ten": must be an integer (int), got "ten"`},
		{"default outside the pattern", db + "    table: t\n    parameters:\n      n: {type: string, pattern: \"[a-z]+\", default: \"{{ds}}\"}\n",
			`sources.yaml:7:53: source "s": parameters.n.default "{{ds}}": must match the pattern [a-z]+, got "2026-01-02"`},
		{"default of a parameter", db + "    table: t\n    parameters:\n      n: {type: int, default: \"{{params.m}}\"}\n",
			`sources.yaml:7:31: source "s": parameters.n.default may use the logical date ({{ds}}, {{ts}} ...), not other parameters`},
		{"bad name", db + "    table: t\n    parameters:\n      1n: int\n",
			`sources.yaml:7:7: source "s": parameter name "1n" is not valid: use letters, digits and _, not starting with a digit, at most 64`},
		{"undeclared reference", db + "    query: SELECT {{params.n}}, {{params.m}}\n    parameters:\n      n: int\n",
			`sources.yaml:5:12: source "s": query: {{params.m}} is not declared in parameters (declared: n)`},
		{"reference among a string's text", db + "    query: SELECT * FROM t WHERE a LIKE '%{{params.n}}%'\n",
			`sources.yaml:5:12: source "s": query: parameter n stands inside the string '%{{params.n}}%' among other text: a parameter is bound as a whole value; write it alone, as {{params.n}} or '{{params.n}}', and build the text in SQL, such as '%' || {{params.n}} || '%'`},
		{"reference as a name", "sources:\n  s:\n    type: mysql\n    dsn: x\n    query: SELECT `{{params.n}}` FROM t\n",
			"sources.yaml:5:12: source \"s\": query: parameter n stands inside the quoted name `{{params.n}}`: a parameter is a value, never the name of a column or table"},
		{"cloudsql mysql string", "sources:\n  s:\n    type: cloudsql\n    engine: mysql\n    dsn: x\n    query: SELECT * FROM t WHERE a = 'x{{params.n}}'\n",
			`sources.yaml:6:12: source "s": query: parameter n stands inside the string 'x{{params.n}}' among other text: a parameter is bound as a whole value; write it alone, as {{params.n}} or '{{params.n}}', and build the text in SQL, such as CONCAT('%', {{params.n}}, '%')`},
		{"graphql query", "sources:\n  s:\n    type: graphql\n    url: https://api.example.com/graphql\n    records_path: data.x\n    query: \"{ orders(tenant: \\\"{{params.t}}\\\") { id } }\"\n",
			`sources.yaml:6:12: source "s": query: {{params.t}} cannot stand in a GraphQL query, where a value could change the query: write $t in the query and pass it in variables, as {t: "{{params.t}}"}`},
		{"url fragment", "sources:\n  s:\n    type: api\n    url: https://api.example.com/v1#{{params.t}}\n",
			`sources.yaml:4:10: source "s": url: parameter t stands in the fragment of the URL "https://api.example.com/v1#{{params.t}}": a parameter may only stand in its path or its query string`},
		{"undeclared in a path", "sources:\n  s:\n    type: file\n    path: data/{{params.day}}/\n    parameters: {region: string}\n",
			`sources.yaml:4:11: source "s": path: {{params.day}} is not declared in parameters (declared: region)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadSources(t, tc.sources)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("got  %v\nwant %s", err, tc.want)
			}
		})
	}
}

// TestTemplatedPlacesParameters templates each kind of source: a value is
// bound in a SQL query, one segment in a path, escaped in a URL, typed in
// a JSON body; a trigger is checked against the declarations.
func TestTemplatedPlacesParameters(t *testing.T) {
	p, err := loadSources(t, `sources:
  s:
    type: file
    path: data/{{params.region}}/{{ds}}/*.csv
  typed:
    type: file
    path: data/{{params.day}}/
    parameters:
      day: {type: date, default: "{{ds}}"}
  db:
    type: postgres
    dsn: postgres://db/app
    query: SELECT * FROM t_{{ds_nodash}} WHERE id > {{params.min_id}} AND tenant = '{{params.tenant}}'
    parameters:
      min_id: int
      tenant: {type: string, pattern: "[a-z]+", default: acme}
  sharded:
    type: mysql
    dsn: x
    table: events_{{params.shard}}
  bucket:
    type: gcs
    bucket: acme-exports
    path: "exports/{{params.region}}/*.csv"
    parameters:
      region: string
  gql:
    type: graphql
    url: https://api.example.com/graphql
    records_path: data.orders
    query: "query($n: Int, $t: String) { orders(first: $n, tenant: $t) { id } }"
    variables: {n: "{{params.n}}", t: "{{params.t}}"}
    parameters: {n: int, t: string}
  feed:
    type: api
    url: https://api.example.com/v1/{{params.tenant}}/orders?since={{params.since}}
    params: {q: "{{params.q}}"}
    body: {limit: "{{params.limit}}", note: "n={{params.limit}}"}
    method: POST
    parameters:
      tenant: string
      since: timestamp
      q: string
      limit: int
`)
	if err != nil {
		t.Fatal(err)
	}
	logical := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	templ := func(src string, given map[string]string, strict bool) (*Source, error) {
		return p.Sources[src].Templated(logical, given, strict)
	}
	// A file path takes one segment.
	s, err := templ("s", map[string]string{"region": "eu"}, true)
	if err != nil || s.Path != "data/eu/2026-03-04/*.csv" {
		t.Fatalf("path %q %v", s.Path, err)
	}
	for v, want := range map[string]string{"..": "would climb out of its folder", "a/b": `may hold letters, digits and . _ : - only`} {
		_, err := templ("s", map[string]string{"region": v}, true)
		var pe *params.Error
		if !errors.As(err, &pe) || pe.Name != "region" || !strings.Contains(err.Error(), want) {
			t.Errorf("region %q: %v", v, err)
		}
	}
	if _, err := templ("s", nil, false); err == nil || err.Error() != "parameter region has no value: give it when the run is triggered "+
		"(--param region=VALUE, or parameters in the API's trigger) (in path of source s)" {
		t.Errorf("no value: %v", err)
	}
	// A declared date, with its default, and refused values.
	if s, err := templ("typed", nil, true); err != nil || s.Path != "data/2026-03-04/" {
		t.Fatalf("default: %q %v", s.Path, err)
	}
	for given, want := range map[string]string{
		"day=..":          `parameter day must be a date YYYY-MM-DD (date), got ".."`,
		"other=x":         "parameter other is not declared by source typed (declared: day)",
		"day=2026-13-01":  `parameter day must be a date YYYY-MM-DD (date), got "2026-13-01"`,
		"day=2026-01-02x": `parameter day must be a date YYYY-MM-DD (date), got "2026-01-02x"`,
	} {
		k, v, _ := strings.Cut(given, "=")
		if _, err := templ("typed", map[string]string{k: v}, true); err == nil || err.Error() != want {
			t.Errorf("%s: %v, want %s", given, err, want)
		}
	}
	// Not strict (a downstream run): parameters the source does not
	// declare are left out.
	if _, err := templ("typed", map[string]string{"other": "x y"}, false); err != nil {
		t.Errorf("lenient: %v", err)
	}
	// A SQL query keeps its references, bound to typed values.
	s, err = templ("db", map[string]string{"min_id": "10"}, true)
	if err != nil || s.Settings["query"] != "SELECT * FROM t_20260304 WHERE id > {{params.min_id}} AND tenant = '{{params.tenant}}'" ||
		s.Bound["min_id"] != (params.Value{Type: params.Int, Text: "10", Declared: true}) || s.Bound["tenant"].Text != "acme" {
		t.Fatalf("query %v %+v %v", s.Settings["query"], s.Bound, err)
	}
	if _, err := templ("db", map[string]string{"min_id": "0--"}, true); err == nil || err.Error() != `parameter min_id must be an integer (int), got "0--"` {
		t.Errorf("0--: %v", err)
	}
	if _, err := templ("db", nil, true); err == nil || !strings.Contains(err.Error(), "parameter min_id has no value") {
		t.Errorf("no min_id: %v", err)
	}
	// A table name takes letters, digits and _.
	if s, err := templ("sharded", map[string]string{"shard": "eu_1"}, true); err != nil || s.Settings["table"] != "events_eu_1" {
		t.Fatalf("table %v %v", s.Settings["table"], err)
	}
	if _, err := templ("sharded", map[string]string{"shard": "a.b"}, true); err == nil ||
		err.Error() != `parameter shard may hold letters, digits and _ only in a table name, got "a.b" (in table of source sharded)` {
		t.Errorf("table a.b: %v", err)
	}
	// An object path takes one segment too, whatever the declared string.
	if s, err := templ("bucket", map[string]string{"region": "eu west"}, true); err != nil || s.Path != "exports/eu west/*.csv" {
		t.Fatalf("gcs path %q %v", s.Path, err)
	}
	for _, v := range []string{"..", "eu/../../secret", "%2e%2e", "*", ""} {
		if _, err := templ("bucket", map[string]string{"region": v}, true); err == nil || !strings.HasPrefix(err.Error(), "parameter region ") {
			t.Errorf("gcs region %q: %v", v, err)
		}
	}
	// GraphQL variables take the values as JSON has them.
	s, err = templ("gql", map[string]string{"n": "10", "t": `a" } evil {`}, true)
	if err != nil {
		t.Fatal(err)
	}
	if vars := s.Settings["variables"].(map[string]any); vars["n"] != int64(10) || vars["t"] != `a" } evil {` ||
		s.Settings["query"] != "query($n: Int, $t: String) { orders(first: $n, tenant: $t) { id } }" {
		t.Fatalf("graphql %v", s.Settings)
	}
	// An API: the URL's path segment and query value are escaped, the
	// body's lone reference is typed.
	s, err = templ("feed", map[string]string{"tenant": "a b", "since": "2026-01-02T03:04:05+01:00", "q": "x&y=1", "limit": "5"}, true)
	if err != nil {
		t.Fatal(err)
	}
	body := s.Settings["body"].(map[string]any)
	if s.Settings["url"] != "https://api.example.com/v1/a%20b/orders?since=2026-01-02T02%3A04%3A05Z" ||
		s.Settings["params"].(map[string]any)["q"] != "x&y=1" || body["limit"] != int64(5) || body["note"] != "n=5" {
		t.Fatalf("api %v %v %v", s.Settings["url"], s.Settings["params"], body)
	}
	if _, err := templ("feed", map[string]string{"tenant": "..", "since": "2026-01-02T03:04:05Z", "q": "", "limit": "1"}, true); err == nil ||
		!strings.Contains(err.Error(), "parameter tenant is \"..\", which would climb out of its folder") {
		t.Errorf("url ..: %v", err)
	}
}
