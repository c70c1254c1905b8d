package service

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shp-dev/shp/internal/metadata"
)

// TestLineage: what feeds each table, from the configuration or, once a
// run emitted an event, from its inputs; a viewer sees no path of the
// server's file system, an operator sees them all.
func TestLineage(t *testing.T) {
	f := newFixture(t, nil)
	payload, _ := json.Marshal(map[string]any{"eventType": "COMPLETE",
		"inputs": []map[string]string{{"namespace": "file", "name": "/srv/elsewhere/orders"}, {"namespace": "file", "name": filepath.ToSlash(filepath.Join(f.dir, "data"))}}})
	f.must(f.store.RecordLineage(f.ctx, metadata.LineageEvent{RunID: "run-a", Job: "orders", EventType: "COMPLETE", EventTime: day(20), Payload: string(payload)}))

	entries, err := f.svc.Lineage(f.ctx)
	wantErr(t, err, "")
	if len(entries) != 4 {
		t.Fatalf("entries %+v", entries)
	}
	events, orders := entries[1], entries[3]
	if orders.Pipeline != "orders" || orders.Table.Name != "main.orders" || !strings.HasPrefix(orders.Table.Namespace, "duckdb://") ||
		orders.LastEvent == nil || orders.LastEvent.RunID != "run-a" || orders.LastEvent.Type != "COMPLETE" || len(orders.Inputs) != 2 ||
		orders.Inputs[0].Name != "/srv/elsewhere/orders" {
		t.Fatalf("orders %+v", orders)
	}
	if events.LastEvent != nil || len(events.Inputs) != 1 || events.Inputs[0].Namespace != "postgres://db.example.com:5432" {
		t.Fatalf("events %+v", events)
	}

	for _, tc := range []struct {
		role  Role
		paths bool // the server's paths are shown
	}{{Viewer, false}, {Operator, true}, {Admin, true}} {
		t.Run(string(tc.role), func(t *testing.T) {
			entries, err := f.svc.LineageFor(f.ctx, Principal{Role: tc.role})
			wantErr(t, err, "")
			body, _ := json.Marshal(entries)
			if shown := strings.Contains(string(body), filepath.ToSlash(f.dir)) || strings.Contains(string(body), "/srv/"); shown != tc.paths {
				t.Fatalf("%s sees the server's paths: %v\n%s", tc.role, shown, body)
			}
			if tc.paths {
				return
			}
			orders := entries[3]
			if orders.Inputs[0].Name != "orders" || orders.Inputs[1].Name != "data" || orders.Table.Namespace != "duckdb://.shp/warehouse.duckdb" {
				t.Fatalf("a viewer's orders %+v", orders)
			}
		})
	}
}

// TestRelPath: an absolute path inside the project's folder is relative
// to it, one outside is its last element, other names are kept.
func TestRelPath(t *testing.T) {
	f := newFixture(t, nil)
	for in, want := range map[string]string{
		filepath.Join(f.dir, "data", "x.csv"): "data/x.csv",
		"/var/lib/shp/warehouse.duckdb":       "warehouse.duckdb",
		"main.orders":                         "main.orders",
		"relative/path":                       "relative/path",
	} {
		if got := f.svc.relPath(filepath.ToSlash(in)); got != want {
			t.Errorf("relPath(%q) = %q, want %q", in, got, want)
		}
	}
	if got := (&Service{}).relPath("/a/b"); got != "b" {
		t.Errorf("without a project: %q", got)
	}
}
