package cli

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeAPITriggersARealRun: shp serve with --api-listen serves the
// REST API beside the scheduler; a key made with shp apikey triggers a
// run through it, the run really loads the quick start's data, and its
// result reads back through the API.
func TestServeAPITriggersARealRun(t *testing.T) {
	dir := initProject(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var errOut strings.Builder
	go func() {
		var out strings.Builder
		done <- Main(ctx, []string{"serve", "--config", dir, "--api-listen", addr}, strings.NewReader(""), &out, &errOut)
	}()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + addr
	for i := 0; ; i++ {
		resp, err := http.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if i > 200 {
			t.Fatalf("the API never came up: %v", err)
		}
		time.Sleep(25 * time.Millisecond)
	}
	code, out, stderr := shp(t, "apikey", "create", "--config", dir, "--name", "ci", "--role", "operator", "--format", "json")
	var created struct {
		Key string `json:"key"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &created) != nil || !strings.HasPrefix(created.Key, "shp_") {
		t.Fatalf("apikey create: %d %s %s", code, out, stderr)
	}
	call := func(method, path string, v any) int {
		req, _ := http.NewRequest(method, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+created.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if v != nil {
			if err := json.Unmarshal(b, v); err != nil {
				t.Fatalf("%s %s: %v: %s", method, path, err, b)
			}
		}
		return resp.StatusCode
	}
	var trig struct {
		RunID string `json:"run_id"`
	}
	if code := call("POST", "/api/v1/pipelines/sales/run", &trig); code != 202 || trig.RunID == "" {
		t.Fatalf("trigger: %d %+v", code, trig)
	}
	var run struct {
		Status    string `json:"status"`
		RowsIn    int64  `json:"rows_in"`
		Loaded    int64  `json:"rows_loaded"`
		Invariant bool   `json:"invariant_ok"`
		Tasks     []struct {
			Task string `json:"task"`
		} `json:"tasks"`
	}
	for i := 0; ; i++ {
		code := call("GET", "/api/v1/runs/"+trig.RunID, &run)
		if code == 200 && run.Status != "running" {
			break
		}
		if i > 400 {
			t.Fatalf("run %s: %d %+v\n%s", trig.RunID, code, run, errOut.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if run.Status != "succeeded" || run.RowsIn != 3750 || !run.Invariant || len(run.Tasks) < 2 {
		t.Fatalf("run %+v", run)
	}
	var p struct {
		LastRun struct {
			ID               string `json:"id"`
			RecordsProcessed int64  `json:"records_processed"`
		} `json:"last_run"`
		Quality struct {
			Score *float64 `json:"score"`
		} `json:"quality"`
	}
	if code := call("GET", "/api/v1/pipelines/sales", &p); code != 200 || p.LastRun.ID != trig.RunID || p.Quality.Score == nil || p.LastRun.RecordsProcessed == 0 {
		t.Fatalf("pipeline after the run: %d %+v", code, p)
	}
	if code, out, _ := shp(t, "apikey", "list", "--config", dir); code != 0 || !strings.Contains(out, "operator") || strings.Contains(out, created.Key) {
		t.Fatalf("apikey list: %d %s", code, out)
	}
	id := strings.SplitN(created.Key, "_", 3)[1]
	if code, out, _ := shp(t, "apikey", "revoke", id, "--config", dir); code != 0 || !strings.Contains(out, "revoked") {
		t.Fatalf("apikey revoke: %d %s", code, out)
	}
	// Revoked by another process, the key stops working once the
	// server's cached copy (a second) is stale.
	for i := 0; call("GET", "/api/v1/pipelines", nil) != 401; i++ {
		if i > 100 {
			t.Fatal("a key revoked with shp apikey revoke still works")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
