package config

import (
	"fmt"
	"slices"
	"testing"
)

// TestSourceSecrets: a value from the environment is a secret of its
// source where credentials travel (params, headers, a URL's user
// information or query, a DSN) or when its variable's name looks secret;
// a host or a path from the environment, or a default, is not.
func TestSourceSecrets(t *testing.T) {
	env := mapEnv(map[string]string{
		"API_HOST": "api.example.com", "Q": "secret-in-query", "P": "secret-in-params", "H": "secret-in-header",
		"SHOP_TOKEN": "named-token", "DSN": "postgres://u:pw@db/app", "TABLE": "public.orders", "USER": "reader",
		"SIG": "signature-value", "BUCKET": "data-bucket",
	})
	dir := writeProject(t, map[string]string{
		"config.yaml": "project: p\npipelines:\n  a:\n    source: api\n  d:\n    source: db\n  g:\n    source: objects\n",
		"sources.yaml": `sources:
  api:
    type: api
    url: https://${API_HOST}/v1/orders?q=${Q}
    params: {filter: "${P}", since: "${UNSET:-not-a-secret}"}
    headers: {X-Tenant: "${H}"}
    body: {}
    method: POST
    records_path: "x.${SHOP_TOKEN}"
  db:
    type: postgres
    dsn: ${DSN}
    table: ${TABLE}
  objects:
    type: gcs
    bucket: ${BUCKET}
    path: exports/orders.csv?sig=${SIG}&user=${USER}
`,
	})
	p, err := LoadDir(dir, WithLookupEnv(env))
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]string{
		"api":     {"secret-in-query", "secret-in-params", "secret-in-header", "named-token"},
		"db":      {"postgres://u:pw@db/app"},
		"objects": {"signature-value", "reader"},
	} {
		got := slices.Sorted(slices.Values(p.Sources[name].Secrets))
		slices.Sort(want)
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("source %s: Secrets = %q, want %q", name, got, want)
		}
	}
}
