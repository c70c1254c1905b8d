package cli

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestLineageEvents runs the sample pipeline with an OpenLineage endpoint
// configured: START and COMPLETE reach it with the run's datasets, schema
// and row count, and `shp lineage` shows what feeds the table.
func TestLineageEvents(t *testing.T) {
	var mu sync.Mutex
	var events []map[string]any
	var auth []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/lineage" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		events = append(events, ev)
		auth = append(auth, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer srv.Close()
	dir := initProject(t)
	t.Setenv("SHP_TEST_MARQUEZ_KEY", "mq-key")
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("\nlineage:\n  url: "+srv.URL+"/api/v1/lineage\n  api_key_env: SHP_TEST_MARQUEZ_KEY\n")...), 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("run: %d %s %s", code, out, errOut)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(events) != 2 || events[0]["eventType"] != "START" || events[1]["eventType"] != "COMPLETE" || auth[1] != "Bearer mq-key" {
		t.Fatalf("events %v (auth %v)", events, auth)
	}
	done := events[1]
	run := done["run"].(map[string]any)
	if run["runId"] != events[0]["run"].(map[string]any)["runId"] || len(run["runId"].(string)) != 36 {
		t.Errorf("run ids %v", run)
	}
	job := done["job"].(map[string]any)
	in := done["inputs"].([]any)[0].(map[string]any)
	out := done["outputs"].([]any)[0].(map[string]any)
	fields := out["facets"].(map[string]any)["schema"].(map[string]any)["fields"].([]any)
	rows := out["outputFacets"].(map[string]any)["outputStatistics"].(map[string]any)["rowCount"]
	if job["namespace"] != "quickstart" || job["name"] != "sales" || in["namespace"] != "file" || !strings.Contains(in["name"].(string), "/data/sales_") ||
		out["name"] != "main.sales" || !strings.HasPrefix(out["namespace"].(string), "duckdb://") || len(fields) != 7 || rows.(float64) < 2900 {
		t.Fatalf("COMPLETE event: job %v input %v output %v rows %v", job, in, out, rows)
	}
	code, text, _ := shp(t, "lineage", "--config", dir)
	if code != 0 || !strings.Contains(text, "main.sales") || !strings.Contains(text, "COMPLETE") || !strings.Contains(text, "file/") {
		t.Fatalf("lineage: %d %s", code, text)
	}
	code, text, _ = shp(t, "lineage", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(text, `"pipeline": "sales"`) || !strings.Contains(text, `"type": "COMPLETE"`) {
		t.Fatalf("lineage json: %d %s", code, text)
	}
}

// TestLineageFailEvent: a failing run sends FAIL with the error, and an
// endpoint that is down does not fail a run.
func TestLineageFailEvent(t *testing.T) {
	dir := initProject(t)
	cfg := filepath.Join(dir, "config.yaml")
	b, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, append(b, []byte("\nlineage:\n  url: http://127.0.0.1:1/api/v1/lineage\n")...), 0o644)
	if code, out, errOut := shp(t, "run", "--config", dir); code != 0 {
		t.Fatalf("a run with the lineage endpoint down: %d %s %s", code, out, errOut)
	}
	// Break the data: every row fails its schema.
	os.WriteFile(filepath.Join(dir, "data", "sales_2026-02-01.csv"), []byte("order_id,order_date,customer_id,product,quantity,unit_price,region,discount\nx,y,c,p,q,u,r,d\nz,w,c,p,q,u,r,d\n"), 0o644)
	if code, _, _ := shp(t, "run", "--config", dir); code != 1 {
		t.Fatalf("the bad file should fail the run, exit %d", code)
	}
	code, text, _ := shp(t, "lineage", "--config", dir, "--format", "json")
	if code != 0 || !strings.Contains(text, `"type": "FAIL"`) {
		t.Fatalf("lineage after a failed run: %s", text)
	}
}
