package lineage

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shp-dev/shp/internal/config"
	"github.com/shp-dev/shp/internal/metadata"
	"github.com/shp-dev/shp/internal/schema"
	_ "github.com/shp-dev/shp/internal/warehouse/postgres/postgresspec" // names its targets (spec.Spec.Dataset)
)

func TestRunUUID(t *testing.T) {
	a, b := RunUUID("run-1"), RunUUID("run-2")
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
	if !uuid.MatchString(a) || a == b || a != RunUUID("run-1") {
		t.Fatalf("uuids %s %s", a, b)
	}
}

func TestDatasetNames(t *testing.T) {
	p := &config.Project{Dir: "/proj", Config: config.Config{Project: "shop", Warehouse: config.Warehouse{Path: ".shp/w.duckdb"}}}
	cases := []struct {
		src      config.Source
		ns, name string
	}{
		{config.Source{Type: "gcs", Bucket: "b", Path: "sales/"}, "gs://b", "sales/"},
		{config.Source{Type: "file", Path: "data/*.csv"}, "file", "/proj/data/*.csv"},
		{config.Source{Type: "postgres", Settings: map[string]any{"host": "db", "database": "shop", "table": "public.orders"}}, "postgres://db:5432", "shop.public.orders"},
		{config.Source{Type: "mysql", Settings: map[string]any{"host": "db", "port": uint64(3307), "database": "shop", "table": "orders"}}, "mysql://db:3307", "shop.orders"},
		{config.Source{Type: "cloudsql", Settings: map[string]any{"engine": "postgres", "dsn": "postgres://u:pw@10.0.0.1:6432/shop", "table": "t"}}, "postgres://10.0.0.1:6432", "shop.t"},
		{config.Source{Name: "q", Type: "postgres", Settings: map[string]any{"host": "db", "query": "SELECT 1"}}, "postgres://db:5432", "q"},
		{config.Source{Type: "api", Settings: map[string]any{"url": "https://api.example.com/v1/orders?x=1"}}, "https://api.example.com", "/v1/orders"},
	}
	for _, c := range cases {
		d := SourceDataset(p, &c.src)
		if d.Namespace != c.ns || d.Name != c.name {
			t.Errorf("%s %v: %s %s, want %s %s", c.src.Type, c.src.Settings, d.Namespace, d.Name, c.ns, c.name)
		}
	}
	if d := TargetDataset(p, "sales"); d.Namespace != "duckdb://"+filepath.ToSlash("/proj/.shp/w.duckdb") || d.Name != "main.sales" {
		t.Errorf("target %+v", d)
	}
	pg := &config.Project{Dir: "/proj", Config: config.Config{Warehouse: config.Warehouse{Type: "postgres",
		Settings: map[string]any{"dsn": "postgres://shp:s3cret-pw@db.internal:6432/analytics?sslmode=disable", "schema": "sales_mart"}}}}
	if d := TargetDataset(pg, "sales"); d.Namespace != "postgres://db.internal:6432" || d.Name != "analytics.sales_mart.sales" {
		t.Errorf("postgres target %+v", d)
	}
	pg.Config.Warehouse.Settings = map[string]any{"dsn": "host=10.0.0.7 port=5433 dbname=dw user=shp password=s3cret-pw search_path=mart"}
	if d := TargetDataset(pg, "sales"); d.Namespace != "postgres://10.0.0.7:5433" || d.Name != "dw.mart.sales" {
		t.Errorf("postgres target, key=value DSN %+v", d)
	}
}

// recordingStore keeps lineage events; the rest of the Store is unused.
type recordingStore struct {
	metadata.Store
	events []metadata.LineageEvent
	fail   bool
}

func (s *recordingStore) RecordLineage(_ context.Context, e metadata.LineageEvent) error {
	if s.fail {
		return errors.New("disk full")
	}
	s.events = append(s.events, e)
	return nil
}

func TestEmit(t *testing.T) {
	var calls atomic.Int64
	var got RunEvent
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable) // retried
			return
		}
		json.NewDecoder(r.Body).Decode(&got)
	}))
	defer srv.Close()
	store := &recordingStore{}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	e := &Emitter{Store: store, Namespace: "shop", URL: srv.URL, Now: func() time.Time { return now }}
	rows := int64(42)
	out := Dataset{Namespace: "duckdb:///w", Name: "main.t", RowCount: &rows,
		Fields: schema.Schema{{Name: "id", Type: "INT64"}, {Name: "amount", Type: "NUMERIC", Precision: 10, Scale: 2}}}
	if err := e.Emit(context.Background(), Fail, "run-1", "sales", []Dataset{{Namespace: "file", Name: "/d"}}, []Dataset{out}, errors.New("boom")); err != nil {
		t.Fatal(err)
	}
	if len(store.events) != 1 || store.events[0].EventType != Fail || !store.events[0].EventTime.Equal(now) {
		t.Fatalf("stored %+v", store.events)
	}
	if calls.Load() != 2 || got.EventType != Fail || got.Job.Name != "sales" || got.EventTime != "2026-01-02T03:04:05Z" ||
		got.Run.Facets["errorMessage"] == nil || len(got.Outputs) != 1 || got.Outputs[0].OutputFacets["outputStatistics"] == nil {
		t.Fatalf("sent (%d calls) %+v", calls.Load(), got)
	}
	fields := got.Outputs[0].Facets["schema"].(map[string]any)["fields"].([]any)
	if fields[1].(map[string]any)["type"] != "NUMERIC(10,2)" {
		t.Errorf("fields %v", fields)
	}
	// A store that fails is an error; an endpoint that fails is not.
	store.fail = true
	if err := e.Emit(context.Background(), Start, "run-2", "sales", nil, nil, nil); err == nil {
		t.Error("a failing store should be reported")
	}
	down := &Emitter{Store: &recordingStore{}, Namespace: "shop", URL: "http://127.0.0.1:1/x"}
	if err := down.Emit(context.Background(), Start, "run-3", "sales", nil, nil, nil); err != nil {
		t.Errorf("an endpoint that is down failed the emit: %v", err)
	}
}
