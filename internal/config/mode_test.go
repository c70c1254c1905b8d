package config

import (
	"fmt"
	"strings"
	"testing"
)

// TestModeFitsHowTheSourceReads: a database table or query, or an API,
// without incremental reads every row on every run. Its pipeline replaces
// the target unless it says otherwise, and appending it is an error (it
// would double the target on the second run); an incremental source
// appends by default, and replacing the target with only its latest
// changes is an error. Merge fits both. File sources keep append.
func TestModeFitsHowTheSourceReads(t *testing.T) {
	sources := []struct {
		name, yaml, incremental, what string
	}{
		{"postgres table", "    type: postgres\n    host: db\n    table: public.orders\n", "    incremental: {column: updated_at, lookback: 2h}\n", "the postgres table public.orders"},
		{"mysql query", "    type: mysql\n    dsn: u@tcp(db)/shop\n    query: SELECT * FROM orders\n", "    incremental: {column: id}\n", "a mysql query"},
		{"cloudsql table", "    type: cloudsql\n    engine: postgres\n    host: db\n    table: orders\n", "    incremental: {column: updated_at}\n", "the cloudsql table orders"},
		{"api", "    type: api\n    url: https://api.example.com/v1/orders\n", "    incremental: {field: updated, param: since}\n", "an API"},
		{"graphql", "    type: graphql\n    url: https://api.example.com/graphql\n    query: '{ orders { id } }'\n", "    incremental: {field: updated, param: since}\n", "a GraphQL API"},
	}
	modes := []struct{ name, yaml string }{
		{"unset", ""},
		{"append", "    mode: append\n"},
		{"replace", "    mode: replace\n"},
		{"merge", "    mode: merge\n    key: [id]\n"},
	}
	for _, src := range sources {
		for _, inc := range []bool{false, true} {
			for _, m := range modes {
				name := fmt.Sprintf("%s/incremental=%t/mode %s", src.name, inc, m.name)
				t.Run(name, func(t *testing.T) {
					source := "sources:\n  s:\n" + src.yaml
					if inc {
						source += src.incremental
					}
					dir := writeProject(t, map[string]string{"config.yaml": okConfig + m.yaml, "sources.yaml": source})
					p, err := LoadDir(dir, noEnv)
					var wantMode, wantErr string
					switch {
					case m.name == "merge":
						wantMode = ModeMerge
					case m.name == "unset" && !inc:
						wantMode = ModeReplace
					case m.name == "unset":
						wantMode = ModeAppend
					case m.name == "append" && !inc:
						wantErr = `config.yaml:5:11: pipeline "p1": mode append would load all of source "s" again on every run, doubling the target: ` +
							src.what + ` without incremental reads every row each time; set incremental on the source to read only new or changed rows, ` +
							`or use mode replace (the default for such a source) or mode merge with key`
					case m.name == "replace" && inc:
						wantErr = `config.yaml:5:11: pipeline "p1": mode replace would keep only each run's new rows of source "s", whose incremental reads ` +
							`only what changed since the last run; use mode append or mode merge with key, or remove incremental to read every row each run`
					default:
						wantMode = m.name
					}
					if wantErr != "" {
						if err == nil || err.Error() != wantErr {
							t.Fatalf("error:\n%v\nwant\n%s", err, wantErr)
						}
						return
					}
					if err != nil {
						t.Fatal(err)
					}
					pl := p.Config.Pipelines["p1"]
					if pl.Mode != wantMode || pl.ModeImplied() != (m.name == "unset") {
						t.Fatalf("mode %q (implied %v), want %q", pl.Mode, pl.ModeImplied(), wantMode)
					}
					if s := p.Sources["s"]; s.RereadsAll() == inc {
						t.Fatalf("RereadsAll = %v with incremental %v", s.RereadsAll(), inc)
					}
				})
			}
		}
	}
}

// TestModeOfOtherSources: file and GCS sources list objects and load each
// once, so they append by default and may replace; an incremental key
// left empty is no incremental.
func TestModeOfOtherSources(t *testing.T) {
	for _, tc := range []struct {
		name, config, source, wantMode, wantErr string
	}{
		{"file source appends by default", okConfig, okSource, ModeAppend, ""},
		{"file source may append", okConfig + "    mode: append\n", okSource, ModeAppend, ""},
		{"file source may replace", okConfig + "    mode: replace\n", okSource, ModeReplace, ""},
		{"gcs source appends by default", okConfig, "sources:\n  s:\n    type: gcs\n    bucket: bkt\n    path: x/\n", ModeAppend, ""},
		{"empty incremental is none", okConfig, "sources:\n  s:\n    type: postgres\n    host: db\n    table: t\n    incremental:\n", ModeReplace, ""},
		{"empty incremental cannot append", okConfig + "    mode: APPEND\n", "sources:\n  s:\n    type: postgres\n    host: db\n    table: t\n    incremental:\n", "",
			`config.yaml:5:11: pipeline "p1": mode append would load all of source "s" again`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := LoadDir(writeProject(t, map[string]string{"config.yaml": tc.config, "sources.yaml": tc.source}), noEnv)
			if tc.wantErr != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %s...", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := p.Config.Pipelines["p1"].Mode; got != tc.wantMode {
				t.Fatalf("mode %q, want %q", got, tc.wantMode)
			}
		})
	}
}
